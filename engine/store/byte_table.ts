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
 * entry, leaves a dead record behind, and the live records are copied to
 * fresh chunks when dead bytes pass half of them.
 *
 * Neither growing the index nor compacting the records pauses: each is
 * begun by one write and carried on a few slots at a time by the writes
 * after it (as Redis rehashes). Done at once, a table of 1M entries stopped
 * the event loop ~100 ms to grow its index and ~170 ms to compact (this VM,
 * where faulting in a fresh page costs ~12 µs), and a master's peers and
 * clones waited that long.
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
/** Index slots each write carries on while the index grows or the records are compacted (see `#move`). */
const STEP = 64;
/** A released chunk's place, until a new chunk takes its number. */
const NO_CHUNK = new Uint8Array(0);
/** Index slot states (addresses are stored plus 2). */
const EMPTY = 0;
const DELETED = 1;

/** FNV-1a over `b[from, to)`, never 0. */
function hashBytes(b: Uint8Array, from: number, to: number): number {
  let h = 0x811c9dc5;
  for (let i = from; i < to; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return (h ^ (h >>> 15)) | 1;
}

/** Index slots (a power of two, at least 1,024) that hold `n` entries without growing (see `set`). */
function slotsFor(n: number): number {
  let slots = 1 << 10;
  while ((n + 1) * 4 > slots * 2) slots *= 2;
  return slots;
}

/** How a `ByteTable` starts; tests make both small to reach growth and compaction. */
export interface ByteTableOptions {
  /** Slots of the first index (a power of two, default 1,024); it doubles as entries come. */
  slots?: number;
  /** Entries the table is about to get: the first index holds them without growing (unless `slots`). */
  entries?: number;
  /** Dead bytes before a compaction may begin (default 1 MiB); it begins once they are half the chunks. */
  compactAfter?: number;
  /** Index slots each write carries a growth or a compaction on by (default 64). */
  step?: number;
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
  /** Chunks by number (a record's address names one); `NO_CHUNK` where one was released. */
  #chunks: Uint8Array[] = [];
  /** Numbers of released chunks, for the next new ones. */
  #freeChunks: number[] = [];
  /**
   * Whole chunks' worth of a grown-out index's memory, for the next chunks
   * of records: its pages are faulted in already (see `#retire`).
   */
  #spares: Uint8Array[] = [];
  /** Dead bytes in each chunk, by number: what goes when the chunk is released. */
  #chunkDead = new Int32Array(MAX_CHUNKS + 1);
  /** The chunk being filled, and the fill mark in it. */
  #cur = 0;
  #pos = 0;
  /** Bytes of the chunks in use, and of dead records (and chunk tails left unused) in them. */
  #used = 0;
  #dead = 0;
  /**
   * Two numbers per slot: the record's address + 2 (or EMPTY / DELETED),
   * then the key's hash (to probe and to grow without rereading keys).
   */
  #index: Int32Array;
  /**
   * While the index grows: the one before, whose live slots later writes
   * move into `#index` from `#moved` on (a moved slot becomes DELETED, so
   * the probe chains through it still hold). Every key is in one of the two.
   */
  #old: Int32Array | undefined;
  #moved = 0;
  /** The index the last `#lookup` found its key in. */
  #hit: Int32Array;
  /**
   * While the records are compacted: the chunks being emptied (flag 1 by
   * number), and the next index slot whose record, if it lies in one of
   * them, is copied to the chunks filled now (-1: no compaction).
   */
  readonly #leaving = new Uint8Array(MAX_CHUNKS + 1);
  #compactAt = -1;
  /** Slots of `#index` not EMPTY (live and DELETED): what bounds the probe chains. */
  #taken = 0;
  #size = 0;
  readonly #firstSlots: number;
  readonly #compactAfter: number;
  readonly #step: number;

  /** An empty table. */
  constructor(options: ByteTableOptions = {}) {
    const slots = options.slots ?? slotsFor(options.entries ?? 0);
    if (!(slots >= 2 && (slots & (slots - 1)) === 0)) {
      throw new RangeError(`store table: ${slots} slots is not a power of two`);
    }
    this.#firstSlots = slots;
    this.#compactAfter = options.compactAfter ?? CHUNK;
    this.#step = options.step ?? STEP;
    this.#hit = this.#index = new Int32Array(slots * 2);
    this.#cur = this.#chunk(new Uint8Array(FIRST_CHUNK));
  }

  /** Number of entries. */
  get size(): number {
    return this.#size;
  }

  /** Bytes held (chunks, spare chunks and index), for memory accounting. */
  get byteLength(): number {
    return this.#used + this.#spares.length * CHUNK + this.#index.byteLength +
      (this.#old?.byteLength ?? 0);
  }

  /** The address of key `b[from, to)`'s record, or -1. */
  find(b: Uint8Array, from: number, to: number): number {
    const slot = this.#lookup(b, from, to, hashBytes(b, from, to));
    return slot < 0 ? -1 : this.#hit[slot] - 2;
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
    this.#carryOn();
    const h = hashBytes(k, kFrom, kTo);
    const found = this.#lookup(k, kFrom, kTo, h);
    const vLen = vTo - vFrom;
    if (found >= 0) {
      const table = this.#hit;
      const at = table[found] - 2;
      const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
      const kLen = kTo - kFrom;
      const oldLen = readU32(c, p + 4);
      if (oldLen === vLen) {
        // Same length: the value is overwritten where it lies.
        copy(v, vFrom, vTo, c, p + HEADER + kLen);
        return false;
      }
      this.#died(at >>> CHUNK_BITS, HEADER + kLen + oldLen);
      table[found] = this.#append(k, kFrom, kTo, v, vFrom, vTo) + 2;
      this.#maybeCompact();
      return false;
    }
    if ((this.#taken + 1) * 4 > this.#index.length) this.#grow();
    const at = this.#append(k, kFrom, kTo, v, vFrom, vTo);
    this.#place(at + 2, h);
    this.#size++;
    return true;
  }

  /** Removes key `b[from, to)`; returns whether it was there. */
  delete(b: Uint8Array, from: number, to: number): boolean {
    this.#carryOn();
    const slot = this.#lookup(b, from, to, hashBytes(b, from, to));
    if (slot < 0) return false;
    const table = this.#hit;
    const at = table[slot] - 2;
    const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
    this.#died(at >>> CHUNK_BITS, HEADER + readU32(c, p) + readU32(c, p + 4));
    table[slot] = DELETED;
    this.#size--;
    this.#maybeCompact();
    return true;
  }

  /** Removes everything. */
  clear(): void {
    this.#chunks = [];
    this.#freeChunks = [];
    this.#spares = [];
    this.#chunkDead.fill(0);
    this.#leaving.fill(0);
    this.#compactAt = -1;
    this.#used =
      this.#dead =
      this.#taken =
      this.#size =
        0;
    this.#index = new Int32Array(this.#firstSlots * 2);
    this.#old = undefined;
    this.#cur = this.#chunk(new Uint8Array(FIRST_CHUNK));
    this.#pos = 0;
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

  /** Length of the key of the record at `at`. */
  keyLength(at: number): number {
    return readU32(this.#chunks[at >>> CHUNK_BITS], at & OFFSET_MASK);
  }

  /**
   * Copies the key and value of the record at `at`, which lie side by
   * side, to `dst` at `pos`; returns how many bytes. Throws a `RangeError`
   * when they do not fit (a short copy would otherwise drop the bytes past
   * the end).
   */
  copyEntry(at: number, dst: Uint8Array, pos: number): number {
    const c = this.#chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
    const n = readU32(c, p) + readU32(c, p + 4);
    if (pos + n > dst.length) throw new RangeError("store table: no room for the entry");
    copy(c, p + HEADER, p + HEADER + n, dst, pos);
    return n;
  }

  /**
   * Addresses of the live records, in no particular order. A typed array of
   * the exact size: a million addresses pushed onto an array grew it through
   * ~24 MiB of fresh memory, three quarters of a snapshot's page faults here.
   */
  records(): Int32Array {
    const out = new Int32Array(this.#size);
    let n = 0;
    for (const index of this.#old ? [this.#index, this.#old] : [this.#index]) {
      for (let i = 0; i < index.length; i += 2) if (index[i] > DELETED) out[n++] = index[i] - 2;
    }
    return out;
  }

  /**
   * At least the bytes of every live key and value (exactly that unless a
   * compaction is under way, whose moved records count twice until their
   * old chunks go): room to copy them all without measuring each first.
   */
  get entryBytesBound(): number {
    const free = this.#chunks[this.#cur].length - this.#pos; // the chunk being filled
    return this.#used - this.#dead - free - HEADER * this.#size;
  }

  /**
   * The slot holding key `b[from, to)` with hash `h`, or -1: in `#index`,
   * else (while the index grows) in the old one; `#hit` is the one it is in.
   */
  #lookup(b: Uint8Array, from: number, to: number, h: number): number {
    this.#hit = this.#index;
    const slot = this.#slotOf(this.#index, b, from, to, h);
    if (slot >= 0 || this.#old === undefined) return slot;
    this.#hit = this.#old;
    return this.#slotOf(this.#old, b, from, to, h);
  }

  /** The slot (position in `index`) holding key `b[from, to)` with hash `h`, or -1. */
  #slotOf(index: Int32Array, b: Uint8Array, from: number, to: number, h: number): number {
    const chunks = this.#chunks;
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

  /** Puts slot value `s` (an address + 2) with hash `h` in the first EMPTY or DELETED slot on `h`'s path. */
  #place(s: number, h: number): void {
    const index = this.#index;
    const mask = index.length - 2;
    let i = (h << 1) & mask;
    while (index[i] > DELETED) i = (i + 2) & mask;
    if (index[i] === EMPTY) this.#taken++;
    index[i] = s;
    index[i + 1] = h;
  }

  /** `n` bytes of chunk `chunk` hold a record no longer live. */
  #died(chunk: number, n: number): void {
    this.#dead += n;
    this.#chunkDead[chunk] += n;
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
    this.#died(this.#cur, last.length - this.#pos);
    let size = Math.min(CHUNK, last.length * 2);
    while (size < need) size *= 2;
    const spare = size === CHUNK ? this.#spares.pop() : undefined;
    this.#cur = this.#chunk(spare ?? new Uint8Array(size));
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

  /** Adds a chunk under a released number, or a new one; returns its number. */
  #chunk(c: Uint8Array): number {
    let n = this.#freeChunks.pop();
    if (n === undefined) {
      if (this.#chunks.length >= MAX_CHUNKS) {
        throw new RangeError("store table: more than 2 GiB of records");
      }
      n = this.#chunks.push(c) - 1;
    } else this.#chunks[n] = c;
    this.#used += c.length;
    return n;
  }

  /** What a write carries on: the index's growth, else a compaction, `#step` slots of it. */
  #carryOn(): void {
    if (this.#old !== undefined) this.#move(this.#step);
    else if (this.#compactAt >= 0) this.#compact(this.#step);
  }

  /**
   * Starts a new index, twice as large when live entries fill a quarter of
   * the current one, else the same size without DELETED slots; the writes
   * after this move the current one's entries into it (`#move`).
   */
  #grow(): void {
    this.#move(Infinity); // the last growth's moves are done first (they almost always are)
    // A compaction under way walks the new index from its start once the
    // moves are done (`#carryOn` moves first): entries land anywhere in it.
    if (this.#compactAt > 0) this.#compactAt = 0;
    const old = this.#index;
    this.#old = old;
    this.#moved = 0;
    this.#index = new Int32Array(this.#size * 8 >= old.length ? old.length * 2 : old.length);
    this.#taken = 0;
  }

  /**
   * Moves up to `n` slots of the old index into the new one. Each write
   * moves 64 (about 32 entries, a few µs): the old index is empty after a
   * 64th of its slots' count in writes, long before the new one is half
   * taken and grows again, and the time in which a new key is looked up in
   * both (two cache misses instead of one) stays short.
   */
  #move(n: number): void {
    const old = this.#old;
    if (old === undefined) return;
    let i = this.#moved;
    const end = Math.min(old.length, i + n * 2);
    for (; i < end; i += 2) {
      if (old[i] <= DELETED) continue;
      this.#place(old[i], old[i + 1]);
      // DELETED, not EMPTY: the old index's probe chains must hold for the keys still in it.
      old[i] = DELETED;
    }
    this.#moved = i;
    if (i === old.length) this.#retire(old);
  }

  /**
   * The old index is empty: its memory becomes chunks for records, which
   * fill it before they need fresh pages. Why: on this VM a fresh page costs
   * ~11 µs, and the indexes a table grew out of were as many bytes as its
   * index (half of them, then a quarter...), each faulted in and freed.
   * What lies in a spare is never read: records are read at addresses
   * written.
   */
  #retire(old: Int32Array): void {
    this.#old = undefined;
    for (let at = 0; at + CHUNK <= old.byteLength; at += CHUNK) {
      this.#spares.push(new Uint8Array(old.buffer, old.byteOffset + at, CHUNK));
    }
  }

  /**
   * Begins a compaction once dead bytes take half of the chunks: every
   * chunk so far is to be emptied, and records are appended to fresh ones
   * from now on (`#compact` copies the live ones over as writes go on).
   */
  #maybeCompact(): void {
    if (this.#compactAt >= 0) return;
    if (this.#dead < this.#compactAfter || this.#dead * 2 < this.#used) return;
    // (While the index grows, the walk waits for the moves: `#carryOn`.)
    for (let n = 0; n < this.#chunks.length; n++) {
      if (this.#chunks[n] !== NO_CHUNK) this.#leaving[n] = 1;
    }
    this.#newChunk(0);
    this.#compactAt = 0;
  }

  /**
   * Copies the records of up to `n` index slots that lie in leaving chunks
   * to the chunks filled now; after the last slot, releases the leaving
   * chunks (their dead bytes go with them). Only while a compaction runs.
   */
  #compact(n: number): void {
    const index = this.#index, chunks = this.#chunks, leaving = this.#leaving;
    let i = this.#compactAt;
    const end = Math.min(index.length, i + n * 2);
    for (; i < end; i += 2) {
      if (index[i] <= DELETED) continue;
      const at = index[i] - 2;
      if (leaving[at >>> CHUNK_BITS] === 0) continue;
      const c = chunks[at >>> CHUNK_BITS], p = at & OFFSET_MASK;
      const kEnd = p + HEADER + readU32(c, p);
      index[i] = this.#append(c, p + HEADER, kEnd, c, kEnd, kEnd + readU32(c, p + 4)) + 2;
    }
    this.#compactAt = i;
    if (i < index.length) return;
    for (let k = 0; k < chunks.length; k++) {
      if (leaving[k] === 0) continue;
      leaving[k] = 0;
      this.#used -= chunks[k].length;
      this.#dead -= this.#chunkDead[k];
      this.#chunkDead[k] = 0;
      chunks[k] = NO_CHUNK;
      this.#freeChunks.push(k);
    }
    this.#compactAt = -1;
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
