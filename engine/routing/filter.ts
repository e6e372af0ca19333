/**
 * Broker's subscription filters: sorted, prefix-minimal lists of topic
 * prefixes (`lb/filter_type.cc`). Adding `/a` removes `/a/b`; adding `/a/b`
 * under `/a` changes nothing; internal topics (`<$>/local/...`) never enter.
 *
 * @module
 */

/** Topics under this prefix stay inside an endpoint. */
export const LOCAL_TOPIC_PREFIX = "<$>/local/";

/** Whether a topic is internal to an endpoint (never in a filter, never sent). */
export function isInternalTopic(topic: string): boolean {
  return topic.startsWith(LOCAL_TOPIC_PREFIX);
}

function byBytes(a: string, b: string): number {
  // Code point order equals UTF-8 byte order, which is how Broker sorts.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i), y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && x <= 0xdfff) x += 0x10000;
    if (y >= 0xd800 && y <= 0xdfff) y += 0x10000;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Adds a topic to a filter as Broker does; returns the new filter, or the
 * same array when nothing changed (so callers can tell whether to announce it).
 *
 * @example
 * ```ts
 * import { extendFilter } from "./filter.ts";
 * console.log(extendFilter(["/a/b", "/c"], "/a")); // ["/a", "/c"]
 * ```
 */
export function extendFilter(filter: readonly string[], topic: string): readonly string[] {
  if (isInternalTopic(topic)) return filter;
  if (filter.some((f) => topic.startsWith(f))) return filter;
  return [...filter.filter((f) => !f.startsWith(topic)), topic].sort(byBytes);
}

/**
 * Builds a filter from any list of topics.
 *
 * @example
 * ```ts
 * import { makeFilter } from "./filter.ts";
 * console.log(makeFilter(["/b", "/a/x", "/a"])); // ["/a", "/b"]
 * ```
 */
export function makeFilter(topics: Iterable<string>): readonly string[] {
  let f: readonly string[] = [];
  for (const t of topics) f = extendFilter(f, t);
  return f;
}

/**
 * Whether a filter matches a topic (plain prefix match, not path segments).
 *
 * @example
 * ```ts
 * import { filterMatches } from "./filter.ts";
 * console.log(filterMatches(["zeek/ev"], "zeek/event/x")); // true
 * ```
 */
export function filterMatches(filter: readonly string[], topic: string): boolean {
  for (const f of filter) if (topic.startsWith(f)) return true;
  return false;
}
