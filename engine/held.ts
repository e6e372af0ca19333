/**
 * Keeping a handle alive while a read on it waits: the handles that close
 * what they wrap once collected (`Endpoint.subscribe`'s, `statusSubscriber`'s)
 * must not be collected while someone awaits a read from them.
 *
 * @example
 * ```ts
 * import { heldBy } from "./held.ts";
 * const handle = {};
 * const value = await heldBy(handle, Promise.resolve(1)); // `handle` lives until then
 * if (value !== 1) throw new Error("the read's value");
 * ```
 *
 * @module
 */

/**
 * `wait`'s value, with `owner` reachable until it settles: the pending
 * read holds this call, and this call holds `owner`.
 */
export async function heldBy<T>(owner: object, wait: Promise<T>): Promise<T> {
  const value = await wait;
  void owner; // used after the await: the suspended call keeps it
  return value;
}
