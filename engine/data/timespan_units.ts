/**
 * The units a timespan is written in and the nanoseconds each holds: one
 * table for the JSON reader and the command line's parsers and printers.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { NS_PER_TIMESPAN_UNIT } from "./timespan_units.ts";
 * equal(3n * NS_PER_TIMESPAN_UNIT.min, 180000000000n);
 * ```
 *
 * @module
 */

/** A timespan unit: CAF's (`ns` to `h`), and `d` for days. */
export type TimespanUnit = "ns" | "us" | "ms" | "s" | "min" | "h" | "d";

/** Nanoseconds per timespan unit. */
export const NS_PER_TIMESPAN_UNIT: Readonly<Record<TimespanUnit, bigint>> = Object.freeze({
  ns: 1n,
  us: 1_000n,
  ms: 1_000_000n,
  s: 1_000_000_000n,
  min: 60_000_000_000n,
  h: 3_600_000_000_000n,
  d: 86_400_000_000_000n,
});
