/**
 * The WebSocket JSON of a valid binary value, written by the WASM codec:
 * what `dataToJson` gives for it, as UTF-8, minus the opening `{` (the
 * caller's object holds the members). A fan-out node writes one per message;
 * the JS writer took ~1.4 µs for a conn event.
 *
 * @module
 */
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { realFromWords } from "./decode.ts";
import { formatRealFast } from "./text.ts";

/** Output bytes per input byte at most (a table of `none` pairs: 80 for 2). */
export const JSON_MAX_EXPANSION = 48;
/** What the codec needs on top of the text (its checks keep a margin). */
const JSON_ROOM = 256;
/**
 * Largest payload written in WASM: its room (48 bytes per payload byte)
 * is linear memory, which grows and never shrinks, so one large message
 * would keep its 48x for the life of the process. Larger ones take the JS
 * writer (rare, and long enough that the call's overhead does not matter).
 */
export const JSON_WASM_MAX_INPUT = 64 * 1024;

/**
 * Writes the members of `payload`'s value (`"@data-type":...,"data":...`)
 * and the closing `}` into `out` at `at`, and returns the bytes written;
 * -1 where the JS writer must write them (see `WasmCodec.json`: addresses
 * that are not IPv4, ...; payloads over `JSON_WASM_MAX_INPUT`;
 * text that would not fit in `out` from `at`). `payload` must have been
 * validated, with its sets and tables in Broker's order; its text takes at
 * most `JSON_MAX_EXPANSION` bytes per payload byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "./mod.ts";
 * import { writeJsonMembers } from "./json_wasm.ts";
 * const out = new Uint8Array(512);
 * const n = writeJsonMembers(encode(count(1n)), out, 0);
 * equal(new TextDecoder().decode(out.subarray(0, n)), '"@data-type":"count","data":1}');
 * ```
 */
export function writeJsonMembers(payload: Uint8Array, out: Uint8Array, at: number): number {
  if (payload.length > JSON_WASM_MAX_INPUT) return -1;
  const c = WasmCodec.shared();
  const len = c.load(payload);
  const n = c.json(len, JSON_MAX_EXPANSION * len + JSON_ROOM, realText);
  // Valid values stay within JSON_MAX_EXPANSION a byte; this guards `out` from anything else.
  if (n < 0 || n > out.length - at) return -1;
  const from = c.jsonOut;
  out.set(c.u8.subarray(from, from + n), at);
  return n;
}

/** A real's text (as the JS writer formats it) into the shared codec's memory, for `WasmCodec.json`. */
function realText(hi: number, lo: number, out: number, room: number): number {
  const text = formatRealFast(realFromWords(hi, lo));
  if (text.length > room) return -1;
  const u8 = WasmCodec.shared().u8;
  for (let i = 0; i < text.length; i++) u8[out + i] = text.charCodeAt(i);
  return text.length;
}
