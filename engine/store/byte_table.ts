/**
 * A hash map from byte strings to byte strings kept in typed arrays: the
 * entries of the in-memory store backend, as the canonical encodings of
 * their keys and values.
 *
 * Why not a `Map` of strings: a store of 100k+ entries made each write cost
 * 1–2 µs in the `Map` (a fresh key string to hash, chains of old strings to
 * compare, and every stored string a survivor the collector copies and
 * promotes). Here an entry is one record in a byte arena (key length, value
 * length, key, value) and one slot in an open-addressing index that keeps
 * the key's hash beside the record's offset: a lookup reads the index and
 * then one record, and no entry is a heap object.
 *
 * Records are appended; a replaced value of another length, or an erased
 * entry, leaves a dead record behind, and the arena is compacted when dead
 * bytes pass half of it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ByteTable } from "./byte_table.ts";
 * const t = new ByteTable();
 * const k = new Uint8Array([5, 1, 0x61]); // the string "a"
 * t.set(k, 0, 3, new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 1]), 0, 9);
 * equal(t.size, 1);
 * equal(t.find(k, 0, 3) >= 0, true);
 * ```
 *
 * @module
 */

/** Bytes before a record's key: key length and value length, u32 each. */
const HEADER = 8;
/** Index slot states (offsets are stored plus 2). */
const EMPTY = 0;
const DELETED = 1;

/** FNV-1a over `b[from, to)`, never 0 (an index slot's hash 0 means "none"). */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h ^ (h >>> 15)) | 1;
}

/**
 * The table. Positions returned by `find` (a record's offset) stay valid
 * until the next `set` or `delete`.
 */
export class ByteTable {
  #arena = new Uint8Array(1 << 16);
  /** Bytes of the arena in use (live and dead records). */
  #used = 0;
  /** Bytes of dead records. */
  #dead = 0;
  /** Per slot: record offset + 2, or EMPTY / DELETED. */
  #slots = new Int32Array(1 << 10);
  /** Per slot: the key's hash (for probing and growing without rereading keys). */
  #hashes = new Int32Array(1 << 10);
  /** Slots not EMPTY (live and DELETED): what bounds the probe chains. */
  #taken = 0;
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held (arena and index), for memory accounting. */
  get byteLength(): number {
    return this.#arena.length + 8 * this.#slots.length;
  }

  /** The record offset of key `b[from, to)`, or -1. */
  find(b: Uint8Array, from: number, to: number): number {
    const slot = this.#slotOf(b, from, to, hashBytes(b, from, to));
    return slot < 0 ? -1 : this.#slots[slot] - 2;
  }

  /** Sets key `k[kFrom, kTo)` to value `v[vFrom, vTo)`; returns whether the key was new. */
  set(
    k: Uint8Array,
    kFrom: number,
    kTo: number,
    v: Uint8Array,
    vFrom: number,
    vTo: number,
  ): boolean {
    const h = hashBytes(k, kFrom, kTo);
    const found = this.#slotOf(k, kFrom, kTo, h);
    const vLen = vTo - vFrom;
    if (found >= 0) {
      const at = this.#slots[found] - 2;
      const a = this.#arena;
      const kLen = kTo - kFrom;
      if (readU32(a, at + 4) === vLen) {
        // Same length: the value is overwritten where it lies.
        a.set(v.subarray(vFrom, vTo), at + HEADER + kLen);
        return false;
      }
      this.#dead += HEADER + kLen + readU32(a, at + 4);
      this.#slots[found] = this.#append(k, kFrom, kTo, v, vFrom, vTo) + 2;
      this.#maybeCompact();
      return false;
    }
    if ((this.#taken + 1) * 2 > this.#slots.length) this.#resize();
    const at = this.#append(k, kFrom, kTo, v, vFrom, vTo);
    const slot = this.#freeSlot(h);
    if (this.#slots[slot] === EMPTY) this.#taken++;
    this.#slots[slot] = at + 2;
    this.#hashes[slot] = h;
    this.#size++;
    return true;
  }

  /** Removes key `b[from, to)`; returns whether it was there. */
  delete(b: Uint8Array, from: number, to: number): boolean {
    const slot = this.#slotOf(b, from, to, hashBytes(b, from, to));
    if (slot < 0) return false;
    const at = this.#slots[slot] - 2;
    this.#dead += HEADER + readU32(this.#arena, at) + readU32(this.#arena, at + 4);
    this.#slots[slot] = DELETED;
    this.#size--;
    this.#maybeCompact();
    return true;
  }

  /** Removes everything. */
  clear(): void {
    this.#arena = new Uint8Array(1 << 16);
    this.#used =
      this.#dead =
      this.#taken =
      this.#size =
        0;
    this.#slots = new Int32Array(1 << 10);
    this.#hashes = new Int32Array(1 << 10);
  }

  /** The key of the record at `at` (a view, valid until the next change). */
  keyAt(at: number): Uint8Array {
    const a = this.#arena;
    return a.subarray(at + HEADER, at + HEADER + readU32(a, at));
  }

  /** The value of the record at `at` (a view, valid until the next change). */
  valueAt(at: number): Uint8Array {
    const a = this.#arena;
    const start = at + HEADER + readU32(a, at);
    return a.subarray(start, start + readU32(a, at + 4));
  }

  /** Offsets of the live records, in no particular order. */
  records(): number[] {
    const out: number[] = [];
    const slots = this.#slots;
    for (let i = 0; i < slots.length; i++) if (slots[i] > DELETED) out.push(slots[i] - 2);
    return out;
  }

  /** The slot holding key `b[from, to)` with hash `h`, or -1. */
  #slotOf(b: Uint8Array, from: number, to: number, h: number): number {
    const slots = this.#slots, hashes = this.#hashes, a = this.#arena;
    const mask = slots.length - 1;
    const len = to - from;
    for (let i = h & mask;; i = (i + 1) & mask) {
      const s = slots[i];
      if (s === EMPTY) return -1;
      if (s === DELETED || hashes[i] !== h) continue;
      const at = s - 2;
      if (readU32(a, at) !== len) continue;
      let k = 0;
      const base = at + HEADER;
      while (k < len && a[base + k] === b[from + k]) k++;
      if (k === len) return i;
    }
  }

  /** The first EMPTY or DELETED slot on `h`'s probe path. */
  #freeSlot(h: number): number {
    const slots = this.#slots;
    const mask = slots.length - 1;
    let i = h & mask;
    while (slots[i] > DELETED) i = (i + 1) & mask;
    return i;
  }

  #append(
    k: Uint8Array,
    kFrom: number,
    kTo: number,
    v: Uint8Array,
    vFrom: number,
    vTo: number,
  ): number {
    const kLen = kTo - kFrom, vLen = vTo - vFrom;
    const need = HEADER + kLen + vLen;
    if (this.#used + need > this.#arena.length) this.#growArena(need);
    const a = this.#arena, at = this.#used;
    writeU32(a, at, kLen);
    writeU32(a, at + 4, vLen);
    // Short spans byte by byte: a subarray and set() per span cost more for a count.
    if (kLen <= 32) { for (let i = 0; i < kLen; i++) a[at + HEADER + i] = k[kFrom + i]; }
    else a.set(k.subarray(kFrom, kTo), at + HEADER);
    const vAt = at + HEADER + kLen;
    if (vLen <= 32) { for (let i = 0; i < vLen; i++) a[vAt + i] = v[vFrom + i]; }
    else a.set(v.subarray(vFrom, vTo), vAt);
    this.#used += need;
    return at;
  }

  #growArena(need: number): void {
    let size = this.#arena.length * 2;
    while (size < this.#used + need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#arena.subarray(0, this.#used));
    this.#arena = next;
  }

  /** Index twice as large when live entries fill a quarter of it, else the same size without DELETED. */
  #resize(): void {
    const old = this.#slots, oldHashes = this.#hashes;
    const size = this.#size * 4 >= old.length ? old.length * 2 : old.length;
    const slots = new Int32Array(size), hashes = new Int32Array(size);
    const mask = size - 1;
    for (let i = 0; i < old.length; i++) {
      if (old[i] <= DELETED) continue;
      let j = oldHashes[i] & mask;
      while (slots[j] !== EMPTY) j = (j + 1) & mask;
      slots[j] = old[i];
      hashes[j] = oldHashes[i];
    }
    this.#slots = slots;
    this.#hashes = hashes;
    this.#taken = this.#size;
  }

  /** Copies the live records to a fresh arena once dead ones take half of it. */
  #maybeCompact(): void {
    if (this.#dead < 1 << 16 || this.#dead * 2 < this.#used) return;
    const old = this.#arena, slots = this.#slots;
    let size = 1 << 16;
    while (size < (this.#used - this.#dead) * 2) size *= 2;
    const next = new Uint8Array(size);
    let used = 0;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] <= DELETED) continue;
      const at = slots[i] - 2;
      const n = HEADER + readU32(old, at) + readU32(old, at + 4);
      next.set(old.subarray(at, at + n), used);
      slots[i] = used + 2;
      used += n;
    }
    this.#arena = next;
    this.#used = used;
    this.#dead = 0;
  }
}

function readU32(a: Uint8Array, at: number): number {
  return (a[at] | (a[at + 1] << 8) | (a[at + 2] << 16) | (a[at + 3] << 24)) >>> 0;
}

function writeU32(a: Uint8Array, at: number, x: number): void {
  a[at] = x;
  a[at + 1] = x >>> 8;
  a[at + 2] = x >>> 16;
  a[at + 3] = x >>> 24;
}
