/**
 * The storage interface behind a store master (Broker's `abstract_backend`):
 * a key/value table of Broker data with optional absolute expiry times.
 *
 * Backends only store; what `add`, `subtract` and `put_unique` mean is in
 * `operations.ts`, written once on top of this interface, so a new backend
 * implements plain reads and writes. Calls are synchronous because the master
 * applies commands strictly in order; an asynchronous store would sit behind
 * a write-behind cache implementing this.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { StoreBackend } from "./backend.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { count, str } from "../data/mod.ts";
 * const b: StoreBackend = new MemoryBackend();
 * b.put(str("k"), count(1n), 1_000_000_000n);
 * equal(b.size(), 1);
 * equal(b.expiries().length, 1);
 * ```
 *
 * @module
 */
import type { Data } from "../data/mod.ts";
import type { BrokerError } from "../errors.ts";

/** A stored value with its expiry. */
export interface StoreEntry {
  /** The stored value. */
  readonly value: Data;
  /** Absolute expiry, nanoseconds since the epoch; null when the entry never expires. */
  readonly expiry: bigint | null;
}

/**
 * What a store backend provides. Failures of the storage itself throw
 * `BrokerError(backend_failure)`; a missing key is `undefined` or `false`,
 * not an error.
 *
 * @example
 * ```ts
 * import type { StoreBackend } from "./backend.ts";
 * function dump(b: StoreBackend): string[] {
 *   return b.snapshot().map(([k, v]) => `${k.type}:${v.type}`);
 * }
 * ```
 */
export interface StoreBackend {
  /** Inserts or replaces; the new expiry (absolute ns, null/omitted = none) replaces the old. */
  put(key: Data, value: Data, expiry?: bigint | null): void;
  /** The value under key, or undefined. */
  get(key: Data): Data | undefined;
  /** The value and its expiry, or undefined. */
  entry(key: Data): StoreEntry | undefined;
  /** Whether key is present. */
  exists(key: Data): boolean;
  /** Removes key; returns whether it was present. */
  erase(key: Data): boolean;
  /**
   * Removes key if it has an expiry and `now` (ns since the epoch) is at or
   * past it; returns whether it did (false: absent, no expiry, or not due).
   */
  expire(key: Data, now: bigint): boolean;
  /** Removes every key. */
  clear(): void;
  /** All keys in Broker's order (what Broker returns as a `set`). */
  keys(): Data[];
  /** Number of entries. */
  size(): number;
  /** All key/value pairs (the state an `ack_clone` carries). */
  snapshot(): [Data, Data][];
  /** Keys that have an expiry, with it: what a restarted master re-arms. */
  expiries(): [Data, bigint][];
  /** Makes every completed write durable (commits a pending batch). */
  flush(): void;
  /** Flushes and releases resources; the backend is unusable afterwards. */
  close(): void;
  /**
   * A failure no caller was on the stack for (a batch of confirmed writes
   * the database rolled back while committing it later), handed out once;
   * the master polls it every tick and reports it.
   */
  takeFailure?(): BrokerError | undefined;
}
