/**
 * Text out of encoded bytes, for the decoders: short ASCII text from a cache
 * of strings made before, other ASCII text with one `String.fromCharCode`
 * call, the rest through `TextDecoder` (lossy, with the raw bytes kept, when
 * it is not UTF-8).
 *
 * @module
 */

/** Strict UTF-8: tells whether text bytes are UTF-8. */
export const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
/** Lossy UTF-8: the reading of text bytes that are not UTF-8. */
export const utf8Lossy = new TextDecoder("utf-8");

/**
 * Short ASCII text (under 24 bytes) at `start..end` of `u8` as a string, or
 * undefined when a byte is not ASCII.
 *
 * Zeek repeats short text (event names, enum values, conn states): a hit in
 * a small cache returns the string made last time instead of building it
 * (per-character concatenation was a third of decode's time; `asciiText`
 * builds misses). The slot is picked by a hash of the length and three
 * bytes; the hit is verified byte by byte, and only ASCII strings are
 * cached, so a verified hit is exact. Measured in one run: the conn event
 * decodes 1.47x msgpackr with the cache, 1.12x without; with uids that
 * never repeat the cache costs nothing measurable (1.16x vs 1.11x).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { shortText } from "./read_text.ts";
 * equal(shortText(new Uint8Array([0x53, 0x46]), 0, 2), "SF");
 * ```
 */
export function shortText(u8: Uint8Array, start: number, end: number): string | undefined {
  const len = end - start;
  if (len === 0) return ""; // (the hash below reads a byte of the text)
  const slot = Math.imul(
    len ^ u8[start] << 8 ^ u8[end - 1] << 16 ^ u8[start + (len >> 1)] << 24,
    0x9e3779b1,
  ) >>> TEXT_CACHE_SHIFT;
  const hit = textCache[slot], at = slot * 24 - start;
  if (hit.length === len) {
    let k = start;
    while (k < end && textCacheBytes[at + k] === u8[k]) k++;
    if (k === end) return hit;
  }
  // A miss: store the bytes in the slot and build the string from them;
  // text that is not ASCII empties the slot instead.
  const args = CHAR_CODES[len];
  for (let k = start; k < end; k++) {
    const b = u8[k];
    if (b > 0x7f) {
      textCache[slot] = "";
      return undefined;
    }
    textCacheBytes[at + k] = b;
    args[k - start] = b;
  }
  const s = String.fromCharCode.apply(null, args);
  textCache[slot] = s;
  return s;
}

/** Text shorter than this goes through the cache of `shortText`. */
export const SHORT_TEXT = 24;

/**
 * ASCII text up to `ASCII_MAX` bytes as a string, or undefined when a byte is
 * not ASCII: one `String.fromCharCode.apply` over a reused array of the
 * right length, which measured ~3x faster than concatenating the characters
 * (18 bytes: ~30 vs ~90 ns) and ~9x faster than `TextDecoder` for short text.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { asciiText } from "./read_text.ts";
 * equal(asciiText(new Uint8Array([0x68, 0x69]), 0, 2), "hi");
 * equal(asciiText(new Uint8Array([0xff]), 0, 1), undefined);
 * ```
 */
export function asciiText(u8: Uint8Array, start: number, end: number): string | undefined {
  const args = CHAR_CODES[end - start];
  for (let k = start; k < end; k++) {
    const b = u8[k];
    if (b > 0x7f) return undefined;
    args[k - start] = b;
  }
  return String.fromCharCode.apply(null, args);
}

/** Longest text read by `asciiText`; longer text goes to `TextDecoder`. */
export const ASCII_MAX = 64;
/** Reused argument arrays for `String.fromCharCode.apply`, one per length. */
const CHAR_CODES: number[][] = Array.from(
  { length: ASCII_MAX + 1 },
  (_, n) => new Array(n).fill(0),
);

/**
 * The short-text cache: 1,024 slots, each a string and its bytes (24 bytes a
 * slot), about 50 KB in all; the shift maps a 32-bit hash to a slot.
 */
const TEXT_CACHE_BITS = 10;
const TEXT_CACHE_SHIFT = 32 - TEXT_CACHE_BITS;
const textCache: string[] = new Array<string>(1 << TEXT_CACHE_BITS).fill("");
const textCacheBytes = new Uint8Array(SHORT_TEXT << TEXT_CACHE_BITS);
