// Properties over random values and random or mutated bytes (fast-check).
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  BrokerError,
  compare,
  dataToString,
  decode,
  decodeValidated,
  decodeViaTape,
  encode,
  encodeWasm,
  equals,
  validate,
  validateForLater,
} from "../mod.ts";
import { WasmCodec } from "../codec-wasm/mod.ts";
import { anyData } from "./arbitrary.ts";

const RUNS = 400;

Deno.test("random values round-trip: decode(encode(v)) equals v, bytes stable", () => {
  fc.assert(
    fc.property(anyData, (v) => {
      const bytes = encode(v);
      const back = decode(bytes);
      assert.ok(equals(back, v), `${dataToString(v)} came back as ${dataToString(back)}`);
      assert.deepEqual(encode(back), bytes);
      assert.equal(validate(bytes), bytes.length);
      const unsorted = validateForLater(bytes);
      assert.ok(equals(decodeValidated(inSlab(bytes), unsorted), v));
    }),
    { numRuns: RUNS },
  );
});

Deno.test("the WASM tape encoder writes the same bytes as the JS encoder", () => {
  fc.assert(
    fc.property(anyData, (v) => {
      assert.deepEqual(encodeWasm(v), encode(v));
    }),
    { numRuns: RUNS },
  );
});

Deno.test("JS order and WASM order agree (Broker's total order)", () => {
  const c = WasmCodec.shared();
  fc.assert(
    fc.property(anyData, anyData, (a, b) => {
      const ea = encode(a), eb = encode(b);
      const both = new Uint8Array(ea.length + eb.length);
      both.set(ea);
      both.set(eb, ea.length);
      c.load(both);
      const wasm = c.compareAt(0, ea.length);
      assert.equal(Math.sign(compare(a, b)), wasm, `${dataToString(a)} vs ${dataToString(b)}`);
      assert.equal(Math.sign(compare(b, a)), wasm === 0 ? 0 : -wasm);
    }),
    { numRuns: RUNS },
  );
});

/** Outcome of a decoder: the value's bytes again, or the error code. */
function outcome(f: (b: Uint8Array) => ReturnType<typeof decode>, bytes: Uint8Array) {
  try {
    return Array.from(encode(f(bytes))).join(",");
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
    return `error ${e.code}`;
  }
}

function decodesOrBrokerError(bytes: Uint8Array) {
  try {
    const v = decode(bytes);
    dataToString(v);
    encode(v);
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
  }
  // Both decoding paths agree on every input, valid or not.
  assert.equal(outcome(decodeViaTape, bytes), outcome(decode, bytes));
  try {
    validate(bytes);
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
  }
  // What validateForLater accepts, decodeValidated builds as decode does, from
  // anywhere in a larger buffer (payloads sit inside shared slabs).
  let unsorted: boolean;
  try {
    unsorted = validateForLater(bytes);
  } catch (e) {
    if (!(e instanceof BrokerError)) throw e;
    return;
  }
  assert.equal(outcome((b) => decodeValidated(inSlab(b), unsorted), bytes), outcome(decode, bytes));
}

/** A copy of bytes in the middle of a bigger buffer, between garbage. */
function inSlab(bytes: Uint8Array): Uint8Array {
  const slab = new Uint8Array(bytes.length + 13).fill(0xee);
  slab.set(bytes, 7);
  return slab.subarray(7, 7 + bytes.length);
}

Deno.test("random bytes give a value or a BrokerError, nothing else", () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrBrokerError), {
    numRuns: 2000,
  });
  // Start with a plausible tag so the scanner gets past the first byte more often.
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 14 }), fc.uint8Array({ maxLength: 64 }), (t, rest) => {
      decodesOrBrokerError(new Uint8Array([t, ...rest]));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("mutated encodings give a value or a BrokerError, nothing else", () => {
  const mutation = fc.record({
    kind: fc.constantFrom("flip", "set", "insert", "delete", "truncate"),
    at: fc.nat(),
    byte: fc.integer({ min: 0, max: 255 }),
  });
  fc.assert(
    fc.property(anyData, fc.array(mutation, { minLength: 1, maxLength: 4 }), (v, muts) => {
      let b = Array.from(encode(v));
      for (const m of muts) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.kind === "flip") b[at] ^= 1 << (m.byte & 7);
        else if (m.kind === "set") b[at] = m.byte;
        else if (m.kind === "insert") b.splice(at, 0, m.byte);
        else if (m.kind === "delete") b.splice(at, 1);
        else b = b.slice(0, at);
      }
      decodesOrBrokerError(new Uint8Array(b));
    }),
    { numRuns: 2000 },
  );
});
