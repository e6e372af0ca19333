/**
 * `DataBuilder`: a value written straight into Broker's binary format, as
 * Broker's `list_builder`, `set_builder` and `table_builder` do, without
 * building `Data` objects first. A publisher that makes a fresh event per
 * message (a Zeek conn event: 18 fields) saves the objects, the bigints of
 * counts given as numbers, and the walk `encode` makes over them.
 *
 * Unlike Broker's builders, which write set elements in the order they were
 * added (their precondition: unique elements), sets and tables come out in
 * Broker's order without repeats, as `encode` writes them: what Broker
 * sends for a `broker::set`, and what receivers read fastest.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode } from "./decode.ts";
import { fail, writeData } from "./encode.ts";
import {
  brokerEquivalent,
  compare,
  compareEncodedTexts,
  keepFirstInserted,
  nanMet,
} from "./order.ts";
import { Writer } from "./slab.ts";
import { type Address, type Data, LIMITS, type Protocol, PROTOCOLS, type Subnet } from "./types.ts";

const TWO_32 = 0x100000000;
/** `PROTOCOLS.indexOf` as a map: no builtin call per port written. */
const PROTOCOL_INDEX = new Map(PROTOCOLS.map((p, i) => [p, i]));
/**
 * The slab size of values finished with a prefix (frames): the transport's
 * largest write, so that a slab's frames go out in one write without a copy.
 * Unlike the shared slab's 64 KiB (`Writer.SLAB`), it is above glibc's mmap
 * threshold: a publisher of event_1 took 22,700–45,600 page faults in a 6 s
 * run against 15,900–35,800 with 64 KiB slabs (seven runs each), with no
 * more system time per message (measured).
 */
const PREFIXED_SLAB = 256 * 1024;
/** Sets and tables up to this many items are sorted by insertion (no allocation). */
const SMALL_SORT = 16;

/**
 * Writes one Broker value (usually a vector, e.g. a Zeek event) field by
 * field into its own buffer: scalars with `count`, `str`, `addr` and the
 * like, containers between `beginVector` / `beginSet` / `beginTable` and
 * `end`, any `Data` with `data`. `finish` hands out the bytes, for
 * `Endpoint.publishEncoded` or `decode`; `reset` starts the next value in
 * the same buffer. `finishWithPrefix` (what `Endpoint.publishBuilt` uses)
 * hands them out behind a frame header, in place. Errors are `BrokerError`s
 * (`serialization_failed`), as `encode` throws them.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { DataBuilder } from "./builder.ts";
 * import { count, encode, set, str, vector } from "./mod.ts";
 * const b = new DataBuilder();
 * b.beginVector().count(1).str("x").beginSet().str("b").str("a").end().end();
 * // The same bytes as encoding the value: the set comes out in Broker's order.
 * deepEqual(b.finish(), encode(vector(count(1), str("x"), set(str("a"), str("b")))));
 * ```
 */
export class DataBuilder {
  #w: Writer;
  /**
   * Bytes kept free before each value for a prefix (`finishWithPrefix`): 0
   * until a value was first finished with one. From then on each value
   * begins after the last one in a slab-sized buffer (a full one is
   * replaced, never written over), so a value and its prefix are handed on
   * in place, and views of earlier values stay valid.
   */
  #headroom = 0;
  /** The room `reset` keeps from now on (the longest prefix asked for). */
  #wantedRoom = 0;
  // One entry per open container, below #depth: its tag, where its count
  // byte is, how many values it holds so far, and where its values' starts
  // begin in #starts. Typed arrays and counters: a builder is reset once per
  // message, and truncating arrays there cost more than the writing.
  #depth = 0;
  #tags = new Int32Array(16);
  #countAt = new Int32Array(16);
  #counts = new Int32Array(16);
  #startsFrom = new Int32Array(16);
  // Where each value of an open set or table begins (table: keys and values), below #nStarts.
  #starts: number[] = [];
  #nStarts = 0;
  #values = 0;
  #repeats = 0;
  // For sorting a set or table as it ends (see #sort): each item's bounds, their order, the bytes.
  #itemAt = new Int32Array(16);
  #itemKeyEnd = new Int32Array(16);
  #itemEnd = new Int32Array(16);
  #order = new Int32Array(16);
  #scratch = new Uint8Array(256);

  /** A builder whose buffer starts at `initialSize` bytes and grows as needed. */
  constructor(initialSize = 4096) {
    this.#w = new Writer(initialSize);
  }

  /**
   * Drops what was written: the next value starts at the beginning of the
   * buffer (after a value finished with a prefix, after the last value).
   */
  reset(): this {
    this.#depth =
      this.#nStarts =
      this.#values =
      this.#repeats =
        0;
    if (this.#wantedRoom > this.#headroom) this.#keepRoom(this.#wantedRoom);
    const w = this.#w;
    if (this.#headroom === 0) {
      w.start = w.pos = 0;
    } else {
      w.begin();
      w.reserve(this.#headroom);
      w.pos += this.#headroom;
    }
    return this;
  }

  #keepRoom(n: number): void {
    if (this.#headroom === 0) {
      // Values now stay where they were written: a slab, as the encoder's.
      this.#w = new Writer(PREFIXED_SLAB);
      this.#w.moved = (by) => this.#shift(by);
    }
    this.#headroom = n;
  }

  // The value begun so far moved to a fresh buffer: so do the positions noted in it.
  #shift(by: number): void {
    for (let i = 0; i < this.#depth; i++) this.#countAt[i] += by;
    for (let i = 0; i < this.#nStarts; i++) this.#starts[i] += by;
  }

  /**
   * How many set elements and table entries the value written since the
   * last `reset` lost as repeats (of a repeated key, a table keeps the first
   * entry). Broker's JSON reader refuses such a set or table; a reader that
   * writes into a builder checks this to do the same.
   *
   * @example
   * ```ts
   * import { DataBuilder } from "./builder.ts";
   * const b = new DataBuilder();
   * // {1, 1, 2}: one 1 is dropped.
   * if (b.beginSet().count(1).count(1).count(2).end().repeats !== 1) throw new Error("one repeat");
   * if (b.reset().repeats !== 0) throw new Error("none after reset");
   * ```
   */
  get repeats(): number {
    return this.#repeats;
  }

  /**
   * The encoded value: a view of the builder's buffer, valid until the next
   * `reset` (copy it to keep it; `publishEncoded` copies). Throws while a
   * container is open or unless exactly one top-level value was written.
   */
  finish(): Uint8Array {
    this.#assertFinished();
    const w = this.#w;
    return w.view(w.start + this.#headroom, w.pos);
  }

  /**
   * The encoded value with `prefix` (e.g. a frame header) right before it,
   * as one view, written in place without copying the value; or undefined
   * when less room than `prefix` was kept before the value, which the next
   * values then keep (from the next `reset` on). Unlike `finish`'s, the view
   * stays valid after `reset`: the builder writes later values after it.
   *
   * @example
   * ```ts
   * import { DataBuilder } from "./builder.ts";
   * const b = new DataBuilder();
   * const prefix = new Uint8Array([0xff, 0xfe]);
   * const first = b.reset().count(1).finishWithPrefix(prefix); // undefined: no room kept yet
   * const framed = b.reset().count(2).finishWithPrefix(prefix)!;
   * b.reset().count(3);
   * // ff fe, then count 2 (tag 2, eight bytes): still the second value.
   * if (first !== undefined || framed.join() !== "255,254,2,0,0,0,0,0,0,0,2") throw new Error("in place");
   * ```
   */
  finishWithPrefix(prefix: Uint8Array): Uint8Array | undefined {
    this.#assertFinished();
    const n = prefix.length;
    if (n > this.#headroom) {
      if (n > this.#wantedRoom) this.#wantedRoom = n;
      return undefined;
    }
    const w = this.#w, at = w.start + this.#headroom - n;
    // One set(): for a frame header (45+ bytes) it took half a byte loop's time.
    w.buf.set(prefix, at);
    return w.view(at, w.pos);
  }

  #assertFinished(): void {
    if (this.#depth > 0) fail(`${this.#depth} container(s) not ended`);
    if (this.#values !== 1) fail(`a builder holds one value, not ${this.#values}`);
  }

  // Every value starts here: counted in its container, its start noted in a set or table.
  #value(size: number): Writer {
    const depth = this.#depth;
    if (depth === 0) {
      if (this.#values > 0) fail("a builder holds one value: reset() before the next");
      this.#values = 1;
    } else {
      this.#counts[depth - 1]++;
      if (this.#tags[depth - 1] !== 14) this.#starts[this.#nStarts++] = this.#w.pos;
    }
    const w = this.#w;
    w.reserve(size);
    return w;
  }

  /** Broker's `none` (nil). */
  none(): this {
    const w = this.#value(1);
    w.buf[w.pos++] = 0;
    return this;
  }

  /** A boolean. */
  bool(value: boolean): this {
    const w = this.#value(2);
    w.buf[w.pos++] = 1;
    w.buf[w.pos++] = value ? 1 : 0;
    return this;
  }

  /** A count: 0 to 2^64 - 1 (a number must be a safe integer). */
  count(value: number | bigint): this {
    if (typeof value === "number") {
      if (!(Number.isSafeInteger(value) && value >= 0)) fail(`count out of range: ${value}`);
      return this.#words(2, value);
    }
    if (value < 0n || value > LIMITS.U64_MAX) fail(`count out of range: ${value}`);
    const w = this.#value(9);
    w.buf[w.pos] = 2;
    w.dv.setBigUint64(w.pos + 1, value);
    w.pos += 9;
    return this;
  }

  /** An integer: -2^63 to 2^63 - 1 (a number must be a safe integer). */
  integer(value: number | bigint): this {
    return this.#signed(3, value, "integer");
  }

  /** A real. */
  real(value: number): this {
    if (typeof value !== "number") fail("real must be a number");
    // Reals have CAF's bit patterns at the edges (encode.ts): one code path for them.
    return this.data({ type: "real", value });
  }

  /** A timestamp: nanoseconds since the epoch. */
  timestamp(ns: number | bigint): this {
    return this.#signed(9, ns, "timestamp");
  }

  /**
   * A timestamp from milliseconds since the epoch, as `Date.now()` gives
   * them (a fraction counts to the nearest nanosecond): the same bytes as
   * `timestamp(BigInt(ms) * 1_000_000n)` for whole milliseconds, without the
   * two bigints, which cost a conn event's publisher a tenth of its time.
   *
   * @example
   * ```ts
   * import { DataBuilder } from "./builder.ts";
   * const ms = Date.now();
   * const a = new DataBuilder().timestampMs(ms).finish().join();
   * const b = new DataBuilder().timestamp(BigInt(ms) * 1_000_000n).finish().join();
   * if (a !== b) throw new Error("the same bytes");
   * ```
   */
  timestampMs(ms: number): this {
    if (!Number.isFinite(ms)) fail(`timestamp out of range: ${ms} ms`);
    const whole = Math.floor(ms);
    // ns = whole * 1e6 + extra, in two 32-bit words: each product stays below 2^53.
    const extra = Math.round((ms - whole) * 1e6);
    const hi = Math.floor(whole / TWO_32);
    const low = (whole - hi * TWO_32) * 1e6 + extra;
    const carry = Math.floor(low / TWO_32);
    const high = hi * 1e6 + carry;
    if (high < -0x80000000 || high > 0x7fffffff) fail(`timestamp out of range: ${ms} ms`);
    const w = this.#value(9);
    w.buf[w.pos] = 9;
    w.dv.setInt32(w.pos + 1, high);
    w.dv.setUint32(w.pos + 5, low - carry * TWO_32);
    w.pos += 9;
    return this;
  }

  /** A timespan in nanoseconds. */
  timespan(ns: number | bigint): this {
    return this.#signed(10, ns, "timespan");
  }

  /** A string (a `Uint8Array`: its bytes as they are, UTF-8 or not). */
  str(value: string | Uint8Array): this {
    return this.#text(5, value);
  }

  /** A Zeek enum value by name. */
  enumValue(name: string | Uint8Array): this {
    return this.#text(11, name);
  }

  /** An address (`Address.parse("10.0.0.1")`, or an `addr(...)` value's `value`). */
  addr(value: Address): this {
    const w = this.#value(17);
    w.buf[w.pos] = 6;
    value.writeTo(w.dv, w.pos + 1);
    w.pos += 17;
    return this;
  }

  /** A subnet (`Subnet.parse("10.0.0.0/8")`). */
  subnet(value: Subnet): this {
    const w = this.#value(18);
    w.buf[w.pos] = 7;
    value.address.writeTo(w.dv, w.pos + 1);
    w.buf[w.pos + 17] = value.rawLength;
    w.pos += 18;
    return this;
  }

  /** A port: number (0 to 65535) and protocol. */
  port(number: number, protocol: Protocol = "unknown"): this {
    const proto = PROTOCOL_INDEX.get(protocol) ?? -1;
    if (!(number >= 0 && number <= 65535 && Number.isInteger(number)) || proto < 0) {
      fail(`bad port ${number}/${protocol}`);
    }
    const w = this.#value(4);
    w.buf[w.pos] = 8;
    w.buf[w.pos + 1] = number >> 8;
    w.buf[w.pos + 2] = number & 0xff;
    w.buf[w.pos + 3] = proto;
    w.pos += 4;
    return this;
  }

  /** Any value, encoded as `encode` encodes it. */
  data(value: Data): this {
    const w = this.#value(0);
    const at = w.pos - w.start; // the buffer may be replaced while writing
    try {
      writeData(w, value);
    } catch (e) {
      w.pos = w.start + at;
      throw e;
    }
    return this;
  }

  /** Opens a vector: the values up to the matching `end` are its elements. */
  beginVector(): this {
    return this.#open(14);
  }

  /** Opens a set: its elements come out in Broker's order, repeats dropped. */
  beginSet(): this {
    return this.#open(12);
  }

  /** Opens a table: values alternate key, value; keys come out in order, a repeated key keeps its first value. */
  beginTable(): this {
    return this.#open(13);
  }

  /** Closes the innermost open container. */
  end(): this {
    const depth = --this.#depth;
    if (depth < 0) {
      this.#depth = 0;
      fail("end() without an open container");
    }
    const tag = this.#tags[depth];
    const countAt = this.#countAt[depth];
    let n = this.#counts[depth];
    const from = this.#startsFrom[depth];
    if (tag === 13) {
      if (n % 2 !== 0) fail("a table needs a value for every key");
      n /= 2;
    }
    if (tag !== 14) {
      if (n > 1) {
        const kept = this.#sort(tag === 13, from, countAt + 1);
        this.#repeats += n - kept;
        n = kept;
      }
      this.#nStarts = from;
    }
    this.#writeCount(countAt, n);
    return this;
  }

  #open(tag: number): this {
    const w = this.#value(2);
    w.buf[w.pos] = tag;
    const depth = this.#depth++;
    if (depth === this.#tags.length) this.#grow();
    this.#tags[depth] = tag;
    this.#countAt[depth] = w.pos + 1;
    this.#counts[depth] = 0;
    this.#startsFrom[depth] = this.#nStarts;
    w.pos += 2; // one count byte for now: most containers hold fewer than 128 values
    return this;
  }

  #grow(): void {
    const more = (a: Int32Array) => {
      const b = new Int32Array(a.length * 2);
      b.set(a);
      return b;
    };
    this.#tags = more(this.#tags);
    this.#countAt = more(this.#countAt);
    this.#counts = more(this.#counts);
    this.#startsFrom = more(this.#startsFrom);
  }

  // The count as a varbyte at `at`, where one byte was kept: longer counts move the values up.
  #writeCount(at: number, n: number): void {
    const w = this.#w;
    if (n < 0x80) {
      w.buf[at] = n;
      return;
    }
    let size = 1;
    for (let v = n; v > 0x7f; v >>>= 7) size++;
    const rel = at - w.start;
    w.reserve(size - 1);
    at = w.start + rel; // in case the buffer was replaced
    w.buf.copyWithin(at + size, at + 1, w.pos);
    w.pos += size - 1;
    let v = n;
    for (let p = at; v > 0x7f; v >>>= 7) w.buf[p++] = (v & 0x7f) | 0x80;
    w.buf[at + size - 1] = v;
  }

  /**
   * Puts the elements (or entries, keyed by their first value) written since
   * `first` in Broker's order, dropping repeats; returns how many remain.
   *
   * Nothing is allocated for the sets events carry (a few elements): item
   * bounds and the order live in typed arrays kept by the builder, sorted by
   * insertion, and the bytes move through a reused scratch buffer. Building
   * an object per element, a closure and copies per set was a sixth of a
   * publisher's CPU for event_2 (two random strings in a set, in the wrong
   * order every other message).
   */
  #sort(isTable: boolean, from: number, first: number): number {
    const w = this.#w, starts = this.#starts, end = w.pos, buf = w.buf;
    const step = isTable ? 2 : 1;
    const nStarts = this.#nStarts;
    const n = (nStarts - from) / step;
    if (n === 2) {
      // The sets events carry: one comparison, read in place, no bookkeeping.
      // Stable: of equal keys the first written stays, as `encode` keeps the first.
      const a = starts[from], b = starts[from + step];
      const aEnd = isTable ? starts[from + 1] : b, bEnd = isTable ? starts[from + 3] : end;
      const met = nanMet.count;
      let c = compareEncoded(buf, a, aEnd, b, bEnd);
      // A NaN beside a real: one element to Broker (see `brokerEquivalent`).
      if (nanMet.count !== met && equivalentEncoded(buf, a, aEnd, b, bEnd)) c = 0;
      if (c < 0) return 2;
      if (c === 0) {
        w.pos = b;
        return 1;
      }
      this.#swap(buf, a, b, end);
      return 2;
    }
    if (this.#itemAt.length < n) this.#growItems(n);
    const at = this.#itemAt, keyEnd = this.#itemKeyEnd, itemEnd = this.#itemEnd;
    for (let i = 0, k = from; i < n; i++, k += step) {
      const next = k + step < nStarts ? starts[k + step] : end;
      at[i] = starts[k];
      keyEnd[i] = isTable ? starts[k + 1] : next;
      itemEnd[i] = next;
    }
    let last = -1;
    const met = nanMet.count;
    for (let i = 1; i < n && last < 0; i++) last = this.#compareItems(buf, i - 1, i);
    if (last < 0 && nanMet.count === met) return n;
    // Stable: of equal keys the first written stays, as `encode` keeps the first.
    const order = this.#order;
    const cmp = (a: number, b: number) => this.#compareItems(buf, a, b);
    if (n <= SMALL_SORT) {
      for (let i = 0; i < n; i++) {
        let j = i;
        for (; j > 0 && cmp(order[j - 1], i) > 0; j--) order[j] = order[j - 1];
        order[j] = i;
      }
    } else {
      const sortedItems = Array.from({ length: n }, (_, i) => i).sort(cmp);
      for (let i = 0; i < n; i++) order[i] = sortedItems[i];
    }
    // Repeats are found before the bytes move: the comparisons read them in place.
    if (nanMet.count !== met) {
      keepFirstInserted(order, n, (a, b) => {
        return equivalentEncoded(buf, at[a], keyEnd[a], at[b], keyEnd[b]);
      });
    } else {
      for (let i = n - 1; i > 0; i--) if (cmp(order[i - 1], order[i]) === 0) order[i] = -1;
    }
    const size = end - first;
    const scratch = this.#scratchOf(size);
    scratch.set(buf.subarray(first, end));
    let p = first, kept = 0;
    for (let i = 0; i < n; i++) {
      const it = order[i];
      if (it < 0) continue;
      buf.set(scratch.subarray(at[it] - first, itemEnd[it] - first), p);
      p += itemEnd[it] - at[it];
      kept++;
    }
    w.pos = p;
    return kept;
  }

  /** Broker's order of the items `a` and `b` noted by `#sort` (tables: by their keys). */
  #compareItems(buf: Uint8Array, a: number, b: number): number {
    const at = this.#itemAt, keyEnd = this.#itemKeyEnd;
    return compareEncoded(buf, at[a], keyEnd[a], at[b], keyEnd[b]);
  }

  /** Puts the bytes `mid..end` of `buf` before `start..mid` (two items, byte by byte: no views made). */
  #swap(buf: Uint8Array, start: number, mid: number, end: number): void {
    const first = mid - start;
    const scratch = this.#scratchOf(first);
    for (let i = 0; i < first; i++) scratch[i] = buf[start + i];
    let p = start;
    for (let i = mid; i < end; i++) buf[p++] = buf[i];
    for (let i = 0; i < first; i++) buf[p++] = scratch[i];
  }

  /** The scratch buffer, grown to hold at least `n` bytes. */
  #scratchOf(n: number): Uint8Array {
    if (this.#scratch.length < n) {
      this.#scratch = new Uint8Array(Math.max(n, 2 * this.#scratch.length));
    }
    return this.#scratch;
  }

  #growItems(n: number): void {
    let size = this.#itemAt.length * 2;
    while (size < n) size *= 2;
    this.#itemAt = new Int32Array(size);
    this.#itemKeyEnd = new Int32Array(size);
    this.#itemEnd = new Int32Array(size);
    this.#order = new Int32Array(size);
  }

  // Counts, integers and times from safe integers: two 32-bit words, no bigint.
  #words(tag: number, value: number): this {
    const w = this.#value(9);
    w.buf[w.pos] = tag;
    const hi = Math.floor(value / TWO_32);
    w.dv.setUint32(w.pos + 1, hi >>> 0);
    w.dv.setUint32(w.pos + 5, (value - hi * TWO_32) >>> 0);
    w.pos += 9;
    return this;
  }

  #signed(tag: number, value: number | bigint, what: string): this {
    if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) fail(`${what} out of range: ${value}`);
      return this.#words(tag, value);
    }
    if (value < LIMITS.I64_MIN || value > LIMITS.I64_MAX) fail(`${what} out of range: ${value}`);
    const w = this.#value(9);
    w.buf[w.pos] = tag;
    w.dv.setBigInt64(w.pos + 1, value);
    w.pos += 9;
    return this;
  }

  #text(tag: number, value: string | Uint8Array): this {
    if (typeof value === "string") {
      const w = this.#value(value.length + 2);
      w.buf[w.pos++] = tag;
      if (!w.ascii(value)) w.utf8(value);
      return this;
    }
    const w = this.#value(1);
    w.buf[w.pos++] = tag;
    if (value instanceof Uint8Array) w.bytes(value);
    else {
      w.pos--;
      fail(`${tag === 5 ? "string" : "enum"} values must be strings or bytes`);
    }
    return this;
  }
}

/**
 * Broker's order of two encoded values at `a..aEnd` and `b..bEnd` of `buf`:
 * texts of one tag by their bytes, counts by their big-endian bytes, signed
 * 64-bit values with the sign bit flipped, booleans by their byte; other
 * values are decoded and compared.
 */
function compareEncoded(buf: Uint8Array, a: number, aEnd: number, b: number, bEnd: number): number {
  const ta = buf[a], tb = buf[b];
  if (ta !== tb) return ta < tb ? -1 : 1;
  switch (ta) {
    case 0:
      return 0;
    case 1:
      return buf[a + 1] - buf[b + 1];
    case 2:
    case 3:
    case 9:
    case 10: {
      const flip = ta === 2 ? 0 : 0x80;
      const x = buf[a + 1] ^ flip, y = buf[b + 1] ^ flip;
      if (x !== y) return x - y;
      for (let i = 2; i <= 8; i++) if (buf[a + i] !== buf[b + i]) return buf[a + i] - buf[b + i];
      return 0;
    }
    case 5:
    case 11:
      return compareEncodedTexts(buf, a, aEnd, b, bEnd);
    default:
      return compare(decodeSpan(buf, a, aEnd), decodeSpan(buf, b, bEnd));
  }
}

/** `brokerEquivalent` of two encoded values at `a..aEnd` and `b..bEnd` of `buf`. */
function equivalentEncoded(
  buf: Uint8Array,
  a: number,
  aEnd: number,
  b: number,
  bEnd: number,
): boolean {
  return brokerEquivalent(decodeSpan(buf, a, aEnd), decodeSpan(buf, b, bEnd));
}

function decodeSpan(buf: Uint8Array, start: number, end: number): Data {
  try {
    return decode(buf.subarray(start, end));
  } catch (e) {
    throw new BrokerError(ErrorCode.serialization_failed, `cannot order a set: ${e}`, {
      cause: e,
    });
  }
}
