/**
 * A small seeded random source for the soak: the chaos loop draws every
 * decision from it, so a failing run can be repeated with its `--seed`
 * (as far as timing on a shared machine allows).
 *
 * @module
 */

/**
 * mulberry32: 32 bits of state, fast, and good enough to pick faults; not
 * for anything cryptographic.
 *
 * @example
 * ```ts
 * import { Rng } from "./random.ts";
 * const r = new Rng(42);
 * const kind = r.pick(["kill", "cut"]);
 * const wait = r.int(1000, 3000);
 * ```
 */
export class Rng {
  #state: number;

  /** A source starting from `seed` (any integer). */
  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [lo, hi], both included. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick from an empty list");
    return items[Math.floor(this.next() * items.length)];
  }

  /** A copy of `items` in random order (Fisher-Yates). */
  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  /** `n` random bytes. */
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.floor(this.next() * 256);
    return out;
  }
}
