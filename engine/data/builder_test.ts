// DataBuilder against encode: any value, written field by field (set
// elements and table entries in a shuffled order, with repeats; 64-bit
// values as numbers where they are safe integers), gives encode's bytes.
import assert from "node:assert/strict";
import fc from "fast-check";
import { anyData } from "../../tests/arbitrary.ts";
import { BrokerError } from "../errors.ts";
import { DataBuilder } from "./builder.ts";
import { count, enumValue, set, str, table, timestamp, vector } from "./constructors.ts";
import { decode } from "./decode.ts";
import { encode } from "./encode.ts";
import type { Data, Protocol } from "./types.ts";

/** Writes `d` into `b` through the typed methods; `pick` chooses orders and forms. */
function replay(b: DataBuilder, d: Data, pick: () => number): void {
  const asNumber = (v: bigint) =>
    pick() % 2 === 0 && v >= -(2n ** 53n) + 1n && v <= 2n ** 53n - 1n ? Number(v) : v;
  switch (d.type) {
    case "none":
      b.none();
      return;
    case "boolean":
      b.bool(d.value);
      return;
    case "count":
      b.count(asNumber(d.value));
      return;
    case "integer":
      b.integer(asNumber(d.value));
      return;
    case "timestamp":
      b.timestamp(asNumber(d.value));
      return;
    case "timespan":
      b.timespan(asNumber(d.value));
      return;
    case "real":
      b.real(d.value);
      return;
    case "string":
      b.str(d.bytes ?? d.value);
      return;
    case "enum":
      b.enumValue(d.bytes ?? d.value);
      return;
    case "address":
      b.addr(d.value);
      return;
    case "subnet":
      b.subnet(d.value);
      return;
    case "port":
      b.port(d.value.number, d.value.protocol);
      return;
    case "vector":
      b.beginVector();
      for (const x of d.value) replay(b, x, pick);
      b.end();
      return;
    case "set": {
      b.beginSet();
      // Shuffled, and one element written twice: the builder sorts and drops repeats.
      const items = shuffle(d.value, pick);
      if (items.length > 0 && pick() % 3 === 0) items.push(items[pick() % items.length]);
      for (const x of items) replay(b, x, pick);
      b.end();
      return;
    }
    case "table": {
      b.beginTable();
      for (const [k, v] of shuffle(d.value, pick)) {
        replay(b, k, pick);
        replay(b, v, pick);
      }
      b.end();
      return;
    }
  }
}

function shuffle<T>(xs: readonly T[], pick: () => number): T[] {
  const out = xs.slice();
  for (let i = out.length - 1; i > 0; i--) {
    const j = pick() % (i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

Deno.test("any value written field by field gives encode's bytes", () => {
  const b = new DataBuilder(16); // small: the buffer grows many times
  fc.assert(
    fc.property(anyData, fc.array(fc.nat(), { minLength: 1, maxLength: 64 }), (d, seeds) => {
      let i = 0;
      const pick = () => seeds[i++ % seeds.length] + i;
      replay(b.reset(), d, pick);
      assert.deepStrictEqual(b.finish(), encode(d));
    }),
    { numRuns: 2000 },
  );
});

/** The exact value of a double as a fraction `num / 2^shift` (both bigints). */
function exactOf(x: number): [bigint, bigint] {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  const bits = dv.getBigUint64(0);
  const exp = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (exp !== 0) mant |= 1n << 52n;
  const e = (exp === 0 ? 1 : exp) - 1075;
  const num = bits >> 63n ? -mant : mant;
  return e >= 0 ? [num << BigInt(e), 0n] : [num, BigInt(-e)];
}

Deno.test("timestampMs: whole milliseconds exactly as the bigint form, a fraction to within a nanosecond", () => {
  const b = new DataBuilder();
  const ns = (ms: number) => decode(b.reset().timestampMs(ms).finish()).value as bigint;
  const limit = 9_223_372_036_854n; // whole ms that fit an int64 of ns
  fc.assert(
    fc.property(fc.bigInt(-limit, limit), (ms) => {
      assert.deepStrictEqual(
        b.reset().timestampMs(Number(ms)).finish(),
        encode(timestamp(ms * 1_000_000n)),
      );
    }),
    { numRuns: 5000 },
  );
  fc.assert(
    fc.property(fc.double({ min: -9.2e12, max: 9.2e12, noNaN: true }), (ms) => {
      const [num, shift] = exactOf(ms);
      const exact = num * 1_000_000n; // ns * 2^shift
      const got = ns(ms) << shift;
      const off = got > exact ? got - exact : exact - got;
      assert.ok(off <= 1n << shift, `${ms} ms gave ${ns(ms)} ns`);
    }),
    { numRuns: 5000 },
  );
  assert.equal(ns(1.5), 1_500_000n);
  assert.equal(ns(-1.5), -1_500_000n);
  assert.equal(ns(0.0000005), 1n); // half a nanosecond rounds up
  for (const bad of [9_223_372_036_855, -9_223_372_036_855, NaN, Infinity]) {
    assert.throws(
      () => b.reset().timestampMs(bad),
      (e) => e instanceof BrokerError && /timestamp out of range/.test(e.message),
    );
  }
});

Deno.test("values finished with a prefix: the prefix and encode's bytes in one view, left intact by later values", () => {
  const b = new DataBuilder(16);
  const prefix = Uint8Array.from({ length: 61 }, (_, i) => i);
  assert.equal(b.reset().count(1).finishWithPrefix(prefix), undefined, "no room kept yet");
  const kept: [Uint8Array, Uint8Array][] = [];
  fc.assert(
    fc.property(
      fc.array(anyData, { maxLength: 40 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 64 }),
      (ds, seeds) => {
        let i = 0;
        const pick = () => seeds[i++ % seeds.length] + i;
        const d = vector(...ds);
        replay(b.reset(), d, pick);
        const framed = b.finishWithPrefix(prefix)!;
        const want = encode(d).slice();
        assert.deepStrictEqual(framed.subarray(0, prefix.length), prefix);
        assert.deepStrictEqual(framed.subarray(prefix.length), want);
        assert.deepStrictEqual(b.finish(), want);
        if (kept.length < 500) kept.push([framed, framed.slice()]);
      },
    ),
    { numRuns: 1000 },
  );
  // Values moved to fresh buffers while being written (256 KiB ones, filled many times over).
  for (const [view, copy] of kept) assert.deepStrictEqual(view, copy);
  // A longer prefix than the room kept: undefined, and room for it from the next value on.
  const longer = new Uint8Array(100).fill(7);
  assert.equal(b.reset().str("x").finishWithPrefix(longer), undefined);
  assert.deepStrictEqual(b.finish(), encode(str("x")));
  const framed = b.reset().str("y").finishWithPrefix(longer)!;
  assert.deepStrictEqual(framed, Uint8Array.from([...longer, ...encode(str("y"))]));
  assert.deepStrictEqual(b.finishWithPrefix(prefix)!.subarray(prefix.length), encode(str("y")));
});

for (const withPrefix of [false, true]) {
  Deno.test(`containers of 128 values and more: the count grows to two bytes${withPrefix ? " (values kept in place)" : ""}`, () => {
    const b = new DataBuilder();
    if (withPrefix) b.reset().none().finishWithPrefix(new Uint8Array(40));
    for (const n of [127, 128, 200, 16384]) {
      const items = Array.from({ length: n }, (_, i) => count(n - i));
      b.reset().beginSet();
      for (const x of items) b.count(x.value);
      b.end();
      assert.deepStrictEqual(b.finish(), encode(set(...items)));
      b.reset().beginVector().beginTable();
      for (const x of items) b.count(x.value).str("v");
      b.end().str("after").end();
      const t = vector(table(items.map((x) => [x, str("v")])), str("after"));
      assert.deepStrictEqual(b.finish(), encode(t));
    }
  });
}

Deno.test("values finished with the same prefix lie one after another, until a slab is full", () => {
  // What lets the transport send a run of them as one view, with no copy.
  const b = new DataBuilder();
  const prefix = new Uint8Array(40).fill(1);
  b.reset().count(0).finishWithPrefix(prefix); // from here on, room is kept
  let last = b.reset().str("first").finishWithPrefix(prefix)!, touching = 0, fresh = 0;
  for (let i = 0; i < 20_000; i++) {
    const framed = b.reset().beginVector().count(i).str("x".repeat(i % 50)).end()
      .finishWithPrefix(prefix)!;
    if (framed.buffer !== last.buffer) fresh++;
    else {
      assert.equal(framed.byteOffset, last.byteOffset + last.length);
      touching++;
    }
    last = framed;
  }
  // ~1.5 MB of frames: a new slab only each 256 KiB or so.
  assert.ok(fresh >= 4 && fresh <= 8, `${fresh} fresh slabs`);
  assert.equal(touching, 20_000 - fresh);
});

Deno.test("a table keeps the first value of a repeated key, as encode does", () => {
  const b = new DataBuilder();
  b.beginTable().str("k").count(1).str("a").count(2).str("k").count(3).end();
  assert.deepStrictEqual(
    decode(b.finish()),
    table([[str("a"), count(2)], [str("k"), count(1)]]),
  );
});

Deno.test("two-item sets and tables: kept, swapped, or a repeat dropped (the first written kept)", () => {
  const b = new DataBuilder();
  const built = (write: (b: DataBuilder) => void) => {
    write(b.reset());
    return b.finish();
  };
  // Strings of other lengths and other types, in and out of order, inside a vector.
  const pairs: [Data, Data][] = [
    [str("a"), str("b")],
    [str("ab"), str("b")],
    [str("b"), str("ba")],
    [count(1), count(2)],
    [count(2), str("a")],
  ];
  for (const [x, y] of pairs) {
    for (const [first, second] of [[x, y], [y, x]]) {
      assert.deepStrictEqual(
        built((b) => b.beginVector().count(7).beginSet().data(first).data(second).end().end()),
        encode(vector(count(7), set(first, second))),
      );
      assert.deepStrictEqual(
        built((b) => b.beginTable().data(first).count(1).data(second).count(2).end()),
        encode(table([[first, count(1)], [second, count(2)]])),
      );
    }
    assert.deepStrictEqual(built((b) => b.beginSet().data(x).data(x).end()), encode(set(x)));
    assert.deepStrictEqual(
      decode(built((b) => b.beginTable().data(x).str("first").data(x).str("second").end())),
      table([[x, str("first")]]),
    );
  }
});

Deno.test("texts: ASCII, then UTF-8 from any point, and 128 characters or more", () => {
  const b = new DataBuilder(8);
  for (
    const text of [
      "",
      "x",
      "tcp",
      "é",
      "abcé",
      "a".repeat(127) + "é",
      "a".repeat(128),
      "€".repeat(200),
    ]
  ) {
    b.reset().beginVector().str(text).enumValue(text).end();
    assert.deepStrictEqual(b.finish(), encode(vector(str(text), enumValue(text))));
  }
});

Deno.test("misuse is a BrokerError, and the builder stays usable after reset", () => {
  const b = new DataBuilder();
  const bad = (f: () => unknown, re: RegExp) =>
    assert.throws(f, (e) => e instanceof BrokerError && re.test(e.message));
  bad(() => b.reset().count(-1), /count out of range/);
  bad(() => b.reset().count(1.5), /count out of range/);
  bad(() => b.reset().count(2n ** 64n), /count out of range/);
  bad(() => b.reset().integer(2n ** 63n), /integer out of range/);
  bad(() => b.reset().timestamp(2 ** 60), /timestamp out of range/);
  bad(() => b.reset().port(70000, "tcp"), /bad port/);
  bad(() => b.reset().port(80, "sctp" as Protocol), /bad port/);
  bad(() => b.reset().port(80, "toString" as Protocol), /bad port/);
  bad(() => b.reset().beginVector().finish(), /not ended/);
  bad(() => b.reset().end(), /without an open container/);
  bad(() => b.reset().count(1).count(2), /holds one value/);
  bad(() => b.reset().finish(), /not 0/);
  bad(() => b.reset().beginTable().str("k").end(), /a value for every key/);
  bad(() => b.reset().str(7 as unknown as string), /strings or bytes/);
  b.reset().beginVector().enumValue("tcp").end();
  assert.deepStrictEqual(b.finish(), encode(vector(enumValue("tcp"))));
});
