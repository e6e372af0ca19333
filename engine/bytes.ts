/**
 * Joining byte arrays, and reading them one char per byte.
 *
 * @module
 */

/**
 * `chunks` joined into one buffer; a single chunk is returned as it is
 * (not copied).
 *
 * @example
 * ```ts
 * import { concatBytes } from "./bytes.ts";
 * const whole = concatBytes([new Uint8Array([1, 2]), new Uint8Array([3])]);
 * if (whole.join() !== "1,2,3") throw new Error("joined");
 * ```
 */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let n = 0;
  for (const c of chunks) n += c.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * `b` as a string of one char per byte (Latin-1), in slices: one spread of
 * a long array (a megabyte from a peer, say) overflows the call stack.
 *
 * @example
 * ```ts
 * import { latin1 } from "./bytes.ts";
 * if (latin1(new Uint8Array([0x61, 0xe9])) !== "a\u00e9") throw new Error("one char per byte");
 * if (latin1(new Uint8Array(1 << 20)).length !== 1 << 20) throw new Error("a megabyte");
 * ```
 */
export function latin1(b: Uint8Array): string {
  // One call for the keys and topics this mostly reads; slices past that.
  if (b.length <= LATIN1_SLICE) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += LATIN1_SLICE) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + LATIN1_SLICE) as unknown as number[]);
  }
  return s;
}

/** Bytes `latin1` hands `String.fromCharCode` at once (far below the stack's limit). */
const LATIN1_SLICE = 4096;
