/**
 * Copies of the frames that wait in WebSocket clients' queues, packed in
 * small slabs that are filled again once every copy in them was written.
 *
 * Why: a queued frame gets a copy of its own, so that a queue of views does
 * not keep the 1 MiB frame slabs alive (README, "Memory budget"). Copies
 * in fresh slabs faulted their pages in anew (~11 µs a page on this VM):
 * a one-client fan-out whose socket ran full queued most frames and made
 * ~3,200 fresh 32 KiB slabs for 320,000 of them. Here a slab whose copies
 * are all released comes back, and a copy someone forgets to release only
 * keeps its slab from coming back (the collector takes it then).
 *
 * @example
 * ```ts
 * import { equal, notEqual } from "node:assert/strict";
 * import { FrameCopies } from "./frame_copies.ts";
 * const copies = new FrameCopies(64, 4);
 * const a = copies.copy(new Uint8Array(16).fill(1)); // held once
 * copies.hold(a); // a second client queues the same copy
 * const b = copies.copy(new Uint8Array(16).fill(2));
 * equal(a.buffer, b.buffer); // packed together
 * for (let i = 0; i < 2; i++) copies.release(copies.copy(new Uint8Array(16))); // the slab is full
 * notEqual(copies.copy(new Uint8Array(16)).buffer, a.buffer); // so the next one is another
 * copies.release(a);
 * copies.release(a);
 * copies.release(b); // every copy in the first slab was written: it comes back
 * equal(copies.spares, 1);
 * ```
 *
 * @module
 */

/** How many copies of a slab are still queued or being written. */
interface SlabUse {
  holds: number;
  /** Whether copies are still being packed into it. */
  current: boolean;
}

/**
 * Packed, released copies. A copy is held once by `copy` and once more by
 * each `hold`; its bytes stay as they are until as many `release`s came for
 * every copy in its slab and the slab is full.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { FrameCopies } from "./frame_copies.ts";
 * const copies = new FrameCopies(1024, 4);
 * const frame = new Uint8Array([0x81, 2, 0x7b, 0x7d]);
 * const queued = copies.copy(frame);
 * frame.fill(0); // the frame's slab is filled again: the copy keeps its bytes
 * deepEqual([...queued], [0x81, 2, 0x7b, 0x7d]);
 * copies.release(queued); // written
 * ```
 */
export class FrameCopies {
  readonly #slabSize: number;
  readonly #maxSpares: number;
  #buf: Uint8Array<ArrayBuffer>;
  #at = 0;
  #use: SlabUse = { holds: 0, current: true };
  /** By slab; weak, so that a slab whose copies were never all released is simply collected. */
  readonly #uses = new WeakMap<ArrayBufferLike, SlabUse>();
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];

  /** Copies packed in slabs of `slabSize` bytes, at most `maxSpares` kept to be filled again. */
  constructor(slabSize: number, maxSpares: number) {
    this.#slabSize = slabSize;
    this.#maxSpares = maxSpares;
    this.#buf = new Uint8Array(slabSize);
    this.#uses.set(this.#buf.buffer, this.#use);
  }

  /** Slabs kept to be filled again (for tests). */
  get spares(): number {
    return this.#spares.length;
  }

  /**
   * A copy of `bytes` in memory no other view sees, held once. Copies over
   * a quarter of a slab get a buffer of their own (never filled again).
   */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > this.#slabSize >> 2) return bytes.slice();
    if (this.#at + n > this.#buf.length) this.#next();
    const at = this.#at;
    this.#buf.set(bytes, at);
    this.#at = at + n;
    this.#use.holds++;
    return this.#buf.subarray(at, at + n);
  }

  /** One more holder of `copy` (a copy this made; anything else is ignored). */
  hold(copy: Uint8Array): void {
    const use = this.#uses.get(copy.buffer);
    if (use !== undefined) use.holds++;
  }

  /** One holder of `copy` is done with it (written, or dropped). */
  release(copy: Uint8Array): void {
    const use = this.#uses.get(copy.buffer);
    if (use === undefined || use.holds <= 0) return;
    if (--use.holds === 0 && !use.current) this.#keep(copy.buffer as ArrayBuffer);
  }

  /** Leaves the full slab to its copies and packs into a spare, or a fresh slab. */
  #next(): void {
    const full = this.#buf;
    this.#use.current = false;
    if (this.#use.holds === 0) this.#keep(full.buffer);
    this.#buf = this.#spares.pop() ?? new Uint8Array(this.#slabSize);
    this.#at = 0;
    this.#use = { holds: 0, current: true };
    this.#uses.set(this.#buf.buffer, this.#use);
  }

  #keep(buffer: ArrayBuffer): void {
    this.#uses.delete(buffer);
    if (this.#spares.length < this.#maxSpares) this.#spares.push(new Uint8Array(buffer));
  }
}
