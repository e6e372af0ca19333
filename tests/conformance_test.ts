// Broker's handshake role scripts (zeek/broker `tests/btest/handshake/*.py`),
// played byte by byte by a raw socket against a node started the way Broker's
// own tests start `broker-node`: a CAF config file and BROKER_PORT. Every
// script runs against our `broker node` and, as the control that keeps the
// script honest, against the C++ `broker-node`: both must give the same bytes.
//
// The frames are written out in hex here rather than built with our wire
// encoders, so an encoder bug cannot hide on both sides of an assertion.
import assert from "node:assert/strict";
import { Endpoint } from "../engine/endpoint.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { str } from "../engine/data/mod.ts";
import { runPipe } from "../cli/pipe_command.ts";
import { resolveNodeOptions } from "../cli/node_command.ts";
import { parseCafConfig } from "../cli/caf_config.ts";
import { brokerRefTool, freePort, RefProcess, waitForPort } from "./broker_ref.ts";
import { RawConn, RawListener } from "./raw_peer.ts";

/** The config file of Broker's handshake tests, as they write it. */
const NODE_CFG = `
broker {
  disable-ssl = true
}
caf {
  logger {
    file {
      path = 'broker.log'
      verbosity = 'debug'
    }
  }
}
topics = ["/test"]
verbose = true
`;

/** The smallest version-4 UUID (the raw peer is the originator) and the largest. */
const SMALLEST = "00000000000040008000000000000000";
const LARGEST = "ffffffffffff4fffbfffffffffffffff";

const MAGIC = "5a45454b";

function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

function ascii(s: string): string {
  return toHex(new TextEncoder().encode(s));
}

/** A frame on the stream: 4-byte big-endian length, then the bytes. */
function framed(hex: string): Uint8Array {
  const body = bytes(hex);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** Broker's filter encoding: varbyte count, then each topic as varbyte length + bytes. */
function filterHex(topics: string[]): string {
  return topics.reduce(
    (acc, t) => acc + t.length.toString(16).padStart(2, "0") + ascii(t),
    topics.length.toString(16).padStart(2, "0"),
  );
}

const hello = (id: string, min: number, max: number) =>
  framed(
    `06 ${MAGIC} ${id} ${min.toString(16).padStart(2, "0")} ${max.toString(16).padStart(2, "0")}`,
  );
const versionSelect = (id: string) => framed(`08 ${MAGIC} ${id} 01`);
const originatorSyn = (topics: string[]) => framed(`0a ${filterHex(topics)}`);
const responderSynAck = (topics: string[]) => framed(`0b ${filterHex(topics)}`);
const originatorAck = framed("0c");
/** A node message on `<$>` (TTL 16), as Broker's `write_op_msg` writes it. */
const controlMessage = (type: number, from: string, to: string, payload: string) =>
  `${from} ${to} 0${type} 0010 0003 ${ascii("<$>")} ${payload}`;

/** The next frame, which must exist. */
async function next(c: RawConn, what: string): Promise<Uint8Array> {
  const f = await c.frame(5000);
  assert.ok(f !== undefined, `the node closed the connection instead of sending ${what}`);
  return f.slice();
}

/** Asserts the next frame equals `expected` exactly (hex, spaces ignored). */
async function expectFrame(c: RawConn, expected: string, what: string): Promise<void> {
  assert.equal(toHex(await next(c, what)), expected.replace(/\s+/g, ""), what);
}

/** Reads a frame `<type> <magic> <id> <rest>` and returns the sender ID (hex). */
async function expectWithId(c: RawConn, type: string, rest: string, what: string) {
  const got = toHex(await next(c, what));
  const head = `${type}${MAGIC}`;
  assert.equal(got.slice(0, head.length), head, `${what}: type and magic`);
  const id = got.slice(head.length, head.length + 32);
  assert.equal(got.slice(head.length + 32), rest.replace(/\s+/g, ""), `${what}: after the ID`);
  return id;
}

/**
 * Says nothing for a moment and checks the node says nothing either: after
 * the handshake a Broker node sends nothing unsolicited.
 */
async function expectSilence(c: RawConn, ms = 300): Promise<void> {
  let got: Uint8Array | undefined;
  try {
    got = await c.frame(ms);
  } catch {
    return; // timed out: nothing arrived
  }
  assert.fail(
    got === undefined
      ? "the node closed the connection after the handshake"
      : `the node spoke first after the handshake: ${toHex(got)}`,
  );
}

/** `ping("foo")`, then the very next message must be its pong. */
async function pingFoo(c: RawConn, self: string, nodeId: string): Promise<void> {
  await c.send(framed(controlMessage(4, self, nodeId, ascii("foo"))));
  await expectFrame(c, controlMessage(5, nodeId, self, ascii("foo")), "pong(foo)");
}

// ------------------------------------------------------------- the scripts

/** originator.py: the raw peer has the smallest ID and dials. */
async function originatorScript(port: number): Promise<void> {
  const c = await RawConn.dial(port);
  try {
    await expectFrame(c, `07 ${MAGIC}`, "probe");
    await c.send(hello(SMALLEST, 1, 99));
    const nodeId = await expectWithId(c, "06", "01 01", "hello");
    await c.send(versionSelect(SMALLEST));
    await c.send(originatorSyn(["/foo/bar"]));
    await expectFrame(c, `0b ${filterHex(["/test"])}`, "responder_syn_ack");
    await c.send(originatorAck);
    await expectSilence(c);
    await pingFoo(c, SMALLEST, nodeId);
  } finally {
    await c.close();
  }
}

/** responder.py: the raw peer has the largest ID and dials. */
async function responderScript(port: number): Promise<void> {
  const c = await RawConn.dial(port);
  try {
    await expectFrame(c, `07 ${MAGIC}`, "probe");
    await c.send(hello(LARGEST, 1, 99));
    const nodeId = await expectWithId(c, "08", "01", "version_select");
    await expectFrame(c, `0a ${filterHex(["/test"])}`, "originator_syn");
    await c.send(responderSynAck(["/foo/bar"]));
    await expectFrame(c, "0c", "originator_ack");
    await expectSilence(c);
    await pingFoo(c, LARGEST, nodeId);
  } finally {
    await c.close();
  }
}

/** redundant-connection.py: a second connection from the same ID while the first one handshakes. */
async function redundantScript(port: number): Promise<void> {
  const c = await RawConn.dial(port);
  try {
    await expectFrame(c, `07 ${MAGIC}`, "probe");
    await c.send(hello(LARGEST, 1, 99));
    const nodeId = await expectWithId(c, "08", "01", "version_select");
    const c2 = await RawConn.dial(port);
    try {
      await expectFrame(c2, `07 ${MAGIC}`, "probe (connection 2)");
      await c2.send(hello(LARGEST, 1, 99));
      await expectFrame(c, `0a ${filterHex(["/test"])}`, "originator_syn");
      await c.send(responderSynAck(["/foo/bar"]));
      await expectFrame(c, "0c", "originator_ack");
      const drop = toHex(await next(c2, "drop_conn (connection 2)"));
      assert.equal(drop.slice(0, 10), `09${MAGIC}`, "drop_conn: type and magic");
      assert.equal(drop.slice(10, 42), nodeId, "drop_conn: the node's ID");
      assert.equal(parseInt(drop.slice(42, 44), 16), 39, "drop_conn code 39 redundant_connection");
    } finally {
      await c2.close();
    }
    await expectSilence(c);
    await pingFoo(c, LARGEST, nodeId);
  } finally {
    await c.close();
  }
}

/** version-mismatch.py: a hello offering only versions 200..201. */
async function versionMismatchScript(port: number): Promise<void> {
  const c = await RawConn.dial(port);
  try {
    await expectFrame(c, `07 ${MAGIC}`, "probe");
    await c.send(hello(LARGEST, 200, 201));
    const drop = toHex(await next(c, "drop_conn"));
    assert.equal(drop.slice(0, 10), `09${MAGIC}`, "drop_conn: type and magic");
    assert.equal(parseInt(drop.slice(42, 44), 16), 2, "drop_conn code 2 peer_incompatible");
  } finally {
    await c.close();
  }
}

const SCRIPTS: [string, (port: number) => Promise<void>][] = [
  ["originator", originatorScript],
  ["responder", responderScript],
  ["redundant-connection", redundantScript],
  ["version-mismatch", versionMismatchScript],
];

// ------------------------------------------------------------- the nodes

/** Starts a node from `node.cfg` in a fresh directory, with BROKER_PORT, and runs `body`. */
async function withConfiguredNode(
  kind: "ours" | "C++",
  body: (port: number) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "conformance-" });
  await Deno.writeTextFile(`${dir}/node.cfg`, NODE_CFG);
  const port = freePort();
  const env = { BROKER_PORT: `${port}/tcp` };
  const cmd = kind === "ours"
    ? new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL("../cli/main.ts", import.meta.url).pathname,
        "node",
        "--config-file=node.cfg",
      ],
      cwd: dir,
      env,
      stdout: "null",
      stderr: "piped",
    })
    : new Deno.Command(brokerRefTool("broker-node"), {
      args: ["--config-file=node.cfg"],
      cwd: dir,
      env,
      stdout: "null",
      stderr: "piped",
    });
  const child = cmd.spawn();
  try {
    await waitForPort(port, 20_000);
    await body(port);
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.output();
    await Deno.remove(dir, { recursive: true });
  }
}

for (const kind of ["ours", "C++"] as const) {
  Deno.test(`Broker's handshake role scripts, byte by byte, against ${kind === "ours" ? "our broker node" : "the C++ broker-node"} (CAF config file, BROKER_PORT)`, async (t) => {
    for (const [name, script] of SCRIPTS) {
      await t.step(name, () => withConfiguredNode(kind, script));
    }
  });
}

// ------------------------------- our endpoint dialling: the mirrored roles

/** Our endpoint dials a raw listener; the raw peer (acceptor) pings as soon as it peered. */
async function dialledScript(rawId: string): Promise<void> {
  const ep = new Endpoint();
  ep.subscribe("/test");
  const l = new RawListener();
  try {
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    const c = await l.accept();
    try {
      const epId = await expectWithId(c, "06", "01 01", "hello");
      await c.send(framed(`07 ${MAGIC}`));
      if (rawId < epId) {
        // We are the originator.
        await c.send(versionSelect(rawId));
        await c.send(originatorSyn(["/foo/bar"]));
        await expectFrame(c, `0b ${filterHex(["/test"])}`, "responder_syn_ack");
        await c.send(originatorAck);
      } else {
        await c.send(hello(rawId, 1, 1));
        await expectWithId(c, "08", "01", "version_select");
        await expectFrame(c, `0a ${filterHex(["/test"])}`, "originator_syn");
        await c.send(responderSynAck(["/foo/bar"]));
        await expectFrame(c, "0c", "originator_ack");
      }
      await peered;
      await expectSilence(c);
      await pingFoo(c, rawId, epId);
    } finally {
      await c.close();
    }
  } finally {
    l.close();
    await ep.shutdown();
  }
}

Deno.test("our endpoint dialling, as responder and as originator: silent after the handshake, a ping's pong comes next", async () => {
  await dialledScript(SMALLEST);
  await dialledScript(LARGEST);
});

// ---------------------------------- `<$>` is reserved only as a prefix

const KNOWN_HOSTS = "zeek/known/hosts/<$>/data/master";

Deno.test("topics with <$> inside are ordinary: subscribe, routing updates, publish, between our endpoints", async () => {
  const a = new Endpoint(), b = new Endpoint();
  try {
    const port = await a.listen();
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    // Subscribed after the handshake: it reaches `a` in a routing update.
    const sub = b.subscribe("zeek/known/hosts/<$>/data/");
    await a.awaitPeerSubscription(KNOWN_HOSTS, 5000);
    assert.ok(a.peerSubscriptions().includes("zeek/known/hosts/<$>/data/"));
    a.publish(KNOWN_HOSTS, str("10.0.0.1"));
    const got = await sub.get(5000);
    assert.equal(got?.topic, KNOWN_HOSTS);
    assert.deepEqual(got?.data, str("10.0.0.1"));
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("topics that start with <$> stay Broker's: publishing there is refused, local subscriptions work", async () => {
  const ep = new Endpoint();
  try {
    for (const topic of ["<$>", "<$>/local/data/statuses", "<$>/x"]) {
      assert.throws(
        () => ep.publish(topic, str("x")),
        (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
        topic,
      );
    }
    assert.throws(() => ep.subscribe("<$>/x"), BrokerError);
    ep.subscribe("<$>/local/data/statuses");
    ep.subscribe("a/<$>/b");
    assert.deepEqual([...ep.filter], ["a/<$>/b"], "<$>/local/ topics never enter the filter");
  } finally {
    await ep.shutdown();
  }
});

Deno.test("<$> topics cross a C++ peer both ways (broker-pipe and our broker pipe)", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const topic = "zeek/known/certs/<$>/data/clone";
  // C++ subscribes, we publish.
  const ep = new Endpoint();
  const p = await ep.listen();
  const cppSub = new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "subscribe",
    "-t",
    topic,
    "-p",
    `["127.0.0.1:${p}"]`,
  ]);
  try {
    await ep.awaitPeerSubscription(topic, 10_000);
    ep.publish(topic, str("to c++"));
    assert.deepEqual(await cppSub.waitFor((l) => l.startsWith("data(")), [
      `data(${topic}, to c++)`,
    ]);
  } finally {
    await ep.shutdown();
    await cppSub.stop();
  }
  // C++ publishes, our broker pipe subscribes.
  const port = freePort();
  const printed: string[] = [];
  const ours = runPipe(
    { mode: "subscribe", topic, peers: [], localPort: port, cap: 1, rate: false, json: false },
    (l) => printed.push(l),
    () => {},
  );
  await waitForPort(port);
  const cppPub = new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "publish",
    "-t",
    topic,
    "-p",
    `["127.0.0.1:${port}"]`,
  ], true);
  try {
    await cppPub.writeLine("from c++");
    assert.equal(await ours, 0);
    assert.deepEqual(printed, [`data(${topic}, from c++)`]);
  } finally {
    await cppPub.closeStdin();
    await cppPub.stop();
  }
});

Deno.test("broker node takes <$> topics from the command line and from its config file", () => {
  const cli = resolveNodeOptions({ topics: `["${KNOWN_HOSTS}"]` }, undefined, {});
  assert.deepEqual(cli.topics, [KNOWN_HOSTS]);
  const cfg = parseCafConfig(`topics = ["zeek/known/certs/<$>/data/clone"]\n`);
  assert.deepEqual(resolveNodeOptions({}, cfg, {}).topics, ["zeek/known/certs/<$>/data/clone"]);
});

// ------------------------- mixed networks: C++ peers see plain Broker frames

Deno.test("in a mixed line (ours - ours - C++), the C++ peer gets only plain Broker frames", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const rPort = freePort();
  const relay = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    "-t",
    '["/mix"]',
    "-p",
    String(rPort),
  ]);
  // Everything `a` exchanges with the C++ node, in order, and what it sends to `b`.
  const withRelay: { direction: string; frame: Uint8Array; peerId?: string }[] = [];
  const toB: Uint8Array[] = [];
  let bId = "";
  const a = new Endpoint({
    recorder: (f) => {
      if (f.port === rPort) {
        withRelay.push({ direction: f.direction, frame: f.frame.slice(), peerId: f.peerId });
      } else if (f.peerId === bId && f.direction === "sent") toB.push(f.frame.slice());
    },
  });
  const b = new Endpoint();
  bId = b.id;
  try {
    await waitForPort(rPort);
    const aPort = await a.listen();
    await b.peer("127.0.0.1", aPort, { retryMs: 0 });
    await a.peer("127.0.0.1", rPort, { retryMs: 0 });
    // As in Broker, a relay forwards only what its own filter takes in: both subscribe.
    a.subscribe("/mix");
    b.subscribe("/mix");
    await a.awaitPeerSubscription("/mix/x", 5000);
    await b.awaitPeerSubscription("/mix/x", 5000);
    for (let i = 0; i < 5; i++) b.publish("/mix/x", str(`from b ${i}`));
    a.publish("/mix/x", str("from a"));
    // Wait until the relay has had them all, then a little more for anything unsolicited.
    const deadline = Date.now() + 5000;
    const dataTo = () =>
      withRelay.filter((f) => f.direction === "sent" && f.frame.length > 37 && f.frame[32] === 1);
    while (dataTo().length < 6 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 200));
    const ackAt = withRelay.findIndex((f) => f.frame.length === 1 && f.frame[0] === 0x0c);
    assert.ok(ackAt >= 0, "the handshake with the C++ node completed");
    const sent = withRelay.slice(ackAt + 1).filter((f) => f.direction === "sent").map((f) =>
      f.frame
    );
    // `a` subscribed after peering: Broker announces a grown filter in a routing update.
    const [update, ...data] = sent;
    const relayId = withRelay.at(-1)!.peerId!.replaceAll("-", "");
    assert.equal(
      toHex(update),
      `${a.id.replaceAll("-", "")}${relayId}03 0010 0003 ${ascii("<$>")} ${filterHex(["/mix"])}`
        .replace(/\s+/g, ""),
      "first: the routing update for the grown filter",
    );
    assert.equal(data.length, 6, "then the six data messages and nothing else");
    for (const f of data) {
      assert.equal(f[32], 1, "a data message");
      assert.equal(toHex(f.subarray(0, 16)), a.id.replaceAll("-", ""), "sender: the last hop");
      assert.ok(f.subarray(16, 32).every((x) => x === 0), "receiver: nil, as Broker broadcasts");
      assert.equal((f[33] << 8) | f[34], 16, "TTL 16");
    }
    // Between our own endpoints the same broadcast carries an origin tag ("DBRK...").
    const dataToB = toB.filter((f) => f.length > 37 && f[32] === 1);
    assert.equal(dataToB.length, 1);
    assert.equal(toHex(dataToB[0].subarray(16, 20)), "4442524b");
  } finally {
    await b.shutdown();
    await a.shutdown();
    await relay.stop();
  }
});
