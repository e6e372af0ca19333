/**
 * Writing Broker's JSON form of data (`dataToJson`, `dataToJsonBytes`,
 * `dataMessageToJson`, `dataToJsonValue`); `json.ts` describes the form.
 *
 * @module
 */
import { formatReal } from "./text.ts";
import type { Data, DataType } from "./types.ts";

/** The `@data-type` names, indexed by our type names (only `enum` differs). */
export const JSON_TYPE_NAMES: Readonly<Record<DataType, string>> = Object.freeze({
  none: "none",
  boolean: "boolean",
  count: "count",
  integer: "integer",
  real: "real",
  string: "string",
  address: "address",
  subnet: "subnet",
  port: "port",
  timestamp: "timestamp",
  timespan: "timespan",
  enum: "enum-value",
  set: "set",
  table: "table",
  vector: "vector",
});

/** Options for writing JSON. */
export interface DataToJsonOptions {
  /**
   * Write valid JSON (RFC 8259) instead of Broker's exact text: non-finite
   * reals as strings, every control character escaped as `\u00XX`, bytes
   * that are not UTF-8 as U+FFFD.
   * @default false
   */
  strict?: boolean;
}

/**
 * The object form of a value, as `JSON.parse` would give it for Broker's text.
 * Counts and integers are numbers when they are safe integers and bigints
 * otherwise; reals are numbers (NaN and the infinities included).
 */
export type JsonDataValue =
  | { "@data-type": "none"; data: Record<string, never> }
  | { "@data-type": "boolean"; data: boolean }
  | { "@data-type": "count" | "integer"; data: number | bigint }
  | { "@data-type": "real"; data: number }
  | {
    "@data-type":
      | "string"
      | "address"
      | "subnet"
      | "port"
      | "timestamp"
      | "timespan"
      | "enum-value";
    data: string;
  }
  | { "@data-type": "set" | "vector"; data: JsonDataValue[] }
  | { "@data-type": "table"; data: { key: JsonDataValue; value: JsonDataValue }[] };

const utf8Enc = new TextEncoder();

// Broker escapes exactly these: `"`, `\` and the bytes 0x08..0x0d.
const BROKER_ESCAPES: Record<string, string> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\v": "\\v",
  "\f": "\\f",
  "\r": "\\r",
};
// Control characters are the point of these patterns.
// deno-lint-ignore no-control-regex
const BROKER_ESCAPE_RE = /["\\\x08-\x0d]/;
// deno-lint-ignore no-control-regex
const BROKER_ESCAPE_RE_G = /["\\\x08-\x0d]/g;
// deno-lint-ignore no-control-regex
const STRICT_ESCAPE_RE = /["\\\x00-\x1f]/;
// deno-lint-ignore no-control-regex
const STRICT_ESCAPE_RE_G = /["\\\x00-\x1f]/g;

function brokerEscape(c: string): string {
  return BROKER_ESCAPES[c];
}

function strictEscape(c: string): string {
  return c === "\v" || !(c in BROKER_ESCAPES)
    ? `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`
    : BROKER_ESCAPES[c];
}

function quote(s: string, strict: boolean): string {
  if (strict) {
    return STRICT_ESCAPE_RE.test(s) ? `"${s.replace(STRICT_ESCAPE_RE_G, strictEscape)}"` : `"${s}"`;
  }
  return BROKER_ESCAPE_RE.test(s) ? `"${s.replace(BROKER_ESCAPE_RE_G, brokerEscape)}"` : `"${s}"`;
}

/** Broker's escaping over raw bytes, for strings that are not UTF-8. */
function quoteBytes(bytes: Uint8Array): Uint8Array {
  const out: number[] = [0x22];
  for (const b of bytes) {
    if (b === 0x22 || b === 0x5c || (b >= 0x08 && b <= 0x0d)) {
      out.push(0x5c, BROKER_ESCAPES[String.fromCharCode(b)].charCodeAt(1));
    } else {
      out.push(b);
    }
  }
  out.push(0x22);
  return new Uint8Array(out);
}

/**
 * Collects the output as text, switching to byte chunks only around strings
 * that are not UTF-8 (and only when bytes were asked for).
 */
class JsonSink {
  text = "";
  chunks: Uint8Array[] = [];
  readonly strict: boolean;
  readonly rawBytes: boolean;
  constructor(options: { strict: boolean; rawBytes: boolean }) {
    this.strict = options.strict;
    this.rawBytes = options.rawBytes;
  }

  bytes(b: Uint8Array): void {
    if (this.text) this.chunks.push(utf8Enc.encode(this.text));
    this.text = "";
    this.chunks.push(b);
  }

  finish(): Uint8Array {
    if (this.chunks.length === 0) return utf8Enc.encode(this.text);
    if (this.text) this.chunks.push(utf8Enc.encode(this.text));
    let n = 0;
    for (const c of this.chunks) n += c.length;
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }
}

/** Broker's timestamp text: `YYYY-MM-DDTHH:MM:SS.mmm`, UTC. */
function formatTimestamp(ns: bigint): string {
  // Seconds and milliseconds both truncate toward zero (to_time_t and
  // duration_cast), and a negative millisecond part prints as 000.
  const secs = ns / 1_000_000_000n;
  const ms = (ns / 1_000_000n) % 1000n;
  const day = new Date(Number(secs) * 1000).toISOString().slice(0, 19);
  return `${day}.${ms > 0n ? ms.toString().padStart(3, "0") : "000"}`;
}

/** Broker's timespan text: the largest unit of ns/us/ms/s that is exact. */
function formatTimespan(ns: bigint): string {
  if (ns === 0n) return "0s";
  let v = ns;
  for (const unit of ["ns", "us", "ms"]) {
    if (v % 1000n !== 0n) return `${v}${unit}`;
    v /= 1000n;
  }
  return `${v}s`;
}

function formatRealJson(x: number, strict: boolean): string {
  const s = formatReal(x);
  return strict && !Number.isFinite(x) ? `"${s}"` : s;
}

function writeText(sink: JsonSink, d: { value: string; bytes?: Uint8Array }): void {
  if (d.bytes && sink.rawBytes && !sink.strict) sink.bytes(quoteBytes(d.bytes));
  else sink.text += quote(d.value, sink.strict);
}

function write(sink: JsonSink, d: Data): void {
  sink.text += `{"@data-type":"${JSON_TYPE_NAMES[d.type]}","data":`;
  switch (d.type) {
    case "none":
      sink.text += "{}";
      break;
    case "boolean":
      sink.text += d.value ? "true" : "false";
      break;
    case "count":
    case "integer":
      sink.text += d.value.toString();
      break;
    case "real":
      sink.text += formatRealJson(d.value, sink.strict);
      break;
    case "string":
    case "enum":
      writeText(sink, d);
      break;
    case "address":
    case "subnet":
    case "port":
      sink.text += `"${d.value}"`;
      break;
    case "timestamp":
      sink.text += `"${formatTimestamp(d.value)}"`;
      break;
    case "timespan":
      sink.text += `"${formatTimespan(d.value)}"`;
      break;
    case "set":
    case "vector":
      sink.text += "[";
      for (let i = 0; i < d.value.length; i++) {
        if (i > 0) sink.text += ",";
        write(sink, d.value[i]);
      }
      sink.text += "]";
      break;
    case "table":
      sink.text += "[";
      for (let i = 0; i < d.value.length; i++) {
        sink.text += i > 0 ? ',{"key":' : '{"key":';
        write(sink, d.value[i][0]);
        sink.text += ',"value":';
        write(sink, d.value[i][1]);
        sink.text += "}";
      }
      sink.text += "]";
      break;
  }
  sink.text += "}";
}

/**
 * Broker's JSON text for a value, exactly as Broker writes it (see the module
 * doc for where that is not valid JSON, and `options.strict`). Strings that
 * are not UTF-8 are written as their U+FFFD reading: use
 * {@link dataToJsonBytes} for Broker's exact bytes.
 *
 * @example
 * ```ts
 * import { count, dataToJson, real, timespan } from "../../mod.ts";
 * dataToJson(count(42n)); // '{"@data-type":"count","data":42}'
 * dataToJson(timespan(1_500_000_000n)); // '{"@data-type":"timespan","data":"1500ms"}'
 * dataToJson(real(NaN)); // '{"@data-type":"real","data":nan}'
 * dataToJson(real(NaN), { strict: true }); // '{"@data-type":"real","data":"nan"}'
 * ```
 */
export function dataToJson(value: Data, options?: DataToJsonOptions): string {
  const sink = new JsonSink({ strict: options?.strict === true, rawBytes: false });
  write(sink, value);
  return sink.text;
}

/**
 * Broker's JSON text for a value as UTF-8 bytes, byte for byte what Broker
 * writes, including string bytes that are not UTF-8 (copied raw, as Broker
 * does, unless `options.strict`).
 *
 * @example
 * ```ts
 * import { dataToJsonBytes, str } from "../../mod.ts";
 * dataToJsonBytes(str(new Uint8Array([0xff]))); // ...,"data":"<0xff>"}
 * ```
 */
export function dataToJsonBytes(value: Data, options?: DataToJsonOptions): Uint8Array {
  const sink = new JsonSink({ strict: options?.strict === true, rawBytes: true });
  write(sink, value);
  return sink.finish();
}

/**
 * Broker's JSON text for a data message (its WebSocket form): the value's
 * fields follow `type` and `topic` in the same object.
 *
 * @example
 * ```ts
 * import { count, dataMessageToJson } from "../../mod.ts";
 * dataMessageToJson("/foo/bar", count(1n));
 * // '{"type":"data-message","topic":"/foo/bar","@data-type":"count","data":1}'
 * ```
 */
export function dataMessageToJson(topic: string, value: Data, options?: DataToJsonOptions): string {
  const strict = options?.strict === true;
  const body = dataToJson(value, options);
  return `{"type":"data-message","topic":${quote(topic, strict)},${body.slice(1)}`;
}

/**
 * The object form of a value, for embedding in a larger message: what
 * `JSON.parse` gives for Broker's text, so it holds what that text holds, no
 * more (reals to six decimals, timestamps to milliseconds). Counts and
 * integers beyond 2^53 are bigints, so `JSON.stringify` cannot write every
 * value, and it writes a whole real without a fraction (`5`), which Broker
 * (and `dataFromJson`'s text reader) refuses as a real: use
 * {@link dataToJson} for text. Strings that are not UTF-8 appear as their
 * U+FFFD reading.
 *
 * @example
 * ```ts
 * import { count, dataToJsonValue, str, table } from "../../mod.ts";
 * dataToJsonValue(table([[str("a"), count(1n)]]));
 * // {"@data-type": "table", data: [{key: {"@data-type": "string", data: "a"},
 * //                                 value: {"@data-type": "count", data: 1}}]}
 * ```
 */
export function dataToJsonValue(value: Data): JsonDataValue {
  switch (value.type) {
    case "none":
      return { "@data-type": "none", data: {} };
    case "boolean":
      return { "@data-type": "boolean", data: value.value };
    case "count":
    case "integer": {
      const n = Number(value.value);
      return { "@data-type": value.type, data: Number.isSafeInteger(n) ? n : value.value };
    }
    case "real": {
      // What Broker's `%f` text means, as JSON.parse would read it: 1e-7 is 0.
      const x = value.value;
      return { "@data-type": "real", data: Number.isFinite(x) ? Number(formatReal(x)) : x };
    }
    case "string":
      return { "@data-type": "string", data: value.value };
    case "enum":
      return { "@data-type": "enum-value", data: value.value };
    case "address":
    case "subnet":
    case "port":
      return { "@data-type": value.type, data: value.value.toString() };
    case "timestamp":
      return { "@data-type": "timestamp", data: formatTimestamp(value.value) };
    case "timespan":
      return { "@data-type": "timespan", data: formatTimespan(value.value) };
    case "set":
    case "vector":
      return { "@data-type": value.type, data: value.value.map(dataToJsonValue) };
    case "table":
      return {
        "@data-type": "table",
        data: value.value.map(([k, v]) => ({ key: dataToJsonValue(k), value: dataToJsonValue(v) })),
      };
  }
}
