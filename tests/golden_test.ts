// Golden vectors made by the real Broker: decode to the expected value, print
// Broker's text, re-encode to the identical bytes.
import assert from "node:assert/strict";
import { dataToString, decode, encode, EncodedData, validate } from "../mod.ts";
import { capturedDataPayloads, goldenData, goldenZeek, hex, unhex } from "./fixtures.ts";

const lossy = new TextDecoder();

for (const g of goldenData()) {
  Deno.test(`golden data ${g.name}: decode, text, re-encode`, () => {
    const bytes = unhex(g.hex);
    const v = decode(bytes);
    const expectedText = g.text ?? lossy.decode(unhex(g.text_hex!));
    assert.equal(dataToString(v), expectedText);
    assert.equal(hex(encode(v)), g.hex);
    assert.equal(validate(bytes), bytes.length);
  });
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
