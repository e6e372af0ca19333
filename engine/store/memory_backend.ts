/**
 * In-memory store backend (Broker's `memory_backend`): a hash map from the
 * canonical encoding of each key to the encoding of its value, both kept as
 * bytes in a `ByteTable`.
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
import { compare, type Data, decode, encode } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend, StoreEntry } from "./backend.ts";
import { ByteTable } from "./byte_table.ts";
import { eachStateEntry, type StateSpans } from "./commands.ts";
import { hashKey, hasNegativeZero, keyBytes, latin1Of } from "./data_key.ts";
import { plainScalarEnd } from "./raw_write.ts";

/**
 * A `StoreBackend` that keeps everything in memory: each entry is the
 * canonical encoding of its key (negative zeros folded, so equal keys are
 * equal bytes) and the encoding of its value, side by side in a
 * `ByteTable` (a count key and value: ~26 bytes in the arena and 8 in the
 * index, and no heap object per entry). Reads decode the value; expiries
 * live in a map of their own that holds only the keys that have one.
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
  #table = new ByteTable();
  /** Absolute expiries, only of the keys that have one, by the key's bytes as a string. */
  #expiries = new Map<string, bigint>();
  /**
   * Keys stored with a negative zero, as first given: the table folds it, and
   * like std::map the first of equal keys (0.0 and -0.0) stays the stored key.
   */
  #exactKeys = new Map<string, Data>();
  #closed = false;

  /** Inserts or replaces key; the expiry (absolute ns) replaces the old one. */
  put(key: Data, value: Data, expiry: bigint | null = null): void {
    this.#check();
    const k = keyBytes(key);
    // encode() hands out a fresh part of its slab: k stays valid beside v.
    const v = encode(value);
    const added = this.#table.set(k, 0, k.length, v, 0, v.length);
    if (added && hasNegativeZero(key)) this.#exactKeys.set(latin1Of(k, 0, k.length), key);
    if (expiry !== null) this.#expiries.set(latin1Of(k, 0, k.length), expiry);
    else if (this.#expiries.size !== 0) this.#expiries.delete(latin1Of(k, 0, k.length));
  }

  /**
   * `put` without expiry for a key and value given as their encodings,
   * `b[keyAt, valueAt)` and `b[valueAt, valueEnd)`: the key must be
   * canonical and hold no negative zero (see `raw_write.ts`).
   */
  putSpan(b: Uint8Array, keyAt: number, valueAt: number, valueEnd: number): void {
    this.#check();
    this.#table.set(b, keyAt, valueAt, b, valueAt, valueEnd);
    if (this.#expiries.size !== 0) this.#expiries.delete(latin1Of(b, keyAt, valueAt));
  }

  /** `exists` for a key given as its canonical encoding `b[from, to)`. */
  hasSpan(b: Uint8Array, from: number, to: number): boolean {
    this.#check();
    return this.#table.find(b, from, to) >= 0;
  }

  /** The value under key, or undefined. */
  get(key: Data): Data | undefined {
    const at = this.#find(key);
    return at < 0 ? undefined : decode(this.#table.valueAt(at));
  }

  /** The value and its expiry, or undefined. */
  entry(key: Data): StoreEntry | undefined {
    this.#check();
    const k = keyBytes(key);
    const at = this.#table.find(k, 0, k.length);
    if (at < 0) return undefined;
    const expiry = this.#expiries.size === 0
      ? null
      : this.#expiries.get(latin1Of(k, 0, k.length)) ?? null;
    return { value: decode(this.#table.valueAt(at)), expiry };
  }

  /** Whether key is present. */
  exists(key: Data): boolean {
    return this.#find(key) >= 0;
  }

  /** Removes key; returns whether it was present. */
  erase(key: Data): boolean {
    this.#check();
    const k = keyBytes(key);
    if (!this.#table.delete(k, 0, k.length)) return false;
    this.#forget(k);
    return true;
  }

  /** Removes key if its expiry is at or before now. */
  expire(key: Data, now: bigint): boolean {
    this.#check();
    const k = keyBytes(key);
    const id = latin1Of(k, 0, k.length);
    const at = this.#expiries.get(id);
    if (at === undefined || now < at) return false;
    if (!this.#table.delete(k, 0, k.length)) return false;
    this.#forget(k);
    return true;
  }

  /** Removes every key. */
  clear(): void {
    this.#check();
    this.#table.clear();
    this.#expiries.clear();
    this.#exactKeys.clear();
  }

  /** All keys in Broker's order. */
  keys(): Data[] {
    this.#check();
    const t = this.#table;
    return Array.from(t.records(), (at) => this.#keyOf(t.keyAt(at))).sort(compare);
  }

  /** Number of entries. */
  size(): number {
    this.#check();
    return this.#table.size;
  }

  /** All pairs, in key order. */
  snapshot(): [Data, Data][] {
    this.#check();
    const t = this.#table;
    return Array.from(
      t.records(),
      (at): [Data, Data] => [this.#keyOf(t.keyAt(at)), decode(t.valueAt(at))],
    )
      .sort((a, b) => compare(a[0], b[0]));
  }

  /**
   * All pairs' encodings back to back (key, value, key, value, ...), in no
   * particular order (Broker's master sends hash order), and how many: an
   * `ack_clone`'s state as the wire carries it, without decoding a value.
   *
   * @example
   * ```ts
   * import { deepEqual } from "node:assert/strict";
   * import { MemoryBackend } from "./memory_backend.ts";
   * import { count } from "../data/mod.ts";
   * const b = new MemoryBackend();
   * b.put(count(1n), count(2n));
   * const { bytes, count: n } = b.stateBytes();
   * deepEqual([n, bytes.length, bytes[0], bytes[8], bytes[17]], [1, 18, 2, 1, 2]);
   * ```
   */
  stateBytes(): { bytes: Uint8Array; count: number } {
    this.#check();
    const t = this.#table;
    const records = t.records();
    // One pass over the records, which lie in hash order all over the table:
    // measuring each before copying it took a second walk of cache misses.
    const room = new Uint8Array(t.entryBytesBound);
    const exact = this.#exactKeys.size !== 0;
    let pos = 0;
    for (let i = 0; i < records.length; i++) {
      const at = records[i];
      const start = pos;
      pos += t.copyEntry(at, room, pos);
      if (!exact) continue;
      // A key stored with a negative zero goes out as given (its encoding has the same length).
      const given = this.#exactKeys.get(latin1Of(room, start, start + t.keyLength(at)));
      if (given) room.set(encode(given), start);
    }
    return { bytes: pos === room.length ? room : room.subarray(0, pos), count: records.length };
  }

  /**
   * Replaces everything (expiries too) with the entries of `state`, whose
   * encodings are valid (`decodeCommand` checked them); false, and nothing
   * changed, when a key comes twice. Keys apart only by a zero's sign, which
   * Broker's masters hold as two, become one here, as `put` keeps them.
   *
   * With `changes`, reports the difference first, one entry decoded at a
   * time (a snapshot decoded whole took ~35 times its bytes): each key gone
   * (`erase`), then each entry of `state` whose key was here (`update`), then
   * each whose key was not (`insert`), both in `state`'s order.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { MemoryBackend } from "./memory_backend.ts";
   * import { count } from "../data/mod.ts";
   * const b = new MemoryBackend();
   * const entry = [2, 0, 0, 0, 0, 0, 0, 0, 7, 0]; // count 7 -> none
   * const bytes = new Uint8Array([...entry, ...entry]);
   * equal(b.replaceFromSpans({ bytes, from: 0, to: 20, count: 2 }), false); // a key twice
   * let inserts = 0;
   * const changes = { erase() {}, update() {}, insert: () => void inserts++ };
   * equal(b.replaceFromSpans({ bytes, from: 0, to: 10, count: 1 }, changes), true);
   * equal(b.get(count(7n))?.type, "none");
   * equal(inserts, 1);
   * ```
   */
  replaceFromSpans(state: StateSpans, changes?: SnapshotChanges): boolean {
    this.#check();
    const made = tableOf(state, false);
    if (!made) return false;
    if (changes) this.#report(state, made.table, changes);
    this.#table = made.table;
    this.#expiries.clear();
    this.#exactKeys = made.exact;
    return true;
  }

  /** `replaceFromSpans`'s report of what `table` (the new entries) changes. */
  #report(state: StateSpans, table: ByteTable, changes: SnapshotChanges): void {
    const old = this.#table, bytes = state.bytes;
    for (const at of old.records()) {
      const k = old.keyAt(at);
      if (table.find(k, 0, k.length) < 0) changes.erase(this.#keyOf(k));
    }
    const entry = (kAt: number, vAt: number, end: number, update: boolean) => {
      const plain = plainScalarEnd(bytes, kAt) === vAt;
      const key = plain ? undefined : decode(bytes.subarray(kAt, vAt));
      const kb = key ? keyBytes(key) : bytes.subarray(kAt, vAt);
      const at = old.find(kb, 0, kb.length);
      if ((at >= 0) !== update) return;
      const k = key ?? decode(kb), v = decode(bytes.subarray(vAt, end));
      if (update) changes.update(k, v, decode(old.valueAt(at)));
      else changes.insert(k, v);
    };
    eachStateEntry(state, (k, v, end) => entry(k, v, end, true));
    eachStateEntry(state, (k, v, end) => entry(k, v, end, false));
  }

  /** Keys with an expiry. */
  expiries(): [Data, bigint][] {
    this.#check();
    return Array.from(this.#expiries, ([id, at]): [Data, bigint] => {
      const exact = this.#exactKeys.size !== 0 ? this.#exactKeys.get(id) : undefined;
      return [exact ?? decode(bytesOf(id)), at];
    });
  }

  /** Nothing to make durable. */
  flush(): void {}

  /** Drops the contents; later calls throw `backend_failure`. */
  close(): void {
    this.#closed = true;
    this.#table.clear();
    this.#expiries.clear();
    this.#exactKeys.clear();
  }

  #find(key: Data): number {
    this.#check();
    const k = keyBytes(key);
    return this.#table.find(k, 0, k.length);
  }

  /** Drops what else was kept for an erased key. */
  #forget(k: Uint8Array): void {
    if (this.#expiries.size === 0 && this.#exactKeys.size === 0) return;
    const id = latin1Of(k, 0, k.length);
    this.#expiries.delete(id);
    this.#exactKeys.delete(id);
  }

  #keyOf(k: Uint8Array): Data {
    const exact = this.#exactKeys.size !== 0
      ? this.#exactKeys.get(latin1Of(k, 0, k.length))
      : undefined;
    return exact ?? decode(k);
  }

  #check(): void {
    if (this.#closed) throw new BrokerError(ErrorCode.backend_failure, "backend is closed");
  }
}

/**
 * What a snapshot changes in a store (see `MemoryBackend.replaceFromSpans`),
 * reported an entry at a time.
 *
 * @example
 * ```ts
 * import type { SnapshotChanges } from "./memory_backend.ts";
 * import { dataToString } from "../data/mod.ts";
 * const log: string[] = [];
 * const changes: SnapshotChanges = {
 *   erase: (k) => void log.push(`-${dataToString(k)}`),
 *   update: (k, v) => void log.push(`~${dataToString(k)}=${dataToString(v)}`),
 *   insert: (k, v) => void log.push(`+${dataToString(k)}=${dataToString(v)}`),
 * };
 * ```
 */
export interface SnapshotChanges {
  /** A key the store held and the snapshot lacks. */
  erase(key: Data): void;
  /** A key both hold: its value in the snapshot, and before. */
  update(key: Data, value: Data, old: Data): void;
  /** A key only the snapshot holds. */
  insert(key: Data, value: Data): void;
}

/**
 * Most entries a snapshot's table is sized for before it is read: the
 * count is the sender's word, and a table sized for a frame's worth of
 * 2-byte entries (a billion) would take gigabytes before the second entry
 * showed them repeated. Past it the table grows as entries come (1M:
 * a 16 MiB index, what `bench/store_attach.ts` attaches without growing).
 */
const PRESIZE_MAX = 1 << 20;

/**
 * The table of a valid state's entries (only their keys when `keysOnly`)
 * and the exact forms of its keys that held a negative zero, or undefined
 * when a key comes twice.
 */
function tableOf(
  state: StateSpans,
  keysOnly: boolean,
): { table: ByteTable; exact: Map<string, Data> } | undefined {
  const bytes = state.bytes;
  const table = new ByteTable({ entries: Math.min(state.count, PRESIZE_MAX) });
  const exact = new Map<string, Data>();
  const fresh = eachStateEntry(state, (k, v, end) => {
    const vTo = keysOnly ? v : end;
    if (plainScalarEnd(bytes, k) === v) {
      // A plain key is its own canonical encoding; a value is kept as it came.
      return table.set(bytes, k, v, bytes, v, vTo);
    }
    const key = decode(bytes.subarray(k, v));
    const kb = keyBytes(key);
    const id = latin1Of(kb, 0, kb.length);
    if (table.set(kb, 0, kb.length, bytes, v, vTo)) {
      if (hasNegativeZero(key)) exact.set(id, key);
      return true;
    }
    // Else keys apart only by a zero's sign (two keys to Broker): one here,
    // as `put` keeps them, the first one's form with the last one's value.
    return !sameHashKey(exact.get(id), key);
  });
  return fresh ? { table, exact } : undefined;
}

/**
 * Whether a valid state (`decodeCommand`'s `stateSpans`) holds a key twice,
 * which Broker's reader refuses: found in a table of the keys' bytes, no
 * key or value built unless it needs folding.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { stateRepeatsKey } from "./memory_backend.ts";
 * const entry = [2, 0, 0, 0, 0, 0, 0, 0, 7, 0]; // count 7 -> none
 * const bytes = new Uint8Array([...entry, ...entry]);
 * equal(stateRepeatsKey({ bytes, from: 0, to: 10, count: 1 }), false);
 * equal(stateRepeatsKey({ bytes, from: 0, to: 20, count: 2 }), true);
 * ```
 */
export function stateRepeatsKey(state: StateSpans): boolean {
  return tableOf(state, true) === undefined;
}

function bytesOf(s: string): Uint8Array {
  const b = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return b;
}

/**
 * Whether `key` is the key already in a table under its folded form: the
 * same key twice (`first` is the earlier key's exact form when it held a
 * negative zero, undefined when it did not).
 */
function sameHashKey(first: Data | undefined, key: Data): boolean {
  if (!hasNegativeZero(key)) return first === undefined;
  return first !== undefined && hashKey(first) === hashKey(key);
}
