import assert from "node:assert/strict";
import { dataFromJson, dataToJson } from "./json.ts";
import { decode } from "./decode.ts";
import { decodeValidated } from "./build.ts";
import { encode } from "./encode.ts";
import { validateForLater } from "./validate.ts";
import { str, vector } from "./constructors.ts";

// TextDecoder drops a leading U+FEFF unless told not to; Broker's strings are
// bytes, so a value that starts with one must come back with it.
const BOM = "\uFEFF";
const TEXTS = [BOM, BOM + "abc", BOM + BOM, BOM + "é", BOM + "x".repeat(80), BOM + "é".repeat(50)];

Deno.test("strings that start with U+FEFF keep it through decode, decodeValidated and JSON", () => {
  for (const t of TEXTS) {
    const bytes = encode(vector(str(t), str("tail"))).slice();
    const v = decode(bytes);
    assert.equal(v.type === "vector" && v.value[0].value, t, `decode ${JSON.stringify(t)}`);
    const w = decodeValidated(bytes, validateForLater(bytes));
    assert.equal(
      w.type === "vector" && w.value[0].value,
      t,
      `decodeValidated ${JSON.stringify(t)}`,
    );
    assert.deepEqual(encode(v), bytes, "encodes back to the same bytes");
    assert.equal(dataFromJson(dataToJson(str(t))).value, t, `JSON ${JSON.stringify(t)}`);
    assert.equal(str(new TextEncoder().encode(t)).value, t, `str(bytes) ${JSON.stringify(t)}`);
  }
});
