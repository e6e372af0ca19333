import assert from "node:assert/strict";
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode, decodeViaTape, encode, EncodedData, encodeWasm, validate } from "./binary.ts";
import {
  addr,
  count,
  enumValue,
  integer,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  vector,
} from "./constructors.ts";
import { equals } from "./order.ts";
import { dataToString } from "./text.ts";

const b = (...xs: number[]) => new Uint8Array(xs);

function assertCode(fn: () => unknown, code: ErrorCode) {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof BrokerError, `expected BrokerError, got ${e}`);
    assert.equal(e.code, code, `expected ${ErrorCode[code]}, got ${e.codeName}: ${e.message}`);
    return true;
  });
}

Deno.test("bad input gives typed errors", async (t) => {
  const cases: [string, Uint8Array, ErrorCode][] = [
    ["empty", b(), ErrorCode.deserialization_failed],
    ["unknown tag", b(0x0f), ErrorCode.invalid_tag],
    ["unknown tag 0xff", b(0xff, 0, 0), ErrorCode.invalid_tag],
    ["truncated count", b(0x02, 0, 0, 0), ErrorCode.deserialization_failed],
    ["truncated bool", b(0x01), ErrorCode.deserialization_failed],
    ["truncated address", b(0x06, 1, 2, 3), ErrorCode.deserialization_failed],
    ["truncated subnet", b(0x07, ...new Array(16).fill(0)), ErrorCode.deserialization_failed],
    ["string length beyond input", b(0x05, 0x05, 0x61), ErrorCode.deserialization_failed],
    [
      "varbyte of six bytes",
      b(0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01),
      ErrorCode.deserialization_failed,
    ],
    [
      "varbyte above 2^32-1",
      b(0x05, 0xff, 0xff, 0xff, 0xff, 0x1f),
      ErrorCode.deserialization_failed,
    ],
    ["unterminated varbyte", b(0x0e, 0x80), ErrorCode.deserialization_failed],
    [
      "vector count beyond input",
      b(0x0e, 0xff, 0xff, 0xff, 0xff, 0x0f, 0),
      ErrorCode.deserialization_failed,
    ],
    [
      "table of 2^31 pairs",
      b(0x0d, 0x80, 0x80, 0x80, 0x80, 0x08, 0),
      ErrorCode.deserialization_failed,
    ],
    ["vector missing elements", b(0x0e, 0x02, 0x00), ErrorCode.deserialization_failed],
    ["port protocol 4", b(0x08, 0x00, 0x50, 0x04), ErrorCode.deserialization_failed],
    ["duplicate set element", b(0x0c, 0x02, 0x00, 0x00), ErrorCode.deserialization_failed],
    ["trailing bytes", b(0x00, 0x00), ErrorCode.deserialization_failed],
    ["bad tag inside a vector", b(0x0e, 0x01, 0x20), ErrorCode.invalid_tag],
  ];
  for (const [name, bytes, code] of cases) {
    await t.step(name, () => {
      assertCode(() => decode(bytes), code);
      assertCode(() => validate(bytes), code);
    });
  }
});

Deno.test("nesting is limited (configurable), never a stack overflow", () => {
  const deep = (n: number) => {
    const out = new Uint8Array(2 * n + 1);
    for (let i = 0; i < n; i++) out.set([0x0e, 0x01], 2 * i);
    out[2 * n] = 0x00;
    return out;
  };
  assert.equal(dataToString(decode(deep(20))).length, 3 + 40);
  assert.equal(validate(deep(128)), 257);
  assertCode(() => decode(deep(129)), ErrorCode.deserialization_failed);
  assertCode(() => decode(deep(5), { maxDepth: 4 }), ErrorCode.deserialization_failed);
  assert.equal(validate(deep(5000), { maxDepth: 5000 }), 10001);
  assertCode(() => validate(deep(1_000_000)), ErrorCode.deserialization_failed);
});

Deno.test("absurd lengths do not allocate: a 4 GiB string claim in 6 bytes", () => {
  assertCode(() => decode(b(0x05, 0xff, 0xff, 0xff, 0xff, 0x0f)), ErrorCode.deserialization_failed);
});

Deno.test("non-Uint8Array input is a typed error", () => {
  assertCode(() => decode("00" as unknown as Uint8Array), ErrorCode.deserialization_failed);
});

Deno.test("allowTrailing reports the extent of the first value", () => {
  assert.equal(validate(b(0x01, 0x01, 0xff, 0xff), { allowTrailing: true }), 2);
  assert.deepEqual(decode(b(0x01, 0x01, 0xff), { allowTrailing: true }), {
    type: "boolean",
    value: true,
  });
});

Deno.test("sets and tables arriving out of order are re-sorted, like Broker's receiver", () => {
  // {2, 1} on the wire -> {1, 2}
  const wire = b(0x0c, 0x02, 0x02, 0, 0, 0, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 0, 0, 0, 1);
  const v = decode(wire);
  assert.equal(dataToString(v), "{1, 2}");
  assert.ok(equals(v, set(count(1n), count(2n))));
  assert.deepEqual(encode(v), encode(set(count(2n), count(1n))));
  // out-of-order duplicates are found after sorting
  const dup = b(0x0c, 0x03, 0x05, 0x01, 0x62, 0x05, 0x01, 0x61, 0x05, 0x01, 0x62);
  assertCode(() => decode(dup), ErrorCode.deserialization_failed);
  // a table with keys b, a
  const t = b(0x0d, 0x02, 0x05, 0x01, 0x62, 0x00, 0x05, 0x01, 0x61, 0x01, 0x01);
  assert.equal(dataToString(decode(t)), "{a -> T, b -> nil}");
});

Deno.test("WASM orders neighbouring texts by their bytes: shared prefixes, high bytes, long lengths", () => {
  // Its shortcut compares one-byte-length texts eight bytes at a time; a
  // length of 128 or more takes the general path. Byte order, then length.
  let seed = 11;
  const next = (n: number) => (seed = Math.imul(seed, 1103515245) + 12345 >>> 0) % n;
  const letters = [0x00, 0x61, 0x62, 0x7f, 0x80, 0xff];
  const text = (prefix: number[]) => {
    const n = next(4) === 0 ? 120 + next(20) : next(21);
    return [...prefix, ...Array.from({ length: n }, () => letters[next(letters.length)])];
  };
  const order = (x: number[], y: number[]) => {
    for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
    return x.length - y.length;
  };
  const enc = (tag: number, t: number[]) =>
    t.length < 128 ? [tag, t.length, ...t] : [tag, t.length & 0x7f | 0x80, t.length >> 7, ...t];
  const c = WasmCodec.shared();
  for (let k = 0; k < 3000; k++) {
    const prefix = Array.from({ length: next(13) }, () => letters[next(letters.length)]);
    const x = text(prefix), y = next(8) === 0 ? [...x] : text(prefix);
    const tag = next(2) === 0 ? 5 : 11;
    for (const container of [0x0c, 0x0d]) {
      const value = container === 0x0d ? [0x00] : [];
      const bytes = b(container, 2, ...enc(tag, x), ...value, ...enc(tag, y), ...value);
      const extent = c.validate(c.load(bytes), 128);
      const want = Math.sign(order(x, y));
      const what = `${container} ${tag} [${x}] [${y}]`;
      if (want === 0) assert.ok(extent < 0, `a repeat is an error: ${what}`);
      else assert.deepEqual([extent, c.unsorted()], [bytes.length, want > 0], what);
    }
  }
});

Deno.test("boolean bytes other than 0 and 1 read as true, as in Broker", () => {
  assert.deepEqual(decode(b(0x01, 0x07)), { type: "boolean", value: true });
});

Deno.test("strings are byte strings: invalid UTF-8 and NUL round-trip", () => {
  const raw = b(0x05, 0x05, 0xff, 0xfe, 0x00, 0x7a, 0xc3);
  const v = decode(raw);
  assert.equal(v.type, "string");
  assert.deepEqual(encode(v), raw);
  assert.deepEqual(encode(str(new Uint8Array([0xc3, 0x28]))), b(0x05, 0x02, 0xc3, 0x28));
  const e = decode(b(0x0b, 0x02, 0xc3, 0x28));
  assert.deepEqual(encode(e), b(0x0b, 0x02, 0xc3, 0x28));
});

Deno.test("UTF-8 text of every length class encodes with the right varbyte", () => {
  for (const n of [0, 1, 127, 128, 300, 16383, 16384, 70000]) {
    for (const ch of ["x", "é", "✓", "😀"]) {
      const s = ch.repeat(n);
      const v = str(s);
      const bytes = encode(v);
      const back = decode(bytes);
      assert.equal(back.value, s);
      const utf8 = new TextEncoder().encode(s);
      assert.equal(
        bytes.length,
        1 + (utf8.length < 128 ? 1 : utf8.length < 16384 ? 2 : 3) + utf8.length,
      );
    }
  }
});

Deno.test("64-bit extremes round-trip exactly", () => {
  for (const v of [0n, 1n, (1n << 53n) + 1n, (1n << 64n) - 1n]) {
    assert.equal(decode(encode(count(v))).value, v);
  }
  for (const v of [-(1n << 63n), -1n, (1n << 63n) - 1n, -(1n << 53n) - 1n]) {
    assert.equal(decode(encode(integer(v))).value, v);
    assert.equal(decode(encode(timespan(v))).value, v);
  }
  assert.throws(() => count(-1n), RangeError);
  assert.throws(() => count(2 ** 60), RangeError);
  assert.throws(() => integer(1n << 63n), RangeError);
});

Deno.test("reals: Broker's special constants, -0 and normal values", () => {
  const hex = (d: Uint8Array) => Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  assert.equal(hex(encode(real(Infinity))), "04fff0000000000000");
  assert.equal(hex(encode(real(-Infinity))), "047ff0000000000000");
  assert.equal(hex(encode(real(NaN))), "04ffffffffffffffff");
  assert.equal(decode(encode(real(-Infinity))).value, -Infinity);
  assert.ok(Object.is(decode(encode(real(-0))).value, -0));
  assert.equal(decode(encode(real(Math.PI))).value, Math.PI);
});

Deno.test("reals: subnormals are written as CAF's pack754 writes them (spec §14.12)", () => {
  const hex = (d: Uint8Array) => Array.from(d, (x) => x.toString(16).padStart(2, "0")).join("");
  const cases: [number, string][] = [
    // m * 2^-1074 with 2^k <= m < 2^(k+1): exponent k - 51 wraps into the top 12 bits.
    [5e-324, "fcd0000000000000"], // golden real-denormal
    [-5e-324, "fcd0000000000000"], // the wrapped exponent already sets the sign bit
    [3 * 5e-324, "fce8000000000000"], // k = 1: exponent -50
    [2 ** -1024, "fff0000000000000"], // Broker's +inf
    [3 * 2 ** -1025, "fff8000000000000"],
    [2 ** -1023, "0000000000000000"], // k = 51: exponent 0, Broker's +0
    [-(2 ** -1023), "8000000000000000"],
    [3 * 2 ** -1024, "0008000000000000"],
    [2 ** -1022 - 5e-324, "000ffffffffffffe"],
    [2 ** -1022, "0010000000000000"], // the smallest normal: IEEE's bits
  ];
  for (const [x, bits] of cases) {
    assert.equal(hex(encode(real(x))), `04${bits}`, `${x}`);
    assert.equal(hex(encodeWasm(real(x))), `04${bits}`, `${x} (WASM)`);
  }
});

Deno.test("reals: exponent fields 0 and 0x7ff are read as CAF's unpack754 reads them", () => {
  const read = (bits: string) => {
    const b = new Uint8Array(9);
    b[0] = 4;
    for (let i = 0; i < 8; i++) b[i + 1] = parseInt(bits.slice(2 * i, 2 * i + 2), 16);
    const v = decode(b);
    assert.equal(v.type, "real");
    // The WASM reader (tape, and validate-then-view) agrees.
    assert.ok(Object.is(decodeViaTape(b).value, v.value), `${bits} (tape)`);
    assert.ok(Object.is(EncodedData.from(b).materialize().value, v.value), `${bits} (view)`);
    return v.value;
  };
  // Exponent 0 is a normal number with the implicit 1: (1 + f/2^52) * 2^-1023, rounded.
  assert.ok(Object.is(read("0000000000000000"), 0));
  assert.ok(Object.is(read("8000000000000000"), -0));
  assert.equal(read("0008000000000000"), 3 * 2 ** -1024);
  assert.equal(read("0000000000000001"), 2 ** -1023); // (2^52 + 1) * 2^-1075: tie to even
  assert.equal(read("0000000000000003"), 2 ** -1023 + 2 * 5e-324); // tie to even, upward
  assert.equal(read("000fffffffffffff"), 2 ** -1022); // rounds up to the smallest normal
  assert.equal(read("8008000000000000"), -3 * 2 ** -1024);
  // Broker's encoding of 5e-324 is a normal number: -2^974.
  assert.equal(read("fcd0000000000000"), -(2 ** 974));
  // Exponent 0x7ff: only Broker's three constants are special; the rest overflow.
  assert.equal(read("fff0000000000000"), Infinity);
  assert.equal(read("7ff0000000000000"), -Infinity);
  assert.ok(Number.isNaN(read("ffffffffffffffff")));
  assert.equal(read("7ff8000000000000"), Infinity); // IEEE's NaN
  assert.equal(read("7ff0000000000001"), Infinity);
  assert.equal(read("fff8000000000000"), -Infinity);
  assert.equal(read("fffffffffffffffe"), -Infinity);
});

Deno.test("encoding rejects what is not Broker data with serialization_failed", () => {
  assertCode(() => encode({ type: "count", value: 5 } as never), ErrorCode.serialization_failed);
  assertCode(() => encode({ type: "count", value: -1n } as never), ErrorCode.serialization_failed);
  assertCode(() => encode({ type: "bogus" } as never), ErrorCode.serialization_failed);
  assertCode(() => encode(null as never), ErrorCode.serialization_failed);
  assertCode(
    () => encode(vector(str("ok"), { type: "string", value: 1 } as never)),
    ErrorCode.serialization_failed,
  );
});

Deno.test("hand-built unsorted sets and tables encode in Broker's order", () => {
  const unsorted = { type: "set", value: [str("b"), count(1n), str("a"), str("b")] } as const;
  assert.deepEqual(encode(unsorted), encode(set(count(1n), str("a"), str("b"))));
  const t = { type: "table", value: [[str("z"), count(1n)], [str("a"), count(2n)]] } as const;
  assert.equal(dataToString(decode(encode(t))), "{a -> 2, z -> 1}");
});

Deno.test("EncodedData reads containers in place", () => {
  const v = vector(
    str("ping"),
    table([[enumValue("k"), addr("::1")]]),
    vector(port(80, "tcp"), subnet("10.0.0.0/8")),
  );
  const view = EncodedData.from(encode(v));
  assert.equal(view.type, "vector");
  assert.equal(view.length, 3);
  assert.equal(view.at(0).text(), "ping");
  const [k, val] = view.at(1).entry(0);
  assert.equal(k.text(), "k");
  assert.equal(val.type, "address");
  assert.equal(dataToString(view.at(2).materialize()), "(80/tcp, 10.0.0.0/8)");
  assert.equal(view.at(2).at(1).type, "subnet");
  assert.throws(() => view.at(3), BrokerError);
  assert.throws(() => view.at(2).text(), BrokerError);
  assert.equal(view.at(0).length, -1);
});

Deno.test("encoded outputs stay intact across later encodings and slab changes", () => {
  const values = Array.from(
    { length: 3000 },
    (_, i) =>
      i === 1500
        ? vector(str("x".repeat(2_000_000)))
        : vector(count(BigInt(i)), str(`value number ${i} `.repeat(i % 7))),
  );
  const outs = values.map((v, i) => (i % 2 ? encode(v) : encodeWasm(v)));
  for (let i = 0; i < values.length; i++) {
    assert.ok(equals(decode(outs[i]), values[i]), `value ${i} was overwritten`);
  }
  // A failed encoding leaves nothing behind in the next one.
  assert.throws(() => encode(vector(str("partial"), { type: "nope" } as never)), BrokerError);
  assert.deepEqual(encode(count(1n)), b(0x02, 0, 0, 0, 0, 0, 0, 0, 1));
});

Deno.test("short text: cache hits are verified; look-alikes, non-UTF-8, every length", () => {
  // Same length, first, middle and last byte: same cache slot, different text.
  const alike = ["aXbYc", "aZbYc", "aXbZc", "aXbYc"];
  const latin1 = new Uint8Array([0x61, 0xe9, 0x62, 0x59, 0x63]); // "a\xe9bYc", not UTF-8
  for (let round = 0; round < 3; round++) {
    for (const s of alike) {
      assert.deepEqual(decode(encode(vector(str(s), enumValue(s)))).value, [str(s), enumValue(s)]);
    }
    const bad = decode(encode(str(latin1)));
    assert.equal(bad.type === "string" && bad.bytes?.length, 5);
    assert.equal(decode(encode(str("aXbYc"))).value, "aXbYc");
  }
  // Every length the cache (< 24) and the ASCII path (<= 64) serve, and beyond, twice each
  // (miss, then hit); with a non-ASCII character first, in the middle and last.
  for (let len = 0; len <= 70; len++) {
    const s = "abcdefghijklmnopqrstuvwxyz0123456789".repeat(2).slice(0, len);
    for (let k = 0; k < 2; k++) assert.equal(decode(encode(str(s))).value, s);
    assert.equal(decode(encode(enumValue(s.toUpperCase()))).value, s.toUpperCase());
    if (len === 0) continue;
    for (const at of [0, len >> 1, len - 1]) {
      const t = s.slice(0, at) + "\u00e9" + s.slice(at + 1);
      for (let k = 0; k < 2; k++) assert.equal(decode(encode(str(t))).value, t);
    }
  }
});

Deno.test("small inputs checked in JS decode and fail exactly as through WASM", () => {
  const values = [
    vector(),
    vector(count(42n), str("hello"), real(1.5)),
    vector(vector(vector(integer(-1n))), enumValue("x"), str(new Uint8Array([0xff]))),
    vector(addr("10.0.0.1"), port(80, "tcp"), subnet("10.0.0.0/8"), timespan(1n)),
    vector(str("x".repeat(50))), // 54 bytes
    vector(str("x".repeat(60))), // 64 bytes, the largest checked in JS
    vector(str("x".repeat(61))), // 65 bytes
    vector(set(count(1n))), // sets and tables go to WASM
    vector(table([[count(1n), count(2n)]])),
  ];
  for (const v of values) {
    const bytes = encode(v);
    assert.deepEqual(decode(bytes), v, dataToString(v));
    assert.deepEqual(decode(bytes), decode(bytes, {}));
  }
  const bad: Uint8Array[] = [
    b(0x08, 0x00, 0x50, 0x04), // port protocol 4
    b(0x0e, 0x01, 0x02, 0, 0), // truncated count in a vector
    b(0x0e, 0x02, 0x00), // one element of two
    b(0x00, 0x00), // trailing byte
    b(0x05, 0x03, 0x61), // string longer than the input
    b(0x05), // no string length
    b(0x0e), // no vector count
    b(0x0c, 0x02, 0x00, 0x00), // a set with a duplicate
    b(0x0e, 0x01, 0x0f), // unknown tag inside
  ];
  for (const bytes of bad) {
    let wasm: unknown;
    try {
      decode(bytes, {});
    } catch (e) {
      wasm = e;
    }
    assert.ok(wasm instanceof BrokerError, `${bytes} is invalid`);
    assert.throws(() => decode(bytes), (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.code, wasm.code);
      assert.equal(e.message, wasm.message);
      return true;
    });
  }
});
