/**
 * Building values from bytes that WASM validated before (`decodeValidated`,
 * and `decode`'s fallback): one pass with no bounds, tag or order checks,
 * reading 64-bit values through a DataView of the whole buffer.
 *
 * It is kept apart from `decode.ts`'s reader, which checks as it builds:
 * the same reader with those checks made this path ~15% slower on the conn
 * event (measured in one process, 360 vs 420 ns).
 *
 * @module
 */
import { type WasmCodec, WasmError } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { sortFindingRepeat } from "./order.ts";
import { ASCII_MAX, asciiText, SHORT_TEXT, shortText, utf8Fatal, utf8Lossy } from "./read_text.ts";
import { Address, type Data, Port, PROTOCOLS, SMALL_BIGINTS, Subnet } from "./types.ts";
import { wasmError } from "./wasm_error.ts";

/** The one `none` value every decoder returns (frozen, so sharing it is safe). */
export const NONE: Data = Object.freeze({ type: "none", value: null });

export { SMALL_BIGINTS };

/** Re-sorts elements that arrived out of order; repeats are an error, as in Broker. */
export function sortChecked<T>(items: T[], key: (t: T) => Data): void {
  if (sortFindingRepeat(items, key)) throw wasmError(WasmError.duplicate);
}

/** 2^-1023 (a subnormal, exact). */
const TWO_POW_M1023 = 2 ** -1023;

/**
 * CAF's `unpack754` for an exponent field of 0 or 0x7ff (`hi`, `lo`: the
 * big-endian halves; Broker's reals are not raw IEEE bits, spec §14.12).
 * Besides its five constants (±0, its swapped infinities, all-ones NaN) it
 * knows no special values: it always adds the implicit 1 and scales by
 * 2^(e - 1023). So an exponent field of 0 reads as (1 + f/2^52) * 2^-1023,
 * not IEEE's subnormal f * 2^-1074 (one rounding, as CAF's last halving),
 * and 0x7ff overflows to an infinity of the sign bit's sign: IEEE's other
 * NaNs are infinities to Broker. Other exponents are IEEE-754's.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { realFromEdgeBits } from "./build.ts";
 * equal(realFromEdgeBits(0xfff00000, 0), Infinity); // CAF's +inf
 * ```
 */
export function realFromEdgeBits(hi: number, lo: number): number {
  if (lo === 0) {
    if (hi === 0) return 0;
    if (hi === 0x80000000) return -0;
    if (hi === 0xfff00000) return Infinity;
    if (hi === 0x7ff00000) return -Infinity;
  } else if (hi === 0xffffffff && lo === 0xffffffff) return NaN;
  const x = (hi & 0x7ff00000) !== 0
    ? Infinity
    : (1 + ((hi & 0xfffff) * 0x100000000 + lo) / 0x10000000000000) * TWO_POW_M1023;
  return hi >>> 31 ? -x : x;
}

// The reader's state lives at module level, which keeps the hot loop lean.
let rU8: Uint8Array = new Uint8Array(0);
let rDv: DataView = new DataView(rU8.buffer);
let rPos = 0;
let rResort = false;

function readLength(): number {
  let len = rU8[rPos++];
  if (len < 0x80) return len;
  len &= 0x7f;
  for (let shift = 7;; shift += 7) {
    const b = rU8[rPos++];
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return len;
  }
}

/** Reads text at rPos (advancing); sets `rawText` when the bytes are not UTF-8. */
let rawText: Uint8Array | undefined;
function readText(): string {
  const len = readLength();
  const start = rPos;
  const end = rPos += len;
  rawText = undefined;
  const ascii = len < SHORT_TEXT
    ? shortText(rU8, start, end)
    : len <= ASCII_MAX
    ? asciiText(rU8, start, end)
    : undefined;
  return ascii ?? readUtf8(start, end);
}

function readUtf8(start: number, end: number): string {
  const view = rU8.subarray(start, end);
  try {
    return utf8Fatal.decode(view);
  } catch {
    rawText = view.slice();
    return utf8Lossy.decode(view);
  }
}

function readAddress(): Address {
  const dv = rDv, p = rPos;
  rPos += 16;
  return Address.fromWords(
    dv.getUint32(p),
    dv.getUint32(p + 4),
    dv.getUint32(p + 8),
    dv.getUint32(p + 12),
  );
}

function readReal(): number {
  const hi = rDv.getUint32(rPos);
  const e = hi & 0x7ff00000;
  const x = e !== 0 && e !== 0x7ff00000
    ? rDv.getFloat64(rPos)
    : realFromEdgeBits(hi, rDv.getUint32(rPos + 4));
  rPos += 8;
  return x;
}

// The cases are literals, not `Tag.x`: a TS enum is an object, and a switch
// over its properties compiled to a chain of loads (measured ~8% of decode).
function readValue(): Data {
  const tag = rU8[rPos++];
  switch (tag) {
    case 0: // none
      return NONE;
    case 1: // boolean
      return { type: "boolean", value: rU8[rPos++] !== 0 };
    case 2: { // count
      const p = rPos;
      rPos = p + 8;
      const value = rDv.getUint32(p) === 0 && rDv.getUint32(p + 4) < 1024
        ? SMALL_BIGINTS[rDv.getUint32(p + 4)]
        : rDv.getBigUint64(p);
      return { type: "count", value };
    }
    case 3: { // integer
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "integer", value };
    }
    case 4: // real
      return { type: "real", value: readReal() };
    case 5: // string
    case 11: { // enum
      const value = readText();
      const type = tag === 5 /* string */ ? "string" : "enum";
      return rawText ? { type, value, bytes: rawText } : { type, value };
    }
    case 6: // address
      return { type: "address", value: readAddress() };
    case 7: { // subnet
      const a = readAddress();
      return { type: "subnet", value: new Subnet(a, rU8[rPos++]) };
    }
    case 8: { // port
      const p = new Port(rDv.getUint16(rPos), PROTOCOLS[rU8[rPos + 2]]);
      rPos += 3;
      return { type: "port", value: p };
    }
    case 9: { // timestamp
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "timestamp", value };
    }
    case 10: { // timespan
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "timespan", value };
    }
    case 12: // set
    case 14: { // vector
      const n = readLength();
      const items = new Array<Data>(n);
      for (let k = 0; k < n; k++) items[k] = readValue();
      if (tag === 14 /* vector */) return { type: "vector", value: items };
      if (rResort) sortChecked(items, (d) => d);
      return { type: "set", value: items };
    }
    case 13: { // table
      const n = readLength();
      const entries = new Array<[Data, Data]>(n);
      for (let k = 0; k < n; k++) {
        const key = readValue();
        entries[k] = [key, readValue()];
      }
      if (rResort) sortChecked(entries, (e) => e[0]);
      return { type: "table", value: entries };
    }
    default:
      throw new BrokerError(ErrorCode.invalid_tag, `unvalidated tag ${tag}`);
  }
}

/**
 * Builds the value that starts at `off` of the codec's input region, which
 * the codec's last validation accepted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { WasmCodec } from "../../codec-wasm/mod.ts";
 * import { buildLoaded } from "./build.ts";
 * const c = WasmCodec.shared();
 * c.validate(c.load(new Uint8Array([0x01, 0x01])), 128);
 * equal(buildLoaded(c, 0).value, true);
 * ```
 */
export function buildLoaded(c: WasmCodec, off: number): Data {
  rU8 = c.u8;
  rDv = c.dv;
  rPos = c.input + off;
  rResort = c.unsorted();
  return readValue();
}

/**
 * Builds the value of bytes that `validateForLater` accepted, straight from
 * where they lie: no copy into the codec and no second validation. The bytes
 * must not have changed since; anything else is undefined behaviour, so only
 * pass bytes this process validated and kept (e.g. a subscriber's queue).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeValidated } from "./build.ts";
 * import { validateForLater } from "./validate.ts";
 * const bytes = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0, 7]);
 * equal(decodeValidated(bytes, validateForLater(bytes)).value, 7n);
 * ```
 */
export function decodeValidated(bytes: Uint8Array, unsorted: boolean): Data {
  if (bytes.buffer !== viewBuffer) {
    viewBuffer = bytes.buffer;
    viewU8 = new Uint8Array(bytes.buffer);
    viewDv = new DataView(bytes.buffer);
  }
  rU8 = viewU8;
  rDv = viewDv;
  rPos = bytes.byteOffset;
  rResort = unsorted;
  return readValue();
}

// Payloads share 1 MiB slabs: one whole-buffer view serves many messages.
let viewBuffer: ArrayBufferLike | undefined;
let viewU8: Uint8Array = new Uint8Array(0);
let viewDv: DataView = new DataView(viewU8.buffer);
