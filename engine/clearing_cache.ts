/**
 * A map that forgets everything once it holds `limit` entries: the caches of
 * per-topic work (envelope headers, topic bytes, trie matches, origin
 * windows) stay bounded whatever topics peers invent, at the cost of
 * rebuilding the hot entries after a clear.
 *
 * @example
 * ```ts
 * import { ClearingCache } from "./clearing_cache.ts";
 * const cache = new ClearingCache<string, number>(2);
 * cache.set("a", 1).set("b", 2).set("c", 3); // the third entry clears the first two
 * if (cache.size !== 1 || cache.get("c") !== 3) throw new Error("cleared at the limit");
 * ```
 *
 * @module
 */

/** A `Map` cleared whenever a new key would grow it past `limit` entries. */
export class ClearingCache<K, V> extends Map<K, V> {
  readonly #limit: number;

  /** A cache of at most `limit` entries. */
  constructor(limit: number) {
    super();
    this.#limit = limit;
  }

  /** Sets `key`, first clearing everything if the cache is full and `key` is new. */
  override set(key: K, value: V): this {
    if (this.size >= this.#limit && !this.has(key)) this.clear();
    return super.set(key, value);
  }
}
