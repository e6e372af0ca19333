/**
 * The check the JSON form tests share: a value's text, as a WebSocket
 * client sends it, reads as the same bytes through `dataFromJson` and
 * through the transcoder's quick path (when that takes the message); and
 * the texts Broker refuses are refused.
 *
 * @example
 * ```ts
 * import { assertJsonReads } from "./json_reads.ts";
 * assertJsonReads((t) => `{"@data-type":"count","data":${t}}`, [["7", "020000000000000007"]]);
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { DataBuilder } from "../engine/data/builder.ts";
import { encode } from "../engine/data/encode.ts";
import { dataFromJson } from "../engine/data/json_read.ts";
import { transcodeDataMessage } from "../engine/data/json_transcode.ts";

/** Bytes as lowercase hex. */
export const hex = (b: Uint8Array): string =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/**
 * Asserts that each `[text, bytes]` case's JSON (`json(text)`, a value's
 * object) is the value of those hex bytes, read whole and transcoded.
 */
export function assertJsonReads(json: (text: string) => string, read: [string, string][]): void {
  const b = new DataBuilder();
  for (const [text, bytes] of read) {
    const what = JSON.stringify(text);
    assert.equal(hex(encode(dataFromJson(json(text)))), bytes, what);
    const topic = transcodeDataMessage(
      `{"type":"data-message","topic":"/t",${json(text).slice(1)}`,
      b,
    );
    if (topic !== undefined) assert.equal(hex(b.finish()), bytes, what);
  }
}

/** Asserts that each text's JSON (`json(text)`) is refused as Broker refuses it: `type_clash`. */
export function assertJsonRefused(json: (text: string) => string, texts: string[]): void {
  for (const text of texts) {
    assert.throws(
      () => dataFromJson(json(text)),
      (e) => e instanceof BrokerError && e.code === ErrorCode.type_clash,
      JSON.stringify(text),
    );
  }
}
