/**
 * The alternative decoder: WASM decodes every value into native-endian tape
 * nodes and JS only allocates (`decodeViaTape`), kept beside `decode` so the
 * codec benchmark shows which path is faster.
 *
 * @module
 */
import {
  FLAG_ASCII,
  FLAG_UNSORTED,
  FLAG_UTF8,
  NODE_SIZE,
  WasmCodec,
} from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { NONE, sortChecked } from "./build.ts";
import { utf8Fatal, utf8Lossy } from "./read_text.ts";
import { Address, type Data, Port, PROTOCOLS, Subnet, Tag } from "./types.ts";
import { asBytes, type DecodeOptions, scanLoaded } from "./validate.ts";

/** Walks a tape in pre-order and builds JS values. */
class TapeReader {
  i = 0;
  readonly u8: Uint8Array;
  readonly u32: Uint32Array;
  readonly u64: BigUint64Array;
  readonly i64: BigInt64Array;
  readonly f64: Float64Array;
  tape: number;
  readonly input: number;

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
    // A new reader for a new codec, or when its memory grew (the views renew; rare).
    if (r?.codec !== c || r.u8 !== c.u8) lastReader = r = new TapeReader(c);
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

/**
 * Decodes like `decode`, but through the WASM tape: WASM decodes every value
 * into native-endian nodes and JS only allocates. Same results; kept beside
 * `decode` so the benchmark shows which path is faster (today: `decode`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeViaTape } from "./decode_tape.ts";
 * equal(decodeViaTape(new Uint8Array([0x01, 0x01])).value, true);
 * ```
 */
export function decodeViaTape(bytes: Uint8Array, options?: DecodeOptions): Data {
  const c = WasmCodec.shared();
  const len = c.load(asBytes(bytes));
  scanLoaded(c, len, options, true);
  return TapeReader.for(c).next();
}
