import assert from "node:assert/strict";
import fc from "fast-check";
import { anyData } from "../../tests/arbitrary.ts";
import { captureFrames, hex, unhex } from "../../tests/fixtures.ts";
import {
  count,
  type Data,
  dataToString,
  encode,
  real,
  set,
  str,
  TYPE_NAMES,
  vector,
} from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { EnvelopeType, parseEnvelope } from "../wire/envelope.ts";
import {
  type Command,
  COMMAND_TYPES,
  commandTag,
  decodeCommand,
  eachStateEntry,
  encodeCommand,
  type InternalCommand,
  isAction,
  MAX_NACK_SEQS_READ,
} from "./commands.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { type Entity, entityToString, NIL_ENTITY } from "./entity.ts";

/** Command payloads of the store capture, with their frame numbers. */
function capturedCommands(): { frame: number; topic: string; payload: Uint8Array }[] {
  const out = [];
  const frames = captureFrames("store-master-clone");
  for (let i = 0; i < frames.length; i++) {
    const b = unhex(frames[i].hex);
    if (b.length < 37 || b[32] !== EnvelopeType.command) continue;
    const env = parseEnvelope(b);
    out.push({ frame: i, topic: env.topic, payload: env.payload.slice() });
  }
  return out;
}

const CLONE = "7@22222222-2222-4222-8222-222222222222";
const MASTER = "6@11111111-1111-4111-8111-111111111111";

Deno.test("every command in store-master-clone decodes and re-encodes byte for byte", () => {
  const cmds = capturedCommands();
  assert.equal(cmds.length, 43); // frames 7-49
  for (const { frame, payload } of cmds) {
    const decoded = decodeCommand(payload);
    assert.equal(hex(encodeCommand(decoded)), hex(payload), `frame ${frame}`);
  }
});

Deno.test("captured commands carry what the spec's flow says", () => {
  const byFrame = new Map(capturedCommands().map((c) => [c.frame, decodeCommand(c.payload)]));
  const f7 = byFrame.get(7)!;
  assert.deepEqual(f7.content, { type: "nack", seqs: [0n] });
  assert.equal(entityToString(f7.sender), CLONE);
  assert.equal(entityToString(f7.receiver), "none");

  const f8 = byFrame.get(8)!;
  assert.equal(f8.seq, 1n);
  assert.equal(entityToString(f8.receiver), CLONE);
  assert.ok(f8.content.type === "ack_clone");
  assert.equal(f8.content.offset, 1n);
  assert.equal(f8.content.heartbeatInterval, 5);
  assert.deepEqual(f8.content.state, [[str("pre-existing"), count(1n)]]);

  const f20 = byFrame.get(20)!.content;
  assert.ok(f20.type === "add");
  assert.equal(f20.initType, "count");
  assert.equal(dataToString(f20.value), "41");

  const f23 = byFrame.get(23)!.content;
  assert.ok(f23.type === "put");
  assert.equal(f23.expiry, 200_000_000n);

  const f25 = byFrame.get(25)!;
  assert.ok(f25.content.type === "put_unique");
  assert.equal(entityToString(f25.content.who), "8@22222222-2222-4222-8222-222222222222");
  assert.equal(f25.content.reqId, 1n);

  const f35 = byFrame.get(35)!.content;
  assert.ok(f35.type === "put_unique_result");
  assert.equal(f35.inserted, true);
  assert.equal(entityToString(f35.publisher), MASTER);

  const f38 = byFrame.get(38)!;
  assert.equal(f38.seq, 12n);
  assert.equal(f38.content.type, "expire");
});

Deno.test("spec section 6 example: the clone's put(a, 1) with seq 2", () => {
  const b = unhex(
    "0000000000000002" + "22222222222242228222222222222222" + "0000000000000007" +
      "11111111111141118111111111111111" + "0000000000000006" + "00" + "050161" +
      "020000000000000001" + "00" + "22222222222242228222222222222222" + "0000000000000007",
  );
  const cmd = decodeCommand(b);
  assert.equal(cmd.seq, 2n);
  assert.ok(cmd.content.type === "put");
  assert.equal(dataToString(cmd.content.key), "a");
  assert.equal(cmd.content.expiry, null);
});

Deno.test("a nack's numbers past 2^20 are skipped, not read: a long list costs no more than that", () => {
  // Every number became a bigint: a frame may list 268 million.
  const n = (1 << 20) + 5;
  const seqs = Array.from({ length: n }, (_, i) => BigInt(i + 1));
  const bytes = encodeCommand({
    seq: 0n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: { type: "nack", seqs },
  });
  const back = decodeCommand(bytes).content;
  assert.ok(back.type === "nack");
  assert.equal(back.seqs.length, MAX_NACK_SEQS_READ);
  assert.equal(back.seqs.at(-1), BigInt(MAX_NACK_SEQS_READ));
  // Still checked against the input: one byte short is truncated.
  assert.throws(() => decodeCommand(bytes.subarray(0, bytes.length - 1)), BrokerError);
});

Deno.test("non-zero flag bytes mean true; trailing bytes are ignored", () => {
  const base: InternalCommand = {
    seq: 3n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: { type: "put", key: str("k"), value: count(1n), expiry: 5n, publisher: NIL_ENTITY },
  };
  const b = encodeCommand(base);
  const flagAt = 57 + 3 + 9; // header, variant byte, key "k", value count
  assert.equal(b[flagAt], 1);
  const mangled = new Uint8Array([...b, 0xde, 0xad]);
  mangled[flagAt] = 0x7f;
  const back = decodeCommand(mangled);
  assert.ok(back.content.type === "put");
  assert.equal(back.content.expiry, 5n);

  const result = encodeCommand({
    ...base,
    content: {
      type: "put_unique_result",
      inserted: true,
      who: NIL_ENTITY,
      reqId: 1n,
      publisher: NIL_ENTITY,
    },
  });
  result[57] = 0xff;
  const r = decodeCommand(result).content;
  assert.ok(r.type === "put_unique_result" && r.inserted === true);
});

/** An `ack_clone` with `state`, from nobody to everybody. */
function ackClone(state: [Data, Data][]): InternalCommand {
  return {
    seq: 1n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: { type: "ack_clone", offset: 1n, heartbeatInterval: 5, state },
  };
}

/** An `ack_clone` whose state has the key "a" twice. */
const DUPLICATE_KEY = encodeCommand(ackClone([[str("a"), count(1n)], [str("a"), count(2n)]]));

Deno.test("ack_clone state: any order accepted, duplicate keys rejected", () => {
  const cmd = ackClone([[str("b"), count(2n)], [str("a"), count(1n)]]);
  const b = encodeCommand(cmd);
  assert.deepEqual(decodeCommand(b).content, cmd.content);
  assertDeserializationFailed(() => decodeCommand(DUPLICATE_KEY));
  // The same set written in another order (Broker's reader orders it) is the same key.
  const b2 = encodeCommand(ackClone([[set(str("a"), str("b")), count(1n)], [
    str("zzzzzz"),
    count(2n),
  ]]));
  const at = hex(b2).indexOf(hex(encode(str("zzzzzz")))) / 2;
  b2.set([12, 2, 5, 1, 0x62, 5, 1, 0x61], at); // {b, a}, eight bytes as the string's
  assert.throws(() => decodeCommand(b2), /duplicate key/);
});

Deno.test("ack_clone state: 0.0 and -0.0 are two keys, as Broker's masters send them", () => {
  const cmd = ackClone([[real(0), count(1n)], [real(-0), count(2n)]]);
  const c = decodeCommand(encodeCommand(cmd)).content;
  assert.ok(c.type === "ack_clone");
  assert.deepEqual(c.state.map(([k, v]) => [Object.is(k.value, -0), v.value]), [[false, 1n], [
    true,
    2n,
  ]]);
});

Deno.test("bad input: unknown variant, bad init_type, truncation, huge lists", () => {
  const header = new Uint8Array(56);
  assertDeserializationFailed(() => decodeCommand(new Uint8Array([...header, 14])));
  assertDeserializationFailed(() => decodeCommand(new Uint8Array(10)));
  // nack claiming 2^32-1 seqs with none present: rejected before allocating.
  assertDeserializationFailed(() =>
    decodeCommand(new Uint8Array([...header, 11, 0xff, 0xff, 0xff, 0xff, 0x0f]))
  );
  // varbyte of 6 bytes.
  assertDeserializationFailed(() =>
    decodeCommand(new Uint8Array([...header, 11, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]))
  );
  const add = encodeCommand({
    seq: 0n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: {
      type: "add",
      key: str("k"),
      value: count(1n),
      initType: "count",
      expiry: null,
      publisher: NIL_ENTITY,
    },
  });
  add[57 + 3 + 9] = 15;
  assertDeserializationFailed(() => decodeCommand(add));
  // A data tag the codec reports as invalid_tag still surfaces as deserialization_failed.
  assertDeserializationFailed(() => decodeCommand(new Uint8Array([...header, 3, 0x42])));
  assertDeserializationFailed(() => decodeCommand("nope" as unknown as Uint8Array));
});

Deno.test("encoding rejects out-of-range fields with serialization_failed", () => {
  const bad = (content: Command, seq = 0n) => {
    try {
      encodeCommand({ seq, sender: NIL_ENTITY, receiver: NIL_ENTITY, content });
      assert.fail("expected an error");
    } catch (e) {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.code, ErrorCode.serialization_failed);
    }
  };
  bad({ type: "keepalive", seq: -1n });
  bad({ type: "keepalive", seq: 1n }, 1n << 64n);
  bad({ type: "attach_writer", offset: 1n, heartbeatInterval: 70000 });
  bad({ type: "clear", publisher: { endpoint: new Uint8Array(3), object: 0n } });
  bad({ type: "nope" } as unknown as Command);
});

Deno.test("command tags follow Broker's grouping", () => {
  const tags = COMMAND_TYPES.map((t) => commandTag({ type: t } as Command));
  assert.deepEqual(tags, [
    ...Array(8).fill("action"),
    "producer_control",
    "producer_control",
    "consumer_control",
    "consumer_control",
    "producer_control",
    "producer_control",
  ]);
  assert.ok(isAction({ type: "clear", publisher: NIL_ENTITY }));
});

// ------------------------------------------------------------- properties

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });
const anyEntity: fc.Arbitrary<Entity> = fc.oneof(
  fc.constant(NIL_ENTITY),
  fc.record({ endpoint: fc.uint8Array({ minLength: 16, maxLength: 16 }), object: u64 }),
);
const expiry = fc.option(i64, { nil: null });
const u16 = fc.nat(0xffff);
const anyCommand: fc.Arbitrary<Command> = fc.oneof(
  fc.record({
    type: fc.constant("put" as const),
    key: anyData,
    value: anyData,
    expiry,
    publisher: anyEntity,
  }),
  fc.record({
    type: fc.constant("put_unique" as const),
    key: anyData,
    value: anyData,
    expiry,
    who: anyEntity,
    reqId: u64,
    publisher: anyEntity,
  }),
  fc.record({
    type: fc.constant("put_unique_result" as const),
    inserted: fc.boolean(),
    who: anyEntity,
    reqId: u64,
    publisher: anyEntity,
  }),
  fc.record({
    type: fc.constantFrom("erase" as const, "expire" as const),
    key: anyData,
    publisher: anyEntity,
  }),
  fc.record({
    type: fc.constant("add" as const),
    key: anyData,
    value: anyData,
    initType: fc.constantFrom(...TYPE_NAMES),
    expiry,
    publisher: anyEntity,
  }),
  fc.record({
    type: fc.constant("subtract" as const),
    key: anyData,
    value: anyData,
    expiry,
    publisher: anyEntity,
  }),
  fc.record({ type: fc.constant("clear" as const), publisher: anyEntity }),
  fc.record({ type: fc.constant("attach_writer" as const), offset: u64, heartbeatInterval: u16 }),
  fc.record({
    type: fc.constantFrom(
      "keepalive" as const,
      "cumulative_ack" as const,
      "retransmit_failed" as const,
    ),
    seq: u64,
  }),
  fc.record({ type: fc.constant("nack" as const), seqs: fc.array(u64, { maxLength: 20 }) }),
  fc.record({
    type: fc.constant("ack_clone" as const),
    offset: u64,
    heartbeatInterval: u16,
    state: fc.uniqueArray(fc.tuple(anyData, anyData), {
      maxLength: 6,
      selector: ([k]) => hex(encodeKey(k)),
    }),
  }),
);
const anyInternal: fc.Arbitrary<InternalCommand> = fc.record({
  seq: u64,
  sender: anyEntity,
  receiver: anyEntity,
  content: anyCommand,
});

function encodeKey(k: Data): Uint8Array {
  // A put's key alone, to compare keys by their canonical bytes.
  return encodeCommand({
    seq: 0n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: { type: "erase", key: k, publisher: NIL_ENTITY },
  }).slice();
}

Deno.test("property: decode(encode(x)) re-encodes to the same bytes and fields", () => {
  fc.assert(
    fc.property(anyInternal, (cmd) => {
      const bytes = encodeCommand(cmd);
      const back = decodeCommand(bytes);
      assert.equal(hex(encodeCommand(back)), hex(bytes));
      assert.equal(back.seq, cmd.seq);
      assert.equal(back.content.type, cmd.content.type);
      assert.equal(entityToString(back.sender), entityToString(cmd.sender));
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: mutated captured payloads decode or throw deserialization_failed", () => {
  const payloads = capturedCommands().map((c) => c.payload);
  const mutation = fc.tuple(
    fc.nat(payloads.length - 1),
    fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
    fc.nat(),
    fc.boolean(),
  );
  fc.assert(
    fc.property(mutation, ([which, edits, cut, truncate]) => {
      const b = payloads[which].slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      const input = truncate ? b.subarray(0, cut % (b.length + 1)) : b;
      try {
        const cmd = decodeCommand(input);
        encodeCommand(cmd); // whatever decodes must encode again
      } catch (e) {
        assert.ok(e instanceof BrokerError, String(e));
        assert.equal(e.code, ErrorCode.deserialization_failed);
      }
    }),
    { numRuns: 2000 },
  );
});

Deno.test("property: random bytes after a valid header never throw anything else", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 120 }), fc.nat(13), (tail, variant) => {
      try {
        decodeCommand(new Uint8Array([...new Uint8Array(56), variant, ...tail]));
      } catch (e) {
        assert.ok(e instanceof BrokerError && e.code === ErrorCode.deserialization_failed);
      }
    }),
    { numRuns: 1000 },
  );
});

function assertDeserializationFailed(f: () => unknown) {
  assert.throws(
    f,
    (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.deserialization_failed,
  );
}

Deno.test("ack_clone read as spans: each key and value validated where it lies, none built", () => {
  const state: [Data, Data][] = [[str("b"), vector(count(2n))], [count(1n), str("x")]];
  const cmd = ackClone(state);
  const bytes = encodeCommand(cmd);
  const c = decodeCommand(bytes, { stateSpans: true }).content;
  assert.ok(c.type === "ack_clone" && c.spans);
  assert.deepEqual(c.state, []);
  const spans: number[] = [];
  eachStateEntry(c.spans, (k, v, end) => void spans.push(k, v, end));
  assert.equal(spans.length, 6);
  assert.equal(c.spans.to, spans[5]);
  state.forEach(([k, v], i) => {
    assert.deepEqual(hex(bytes.subarray(spans[3 * i], spans[3 * i + 1])), hex(encode(k)));
    assert.deepEqual(hex(bytes.subarray(spans[3 * i + 1], spans[3 * i + 2])), hex(encode(v)));
  });
  // Copied into a clone's table, the same entries.
  const b = new MemoryBackend();
  assert.equal(b.replaceFromSpans(c.spans), true);
  assert.deepEqual(b.snapshot().map(([k, v]) => [hex(encode(k)), hex(encode(v))]), [
    [hex(encode(count(1n))), hex(encode(str("x")))],
    [hex(encode(str("b"))), hex(encode(vector(count(2n))))],
  ]);
  // Written back from the spans: the same bytes.
  assert.equal(hex(encodeCommand({ ...cmd, content: c })), hex(bytes));

  // A key twice passes the reader; the clone's table refuses it.
  const d = decodeCommand(DUPLICATE_KEY, { stateSpans: true }).content;
  assert.ok(d.type === "ack_clone" && d.spans);
  assert.equal(new MemoryBackend().replaceFromSpans(d.spans), false);
  // A bad value is refused as it is without spans: a vector cut short, an unknown tag.
  const cut = bytes.slice(0, spans[2] - 1);
  assertDeserializationFailed(() => decodeCommand(cut, { stateSpans: true }));
  const badTag = bytes.slice();
  badTag[spans[3]] = 0x7f;
  assertDeserializationFailed(() => decodeCommand(badTag, { stateSpans: true }));
  assertDeserializationFailed(() => decodeCommand(badTag));
});
