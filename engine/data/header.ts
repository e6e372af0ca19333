/**
 * A header-only scan of an encoded value (`scanHeader`): its top-level type
 * and, when it is shaped like a Zeek message, the message type, event name
 * and argument count, read from the first bytes without validating or
 * building the rest. For a router or a filter that decides from the name.
 *
 * @module
 */
import { WasmError } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { shortText, utf8Lossy } from "./read_text.ts";
import { type DataType, TYPE_NAMES } from "./types.ts";
import { asBytes, wasmError } from "./validate.ts";

/** What {@link scanHeader} reads; fields that do not apply are `undefined`. */
export interface DataHeader {
  /** The top-level type. */
  readonly type: DataType;
  /** Elements of a top-level set or vector, entries of a table; undefined for scalars. */
  readonly length: number | undefined;
  /**
   * The Zeek message type (`ZeekMessageType`: 1 event, 2 log_create,
   * 3 log_write, 4 identifier_update, 5 batch) when the value has a Zeek
   * message's envelope: a vector of at least 3 fields, version count 1, a
   * type count from 1 to 5 and a vector of content.
   */
  readonly zeekType: number | undefined;
  /**
   * An event's name (read as `decode` reads it: UTF-8, lossy when the bytes
   * are not), when its content has 2 fields or more and field 0 is a string.
   */
  readonly eventName: string | undefined;
  /** An event's argument count, when it has a name and content field 1 is a vector. */
  readonly argCount: number | undefined;
}

/**
 * The varbyte length at `u8[p]`, checked as the validator checks it (at most
 * 32 bits) and against the bytes left, of which a container needs one per
 * element at least; the offset after it goes to `lengthEnd`.
 */
function lengthAt(u8: Uint8Array, p: number): number {
  if (p >= u8.length) throw wasmError(WasmError.eof);
  let len = u8[p++];
  if (len >= 0x80) {
    len &= 0x7f;
    for (let shift = 7;; shift += 7) {
      if (p >= u8.length) throw wasmError(WasmError.eof);
      const b = u8[p++];
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
      if (shift === 28) throw wasmError(WasmError.varbyte);
    }
    if (len > 0xffffffff) throw wasmError(WasmError.varbyte);
  }
  if (len > u8.length - p) throw wasmError(WasmError.length);
  lengthEnd = p;
  return len;
}
let lengthEnd = 0;

/** The tag at `u8[p]`, checked. */
function tagAt(u8: Uint8Array, p: number): number {
  if (p >= u8.length) throw wasmError(WasmError.eof);
  const t = u8[p];
  if (t > 14) throw new BrokerError(ErrorCode.invalid_tag, "unknown data tag");
  return t;
}

/** The low byte of the count at `u8[p]` when its other seven bytes are zero, else -1. */
function smallCountAt(u8: Uint8Array, p: number): number {
  if (p + 8 > u8.length) throw wasmError(WasmError.eof);
  return isZero7(u8, p) ? u8[p + 7] : -1;
}

/** One shape for every result (fields that do not apply are undefined). */
function header(
  type: DataType,
  length: number | undefined,
  zeekType: number | undefined,
  eventName: string | undefined,
  argCount: number | undefined,
): DataHeader {
  return { type, length, zeekType, eventName, argCount };
}

/**
 * Reads the header of an encoded value in Broker's binary format v1: its
 * top-level type and element count, and for a Zeek message its type, and for
 * an event its name and argument count. It reads only the bytes up to the
 * start of the arguments, so it costs the same for a 50-byte and a 50-KB
 * event; the topic is not in the value (it travels beside it in the frame).
 *
 * It does not validate what it does not read: bytes whose header reads
 * fine may still fail `decode` or `validate`. Bad bytes in the header are a
 * `BrokerError` (`invalid_tag`, `deserialization_failed`), never anything
 * else; a value that is valid data but not shaped like a Zeek message (or
 * an event whose name or arguments have the wrong type) leaves those fields
 * `undefined`.
 *
 * @example
 * ```ts
 * import { scanHeader } from "./header.ts";
 * import { encode } from "./encode.ts";
 * import { count, str, vector } from "./constructors.ts";
 * const ev = vector(count(1n), count(1n), vector(str("ping"), vector(str("hi"), count(2n))));
 * const h = scanHeader(encode(ev));
 * if (h.zeekType !== 1 || h.eventName !== "ping" || h.argCount !== 2) throw new Error("header");
 * if (scanHeader(encode(str("x"))).type !== "string") throw new Error("type");
 * ```
 */
export function scanHeader(bytes: Uint8Array): DataHeader {
  const u8 = asBytes(bytes), end = u8.length;
  // The common case in straight-line code: an event with one-byte lengths
  // and a short ASCII name, all within the input. The checks that follow
  // (helpers, every error) cost three times as much, so they run only when
  // one of these tests fails.
  if (end >= 26 && u8[0] === 14 && u8[2] === 2 && u8[11] === 2 && u8[20] === 14 && u8[22] === 5) {
    const n = u8[1], fields = u8[21], len = u8[23], args = 24 + len;
    if (
      n >= 3 && n < 0x80 && n <= end - 2 && fields >= 2 && fields < 0x80 &&
      fields <= end - 22 && len < 24 && args + 2 <= end && u8[args] === 14 &&
      u8[args + 1] < 0x80 && u8[args + 1] <= end - args - 2 &&
      u8[10] === 1 && u8[19] === 1 && isZero7(u8, 3) && isZero7(u8, 12)
    ) {
      const eventName = shortText(u8, 24, args);
      if (eventName !== undefined) {
        return header("vector", n, 1, eventName, u8[args + 1]);
      }
    }
  }
  return scanHeaderChecked(u8);
}

/** Whether the seven bytes at `u8[p]` are zero (the high bytes of a small count). */
function isZero7(u8: Uint8Array, p: number): boolean {
  return (u8[p] | u8[p + 1] | u8[p + 2] | u8[p + 3] | u8[p + 4] | u8[p + 5] | u8[p + 6]) === 0;
}

/** `scanHeader` with every check, for any input. */
function scanHeaderChecked(u8: Uint8Array): DataHeader {
  if (u8.length === 0) throw wasmError(WasmError.empty);
  const top = tagAt(u8, 0);
  const type = TYPE_NAMES[top];
  if (top < 12) return header(type, undefined, undefined, undefined, undefined);
  const n = lengthAt(u8, 1);
  // A Zeek message: (count 1, count 1..5, (content...)). Offsets: the
  // version's tag at p, its 8 bytes, then the type's tag at p + 9.
  let p = lengthEnd;
  if (
    top !== 14 || n < 3 || tagAt(u8, p) !== 2 || smallCountAt(u8, p + 1) !== 1 ||
    tagAt(u8, p + 9) !== 2
  ) {
    return header(type, n, undefined, undefined, undefined);
  }
  const zeekType = smallCountAt(u8, p + 10);
  if (zeekType < 1 || zeekType > 5 || tagAt(u8, p + 18) !== 14) {
    return header(type, n, undefined, undefined, undefined);
  }
  const fields = lengthAt(u8, p + 19);
  p = lengthEnd;
  // An event's content: (name, (args...)[, metadata]).
  if (zeekType !== 1 || fields < 2 || tagAt(u8, p) !== 5) {
    return header(type, n, zeekType, undefined, undefined);
  }
  const len = lengthAt(u8, p + 1), start = lengthEnd;
  p = start + len;
  const eventName = (len < 24 ? shortText(u8, start, p) : undefined) ??
    utf8Lossy.decode(u8.subarray(start, p));
  const argCount = tagAt(u8, p) === 14 ? lengthAt(u8, p + 1) : undefined;
  return header(type, n, zeekType, eventName, argCount);
}
