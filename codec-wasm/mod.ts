/**
 * The TypeScript face of the WebAssembly codec: loads the module once and
 * exposes scan (validate + index into a tape), lazy navigation and tape
 * encoding over bytes that lie in the module's memory. Knows nothing of
 * sockets, and nothing of the JS data model either: it speaks bytes and tapes.
 *
 * @module
 */
import { CODEC_WASM_BASE64 } from "./codec_wasm.ts";

/** Error results of the WASM functions (negative return values). */
export enum WasmError {
  eof = -1,
  tag = -2,
  varbyte = -3,
  length = -4,
  depth = -5,
  port = -6,
  duplicate = -7,
  trailing = -8,
  empty = -9,
  capacity = -10,
}

/** Tape node flags. */
export const FLAG_ASCII = 1;
/** The string's bytes are valid UTF-8. */
export const FLAG_UTF8 = 2;
/** A set or table whose elements arrived out of Broker's order. */
export const FLAG_UNSORTED = 4;

/** Bytes per tape node. */
export const NODE_SIZE = 16;
/** Bytes of per-level scan state. */
const LEVEL_SIZE = 24;
/** Highest nesting limit the scanner accepts (its state lives in linear memory). */
export const MAX_DEPTH_LIMIT = 10_000;

interface Exports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  lastExtent(): number;
  scan(
    inp: number,
    len: number,
    tape: number,
    cap: number,
    stack: number,
    maxDepth: number,
  ): number;
  validate(inp: number, len: number, stack: number, maxDepth: number): number;
  skip(inp: number, off: number): number;
  child(inp: number, off: number, i: number): number;
  childCount(inp: number, off: number): number;
  textAt(inp: number, off: number): number;
  compare(a: number, b: number): number;
  encodeTape(tape: number, n: number, heap: number, out: number, outCap: number): number;
  jsonValue(inp: number, len: number, out: number, cap: number): number;
}

/**
 * Writes the text of the real whose encoding's big-endian words are `hi`
 * and `lo` (unsigned) into linear memory at `out`, in at most `room` bytes;
 * returns its length, or -1 to decline.
 */
export type RealText = (hi: number, lo: number, out: number, room: number) => number;

function decodeBase64(b64: string): Uint8Array<ArrayBuffer> {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/**
 * One instance of the codec module and the layout of its memory:
 * `[static | scan stack | input | tape]` for decoding and
 * `[static | tape | heap | output]` for encoding.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { WasmCodec } from "./mod.ts";
 * const codec = WasmCodec.shared();
 * const len = codec.load(new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0, 5]));
 * equal(codec.scan(len, 64, true), 1); // 1 node
 * equal(codec.u64[codec.tape / 8 + 1], 5n);
 * ```
 */
export class WasmCodec {
  static #shared?: WasmCodec;
  readonly #x: Exports;
  #realText: RealText = () => -1;
  /**
   * Where a scan leaves results besides its return value (u32: a set or
   * table was unsorted; u32: the number of values).
   */
  readonly results: number;
  /** Start of the scan stack. */
  readonly stack: number;
  /** Start of the input region. */
  readonly input: number;
  /** Start of the tape of the last scan. */
  tape = 0;
  /** Where the last `json` wrote its text. */
  jsonOut = 0;
  /** Counts loads of the input region, so views can tell their bytes were replaced. */
  generation = 0;
  /** Views of linear memory, renewed when it grows. */
  u8!: Uint8Array;
  /** 32-bit view. */
  u32!: Uint32Array;
  /** 32-bit signed view. */
  i32!: Int32Array;
  /** 64-bit unsigned view. */
  u64!: BigUint64Array;
  /** 64-bit signed view. */
  i64!: BigInt64Array;
  /** Double view. */
  f64!: Float64Array;
  /** DataView of the whole memory (big-endian reads of wire data). */
  dv!: DataView;

  constructor(module?: WebAssembly.Module) {
    const mod = module ?? new WebAssembly.Module(decodeBase64(CODEC_WASM_BASE64));
    // The JSON writer asks the host for a real's text (see `json`).
    const env = {
      realText: (hi: number, lo: number, out: number, room: number) =>
        this.#realText(hi >>> 0, lo >>> 0, out, room),
    };
    this.#x = new WebAssembly.Instance(mod, { env }).exports as unknown as Exports;
    const base = (this.#x.heapBase() + 15) & ~15;
    // 16 bytes of scan results, then the scan stack.
    this.results = base;
    this.stack = base + 16;
    this.input = base + 16 + ((MAX_DEPTH_LIMIT + 1) * LEVEL_SIZE + 15 & ~15);
    this.#refresh();
  }

  /** The instance shared by the codec functions of this module's users. */
  static shared(): WasmCodec {
    return (WasmCodec.#shared ??= new WasmCodec());
  }

  #refresh(): void {
    const buf = this.#x.memory.buffer;
    this.u8 = new Uint8Array(buf);
    this.u32 = new Uint32Array(buf);
    this.i32 = new Int32Array(buf);
    this.u64 = new BigUint64Array(buf);
    this.i64 = new BigInt64Array(buf);
    this.f64 = new Float64Array(buf);
    this.dv = new DataView(buf);
  }

  /** Makes sure linear memory reaches `end` bytes. */
  ensure(end: number): void {
    // u8.length tracks the memory size without asking the engine for `memory.buffer`.
    const have = this.u8.length;
    if (end <= have) return;
    const pages = Math.ceil((end - have) / 65536);
    this.#x.memory.grow(Math.max(pages, (have >> 16) >> 1));
    this.#refresh();
  }

  /**
   * A view of `len` bytes of the input region, to be filled by the caller
   * (e.g. straight from a socket read). Valid until the memory grows.
   */
  inputView(len: number): Uint8Array {
    this.ensure(this.#decodeEnd(len));
    this.generation++;
    return this.u8.subarray(this.input, this.input + len);
  }

  #decodeEnd(len: number): number {
    return ((this.input + len + 15) & ~15) + (len + 1) * NODE_SIZE;
  }

  /** Copies bytes into the input region (one copy per message); returns their length. */
  load(bytes: Uint8Array): number {
    this.ensure(this.#decodeEnd(bytes.length));
    this.u8.set(bytes, this.input);
    this.generation++;
    return bytes.length;
  }

  /**
   * Validates the value at the start of the input region and, with `withTape`,
   * indexes it into the tape (at `this.tape`). Returns the node count or a
   * `WasmError`; `extent()` gives the bytes the value occupies.
   */
  scan(len: number, maxDepth: number, withTape: boolean): number {
    this.tape = (this.input + len + 15) & ~15;
    const depth = Math.min(Math.max(0, maxDepth | 0), MAX_DEPTH_LIMIT);
    return this.#x.scan(
      this.input,
      len,
      withTape ? this.tape : 0,
      len + 1,
      this.stack,
      depth,
    );
  }

  /**
   * Validates the value at the start of the input region without a tape;
   * returns the bytes it occupies or a `WasmError`. `unsorted()` then tells
   * whether some set or table arrived out of Broker's order.
   */
  validate(len: number, maxDepth: number): number {
    return this.#x.validate(this.input, len, this.stack, maxDepth);
  }

  /** Whether the last successful scan met a set or table out of order. */
  unsorted(): boolean {
    return this.u32[this.results >> 2] !== 0;
  }

  /** How many values (containers and their elements, all levels) the last successful scan met. */
  valueCount(): number {
    return this.u32[(this.results >> 2) + 1];
  }

  /** Bytes consumed by the last successful scan. */
  extent(): number {
    return this.#x.lastExtent();
  }

  /** Offset (from the input start) just past the valid value at `off`. */
  skip(off: number): number {
    return this.#x.skip(this.input, off);
  }

  /** Offset of element i of the valid container at `off`, or -1. */
  child(off: number, i: number): number {
    return this.#x.child(this.input, off, i);
  }

  /** Element count (pairs for tables) of the valid container at `off`, or -1. */
  childCount(off: number): number {
    return this.#x.childCount(this.input, off);
  }

  /** Body offset of the string or enum at `off` (length in `extent()`), or -1. */
  textAt(off: number): number {
    return this.#x.textAt(this.input, off);
  }

  /** Compares two valid values in the input region in Broker's order. */
  compareAt(offA: number, offB: number): number {
    return this.#x.compare(this.input + offA, this.input + offB);
  }

  /**
   * Lays out an encoding area over the input region (which it invalidates):
   * room for `nodes` tape nodes, `heap` bytes of strings and addresses, and
   * the output. Returns `[tape, heap, out, outCap]` as byte offsets.
   */
  encodeArea(nodes: number, heap: number): [number, number, number, number] {
    const tape = this.input;
    const heapStart = tape + nodes * NODE_SIZE;
    const out = (heapStart + heap + 15) & ~15;
    const outCap = nodes * 23 + heap;
    this.ensure(out + outCap);
    this.generation++;
    return [tape, heapStart, out, outCap];
  }

  /**
   * Writes the WebSocket JSON members of the valid value loaded in the input
   * region (`len` bytes) and the `}` that closes the object they go in:
   * `"@data-type":"count","data":1}`. The text goes after the input, at
   * `jsonOut`; at most `cap` bytes are used (the text needs up to 48 per
   * input byte, plus 256). Each real's text comes from `realText`, which
   * writes it into `u8` during this call. Returns the text's length, or -1
   * where the JS writer must write it: addresses that are not IPv4, text
   * that is not UTF-8, nesting deeper than 200, a real `realText` declined, a
   * value that is malformed or does not end at `len`, or too little room.
   */
  json(len: number, cap: number, realText: RealText): number {
    const out = (this.input + len + 15) & ~15;
    this.ensure(out + cap);
    this.jsonOut = out;
    this.#realText = realText;
    return this.#x.jsonValue(this.input, len, out, cap);
  }

  /**
   * Encodes `n` nodes written at `tape` (strings and addresses taken from
   * `heap`) into `out`; returns the bytes written or `WasmError.capacity`.
   */
  encodeTape(tape: number, n: number, heap: number, out: number, outCap: number): number {
    return this.#x.encodeTape(tape, n, heap, out, outCap);
  }
}
