/**
 * Map keys for Broker data: one string per value under Broker's equality,
 * and the way back from such a string to the value.
 *
 * The canonical binary encoding already orders sets and tables; the one
 * place where equal values encode differently is a real zero (`-0.0 == 0.0`
 * in C++, which Broker's `std::map` backends rely on), so negative zeros are
 * folded before encoding. The strings hold one byte per character (Latin-1),
 * which V8 stores at one byte each: the memory backend keeps keys and values
 * in this form rather than as objects.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { dataKey } from "./data_key.ts";
 * import { real, set, str } from "../data/mod.ts";
 * equal(dataKey(real(-0)) === dataKey(real(0)), true);
 * equal(dataKey(set(str("a"))) === dataKey(set(str("a"))), true);
 * ```
 *
 * @module
 */
import { type Data, decode, encode, real } from "../data/mod.ts";

/**
 * The identity string of a value: equal values (by Broker's order) give equal
 * strings, different values different strings.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { dataKey } from "./data_key.ts";
 * import { count } from "../data/mod.ts";
 * equal(dataKey(count(1n)) !== dataKey(count(2n)), true);
 * ```
 */
export function dataKey(d: Data): string {
  return latin1(encode(hasNegativeZero(d) ? foldNegativeZero(d) : d));
}

/**
 * A value's binary encoding as a one-byte string, exactly (negative zeros
 * kept): what `fromPacked` turns back into the value.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { fromPacked, packData } from "./data_key.ts";
 * import { dataToString, str } from "../data/mod.ts";
 * equal(dataToString(fromPacked(packData(str("x")))), "x");
 * ```
 */
export function packData(d: Data): string {
  return latin1(encode(d));
}

let scratch = new Uint8Array(256);

/**
 * The value a `dataKey` or `packData` string encodes (for a `dataKey` of a
 * value with a negative zero, the folded value).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { dataKey, fromPacked } from "./data_key.ts";
 * import { count } from "../data/mod.ts";
 * deepEqual(fromPacked(dataKey(count(7n))), count(7n));
 * ```
 */
export function fromPacked(s: string): Data {
  const n = s.length;
  if (n > scratch.length) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  const u8 = scratch;
  for (let i = 0; i < n; i++) u8[i] = s.charCodeAt(i);
  // decode copies what it reads: the scratch buffer can be reused at once.
  return decode(u8.subarray(0, n));
}

/**
 * Whether `dataKey(d)` folds a negative zero, so that the key it stands for
 * is not exactly `d`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { hasNegativeZero } from "./data_key.ts";
 * import { real } from "../data/mod.ts";
 * equal(hasNegativeZero(real(-0)), true);
 * ```
 */
export function hasNegativeZero(d: Data): boolean {
  switch (d.type) {
    case "real":
      return Object.is(d.value, -0);
    case "set":
    case "vector":
      return d.value.some(hasNegativeZero);
    case "table":
      return d.value.some(([k, v]) => hasNegativeZero(k) || hasNegativeZero(v));
    default:
      return false;
  }
}

function latin1(b: Uint8Array): string {
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

function foldNegativeZero(d: Data): Data {
  switch (d.type) {
    case "real":
      return Object.is(d.value, -0) ? real(0) : d;
    case "set":
      // Folding cannot reorder a set: -0 and 0 already sort as equals.
      return { type: "set", value: d.value.map(foldNegativeZero) };
    case "vector":
      return { type: "vector", value: d.value.map(foldNegativeZero) };
    case "table":
      return {
        type: "table",
        value: d.value.map(([k, v]) => [foldNegativeZero(k), foldNegativeZero(v)] as const),
      };
    default:
      return d;
  }
}
