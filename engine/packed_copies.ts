/**
 * Private copies of byte arrays, packed one after another in slabs of
 * their own.
 *
 * @module
 */

/**
 * Copies bytes that must outlive the buffer they arrived in (a read buffer,
 * a shared output slab) into slabs holding only this owner's copies. A
 * fresh buffer per copy (`slice`) cost more than the message it held: in
 * Deno on this machine an `ArrayBuffer` takes ~1.2 µs to allocate even at
 * 32 bytes, ~3 µs at 1.2 KB. A copy keeps its whole slab alive, so an
 * owner that keeps only a few copies for long holds at most a slab per
 * copy; copies of more than a quarter of a slab get a buffer of their own.
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
 */
export class PackedCopies {
  readonly #slabSize: number;
  #buf = new Uint8Array(0);
  #at = 0;

  /** Copies packed in slabs of `slabSize` bytes. */
  constructor(slabSize: number) {
    this.#slabSize = slabSize;
  }

  /** A copy of `bytes` that views none of the memory `bytes` views. */
  copy(bytes: Uint8Array): Uint8Array {
    const n = bytes.length;
    if (n > this.#slabSize >> 2) return bytes.slice();
    if (this.#at + n > this.#buf.length) {
      this.#buf = new Uint8Array(this.#slabSize);
      this.#at = 0;
    }
    const at = this.#at;
    this.#buf.set(bytes, at);
    this.#at = at + n;
    return this.#buf.subarray(at, at + n);
  }
}
