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

/**
 * A ratio with two decimals cut, not rounded, and an `x`: against a goal of
 * at least some ratio a printed figure never claims more than the measured
 * one (9.9953 printed as 10.00x was a miss shown as a hit). "n/a" when it
 * is not a finite number.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatRatio } from "./stats.ts";
 * equal(formatRatio(9.9953), "9.99x");
 * equal(formatRatio(5.02), "5.02x"); // 5.02 * 100 is 501.99999999999994
 * equal(formatRatio(0 / 0), "n/a");
 * ```
 */
export function formatRatio(x: number): string {
  if (!Number.isFinite(x)) return "n/a";
  // Hundredths at most x: the product's rounding error may put floor() one off either way.
  let t = Math.floor(x * 100);
  if ((t + 1) / 100 <= x) t++;
  else if (t / 100 > x) t--;
  return `${(t / 100).toFixed(2)}x`;
}
