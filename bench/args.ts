/**
 * The benches' command-line options, read one way: `--name value` or
 * `--name=value`, and numbers checked before anything runs (a typo such as
 * `--n 2e` stops the bench instead of running it with `NaN`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { numberOption, option } from "./args.ts";
 * const args = ["--n", "500", "--only=latency"];
 * equal(numberOption("--n", 1_000, {}, args), 500);
 * equal(option("--only", args), "latency");
 * equal(numberOption("--runs", 3, {}, args), 3); // absent: the fallback
 * ```
 *
 * @module
 */

/** The value given for `name` (with its dashes, e.g. `--n`), or undefined. */
export function option(name: string, args: readonly string[] = Deno.args): string | undefined {
  const joined = args.find((a) => a.startsWith(`${name}=`));
  if (joined !== undefined) return joined.slice(name.length + 1);
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}

/** `option(name)`, or `fallback` when it is absent. */
export function stringOption(
  name: string,
  fallback: string,
  args: readonly string[] = Deno.args,
): string {
  return option(name, args) ?? fallback;
}

/** What a number option accepts. */
export interface NumberOptionLimits {
  /** Smallest value accepted (default 0). */
  min?: number;
  /** Whether fractions are accepted (default: whole numbers only). */
  fractions?: boolean;
}

/**
 * The number given for `name`, or `fallback`; throws a `RangeError` naming
 * the option for anything else (not a number, a fraction where a count is
 * due, below `min`).
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { numberOption } from "./args.ts";
 * throws(() => numberOption("--n", 10, {}, ["--n", "ten"]), /--n/);
 * throws(() => numberOption("--n", 10, { min: 1 }, ["--n=0"]), /1 or more/);
 * ```
 */
export function numberOption(
  name: string,
  fallback: number,
  limits: NumberOptionLimits = {},
  args: readonly string[] = Deno.args,
): number {
  const text = option(name, args);
  return text === undefined ? fallback : checkedNumber(name, text, limits);
}

/**
 * A comma-separated list of numbers given for `name` (e.g. `--clients 1,16`),
 * or `fallback`; each is checked as {@linkcode numberOption} checks one.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { numberListOption } from "./args.ts";
 * deepEqual(numberListOption("--clients", [1, 16], { min: 1 }, ["--clients=1,8"]), [1, 8]);
 * ```
 */
export function numberListOption(
  name: string,
  fallback: number[],
  limits: NumberOptionLimits = {},
  args: readonly string[] = Deno.args,
): number[] {
  const text = option(name, args);
  return text === undefined
    ? fallback
    : text.split(",").map((item) => checkedNumber(name, item, limits));
}

function checkedNumber(name: string, text: string, limits: NumberOptionLimits): number {
  const min = limits.min ?? 0;
  const n = text.trim() === "" ? NaN : Number(text);
  const ok = limits.fractions ? Number.isFinite(n) : Number.isSafeInteger(n);
  if (!ok || n < min) {
    throw new RangeError(
      `${name}: ${JSON.stringify(text)} is not ${
        limits.fractions ? "a number" : "a whole number"
      }, ${min} or more`,
    );
  }
  return n;
}
