/**
 * Summaries the benches print: one definition each, so that two benches'
 * "median" mean the same.
 *
 * @module
 */

/**
 * The median of `xs`: the middle of a sorted copy (of an even count, the
 * upper of the two middles); `xs` is left as it was. NaN when empty.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { median } from "./stats.ts";
 * equal(median([3, 1, 2]), 2);
 * equal(median([4, 1, 3, 2]), 3);
 * ```
 */
export function median(xs: readonly number[]): number {
  return xs.length === 0 ? NaN : [...xs].sort((a, b) => a - b)[xs.length >> 1];
}
