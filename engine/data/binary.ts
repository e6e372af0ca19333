/**
 * Broker's binary format v1 for `data`: `encode`, `decode`, `validate`, and
 * lazy access to encoded values (`EncodedData`) without materialising them.
 *
 * The WASM codec validates and indexes; JS builds the values from its tape
 * (crossing the WASM boundary once per message, not once per value).
 *
 * @module
 */
import {
  FLAG_ASCII,
  FLAG_UNSORTED,
  FLAG_UTF8,
  MAX_DEPTH_LIMIT,
  NODE_SIZE,
  WasmCodec,
  WasmError,
} from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { compare } from "./order.ts";
import { Address, type Data, LIMITS, Port, PROTOCOLS, Subnet, Tag, TYPE_NAMES } from "./types.ts";

/** Options for decoding and validating. */
export interface DecodeOptions {
  /**
   * Deepest nesting of non-empty containers accepted (Broker itself has no
   * limit and can exhaust its stack on hostile input). Default 128.
   */
  maxDepth?: number;
  /** Accept bytes after the value (Broker's data envelopes do not). Default false. */
  allowTrailing?: boolean;
  /**
   * Most values one input may hold, counting every container and element at
   * every level: a decode budget, because a byte or two per value (an empty
   * vector) becomes an object of tens of bytes. Over it is
   * `deserialization_failed`, found by validation before anything is built.
   * Default 1,048,576 (Broker has no limit).
   */
  maxValues?: number;
}

/** Default nesting limit. */
export const DEFAULT_MAX_DEPTH = 128;

/** Default decode budget (`maxValues`). */
export const DEFAULT_MAX_VALUES = 1 << 20;

const NONE: Data = Object.freeze({ type: "none", value: null });
const utf8Fatal = new TextDecoder("utf-8", { fatal: true });
const utf8Lossy = new TextDecoder("utf-8");
const utf8Enc = new TextEncoder();

const MESSAGES: Record<number, [ErrorCode, string]> = {
  [WasmError.eof]: [ErrorCode.deserialization_failed, "truncated value"],
  [WasmError.tag]: [ErrorCode.invalid_tag, "unknown data tag"],
  [WasmError.varbyte]: [ErrorCode.deserialization_failed, "varbyte length overflows 32 bits"],
  [WasmError.length]: [ErrorCode.deserialization_failed, "length beyond the end of the input"],
  [WasmError.depth]: [ErrorCode.deserialization_failed, "nesting deeper than the limit"],
  [WasmError.port]: [ErrorCode.deserialization_failed, "port protocol byte above 3"],
  [WasmError.duplicate]: [ErrorCode.deserialization_failed, "duplicate set element or table key"],
  [WasmError.trailing]: [ErrorCode.deserialization_failed, "trailing bytes after the value"],
  [WasmError.empty]: [ErrorCode.deserialization_failed, "cannot parse null data"],
  [WasmError.capacity]: [ErrorCode.deserialization_failed, "tape capacity exceeded"],
};

function wasmError(code: number): BrokerError {
  const [ec, msg] = MESSAGES[code] ?? [ErrorCode.deserialization_failed, `codec error ${code}`];
  return new BrokerError(ec, msg);
}

function asBytes(input: Uint8Array): Uint8Array {
  if (!(input instanceof Uint8Array)) {
    throw new BrokerError(ErrorCode.deserialization_failed, "input is not a Uint8Array");
  }
  return input;
}

/**
 * Runs one scan of the loaded input (with a tape, or validation only) and
 * turns its outcome into a node count or a BrokerError.
 */
function scanLoaded(c: WasmCodec, len: number, opts: DecodeOptions | undefined, tape: boolean) {
  let r: number;
  try {
    r = tape ? c.scan(len, depthLimit(opts), true) : c.validate(len, depthLimit(opts));
  } catch (e) {
    // A trap (e.g. call stack exhaustion comparing absurdly deep keys) is a bad input too.
    throw new BrokerError(ErrorCode.deserialization_failed, `codec trap: ${e}`, { cause: e });
  }
  if (r < 0) throw wasmError(r);
  const extent = tape ? c.extent() : r;
  if (extent !== len && !opts?.allowTrailing) throw wasmError(WasmError.trailing);
  const values = c.valueCount(), budget = opts?.maxValues ?? DEFAULT_MAX_VALUES;
  if (values > budget) {
    throw new BrokerError(
      ErrorCode.deserialization_failed,
      `${values} values in ${extent} bytes exceed the decode budget of ${budget} (maxValues)`,
    );
  }
  return r;
}

/**
 * Validates one encoded value completely (structure, lengths, tags, ports,
 * order and uniqueness of set elements and table keys) without building it.
 * Returns the bytes it occupies; throws a `BrokerError` when invalid.
 *
 * @example
 * ```ts
 * import { validate } from "./binary.ts";
 * console.log(validate(new Uint8Array([0x0e, 0x00]))); // 2 (an empty vector)
 * ```
 */
export function validate(bytes: Uint8Array, options?: DecodeOptions): number {
  const c = WasmCodec.shared();
  return validateLoaded(c, c.load(asBytes(bytes)), options);
}

function depthLimit(opts: DecodeOptions | undefined): number {
  const d = opts?.maxDepth;
  return d === undefined ? DEFAULT_MAX_DEPTH : Math.min(Math.max(0, d | 0), MAX_DEPTH_LIMIT);
}

/** Validates the loaded input without a tape; returns its extent or throws. */
function validateLoaded(c: WasmCodec, len: number, opts: DecodeOptions | undefined): number {
  return scanLoaded(c, len, opts, false);
}

// ------------------------------------------------------------------ decoding

/** Walks a tape in pre-order and builds JS values. */
class TapeReader {
  i = 0;
  u8: Uint8Array;
  u32: Uint32Array;
  u64: BigUint64Array;
  i64: BigInt64Array;
  f64: Float64Array;
  tape: number;
  input: number;

  readonly codec: WasmCodec;

  constructor(c: WasmCodec) {
    this.codec = c;
    this.u8 = c.u8;
    this.u32 = c.u32;
    this.u64 = c.u64;
    this.i64 = c.i64;
    this.f64 = c.f64;
    this.tape = c.tape;
    this.input = c.input;
  }

  /** Points the reader at the codec's current tape (views renew when memory grows). */
  static for(c: WasmCodec): TapeReader {
    let r = lastReader;
    if (r?.codec !== c) lastReader = r = new TapeReader(c);
    if (r.u8 !== c.u8) {
      r.u8 = c.u8;
      r.u32 = c.u32;
      r.u64 = c.u64;
      r.i64 = c.i64;
      r.f64 = c.f64;
    }
    r.tape = c.tape;
    r.i = 0;
    return r;
  }

  text(byte: number): string {
    const u8 = this.u8;
    const at = byte >> 2;
    const off = this.input + this.u32[at + 1];
    const len = this.u32[at + 2];
    const flags = u8[byte + 1];
    if (flags & FLAG_ASCII && len < 24) {
      let s = "";
      for (let k = 0; k < len; k++) s += String.fromCharCode(u8[off + k]);
      return s;
    }
    const view = u8.subarray(off, off + len);
    return flags & FLAG_UTF8 ? utf8Fatal.decode(view) : utf8Lossy.decode(view);
  }

  address(off: number): Address {
    const u8 = this.u8;
    const w = (i: number) => (u8[i] << 24) | (u8[i + 1] << 16) | (u8[i + 2] << 8) | u8[i + 3];
    return Address.fromWords(w(off), w(off + 4), w(off + 8), w(off + 12));
  }

  next(): Data {
    const i = this.i++;
    const byte = this.tape + i * NODE_SIZE;
    const at = byte >> 2; // index into u32
    const tag = this.u8[byte];
    switch (tag) {
      case Tag.none:
        return NONE;
      case Tag.boolean:
        return { type: "boolean", value: this.u32[at + 1] !== 0 };
      case Tag.count:
        return { type: "count", value: this.u64[(byte >> 3) + 1] };
      case Tag.integer:
        return { type: "integer", value: this.i64[(byte >> 3) + 1] };
      case Tag.real:
        return { type: "real", value: this.f64[(byte >> 3) + 1] };
      case Tag.string:
      case Tag.enum: {
        const value = this.text(byte);
        const type = tag === Tag.string ? "string" : "enum";
        if (this.u8[byte + 1] & FLAG_UTF8) return { type, value };
        // Not UTF-8: keep the bytes so they are what gets encoded again.
        const off = this.input + this.u32[at + 1];
        return { type, value, bytes: this.u8.slice(off, off + this.u32[at + 2]) };
      }
      case Tag.address:
        return { type: "address", value: this.address(this.input + this.u32[at + 1]) };
      case Tag.subnet: {
        const a = this.address(this.input + this.u32[at + 1]);
        return { type: "subnet", value: new Subnet(a, this.u32[at + 2]) };
      }
      case Tag.port: {
        const a = this.u32[at + 1];
        return { type: "port", value: new Port(a & 0xffff, PROTOCOLS[a >>> 16]) };
      }
      case Tag.timestamp:
        return { type: "timestamp", value: this.i64[(byte >> 3) + 1] };
      case Tag.timespan:
        return { type: "timespan", value: this.i64[(byte >> 3) + 1] };
      case Tag.set:
      case Tag.vector: {
        const n = this.u32[at + 1];
        const items = new Array<Data>(n);
        for (let k = 0; k < n; k++) items[k] = this.next();
        if (tag === Tag.vector) return { type: "vector", value: items };
        if (this.u8[byte + 1] & FLAG_UNSORTED) sortChecked(items, (d) => d);
        return { type: "set", value: items };
      }
      case Tag.table: {
        const n = this.u32[at + 1];
        const entries = new Array<[Data, Data]>(n);
        for (let k = 0; k < n; k++) {
          const key = this.next();
          entries[k] = [key, this.next()];
        }
        if (this.u8[byte + 1] & FLAG_UNSORTED) sortChecked(entries, (e) => e[0]);
        return { type: "table", value: entries };
      }
      default:
        throw new BrokerError(ErrorCode.invalid_tag, `tape holds tag ${tag}`);
    }
  }
}

let lastReader: TapeReader | undefined;

/** Re-sorts elements that arrived out of order; repeats are an error, as in Broker. */
function sortChecked<T>(items: T[], key: (t: T) => Data): void {
  items.sort((a, b) => compare(key(a), key(b)));
  for (let k = 1; k < items.length; k++) {
    if (compare(key(items[k - 1]), key(items[k])) === 0) throw wasmError(WasmError.duplicate);
  }
}

// Building from validated bytes. WASM has checked everything, so this reader
// has no bounds or error checks; module-level state keeps the hot loop lean.
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
  if (len < 24) {
    let s = "";
    for (let k = start; k < end; k++) {
      const b = rU8[k];
      if (b > 0x7f) return readUtf8(start, end);
      s += String.fromCharCode(b);
    }
    return s;
  }
  return readUtf8(start, end);
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

/**
 * Reads 8 bytes as CAF's `unpack754` does (Broker's reals are not raw IEEE
 * bits, spec §14.12). With an exponent field of 1..0x7fe they are IEEE-754's,
 * the fast path; the other patterns go to {@link realFromEdgeBits}.
 */
function readReal(): number {
  const hi = rDv.getUint32(rPos);
  const e = hi & 0x7ff00000;
  const x = e !== 0 && e !== 0x7ff00000
    ? rDv.getFloat64(rPos)
    : realFromEdgeBits(hi, rDv.getUint32(rPos + 4));
  rPos += 8;
  return x;
}

/** 2^-1023 (a subnormal, exact). */
const TWO_POW_M1023 = 2 ** -1023;

/**
 * CAF's `unpack754` for an exponent field of 0 or 0x7ff (`hi`, `lo`: the
 * big-endian halves). Besides its five constants (±0, its swapped infinities,
 * all-ones NaN) it knows no special values: it always adds the implicit 1 and
 * scales by 2^(e - 1023). So an exponent field of 0 reads as
 * (1 + f/2^52) * 2^-1023, not IEEE's subnormal f * 2^-1074 (one rounding, as
 * CAF's last halving), and 0x7ff overflows to an infinity of the sign bit's
 * sign: IEEE's other NaNs are infinities to Broker.
 */
function realFromEdgeBits(hi: number, lo: number): number {
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

function readValue(): Data {
  const tag = rU8[rPos++];
  switch (tag) {
    case Tag.none:
      return NONE;
    case Tag.boolean:
      return { type: "boolean", value: rU8[rPos++] !== 0 };
    case Tag.count: {
      const value = rDv.getBigUint64(rPos);
      rPos += 8;
      return { type: "count", value };
    }
    case Tag.integer: {
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "integer", value };
    }
    case Tag.real:
      return { type: "real", value: readReal() };
    case Tag.string:
    case Tag.enum: {
      const value = readText();
      const type = tag === Tag.string ? "string" : "enum";
      return rawText ? { type, value, bytes: rawText } : { type, value };
    }
    case Tag.address:
      return { type: "address", value: readAddress() };
    case Tag.subnet: {
      const a = readAddress();
      return { type: "subnet", value: new Subnet(a, rU8[rPos++]) };
    }
    case Tag.port: {
      const p = new Port(rDv.getUint16(rPos), PROTOCOLS[rU8[rPos + 2]]);
      rPos += 3;
      return { type: "port", value: p };
    }
    case Tag.timestamp: {
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "timestamp", value };
    }
    case Tag.timespan: {
      const value = rDv.getBigInt64(rPos);
      rPos += 8;
      return { type: "timespan", value };
    }
    case Tag.set:
    case Tag.vector: {
      const n = readLength();
      const items = new Array<Data>(n);
      for (let k = 0; k < n; k++) items[k] = readValue();
      if (tag === Tag.vector) return { type: "vector", value: items };
      if (rResort) sortChecked(items, (d) => d);
      return { type: "set", value: items };
    }
    case Tag.table: {
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

/** Builds the value that starts at `off` of the codec's input region (validated). */
function buildLoaded(c: WasmCodec, off: number): Data {
  rU8 = c.u8;
  if (rDv !== c.dv) rDv = c.dv;
  rPos = c.input + off;
  rResort = c.unsorted();
  return readValue();
}

/**
 * Decodes one value in Broker's binary format v1. Throws a `BrokerError`
 * (`invalid_tag`, `deserialization_failed`) on bad input, never anything else.
 * WASM validates the bytes in place; JS then builds the values.
 *
 * @example
 * ```ts
 * import { decode } from "./binary.ts";
 * const v = decode(new Uint8Array([0x08, 0x00, 0x50, 0x01]));
 * console.log(v.type, String(v.value)); // "port" "80/tcp"
 * ```
 */
export function decode(bytes: Uint8Array, options?: DecodeOptions): Data {
  const c = WasmCodec.shared();
  validateLoaded(c, c.load(asBytes(bytes)), options);
  return buildLoaded(c, 0);
}

/**
 * Validates like `validate` and says whether some set or table arrived out of
 * Broker's order: what `decodeValidated` needs to build the value later
 * without validating the bytes again.
 *
 * @example
 * ```ts
 * import { decodeValidated, validateForLater } from "./binary.ts";
 * const bytes = new Uint8Array([0x08, 0x00, 0x50, 0x01]);
 * const unsorted = validateForLater(bytes); // false; throws on bad input
 * console.log(String(decodeValidated(bytes, unsorted).value)); // "80/tcp"
 * ```
 */
export function validateForLater(bytes: Uint8Array, options?: DecodeOptions): boolean {
  const c = WasmCodec.shared();
  validateLoaded(c, c.load(asBytes(bytes)), options);
  return c.unsorted();
}

/**
 * Validates the value at the start of `bytes` (more may follow) and returns
 * its length and, as `validateForLater`, whether `decodeValidated` must re-sort.
 *
 * @example
 * ```ts
 * import { decodeValidated, validatePrefix } from "./binary.ts";
 * const bytes = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0xff]);
 * const { length, unsorted } = validatePrefix(bytes); // length 9
 * console.log(decodeValidated(bytes.subarray(0, length), unsorted).value); // 7n
 * ```
 */
export function validatePrefix(
  bytes: Uint8Array,
  options?: DecodeOptions,
): { length: number; unsorted: boolean } {
  const c = WasmCodec.shared();
  const length = validateLoaded(c, c.load(asBytes(bytes)), { ...options, allowTrailing: true });
  return { length, unsorted: c.unsorted() };
}

/**
 * Builds the value of bytes that `validateForLater` accepted, straight from
 * where they lie: no copy into the codec and no second validation. The bytes
 * must not have changed since; anything else is undefined behaviour, so only
 * pass bytes this process validated and kept (e.g. a subscriber's queue).
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

/**
 * Decodes the value that a caller placed in the codec's input region (see
 * `WasmCodec.inputView`), avoiding the copy that `decode` makes.
 */
export function decodeLoaded(len: number, options?: DecodeOptions): Data {
  const c = WasmCodec.shared();
  validateLoaded(c, len, options);
  return buildLoaded(c, 0);
}

/**
 * Decodes like `decode`, but through the WASM tape: WASM decodes every value
 * into native-endian nodes and JS only allocates. Same results; kept beside
 * `decode` so the benchmark shows which path is faster (today: `decode`).
 *
 * @example
 * ```ts
 * import { decodeViaTape } from "./binary.ts";
 * console.log(decodeViaTape(new Uint8Array([0x01, 0x01])).value); // true
 * ```
 */
export function decodeViaTape(bytes: Uint8Array, options?: DecodeOptions): Data {
  const c = WasmCodec.shared();
  const len = c.load(asBytes(bytes));
  scanLoaded(c, len, options, true);
  return TapeReader.for(c).next();
}

// ------------------------------------------------------------------ lazy view

/** The bytes behind a family of views, and which load of the codec holds them. */
interface ViewRoot {
  bytes: Uint8Array;
  generation: number;
}

/**
 * A validated encoded value, read in place: its type, container sizes,
 * element i, strings, without building the rest. The bytes are copied into
 * WASM memory once; if another codec call replaced them, the view reloads them.
 *
 * @example
 * ```ts
 * import { EncodedData } from "./binary.ts";
 * import { encode } from "./binary.ts";
 * import { count, str, vector } from "./constructors.ts";
 * const view = EncodedData.from(encode(vector(str("ping"), count(1n))));
 * console.log(view.length, view.at(0).text()); // 2 "ping"
 * ```
 */
export class EncodedData {
  readonly #c: WasmCodec;
  readonly #root: ViewRoot;
  readonly #off: number;

  private constructor(c: WasmCodec, root: ViewRoot, off: number) {
    this.#c = c;
    this.#root = root;
    this.#off = off;
  }

  /** Validates bytes (copied into WASM memory once) and returns a view of them. */
  static from(bytes: Uint8Array, options?: DecodeOptions): EncodedData {
    const c = WasmCodec.shared();
    validateLoaded(c, c.load(asBytes(bytes)), options);
    return new EncodedData(c, { bytes, generation: c.generation }, 0);
  }

  /** The codec, with this view's bytes in its input region. */
  #sync(): WasmCodec {
    const c = this.#c;
    if (c.generation !== this.#root.generation) {
      c.load(this.#root.bytes);
      this.#root.generation = c.generation;
    }
    return c;
  }

  #view(off: number): EncodedData {
    return new EncodedData(this.#c, this.#root, off);
  }

  /** Type name of this value. */
  get type(): Data["type"] {
    const c = this.#sync();
    return TYPE_NAMES[c.u8[c.input + this.#off]];
  }

  /** Element count of a set, vector (values) or table (pairs); -1 for scalars. */
  get length(): number {
    return this.#sync().childCount(this.#off);
  }

  /** Element i of a set or vector; for tables, the key of entry i (see `entry`). */
  at(i: number): EncodedData {
    const c = this.#sync();
    const isTable = c.u8[c.input + this.#off] === Tag.table;
    const off = c.child(this.#off, isTable ? 2 * i : i);
    if (off < 0) throw new BrokerError(ErrorCode.invalid_data, `no element ${i} in ${this.type}`);
    return this.#view(off);
  }

  /** Key and value of table entry i. */
  entry(i: number): [EncodedData, EncodedData] {
    if (this.type !== "table") throw new BrokerError(ErrorCode.type_clash, "not a table");
    const c = this.#sync();
    const k = c.child(this.#off, 2 * i);
    if (k < 0) throw new BrokerError(ErrorCode.invalid_data, `no entry ${i}`);
    return [this.#view(k), this.#view(c.skip(k))];
  }

  #textSpan(): [number, number] {
    const c = this.#sync();
    const u8 = c.u8;
    let p = c.input + this.#off;
    const tag = u8[p++];
    if (tag !== Tag.string && tag !== Tag.enum) {
      throw new BrokerError(ErrorCode.type_clash, `${this.type} is not text`);
    }
    // The value was validated: its varbyte is well formed.
    let len = 0;
    for (let shift = 0;; shift += 7) {
      const b = u8[p++];
      len += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    return [p, len];
  }

  /** Raw bytes of a string or enum value, copied out. */
  textBytes(): Uint8Array {
    const [start, len] = this.#textSpan();
    return this.#c.u8.slice(start, start + len);
  }

  /** A string or enum value as JS text (lossy for invalid UTF-8). */
  text(): string {
    const [start, len] = this.#textSpan();
    const u8 = this.#c.u8;
    if (len < 24) {
      let s = "", ascii = true;
      for (let k = 0; k < len; k++) {
        const b = u8[start + k];
        if (b > 0x7f) {
          ascii = false;
          break;
        }
        s += String.fromCharCode(b);
      }
      if (ascii) return s;
    }
    return utf8Lossy.decode(u8.subarray(start, start + len));
  }

  /** Offset of this value in the bytes it was made from, and the offset after it. */
  span(): [start: number, end: number] {
    return [this.#off, this.#sync().skip(this.#off)];
  }

  /** The encoded bytes of this value alone (a subarray of the original bytes). */
  bytes(): Uint8Array {
    const [s, e] = this.span();
    return this.#root.bytes.subarray(s, e);
  }

  /** Builds the JS value of this (sub)value. */
  materialize(options?: DecodeOptions): Data {
    return decode(this.bytes(), options);
  }
}

// ------------------------------------------------------------------ encoding

/**
 * Output slab with big-endian writers. Allocating an ArrayBuffer per message
 * costs more than encoding a small one, so each encoding is written after the
 * previous one in a shared slab and handed out as a subarray (the msgpackr
 * trick); a full slab is replaced, never overwritten.
 */
class Writer {
  static readonly SLAB = 1024 * 1024;
  buf = new Uint8Array(Writer.SLAB);
  dv = new DataView(this.buf.buffer);
  start = 0;
  pos = 0;

  begin(): void {
    this.start = this.pos = (this.pos + 7) & ~7;
    if (this.start > this.buf.length - 64) this.#replace(64);
  }

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    this.#replace(this.pos - this.start + n);
  }

  // Moves the message begun so far to a fresh slab with room for `need` bytes.
  #replace(need: number): void {
    let size = Writer.SLAB;
    while (size < need * 2) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(this.start, this.pos));
    this.pos -= this.start;
    this.start = 0;
    this.buf = next;
    this.dv = new DataView(next.buffer);
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

  text(s: string, raw: Uint8Array | undefined): void {
    if (raw) return this.bytes(raw);
    const n = s.length;
    if (n < 128) {
      // Optimistic: one length byte and ASCII, written in place.
      this.reserve(n + 1);
      const buf = this.buf, start = this.pos + 1;
      let k = 0;
      for (; k < n; k++) {
        const ch = s.charCodeAt(k);
        if (ch > 0x7f) break;
        buf[start + k] = ch;
      }
      if (k === n) {
        buf[this.pos] = n;
        this.pos = start + n;
        return;
      }
    }
    // UTF-8 needs at most 3 bytes per UTF-16 unit; encode, then place the length.
    this.reserve(n * 3 + 5);
    const tmpStart = this.pos + 5;
    const { written } = utf8Enc.encodeInto(s, this.buf.subarray(tmpStart));
    const lenBytes = written < 0x80 ? 1 : written < 0x4000 ? 2 : written < 0x200000 ? 3 : 4;
    this.buf.copyWithin(this.pos + lenBytes, tmpStart, tmpStart + written);
    this.varbyte(written);
    this.pos += written;
  }
}

function fail(msg: string): never {
  throw new BrokerError(ErrorCode.serialization_failed, msg);
}

function inOrder<T>(items: readonly T[], key: (t: T) => Data): readonly T[] {
  for (let k = 1; k < items.length; k++) {
    if (compare(key(items[k - 1]), key(items[k])) >= 0) {
      // Hand-built values may be unsorted; Broker's containers never are.
      const sorted = items.slice().sort((a, b) => compare(key(a), key(b)));
      return sorted.filter((t, j) => j === 0 || compare(key(sorted[j - 1]), key(t)) !== 0);
    }
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

let shared: Writer = new Writer();

/**
 * Encodes one value in Broker's binary format v1, byte for byte as Broker
 * does (set elements and table keys in Broker's order). Throws a
 * `BrokerError` (`serialization_failed`) for values that are not Broker data.
 *
 * @example
 * ```ts
 * import { encode } from "./binary.ts";
 * import { port } from "./constructors.ts";
 * console.log(encode(port(80, "tcp"))); // Uint8Array [8, 0, 80, 1]
 * ```
 */
export function encode(value: Data): Uint8Array {
  const w = shared;
  w.begin();
  try {
    writeValue(w, value, 0);
  } catch (e) {
    w.pos = w.start; // drop the partial message
    if (e instanceof BrokerError) throw e;
    throw new BrokerError(ErrorCode.serialization_failed, `cannot encode: ${e}`, { cause: e });
  }
  const out = w.buf.subarray(w.start, w.pos);
  // A slab grown for one huge value is not kept for the small ones after it.
  if (w.buf.length > Writer.SLAB) shared = new Writer();
  return out;
}

/**
 * Encodes a value right behind `header` in one buffer (a subarray of the
 * shared slab): how the peering layer builds a framed data message without a
 * second allocation or copy. The caller fills in any length fields.
 *
 * @example
 * ```ts
 * import { encodeAfter } from "./binary.ts";
 * import { count } from "./constructors.ts";
 * console.log(encodeAfter(new Uint8Array([9, 9]), count(1n)).length); // 2 + 9
 * ```
 */
export function encodeAfter(header: Uint8Array, value: Data): Uint8Array {
  const w = shared;
  w.begin();
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
  const out = w.buf.subarray(w.start, w.pos);
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
 * import { copyToSlab } from "./binary.ts";
 * const copy = copyToSlab(new Uint8Array([1, 2, 3]));
 * copy[0] = 9; // the original is untouched
 * ```
 */
export function copyToSlab(bytes: Uint8Array, headroom = 0): Uint8Array {
  const w = shared;
  w.begin();
  w.reserve(headroom + bytes.length);
  w.buf.fill(0, w.pos, w.pos + headroom);
  w.buf.set(bytes, w.pos + headroom);
  w.pos += headroom + bytes.length;
  const out = w.buf.subarray(w.start, w.pos);
  if (w.buf.length > Writer.SLAB) shared = new Writer();
  return out;
}

// ------------------------------------------------------- encoding through WASM

/** Signals that the encoding area was too small; the caller retries larger. */
const AREA_FULL = Symbol("area full");

/** Flattens a value into tape nodes in WASM memory; the module writes the bytes. */
class TapeWriter {
  n = 0;
  h = 0;
  readonly c: WasmCodec;
  readonly tape: number;
  readonly heap: number;
  readonly nodeCap: number;
  readonly heapCap: number;

  constructor(c: WasmCodec, tape: number, heap: number, nodeCap: number, heapCap: number) {
    this.c = c;
    this.tape = tape;
    this.heap = heap;
    this.nodeCap = nodeCap;
    this.heapCap = heapCap;
  }

  node(tag: Tag): number {
    if (this.n >= this.nodeCap) throw AREA_FULL;
    const byte = this.tape + 16 * this.n++;
    this.c.u8[byte] = tag;
    return byte;
  }

  heapBytes(b: Uint8Array): number {
    if (this.h + b.length > this.heapCap) throw AREA_FULL;
    const at = this.h;
    this.c.u8.set(b, this.heap + at);
    this.h += b.length;
    return at;
  }

  text(tag: Tag, s: string, raw: Uint8Array | undefined): void {
    const byte = this.node(tag);
    const c = this.c;
    let len: number;
    const at = this.h;
    if (raw) {
      this.heapBytes(raw);
      len = raw.length;
    } else {
      if (at + 3 * s.length > this.heapCap) throw AREA_FULL;
      const base = this.heap + at;
      const u8 = c.u8;
      let k = 0;
      for (; k < s.length && k < 64; k++) {
        const ch = s.charCodeAt(k);
        if (ch > 0x7f) break;
        u8[base + k] = ch;
      }
      len = k === s.length
        ? k
        : utf8Enc.encodeInto(s, u8.subarray(base, this.heap + this.heapCap)).written;
      this.h += len;
    }
    c.u32[(byte >> 2) + 1] = at;
    c.u64[(byte >> 3) + 1] = BigInt(len);
  }

  value(d: Data, depth: number): void {
    if (depth > 10_000) fail("value nested too deeply to encode");
    const c = this.c;
    switch (d?.type) {
      case "none":
        this.node(Tag.none);
        return;
      case "boolean":
        c.u32[(this.node(Tag.boolean) >> 2) + 1] = d.value ? 1 : 0;
        return;
      case "count":
        if (typeof d.value !== "bigint" || d.value < 0n || d.value > LIMITS.U64_MAX) {
          fail(`count out of range: ${d.value}`);
        }
        c.u64[(this.node(Tag.count) >> 3) + 1] = d.value;
        return;
      case "integer":
      case "timestamp":
      case "timespan": {
        if (typeof d.value !== "bigint" || d.value < LIMITS.I64_MIN || d.value > LIMITS.I64_MAX) {
          fail(`${d.type} out of range: ${d.value}`);
        }
        const tag = d.type === "integer"
          ? Tag.integer
          : d.type === "timestamp"
          ? Tag.timestamp
          : Tag.timespan;
        c.i64[(this.node(tag) >> 3) + 1] = d.value;
        return;
      }
      case "real":
        if (typeof d.value !== "number") fail("real must be a number");
        c.f64[(this.node(Tag.real) >> 3) + 1] = d.value;
        return;
      case "string":
      case "enum":
        if (typeof d.value !== "string") fail("string and enum values must be strings");
        this.text(d.type === "string" ? Tag.string : Tag.enum, d.value, d.bytes);
        return;
      case "address": {
        const byte = this.node(Tag.address);
        c.u32[(byte >> 2) + 1] = this.heapBytes(d.value.bytes);
        return;
      }
      case "subnet": {
        const byte = this.node(Tag.subnet);
        this.c.u32[(byte >> 2) + 1] = this.heapBytes(d.value.address.bytes);
        this.c.u64[(byte >> 3) + 1] = BigInt(d.value.rawLength);
        return;
      }
      case "port": {
        const proto = PROTOCOLS.indexOf(d.value.protocol);
        if (proto < 0) fail(`bad protocol ${d.value.protocol}`);
        c.u32[(this.node(Tag.port) >> 2) + 1] = d.value.number | (proto << 16);
        return;
      }
      case "set":
      case "vector": {
        const items = d.type === "set" ? inOrder(d.value, (x) => x) : d.value;
        const byte = this.node(d.type === "set" ? Tag.set : Tag.vector);
        this.c.u32[(byte >> 2) + 1] = items.length;
        for (let k = 0; k < items.length; k++) this.value(items[k], depth + 1);
        return;
      }
      case "table": {
        const entries = inOrder(d.value, (e) => e[0]);
        const byte = this.node(Tag.table);
        this.c.u32[(byte >> 2) + 1] = entries.length;
        for (let k = 0; k < entries.length; k++) {
          this.value(entries[k][0], depth + 1);
          this.value(entries[k][1], depth + 1);
        }
        return;
      }
      default:
        fail(`not a Broker value: ${String((d as { type?: unknown })?.type ?? d)}`);
    }
  }
}

let areaNodes = 256;
let areaHeap = 4096;

/**
 * Encodes like `encode`, but JS only flattens the value into a tape in WASM
 * memory and the WASM module writes the bytes. Same output, byte for byte;
 * kept beside `encode` so the benchmark can show which path is faster.
 *
 * @example
 * ```ts
 * import { encodeWasm } from "./binary.ts";
 * import { port } from "./constructors.ts";
 * console.log(encodeWasm(port(80, "tcp"))); // Uint8Array [8, 0, 80, 1]
 * ```
 */
export function encodeWasm(value: Data): Uint8Array {
  const c = WasmCodec.shared();
  for (;;) {
    const [tape, heap, out, outCap] = c.encodeArea(areaNodes, areaHeap);
    const w = new TapeWriter(c, tape, heap, areaNodes, areaHeap);
    try {
      w.value(value, 0);
    } catch (e) {
      if (e === AREA_FULL) {
        areaNodes *= 4;
        areaHeap *= 4;
        continue;
      }
      if (e instanceof BrokerError) throw e;
      throw new BrokerError(ErrorCode.serialization_failed, `cannot encode: ${e}`, { cause: e });
    }
    const len = c.encodeTape(tape, w.n, heap, out, outCap);
    if (len < 0) throw wasmError(len);
    const slab = shared;
    slab.begin();
    slab.reserve(len);
    slab.buf.set(c.u8.subarray(out, out + len), slab.pos);
    slab.pos += len;
    return slab.buf.subarray(slab.start, slab.pos);
  }
}
