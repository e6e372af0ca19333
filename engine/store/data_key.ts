/**
 * Map keys for Broker data: one string per value under Broker's equality.
 *
 * The canonical binary encoding already orders sets and tables; the one
 * place where equal values encode differently is a real zero (`-0.0 == 0.0`
 * in C++, which Broker's `std::map` backends rely on), so negative zeros are
 * folded before encoding.
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
import { type Data, encode, real } from "../data/mod.ts";

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

function latin1(b: Uint8Array): string {
  if (b.length <= 4096) return String.fromCharCode.apply(null, b as unknown as number[]);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

function hasNegativeZero(d: Data): boolean {
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
