// `\u` escapes of surrogates as broker-node's WebSocket API reads them
// (CAF's JSON reader; each case checked live: the bytes broker-node
// forwarded for the JSON it was sent, or its `unexpected_character`).
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { encode } from "./encode.ts";
import { dataFromJson } from "./json_read.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const text = (escaped: string) => `{"@data-type":"string","data":"${escaped}"}`;

Deno.test("JSON \\u escapes of surrogates give Broker's bytes, or its refusal", () => {
  const read: [string, string][] = [
    // A lone trailing surrogate: UTF-8's three-byte pattern (not UTF-8: kept as bytes).
    [String.raw`a\udc00b`, "050561edb08062"],
    [String.raw`\udfff`, "0503edbfbf"],
    // A pair, and a leading surrogate before any other \u escape: combined in 32 bits.
    [String.raw`\ud83d\ude00`, "0504f09f9880"],
    [String.raw`\udbff\udfff`, "0504f48fbfbf"],
    [String.raw`\ud800\ud800`, "0503efb080"],
    [String.raw`\udbff\u0041`, "0503efb181"],
    [String.raw`\ud800\uffff`, "0504f0928fbf"],
    [String.raw`\udbff\ue000`, "0504f48fb080"],
    [String.raw`\ud801\u0000`, "0503e29080"],
    [String.raw`\u00e9\u20ac`, "0505c3a9e282ac"],
  ];
  for (const [escaped, bytes] of read) {
    assert.equal(hex(encode(dataFromJson(text(escaped)))), bytes, escaped);
  }
  // A leading surrogate not followed by a \u escape.
  for (
    const escaped of [
      String.raw`\ud800`,
      String.raw`\ude00\ud83d`,
      String.raw`\ud800x`,
      String.raw`\ud800\n`,
    ]
  ) {
    assert.throws(
      () => dataFromJson(text(escaped)),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_json,
      escaped,
    );
  }
});
