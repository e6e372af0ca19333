/**
 * Broker's total order on data (`std::variant` order of `broker::data`): first
 * by type tag, then by value within the type. Sets and tables keep their
 * elements in this order, which is also the order on the wire.
 *
 * @module
 */
import { type Data, Tag } from "./types.ts";

const TAG_OF: Record<Data["type"], number> = {
  none: Tag.none,
  boolean: Tag.boolean,
  count: Tag.count,
  integer: Tag.integer,
  real: Tag.real,
  string: Tag.string,
  address: Tag.address,
  subnet: Tag.subnet,
  port: Tag.port,
  timestamp: Tag.timestamp,
  timespan: Tag.timespan,
  enum: Tag.enum,
  set: Tag.set,
  table: Tag.table,
  vector: Tag.vector,
};

/** Wire tag of a value. */
export function tagOf(d: Data): Tag {
  return TAG_OF[d.type];
}

const PROTO_ORDER = { unknown: 0, tcp: 1, udp: 2, icmp: 3 } as const;

const utf8 = new TextEncoder();

function cmpNum(a: number | bigint, b: number | bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * How many times `compare` has met a NaN real: the callers that keep sets
 * and tables as Broker does (`sortedAsBroker`, `sortFindingRepeat`, the
 * encoders and decoders) note it, compare, and look again, so values
 * without a NaN pay nothing more. A count, not a flag: comparisons nest
 * (the builder decodes values to compare them).
 */
export const nanMet = { count: 0 };

/** While set, a NaN real compares equal to every real (`brokerEquivalent`). */
let nanMatchesReals = false;

// Reals as in C++ (-0 == 0); NaN sorts after every number so the order stays total.
function cmpReal(a: number, b: number): number {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a === b) return 0;
  nanMet.count++;
  if (nanMatchesReals) return 0;
  const na = a !== a, nb = b !== b;
  return na === nb ? 0 : na ? 1 : -1;
}

function cmpBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return cmpNum(a.length, b.length);
}

/**
 * Compares two JS strings by their UTF-8 bytes (which equals code point order)
 * without encoding them: surrogates stand for code points above U+FFFF.
 */
export function compareText(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x < y ? -1 : 1;
  }
  return cmpNum(a.length, b.length);
}

function textBytes(d: { value: string; bytes?: Uint8Array }): Uint8Array {
  return d.bytes ?? utf8.encode(d.value);
}

function cmpList(a: readonly Data[], b: readonly Data[]): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const r = compare(a[i], b[i]);
    if (r !== 0) return r;
  }
  return cmpNum(a.length, b.length);
}

/**
 * Broker's total order: negative, zero or positive.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { compare } from "./order.ts";
 * import { count, integer } from "./constructors.ts";
 * equal(compare(count(5n), integer(-1n)) < 0, true); // count sorts before integer
 * ```
 */
export function compare(a: Data, b: Data): number {
  if (a.type !== b.type) return TAG_OF[a.type] < TAG_OF[b.type] ? -1 : 1;
  switch (a.type) {
    case "none":
      return 0;
    case "boolean":
      return cmpNum(+a.value, +(b.value as boolean));
    case "count":
    case "integer":
    case "timestamp":
    case "timespan":
      return cmpNum(a.value, b.value as bigint);
    case "real":
      return cmpReal(a.value, b.value as number);
    case "string":
    case "enum": {
      const y = b as typeof a;
      if (a.bytes || y.bytes) return cmpBytes(textBytes(a), textBytes(y));
      return compareText(a.value, y.value);
    }
    case "address":
      return a.value.compare((b as typeof a).value);
    case "subnet": {
      const y = (b as typeof a).value;
      return a.value.address.compare(y.address) ||
        cmpNum(a.value.rawLength, y.rawLength);
    }
    case "port": {
      const y = (b as typeof a).value;
      return cmpNum(a.value.number, y.number) ||
        cmpNum(PROTO_ORDER[a.value.protocol], PROTO_ORDER[y.protocol]);
    }
    case "set":
    case "vector":
      return cmpList(a.value, (b as typeof a).value);
    case "table": {
      const x = a.value, y = (b as typeof a).value;
      const n = Math.min(x.length, y.length);
      for (let i = 0; i < n; i++) {
        const r = compare(x[i][0], y[i][0]) || compare(x[i][1], y[i][1]);
        if (r !== 0) return r;
      }
      return cmpNum(x.length, y.length);
    }
  }
}

/**
 * Equality under Broker's order (so `-0.0` equals `0.0`, as in C++).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { equals } from "./order.ts";
 * import { str } from "./constructors.ts";
 * equal(equals(str("a"), str("a")), true);
 * ```
 */
export function equals(a: Data, b: Data): boolean {
  return compare(a, b) === 0;
}

/**
 * Whether Broker's `std::set` takes `a` and `b` for one element: neither is
 * below the other under its `<`, which compares reals with C++'s `<`, where
 * a NaN is neither below nor above any real. So `real(NaN)` is one element
 * with every real, and `vector(real(NaN))` with every `vector(real(x))`;
 * otherwise it is `compare(a, b) === 0`. Under it the order is not total
 * (NaN matches 1.0 and 2.0, which differ), hence `compare` for sorting and
 * this for repeats.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { brokerEquivalent } from "./order.ts";
 * import { real } from "./constructors.ts";
 * equal(brokerEquivalent(real(NaN), real(1)), true);
 * equal(brokerEquivalent(real(2), real(1)), false);
 * ```
 */
export function brokerEquivalent(a: Data, b: Data): boolean {
  nanMatchesReals = true;
  try {
    return compare(a, b) === 0;
  } finally {
    nanMatchesReals = false;
  }
}

/**
 * Of the items at `order[0..n)`, indices in insertion order sorted in
 * `compare`'s order (stable), marks with -1 those that Broker's `std::set`
 * refuses when they are inserted in index order: an item equivalent
 * (`equivalent`, as `brokerEquivalent`) to one inserted before it. For a
 * NaN among the reals of one level this is exactly std::set's outcome: the
 * NaN alone when it came first, else the other reals. With NaNs nested in
 * containers, Broker's outcome depends on its tree's shape; neighbours in
 * `compare`'s order are what is checked here, in at most `4n + 64` calls of
 * `equivalent` (past them, crafted sets of vectors holding NaNs could take
 * n^2: then of two equivalent neighbours the first in order is kept). Kept
 * neighbours are never equivalent, so `decode` takes what `encode` writes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { keepFirstInserted } from "./order.ts";
 * // 1.0 (inserted second) and NaN (first): std::set keeps NaN.
 * const order = [1, 0];
 * keepFirstInserted(order, 2, () => true);
 * deepEqual(order, [-1, 0]);
 * ```
 */
export function keepFirstInserted(
  order: { [i: number]: number },
  n: number,
  equivalent: (a: number, b: number) => boolean,
): void {
  const original = Array.from({ length: n }, (_, i) => order[i]);
  let budget = 4 * n + 64;
  // Positions in `order` of the items kept so far, in order.
  const kept: number[] = [];
  for (let i = 0; i < n; i++) {
    const item = order[i];
    let top = kept.length, dropped = false;
    for (; top > 0; top--) {
      if (--budget < 0) return keepFirstOfNeighbours(order, original, equivalent);
      const other = order[kept[top - 1]];
      if (!equivalent(other, item)) break;
      if (other < item) {
        dropped = true;
        break;
      }
    }
    if (dropped) {
      order[i] = -1;
      continue;
    }
    // Equivalents inserted after this item: std::set would have refused them.
    for (let k = top; k < kept.length; k++) order[kept[k]] = -1;
    kept.length = top;
    kept.push(i);
  }
}

/** `keepFirstInserted` in n calls: an item equivalent to the one kept before it is dropped. */
function keepFirstOfNeighbours(
  order: { [i: number]: number },
  original: number[],
  equivalent: (a: number, b: number) => boolean,
): void {
  let last = -1;
  for (let i = 0; i < original.length; i++) {
    order[i] = original[i];
    if (last < 0 || !equivalent(order[last], order[i])) last = i;
    else order[i] = -1;
  }
}

/**
 * The items (or entries, by `key`) as Broker's `std::set` (`std::map`) holds
 * them when inserted in this order: sorted, each repeat dropped, the first
 * inserted kept (see `keepFirstInserted` for NaN).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { sortedAsBroker } from "./order.ts";
 * import { count, real } from "./constructors.ts";
 * equal(sortedAsBroker([count(2n), count(1n), count(2n)], (d) => d).length, 2);
 * equal(sortedAsBroker([real(NaN), real(1)], (d) => d)[0].value, NaN);
 * ```
 */
export function sortedAsBroker<T>(items: readonly T[], key: (t: T) => Data): T[] {
  const met = nanMet.count;
  const sorted = items.slice().sort((a, b) => compare(key(a), key(b)));
  const out: T[] = [];
  for (const item of sorted) {
    if (out.length === 0 || compare(key(out[out.length - 1]), key(item)) !== 0) out.push(item);
  }
  if (nanMet.count === met) return out;
  const order = Array.from(items, (_, i) => i)
    .sort((a, b) => compare(key(items[a]), key(items[b])) || a - b);
  keepFirstInserted(order, order.length, (a, b) => brokerEquivalent(key(items[a]), key(items[b])));
  return order.filter((i) => i >= 0).map((i) => items[i]);
}

/**
 * Sorts items (or entries, by `key`) in `compare`'s order, in place, and
 * tells whether they hold a repeat as Broker's decoder finds one: two
 * neighbours equal, or equivalent through a NaN (`brokerEquivalent`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { sortFindingRepeat } from "./order.ts";
 * import { real } from "./constructors.ts";
 * equal(sortFindingRepeat([real(NaN), real(1)], (d) => d), true);
 * equal(sortFindingRepeat([real(2), real(1)], (d) => d), false);
 * ```
 */
export function sortFindingRepeat<T>(items: T[], key: (t: T) => Data): boolean {
  const met = nanMet.count;
  items.sort((a, b) => compare(key(a), key(b)));
  for (let k = 1; k < items.length; k++) {
    if (compare(key(items[k - 1]), key(items[k])) === 0) return true;
  }
  if (nanMet.count === met) return false;
  for (let k = 1; k < items.length; k++) {
    if (brokerEquivalent(key(items[k - 1]), key(items[k]))) return true;
  }
  return false;
}

/**
 * Broker's order of two encoded texts of one tag (strings, or enum values)
 * at `a..aEnd` and `b..bEnd` of `u8`, each a tag, a varbyte length and the
 * bytes: their bytes' order (what `compare` gives for the decoded values),
 * read in place. Negative, zero or positive.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { compareEncodedTexts } from "./order.ts";
 * const u8 = new Uint8Array([5, 1, 0x62, 5, 2, 0x61, 0x62]); // "b", "ab"
 * equal(compareEncodedTexts(u8, 3, 7, 0, 3) < 0, true);
 * ```
 */
export function compareEncodedTexts(
  u8: Uint8Array,
  a: number,
  aEnd: number,
  b: number,
  bEnd: number,
): number {
  let s = a + 1, t = b + 1;
  while (u8[s++] & 0x80);
  while (u8[t++] & 0x80);
  const xLen = aEnd - s, yLen = bEnd - t, n = xLen < yLen ? xLen : yLen;
  for (let i = 0; i < n; i++) if (u8[s + i] !== u8[t + i]) return u8[s + i] - u8[t + i];
  return xLen - yLen;
}
