// decode's JS pass against the WASM path (any options object takes it) on
// inputs made to reach each place where the JS pass must give up.
import assert from "node:assert/strict";
import fc from "fast-check";
import { BrokerError } from "../errors.ts";
import { addr, count, integer, real, set, str, subnet, timestamp, vector } from "./constructors.ts";
import { decode } from "./decode.ts";
import type { Data } from "./types.ts";
import { encode } from "./encode.ts";

function outcome(f: () => unknown) {
  try {
    return { value: f() };
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
    return { code: e.code, message: e.message };
  }
}

/** decode's result (value or error) equals the WASM path's; returns it. */
function same(bytes: number[] | Uint8Array) {
  const b = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const js = outcome(() => decode(b));
  assert.deepStrictEqual(js, outcome(() => decode(b, {})));
  return js;
}

const COUNT_7 = [0x02, 0, 0, 0, 0, 0, 0, 0, 7];

Deno.test("fixed-size values cut short at the end are errors, not garbage, wherever they lie", () => {
  for (const tag of [1, 2, 3, 4, 6, 7, 8, 9, 10]) {
    for (let have = 0; have < 17; have++) {
      const bytes = [0x0e, 0x02, ...COUNT_7, tag, ...new Array(have).fill(0x01)];
      const r = same(bytes);
      // Inside a bigger buffer, the bytes after the input are there to be misread.
      const slab = new Uint8Array(bytes.length + 40).fill(0x02);
      slab.set(bytes, 8);
      assert.deepStrictEqual(same(slab.subarray(8, 8 + bytes.length)), r);
      const full = { 1: 1, 2: 8, 3: 8, 4: 8, 6: 16, 7: 17, 8: 3, 9: 8, 10: 8 }[tag]!;
      assert.equal("value" in r, have === full, `tag ${tag} with ${have} bytes`);
    }
  }
});

Deno.test("counts: small ones shared, large ones exact, signed ones signed", () => {
  const v = same([
    0x0e,
    0x04,
    ...COUNT_7,
    0x02,
    0,
    0,
    0,
    0,
    0,
    0,
    4,
    0,
    0x03,
    ...new Array(8).fill(0xff),
    0x02,
    ...new Array(8).fill(0xff),
  ]);
  assert.deepStrictEqual(v, {
    value: vector(
      count(7n),
      count(1024n),
      { type: "integer", value: -1n },
      count((1n << 64n) - 1n),
    ),
  });
});

Deno.test("sets and tables out of order are re-sorted, repeats are errors (as WASM says)", () => {
  const a = [0x05, 0x01, 0x61], b = [0x05, 0x01, 0x62];
  assert.deepStrictEqual(same([0x0c, 0x02, ...b, ...a]), { value: set(str("a"), str("b")) });
  assert.equal(same([0x0c, 0x02, ...a, ...a]).code !== undefined, true);
  const t = same([0x0d, 0x02, ...b, ...COUNT_7, ...a, ...COUNT_7]);
  assert.deepStrictEqual((t.value as { value: unknown[] }).value.length, 2);
  assert.equal(same([0x0d, 0x02, ...a, ...COUNT_7, ...a, ...COUNT_7]).code !== undefined, true);
});

Deno.test("nesting at and past the default depth limit", () => {
  for (const depth of [127, 128, 129]) {
    const bytes = [...new Array(depth).fill(0).flatMap(() => [0x0e, 0x01]), 0x00];
    const r = same(bytes);
    assert.equal("value" in r, depth <= 128, `depth ${depth}`);
  }
});

Deno.test("lengths: long forms, the 32-bit limit, counts beyond the bytes, trailing bytes", () => {
  assert.deepStrictEqual(same([0x05, 0x82, 0x00, 0x61, 0x62]), { value: str("ab") });
  same([0x05, 0x80, 0x80, 0x80, 0x80, 0x10]); // a fifth byte above 0x0f
  same([0x05, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00]);
  same([0x0e, 0x05, 0x00]);
  same([0x0e, 0x7f, ...new Array(126).fill(0)]);
  same([...COUNT_7, 0x00]);
  same([]);
  same([0x0f]);
  same([0xff]);
  same([0x08, 0x00, 0x50, 0x04]); // port protocol 4
});

Deno.test("text: cut short, not UTF-8 (kept as bytes), long", () => {
  same([0x05, 0x03, 0x61, 0x62]);
  const raw = same([0x05, 0x02, 0xff, 0xfe]).value as { bytes?: Uint8Array };
  assert.deepStrictEqual(raw.bytes, new Uint8Array([0xff, 0xfe]));
  const long = "x".repeat(300);
  assert.deepStrictEqual(same(encode(str(long))), { value: str(long) });
});

Deno.test("inputs anywhere in a buffer: views with an offset, copies, Buffer-like subclasses", () => {
  const v = vector(count(5n), str("hello"), set(str("a"), str("b")));
  const bytes = encode(v);
  const slab = new Uint8Array(bytes.length + 10).fill(0x02);
  slab.set(bytes, 5);
  assert.deepStrictEqual(decode(slab.subarray(5, 5 + bytes.length)), v);
  class Sub extends Uint8Array {}
  assert.deepStrictEqual(decode(Sub.from(bytes)), v);
  // Bytes after the value inside the buffer are not read as part of it.
  same(slab.subarray(5, 5 + bytes.length - 1));
});

Deno.test("64-bit values, addresses and reals read right wherever each input lies, in turn", () => {
  // The DataView is looked up at the first read that needs it in a call:
  // inputs in one buffer at other offsets, in other buffers, and inputs
  // that need no DataView in between must each read their own bytes.
  const big = (i: number) =>
    vector(
      count(0xfedcba9876543210n + BigInt(i)),
      integer(-5_000_000_000n - BigInt(i)),
      timestamp(1700000000123456789n + BigInt(i)),
      addr(`2001:db8::${i + 1}`),
      subnet(`10.${i}.0.0/16`),
      real(-1234.5678 * (i + 1)),
    );
  const small = vector(count(42n), str("hello"), real(1.5));
  const b = [0, 1, 2, 3].map((i) => encode(big(i))), s = encode(small);
  const slab = new Uint8Array(280);
  const at = [3, 111, 190]; // b[i] is 73 bytes long
  at.forEach((o, i) => slab.set(b[i], o));
  slab.set(s, 80);
  const inputs: [Uint8Array, Data][] = [
    [slab.subarray(at[0], at[0] + b[0].length), big(0)],
    [slab.subarray(80, 80 + s.length), small],
    [slab.subarray(at[1], at[1] + b[1].length), big(1)],
    [new Uint8Array(b[3]), big(3)],
    [slab.subarray(at[2], at[2] + b[2].length), big(2)],
    [new Uint8Array(s), small],
    [slab.subarray(at[0], at[0] + b[0].length), big(0)],
  ];
  for (let round = 0; round < 3; round++) {
    for (const [bytes, v] of inputs) {
      assert.deepStrictEqual(decode(bytes), v);
      same(bytes);
    }
  }
});

// decode checks a set's or table's order on the texts' bytes in the input;
// the WASM path sorts and compares values. Texts here share prefixes, repeat,
// come in any order, mix strings with enums and other types, and are not
// always UTF-8 (those are compared by their raw bytes).
Deno.test("sets and tables of texts: order checked on bytes agrees with WASM", () => {
  // a, b, é, U+E000, U+1F600 (UTF-16 orders those two the other way round), a lone 0xff
  const pieces = [[0x61], [0x62], [0xc3, 0xa9], [0xee, 0x80, 0x80], [0xf0, 0x9f, 0x98, 0x80], [
    0xff,
  ]];
  const textBytes = fc.array(fc.integer({ min: 0, max: pieces.length - 1 }), { maxLength: 3 })
    .map((ks) => ks.flatMap((k) => pieces[k]));
  const element = fc.oneof(
    fc.tuple(fc.constantFrom(0x05, 0x0b), textBytes).map((
      [tag, b],
    ) => [tag, ...varbyte(b.length), ...b]),
    fc.constant(COUNT_7),
    fc.constant([0x0c, 0x01, 0x05, 0x01, 0x61]),
  );
  fc.assert(
    fc.property(fc.array(element, { maxLength: 6 }), fc.boolean(), (items, table) => {
      const body = table ? items.flatMap((k) => [...k, ...COUNT_7]) : items.flat();
      same([table ? 0x0d : 0x0c, ...varbyte(items.length), ...body]);
    }),
    { numRuns: 3000 },
  );
});

function varbyte(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  return [...out, n];
}
