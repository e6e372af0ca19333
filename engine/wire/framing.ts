/**
 * Broker's TCP framing: every message is a 4-byte big-endian length followed
 * by that many bytes, in every phase of a connection.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { frame, FrameReader } from "./framing.ts";
 * const reader = new FrameReader();
 * reader.push(frame(new Uint8Array([0x0c])));
 * deepEqual(reader.next(), new Uint8Array([0x0c]));
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { objectArray } from "../object_array.ts";

/** Size of the length prefix. */
export const FRAME_PREFIX_SIZE = 4;

/** Default largest accepted frame payload: 64 MiB. */
export const DEFAULT_MAX_FRAME_SIZE = 64 * 1024 * 1024;

/**
 * The largest frame payload Broker takes from a peer once the handshake is
 * done: CAF's length-prefix framing refuses only lengths over INT32_MAX - 4
 * (`max_message_length`). A store's snapshot (`ack_clone`) or a value is
 * one frame, whatever its size, so a smaller bound cut a peering with a C++
 * master of an 80 MB store. The reader grows with the bytes that arrive,
 * not with the length claimed.
 */
export const BROKER_MAX_FRAME_SIZE = 2 ** 31 - 1 - 4;

/**
 * Prepends the 4-byte big-endian length to a payload (one copy). Callers that
 * build the payload themselves should rather reserve the prefix up front
 * (see `encodeEnvelope`'s `prefix` option).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { frame } from "./framing.ts";
 * deepEqual(frame(new Uint8Array([0x0c])), new Uint8Array([0, 0, 0, 1, 0x0c]));
 * ```
 */
export function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(FRAME_PREFIX_SIZE + payload.length);
  writeFramePrefix(out, 0, payload.length);
  out.set(payload, FRAME_PREFIX_SIZE);
  return out;
}

/**
 * Writes the 4-byte big-endian length `size` at `out[at]`. Byte by byte, so
 * the hot paths that build frames in a shared slab need no DataView.
 */
function writeFramePrefix(out: Uint8Array, at: number, size: number): void {
  out[at] = size >>> 24;
  out[at + 1] = (size >>> 16) & 0xff;
  out[at + 2] = (size >>> 8) & 0xff;
  out[at + 3] = size & 0xff;
}

/**
 * Completes a frame built in place: its first 4 bytes get the length of
 * everything after them (the rest of `frame`). Returns `frame`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { sealFrame } from "./framing.ts";
 * deepEqual(sealFrame(new Uint8Array([9, 9, 9, 9, 12])), new Uint8Array([0, 0, 0, 1, 12]));
 * ```
 */
export function sealFrame(frame: Uint8Array): Uint8Array {
  writeFramePrefix(frame, 0, frame.length - FRAME_PREFIX_SIZE);
  return frame;
}

/** Options of a {@linkcode FrameReader}. */
export interface FrameReaderOptions {
  /** Largest accepted payload length in bytes; longer ones throw. Default 64 MiB. */
  maxFrameSize?: number;
  /**
   * Reuse one buffer for the frames that span chunks, so such a frame is
   * valid only until the next call of `next()` (like a frame that lies in a
   * reused read buffer). A peer that writes a message at a time splits most
   * frames across reads, and a fresh buffer per frame then cost more than
   * the rest of the receive path (profiled). Default false: every assembled
   * frame gets its own memory.
   */
  reuseAssembly?: boolean;
}

/** Largest assembly buffer kept for reuse; a bigger one is dropped once its frame is out. */
const SPARE_MAX = 256 * 1024;

/** First allocation for a frame that spans chunks; it grows as bytes arrive. */
const INITIAL_ASSEMBLY = 64 * 1024;

/**
 * Splits a byte stream into frame payloads. Frames that lie inside one pushed
 * chunk come back as subarrays of it (no copy), so the caller must not reuse
 * a chunk's memory after pushing it. Only a frame split across chunks is
 * copied, into a buffer that grows with the bytes received rather than with
 * the length the peer claims.
 *
 * A zero-length frame comes back as an empty array: the handshake treats it
 * as a close, phase 3 ignores it; that is the caller's decision.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { FrameReader } from "./framing.ts";
 * const r = new FrameReader();
 * r.push(new Uint8Array([0, 0, 0, 2, 7]));
 * equal(r.next(), undefined); // incomplete
 * r.push(new Uint8Array([8, 0, 0, 0, 0]));
 * deepEqual(r.next(), new Uint8Array([7, 8]));
 * deepEqual(r.next(), new Uint8Array(0)); // a zero-length frame
 * ```
 */
export class FrameReader {
  /**
   * Largest frame accepted; a bigger length prefix is an error. It may be
   * changed between frames (a connection allows more once its peer is known).
   */
  maxFrameSize: number;
  #chunks: Uint8Array[] = objectArray();
  #pos = 0; // read position in #chunks[0]
  #buffered = 0; // bytes pushed and not yet handed out or assembled
  #header = new Uint8Array(FRAME_PREFIX_SIZE);
  #headerFill = 0;
  #want = -1; // payload length of the frame being read, -1 while reading its prefix
  #assembly: Uint8Array | undefined;
  #assemblyFill = 0;
  /** With `reuseAssembly`: the last assembly buffer, for the next frame that spans chunks. */
  #spare: Uint8Array | undefined;
  // The first chunk's buffer and offset, read once per chunk rather than per
  // frame (`buffer` and `byteOffset` are getters): a frame view made from
  // them took ~25 ns where `subarray` took ~33.
  #viewed: Uint8Array | undefined;
  #viewedBuffer: ArrayBufferLike = new ArrayBuffer(0);
  #viewedOffset = 0;
  // Where the frame `next` returned last lies, for `tail`.
  #lastBuffer: ArrayBufferLike = this.#viewedBuffer;
  #lastOffset = 0;
  #lastLength = 0;
  readonly #reuse: boolean;
  #error: BrokerError | undefined;

  /** A reader with an empty buffer. */
  constructor(options: FrameReaderOptions = {}) {
    this.maxFrameSize = options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE;
    this.#reuse = options.reuseAssembly ?? false;
  }

  /** Bytes pushed but not yet returned by {@linkcode next} (including a partial frame). */
  get bufferedBytes(): number {
    return this.#buffered + this.#headerFill + this.#assemblyFill;
  }

  /** Hands the reader bytes read from the socket. The chunk is kept, not copied. */
  /**
   * Copies the bytes still buffered out of the chunks they arrived in, so the
   * caller may reuse its read buffer. Call it when `next()` returned undefined.
   */
  compact(): void {
    const chunks = this.#chunks;
    if (chunks.length === 0) return;
    if (this.#buffered === 0) {
      this.#chunks = objectArray();
      this.#pos = 0;
      return;
    }
    const own = new Uint8Array(this.#buffered);
    let off = 0;
    for (let i = 0; i < chunks.length; i++) {
      const c = i === 0 ? chunks[0].subarray(this.#pos) : chunks[i];
      own.set(c, off);
      off += c.length;
    }
    this.#chunks = [own];
    this.#pos = 0;
  }

  /** Appends bytes read from the socket. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
  }

  /**
   * The next complete frame payload (without its prefix), or `undefined`
   * when more bytes are needed. Throws `BrokerError(invalid_message)` for a
   * length above `maxFrameSize`, and again on every later call: the stream
   * cannot be resynchronised.
   */
  next(): Uint8Array | undefined {
    if (this.#error) throw this.#error;
    if (this.#want < 0 && !this.#readHeader()) return undefined;
    const want = this.#want;
    if (this.#assembly === undefined) {
      const head = this.#chunks[0];
      if (head !== undefined && head.length - this.#pos >= want) {
        if (head !== this.#viewed) {
          this.#viewed = head;
          this.#viewedBuffer = head.buffer;
          this.#viewedOffset = head.byteOffset;
        }
        const at = this.#viewedOffset + this.#pos;
        const out = new Uint8Array(this.#viewedBuffer, at, want);
        this.#lastBuffer = this.#viewedBuffer;
        this.#lastOffset = at;
        this.#lastLength = want;
        this.#consume(want);
        this.#want = -1;
        return out;
      }
      if (want === 0) {
        this.#want = -1;
        return this.#last(new Uint8Array(0));
      }
      if (this.#buffered === 0) return undefined;
      // A spare of any size will do: #reserve grows it as bytes arrive.
      this.#assembly = this.#spare ??
        new Uint8Array(Math.min(want, Math.max(INITIAL_ASSEMBLY, this.#buffered)));
      this.#spare = undefined;
    }
    // The frame spans chunks: gather it.
    while (this.#assemblyFill < want && this.#buffered > 0) {
      const head = this.#chunks[0];
      const n = Math.min(head.length - this.#pos, want - this.#assemblyFill);
      this.#reserve(this.#assemblyFill + n, want);
      this.#assembly!.set(head.subarray(this.#pos, this.#pos + n), this.#assemblyFill);
      this.#assemblyFill += n;
      this.#consume(n);
    }
    if (this.#assemblyFill < want) return undefined;
    const buf = this.#assembly!;
    const out = buf.length === want ? buf : buf.subarray(0, want);
    if (this.#reuse && buf.length <= SPARE_MAX) this.#spare = buf;
    this.#assembly = undefined;
    this.#assemblyFill = 0;
    this.#want = -1;
    return this.#last(out);
  }

  #last(frame: Uint8Array): Uint8Array {
    this.#lastBuffer = frame.buffer;
    this.#lastOffset = frame.byteOffset;
    this.#lastLength = frame.length;
    return frame;
  }

  /**
   * The frame `next` returned last, from its byte `from` on, as a view:
   * `frame.subarray(from)` without reading the frame's buffer and offset
   * through their getters (a message's payload view took ~16 ns where
   * `subarray` took ~25). `from` is at most the frame's length; the view
   * shares the frame's memory.
   *
   * @example
   * ```ts
   * import { FrameReader } from "./framing.ts";
   * const r = new FrameReader();
   * r.push(new Uint8Array([0, 0, 0, 3, 7, 8, 9]));
   * r.next();
   * if (r.tail(1).join() !== "8,9") throw new Error("the frame's last two bytes");
   * ```
   */
  tail(from: number): Uint8Array {
    return new Uint8Array(this.#lastBuffer, this.#lastOffset + from, this.#lastLength - from);
  }

  /** Reads the 4-byte prefix, possibly across chunks; false when incomplete. */
  #readHeader(): boolean {
    const head = this.#chunks[0];
    if (this.#headerFill === 0 && head !== undefined && head.length - this.#pos >= 4) {
      const p = this.#pos;
      this.#setWant(
        ((head[p] << 24) | (head[p + 1] << 16) | (head[p + 2] << 8) | head[p + 3]) >>> 0,
      );
      this.#consume(4);
      return true;
    }
    while (this.#headerFill < 4 && this.#buffered > 0) {
      this.#header[this.#headerFill++] = this.#chunks[0][this.#pos];
      this.#consume(1);
    }
    if (this.#headerFill < 4) return false;
    this.#headerFill = 0;
    const h = this.#header;
    this.#setWant(((h[0] << 24) | (h[1] << 16) | (h[2] << 8) | h[3]) >>> 0);
    return true;
  }

  #setWant(length: number): void {
    if (length > this.maxFrameSize) {
      this.#error = new BrokerError(
        ErrorCode.invalid_message,
        `frame of ${length} bytes exceeds the limit of ${this.maxFrameSize}` + tlsHint(length),
      );
      throw this.#error;
    }
    this.#want = length;
  }

  #consume(n: number): void {
    this.#pos += n;
    this.#buffered -= n;
    if (this.#pos === this.#chunks[0].length) {
      this.#chunks.shift();
      this.#pos = 0;
    }
  }

  /**
   * Grows the assembly buffer geometrically, never past the frame's length,
   * and to the whole length at once when a quarter of the frame is needed.
   * Why: doubling took a clone's 20 MB `ack_clone` through buffers of 8, 16
   * and 20 MiB, each copied and faulted in anew; a peer that claims a large
   * frame and stops sending still gets no more than four times what it sent.
   */
  #reserve(size: number, want: number): void {
    const buf = this.#assembly!;
    if (size <= buf.length) return;
    const grown = new Uint8Array(
      size * 4 >= want ? want : Math.min(want, Math.max(size, buf.length * 2)),
    );
    grown.set(buf.subarray(0, this.#assemblyFill));
    this.#assembly = grown;
  }
}

/**
 * Why a plain peer reads an absurd length where a TLS peer speaks: a TLS
 * record (type 20-23, version 3.x) read as a length prefix. Said in the
 * error, as Broker's own message ("frame too large") leaves users guessing.
 */
function tlsHint(length: number): string {
  const type = length >>> 24, major = (length >>> 16) & 0xff, minor = (length >>> 8) & 0xff;
  return type >= 20 && type <= 23 && major === 3 && minor <= 4
    ? " (these bytes begin a TLS record: the peer runs TLS, so SSL must be on here too, or off there)"
    : "";
}
