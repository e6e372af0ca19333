/**
 * Zeek's log records in its own binary serialization
 * (`zeek::detail::BinarySerializationFormat`, big-endian): the log batches a
 * ZeroMQ node PUSHes to a logger (format `zeek-bin-serializer`: stream,
 * writer, filter, path, the field schema, then the records), and the
 * `serial_data` of a Broker log-write (one record: its field count, then
 * its values). Each value is `threading::Value::Write`'s: type and subtype
 * (int32), present (a byte), then the value by type. Sans-I/O; readers
 * throw only {@link BrokerError}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeLogWriteBatch, encodeLogWriteBatch, ZeekType } from "./log_batch.ts";
 * const batch = {
 *   streamName: "Test::LOG", writerName: "Log::WRITER_ASCII", filterName: "default", path: "test",
 *   fields: [{ name: "msg", type: ZeekType.string, subtype: 0, optional: false }],
 *   records: [[{ type: ZeekType.string, subtype: 0, value: "hi" }]],
 * };
 * equal(decodeLogWriteBatch(encodeLogWriteBatch(batch)).records[0][0].value, "hi");
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { Address } from "../data/types.ts";

/** Zeek's type tags (`TypeTag` in `src/Type.h`), as fields and values carry them. */
export const ZeekType = {
  void: 0,
  bool: 1,
  int: 2,
  count: 3,
  double: 4,
  time: 5,
  interval: 6,
  string: 7,
  pattern: 8,
  enum: 9,
  port: 10,
  addr: 11,
  subnet: 12,
  any: 13,
  table: 14,
  record: 15,
  list: 16,
  func: 17,
  file: 18,
  vector: 19,
} as const;

/** One field of a log schema (`threading::Field`). */
export interface LogField {
  /** Column name, e.g. `id.orig_h`. */
  name: string;
  /** Zeek's secondary name (input framework only), if any. */
  secondaryName?: string;
  /** Type tag ({@link ZeekType}). */
  type: number;
  /** Element type of a set or vector, else 0. */
  subtype: number;
  /** Whether the column is `&optional`. */
  optional: boolean;
}

/** A port as Zeek logs it: number and transport (0 unknown, 1 TCP, 2 UDP, 3 ICMP). */
export interface LogPort {
  /** Port number. */
  port: bigint;
  /** Transport protocol number. */
  proto: number;
}

/** A subnet: prefix address and length (32 at most for IPv4). */
export interface LogSubnet {
  /** The prefix. */
  prefix: Address;
  /** The prefix length. */
  length: number;
}

/**
 * A value's content by type: null when absent (an unset `&optional`);
 * boolean; bigint (int, count); number (double, time and interval in
 * seconds); string (string, enum, func, file — a Uint8Array when the bytes
 * are not UTF-8); {@link Address}; {@link LogSubnet}; {@link LogPort};
 * elements (set, vector).
 */
export type LogData =
  | null
  | boolean
  | bigint
  | number
  | string
  | Uint8Array
  | Address
  | LogSubnet
  | LogPort
  | LogValue[];

/** One value of a record (`threading::Value`). */
export interface LogValue {
  /** Type tag ({@link ZeekType}). */
  type: number;
  /** Element type for sets and vectors as Zeek writes it (0 in values it sends). */
  subtype: number;
  /** The content, null when absent. */
  value: LogData;
}

/** A batch of log writes (`logging::detail::LogWriteBatch`). */
export interface LogWriteBatch {
  /** The stream, e.g. `Conn::LOG`. */
  streamName: string;
  /** The writer, e.g. `Log::WRITER_ASCII`. */
  writerName: string;
  /** The filter, e.g. `default`. */
  filterName: string;
  /** The log path, e.g. `conn`. */
  path: string;
  /** The schema. */
  fields: LogField[];
  /** The records, each one value per field. */
  records: LogValue[][];
}

const utf8 = new TextEncoder();
const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function bad(msg: string): never {
  throw new BrokerError(ErrorCode.invalid_message, `Zeek log serialization: ${msg}`);
}

/** Reads BinarySerializationFormat's primitives; every overrun is an `invalid_message`. */
class Reader {
  readonly #bytes: Uint8Array;
  readonly #view: DataView;
  at = 0;

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get done(): boolean {
    return this.at === this.#bytes.length;
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.#bytes.length - this.at;
  }

  #take(n: number, what: string): number {
    if (this.at + n > this.#bytes.length) bad(`${what} runs past the end`);
    const at = this.at;
    this.at += n;
    return at;
  }

  u8(what: string): number {
    return this.#bytes[this.#take(1, what)];
  }
  i32(what: string): number {
    return this.#view.getInt32(this.#take(4, what));
  }
  u32(what: string): number {
    return this.#view.getUint32(this.#take(4, what));
  }
  i64(what: string): bigint {
    return this.#view.getBigInt64(this.#take(8, what));
  }
  u64(what: string): bigint {
    return this.#view.getBigUint64(this.#take(8, what));
  }
  f64(what: string): number {
    return this.#view.getFloat64(this.#take(8, what));
  }
  bool(what: string): boolean {
    const b = this.u8(what);
    if (b > 1) bad(`${what} is ${b}, not a bool`);
    return b === 1;
  }
  bytes(what: string): Uint8Array {
    const n = this.u32(what);
    const at = this.#take(n, what);
    return this.#bytes.slice(at, at + n);
  }
  text(what: string): string {
    const b = this.bytes(what);
    try {
      return strict.decode(b);
    } catch {
      return bad(`${what} is not UTF-8`);
    }
  }
  address(what: string): Address {
    const family = this.u8(what);
    if (family === 4) return Address.fromWords(0, 0, 0xffff, this.u32(what));
    if (family === 6) {
      return Address.fromWords(this.u32(what), this.u32(what), this.u32(what), this.u32(what));
    }
    return bad(`${what} family ${family}`);
  }
}

/** Writes BinarySerializationFormat's primitives into a growing buffer. */
class Writer {
  #buf = new Uint8Array(256);
  #view = new DataView(this.#buf.buffer);
  #at = 0;

  #room(n: number): number {
    if (this.#at + n > this.#buf.length) {
      const grown = new Uint8Array(Math.max(this.#buf.length * 2, this.#at + n));
      grown.set(this.#buf.subarray(0, this.#at));
      this.#buf = grown;
      this.#view = new DataView(grown.buffer);
    }
    const at = this.#at;
    this.#at += n;
    return at;
  }

  u8(v: number): void {
    const at = this.#room(1); // before reading #buf: #room may replace it
    this.#buf[at] = v;
  }
  i32(v: number): void {
    const at = this.#room(4);
    this.#view.setInt32(at, v);
  }
  u32(v: number): void {
    const at = this.#room(4);
    this.#view.setUint32(at, v);
  }
  i64(v: bigint): void {
    const at = this.#room(8);
    this.#view.setBigInt64(at, v);
  }
  u64(v: bigint): void {
    const at = this.#room(8);
    this.#view.setBigUint64(at, v);
  }
  f64(v: number): void {
    const at = this.#room(8);
    this.#view.setFloat64(at, v);
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    const at = this.#room(b.length);
    this.#buf.set(b, at);
  }
  text(s: string | Uint8Array): void {
    this.bytes(typeof s === "string" ? utf8.encode(s) : s);
  }
  address(a: Address): void {
    const [w0, w1, w2, w3] = a.words;
    if (a.isV4) {
      this.u8(4);
      this.u32(w3);
    } else {
      this.u8(6);
      for (const w of [w0, w1, w2, w3]) this.u32(w);
    }
  }

  finish(): Uint8Array {
    return this.#buf.slice(0, this.#at);
  }
}

function readValue(r: Reader, depth = 0): LogValue {
  if (depth > 32) bad("values nested too deep");
  const type = r.i32("value type"), subtype = r.i32("value subtype");
  if (!r.bool("value present")) return { type, subtype, value: null };
  let value: LogData;
  switch (type) {
    case ZeekType.bool: {
      const v = r.i64("bool");
      value = v !== 0n;
      break;
    }
    case ZeekType.int:
      value = r.i64("int");
      break;
    case ZeekType.count:
      value = r.u64("count");
      break;
    case ZeekType.port:
      value = { port: r.u64("port"), proto: r.i32("port proto") };
      break;
    case ZeekType.addr:
      value = r.address("addr");
      break;
    case ZeekType.subnet: {
      const length = r.u8("subnet length");
      value = { prefix: r.address("subnet prefix"), length };
      break;
    }
    case ZeekType.double:
    case ZeekType.time:
    case ZeekType.interval:
      value = r.f64("double");
      break;
    case ZeekType.enum:
    case ZeekType.string:
    case ZeekType.file:
    case ZeekType.func: {
      const b = r.bytes("string");
      try {
        value = strict.decode(b);
      } catch {
        value = b;
      }
      break;
    }
    case ZeekType.table:
    case ZeekType.vector: {
      const n = r.i64("container size");
      if (n < 0n || n > BigInt(1 << 24)) bad(`container of ${n} elements`);
      value = [];
      for (let i = 0; i < Number(n); i++) value.push(readValue(r, depth + 1));
      break;
    }
    default:
      return bad(`value type ${type} is not one Zeek logs`);
  }
  return { type, subtype, value };
}

function writeValue(w: Writer, v: LogValue): void {
  w.i32(v.type);
  w.i32(v.subtype);
  w.u8(v.value === null ? 0 : 1);
  if (v.value === null) return;
  const x = v.value;
  const wrong = (): never => {
    throw new BrokerError(ErrorCode.type_clash, `log value of type ${v.type} cannot hold ${x}`);
  };
  switch (v.type) {
    case ZeekType.bool:
      if (typeof x !== "boolean") wrong();
      w.i64(x ? 1n : 0n);
      break;
    case ZeekType.int:
      if (typeof x !== "bigint") wrong();
      w.i64(x as bigint);
      break;
    case ZeekType.count:
      if (typeof x !== "bigint") wrong();
      w.u64(x as bigint);
      break;
    case ZeekType.port: {
      const p = x as LogPort;
      if (typeof p?.port !== "bigint") wrong();
      w.u64(p.port);
      w.i32(p.proto);
      break;
    }
    case ZeekType.addr:
      if (!(x instanceof Address)) wrong();
      w.address(x as Address);
      break;
    case ZeekType.subnet: {
      const s = x as LogSubnet;
      if (!(s?.prefix instanceof Address)) wrong();
      w.u8(s.length);
      w.address(s.prefix);
      break;
    }
    case ZeekType.double:
    case ZeekType.time:
    case ZeekType.interval:
      if (typeof x !== "number") wrong();
      w.f64(x as number);
      break;
    case ZeekType.enum:
    case ZeekType.string:
    case ZeekType.file:
    case ZeekType.func:
      if (typeof x !== "string" && !(x instanceof Uint8Array)) wrong();
      w.text(x as string | Uint8Array);
      break;
    case ZeekType.table:
    case ZeekType.vector:
      if (!Array.isArray(x)) wrong();
      w.i64(BigInt((x as LogValue[]).length));
      for (const e of x as LogValue[]) writeValue(w, e);
      break;
    default:
      throw new BrokerError(ErrorCode.type_clash, `log value type ${v.type} is not one Zeek logs`);
  }
}

function readField(r: Reader): LogField {
  const secondaryName = r.bool("field has_2nd") ? r.text("field secondary name") : undefined;
  const name = r.text("field name");
  const type = r.i32("field type"), subtype = r.i32("field subtype");
  const optional = r.bool("field optional");
  return {
    name,
    ...(secondaryName !== undefined ? { secondaryName } : {}),
    type,
    subtype,
    optional,
  };
}

function writeField(w: Writer, f: LogField): void {
  w.u8(f.secondaryName !== undefined ? 1 : 0);
  if (f.secondaryName !== undefined) w.text(f.secondaryName);
  w.text(f.name);
  w.i32(f.type);
  w.i32(f.subtype);
  w.u8(f.optional ? 1 : 0);
}

/**
 * Reads a log batch (`BinarySerializationFormatLogSerializer::
 * UnserializeLogWrite`). Throws `invalid_message` on anything malformed or
 * left over.
 */
export function decodeLogWriteBatch(bytes: Uint8Array): LogWriteBatch {
  const r = new Reader(bytes);
  const streamName = r.text("stream"), writerName = r.text("writer");
  const filterName = r.text("filter"), path = r.text("path");
  const nFields = r.u32("num_fields");
  if (nFields > 4096) bad(`${nFields} fields`);
  const fields = Array.from({ length: nFields }, () => readField(r));
  const nRecords = r.u32("num_records");
  // Every value takes a byte at least: a larger count is a lie, not a loop to run (with no
  // fields, 2^32 - 1 empty records took minutes and gigabytes).
  if (nRecords > 0 && (nFields === 0 || nRecords > r.left / nFields)) {
    bad(`${nRecords} records of ${nFields} fields in ${r.left} bytes`);
  }
  const records: LogValue[][] = [];
  for (let i = 0; i < nRecords; i++) records.push(fields.map(() => readValue(r)));
  if (!r.done) bad("bytes left after the last record");
  return { streamName, writerName, filterName, path, fields, records };
}

/** Writes a log batch as Zeek's serializer does. Throws `type_clash` for a value its type cannot hold. */
export function encodeLogWriteBatch(batch: LogWriteBatch): Uint8Array {
  const w = new Writer();
  w.text(batch.streamName);
  w.text(batch.writerName);
  w.text(batch.filterName);
  w.text(batch.path);
  w.u32(batch.fields.length);
  for (const f of batch.fields) writeField(w, f);
  w.u32(batch.records.length);
  for (const rec of batch.records) {
    if (rec.length !== batch.fields.length) {
      throw new BrokerError(
        ErrorCode.type_clash,
        `a record of ${rec.length} values for ${batch.fields.length} fields`,
      );
    }
    for (const v of rec) writeValue(w, v);
  }
  return w.finish();
}

/**
 * Reads a Broker log-write's `serial_data` (one record: an int32 count,
 * then the values). Throws `invalid_message` on anything malformed.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeLogRecord, encodeLogRecord, ZeekType } from "./log_batch.ts";
 * const rec = [{ type: ZeekType.count, subtype: 0, value: 5n }];
 * equal(decodeLogRecord(encodeLogRecord(rec))[0].value, 5n);
 * ```
 */
export function decodeLogRecord(bytes: Uint8Array): LogValue[] {
  const r = new Reader(bytes);
  const n = r.i32("num_fields");
  if (n < 0 || n > 4096) bad(`${n} fields`);
  const values = Array.from({ length: n }, () => readValue(r));
  if (!r.done) bad("bytes left after the record");
  return values;
}

/** Writes one record as a Broker log-write's `serial_data`. */
export function encodeLogRecord(values: readonly LogValue[]): Uint8Array {
  const w = new Writer();
  w.i32(values.length);
  for (const v of values) writeValue(w, v);
  return w.finish();
}
