/**
 * Text out of encoded bytes, for the decoders: short ASCII text from a cache
 * of strings made before, other ASCII text with one `String.fromCharCode`
 * call, the rest through `TextDecoder` (lossy, with the raw bytes kept, when
 * it is not UTF-8).
 *
 * @module
 */

/** Strict UTF-8: tells whether text bytes are UTF-8. */
export const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
/** Lossy UTF-8: the reading of text bytes that are not UTF-8. */
export const utf8Lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Short ASCII text (under 24 bytes) at `start..end` of `u8` as a string, or
 * undefined when a byte is not ASCII.
 *
 * Zeek repeats short text (event names, enum values, conn states): a hit in
 * a small cache returns the string made last time instead of building it
 * (per-character concatenation was a third of decode's time; `asciiText`
 * builds misses). The slot is picked by a hash of the length and three
 * bytes; the hit is verified byte by byte, and only ASCII strings are
 * cached, so a verified hit is exact. A text that misses is stored only
 * when it missed last time in its slot too (its hash is remembered): text
 * that never repeats (uids, random strings) then rarely displaces what
 * does. Interleaved runs on 2026-12-05: the conn event decodes 1.56x
 * msgpackr with the cache, 1.16x without; event_2 with random strings
 * (peering bench) 0.57-0.65 µs with this policy against 0.82-0.94 µs
 * storing every miss, 0.80-0.86 µs without the cache.
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
  if (bypass > 0) {
    bypass--;
    return fromAscii(u8, start, len);
  }
  if (len === 0) return ""; // (the hash below reads a byte of the text)
  const h = Math.imul(
    len ^ u8[start] << 8 ^ u8[end - 1] << 16 ^ u8[start + (len >> 1)] << 24,
    0x9e3779b1,
  );
  const slot = h >>> TEXT_CACHE_SHIFT;
  const hit = textCache[slot], at = slot * 24 - start;
  if (hit.length === len) {
    let k = start;
    while (k < end && textCacheBytes[at + k] === u8[k]) k++;
    if (k === end) {
      missRun = 0;
      return hit;
    }
  }
  if (++missRun >= MISS_RUN) {
    missRun = 0;
    bypass = BYPASS;
  }
  // Stored on its second miss in a row here: storing every miss (the bytes,
  // and a young string into an old-space array) evicted the texts that do
  // repeat and cost more than the hits saved where most text never repeats.
  if (lastMiss[slot] !== h) {
    lastMiss[slot] = h;
    return fromAscii(u8, start, len);
  }
  return cacheMiss(u8, start, end, slot, at);
}

/**
 * The miss path of `shortText`, apart so that the lookup is small enough
 * for V8 to inline into `decode`'s `readValue` together with the 64-bit and
 * address reads (with the miss path inside, it was left out there once the
 * DataView lookup moved into `readBig`); with it inlined, decode's
 * small-vector ratio to msgpackr measured 1.23-1.25x in three interleaved
 * runs against 1.16-1.22x without, the conn event's unchanged. Stores the
 * bytes in the slot and builds the string from them; text that is not
 * ASCII empties the slot instead.
 */
function cacheMiss(
  u8: Uint8Array,
  start: number,
  end: number,
  slot: number,
  at: number,
): string | undefined {
  for (let k = start; k < end; k++) textCacheBytes[at + k] = u8[k];
  const text = fromAscii(u8, start, end - start);
  textCache[slot] = text ?? "";
  return text;
}

/** Text shorter than this goes through the cache of `shortText`. */
export const SHORT_TEXT = 24;

/**
 * ASCII text up to `ASCII_MAX` bytes as a string, or undefined when a byte is
 * not ASCII: text under `SHORT_TEXT` bytes through `fromAscii`, longer text
 * with one `String.fromCharCode.apply` over a reused array of the right
 * length, which measured ~3x faster than concatenating the characters (18
 * bytes: ~30 vs ~90 ns) and ~9x faster than `TextDecoder` for short text.
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
  const len = end - start;
  if (len < SHORT_TEXT) return fromAscii(u8, start, len);
  const args = CHAR_CODES[len];
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
/**
 * After `MISS_RUN` texts in a row miss the cache, the next `BYPASS` skip it:
 * text that never repeats (random strings, uids) then costs no lookups. A
 * hit ends a run, so text that does repeat keeps the cache. Interleaved
 * runs on 2026-12-05: mars.dat's events (341 random texts each) decoded
 * 0.70-0.75x msgpackr against 0.59-0.61x, the conn event 1.50-1.57x
 * against 1.55-1.58x, its uid sets 1.17-1.33x against 1.18-1.26x.
 */
const MISS_RUN = 16;
const BYPASS = 256;
/** Misses in a row since the last hit. */
let missRun = 0;
/** Texts left to read without the cache. */
let bypass = 0;
/** Per slot, the hash of the text that last missed there. */
const lastMiss = new Int32Array(1 << TEXT_CACHE_BITS);

/**
 * The `len` (under `SHORT_TEXT`) bytes at `s` of `u` as a string, or
 * undefined when one is not ASCII: each case reads the bytes once into
 * locals, checks them together and passes them to one `String.fromCharCode`
 * call. A loop over the bytes before a separate call took twice as long
 * (mars.dat's 10-letter texts: ~32 vs ~17 ns each, 2026-12-05), the cost of
 * every text that misses the cache; building from the bytes as arguments
 * measured ~25% faster than copying them to an array for `apply`.
 */
// deno-fmt-ignore -- one case a line: the 23 unrolled calls read as a table
function fromAscii(u: Uint8Array, s: number, len: number): string | undefined {
  switch (len) {
    case 0: return "";
    case 1: { const c0 = u[s]; return c0 > 0x7f ? undefined : String.fromCharCode(c0); }
    case 2: { const c0 = u[s], c1 = u[s + 1]; return (c0 | c1) > 0x7f ? undefined : String.fromCharCode(c0, c1); }
    case 3: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2]; return (c0 | c1 | c2) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2); }
    case 4: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3]; return (c0 | c1 | c2 | c3) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3); }
    case 5: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4]; return (c0 | c1 | c2 | c3 | c4) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4); }
    case 6: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5]; return (c0 | c1 | c2 | c3 | c4 | c5) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5); }
    case 7: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6); }
    case 8: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7); }
    case 9: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8); }
    case 10: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9); }
    case 11: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10); }
    case 12: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11); }
    case 13: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12); }
    case 14: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13); }
    case 15: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14); }
    case 16: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15); }
    case 17: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16); }
    case 18: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17); }
    case 19: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17], c18 = u[s + 18]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17 | c18) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18); }
    case 20: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17], c18 = u[s + 18], c19 = u[s + 19]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17 | c18 | c19) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19); }
    case 21: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17], c18 = u[s + 18], c19 = u[s + 19], c20 = u[s + 20]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17 | c18 | c19 | c20) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20); }
    case 22: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17], c18 = u[s + 18], c19 = u[s + 19], c20 = u[s + 20], c21 = u[s + 21]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17 | c18 | c19 | c20 | c21) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21); }
    case 23: { const c0 = u[s], c1 = u[s + 1], c2 = u[s + 2], c3 = u[s + 3], c4 = u[s + 4], c5 = u[s + 5], c6 = u[s + 6], c7 = u[s + 7], c8 = u[s + 8], c9 = u[s + 9], c10 = u[s + 10], c11 = u[s + 11], c12 = u[s + 12], c13 = u[s + 13], c14 = u[s + 14], c15 = u[s + 15], c16 = u[s + 16], c17 = u[s + 17], c18 = u[s + 18], c19 = u[s + 19], c20 = u[s + 20], c21 = u[s + 21], c22 = u[s + 22]; return (c0 | c1 | c2 | c3 | c4 | c5 | c6 | c7 | c8 | c9 | c10 | c11 | c12 | c13 | c14 | c15 | c16 | c17 | c18 | c19 | c20 | c21 | c22) > 0x7f ? undefined : String.fromCharCode(c0, c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12, c13, c14, c15, c16, c17, c18, c19, c20, c21, c22); }
  }
  throw new RangeError(`fromAscii: ${len} bytes`);
}
