/**
 * Store writes read in place: a `put` or `put_unique` command whose key and
 * value are plain scalars is taken as spans of its received bytes, so the
 * master and a clone can apply it, and the master re-broadcast it, without
 * decoding the values to `Data` and encoding them again.
 *
 * "Plain" means: encoded exactly as `encode` would encode the decoded value
 * (so the span is the key's `dataKey` bytes, or the value's encoding), and holding
 * no real (no negative zero to fold). Anything else — containers, reals,
 * subnets, a bool byte other than 0/1, an over-long length — is left to
 * `decodeCommand` (`readRawWrite` returns undefined), which accepts or
 * rejects it as before.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { readRawWrite } from "./raw_write.ts";
 * import { count, str } from "../data/mod.ts";
 * const bytes = encodeCommand({
 *   seq: 2n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "put", key: str("k"), value: count(1n), expiry: null, publisher: NIL_ENTITY },
 * });
 * const w = readRawWrite(bytes)!;
 * equal(w.valueAt - w.keyAt, 3); // the key "k": tag, length, one byte
 * ```
 *
 * @module
 */
import type { ContentLog } from "./content_log.ts";
import { type Entity, ENTITY_SIZE } from "./entity.ts";

/**
 * Where a command's content (its variant byte) starts: after seq, sender and receiver.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { CONTENT_AT } from "./raw_write.ts";
 * equal(CONTENT_AT, 56);
 * ```
 */
export const CONTENT_AT: number = 8 + 2 * ENTITY_SIZE;

/**
 * `put`'s variant byte (its index in `COMMAND_TYPES`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { COMMAND_TYPES } from "./commands.ts";
 * import { PUT } from "./raw_write.ts";
 * equal(COMMAND_TYPES[PUT], "put");
 * ```
 */
export const PUT = 0;

/**
 * `put_unique`'s variant byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { COMMAND_TYPES } from "./commands.ts";
 * import { PUT_UNIQUE } from "./raw_write.ts";
 * equal(COMMAND_TYPES[PUT_UNIQUE], "put_unique");
 * ```
 */
export const PUT_UNIQUE = 1;

/**
 * `put_unique_result`'s variant byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { COMMAND_TYPES } from "./commands.ts";
 * import { PUT_UNIQUE_RESULT } from "./raw_write.ts";
 * equal(COMMAND_TYPES[PUT_UNIQUE_RESULT], "put_unique_result");
 * ```
 */
export const PUT_UNIQUE_RESULT = 2;

/**
 * A `put` or `put_unique` without expiry whose key and value are plain
 * scalars, as spans of its command's bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { RawWrite } from "./raw_write.ts";
 * const w: RawWrite = {
 *   type: "raw_put", bytes: new Uint8Array(100), keyAt: 57, valueAt: 58, valueEnd: 59,
 *   publisherAt: 60, end: 84,
 * };
 * equal(w.end - w.publisherAt, 24);
 * ```
 */
export interface RawWrite {
  /** `raw_put` or `raw_put_unique` (never a `Command` type). */
  readonly type: "raw_put" | "raw_put_unique";
  /** The whole command (header, content, maybe trailing bytes), not to be changed. */
  readonly bytes: Uint8Array;
  /** Start of the key. */
  readonly keyAt: number;
  /** Start of the value (end of the key). */
  readonly valueAt: number;
  /** End of the value (the expiry flag, 0, is there). */
  readonly valueEnd: number;
  /** Start of the publisher entity. */
  readonly publisherAt: number;
  /** End of the content (after the publisher). */
  readonly end: number;
}

/**
 * Whether a channel's content is a `RawWrite` (rather than a decoded command).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isRawWrite } from "./raw_write.ts";
 * const keepalive: { type: string } = { type: "keepalive" };
 * equal(isRawWrite(keepalive), false);
 * ```
 */
export function isRawWrite(x: { readonly type: string }): x is RawWrite {
  return x.type === "raw_put" || x.type === "raw_put_unique";
}

/**
 * End of the plain scalar at `p` (see the module doc), or -1 when the bytes
 * there are anything else (valid or not).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { plainScalarEnd } from "./raw_write.ts";
 * equal(plainScalarEnd(new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 7]), 0), 9); // count 7
 * equal(plainScalarEnd(new Uint8Array([1, 2]), 0), -1); // bool byte 2: decode to find out
 * ```
 */
export function plainScalarEnd(b: Uint8Array, p: number): number {
  const n = b.length;
  if (p >= n) return -1;
  let end: number;
  switch (b[p]) {
    case 0: // none
      return p + 1;
    case 1: // boolean: encode writes 0 or 1
      return p + 2 <= n && b[p + 1] <= 1 ? p + 2 : -1;
    case 2: // count
    case 3: // integer
    case 9: // timestamp
    case 10: // timespan
      end = p + 9;
      break;
    case 6: // address
      end = p + 17;
      break;
    case 8: // port: number, then a protocol byte of at most 3
      return p + 4 <= n && b[p + 3] <= 3 ? p + 4 : -1;
    case 5: // string
    case 11: // enum
      return textEnd(b, p + 1);
    default:
      return -1;
  }
  return end <= n ? end : -1;
}

/** End of a varbyte length and that many bytes at `p`, or -1 (also for a non-minimal length). */
function textEnd(b: Uint8Array, p: number): number {
  const n = b.length;
  let len = 0, scale = 1;
  for (let k = 0; k < 4; k++, scale *= 128) {
    if (p >= n) return -1;
    const x = b[p++];
    len += (x & 0x7f) * scale;
    if (x < 0x80) {
      // A zero last byte after the first is a longer form than encode writes.
      if (k > 0 && x === 0) return -1;
      return len <= n - p ? p + len : -1;
    }
  }
  return -1; // 2^28 bytes or more: never a store key in practice; let the decoder judge
}

/**
 * Reads a `put` or `put_unique` command without expiry whose key and value
 * are plain scalars; undefined for every other command (and for bytes too
 * short to be one).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readRawWrite } from "./raw_write.ts";
 * equal(readRawWrite(new Uint8Array(64)), undefined); // a put of none to none needs more bytes
 * ```
 */
export function readRawWrite(bytes: Uint8Array): RawWrite | undefined {
  const w = new RawWriteSlot();
  return w.read(bytes) ? w : undefined;
}

/**
 * A `RawWrite` filled in place by `read`: a store reads every received
 * command into one slot rather than allocating a write per command. A
 * write held past the call (an early one) is copied (`ownedRawWrite`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { RawWriteSlot } from "./raw_write.ts";
 * import { count } from "../data/mod.ts";
 * const slot = new RawWriteSlot();
 * equal(slot.read(encodeCommand({
 *   seq: 2n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "put", key: count(1n), value: count(2n), expiry: null, publisher: NIL_ENTITY },
 * })), true);
 * equal(slot.valueAt - slot.keyAt, 9);
 * ```
 */
export class RawWriteSlot implements RawWrite {
  type: "raw_put" | "raw_put_unique" = "raw_put";
  bytes: Uint8Array = new Uint8Array(0);
  keyAt = 0;
  valueAt = 0;
  valueEnd = 0;
  publisherAt = 0;
  end = 0;

  /** Reads `bytes` as `readRawWrite` does; false (the slot unchanged) for any other command. */
  read(bytes: Uint8Array): boolean {
    const variant = bytes[CONTENT_AT];
    if (variant !== PUT && variant !== PUT_UNIQUE) return false;
    const keyAt = CONTENT_AT + 1;
    const valueAt = plainScalarEnd(bytes, keyAt);
    if (valueAt < 0) return false;
    const valueEnd = plainScalarEnd(bytes, valueAt);
    // No expiry: with one, the master's expiry timers need the key as Data.
    if (valueEnd < 0 || bytes[valueEnd] !== 0) return false;
    const publisherAt = valueEnd + 1 + (variant === PUT ? 0 : ENTITY_SIZE + 8);
    const end = publisherAt + ENTITY_SIZE;
    if (end > bytes.length) return false;
    this.type = variant === PUT ? "raw_put" : "raw_put_unique";
    this.bytes = bytes;
    this.keyAt = keyAt;
    this.valueAt = valueAt;
    this.valueEnd = valueEnd;
    this.publisherAt = publisherAt;
    this.end = end;
    return true;
  }
}

/**
 * `w` with its bytes copied (up to its end): for a write held past the
 * call that received it, whose bytes lie in the transport's reused read
 * buffer.
 *
 * @example
 * ```ts
 * import { equal, notEqual } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { ownedRawWrite, readRawWrite } from "./raw_write.ts";
 * import { count } from "../data/mod.ts";
 * const bytes = encodeCommand({
 *   seq: 2n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "put", key: count(1n), value: count(2n), expiry: null, publisher: NIL_ENTITY },
 * });
 * const w = readRawWrite(bytes)!;
 * const kept = ownedRawWrite(w);
 * bytes.fill(0xff); // the received bytes are reused
 * notEqual(kept.bytes[w.valueEnd - 1], 0xff);
 * equal(kept.valueEnd, w.valueEnd);
 * ```
 */
export function ownedRawWrite(w: RawWrite): RawWrite {
  return {
    type: w.type,
    bytes: w.bytes.slice(0, w.end),
    keyAt: w.keyAt,
    valueAt: w.valueAt,
    valueEnd: w.valueEnd,
    publisherAt: w.publisherAt,
    end: w.end,
  };
}

/**
 * Appends to `log` the `put` content (variant byte to publisher) the master
 * broadcasts for `w`: the command's own content for a `put`; for a
 * `put_unique`, its key, value and expiry flag with its publisher. Returns
 * its position in the log.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { ContentLog } from "./content_log.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { appendPutContent, readRawWrite } from "./raw_write.ts";
 * import { count } from "../data/mod.ts";
 * const w = readRawWrite(encodeCommand({
 *   seq: 2n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: {
 *     type: "put_unique", key: count(1n), value: count(2n), expiry: null,
 *     who: NIL_ENTITY, reqId: 7n, publisher: NIL_ENTITY,
 *   },
 * }))!;
 * const log = new ContentLog();
 * equal(log.get(appendPutContent(log, w)).length, 1 + 9 + 9 + 1 + 24);
 * ```
 */
export function appendPutContent(log: ContentLog, w: RawWrite): number {
  const { bytes, valueEnd } = w;
  if (w.type === "raw_put") return log.append(bytes, CONTENT_AT, w.end);
  // Key, value and expiry flag, then the publisher.
  const head = valueEnd + 1 - CONTENT_AT;
  const pos = log.begin(head + ENTITY_SIZE);
  const buf = log.buf, at = log.at;
  for (let i = 0; i < head; i++) buf[at + i] = bytes[CONTENT_AT + i];
  for (let i = 0; i < ENTITY_SIZE; i++) buf[at + head + i] = bytes[w.publisherAt + i];
  buf[at] = PUT;
  return pos;
}

/**
 * Appends to `log` the `put_unique_result` content the master broadcasts
 * for the `put_unique` `w`: whether it inserted, the asker and request
 * number from `w`, and the master (`self`, its 24 encoded bytes) as
 * publisher. Returns its position in the log.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { ContentLog } from "./content_log.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { appendUniqueResult, readRawWrite } from "./raw_write.ts";
 * import { count } from "../data/mod.ts";
 * const w = readRawWrite(encodeCommand({
 *   seq: 2n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: {
 *     type: "put_unique", key: count(1n), value: count(2n), expiry: null,
 *     who: NIL_ENTITY, reqId: 7n, publisher: NIL_ENTITY,
 *   },
 * }))!;
 * const log = new ContentLog();
 * equal(log.get(appendUniqueResult(log, w, true, new Uint8Array(24)))[1], 1);
 * ```
 */
export function appendUniqueResult(
  log: ContentLog,
  w: RawWrite,
  inserted: boolean,
  self: Uint8Array,
): number {
  // Variant and flag, then who and req_id as received, then the master.
  const whoAt = w.valueEnd + 1, asker = ENTITY_SIZE + 8;
  const pos = log.begin(2 + asker + ENTITY_SIZE);
  const buf = log.buf, at = log.at, bytes = w.bytes;
  buf[at] = PUT_UNIQUE_RESULT;
  buf[at + 1] = inserted ? 1 : 0;
  for (let i = 0; i < asker; i++) buf[at + 2 + i] = bytes[whoAt + i];
  for (let i = 0; i < ENTITY_SIZE; i++) buf[at + 2 + asker + i] = self[i];
  return pos;
}

/**
 * The 24 bytes of `e` on the wire.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entityBytes } from "./raw_write.ts";
 * equal(entityBytes({ endpoint: new Uint8Array(16), object: 5n })[23], 5);
 * ```
 */
export function entityBytes(e: Entity): Uint8Array {
  const out = new Uint8Array(ENTITY_SIZE);
  out.set(e.endpoint);
  new DataView(out.buffer).setBigUint64(16, e.object);
  return out;
}

/**
 * Whether the 24 bytes at `at` are `entity` (as `entityBytes` gives it).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entityAt } from "./raw_write.ts";
 * equal(entityAt(new Uint8Array(30), 2, new Uint8Array(24)), true);
 * ```
 */
export function entityAt(b: Uint8Array, at: number, entity: Uint8Array): boolean {
  for (let i = 0; i < ENTITY_SIZE; i++) if (b[at + i] !== entity[i]) return false;
  return true;
}

/**
 * The big-endian u64 at `at`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readU64 } from "./raw_write.ts";
 * equal(readU64(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]), 0), 0x100000002n);
 * ```
 */
export function readU64(b: Uint8Array, at: number): bigint {
  const hi = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  const lo = ((b[at + 4] << 24) | (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7]) >>> 0;
  // Sequence numbers and object IDs stay below 2^53: one BigInt then.
  return hi < 0x200000 ? BigInt(hi * 0x100000000 + lo) : (BigInt(hi) << 32n) | BigInt(lo);
}

/**
 * The big-endian u64 sequence number at `at` as a number, or -1 when it is
 * past 2^53 - 1 (`MAX_SEQ` in `channel.ts`), which a channel refuses.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readSeq } from "./raw_write.ts";
 * equal(readSeq(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 2]), 0), 0x100000002);
 * equal(readSeq(new Uint8Array([0, 0x20, 0, 0, 0, 0, 0, 0]), 0), -1); // 2^53
 * ```
 */
export function readSeq(b: Uint8Array, at: number): number {
  const hi = ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  const lo = ((b[at + 4] << 24) | (b[at + 5] << 16) | (b[at + 6] << 8) | b[at + 7]) >>> 0;
  return hi < 0x200000 ? hi * 0x100000000 + lo : -1;
}
