/**
 * In-memory store backend (Broker's `memory_backend`): a hash map from the
 * canonical encoding of each key to the encoding of its value, both as
 * one-byte strings.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { count, dataToString, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("a"), count(1n));
 * equal(dataToString(b.get(str("a"))!), "1");
 * ```
 *
 * @module
 */
import { compare, type Data } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend, StoreEntry } from "./backend.ts";
import { dataKey, fromPacked, hasNegativeZero, packData } from "./data_key.ts";

/** Values up to this many bytes encoded are shared between entries. */
const SHARED_VALUE_MAX = 64;
/** Distinct recent values remembered for sharing. */
const SHARED_VALUES = 1024;

/**
 * A `StoreBackend` that keeps everything in a `Map`. An entry is two strings
 * of Broker's binary encoding, one byte a character (a count key and value:
 * ~93 bytes with the map's slot, where objects for the key, the value and
 * their bigints took 213); entries with equal short values share one string
 * (~62 bytes then). Reads decode the value, and expiries live in a second
 * map that holds only the keys that have one.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("tmp"), str("x"), 10n);
 * equal(b.expire(str("tmp"), 10n), true);
 * ```
 */
export class MemoryBackend implements StoreBackend {
  /** `dataKey(key)` -> `packData(value)`. */
  #map = new Map<string, string>();
  /** Absolute expiries, only of the keys that have one. */
  #expiries = new Map<string, bigint>();
  /**
   * Keys stored with a negative zero, as first given: `dataKey` folds it, and
   * like std::map the first of equal keys (0.0 and -0.0) stays the stored key.
   */
  #exactKeys = new Map<string, Data>();
  /**
   * Short values written lately, each once: equal values (a flag, a small
   * count, a protocol name) then share one string instead of one per entry.
   */
  #recentValues = new Map<string, string>();
  /** The last scalar key and its `dataKey`: a write reads the old value first. */
  #lastKey: Data | undefined;
  #lastId = "";
  #closed = false;

  /** Inserts or replaces key; the expiry (absolute ns) replaces the old one. */
  put(key: Data, value: Data, expiry: bigint | null = null): void {
    const id = this.#id(key);
    const map = this.#map;
    if (!map.has(id) && hasNegativeZero(key)) this.#exactKeys.set(id, key);
    map.set(id, this.#shared(packData(value)));
    if (expiry !== null) this.#expiries.set(id, expiry);
    else if (this.#expiries.size !== 0) this.#expiries.delete(id);
  }

  /** The value under key, or undefined. */
  get(key: Data): Data | undefined {
    const v = this.#map.get(this.#id(key));
    return v === undefined ? undefined : fromPacked(v);
  }

  /** The value and its expiry, or undefined. */
  entry(key: Data): StoreEntry | undefined {
    const id = this.#id(key);
    const v = this.#map.get(id);
    return v === undefined
      ? undefined
      : { value: fromPacked(v), expiry: this.#expiries.get(id) ?? null };
  }

  /** Whether key is present. */
  exists(key: Data): boolean {
    return this.#map.has(this.#id(key));
  }

  /** Removes key; returns whether it was present. */
  erase(key: Data): boolean {
    return this.#remove(this.#id(key));
  }

  /** Removes key if its expiry is at or before now. */
  expire(key: Data, now: bigint): boolean {
    const id = this.#id(key);
    const at = this.#expiries.get(id);
    if (at === undefined || now < at) return false;
    return this.#remove(id);
  }

  /** Removes every key. */
  clear(): void {
    this.#check();
    this.#map.clear();
    this.#expiries.clear();
    this.#exactKeys.clear();
  }

  /** All keys in Broker's order. */
  keys(): Data[] {
    this.#check();
    return Array.from(this.#map.keys(), (id) => this.#keyOf(id)).sort(compare);
  }

  /** Number of entries. */
  size(): number {
    this.#check();
    return this.#map.size;
  }

  /** All pairs, in key order. */
  snapshot(): [Data, Data][] {
    this.#check();
    return Array.from(this.#map, ([id, v]): [Data, Data] => [this.#keyOf(id), fromPacked(v)])
      .sort((a, b) => compare(a[0], b[0]));
  }

  /** Keys with an expiry. */
  expiries(): [Data, bigint][] {
    this.#check();
    return Array.from(this.#expiries, ([id, at]): [Data, bigint] => [this.#keyOf(id), at]);
  }

  /** Nothing to make durable. */
  flush(): void {}

  /** Drops the contents; later calls throw `backend_failure`. */
  close(): void {
    this.#closed = true;
    this.#map.clear();
    this.#expiries.clear();
    this.#exactKeys.clear();
    this.#recentValues.clear();
    this.#lastKey = undefined;
  }

  #shared(packed: string): string {
    if (packed.length > SHARED_VALUE_MAX) return packed;
    const known = this.#recentValues.get(packed);
    if (known !== undefined) return known;
    // Bounded: a store of distinct values must not keep a second copy of them.
    if (this.#recentValues.size >= SHARED_VALUES) this.#recentValues.clear();
    this.#recentValues.set(packed, packed);
    return packed;
  }

  #remove(id: string): boolean {
    if (!this.#map.delete(id)) return false;
    this.#expiries.delete(id);
    if (this.#exactKeys.size !== 0) this.#exactKeys.delete(id);
    return true;
  }

  #keyOf(id: string): Data {
    return (this.#exactKeys.size !== 0 && this.#exactKeys.get(id)) || fromPacked(id);
  }

  #id(key: Data): string {
    this.#check();
    if (key === this.#lastKey) return this.#lastId;
    const id = dataKey(key);
    // Containers are arrays a caller could still change: only scalars are remembered.
    const t = key.type;
    if (t !== "set" && t !== "table" && t !== "vector") {
      this.#lastKey = key;
      this.#lastId = id;
    }
    return id;
  }

  #check(): void {
    if (this.#closed) throw new BrokerError(ErrorCode.backend_failure, "backend is closed");
  }
}
