/**
 * The lazy view of an encoded value (`EncodedData`): its type, sizes,
 * elements and text read in place from the validated bytes, without
 * building the rest.
 *
 * @module
 */
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode } from "./decode.ts";
import { utf8Lossy } from "./read_text.ts";
import { type Data, Tag, TYPE_NAMES } from "./types.ts";
import { asBytes, type DecodeOptions, validateLoaded } from "./validate.ts";

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
 * import { equal } from "node:assert/strict";
 * import { EncodedData } from "./view.ts";
 * import { encode } from "./encode.ts";
 * import { count, str, vector } from "./constructors.ts";
 * const view = EncodedData.from(encode(vector(str("ping"), count(1n))));
 * equal(view.length, 2);
 * equal(view.at(0).text(), "ping");
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
