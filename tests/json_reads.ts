/**
 * The check the JSON form tests share: a value's text, as a WebSocket
 * client sends it, reads as the same bytes through `dataFromJson` and
 * through the transcoder's quick path (when that takes the message).
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
