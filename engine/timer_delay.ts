/**
 * Timer delays as the runtime keeps them. Deno, as browsers and Node do,
 * fires a timer whose delay passes 2^31 - 1 ms (about 24.8 days) at once,
 * so a timeout asked for longer than that (a CLI's `--timeout 1000h`, a
 * subscriber's `get(Infinity)`) would end at once instead of waiting.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MAX_TIMER_MS, timerDelay } from "./timer_delay.ts";
 * equal(timerDelay(500), 500);
 * equal(timerDelay(Infinity), MAX_TIMER_MS); // waits ~24.8 days, not 1 ms
 * ```
 *
 * @module
 */

/** The longest delay a timer keeps: 2^31 - 1 ms. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `ms` as a timer delay: capped at {@linkcode MAX_TIMER_MS}, so that a
 * longer wait lasts ~24.8 days rather than ending at once.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { timerDelay } from "./timer_delay.ts";
 * equal(timerDelay(3_600_000_000), 2 ** 31 - 1); // 1000 h
 * ```
 */
export function timerDelay(ms: number): number {
  return ms > MAX_TIMER_MS ? MAX_TIMER_MS : ms;
}
