/**
 * The encoded contents a master has broadcast and must keep until every
 * clone acked them (Broker's clones ack every 5 ticks, ~500 ms): one byte
 * log, first in first out, instead of one object per content.
 *
 * Why: at 100k writes/s half a second of contents is 50k live objects (a
 * view or a command each), and every one of them survived the young
 * generation's collections and was copied by each. Here a content is a
 * position (a number) into chunks of bytes; chunks whose contents are all
 * acked are dropped, and a few are kept to be filled again, so that their
 * pages are not faulted in anew.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { ContentLog } from "./content_log.ts";
 * const log = new ContentLog();
 * const at = log.append(new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 1]), 0, 9);
 * deepEqual(Array.from(log.get(at)), [9, 0, 0, 0, 0, 0, 0, 0, 1]);
 * log.release(log.next); // everything acked
 * ```
 *
 * @module
 */

/** Size of a chunk (a larger content gets a chunk of its own size). */
const CHUNK = 1 << 20;
/** Bytes before a content: its length, u32. */
const HEADER = 4;
/**
 * Released chunks kept for reuse while contents keep coming. Half a second
 * of writes (a clone's ack comes every ~500 ms) at 500k puts/s is 12–14
 * chunks of 48-byte contents: with 4 kept, a master and a clone each
 * dropped most of the chunks every ack released and allocated as many new
 * ones (zeroed, and counted by V8 as external memory, which brings full
 * collections), and a 2M-put phase of `bench/store_compare.ts` ran at
 * 378–520k puts/s against 545–566k with 16.
 */
const SPARES = 16;

/**
 * The log. Positions only grow; `get` answers for positions not yet released.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ContentLog } from "./content_log.ts";
 * const log = new ContentLog();
 * const at = log.begin(2); // then write two bytes at log.buf[log.at]
 * log.buf[log.at] = 7;
 * log.buf[log.at + 1] = 8;
 * equal(log.get(at)[1], 8);
 * ```
 */
export class ContentLog {
  #chunks: Uint8Array[] = [];
  /** Position of each chunk's first byte. */
  #bases: number[] = [];
  /** Fill mark of the last chunk. */
  #fill = 0;
  #next = 0;
  /** Released chunks, kept for the next ones. */
  #spares: Uint8Array[] = [];
  /** Where `begin` placed the content (write it at `buf[at ...]`), or where `locate` found one. */
  buf: Uint8Array = new Uint8Array(0);
  /** See `buf`. */
  at = 0;

  /** Position the next content gets. */
  get next(): number {
    return this.#next;
  }

  /** Chunks held (for tests and metrics). */
  get chunks(): number {
    return this.#chunks.length;
  }

  /** Starts a content of `n` bytes, to be written at `buf[at ...]`; returns its position. */
  begin(n: number): number {
    const need = HEADER + n;
    let last = this.#chunks.length - 1;
    if (last < 0 || this.#fill + need > this.#chunks[last].length) {
      const c = need <= CHUNK && this.#spares.length > 0
        ? this.#spares.pop()!
        : new Uint8Array(Math.max(CHUNK, need));
      this.#chunks.push(c);
      this.#bases.push(this.#next);
      this.#fill = 0;
      last++;
    }
    const c = this.#chunks[last], p = this.#fill;
    c[p] = n;
    c[p + 1] = n >>> 8;
    c[p + 2] = n >>> 16;
    c[p + 3] = n >>> 24;
    this.buf = c;
    this.at = p + HEADER;
    const pos = this.#next;
    this.#fill = p + need;
    this.#next = pos + need;
    return pos;
  }

  /** Appends `src[from, to)`; returns its position. */
  append(src: Uint8Array, from: number, to: number): number {
    const pos = this.begin(to - from);
    const buf = this.buf, at = this.at;
    if (to - from > 64) buf.set(src.subarray(from, to), at);
    else for (let i = from; i < to; i++) buf[at + i - from] = src[i];
    return pos;
  }

  /** The content at `pos` (a view). */
  get(pos: number): Uint8Array {
    const n = this.locate(pos);
    return this.buf.subarray(this.at, this.at + n);
  }

  /**
   * Finds the content at `pos` without making a view of it: it lies at
   * `buf[at, at + n)` afterwards, where `n` is what this returns (for the
   * send path, which copies it into a frame at once).
   */
  locate(pos: number): number {
    let i = this.#bases.length - 1;
    while (i > 0 && this.#bases[i] > pos) i--;
    const c = this.#chunks[i], p = pos - this.#bases[i];
    this.buf = c;
    this.at = p + HEADER;
    return (c[p] | (c[p + 1] << 8) | (c[p + 2] << 16) | (c[p + 3] << 24)) >>> 0;
  }

  /** Contents before position `oldest` are no longer needed. */
  release(oldest: number): void {
    const bases = this.#bases, chunks = this.#chunks;
    if (oldest >= this.#next && chunks.length > 0) {
      // Nothing live: keep the last chunk and fill it from its start again;
      // the spares go, as the writes have paused.
      const last = chunks[chunks.length - 1];
      this.#spares = [];
      this.#chunks = [last];
      this.#bases = [this.#next];
      this.#fill = 0;
      return;
    }
    let n = 0;
    while (n + 1 < bases.length && bases[n + 1] <= oldest) n++;
    if (n === 0) return;
    for (let i = 0; i < n; i++) this.#keep(chunks[i]);
    chunks.splice(0, n);
    bases.splice(0, n);
  }

  #keep(c: Uint8Array): void {
    if (c.length === CHUNK && this.#spares.length < SPARES) this.#spares.push(c);
  }
}
