/**
 * A prefix trie from topic prefixes to subscribers. `match(topic)` walks the
 * topic once, so its cost grows with the topic's length, not with the number
 * of subscriptions.
 *
 * @module
 */
import { ClearingCache } from "../clearing_cache.ts";

class TrieNode<T> {
  children?: Map<number, TrieNode<T>>;
  values?: Set<T>;
}

/**
 * Maps topic prefixes to sets of values (subscribers, peers). A value
 * registered under several prefixes of a topic matches it once.
 *
 * @example
 * ```ts
 * import { PrefixTrie } from "./trie.ts";
 * const t = new PrefixTrie<string>();
 * t.add("/zeek/", "a");
 * t.add("/zeek/event", "b");
 * t.add("/zeek/event", "a");
 * const seen: string[] = [];
 * t.forEachMatch("/zeek/event/x", (v) => seen.push(v));
 * if (seen.join() !== "a,b") throw new Error("each value once, shortest prefix first");
 * ```
 */
export class PrefixTrie<T> {
  #root = new TrieNode<T>();
  #size = 0;
  // Topics repeat: the values matching a topic are remembered until the trie changes.
  #memo = new ClearingCache<string, T[]>(4096);
  #lastTopic: string | undefined;
  #lastHits: T[] | undefined;

  /** Number of (prefix, value) pairs. */
  get size(): number {
    return this.#size;
  }

  /** Registers `value` under `prefix`; returns false if it was there already. */
  add(prefix: string, value: T): boolean {
    let node = this.#root;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      node.children ??= new Map();
      let next = node.children.get(c);
      if (!next) node.children.set(c, next = new TrieNode<T>());
      node = next;
    }
    node.values ??= new Set();
    if (node.values.has(value)) return false;
    node.values.add(value);
    this.#size++;
    this.#memo.clear();
    this.#lastHits = undefined;
    return true;
  }

  /** Removes `value` from `prefix`; returns whether it was there. Prunes empty branches. */
  remove(prefix: string, value: T): boolean {
    const path: [TrieNode<T>, number][] = [];
    let node: TrieNode<T> | undefined = this.#root;
    for (let i = 0; i < prefix.length && node; i++) {
      const c = prefix.charCodeAt(i);
      path.push([node, c]);
      node = node.children?.get(c);
    }
    if (!node?.values?.delete(value)) return false;
    this.#size--;
    this.#memo.clear();
    this.#lastHits = undefined;
    if (node.values.size === 0) node.values = undefined;
    for (let i = path.length - 1; i >= 0; i--) {
      const [parent, c] = path[i];
      const child = parent.children!.get(c)!;
      if (child.values || child.children?.size) break;
      parent.children!.delete(c);
    }
    return true;
  }

  /** Removes `value` wherever it appears. */
  removeAll(value: T): void {
    for (const p of this.prefixesOf(value)) this.remove(p, value);
  }

  /** The prefixes under which `value` is registered. */
  prefixesOf(value: T): string[] {
    const out: string[] = [];
    const walk = (node: TrieNode<T>, prefix: string) => {
      if (node.values?.has(value)) out.push(prefix);
      for (const [c, child] of node.children ?? []) walk(child, prefix + String.fromCharCode(c));
    };
    walk(this.#root, "");
    return out;
  }

  /**
   * Calls `fn` once per value registered under any prefix of `topic`, even
   * a value registered under several of them (a subscriber of `/a` and
   * `/a/b` gets a message on `/a/b/c` once).
   */
  forEachMatch(topic: string, fn: (value: T) => void): void {
    const hits = this.#hits(topic);
    for (let i = 0; i < hits.length; i++) fn(hits[i]);
  }

  /**
   * The distinct values registered under any prefix of `topic`, as the
   * trie's own remembered array: read it, never change it, and do not keep
   * it past the next `add` or `remove`. For hot paths that would otherwise
   * allocate a closure per call of {@linkcode forEachMatch}.
   *
   * @example
   * ```ts
   * import { PrefixTrie } from "./trie.ts";
   * const t = new PrefixTrie<string>();
   * t.add("/a", "x");
   * if (t.hits("/a/b").join() !== "x") throw new Error("x matches /a/b");
   * ```
   */
  hits(topic: string): readonly T[] {
    return this.#hits(topic);
  }

  #hits(topic: string): T[] {
    // A publisher's topics come in runs: the last one is answered without hashing.
    if (topic === this.#lastTopic && this.#lastHits) return this.#lastHits;
    let hits = this.#memo.get(topic);
    if (hits) {
      this.#lastTopic = topic;
      return this.#lastHits = hits;
    }
    hits = [];
    let node: TrieNode<T> | undefined = this.#root;
    let sets = 0;
    if (node.values) (sets++, hits.push(...node.values));
    for (let i = 0; i < topic.length; i++) {
      node = node.children?.get(topic.charCodeAt(i));
      if (!node) break;
      if (node.values) (sets++, hits.push(...node.values));
    }
    // Deduplicated once per topic here, so delivery needs no per-message marks.
    if (sets > 1) hits = [...new Set(hits)];
    this.#memo.set(topic, hits);
    this.#lastTopic = topic;
    return this.#lastHits = hits;
  }

  /** The distinct values registered under any prefix of `topic`. */
  match(topic: string): Set<T> {
    const out = new Set<T>();
    this.forEachMatch(topic, (v) => out.add(v));
    return out;
  }

  /** Whether any prefix of `topic` is registered. */
  matches(topic: string): boolean {
    return this.#hits(topic).length > 0;
  }
}
