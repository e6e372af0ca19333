/**
 * Map keys for Broker data: one byte string (and one string) per value
 * under Broker's equality.
 *
 * The canonical binary encoding already orders sets and tables; the one
 * place where equal values encode differently is a real zero (`-0.0 == 0.0`
 * in C++, so Broker's sets, tables and a store's `keys()` hold one of
 * them), so negative zeros are folded before encoding. (Broker's memory
 * backend, an `unordered_map`, hashes the sign bit and may hold both: see
 * `hashKey`.) The strings hold one byte per character (Latin-1),
 * which V8 stores at one byte each.
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
import { latin1 } from "../bytes.ts";
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
  return latin1(keyBytes(d));
}

/**
 * The identity of a value as Broker's hash tables see it (`std::hash` over
 * the value's bits): like `dataKey`, except that a negative zero stays
 * apart from a zero. Broker's `unordered_map`s (the memory backend, an
 * `ack_clone`'s state) so hold `-0.0` and `0.0` as two keys, where our
 * tables keep one; a state with the same key twice under this identity is
 * what Broker's reader refuses.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { dataKey, hashKey } from "./data_key.ts";
 * import { real } from "../data/mod.ts";
 * equal(hashKey(real(-0)) === hashKey(real(0)), false);
 * equal(dataKey(real(-0)) === dataKey(real(0)), true);
 * ```
 */
export function hashKey(d: Data): string {
  return latin1(encode(d));
}

/**
 * The bytes behind `dataKey`: the encoding of `d` with negative zeros
 * folded (a view into the shared output slab: copy it before keeping it).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { keyBytes } from "./data_key.ts";
 * import { real } from "../data/mod.ts";
 * equal(keyBytes(real(-0))[1], 0); // the sign bit is gone
 * ```
 */
export function keyBytes(d: Data): Uint8Array {
  return encode(hasNegativeZero(d) ? foldNegativeZero(d) : d);
}

/**
 * `b[from, to)` as a one-byte-per-character string (`dataKey`'s form).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { latin1Of } from "./data_key.ts";
 * equal(latin1Of(new Uint8Array([0x61, 0x62]), 0, 2), "ab");
 * ```
 */
export function latin1Of(b: Uint8Array, from: number, to: number): string {
  return latin1(b.subarray(from, to));
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
