/**
 * Encoding Broker's binary format v1 in JS (`encode`, `encodeAfter`), byte
 * for byte as Broker does, into the shared slab.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { brokerEquivalent, compare, nanMet, sortedAsBroker } from "./order.ts";
import { beginShared, finishShared, type Writer } from "./slab.ts";
import { type Data, LIMITS, PROTOCOLS, Tag } from "./types.ts";

/** Throws the encoders' `serialization_failed` error. */
export function fail(msg: string): never {
  throw new BrokerError(ErrorCode.serialization_failed, msg);
}

/**
 * The elements of a set or table in Broker's order without repeats: the
 * items themselves when already in order (Broker's containers always are).
 */
export function inOrder<T>(items: readonly T[], key: (t: T) => Data): readonly T[] {
  const met = nanMet.count;
  for (let k = 1; k < items.length; k++) {
    // Hand-built values may be unsorted; Broker's containers never are.
    if (compare(key(items[k - 1]), key(items[k])) >= 0) return sortedAsBroker(items, key);
  }
  if (nanMet.count === met) return items;
  // A NaN beside another real: one element to Broker (see `brokerEquivalent`).
  for (let k = 1; k < items.length; k++) {
    if (brokerEquivalent(key(items[k - 1]), key(items[k]))) return sortedAsBroker(items, key);
  }
  return items;
}

const REAL_POS_INF = 0xfff0000000000000n;
const REAL_NEG_INF = 0x7ff0000000000000n;
const REAL_NAN = 0xffffffffffffffffn;
/** The smallest normal double, 2^-1022: below it (and above 0) CAF's pack754 goes astray. */
const MIN_NORMAL = 2.2250738585072014e-308;

/**
 * Writes a subnormal x at p as CAF's `pack754` does, to stay byte-identical
 * with Broker (spec §14.12). It has no subnormals: its loop normalises
 * x = m * 2^-1074 (2^k <= m < 2^(k+1)) to exponent k - 1074, whose biased
 * value k - 51 is at most 0 and, as a 64-bit integer shifted into place, wraps
 * into the top 12 bits (setting the sign bit when negative), over the bits of
 * m below its leading 1. Broker's decoder does not read that back as x: 5e-324
 * is written `fcd0000000000000` and read as -2^974 (golden `real-denormal`).
 */
function writeSubnormal(dv: DataView, p: number, x: number): void {
  dv.setFloat64(p, x); // IEEE's subnormal bits: the sign and m
  const hi = dv.getUint32(p), lo = dv.getUint32(p + 4);
  const mHi = hi & 0xfffff;
  const k = mHi !== 0 ? 63 - Math.clz32(mHi) : 31 - Math.clz32(lo);
  // The bits of m below its leading 1, moved up to 52 bits (exact: < 2^52).
  const sig = ((mHi * 0x100000000 + lo) - 2 ** k) * 2 ** (52 - k);
  const sigHi = Math.floor(sig / 0x100000000);
  dv.setUint32(p, ((hi & 0x80000000) | (((k - 51) & 0xfff) << 20) | sigHi) >>> 0);
  dv.setUint32(p + 4, sig - sigHi * 0x100000000);
}

function writeValue(w: Writer, d: Data, depth: number): void {
  if (depth > 10_000) fail("value nested too deeply to encode");
  switch (d?.type) {
    case "none":
      w.reserve(1);
      w.buf[w.pos++] = Tag.none;
      return;
    case "boolean":
      w.reserve(2);
      w.buf[w.pos++] = Tag.boolean;
      w.buf[w.pos++] = d.value ? 1 : 0;
      return;
    case "count":
      if (typeof d.value !== "bigint" || d.value < 0n || d.value > LIMITS.U64_MAX) {
        fail(`count out of range: ${d.value}`);
      }
      w.reserve(9);
      w.buf[w.pos] = Tag.count;
      w.dv.setBigUint64(w.pos + 1, d.value);
      w.pos += 9;
      return;
    case "integer":
    case "timestamp":
    case "timespan":
      if (typeof d.value !== "bigint" || d.value < LIMITS.I64_MIN || d.value > LIMITS.I64_MAX) {
        fail(`${d.type} out of range: ${d.value}`);
      }
      w.reserve(9);
      w.buf[w.pos] = d.type === "integer"
        ? Tag.integer
        : d.type === "timestamp"
        ? Tag.timestamp
        : Tag.timespan;
      w.dv.setBigInt64(w.pos + 1, d.value);
      w.pos += 9;
      return;
    case "real": {
      const x = d.value;
      if (typeof x !== "number") fail("real must be a number");
      w.reserve(9);
      w.buf[w.pos] = Tag.real;
      if (x !== x) w.dv.setBigUint64(w.pos + 1, REAL_NAN);
      else if (x === Infinity) w.dv.setBigUint64(w.pos + 1, REAL_POS_INF);
      else if (x === -Infinity) w.dv.setBigUint64(w.pos + 1, REAL_NEG_INF);
      else if (x < MIN_NORMAL && x > -MIN_NORMAL && x !== 0) writeSubnormal(w.dv, w.pos + 1, x);
      else w.dv.setFloat64(w.pos + 1, x);
      w.pos += 9;
      return;
    }
    case "string":
    case "enum":
      if (typeof d.value !== "string") fail("string and enum values must be strings");
      w.reserve(1);
      w.buf[w.pos++] = d.type === "string" ? Tag.string : Tag.enum;
      w.text(d.value, d.bytes);
      return;
    case "address":
      w.reserve(17);
      w.buf[w.pos] = Tag.address;
      d.value.writeTo(w.dv, w.pos + 1);
      w.pos += 17;
      return;
    case "subnet":
      w.reserve(18);
      w.buf[w.pos] = Tag.subnet;
      d.value.address.writeTo(w.dv, w.pos + 1);
      w.buf[w.pos + 17] = d.value.rawLength;
      w.pos += 18;
      return;
    case "port": {
      w.reserve(4);
      w.buf[w.pos] = Tag.port;
      w.dv.setUint16(w.pos + 1, d.value.number);
      const proto = PROTOCOLS.indexOf(d.value.protocol);
      if (proto < 0) fail(`bad protocol ${d.value.protocol}`);
      w.buf[w.pos + 3] = proto;
      w.pos += 4;
      return;
    }
    case "set":
    case "vector": {
      const items = d.type === "set" ? inOrder(d.value, (x) => x) : d.value;
      w.reserve(1);
      w.buf[w.pos++] = d.type === "set" ? Tag.set : Tag.vector;
      w.varbyte(items.length);
      for (let k = 0; k < items.length; k++) writeValue(w, items[k], depth + 1);
      return;
    }
    case "table": {
      const entries = inOrder(d.value, (e) => e[0]);
      w.reserve(1);
      w.buf[w.pos++] = Tag.table;
      w.varbyte(entries.length);
      for (let k = 0; k < entries.length; k++) {
        writeValue(w, entries[k][0], depth + 1);
        writeValue(w, entries[k][1], depth + 1);
      }
      return;
    }
    default:
      fail(`not a Broker value: ${String((d as { type?: unknown })?.type ?? d)}`);
  }
}

/**
 * Writes `d` at the writer's position, as `encode` does (for builders that
 * mix values with bytes of their own). Throws `BrokerError`
 * (`serialization_failed`) for values that are not Broker data.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { writeData } from "./encode.ts";
 * import { Writer } from "./slab.ts";
 * import { count } from "./constructors.ts";
 * const w = new Writer(64);
 * writeData(w, count(1n));
 * equal(w.pos, 9);
 * ```
 */
export function writeData(w: Writer, d: Data): void {
  writeValue(w, d, 0);
}

/**
 * Encodes one value in Broker's binary format v1, byte for byte as Broker
 * does (set elements and table keys in Broker's order). Throws a
 * `BrokerError` (`serialization_failed`) for values that are not Broker data.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encode } from "./encode.ts";
 * import { port } from "./constructors.ts";
 * deepEqual([...encode(port(80, "tcp"))], [8, 0, 80, 1]);
 * ```
 */
export function encode(value: Data): Uint8Array {
  const w = beginShared();
  try {
    writeValue(w, value, 0);
  } catch (e) {
    w.pos = w.start; // drop the partial message
    if (e instanceof BrokerError) throw e;
    throw new BrokerError(ErrorCode.serialization_failed, `cannot encode: ${e}`, { cause: e });
  }
  return finishShared(w);
}

/**
 * Encodes a value right behind `header` in one buffer (a subarray of the
 * shared slab): how the peering layer builds a framed data message without a
 * second allocation or copy. The caller fills in any length fields.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeAfter } from "./encode.ts";
 * import { count } from "./constructors.ts";
 * equal(encodeAfter(new Uint8Array([9, 9]), count(1n)).length, 2 + 9);
 * ```
 */
export function encodeAfter(header: Uint8Array, value: Data): Uint8Array {
  const w = beginShared();
  try {
    w.reserve(header.length);
    w.buf.set(header, w.pos);
    w.pos += header.length;
    writeValue(w, value, 0);
  } catch (e) {
    w.pos = w.start;
    if (e instanceof BrokerError) throw e;
    throw new BrokerError(ErrorCode.serialization_failed, `cannot encode: ${e}`, { cause: e });
  }
  return finishShared(w);
}
