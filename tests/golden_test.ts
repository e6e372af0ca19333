// Golden vectors made by the real Broker: decode to the expected value, print
// Broker's text, re-encode to the identical bytes, on every codec path (JS and
// WASM). The JSON forms are checked in engine/data/json_test.ts.
import assert from "node:assert/strict";
import {
  dataToString,
  dataToStringBytes,
  decode,
  encode,
  EncodedData,
  real,
  validate,
} from "../mod.ts";
// Codec internals, beside the public API: the alternative paths and the validate-once pair.
import {
  decodeValidated,
  decodeViaTape,
  encodeWasm,
  validateForLater,
} from "../engine/data/mod.ts";
import { capturedDataPayloads, goldenData, goldenZeek, hex, unhex } from "./fixtures.ts";
import type { GoldenValue } from "./fixtures.ts";

/**
 * Manifest fields beside the common ones (see fixtures/broker/README.md):
 * `encoded_from_real` is the real Broker was given when its encoder wrote
 * `hex` (it differs from what `hex` decodes to where CAF's pack754 mangles it).
 */
type Golden = GoldenValue & { encoded_from_real?: string };

const lossy = new TextDecoder();

for (const g of goldenData() as Golden[]) {
  Deno.test(`golden data ${g.name}: decode, text, re-encode`, () => {
    const bytes = unhex(g.hex);
    const v = decode(bytes);
    const expectedText = g.text ?? lossy.decode(unhex(g.text_hex!));
    assert.equal(dataToString(v), expectedText);
    // Byte for byte as Broker prints it, raw bytes too.
    assert.equal(
      hex(dataToStringBytes(v)),
      g.text_hex ?? hex(new TextEncoder().encode(g.text!)),
    );
    assert.equal(hex(encode(v)), g.hex);
    assert.equal(validate(bytes), bytes.length);
    // The WASM paths: tape decoding, validate-then-build, tape encoding.
    assert.equal(dataToString(decodeViaTape(bytes)), expectedText);
    const unsorted = validateForLater(bytes);
    // Broker's encoder writes sets and tables in its order: the WASM order agrees.
    assert.equal(unsorted, false, "sets and tables in Broker's order");
    assert.equal(dataToString(decodeValidated(bytes, unsorted)), expectedText);
    assert.equal(hex(encodeWasm(v)), g.hex);
  });

  if (g.encoded_from_real !== undefined) {
    Deno.test(`golden data ${g.name}: ${g.encoded_from_real} encodes to Broker's bytes`, () => {
      const x = Number(g.encoded_from_real);
      assert.ok(!Number.isNaN(x), `encoded_from_real ${g.encoded_from_real} is not a number`);
      assert.equal(hex(encode(real(x))), g.hex);
      assert.equal(hex(encodeWasm(real(x))), g.hex);
    });
  }
}

for (const g of goldenZeek()) {
  Deno.test(`golden zeek ${g.name}: decode, text, re-encode`, () => {
    const bytes = unhex(g.hex);
    const v = decode(bytes);
    if (g.text !== null) assert.equal(dataToString(v), g.text);
    assert.equal(hex(encode(v)), g.hex);
  });
}

Deno.test("golden zeek events: the event name is read lazily", () => {
  for (const g of goldenZeek().filter((g) => g.name.startsWith("event"))) {
    const view = EncodedData.from(unhex(g.hex));
    const expected = /^\(1, 1, \(([^,]+),/.exec(g.text!)![1];
    assert.equal(view.at(2).at(0).text(), expected);
  }
});

Deno.test("every data message in the captures decodes and re-encodes identically", () => {
  const payloads = capturedDataPayloads();
  assert.ok(payloads.length >= 40, `only ${payloads.length} data messages found`);
  for (const { capture, topic, payload } of payloads) {
    const v = decode(payload);
    assert.equal(hex(encode(v)), hex(payload), `${capture} ${topic}`);
  }
});
