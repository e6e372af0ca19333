/**
 * The shared output slab every encoder writes into: one big buffer handed
 * out in subarrays instead of an ArrayBuffer per message.
 *
 * @module
 */

/** UTF-8 encoder shared by the writers of text. */
export const utf8Enc = new TextEncoder();

/**
 * Output slab with big-endian writers. Allocating an ArrayBuffer per message
 * costs more than encoding a small one, so each encoding is written after the
 * previous one in a shared slab and handed out as a subarray (the msgpackr
 * trick); a full slab is replaced, never overwritten.
 */
export class Writer {
  /**
   * Below glibc's mmap threshold (128 KiB), so a slab comes from the malloc
   * heap, which reuses the slabs the collector freed. A 1 MiB slab was a
   * fresh mmap each time: every page of it faulted in anew (~6 µs a fault
   * on this VM), which cost more than building the messages in it.
   */
  static readonly SLAB = 64 * 1024;
  buf: Uint8Array<ArrayBuffer>;
  dv: DataView<ArrayBuffer>;
  /** `buf`'s buffer, at hand for {@linkcode view} (`buf.buffer` is a getter). */
  ab: ArrayBuffer;
  start = 0;
  pos = 0;
  /**
   * `buf.length`, kept in a field for `reserve`, which runs once per value
   * written: reading the typed array's length there instead cost ~15 ns of
   * the ~550 a `DataBuilder` takes for a conn event (measured). Declared
   * with a small integer so V8 keeps it as one (declared bare, it starts as
   * `undefined` and becomes a tagged field that every read checks).
   */
  limit = 0;
  /** The size a replacement starts from (doubled until the message fits twice). */
  readonly #base: number;
  /**
   * Told how far the message begun so far moved when a full buffer was
   * replaced (it moves to the new buffer's start): a writer that notes
   * positions in its message (`DataBuilder`) shifts them by as much.
   */
  moved?: (by: number) => void;

  /** A writer over a fresh buffer of `size` bytes (a private one may start small). */
  constructor(size: number = Writer.SLAB) {
    this.buf = new Uint8Array(size);
    this.ab = this.buf.buffer;
    this.dv = new DataView(this.ab);
    this.limit = size;
    this.#base = size;
  }

  /**
   * Starts a message right after the last one: messages written one after
   * another touch, and the transport sends a run of them without a copy.
   */
  begin(): void {
    this.start = this.pos;
    if (this.start > this.limit - 64) this.#replace(64);
  }

  reserve(n: number): void {
    if (this.pos + n <= this.limit) return;
    this.#replace(this.pos - this.start + n);
  }

  // Moves the message begun so far to a fresh slab with room for `need` bytes.
  #replace(need: number): void {
    let size = this.#base;
    while (size < need * 2) size *= 2;
    const next = new Uint8Array(size);
    const from = this.start;
    next.set(this.buf.subarray(from, this.pos));
    // Subtracted, not added negated: `-0` is a heap number, and `pos` must
    // only ever hold small integers (see `utf8`).
    this.pos -= from;
    this.start = 0;
    this.buf = next;
    this.ab = next.buffer;
    this.limit = size;
    this.dv = new DataView(this.ab);
    if (from !== 0) this.moved?.(-from);
  }

  /**
   * Bytes `from` to `to` of the buffer as a new view: with the buffer at
   * hand, `new Uint8Array(buffer, ...)` took ~25 ns where `subarray` took
   * ~33, once per message handed out.
   */
  view(from: number, to: number): Uint8Array<ArrayBuffer> {
    return new Uint8Array(this.ab, from, to - from);
  }

  varbyte(v: number): void {
    this.reserve(5);
    while (v > 0x7f) {
      this.buf[this.pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[this.pos++] = v;
  }

  bytes(b: Uint8Array): void {
    this.varbyte(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /**
   * `s` as a one-byte length and its characters, when it is ASCII and
   * shorter than 128 characters and room for them is reserved; otherwise
   * false, with nothing written (`utf8` then writes it).
   */
  ascii(s: string): boolean {
    const n = s.length;
    if (n >= 128) return false;
    const buf = this.buf, start = this.pos + 1;
    for (let k = 0; k < n; k++) {
      const ch = s.charCodeAt(k);
      if (ch > 0x7f) return false;
      buf[start + k] = ch;
    }
    buf[this.pos] = n;
    this.pos = start + n;
    return true;
  }

  text(s: string, raw: Uint8Array | undefined): void {
    if (raw) return this.bytes(raw);
    const n = s.length;
    if (n < 128) {
      this.reserve(n + 1);
      if (this.ascii(s)) return;
    }
    this.utf8(s);
  }

  /** `s` as a varbyte length and its UTF-8 bytes (what `text` writes when `ascii` cannot). */
  utf8(s: string): void {
    // UTF-8 needs at most 3 bytes per UTF-16 unit; encode, then place the length.
    this.reserve(s.length * 3 + 5);
    const tmpStart = this.pos + 5;
    // `| 0`: Deno's encodeInto returns `written` as a heap number, and one
    // such number stored in `pos` made V8 keep every writer's position as a
    // double from then on: a conn event's DataBuilder took ~30% longer.
    const written = utf8Enc.encodeInto(s, this.buf.subarray(tmpStart)).written | 0;
    const lenBytes = written < 0x80 ? 1 : written < 0x4000 ? 2 : written < 0x200000 ? 3 : 4;
    this.buf.copyWithin(this.pos + lenBytes, tmpStart, tmpStart + written);
    this.varbyte(written);
    this.pos += written;
  }
}

let shared: Writer = new Writer();

/** The shared slab, begun for a new message after the last one. */
export function beginShared(): Writer {
  const w = shared;
  w.begin();
  return w;
}

/**
 * Hands out the message written since `begin` and, if the slab had to grow
 * for it, starts a fresh one: a slab grown for one huge value is not kept for
 * the small ones after it.
 */
export function finishShared(w: Writer): Uint8Array {
  const out = w.view(w.start, w.pos);
  if (w.buf.length > Writer.SLAB) shared = new Writer();
  return out;
}

/**
 * Copies bytes into the shared output slab (after `headroom` zero bytes) and
 * returns the copy: a private, writable buffer (e.g. a forwarded frame with a
 * rewritten field) without allocating an ArrayBuffer per message.
 *
 * @example
 * ```ts
 * import { copyToSlab } from "./slab.ts";
 * const copy = copyToSlab(new Uint8Array([1, 2, 3]));
 * copy[0] = 9; // the original is untouched
 * ```
 */
export function copyToSlab(bytes: Uint8Array, headroom = 0): Uint8Array {
  const w = beginShared();
  w.reserve(headroom + bytes.length);
  w.buf.fill(0, w.pos, w.pos + headroom);
  w.buf.set(bytes, w.pos + headroom);
  w.pos += headroom + bytes.length;
  return finishShared(w);
}

/**
 * `head` then `body` in the shared output slab, as one view: a framed
 * message from a cached header and a payload, without zeroing room for the
 * header first (`copyToSlab` zeroes its headroom).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { concatToSlab } from "./slab.ts";
 * deepEqual([...concatToSlab(new Uint8Array([1, 2]), new Uint8Array([3]))], [1, 2, 3]);
 * ```
 */
export function concatToSlab(head: Uint8Array, body: Uint8Array): Uint8Array {
  const w = beginShared();
  w.reserve(head.length + body.length);
  w.buf.set(head, w.pos);
  w.buf.set(body, w.pos + head.length);
  w.pos += head.length + body.length;
  return finishShared(w);
}
