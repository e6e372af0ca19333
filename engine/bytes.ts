/**
 * Joining byte arrays.
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
