/**
 * In-memory store backend (Broker's `memory_backend`): a hash map keyed by
 * the canonical encoding of each key.
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
import { dataKey } from "./data_key.ts";

interface Slot {
  readonly key: Data;
  readonly value: Data;
  readonly expiry: bigint | null;
}

/**
 * A `StoreBackend` that keeps everything in a `Map`. Values are held as
 * given (Broker data is immutable by convention), so reads cost no decoding.
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
  #map = new Map<string, Slot>();
  #closed = false;

  /** Inserts or replaces key; the expiry (absolute ns) replaces the old one. */
  put(key: Data, value: Data, expiry: bigint | null = null): void {
    const id = this.#id(key);
    // Like std::map, the first of equal keys (e.g. 0.0 and -0.0) stays the stored key.
    const old = this.#map.get(id);
    this.#map.set(id, { key: old?.key ?? key, value, expiry });
  }

  /** The value under key, or undefined. */
  get(key: Data): Data | undefined {
    return this.#map.get(this.#id(key))?.value;
  }

  /** The value and its expiry, or undefined. */
  entry(key: Data): StoreEntry | undefined {
    const slot = this.#map.get(this.#id(key));
    return slot && { value: slot.value, expiry: slot.expiry };
  }

  /** Whether key is present. */
  exists(key: Data): boolean {
    return this.#map.has(this.#id(key));
  }

  /** Removes key; returns whether it was present. */
  erase(key: Data): boolean {
    return this.#map.delete(this.#id(key));
  }

  /** Removes key if its expiry is at or before now. */
  expire(key: Data, now: bigint): boolean {
    const id = this.#id(key);
    const slot = this.#map.get(id);
    if (!slot || slot.expiry === null || now < slot.expiry) return false;
    return this.#map.delete(id);
  }

  /** Removes every key. */
  clear(): void {
    this.#check();
    this.#map.clear();
  }

  /** All keys in Broker's order. */
  keys(): Data[] {
    this.#check();
    return Array.from(this.#map.values(), (s) => s.key).sort(compare);
  }

  /** Number of entries. */
  size(): number {
    this.#check();
    return this.#map.size;
  }

  /** All pairs, in key order. */
  snapshot(): [Data, Data][] {
    this.#check();
    return Array.from(this.#map.values(), (s): [Data, Data] => [s.key, s.value])
      .sort((a, b) => compare(a[0], b[0]));
  }

  /** Keys with an expiry. */
  expiries(): [Data, bigint][] {
    this.#check();
    const out: [Data, bigint][] = [];
    for (const s of this.#map.values()) if (s.expiry !== null) out.push([s.key, s.expiry]);
    return out;
  }

  /** Nothing to make durable. */
  flush(): void {}

  /** Drops the contents; later calls throw `backend_failure`. */
  close(): void {
    this.#closed = true;
    this.#map.clear();
  }

  #id(key: Data): string {
    this.#check();
    return dataKey(key);
  }

  #check(): void {
    if (this.#closed) throw new BrokerError(ErrorCode.backend_failure, "backend is closed");
  }
}
