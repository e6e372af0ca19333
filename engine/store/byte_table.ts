/**
 * A hash map from byte strings to byte strings kept in typed arrays: the
 * entries of the in-memory store backend, as the canonical encodings of
 * their keys and values.
 *
 * Why not a `Map` of strings: a store of 100k+ entries made each write cost
 * 1–2 µs in the `Map` (a fresh key string to hash, chains of old strings to
 * compare, and every stored string a survivor the collector copies and
 * promotes). Here an entry is one record in a chunk of bytes (key length,
 * value length, key, value) and one slot in an open-addressing index that
 * keeps the key's hash beside the record's address: a lookup reads the
 * index and then one record, and no entry is a heap object.
 *
 * Records are appended; a replaced value of another length, or an erased
 * entry, leaves a dead record behind, and the records are copied to fresh
 * chunks when dead bytes pass half of them.
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
/** A record's address: chunk number times this, plus its offset in the chunk. */
const CHUNK_BITS = 20;
/** Largest chunk of records (a larger record gets a chunk of its own). */
const CHUNK = 1 << CHUNK_BITS;
const OFFSET_MASK = CHUNK - 1;
/** First chunk's size: a small store does not take a whole chunk. */
const FIRST_CHUNK = 1 << 12;
/** Most chunks (addresses stay below 2^31). */
const MAX_CHUNKS = (1 << (31 - CHUNK_BITS)) - 1;
/** Index slot states (addresses are stored plus 2). */
const EMPTY = 0;
const DELETED = 1;

/** FNV-1a over `b[from, to)`, never 0. */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h ^ (h >>> 15)) | 1;
}

/**
 * The table. Records lie in chunks of at most 1 MiB that are filled in
 * turn, never grown by copying (a doubled arena made twice the memory at
 * its peak). Addresses returned by `find` stay valid until the next `set`,
 * `delete` or `clear`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ByteTable } from "./byte_table.ts";
 * const t = new ByteTable();
 * const kv = new Uint8Array([0, 1]); // key: none; value: boolean false
 * equal(t.set(kv, 0, 1, kv, 1, 2), true); // new
 * equal(t.delete(kv, 0, 1), true);
 * ```
 */
export class ByteTable {
  #chunks: Uint8Array[] = [new Uint8Array(FIRST_CHUNK)];
  /** The chunk being filled, and the fill mark in it. */
  #cur = 0;
  #pos = 0;
  /** Bytes of the chunks in use, and of dead records (and chunk tails left unused). */
  #used = 0;
  #dead = 0;
  /**
   * Two numbers per slot: the record's address + 2 (or EMPTY / DELETED),
   * then the key's hash (to probe and to grow without rereading keys).
   */
  #index = new Int32Array(2 << 10);
  /** Slots not EMPTY (live and DELETED): what bounds the probe chains. */
  #taken = 0;
  #size = 0;

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held (chunks and index), for memory accounting. */
  get byteLength(): number {
    let n = this.#index.byteLength;
    for (const c of this.#chunks) n += c.length;
    return n;
  }

  /** The address of key `b[from, to)`'s record, or -1. */
  find(b: Uint8Array, from: number, to: number): number {
    const slot = this.#slotOf(b, from, to, hashBytes(b, from, to));
    return slot < 0 ? -1 : this.#index[slot] - 2;
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
      const at = this.#index[found] - 2;
      const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
      const kLen = kTo - kFrom;
      const oldLen = readU32(c, p + 4);
      if (oldLen === vLen) {
        // Same length: the value is overwritten where it lies.
        copy(v, vFrom, vTo, c, p + HEADER + kLen);
        return false;
      }
      this.#dead += HEADER + kLen + oldLen;
      this.#index[found] = this.#append(k, kFrom, kTo, v, vFrom, vTo) + 2;
      this.#maybeCompact();
      return false;
    }
    if ((this.#taken + 1) * 4 > this.#index.length) this.#resize();
    const at = this.#append(k, kFrom, kTo, v, vFrom, vTo);
    const slot = this.#freeSlot(h);
    if (this.#index[slot] === EMPTY) this.#taken++;
    this.#index[slot] = at + 2;
    this.#index[slot + 1] = h;
    this.#size++;
    return true;
  }

  /** Removes key `b[from, to)`; returns whether it was there. */
  delete(b: Uint8Array, from: number, to: number): boolean {
    const slot = this.#slotOf(b, from, to, hashBytes(b, from, to));
    if (slot < 0) return false;
    const at = this.#index[slot] - 2;
    const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
    this.#dead += HEADER + readU32(c, p) + readU32(c, p + 4);
    this.#index[slot] = DELETED;
    this.#size--;
    this.#maybeCompact();
    return true;
  }

  /** Removes everything. */
  clear(): void {
    this.#chunks = [new Uint8Array(FIRST_CHUNK)];
    this.#cur =
      this.#pos =
      this.#used =
      this.#dead =
      this.#taken =
      this.#size =
        0;
    this.#index = new Int32Array(2 << 10);
  }

  /** The key of the record at `at` (a view, valid until the next change). */
  keyAt(at: number): Uint8Array {
    const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
    return c.subarray(p + HEADER, p + HEADER + readU32(c, p));
  }

  /** The value of the record at `at` (a view, valid until the next change). */
  valueAt(at: number): Uint8Array {
    const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
    const start = p + HEADER + readU32(c, p);
    return c.subarray(start, start + readU32(c, p + 4));
  }

  /** Addresses of the live records, in no particular order. */
  records(): number[] {
    const out: number[] = [];
    const index = this.#index;
    for (let i = 0; i < index.length; i += 2) if (index[i] > DELETED) out.push(index[i] - 2);
    return out;
  }

  /** The slot (index position) holding key `b[from, to)` with hash `h`, or -1. */
  #slotOf(b: Uint8Array, from: number, to: number, h: number): number {
    const index = this.#index, chunks = this.#chunks;
    const mask = index.length - 2;
    const len = to - from;
    for (let i = (h << 1) & mask;; i = (i + 2) & mask) {
      const s = index[i];
      if (s === EMPTY) return -1;
      if (s === DELETED || index[i + 1] !== h) continue;
      const at = s - 2;
      const c = chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
      if (readU32(c, p) !== len) continue;
      let k = 0;
      const base = p + HEADER;
      while (k < len && c[base + k] === b[from + k]) k++;
      if (k === len) return i;
    }
  }

  /** The first EMPTY or DELETED slot on `h`'s probe path. */
  #freeSlot(h: number): number {
    const index = this.#index;
    const mask = index.length - 2;
    let i = (h << 1) & mask;
    while (index[i] > DELETED) i = (i + 2) & mask;
    return i;
  }

  /** Appends a record; returns its address. */
  #append(
    k: Uint8Array,
    kFrom: number,
    kTo: number,
    v: Uint8Array,
    vFrom: number,
    vTo: number,
  ): number {
    const need = HEADER + kTo - kFrom + vTo - vFrom;
    let c = this.#chunks[this.#cur];
    let p = this.#pos;
    if (p + need > c.length) {
      if (need > CHUNK) return this.#appendAlone(k, kFrom, kTo, v, vFrom, vTo);
      this.#newChunk(need);
      c = this.#chunks[this.#cur];
      p = 0;
    }
    writeRecord(c, p, k, kFrom, kTo, v, vFrom, vTo);
    this.#pos = p + need;
    return (this.#cur << CHUNK_BITS) + p;
  }

  /** Starts the next chunk (twice the last, up to `CHUNK`); the last one's tail counts as dead. */
  #newChunk(need: number): void {
    const last = this.#chunks[this.#cur];
    this.#dead += last.length - this.#pos;
    let size = Math.min(CHUNK, last.length * 2);
    while (size < need) size *= 2;
    this.#cur = this.#chunk(new Uint8Array(size));
    this.#pos = 0;
  }

  /** A record larger than a chunk gets a chunk of its own (the current one stays current). */
  #appendAlone(
    k: Uint8Array,
    kFrom: number,
    kTo: number,
    v: Uint8Array,
    vFrom: number,
    vTo: number,
  ): number {
    const c = new Uint8Array(HEADER + kTo - kFrom + vTo - vFrom);
    writeRecord(c, 0, k, kFrom, kTo, v, vFrom, vTo);
    return this.#chunk(c) << CHUNK_BITS;
  }

  /** Adds a chunk; returns its number. */
  #chunk(c: Uint8Array): number {
    if (this.#chunks.length >= MAX_CHUNKS) {
      throw new RangeError("store table: more than 2 GiB of records");
    }
    this.#used += c.length;
    return this.#chunks.push(c) - 1;
  }

  /** Index twice as large when live entries fill a quarter of it, else the same size without DELETED. */
  #resize(): void {
    const old = this.#index;
    const size = this.#size * 8 >= old.length ? old.length * 2 : old.length;
    const index = new Int32Array(size);
    const mask = size - 2;
    for (let i = 0; i < old.length; i += 2) {
      if (old[i] <= DELETED) continue;
      let j = (old[i + 1] << 1) & mask;
      while (index[j] !== EMPTY) j = (j + 2) & mask;
      index[j] = old[i];
      index[j + 1] = old[i + 1];
    }
    this.#index = index;
    this.#taken = this.#size;
  }

  /** Copies the live records to fresh chunks once dead bytes take half of the chunks. */
  #maybeCompact(): void {
    if (this.#dead < CHUNK || this.#dead * 2 < this.#used) return;
    const old = this.#chunks, index = this.#index;
    this.#chunks = [new Uint8Array(FIRST_CHUNK)];
    this.#cur = this.#pos = this.#dead = 0;
    this.#used = FIRST_CHUNK;
    for (let i = 0; i < index.length; i += 2) {
      if (index[i] <= DELETED) continue;
      const at = index[i] - 2;
      const c = old[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
      const kEnd = p + HEADER + readU32(c, p);
      index[i] = this.#append(c, p + HEADER, kEnd, c, kEnd, kEnd + readU32(c, p + 4)) + 2;
    }
  }
}

/** Copies `src[from, to)` to `dst` at `at`: byte by byte when short (set() costs more then). */
function copy(src: Uint8Array, from: number, to: number, dst: Uint8Array, at: number): void {
  const n = to - from;
  if (n > 32) dst.set(src.subarray(from, to), at);
  else for (let i = 0; i < n; i++) dst[at + i] = src[from + i];
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

/** Writes one record at `p` of `c`: the key's and the value's lengths, then their bytes. */
function writeRecord(
  c: Uint8Array,
  p: number,
  k: Uint8Array,
  kFrom: number,
  kTo: number,
  v: Uint8Array,
  vFrom: number,
  vTo: number,
): void {
  const kLen = kTo - kFrom;
  writeU32(c, p, kLen);
  writeU32(c, p + 4, vTo - vFrom);
  copy(k, kFrom, kTo, c, p + HEADER);
  copy(v, vFrom, vTo, c, p + HEADER + kLen);
}
