/**
 * ZMTP 3.x frames (RFC 37, "Framing"): a flags byte (MORE, LONG, COMMAND),
 * a size of 1 or 8 bytes (big-endian), the body. Message frames carry the
 * parts of a multipart message (MORE on all but the last); command frames
 * carry a name (1-byte length) and data. Sans-I/O: {@link FrameDecoder}
 * takes bytes as they come and hands out whole frames.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeFrame, FrameDecoder } from "./frame.ts";
 * const d = new FrameDecoder();
 * d.push(encodeFrame({ command: false, more: false, body: new Uint8Array([104, 105]) }));
 * deepEqual(d.next()?.body, new Uint8Array([104, 105]));
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";

/** Flag bits of a frame's first byte. */
export const FrameFlag = {
  /** More frames of this message follow. */
  more: 0x01,
  /** The size is 8 bytes rather than 1. */
  long: 0x02,
  /** A command frame rather than a message frame. */
  command: 0x04,
} as const;

/** Default largest frame body accepted: 64 MiB, as Broker's frames. */
export const DEFAULT_MAX_ZMTP_FRAME_SIZE = 64 * 1024 * 1024;

/** One frame. */
export interface ZmtpFrame {
  /** Whether it is a command frame (never has `more`). */
  command: boolean;
  /** Whether more frames of the same message follow. */
  more: boolean;
  /** The body (a command's name and data, or one message part). */
  body: Uint8Array;
  /**
   * Whether the size was written in 8 bytes. Optional when encoding:
   * libzmq's rule (bodies over 255 bytes) applies. Kept by the decoder so
   * a frame re-encodes to the bytes it came from.
   */
  long?: boolean;
}

/**
 * Writes a frame.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeFrame } from "./frame.ts";
 * deepEqual(encodeFrame({ command: false, more: true, body: new Uint8Array([7]) }), new Uint8Array([1, 1, 7]));
 * ```
 */
export function encodeFrame(frame: ZmtpFrame): Uint8Array {
  const n = frame.body.length;
  const long = frame.long ?? n > 255;
  if (!long && n > 255) {
    throw new BrokerError(ErrorCode.invalid_data, `a short ZMTP frame holds 255 bytes, not ${n}`);
  }
  const head = long ? 9 : 2;
  const out = new Uint8Array(head + n);
  out[0] = (frame.more ? FrameFlag.more : 0) | (long ? FrameFlag.long : 0) |
    (frame.command ? FrameFlag.command : 0);
  if (long) new DataView(out.buffer).setBigUint64(1, BigInt(n));
  else out[1] = n;
  out.set(frame.body, head);
  return out;
}

/**
 * Writes a multipart message: one message frame per part, MORE on all but
 * the last. A message has at least one part.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeMessage } from "./frame.ts";
 * const te = new TextEncoder();
 * deepEqual(encodeMessage([te.encode("a"), te.encode("b")]), new Uint8Array([1, 1, 97, 0, 1, 98]));
 * ```
 */
export function encodeMessage(
  parts: readonly Uint8Array[],
  alloc: (size: number) => Uint8Array = (size) => new Uint8Array(size),
): Uint8Array {
  if (parts.length === 0) {
    throw new BrokerError(ErrorCode.invalid_data, "a ZMTP message has at least one part");
  }
  // One buffer for all frames (this is on every message's path).
  let size = 0;
  for (const p of parts) size += (p.length > 255 ? 9 : 2) + p.length;
  const out = alloc(size);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const body = parts[i];
    const n = body.length;
    const more = i < parts.length - 1 ? FrameFlag.more : 0;
    if (n > 255) {
      out[at] = more | FrameFlag.long;
      new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(n));
      at += 9;
    } else {
      out[at] = more;
      out[at + 1] = n;
      at += 2;
    }
    out.set(body, at);
    at += n;
  }
  return out;
}

/**
 * Cuts a byte stream (after the greeting) into frames. `push` bytes as they
 * arrive, then call `next` until it returns undefined. `next` throws a
 * {@link BrokerError} — `invalid_message` for reserved flag bits or a
 * command with MORE, `invalid_message` for a frame over `maxFrameSize` —
 * and the stream is unusable after that (ZMTP has no resync).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { FrameDecoder } from "./frame.ts";
 * const d = new FrameDecoder();
 * d.push(new Uint8Array([0x04, 0x05, 0x04]));
 * equal(d.next(), undefined); // 4 body bytes still to come
 * d.push(new TextEncoder().encode("PING"));
 * equal(d.next()?.command, true);
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  #buf = new Uint8Array(0);
  #start = 0;
  #end = 0;

  /** A decoder refusing bodies over `maxFrameSize` bytes. */
  constructor(maxFrameSize = DEFAULT_MAX_ZMTP_FRAME_SIZE) {
    this.#maxFrameSize = maxFrameSize;
  }

  /** Bytes received and not yet handed out as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  /**
   * Appends received bytes (copied; the caller may reuse `chunk`). Bytes
   * handed out as frame bodies are never overwritten: new bytes go after
   * them, or into a new buffer when this one is full.
   */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    if (this.#end + chunk.length > this.#buf.length) {
      const live = this.#end - this.#start;
      const grown = new Uint8Array(Math.max(2 * (live + chunk.length), 64 * 1024));
      grown.set(this.#buf.subarray(this.#start, this.#end), 0);
      this.#buf = grown;
      this.#start = 0;
      this.#end = live;
    }
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.length;
  }

  /**
   * The next whole frame, or undefined until more bytes arrive. Its body is
   * a view of the decoder's buffer (no copy per frame), never overwritten.
   */
  next(): ZmtpFrame | undefined {
    const avail = this.#end - this.#start;
    if (avail < 2) return undefined;
    const b = this.#buf, at = this.#start;
    const flags = b[at];
    if (flags & ~(FrameFlag.more | FrameFlag.long | FrameFlag.command)) {
      throw new BrokerError(
        ErrorCode.invalid_message,
        `ZMTP frame flags 0x${flags.toString(16)} set reserved bits`,
      );
    }
    const command = (flags & FrameFlag.command) !== 0, more = (flags & FrameFlag.more) !== 0;
    if (command && more) {
      throw new BrokerError(ErrorCode.invalid_message, "a ZMTP command frame with MORE set");
    }
    const long = (flags & FrameFlag.long) !== 0;
    const head = long ? 9 : 2;
    if (avail < head) return undefined;
    let size: number;
    if (long) {
      const big = new DataView(b.buffer, b.byteOffset + at + 1, 8).getBigUint64(0);
      if (big > BigInt(this.#maxFrameSize)) this.#tooLarge(big);
      size = Number(big);
    } else {
      size = b[at + 1];
    }
    if (size > this.#maxFrameSize) this.#tooLarge(BigInt(size));
    if (avail < head + size) return undefined;
    const body = b.subarray(at + head, at + head + size);
    this.#start += head + size;
    return { command, more, body, long };
  }

  #tooLarge(size: bigint): never {
    throw new BrokerError(
      ErrorCode.invalid_message,
      `ZMTP frame of ${size} bytes is over the ${this.#maxFrameSize}-byte limit`,
    );
  }
}
