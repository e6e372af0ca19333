/**
 * Private copies of byte arrays, packed one after another in slabs of
 * their own; a slab whose copies were all released is filled again.
 *
 * @module
 */

/** How many copies of a slab are still held. */
interface SlabUse {
  holds: number;
  /** Whether copies are still being packed into it. */
  current: boolean;
}

/**
 * Copies bytes that must outlive the buffer they arrived in (a read buffer,
 * a shared output slab) into slabs holding only this owner's copies. A
 * fresh buffer per copy (`slice`) cost more than the message it held: in
 * Deno on this machine an `ArrayBuffer` takes ~1.2 µs to allocate even at
 * 32 bytes, ~3 µs at 1.2 KB. A copy keeps its whole slab alive, so an
 * owner that keeps only a few copies for long holds at most a slab per
 * copy; copies of more than a quarter of a slab get a buffer of their own.
 *
 * An owner that knows when its copies are done (`maxSpares` above 0)
 * releases them: a copy is held once by `copy` and once more by each
 * `hold`, and a full slab whose copies all had as many `release`s is kept
 * (up to `maxSpares`) and filled again. Why: copies in fresh slabs faulted
 * their pages in anew (~11 µs a page on this VM): a one-client WebSocket
 * fan-out whose socket ran full queued most frames and made ~3,200 fresh
 * 32 KiB slabs for 320,000 of them. A copy never released only keeps its
 * slab from coming back (the collector takes it then).
 *
 * @example
 * ```ts
 * import { PackedCopies } from "./packed_copies.ts";
 * const copies = new PackedCopies(1024);
 * const read = new Uint8Array([1, 2, 3, 4]);
 * const a = copies.copy(read.subarray(0, 2)), b = copies.copy(read.subarray(2));
 * read.fill(0); // the buffer is reused: the copies keep their bytes
 * if (a.join() !== "1,2" || b.join() !== "3,4" || a.buffer !== b.buffer) throw new Error("packed");
 * ```
 *
 * @example
 * ```ts
 * import { equal, notEqual } from "node:assert/strict";
 * import { PackedCopies } from "./packed_copies.ts";
 * const copies = new PackedCopies(64, 4);
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
 */
export class PackedCopies {
  readonly #slabSize: number;
  readonly #maxSpares: number;
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  #at = 0;
  #use: SlabUse = { holds: 0, current: true };
  /** By slab; weak, so that a slab whose copies were never all released is simply collected. */
  readonly #uses = new WeakMap<ArrayBufferLike, SlabUse>();
  readonly #spares: Uint8Array<ArrayBuffer>[] = [];

  /** Copies packed in slabs of `slabSize` bytes, at most `maxSpares` (default none) kept to be filled again. */
  constructor(slabSize: number, maxSpares = 0) {
    this.#slabSize = slabSize;
    this.#maxSpares = maxSpares;
  }

  /** Slabs kept to be filled again (for tests). */
  get spares(): number {
    return this.#spares.length;
  }

  /** A copy of `bytes` that views none of the memory `bytes` views, held once. */
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
    // (The first slab has no slab before it: the empty start is not one.)
    if (this.#use.holds === 0 && full.length > 0) this.#keep(full.buffer);
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
