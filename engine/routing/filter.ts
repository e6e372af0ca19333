/**
 * Broker's subscription filters: sorted, prefix-minimal lists of topic
 * prefixes (`lb/filter_type.cc`). Adding `/a` removes `/a/b`; adding `/a/b`
 * under `/a` changes nothing; internal topics (`<$>/local/...`) never enter.
 *
 * @module
 */
// Code point order is UTF-8 byte order, which is how Broker sorts topics.
import { compareText } from "../data/order.ts";
import { RESERVED_TOPIC } from "../wire/envelope.ts";

/** Topics under this prefix stay inside an endpoint. */
export const LOCAL_TOPIC_PREFIX = "<$>/local/";

/** Whether a topic is internal to an endpoint (never in a filter, never sent). */
export function isInternalTopic(topic: string): boolean {
  return topic.startsWith(LOCAL_TOPIC_PREFIX);
}

/** Broker's prefix for its own topics (`<$>` alone carries pings, pongs and routing updates). */
export const RESERVED_TOPIC_PREFIX = RESERVED_TOPIC;

/**
 * Whether a topic is reserved for Broker itself: it *starts* with `<$>`.
 * Topics that merely contain `<$>` (Zeek's `zeek/known/hosts/<$>/data/master`)
 * are ordinary topics, as in Broker (`is_internal` in `lb/topic.cc` looks
 * only at the start).
 *
 * @example
 * ```ts
 * import { isReservedTopic } from "./filter.ts";
 * if (!isReservedTopic("<$>/local/data/statuses") || isReservedTopic("kv/<$>/data/master")) {
 *   throw new Error("only the start counts");
 * }
 * ```
 */
export function isReservedTopic(topic: string): boolean {
  return topic.startsWith(RESERVED_TOPIC_PREFIX);
}

/** Index of the first entry not below `topic` (binary search in byte order). */
function lowerBound(filter: readonly string[], topic: string): number {
  let lo = 0, hi = filter.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (compareText(filter[mid], topic) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Adds a topic to a sorted, prefix-minimal filter in place; returns whether
 * the filter changed. Only the predecessor can cover the new topic (anything
 * between a prefix and the topic starts with that prefix), and the entries
 * the topic covers follow it contiguously: O(log n) search plus the move.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { insertIntoFilter } from "./filter.ts";
 * const f = ["/a/b", "/c"];
 * equal(insertIntoFilter(f, "/a"), true);
 * deepEqual(f, ["/a", "/c"]); // "/a" covers "/a/b"
 * equal(insertIntoFilter(f, "/a/x"), false); // already covered
 * ```
 */
export function insertIntoFilter(filter: string[], topic: string): boolean {
  if (isInternalTopic(topic)) return false;
  const i = lowerBound(filter, topic);
  if (i < filter.length && filter[i] === topic) return false;
  if (i > 0 && topic.startsWith(filter[i - 1])) return false;
  let j = i;
  while (j < filter.length && filter[j].startsWith(topic)) j++;
  filter.splice(i, j - i, topic);
  return true;
}

/**
 * Adds a topic to a filter as Broker does; returns the new filter, or the
 * same array when nothing changed (so callers can tell whether to announce it).
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { extendFilter } from "./filter.ts";
 * const f = ["/a/b", "/c"];
 * deepEqual(extendFilter(f, "/a"), ["/a", "/c"]);
 * equal(extendFilter(f, "/c/d"), f); // unchanged: the same array
 * ```
 */
export function extendFilter(filter: readonly string[], topic: string): readonly string[] {
  const next = filter.slice();
  return insertIntoFilter(next, topic) ? next : filter;
}

/**
 * Builds a filter from any list of topics: one sort, one pass.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { makeFilter } from "./filter.ts";
 * deepEqual(makeFilter(["/b", "/a/x", "/a"]), ["/a", "/b"]);
 * ```
 */
export function makeFilter(topics: Iterable<string>): readonly string[] {
  const sorted = [...topics].filter((t) => !isInternalTopic(t)).sort(compareText);
  const out: string[] = [];
  for (const t of sorted) {
    // Sorted, so a covering prefix can only be the last entry kept.
    if (out.length > 0 && t.startsWith(out[out.length - 1])) continue;
    out.push(t);
  }
  return out;
}

/**
 * Whether a filter matches a topic (plain prefix match, not path segments).
 *
 * @example
 * ```ts
 * import { filterMatches } from "./filter.ts";
 * if (!filterMatches(["zeek/ev"], "zeek/event/x")) throw new Error("a plain prefix matches");
 * ```
 */
export function filterMatches(filter: readonly string[], topic: string): boolean {
  for (const f of filter) if (topic.startsWith(f)) return true;
  return false;
}
