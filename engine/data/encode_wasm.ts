/**
 * The alternative encoder: JS flattens a value into tape nodes in WASM memory
 * and the WASM module writes the bytes (`encodeWasm`), kept beside `encode`
 * so the codec benchmark shows which path is faster.
 *
 * @module
 */
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { fail, inOrder } from "./encode.ts";
import { beginShared, utf8Enc } from "./slab.ts";
import { type Data, LIMITS, PROTOCOLS, Tag } from "./types.ts";
import { wasmError } from "./validate.ts";

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
 * import { deepEqual } from "node:assert/strict";
 * import { encodeWasm } from "./encode_wasm.ts";
 * import { port } from "./constructors.ts";
 * deepEqual([...encodeWasm(port(80, "tcp"))], [8, 0, 80, 1]);
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
    // Not finishShared: this path has never swapped out a slab it grew.
    const slab = beginShared();
    slab.reserve(len);
    slab.buf.set(c.u8.subarray(out, out + len), slab.pos);
    slab.pos += len;
    return slab.view(slab.start, slab.pos);
  }
}
