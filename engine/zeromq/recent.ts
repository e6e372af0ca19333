/**
 * What a bridge forwarded lately, by a 53-bit hash of the topic and the
 * encoded event: its loop guard (see `bridge.ts`). Sans-I/O: the caller
 * says what time it is. Entries expire after a window; at most `capacity`
 * are kept (the oldest go first).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { RecentKeys, recentKey } from "./recent.ts";
 * const recent = new RecentKeys(1000);
 * const k = recentKey("zeek/cluster/manager", new Uint8Array([1, 2, 3]));
 * recent.add(k, 0);
 * equal(recent.has(k, 999), true);
 * equal(recent.has(k, 1001), false);
 * ```
 *
 * @module
 */

const utf8 = new TextEncoder();

/**
 * A 53-bit hash of a topic and a payload (two 32-bit FNV-1a variants
 * joined), so that different events meet by chance about once in 2^53.
 */
export function recentKey(topic: string, payload: Uint8Array): number {
  const t = utf8.encode(topic);
  let a = 0x811c9dc5, b = 0x01000193 ^ t.length;
  for (const bytes of [t, payload]) {
    for (let i = 0; i < bytes.length; i++) {
      a = Math.imul(a ^ bytes[i], 0x01000193);
      b = Math.imul(b ^ bytes[i], 0x5bd1e995);
      b ^= b >>> 15;
    }
    a = Math.imul(a ^ 0xff, 0x01000193); // the topic's end
  }
  return (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
}

/** Keys seen within the last `windowMs` (see the module doc). */
export class RecentKeys {
  readonly #windowMs: number;
  readonly #capacity: number;
  // Key to expiry time, oldest first (a re-added key moves to the end).
  readonly #expiry = new Map<number, number>();

  /** Keys live `windowMs` ms; at most `capacity` of them. */
  constructor(windowMs: number, capacity = 65_536) {
    this.#windowMs = windowMs;
    this.#capacity = capacity;
  }

  /** Remembers `key` as seen at `now` (ms). */
  add(key: number, now: number): void {
    this.#expiry.delete(key);
    this.#expiry.set(key, now + this.#windowMs);
    this.#prune(now);
  }

  /** Whether `key` was added less than the window before `now`. */
  has(key: number, now: number): boolean {
    const until = this.#expiry.get(key);
    return until !== undefined && until > now;
  }

  /** How many keys are kept. */
  get size(): number {
    return this.#expiry.size;
  }

  #prune(now: number): void {
    for (const [key, until] of this.#expiry) {
      if (until > now && this.#expiry.size <= this.#capacity) break;
      this.#expiry.delete(key);
    }
  }
}
