import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { validate } from "../data/mod.ts";
import { captureFrames, CAPTURES, hex, unhex } from "../../tests/fixtures.ts";
import { NIL_ENDPOINT_ID, parseEndpointId } from "./endpoint_id.ts";
import { sealFrame } from "./framing.ts";
import {
  ByeToken,
  decodeRoutingUpdate,
  DEFAULT_TTL,
  encodeEnvelope,
  encodePing,
  encodePong,
  encodeRoutingUpdate,
  encodeRoutingUpdateEnvelope,
  EnvelopeType,
  isByePong,
  parseEnvelope,
  rewriteForwarded,
} from "./envelope.ts";

const A = unhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
const B = unhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf");
const ID = (d: string) =>
  parseEndpointId(`${d.repeat(8)}-${d.repeat(4)}-4${d.repeat(3)}-8${d.repeat(3)}-${d.repeat(12)}`);

/** Node message frames of a capture: those after each connection's originator_ack. */
function nodeFrames(name: (typeof CAPTURES)[number]) {
  const done = new Set<string>();
  const out = [];
  for (const f of captureFrames(name)) {
    const conn = [f.from, f.to].sort().join(" ");
    if (done.has(conn)) out.push({ ...f, bytes: unhex(f.hex) });
    else if (f.hex === "0c") done.add(conn);
  }
  return out;
}

Deno.test("the source reference's data example encodes byte for byte", () => {
  const payload = unhex(
    "0e03020000000000000001020000000000000001" + "0e02050470696e670e01020000000000000001",
  );
  const framed = encodeEnvelope(
    { sender: A, type: EnvelopeType.data, topic: "zeek/event/test", payload },
    { prefix: true },
  );
  assert.equal(
    hex(framed),
    "0000005b" + hex(A) + "00".repeat(16) + "01" + "0010" + "000f" +
      hex(new TextEncoder().encode("zeek/event/test")) + hex(payload),
  );
  const env = parseEnvelope(framed.subarray(4));
  assert.deepEqual(env.sender, A);
  assert.deepEqual(env.receiver, NIL_ENDPOINT_ID);
  assert.equal(env.type, EnvelopeType.data);
  assert.equal(env.ttl, 16);
  assert.equal(env.topic, "zeek/event/test");
  assert.equal(env.topic, env.topic);
  assert.deepEqual(env.payload, payload);
  assert.equal(env.payload.buffer, framed.buffer); // a view, not a copy
});

Deno.test("every envelope type round-trips with receiver, TTL and byte topics", () => {
  for (const type of [1, 2, 3, 4, 5] as EnvelopeType[]) {
    const topic = new Uint8Array([0x61, 0xff, 0x62]);
    const bytes = encodeEnvelope({
      sender: A,
      receiver: B,
      type,
      ttl: 0,
      topic,
      payload: unhex("0102"),
    });
    const env = parseEnvelope(bytes);
    assert.deepEqual(
      [env.sender, env.receiver, env.type, env.ttl, env.topicBytes, env.payload],
      [A, B, type, 0, topic, unhex("0102")],
    );
  }
  const empty = parseEnvelope(
    encodeEnvelope({ sender: A, type: 1, topic: "", payload: new Uint8Array(0) }),
  );
  assert.equal(empty.frame.length, 37);
  assert.equal(empty.topic, "");
  assert.equal(empty.payload.length, 0);
});

Deno.test("malformed envelopes throw invalid_data", () => {
  const good = encodeEnvelope({
    sender: A,
    type: EnvelopeType.data,
    topic: "abc",
    payload: unhex("00"),
  });
  const patched = (at: number, value: number) => {
    const b = good.slice();
    b[at] = value;
    return b;
  };
  const cases: Uint8Array[] = [
    new Uint8Array(0),
    good.subarray(0, 36),
    patched(32, 0),
    patched(32, 6),
    patched(36, 5), // topic length 5, 4 bytes left
    good.subarray(0, 39),
  ];
  for (const c of cases) {
    assert.throws(
      () => parseEnvelope(c),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
    );
  }
  assert.equal(parseEnvelope(good.subarray(0, 40)).payload.length, 0); // topic ends the frame: fine
});

Deno.test("encoding refuses topics over 65535 bytes and IDs of the wrong size", () => {
  const base = { sender: A, type: EnvelopeType.data, payload: unhex("00") };
  assert.equal(encodeEnvelope({ ...base, topic: "x".repeat(0xffff) }).length, 37 + 0xffff + 1);
  for (
    const init of [{ ...base, topic: "x".repeat(0x10000) }, {
      ...base,
      sender: A.subarray(1),
      topic: "t",
    }]
  ) {
    assert.throws(
      () => encodeEnvelope(init),
      (e) => e instanceof BrokerError && e.code === ErrorCode.serialization_failed,
    );
  }
});

Deno.test("all node messages of the captures parse with the expected types and topics", () => {
  const counts: Record<string, number> = {};
  for (const name of CAPTURES) {
    for (const f of nodeFrames(name)) {
      const env = parseEnvelope(f.bytes);
      assert.equal(env.ttl, 16);
      const key = `${name} ${EnvelopeType[env.type]} ${env.topic}`;
      counts[key] = (counts[key] ?? 0) + 1;
      switch (env.type) {
        case EnvelopeType.data:
          assert.equal(validate(env.payload), env.payload.length);
          break;
        case EnvelopeType.routing_update:
          assert.equal(env.topic, "<$>");
          assert.deepEqual(decodeRoutingUpdate(env.payload), ["kv/<$>/data/clone"]);
          break;
        case EnvelopeType.ping:
          // "BYE" + 0x1000000000000001, little-endian
          assert.equal(hex(env.payload), "4259450100000000000010");
          break;
        case EnvelopeType.pong:
          assert.ok(isByePong(env));
          break;
      }
      // Re-encoding from the parsed fields gives the same bytes.
      const again = encodeEnvelope({
        sender: env.sender,
        receiver: env.receiver,
        type: env.type,
        ttl: env.ttl,
        topic: env.topic,
        payload: env.payload,
      });
      assert.equal(hex(again), f.hex);
    }
  }
  assert.deepEqual(counts, {
    "ping-pong data /bench/ping": 12,
    "ping-pong ping <$>": 1,
    "ping-pong pong <$>": 1,
    "relay-three-nodes data /bench/ping": 84,
    "relay-three-nodes ping <$>": 1,
    "relay-three-nodes pong <$>": 1,
    "store-master-clone routing_update <$>": 1,
    "store-master-clone command kv/<$>/data/master": 21,
    "store-master-clone command kv/<$>/data/clone": 22,
    "store-master-clone ping <$>": 1,
    "store-master-clone pong <$>": 1,
  });
});

Deno.test("forwarding rewrites the sender: the relay capture's second leg", () => {
  // 5555 -> 4444 (frame 12), then the relay 4444 forwards it to 3333 (frame 13).
  const frames = captureFrames("relay-three-nodes");
  const [in5, out4] = [unhex(frames[12].hex), unhex(frames[13].hex)];
  // As the endpoint forwards: a framed copy, rewritten in place.
  const forwarded = new Uint8Array(4 + in5.length);
  forwarded.set(in5, 4);
  sealFrame(forwarded);
  rewriteForwarded(forwarded, 4, ID("4"), DEFAULT_TTL);
  assert.equal(hex(forwarded), hex(new Uint8Array([0, 0, 0, out4.length])) + hex(out4));
  const bare = in5.slice();
  rewriteForwarded(bare, 0, ID("4"), DEFAULT_TTL);
  assert.equal(hex(bare), frames[13].hex);
  assert.equal(hex(in5), frames[12].hex); // the original is untouched
});

Deno.test("routing updates: payload and frame match the store capture", () => {
  const frame = captureFrames("store-master-clone")[6].hex;
  assert.equal(
    hex(encodeRoutingUpdateEnvelope(ID("2"), ID("1"), ["kv/<$>/data/clone"])),
    frame,
  );
  assert.deepEqual(decodeRoutingUpdate(encodeRoutingUpdate([])), []);
  assert.throws(() => decodeRoutingUpdate(unhex("0201610162ff")), BrokerError);
});

Deno.test("BYE ping and pong reproduce the ping-pong capture", () => {
  const frames = captureFrames("ping-pong");
  const [a, b] = [ID("2"), ID("1")];
  const payload = unhex("4259450100000000000010"); // "BYE" + 0x1000000000000001, little-endian
  const ping = encodePing(a, b, payload);
  assert.equal(hex(ping), frames[18].hex);
  assert.equal(hex(encodePong(parseEnvelope(ping), b)), frames[19].hex);
  // A BYE pong is a pong whose payload has the BYE shape: "BYE" + 8 bytes.
  const pongTo = (p: Uint8Array) =>
    parseEnvelope(encodePong(parseEnvelope(encodePing(a, b, p)), b));
  assert.ok(isByePong(pongTo(payload)) && !isByePong(parseEnvelope(ping)));
  assert.ok(!isByePong(pongTo(unhex("42594501"))));
  assert.ok(!isByePong(pongTo(unhex("4259450100000000000000ff"))));
  // Tokens: "BYE" + a counter, little-endian, so each differs from the last.
  const [t1, t2] = [ByeToken.next(), ByeToken.next()];
  assert.ok(isByePong(pongTo(t1)) && isByePong(pongTo(t2)) && hex(t1) !== hex(t2));
  const counter = (t: Uint8Array) => new DataView(t.buffer, t.byteOffset).getBigUint64(3, true);
  assert.equal(BigInt.asUintN(64, counter(t2) - counter(t1)), 1n);
  const foo = parseEnvelope(encodePing(a, b, new TextEncoder().encode("foo")));
  assert.ok(!isByePong(pongTo(foo.payload)));
  const pong = parseEnvelope(encodePong(foo, b, { prefix: true }).subarray(4));
  assert.deepEqual([pong.type, pong.topic, pong.sender, pong.receiver, pong.payload], [
    EnvelopeType.pong,
    "<$>",
    b,
    a,
    foo.payload,
  ]);
});
