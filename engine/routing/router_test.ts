// The router without a network: frames in, the sends and deliveries it decides out.
import assert from "node:assert/strict";
import { count, encode } from "../data/mod.ts";
import {
  encodeEnvelope,
  type EndpointId,
  endpointIdsEqual,
  EnvelopeType,
  FRAME_PREFIX_SIZE,
  NIL_ENDPOINT_ID,
  parseEnvelope,
} from "../wire/mod.ts";
import { OutgoingFrames } from "../wire/outgoing.ts";
import { newOwnEndpointId, readOriginTag } from "./origin_tag.ts";
import { Router } from "./router.ts";
import { PrefixTrie } from "./trie.ts";
import { newEndpointId } from "../wire/endpoint_id.ts";

interface Peer {
  name: string;
  state: "peered" | "handshake";
  ours: boolean;
  peerId: EndpointId;
}

function setup(disableForwarding = false, lane?: 0 | 1, id = newOwnEndpointId()) {
  const routes = new PrefixTrie<Peer>();
  const peers: Peer[] = [];
  const sent: { to: string; frame: Uint8Array }[] = [];
  const delivered: string[] = [];
  const commands: string[] = [];
  /** The receiver each command reached the stores with (copied: it is only lent). */
  const receivers: EndpointId[] = [];
  const dropped: string[] = [];
  const own: string[] = [];
  const frames = new OutgoingFrames(id, 16, () => {});
  const router = new Router<Peer>({
    routes,
    peer: (pid) => peers.find((p) => endpointIdsEqual(p.peerId, pid)),
    // Frames in the output slab are reused: keep a copy, as a socket queue would.
    send: (to, frame) => void sent.push({ to: to.name, frame: frame.slice() }),
    deliver: (topic) => void delivered.push(topic),
    command: (topic, _from, receiver) => {
      commands.push(topic);
      receivers.push(receiver.slice());
    },
    dropped: (_from, e) => void dropped.push(e.message),
    ownTraffic: (from, topic, why) => void own.push(`${from.name} ${topic} ${why}`),
  }, { id, frames, disableForwarding, decode: {}, lane });
  const add = (name: string, filter: string, ours: boolean, state: Peer["state"] = "peered") => {
    const p: Peer = { name, state, ours, peerId: ours ? newOwnEndpointId() : newEndpointId() };
    peers.push(p);
    routes.add(filter, p);
    return p;
  };
  return { id, router, frames, sent, delivered, commands, receivers, dropped, own, add };
}

function received(sender: EndpointId, topic: string, receiver = NIL_ENDPOINT_ID) {
  const frame = encodeEnvelope({
    sender,
    receiver,
    type: EnvelopeType.data,
    topic,
    payload: encode(count(1n)),
  });
  const env = parseEnvelope(frame);
  return { frame, env };
}

Deno.test("router: a broadcast from a C++ peer goes plain to C++ peers, tagged to ours, and here", () => {
  const r = setup();
  const from = r.add("cpp-in", "/t", false);
  r.add("cpp-out", "/t", false);
  r.add("ours", "/t", true);
  r.add("shaking", "/t", false, "handshake");
  r.add("elsewhere", "/u", false);
  const { frame, env } = received(from.peerId, "/t/x");
  r.router.route(from, frame, env.topic, env.payload, env.type);
  assert.deepEqual(r.sent.map((s) => s.to).sort(), ["cpp-out", "ours"]);
  const plain = parseEnvelope(r.sent.find((s) => s.to === "cpp-out")!.frame.subarray(4));
  assert.ok(endpointIdsEqual(plain.receiver, NIL_ENDPOINT_ID), "Broker's nil receiver");
  assert.ok(endpointIdsEqual(plain.sender, r.id), "we are the last hop");
  const tagged = r.sent.find((s) => s.to === "ours")!.frame;
  assert.ok(readOriginTag(tagged, FRAME_PREFIX_SIZE), "our endpoints get an origin tag");
  assert.deepEqual(r.delivered, ["/t/x"]);
});

Deno.test("router: a tagged broadcast is handled once, and never routed back to its origin", () => {
  const r = setup();
  const a = r.add("a", "/t", true);
  const b = r.add("b", "/t", true);
  r.router.broadcast("/t/x", r.frames.data(r.frames.dataHeader("/t/x"), encode(count(1n))));
  assert.equal(r.sent.length, 2);
  // The same tagged frame comes back from a: it is ours, so nothing happens.
  const looped = r.sent[0].frame.subarray(FRAME_PREFIX_SIZE);
  const env = parseEnvelope(looped);
  r.router.route(a, looped, env.topic, env.payload, env.type);
  assert.equal(r.sent.length, 2);
  assert.deepEqual(r.delivered, []);
  // A tagged frame of another origin is handled the first time only.
  const other = setup();
  other.add("x", "/t", true);
  other.router.broadcast(
    "/t/y",
    other.frames.data(other.frames.dataHeader("/t/y"), encode(count(2n))),
  );
  const foreign = other.sent[0].frame.subarray(FRAME_PREFIX_SIZE);
  const fenv = parseEnvelope(foreign);
  r.router.route(b, foreign, fenv.topic, fenv.payload, fenv.type);
  r.router.route(b, foreign, fenv.topic, fenv.payload, fenv.type);
  assert.deepEqual(r.delivered, ["/t/y"]);
  assert.deepEqual(r.sent.slice(2).map((s) => s.to), ["a"]);
});

Deno.test("router: disable-forwarding delivers here and relays nothing", () => {
  const r = setup(true);
  const from = r.add("in", "/t", false);
  r.add("out", "/t", false);
  const { frame, env } = received(from.peerId, "/t/x");
  r.router.route(from, frame, env.topic, env.payload, env.type);
  assert.deepEqual(r.sent, []);
  assert.deepEqual(r.delivered, ["/t/x"]);
});

Deno.test("router: a payload that does not decode is dropped, reported, and not relayed", () => {
  const r = setup();
  const from = r.add("in", "/t", false);
  r.add("out", "/t", false);
  const frame = encodeEnvelope({
    sender: from.peerId,
    type: EnvelopeType.data,
    topic: "/t/x",
    payload: new Uint8Array([0xff, 1, 2]),
  });
  const env = parseEnvelope(frame);
  r.router.route(from, frame, env.topic, env.payload, env.type);
  assert.deepEqual(r.sent, []);
  assert.deepEqual(r.delivered, []);
  assert.equal(r.dropped.length, 1);
  assert.match(r.dropped[0], /dropped a data message on \/t\/x/);
});

Deno.test("router: a unicast for another endpoint goes to that peer only; commands relay only if valid", () => {
  const r = setup();
  const from = r.add("in", "/t", false);
  const to = r.add("to", "/other", false);
  const { frame, env } = received(from.peerId, "/t/x", to.peerId);
  r.router.route(from, frame, env.topic, env.payload, env.type);
  assert.deepEqual(r.sent.map((s) => s.to), ["to"]);
  assert.deepEqual(r.delivered, [], "not addressed to us");
  const bad = encodeEnvelope({
    sender: from.peerId,
    type: EnvelopeType.command,
    topic: "/t/kv",
    payload: new Uint8Array([0xff]),
  });
  const benv = parseEnvelope(bad);
  r.router.route(from, bad, benv.topic, benv.payload, benv.type);
  assert.equal(r.sent.length, 1, "an undecodable command is not relayed");
  assert.deepEqual(r.commands, ["/t/kv"], "our stores check what they receive themselves");
});

Deno.test("router: a command for us reaches the stores with a nil receiver if broadcast (tagged too), else our ID", () => {
  const r = setup();
  const cpp = r.add("cpp", "/t", false);
  const ours = r.add("ours", "/u", true);
  const command = (receiver: EndpointId) => {
    const frame = encodeEnvelope({
      sender: cpp.peerId,
      receiver,
      type: EnvelopeType.command,
      topic: "kv/<$>/data/master",
      payload: new Uint8Array([0xff]),
    });
    const env = parseEnvelope(frame);
    r.router.route(cpp, frame, env.topic, env.payload, env.type);
  };
  command(NIL_ENDPOINT_ID);
  command(r.id);
  command(newEndpointId()); // for another endpoint: not ours to handle
  // A broadcast among our endpoints carries its origin tag where the receiver lies.
  const other = setup();
  other.add("x", "kv", true);
  other.router.broadcast(
    "kv/<$>/data/master",
    other.frames.command("kv/<$>/data/master", new Uint8Array([0xff])),
  );
  const tagged = other.sent[0].frame.subarray(FRAME_PREFIX_SIZE);
  assert.ok(readOriginTag(tagged, 0), "tagged");
  const tenv = parseEnvelope(tagged);
  r.router.route(ours, tagged, tenv.topic, tenv.payload, tenv.type);
  assert.equal(r.commands.length, 3);
  assert.deepEqual(r.receivers, [NIL_ENDPOINT_ID, r.id, NIL_ENDPOINT_ID]);
});

Deno.test("router: twins sharing one ID in lanes: the twin's broadcast or our own sender is reported, our own cycle is not", () => {
  const e = setup(false, 0);
  const i = setup(false, 1, e.id);
  const ext = e.add("ext", "/t", true);
  i.add("int", "/t", true);
  const publish = (r: typeof e, topic: string) =>
    r.router.broadcast(topic, r.frames.data(r.frames.dataHeader(topic), encode(count(1n))));
  publish(e, "/t/e");
  publish(i, "/t/i");
  const seq = (r: typeof e) => readOriginTag(r.sent.at(-1)!.frame, FRAME_PREFIX_SIZE)!.seq;
  assert.equal(seq(e) % 2, 0, "lane 0: even sequence numbers");
  assert.equal(seq(i) % 2, 1, "lane 1: odd sequence numbers");
  // E's own broadcast coming back round a cycle: silent, as without lanes.
  const back = e.sent[0].frame.subarray(FRAME_PREFIX_SIZE);
  const benv = parseEnvelope(back);
  e.router.route(ext, back, benv.topic, benv.payload, benv.type);
  assert.deepEqual(e.own, []);
  // I's broadcast arriving at E: another path joins the two sides.
  const twin = i.sent[0].frame.subarray(FRAME_PREFIX_SIZE);
  const tenv = parseEnvelope(twin);
  e.router.route(ext, twin, tenv.topic, tenv.payload, tenv.type);
  // A plain frame whose sender is our ID (a peer that does not rewrite it).
  const { frame, env } = received(e.id, "/t/plain");
  e.router.route(ext, frame, env.topic, env.payload, env.type);
  assert.deepEqual(e.own, ["ext /t/i twin_broadcast", "ext /t/plain own_sender"]);
  assert.deepEqual(e.delivered, [], "dropped");
  assert.equal(e.sent.length, 1, "not relayed");
  // Without a lane, our own sender is Broker's "local" message, as before: not reported.
  const plain = setup(false, undefined, e.id);
  const p = plain.add("p", "/t", false);
  plain.router.route(p, frame, env.topic, env.payload, env.type);
  assert.deepEqual(plain.own, []);
});

Deno.test("router: every routed message counts as processed by its type, dropped ones too", () => {
  const r = setup();
  const from = r.add("cpp-in", "/t", false);
  for (let i = 0; i < 3; i++) {
    const { frame, env } = received(from.peerId, "/t/x");
    r.router.route(from, frame, env.topic, env.payload, env.type);
  }
  const bad = received(from.peerId, "/t/bad");
  r.router.route(
    from,
    bad.frame,
    bad.env.topic,
    new Uint8Array([0xff]),
    bad.env.type,
  );
  const cmd = received(from.peerId, "kv/<$>/data/master");
  r.router.route(
    from,
    cmd.frame,
    cmd.env.topic,
    cmd.env.payload,
    EnvelopeType.command,
  );
  assert.equal(r.dropped.length, 1);
  assert.deepEqual({ ...r.router.processed }, {
    data: 4,
    published: 0,
    command: 1,
    routingUpdate: 0,
    ping: 0,
    pong: 0,
  });
});
