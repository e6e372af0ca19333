import assert from "node:assert/strict";
import fc from "fast-check";
import { BrokerError, ErrorCode } from "../errors.ts";
import { Event } from "../zeek/event.ts";
import { LogCreate } from "../zeek/log_create.ts";
import { parseZeekMessage } from "../zeek/message.ts";
import { anyData } from "../../tests/arbitrary.ts";
import { decode, encode } from "./binary.ts";
import { addr, count, enumValue, integer, none, set, str, table, vector } from "./constructors.ts";
import { type DataHeader, scanHeader } from "./header.ts";
import type { Data } from "./types.ts";

const b = (...xs: number[]) => new Uint8Array(xs);
const u64 = (n: number) => [0, 0, 0, 0, 0, 0, 0, n];

function assertCode(fn: () => unknown, code: ErrorCode, what = "") {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BrokerError, `${what}: expected BrokerError, got ${e}`);
    assert.equal(e.code, code, `${what}: expected ${ErrorCode[code]}, got ${e.codeName}`);
    return true;
  });
}

const header = (
  type: DataHeader["type"],
  length?: number,
  zeekType?: number,
  eventName?: string,
  argCount?: number,
): DataHeader => ({ type, length, zeekType, eventName, argCount });

Deno.test("scanHeader reads a Zeek event's type, name and argument count", () => {
  const ev = new Event("connection_state_remove", [str("a"), count(2n), vector()], {
    timestamp: 1n,
  });
  assert.deepEqual(
    scanHeader(encode(ev.toData())),
    header("vector", 3, 1, "connection_state_remove", 3),
  );
  const long = "x".repeat(40) + "\u00e9"; // past the short-text path, not ASCII
  assert.deepEqual(scanHeader(encode(new Event(long).toData())), header("vector", 3, 1, long, 0));
  // Not UTF-8: lossy, as EncodedData.text reads it.
  const bad = scanHeader(encode(new Event(b(0x61, 0xff)).toData()));
  assert.equal(bad.eventName, "a\ufffd");
});

Deno.test("scanHeader: names and lengths at the edges of its fast path", () => {
  for (const len of [0, 1, 23, 24, 25]) {
    const name = "e".repeat(len);
    for (const nargs of [0, 127, 128, 300]) {
      const args = Array.from({ length: nargs }, () => none());
      const h = scanHeader(encode(new Event(name, args).toData()));
      assert.deepEqual(h, header("vector", 3, 1, name, nargs), `${len} ${nargs}`);
    }
  }
  // A two-byte element count (259) whose second byte is 2, like a count's tag: not an envelope.
  const trap = new Uint8Array(300);
  trap.set([0x0e, 0x83, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x01]);
  trap.set([0x0e, 0x02, 0x05, 0x01, 0x61, 0x0e, 0x00], 20);
  assert.deepEqual(scanHeader(trap), header("vector", 259));
  // The same header with one-byte lengths but a version of 2 or a type of 2.
  const ev = encode(new Event("ping", [count(1n)]).toData());
  assert.deepEqual(scanHeader(ev), header("vector", 3, 1, "ping", 1));
  const v2 = ev.slice();
  v2[10] = 2;
  assert.deepEqual(scanHeader(v2), header("vector", 3));
  const t2 = ev.slice();
  t2[19] = 2;
  assert.deepEqual(scanHeader(t2), header("vector", 3, 2));
  const hi = ev.slice();
  hi[5] = 1; // version 2^40 + 1
  assert.deepEqual(scanHeader(hi), header("vector", 3));
});

Deno.test("scanHeader: other Zeek messages give their type, other values their type and size", () => {
  const lc = new LogCreate("Conn::LOG", "Log::WRITER_ASCII", vector(str("conn")), vector());
  // A LogCreate is (1, 2, (...)): type 2, no event fields.
  assert.deepEqual(scanHeader(encode(lc.toData())), header("vector", 3, 2));
  assert.deepEqual(scanHeader(encode(count(7n))), header("count"));
  assert.deepEqual(scanHeader(encode(addr("10.0.0.1"))), header("address"));
  assert.deepEqual(scanHeader(encode(set(count(1n), count(2n)))), header("set", 2));
  assert.deepEqual(scanHeader(encode(table([[str("k"), none()]]))), header("table", 1));
  assert.deepEqual(scanHeader(encode(vector())), header("vector", 0));
  // Envelope look-alikes that are not Zeek messages: version 2, type 6, content not a vector,
  // integer instead of count, too few fields.
  for (
    const v of [
      vector(count(2n), count(1n), vector(str("e"), vector())),
      vector(count(1n), count(6n), vector(str("e"), vector())),
      vector(count(1n), count(1n), str("e")),
      vector(integer(1n), count(1n), vector(str("e"), vector())),
      vector(count(1n), count(1n)),
    ]
  ) {
    assert.deepEqual(scanHeader(encode(v)), header("vector", v.value.length), String(v.value));
  }
  // An event whose name or arguments have the wrong type leaves those fields undefined.
  const oddName = vector(count(1n), count(1n), vector(enumValue("e"), vector()));
  assert.deepEqual(scanHeader(encode(oddName)), header("vector", 3, 1));
  const oddArgs = vector(count(1n), count(1n), vector(str("e"), count(1n)));
  assert.deepEqual(scanHeader(encode(oddArgs)), header("vector", 3, 1, "e"));
});

Deno.test("scanHeader reads only the header: bytes after the argument count are not touched", () => {
  const bytes = encode(new Event("ping", [count(1n)]).toData());
  // Corrupt the argument: a full decode fails, the header still reads.
  const corrupt = bytes.slice();
  corrupt[corrupt.length - 9] = 0xff;
  assert.throws(() => decode(corrupt), BrokerError);
  assert.deepEqual(scanHeader(corrupt), header("vector", 3, 1, "ping", 1));
});

Deno.test("scanHeader on malformed headers: typed BrokerErrors, never a crash", () => {
  const ev = encode(new Event("ping", [count(1n)]).toData());
  const cases: [string, Uint8Array, ErrorCode][] = [
    ["empty", b(), ErrorCode.deserialization_failed],
    ["unknown tag", b(0x0f), ErrorCode.invalid_tag],
    ["unknown tag in the envelope", b(0x0e, 0x03, 0x20, 0, 0), ErrorCode.invalid_tag],
    ["vector without a length", b(0x0e), ErrorCode.deserialization_failed],
    ["length longer than the input", b(0x0e, 0x05, 0x00), ErrorCode.deserialization_failed],
    [
      "varbyte over 32 bits",
      b(0x0e, 0xff, 0xff, 0xff, 0xff, 0x7f),
      ErrorCode.deserialization_failed,
    ],
    ["varbyte never ending", b(0x0e, 0x80, 0x80), ErrorCode.deserialization_failed],
    ["truncated version", b(0x0e, 0x03, 0x02, 0, 0), ErrorCode.deserialization_failed],
    ["truncated type", b(0x0e, 0x03, 0x02, ...u64(1), 0x02, 0), ErrorCode.deserialization_failed],
    [
      "name longer than the input",
      b(0x0e, 0x03, 0x02, ...u64(1), 0x02, ...u64(1), 0x0e, 0x02, 0x05, 0x09, 0x61),
      ErrorCode.deserialization_failed,
    ],
  ];
  for (const [what, bytes, code] of cases) assertCode(() => scanHeader(bytes), code, what);
  // Every truncation of a real event: a header or a typed error.
  for (let n = 0; n < ev.length; n++) {
    try {
      scanHeader(ev.subarray(0, n));
    } catch (e) {
      assert.ok(e instanceof BrokerError, `truncated to ${n}: ${e}`);
    }
  }
  assertCode(() => scanHeader("nope" as unknown as Uint8Array), ErrorCode.deserialization_failed);
});

/** The header of a decoded value, worked out from the value itself. */
function expected(v: Data): DataHeader {
  if (v.type !== "set" && v.type !== "vector" && v.type !== "table") return header(v.type);
  const n = v.value.length;
  if (v.type !== "vector" || n < 3) return header(v.type, n);
  const [version, type, content] = v.value;
  if (
    version.type !== "count" || version.value !== 1n || type.type !== "count" ||
    type.value < 1n || type.value > 5n || content.type !== "vector"
  ) {
    return header("vector", n);
  }
  const t = Number(type.value), [name, args] = content.value;
  if (t !== 1 || content.value.length < 2 || name.type !== "string") return header("vector", n, t);
  return header("vector", n, 1, name.value, args.type === "vector" ? args.value.length : undefined);
}

Deno.test("property: scanHeader agrees with decode and parseZeekMessage; random bytes only throw BrokerError", () => {
  const zeekish: fc.Arbitrary<Data> = fc.tuple(
    fc.string({ maxLength: 30 }),
    fc.array(anyData, { maxLength: 4 }),
  ).map(([name, args]) => new Event(name, args).toData());
  fc.assert(
    fc.property(fc.oneof(anyData, zeekish), (v) => {
      const h = scanHeader(encode(v));
      assert.deepEqual(h, expected(v));
      let msg;
      try {
        msg = parseZeekMessage(v);
      } catch {
        // Not a valid Zeek message; the header may still see an envelope.
      }
      if (msg) {
        const types = { event: 1, log_create: 2, log_write: 3, identifier_update: 4, batch: 5 };
        assert.equal(h.zeekType, types[msg.kind]);
      }
      if (msg?.kind === "event") {
        assert.equal(h.eventName, msg.name);
        assert.equal(h.argCount, msg.args.length);
      }
    }),
    { numRuns: 300 },
  );
  // Mutated events: whenever the bytes still decode, the header is the decoded value's.
  const ev = encode(new Event("connection_state_remove", [count(5n), str("x")]).toData());
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(ev.length - 1), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 3,
      }),
      fc.nat(ev.length),
      (edits, cut) => {
        const bytes = ev.slice(0, Math.max(cut, 1));
        for (const [at, x] of edits) if (at < bytes.length) bytes[at] = x;
        let v: Data | undefined;
        try {
          v = decode(bytes);
        } catch {
          // Not a value: the header may read or throw, but only a BrokerError.
        }
        try {
          const h = scanHeader(bytes);
          if (v) assert.deepEqual(h, expected(v));
        } catch (e) {
          assert.ok(e instanceof BrokerError && !v, String(e));
        }
      },
    ),
    { numRuns: 3000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        scanHeader(bytes);
      } catch (e) {
        assert.ok(e instanceof BrokerError, String(e));
      }
    }),
    { numRuns: 2000 },
  );
});
