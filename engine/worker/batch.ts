/**
 * The batch format between an endpoint's thread and a subscriber's Worker:
 * many received payloads, still encoded, in one ArrayBuffer that is
 * transferred (not copied) to the worker and transferred back for reuse.
 * Topics cross as small numbers; a topic's text crosses once, in the batch
 * that first names it.
 *
 * Record layout, little-endian: u32 topic id, u32 payload length with bit 31
 * set when the payload's sets and tables need re-sorting (`validateForLater`'s
 * answer), then the payload bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { BatchReader, BatchWriter } from "./batch.ts";
 * import { count, encode, validateForLater } from "../data/mod.ts";
 * const w = new BatchWriter(4096);
 * const payload = encode(count(7n));
 * w.add("/t", payload, validateForLater(payload));
 * const r = new BatchReader();
 * const [m] = r.read(w.take());
 * equal(`${m.topic} ${m.data.value}`, "/t 7");
 * ```
 *
 * @module
 */
import { decodeValidated } from "../data/mod.ts";
import type { DataMessage } from "../subscriber.ts";

/** One batch as posted to the worker (its `buffer` in the transfer list). */
export interface Batch {
  /** Holds the records from offset 0 to `used`. */
  readonly buffer: ArrayBuffer;
  /** Bytes of records in `buffer`. */
  readonly used: number;
  /** Records in the batch. */
  readonly count: number;
  /** Topics named for the first time, taking the next ids in order. */
  readonly topics: readonly string[];
  /** Forget every topic id before reading (the writer's table was full). */
  readonly reset: boolean;
}

const RECORD_HEADER = 8;
const UNSORTED = 0x8000_0000;
/** Distinct topics remembered before both sides start their tables afresh. */
const MAX_TOPIC_IDS = 4096;

/**
 * The endpoint's side: appends payloads to a batch buffer and hands the
 * batch over. Buffers come back from the worker (`recycle`) so that a
 * steady stream allocates none (an ArrayBuffer costs ~1 µs here).
 *
 * @example
 * ```ts
 * import { BatchWriter } from "./batch.ts";
 * const w = new BatchWriter(1024);
 * if (w.count !== 0 || w.add("/t", new Uint8Array([2, 1]), false) !== true) throw new Error();
 * ```
 */
export class BatchWriter {
  readonly #size: number;
  readonly #ids = new Map<string, number>();
  readonly #spare: ArrayBuffer[] = [];
  #buf: ArrayBuffer | undefined;
  #u8 = new Uint8Array(0);
  #dv = new DataView(new ArrayBuffer(0));
  #pos = 0;
  #count = 0;
  #newTopics: string[] = [];
  #reset = false;

  /** Batches of `size` bytes (a larger payload gets a batch of its own size). */
  constructor(size: number) {
    this.#size = size;
  }

  /** Records in the open batch. */
  get count(): number {
    return this.#count;
  }

  /**
   * Appends one payload; false when it does not fit the open batch (take
   * it, then add again: an empty batch always takes it).
   */
  add(topic: string, payload: Uint8Array, unsorted: boolean): boolean {
    const need = RECORD_HEADER + payload.length;
    if (this.#buf === undefined) this.#open(need);
    else if (this.#pos + need > this.#u8.length) return false;
    let id = this.#ids.get(topic);
    if (id === undefined) {
      if (this.#ids.size >= MAX_TOPIC_IDS) {
        // Only at a batch's start can both sides drop their tables in step.
        if (this.#count > 0) return false;
        this.#ids.clear();
        this.#newTopics = [];
        this.#reset = true;
      }
      id = this.#ids.size;
      this.#ids.set(topic, id);
      this.#newTopics.push(topic);
    }
    const p = this.#pos;
    this.#dv.setUint32(p, id, true);
    this.#dv.setUint32(p + 4, unsorted ? (payload.length | UNSORTED) >>> 0 : payload.length, true);
    this.#u8.set(payload, p + RECORD_HEADER);
    this.#pos = p + need;
    this.#count++;
    return true;
  }

  /** Closes the open batch and returns it; its buffer must be transferred. */
  take(): Batch {
    const batch: Batch = {
      buffer: this.#buf ?? new ArrayBuffer(0),
      used: this.#pos,
      count: this.#count,
      topics: this.#newTopics,
      reset: this.#reset,
    };
    this.#buf = undefined;
    this.#pos = 0;
    this.#count = 0;
    this.#newTopics = [];
    this.#reset = false;
    return batch;
  }

  /** Takes back a buffer the worker is done with. */
  recycle(buffer: ArrayBuffer): void {
    if (buffer.byteLength === this.#size && this.#spare.length < 8) this.#spare.push(buffer);
  }

  #open(need: number): void {
    const buf = need > this.#size ? new ArrayBuffer(need) : this.#spare.pop() ??
      new ArrayBuffer(this.#size);
    this.#buf = buf;
    this.#u8 = new Uint8Array(buf);
    this.#dv = new DataView(buf);
  }
}

/**
 * The worker's side: builds each record's value from the batch, where it
 * lies (the bytes were validated on the endpoint's thread and cannot have
 * changed since: the buffer was transferred, so only this thread holds it).
 *
 * @example
 * ```ts
 * import { BatchReader } from "./batch.ts";
 * const r = new BatchReader();
 * const none = { buffer: new ArrayBuffer(0), used: 0, count: 0, topics: [], reset: false };
 * if (r.read(none).length !== 0) throw new Error("an empty batch");
 * ```
 */
export class BatchReader {
  readonly #topics: string[] = [];

  /** Every record's topic and value, in order. */
  read(batch: Batch): DataMessage[] {
    if (batch.reset) this.#topics.length = 0;
    for (const t of batch.topics) this.#topics.push(t);
    const u8 = new Uint8Array(batch.buffer, 0, batch.used);
    const dv = new DataView(batch.buffer, 0, batch.used);
    const out: DataMessage[] = new Array(batch.count);
    let p = 0;
    for (let k = 0; k < batch.count; k++) {
      const topic = this.#topics[dv.getUint32(p, true)];
      const word = dv.getUint32(p + 4, true);
      const len = word & ~UNSORTED;
      p += RECORD_HEADER;
      out[k] = { topic, data: decodeValidated(u8.subarray(p, p + len), (word & UNSORTED) !== 0) };
      p += len;
    }
    return out;
  }
}
