/**
 * Finds whole multipart messages in received ZMTP bytes without cutting
 * them into frame objects, for a proxy that forwards messages as they came:
 * per message, where its frames lie and where its first frame (the topic a
 * subscription prefixes) lies, as numbers in a reused array. Command frames
 * go to a callback (the session handles them); one that arrives between the
 * frames of a message is cut out of the buffer, so each message stays one
 * run of bytes. Sans-I/O.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeMessage } from "./frame.ts";
 * import { MessageScanner } from "./scan.ts";
 * const te = new TextEncoder();
 * const bytes = encodeMessage([te.encode("topic"), te.encode("body")]);
 * const s = new MessageScanner(() => true);
 * equal(s.scan(bytes, 0, bytes.length), bytes.length); // all consumed
 * equal(s.count, 1);
 * equal(s.records[0], 2); // the topic's body starts after a 2-byte frame head
 * equal(s.records[1], 7);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { DEFAULT_MAX_ZMTP_FRAME_SIZE, FrameFlag } from "./frame.ts";

/** Numbers per message in {@link MessageScanner.records}. */
export const RECORD_SIZE = 4;

/**
 * Called with a whole command frame (flags, size, body), a view valid
 * during the call only. Returns false to stop scanning (the session failed).
 */
export type CommandHandler = (frame: Uint8Array) => boolean;

const RESERVED = ~(FrameFlag.more | FrameFlag.long | FrameFlag.command) & 0xff;

/**
 * The length of the whole frame at `at` (head and body), or -1 when it is
 * not all in `buf[at, end)` yet. Throws `invalid_message` as
 * {@link FrameDecoder} does: reserved flag bits, a command with MORE, a
 * body over `maxFrameSize`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { frameLength } from "./scan.ts";
 * equal(frameLength(new Uint8Array([0, 3, 1, 2, 3]), 0, 5), 5);
 * equal(frameLength(new Uint8Array([0, 3, 1]), 0, 3), -1);
 * ```
 */
export function frameLength(
  buf: Uint8Array,
  at: number,
  end: number,
  maxFrameSize = DEFAULT_MAX_ZMTP_FRAME_SIZE,
): number {
  if (end - at < 2) return -1;
  const flags = buf[at];
  if (flags & RESERVED) {
    throw new BrokerError(
      ErrorCode.invalid_message,
      `ZMTP frame flags 0x${flags.toString(16)} set reserved bits`,
    );
  }
  if ((flags & (FrameFlag.command | FrameFlag.more)) === (FrameFlag.command | FrameFlag.more)) {
    throw new BrokerError(ErrorCode.invalid_message, "a ZMTP command frame with MORE set");
  }
  let size: number, head: number;
  if (flags & FrameFlag.long) {
    if (end - at < 9) return -1;
    // Big-endian 64 bits: anything in the high word is over any limit we take.
    const high = ((buf[at + 1] << 24) | (buf[at + 2] << 16) | (buf[at + 3] << 8) | buf[at + 4]) >>>
      0;
    size = ((buf[at + 5] << 24) | (buf[at + 6] << 16) | (buf[at + 7] << 8) | buf[at + 8]) >>> 0;
    if (high !== 0) size = Infinity;
    head = 9;
  } else {
    size = buf[at + 1];
    head = 2;
  }
  if (size > maxFrameSize) {
    throw new BrokerError(
      ErrorCode.invalid_message,
      `ZMTP frame of ${
        size === Infinity ? "2^32 or more" : size
      } bytes is over the ${maxFrameSize}-byte limit`,
    );
  }
  return end - at - head < size ? -1 : head + size;
}

/** Finds whole messages in received bytes (see the module doc). */
export class MessageScanner {
  /**
   * Per message found by the last {@link scan}, {@link RECORD_SIZE}
   * numbers: its topic's start and end, then its frames' start and end
   * (offsets in the scanned buffer). Reused from scan to scan.
   */
  records: Int32Array = new Int32Array(RECORD_SIZE * 1024);
  /** How many messages the last {@link scan} found. */
  count = 0;
  /** Where the bytes end after the last {@link scan} (commands inside a message were cut out). */
  end = 0;
  readonly #onCommand: CommandHandler;
  readonly #maxFrameSize: number;

  /** A scanner handing command frames to `onCommand`. */
  constructor(onCommand: CommandHandler, maxFrameSize = DEFAULT_MAX_ZMTP_FRAME_SIZE) {
    this.#onCommand = onCommand;
    this.#maxFrameSize = maxFrameSize;
  }

  /**
   * Scans `buf[start, end)`; returns where the first message not wholly
   * there starts (`end` when none), from where to scan again once more
   * bytes came. Throws a {@link BrokerError} for a malformed frame (the
   * stream is unusable then, as ZMTP has no resync).
   */
  scan(buf: Uint8Array, start: number, end: number): number {
    const max = this.#maxFrameSize;
    let records = this.records;
    let count = 0;
    let at = start, msgStart = start, topicStart = -1, topicEnd = -1;
    while (true) {
      const flags = buf[at];
      let n: number;
      if ((flags & ~FrameFlag.more) === 0 && end - at >= 2) {
        // A short message frame, most of them: no call, no checks to make.
        n = 2 + buf[at + 1];
        if (n - 2 > max) frameLength(buf, at, end, max); // throws: over the limit
        if (at + n > end) break;
      } else {
        n = frameLength(buf, at, end, max);
        if (n < 0) break;
      }
      if (flags & FrameFlag.command) {
        const keepGoing = this.#onCommand(buf.subarray(at, at + n));
        if (at === msgStart) {
          at += n;
          msgStart = at;
        } else {
          // Inside a message: cut it out so the message's frames stay one run.
          buf.copyWithin(at, at + n, end);
          end -= n;
        }
        if (!keepGoing) break;
        continue;
      }
      if (topicStart < 0) {
        topicStart = at + (flags & FrameFlag.long ? 9 : 2);
        topicEnd = at + n;
      }
      at += n;
      if (flags & FrameFlag.more) continue;
      if (RECORD_SIZE * (count + 1) > records.length) {
        const grown = new Int32Array(records.length * 2);
        grown.set(records);
        this.records = records = grown;
      }
      const r = RECORD_SIZE * count++;
      records[r] = topicStart;
      records[r + 1] = topicEnd;
      records[r + 2] = msgStart;
      records[r + 3] = at;
      msgStart = at;
      topicStart = -1;
    }
    this.count = count;
    this.end = end;
    return msgStart;
  }
}
