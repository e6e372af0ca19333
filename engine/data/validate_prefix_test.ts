import assert from "node:assert/strict";
import fc from "fast-check";
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { BrokerError } from "../errors.ts";
import { count, encode, str, vector } from "./mod.ts";
import { validate, validatePrefix } from "./validate.ts";

/** `value`'s bytes followed by `tail`'s. */
function followed(value: Uint8Array, tail: Uint8Array): Uint8Array {
  const out = new Uint8Array(value.length + tail.length);
  out.set(value);
  out.set(tail, value.length);
  return out;
}

Deno.test("validatePrefix: what follows a value is not copied into the codec", () => {
  // An ack_clone's state is read key by key and value by value, each followed
  // by the rest of the state: copying that rest for each of them made a
  // clone's handshake quadratic in the store's size.
  const c = WasmCodec.shared();
  const before = c.u8.length;
  const after = new Uint8Array(64 * 1024 * 1024);
  assert.ok(before < after.length, "the codec's memory starts below the trailing bytes' size");
  const small = encode(count(7n)), large = encode(str("x".repeat(5_000)));
  assert.deepEqual(validatePrefix(followed(small, after)), {
    length: small.length,
    unsorted: false,
  });
  assert.deepEqual(validatePrefix(followed(large, after)), {
    length: large.length,
    unsorted: false,
  });
  assert.equal(c.u8.length, before);
});

Deno.test("validatePrefix: the same extent as validating the value alone, whatever follows", () => {
  // Values up to ~20 kB, past the first windows (64 bytes in JS, 4 KiB in WASM).
  const value = fc.oneof(
    fc.integer({ min: 0, max: 20_000 }).map((n) => str("é".repeat(n >> 1) + "x".repeat(n & 1))),
    fc.integer({ min: 0, max: 2_000 })
      .map((n) => vector(...Array.from({ length: n }, (_, i) => count(BigInt(i) << 40n)))),
  );
  fc.assert(
    fc.property(value, fc.uint8Array({ maxLength: 9_000 }), (v, tail) => {
      const bytes = encode(v);
      assert.equal(validatePrefix(followed(bytes, tail)).length, validate(bytes));
    }),
    { numRuns: 200 },
  );
});

Deno.test("validatePrefix: a value cut short is refused as before, however long it claims to be", () => {
  const whole = encode(str("y".repeat(10_000)));
  for (const cut of [1, 63, 64, 65, 4_095, 4_096, 4_097, 9_000, whole.length - 1]) {
    assert.throws(() => validatePrefix(whole.subarray(0, cut)), BrokerError, `cut at ${cut}`);
  }
});
