/**
 * Decoding Broker's binary format v1 in JS, in one pass that checks the
 * bytes as it builds the values (`decode`). Inputs this pass does not
 * accept go to WASM's validator, which alone reports errors, and are then
 * built by `build.ts`.
 *
 * @module
 */
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { buildLoaded, NONE, realFromEdgeBits, SMALL_BIGINTS } from "./build.ts";
import { compare, compareEncodedTexts, nanMet } from "./order.ts";
import { ASCII_MAX, asciiText, SHORT_TEXT, shortText, utf8Fatal, utf8Lossy } from "./read_text.ts";
import { Address, type Data, Port, PROTOCOLS, Subnet } from "./types.ts";
import {
  asBytes,
  type DecodeOptions,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  validateLoaded,
} from "./validate.ts";

// The reader's state lives at module level, which keeps the hot loop lean.
// It reads `rU8[rPos..rEnd)`.
let rU8: Uint8Array = new Uint8Array(0);
let rPos = 0;
let rEnd = 0;
/** Non-empty containers open around the current value. */
let rDepth = 0;

/**
 * Thrown when unvalidated input leaves the subset this reader accepts (any
 * error, a set out of order, a 5-byte length...): `decode` then hands it to
 * WASM, whose verdict is the only one. Nothing else ever sees it.
 */
const BAIL: unique symbol = Symbol("bail");
function bail(): never {
  throw BAIL;
}

/** A varbyte length at rPos (advancing), as the validator reads it: at most 32 bits. */
function readLength(): number {
  const p = rPos;
  if (p >= rEnd) bail();
  const b = rU8[p];
  rPos = p + 1;
  return b < 0x80 ? b : readLongLength(b & 0x7f);
}

function readLongLength(first: number): number {
  let len = first;
  for (let shift = 7;; shift += 7) {
    if (rPos >= rEnd) bail();
    const b = rU8[rPos++];
    // The fifth byte carries bits 28..31 only (WASM's ERR_VARBYTE otherwise).
    if (shift === 28 && b > 0x0f) bail();
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return len;
  }
}

/** Reads text at rPos (advancing); sets `rawText` when the bytes are not UTF-8. */
let rawText: Uint8Array | undefined;
function readText(): string {
  const len = readLength();
  const start = rPos;
  if (len > rEnd - start) bail();
  const end = rPos = start + len;
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

// 64-bit values and addresses are read through a DataView of the input's
// buffer, kept for the next input in the same buffer (payloads share 1 MiB
// slabs); `rOff` is where the input starts in it. A DataView's reads
// measured ~25 ns faster on the conn event than copying bytes to scratch.
// It is looked up at the first read that needs it, not on every call:
// `bytes.buffer` is a call into C++, ~6 ns a call, a tenth of decoding a
// small vector (whose small count and real need no DataView).
let rDv: DataView = new DataView(new ArrayBuffer(0));
let rOff = 0;
let dvBuffer: ArrayBufferLike | undefined;
/** Whether `rDv` and `rOff` are not yet those of the current input. */
let dvStale = true;

function refreshDv(): void {
  const buffer = rU8.buffer;
  if (buffer !== dvBuffer) {
    rDv = new DataView(buffer);
    dvBuffer = buffer;
  }
  rOff = rU8.byteOffset;
  dvStale = false;
}

/** The big-endian 32-bit word at `p`. */
function word(p: number): number {
  const u = rU8;
  return (u[p] << 24 | u[p + 1] << 16 | u[p + 2] << 8 | u[p + 3]) >>> 0;
}

/**
 * The 64-bit value at `p` (signed or not) as a bigint; values below 1024
 * come from `SMALL_BIGINTS`.
 */
function readBig(p: number, signed: boolean): bigint {
  const u = rU8;
  if ((u[p] | u[p + 1] | u[p + 2] | u[p + 3] | u[p + 4] | u[p + 5]) === 0 && u[p + 6] < 4) {
    return SMALL_BIGINTS[u[p + 6] << 8 | u[p + 7]];
  }
  if (dvStale) refreshDv();
  return signed ? rDv.getBigInt64(rOff + p) : rDv.getBigUint64(rOff + p);
}

function readAddress(p: number): Address {
  if (dvStale) refreshDv();
  const dv = rDv, q = rOff + p;
  return Address.fromWords(
    dv.getUint32(q),
    dv.getUint32(q + 4),
    dv.getUint32(q + 8),
    dv.getUint32(q + 12),
  );
}

/**
 * A double and its 32-bit halves (`HI`, `LO` in the host's byte order): a
 * real is put together from its two words here, without the DataView.
 */
const F64 = new Float64Array(1);
const F64_WORDS = new Uint32Array(F64.buffer);
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HI = HOST_LITTLE_ENDIAN ? 1 : 0, LO = 1 - HI;

/** Reads 8 bytes as CAF's `unpack754` does (see `realFromWords`). */
function readReal(p: number): number {
  return realFromWords(word(p), word(p + 4));
}

/**
 * A real from its encoding's two big-endian words, as CAF's `unpack754`
 * reads them (Broker's reals are not raw IEEE bits, spec §14.12). With an
 * exponent field of 1..0x7fe they are IEEE-754's, the fast path; the other
 * patterns go to `realFromEdgeBits`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { realFromWords } from "./decode.ts";
 * equal(realFromWords(0x3ff80000, 0), 1.5);
 * ```
 */
export function realFromWords(hi: number, lo: number): number {
  const e = hi & 0x7ff00000;
  if (e === 0 || e === 0x7ff00000) return realFromEdgeBits(hi, lo);
  F64_WORDS[HI] = hi;
  F64_WORDS[LO] = lo;
  return F64[0];
}

/**
 * Whether the value read at `at` sorts strictly before the one read at `b`
 * (`x` and `y` as built): Broker's order, which for two texts of the same
 * tag (string or enum) is their bytes' order, compared here in the input
 * instead of through `compare` on the strings (sets of random text spent
 * ~15% of decoding in `compare`). `atEnd` and `bEnd` end the two encodings;
 * a text's bytes end its encoding, after a varbyte length.
 */
function before(at: number, atEnd: number, x: Data, b: number, bEnd: number, y: Data): boolean {
  const tag = rU8[at];
  if ((tag !== 5 && tag !== 11) || rU8[b] !== tag) return compare(x, y) < 0;
  return compareEncodedTexts(rU8, at, atEnd, b, bEnd) < 0;
}

/** Opens a non-empty container of `values` values, bailing where the validator would fail. */
function enter(values: number): void {
  if (values > rEnd - rPos || rDepth >= DEFAULT_MAX_DEPTH) bail();
  rDepth++;
}

// The cases are literals, not `Tag.x`: a TS enum is an object, and a switch
// over its properties compiled to a chain of loads (measured ~8% of decode).
//
// Values of a fixed size are read without a bounds check: past the end of
// the input, `rU8` reads `undefined` (a tag that fails `tag <= 14`) and the
// DataView reads the buffer's next bytes or throws, all of which build
// garbage or bail, and `decode` bails when the reader has gone past the end.
// A check per value cost ~15% of decoding the conn event. Lengths and
// element counts are checked before they are used.
function readValue(): Data {
  const p = rPos + 1;
  const tag = rU8[p - 1];
  if (!(tag <= 14)) bail();
  switch (tag) {
    case 0: // none
      rPos = p;
      return NONE;
    case 1: // boolean
      rPos = p + 1;
      return { type: "boolean", value: rU8[p] !== 0 };
    case 2: // count
      rPos = p + 8;
      return { type: "count", value: readBig(p, false) };
    case 3: // integer
      rPos = p + 8;
      return { type: "integer", value: readBig(p, true) };
    case 9: // timestamp
      rPos = p + 8;
      return { type: "timestamp", value: readBig(p, true) };
    case 10: // timespan
      rPos = p + 8;
      return { type: "timespan", value: readBig(p, true) };
    case 4: // real
      rPos = p + 8;
      return { type: "real", value: readReal(p) };
    case 5: // string
    case 11: { // enum
      rPos = p;
      const value = readText();
      const type = tag === 5 /* string */ ? "string" : "enum";
      return rawText ? { type, value, bytes: rawText } : { type, value };
    }
    case 6: // address
      rPos = p + 16;
      return { type: "address", value: readAddress(p) };
    case 7: // subnet
      rPos = p + 17;
      return { type: "subnet", value: new Subnet(readAddress(p), rU8[p + 16]) };
    case 8: { // port
      rPos = p + 3;
      const proto = rU8[p + 2];
      if (proto > 3) bail();
      return { type: "port", value: new Port(rU8[p] << 8 | rU8[p + 1], PROTOCOLS[proto]) };
    }
    case 12: // set
    case 14: { // vector
      rPos = p;
      const n = readLength();
      // Before allocating: a 5-byte input may claim 4G elements.
      if (n > rEnd - rPos) bail();
      const items = new Array<Data>(n);
      if (n > 0) {
        enter(n);
        if (tag === 14 /* vector */) { for (let k = 0; k < n; k++) items[k] = readValue(); }
        else {
          let at = rPos;
          items[0] = readValue();
          for (let k = 1; k < n; k++) {
            const next = rPos;
            items[k] = readValue();
            // Out of order: WASM tells a repeat (an error) from a set to re-sort.
            if (!before(at, next, items[k - 1], next, rPos, items[k])) bail();
            at = next;
          }
        }
        rDepth--;
      }
      return tag === 14 ? { type: "vector", value: items } : { type: "set", value: items };
    }
    default: { // table
      rPos = p;
      const n = readLength();
      if (2 * n > rEnd - rPos) bail();
      const entries = new Array<[Data, Data]>(n);
      if (n > 0) {
        enter(2 * n);
        let at = rPos, key = readValue(), keyEnd = rPos;
        entries[0] = [key, readValue()];
        for (let k = 1; k < n; k++) {
          const next = rPos;
          key = readValue();
          if (!before(at, keyEnd, entries[k - 1][0], next, rPos, key)) bail();
          at = next;
          keyEnd = rPos;
          entries[k] = [key, readValue()];
        }
        rDepth--;
      }
      return { type: "table", value: entries };
    }
  }
}

/**
 * Decodes one value in Broker's binary format v1. Throws a `BrokerError`
 * (`invalid_tag`, `deserialization_failed`) on bad input, never anything else.
 *
 * Without options, one JS pass checks the bytes as it builds the values; an
 * input it does not accept (an error anywhere, a set or table out of order,
 * nesting deeper than the default limit) goes to WASM, which validates it
 * in place and alone reports errors, so both paths give the same results
 * and the same errors. Options always take the WASM path.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decode } from "./decode.ts";
 * const v = decode(new Uint8Array([0x08, 0x00, 0x50, 0x01]));
 * equal(v.type, "port");
 * equal(String(v.value), "80/tcp");
 * ```
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Data {
  // Each value takes a byte at least, so an input this long fits the default budget.
  if (options === undefined && bytes instanceof Uint8Array && bytes.length <= DEFAULT_MAX_VALUES) {
    try {
      dvStale = true;
      rU8 = bytes;
      rPos = 0;
      rEnd = bytes.length;
      rDepth = 0;
      const met = nanMet.count;
      const v = readValue();
      // Here, too, a value of fixed size read past the end is caught. A
      // NaN met ordering a set (see `brokerEquivalent`) is WASM's to judge.
      if (rPos === rEnd && nanMet.count === met) return v;
    } catch {
      // BAIL, or anything the unvalidated bytes provoked: WASM decides.
    }
  }
  const c = WasmCodec.shared();
  validateLoaded(c, c.load(asBytes(bytes)), options);
  return buildLoaded(c, 0);
}

/**
 * Decodes the value that a caller placed in the codec's input region (see
 * `WasmCodec.inputView`), avoiding the copy that `decode` makes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { WasmCodec } from "../../codec-wasm/mod.ts";
 * import { decodeLoaded } from "./decode.ts";
 * const c = WasmCodec.shared();
 * const len = c.load(new Uint8Array([0x01, 0x01]));
 * equal(decodeLoaded(len).value, true);
 * ```
 */
export function decodeLoaded(len: number, options?: DecodeOptions): Data {
  const c = WasmCodec.shared();
  validateLoaded(c, len, options);
  return buildLoaded(c, 0);
}
