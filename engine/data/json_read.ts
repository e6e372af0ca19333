/**
 * Reading Broker's JSON form of data (`dataFromJson`, `readJsonMessage`):
 * a parser for Broker's liberties beyond JSON, then JSON to data;
 * `json.ts` describes what it accepts.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { enumValue, set, str, table } from "./constructors.ts";
import type { JsonDataValue } from "./json_write.ts";
import { type Data, LIMITS } from "./types.ts";
import { DEFAULT_MAX_DEPTH } from "./validate.ts";
import { SHORT_TEXT, shortText } from "./read_text.ts";
import { cafReal, clash, scalarFromText, utf8Of } from "./json_input.ts";
import { SMALL_BIGINTS } from "./build.ts";

/** Options for reading JSON. */
export interface DataFromJsonOptions {
  /**
   * Deepest nesting of non-empty containers accepted, as for the binary decoder.
   * @default 128 (`DEFAULT_MAX_DEPTH`)
   */
  maxDepth?: number;
}

const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/** A JSON string whose bytes are not UTF-8, kept exactly. */
class JsonBytes {
  constructor(readonly bytes: Uint8Array, readonly text: string) {}
}

/**
 * An integer in the text with more digits than any 64-bit value, kept as
 * its rounded number (see `Parser.number`): out of range as a count or an
 * integer, and no real to Broker (CAF reads it as an integer and overflows).
 */
class LongInteger {
  constructor(readonly value: number) {}
}

type JsonNode =
  | null
  | boolean
  | number
  | bigint
  | string
  | JsonBytes
  | LongInteger
  | JsonNode[]
  | { [key: string]: JsonNode };

const HEX: Record<number, number> = {};
for (let i = 0; i < 16; i++) HEX["0123456789abcdef".charCodeAt(i)] = i;
for (let i = 10; i < 16; i++) HEX["ABCDEF".charCodeAt(i - 10)] = i;

const SIMPLE_ESCAPES: Record<number, number> = {
  0x22: 0x22, // "
  0x5c: 0x5c, // \
  0x2f: 0x2f, // /
  0x62: 0x08, // b
  0x66: 0x0c, // f
  0x6e: 0x0a, // n
  0x72: 0x0d, // r
  0x74: 0x09, // t
  0x76: 0x0b, // v: Broker writes it
};

/**
 * Recursive-descent parser for Broker's JSON dialect over UTF-8 bytes.
 * Integers stay exact as bigints; everything else is standard JSON.
 */
const DATA_TYPE_KEY = new TextEncoder().encode("@data-type");
/** Digits (and sign) of a JSON integer read as a bigint; longer ones are read as numbers. */
const MAX_BIGINT_DIGITS = 40;

function isDataTypeKey(b: Uint8Array, at: number): boolean {
  for (let i = 0; i < 10; i++) if (b[at + i] !== DATA_TYPE_KEY[i]) return false;
  return true;
}

class Parser {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly maxNesting: number) {}

  fail(what: string): never {
    throw new BrokerError(ErrorCode.invalid_json, `malformed JSON: ${what} at byte ${this.pos}`, {
      offset: this.pos,
    });
  }

  ws(): void {
    const b = this.b;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return;
      this.pos++;
    }
  }

  document(): JsonNode {
    this.ws();
    const v = this.value(0);
    this.ws();
    if (this.pos !== this.b.length) this.fail("trailing characters");
    return v;
  }

  literal(word: string): void {
    // Byte by byte, so an error points at the byte that differs, as CAF's does.
    for (let i = 0; i < word.length; i++, this.pos++) {
      if (this.b[this.pos] !== word.charCodeAt(i)) {
        this.fail(this.pos >= this.b.length ? "unexpected end" : "unexpected character");
      }
    }
  }

  value(nesting: number): JsonNode {
    if (this.pos >= this.b.length) this.fail("unexpected end");
    const c = this.b[this.pos];
    switch (c) {
      case 0x7b: // {
        return this.object(nesting + 1);
      case 0x5b: // [
        return this.array(nesting + 1);
      case 0x22: // "
        return this.string();
      case 0x74: // t
        this.literal("true");
        return true;
      case 0x66: // f
        this.literal("false");
        return false;
      case 0x6e: // n
        if (this.b[this.pos + 1] === 0x61) {
          this.literal("nan");
          return NaN;
        }
        this.literal("null");
        return null;
      case 0x69: // i
        this.literal("inf");
        return Infinity;
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
        return this.fail("unexpected character");
    }
  }

  checkNesting(nesting: number): void {
    if (nesting > this.maxNesting) {
      throw new BrokerError(
        ErrorCode.deserialization_failed,
        `JSON nested deeper than ${this.maxNesting} levels`,
        { offset: this.pos },
      );
    }
  }

  object(nesting: number): JsonNode {
    this.checkNesting(nesting);
    this.pos++;
    // A plain object keeps V8's fast shapes ({"@data-type", "data"} over and
    // over); "__proto__" is defined as an own property below, never a prototype.
    const obj: { [key: string]: JsonNode } = {};
    this.ws();
    if (this.b[this.pos] === 0x7d) {
      this.pos++;
      return obj;
    }
    while (true) {
      this.ws();
      if (this.b[this.pos] !== 0x22) this.fail("expected a key");
      const k = this.string();
      const key = typeof k === "string" ? k : k.text;
      this.ws();
      if (this.b[this.pos] !== 0x3a) this.fail("expected ':'");
      this.pos++;
      this.ws();
      const v = this.value(nesting);
      // A repeated key keeps its first value, as in Broker (CAF's JSON object
      // is a list of members, looked up from the front).
      if (Object.hasOwn(obj, key)) {
        // already set by the first occurrence
      } else if (key === "__proto__") {
        Object.defineProperty(obj, key, {
          value: v,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      } else obj[key] = v;
      this.ws();
      const c = this.b[this.pos++];
      if (c === 0x7d) return obj;
      if (c !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or '}'");
      }
    }
  }

  array(nesting: number): JsonNode {
    this.checkNesting(nesting);
    this.pos++;
    const out: JsonNode[] = [];
    this.ws();
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
      return out;
    }
    while (true) {
      this.ws();
      out.push(this.value(nesting));
      this.ws();
      const c = this.b[this.pos++];
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.pos--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  number(): JsonNode {
    const b = this.b;
    const start = this.pos;
    if (b[this.pos] === 0x2d) {
      this.pos++;
      if (b[this.pos] === 0x69) {
        this.literal("inf");
        return -Infinity;
      }
      if (b[this.pos] === 0x6e) {
        this.literal("nan");
        return NaN;
      }
    }
    // Most numbers are short integers: no token string, no BigInt parse.
    let n = 0, p = this.pos;
    while (b[p] >= 0x30 && b[p] <= 0x39 && p - this.pos < 15) n = n * 10 + (b[p++] - 0x30);
    const c = b[p];
    if (
      p > this.pos && p - this.pos < 15 && !(c >= 0x30 && c <= 0x39) && c !== 0x2e &&
      c !== 0x65 && c !== 0x45 && (b[this.pos] !== 0x30 || p - this.pos === 1)
    ) {
      const negative = start !== this.pos;
      this.pos = p;
      if (negative) return n === 0 ? 0n : BigInt(-n);
      return n < 1024 ? SMALL_BIGINTS[n] : BigInt(n);
    }
    const digits = () => {
      const from = this.pos;
      while (b[this.pos] >= 0x30 && b[this.pos] <= 0x39) this.pos++;
      if (this.pos === from) this.fail("expected a digit");
    };
    if (b[this.pos] === 0x30) this.pos++;
    else digits();
    let integral = true;
    if (b[this.pos] === 0x2e) {
      integral = false;
      this.pos++;
      digits();
    }
    if (b[this.pos] === 0x65 || b[this.pos] === 0x45) {
      integral = false;
      this.pos++;
      if (b[this.pos] === 0x2b || b[this.pos] === 0x2d) this.pos++;
      digits();
    }
    if (!integral) {
      // As broker-node reads it (see cafReal), or refused as it refuses it.
      return cafReal(b, start, this.pos) ?? this.fail("number out of CAF's range");
    }
    let token = "";
    for (let i = start; i < this.pos; i++) token += String.fromCharCode(b[i]);
    // An integer of more digits than any 64-bit value is out of range as a
    // count or integer and rounds as a real: it stays a number, as BigInt's
    // parse takes time quadratic in the digits (0.5 s for a 1 MiB message).
    if (integral && this.pos - start <= MAX_BIGINT_DIGITS) return BigInt(token);
    return new LongInteger(Number(token));
  }

  string(): string | JsonBytes {
    const b = this.b;
    const start = ++this.pos;
    // Fast path: no escapes, one slice of the input.
    let high = 0;
    while (this.pos < b.length && b[this.pos] !== 0x22 && b[this.pos] !== 0x5c) {
      high |= b[this.pos++];
    }
    if (this.pos >= b.length) this.fail("unterminated string");
    if (b[this.pos] === 0x22) {
      // ASCII (keys, type names, most values) needs no UTF-8 decoder: a
      // TextDecoder call costs more than building a short string here.
      if (high < 0x80 && this.pos - start <= 4096) {
        const end = this.pos++;
        // Every value is {"@data-type": ..., "data": ...}: no new string for those keys.
        if (
          end - start === 4 && b[start] === 0x64 && b[start + 1] === 0x61 &&
          b[start + 2] === 0x74 && b[start + 3] === 0x61
        ) return "data";
        if (
          end - start === 10 && b[start] === 0x40 && b[start + 5] === 0x2d &&
          b[start + 9] === 0x65 && isDataTypeKey(b, start)
        ) return "@data-type";
        // Type names, topics, enum values repeat: the decoder's verified cache.
        if (end - start < SHORT_TEXT) return shortText(b, start, end)!;
        if (end - start < 32) {
          let text = "";
          for (let i = start; i < end; i++) text += String.fromCharCode(b[i]);
          return text;
        }
        return String.fromCharCode.apply(null, b.subarray(start, end) as unknown as number[]);
      }
      return this.finishString(b.subarray(start, this.pos++));
    }
    const out: number[] = Array.from(b.subarray(start, this.pos));
    while (true) {
      if (this.pos >= b.length) this.fail("unterminated string");
      const c = b[this.pos++];
      if (c === 0x22) return this.finishString(new Uint8Array(out));
      if (c !== 0x5c) {
        out.push(c);
        continue;
      }
      const e = b[this.pos++];
      const simple = SIMPLE_ESCAPES[e];
      if (simple !== undefined) {
        out.push(simple);
      } else if (e === 0x75) {
        let cp = this.hex4();
        // As CAF's reader (broker-node's, checked live): a leading surrogate
        // must be followed by a second `\u` escape, whatever it holds, and the
        // two combine by the surrogates' formula in 32 bits, so
        // `\ud800\ud800` is U+FC00; a lone trailing surrogate is written in
        // UTF-8's three-byte pattern (`\udc00` is ed b0 80: not UTF-8, so
        // the string keeps its bytes), and a code point beyond U+10FFFF in
        // nothing.
        if (cp >= 0xd800 && cp < 0xdc00) {
          if (b[this.pos] !== 0x5c || b[this.pos + 1] !== 0x75) {
            this.fail("a leading surrogate without a second \\u escape");
          }
          this.pos += 2;
          const lo = this.hex4();
          cp = ((((cp - 0xd800) << 10) | (lo - 0xdc00)) + 0x10000) >>> 0;
        }
        pushUtf8(out, cp);
      } else {
        this.pos--;
        this.fail("bad escape");
      }
    }
  }

  hex4(): number {
    let v = 0;
    for (let i = 0; i < 4; i++) {
      const h = HEX[this.b[this.pos++]];
      if (h === undefined) {
        this.pos--;
        this.fail("bad \\u escape");
      }
      v = v * 16 + h;
    }
    return v;
  }

  finishString(bytes: Uint8Array): string | JsonBytes {
    try {
      return utf8Fatal.decode(bytes);
    } catch {
      return new JsonBytes(bytes.slice(), utf8Lossy.decode(bytes));
    }
  }
}

/** Appends a code point's UTF-8 bytes as CAF's `utf32_to_utf8` writes them (surrogates too). */
function pushUtf8(out: number[], cp: number): void {
  if (cp <= 0x7f) out.push(cp);
  else if (cp <= 0x7ff) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
  else if (cp <= 0xffff) {
    out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  } else if (cp <= 0x10ffff) {
    out.push(
      0xf0 | (cp >> 18),
      0x80 | ((cp >> 12) & 0x3f),
      0x80 | ((cp >> 6) & 0x3f),
      0x80 | (cp & 0x3f),
    );
  }
}

// ---------------------------------------------------------- JSON to data

function bad(what: string): never {
  throw new BrokerError(ErrorCode.deserialization_failed, what);
}

function show(x: unknown): string {
  if (typeof x === "bigint") return `${x}`;
  if (x instanceof JsonBytes) return JSON.stringify(x.text);
  if (x instanceof LongInteger) return `${x.value}`;
  try {
    const s = JSON.stringify(x, (_k, v) => typeof v === "bigint" ? `${v}` : v);
    if (s !== undefined) return s.length > 60 ? `${s.slice(0, 57)}...` : s;
  } catch {
    // fall through: an object JSON cannot print
  }
  // String() throws on objects without a prototype (the parser makes those).
  return typeof x === "object" && x !== null ? "an object" : String(x);
}

function isObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && !(x instanceof JsonBytes) &&
    !(x instanceof LongInteger) && !ArrayBuffer.isView(x);
}

function exactInteger(x: unknown, type: string, fromText: boolean): bigint {
  if (typeof x === "bigint") return x;
  if (x instanceof LongInteger) return clash(`${type} ${x.value} is out of range`);
  // Text's reals as large as the longest integers we read as bigints.
  if (typeof x === "number" && fromText && Math.abs(x) >= 1e39) {
    clash(`${type} ${x} is out of range`);
  }
  // In text, a fraction or exponent makes a real (Broker refuses `1.0` as a count).
  if (typeof x === "number" && Number.isInteger(x) && !fromText) {
    // Above 2^53 the number may already be rounded: refuse to guess.
    if (!Number.isSafeInteger(x)) {
      clash(`${type} ${x} is not exact as a JS number; pass a bigint or the JSON text`);
    }
    return BigInt(x);
  }
  return clash(`${type} data must be an integer, got ${show(x)}`);
}

function realValue(x: unknown, fromText: boolean): number {
  if (typeof x === "number") return x;
  // Broker takes a real only from a number CAF read as a double: `5` is an
  // integer to it, and broker-node refuses it as a real (`5.0`, `5e0` do).
  if ((typeof x === "bigint" && fromText) || x instanceof LongInteger) {
    return clash(`real data must have a fraction or an exponent, got ${show(x)}`);
  }
  if (typeof x === "bigint") return Number(x);
  if (x === "nan" || x === "-nan") return NaN;
  if (x === "inf") return Infinity;
  if (x === "-inf") return -Infinity;
  return clash(`real data must be a number, got ${show(x)}`);
}

function textValue(x: unknown, type: string): string {
  if (typeof x === "string") return x;
  if (x instanceof JsonBytes) return clash(`${type} data is not UTF-8`);
  return clash(`${type} data must be a string, got ${show(x)}`);
}

function textData(x: unknown, type: "string" | "enum-value"): Data {
  if (x instanceof JsonBytes) return type === "string" ? str(x.bytes) : enumValue(x.bytes);
  if (x instanceof Uint8Array) return type === "string" ? str(x) : enumValue(x);
  const s = textValue(x, type);
  return type === "string" ? str(s) : enumValue(s);
}

function elements(x: unknown, type: string): unknown[] {
  if (!Array.isArray(x)) return clash(`${type} data must be an array, got ${show(x)}`);
  return x;
}

/** How to read: the depth limit, and whether numbers came from our text parser. */
interface ReadContext {
  readonly maxDepth: number;
  readonly fromText: boolean;
}

function toData(node: unknown, depth: number, cx: ReadContext): Data {
  if (!isObject(node)) return bad(`expected an object with "@data-type", got ${show(node)}`);
  const type = node["@data-type"];
  const d = node.data;
  switch (type) {
    case "none":
      // Broker ignores the data of none.
      return { type: "none", value: null };
    case "boolean":
      if (typeof d !== "boolean") clash(`boolean data must be true or false, got ${show(d)}`);
      return { type: "boolean", value: d };
    case "count": {
      const v = exactInteger(d, type, cx.fromText);
      if (v < 0n || v > LIMITS.U64_MAX) clash(`count ${v} is out of range`);
      return { type: "count", value: v };
    }
    case "integer": {
      const v = exactInteger(d, type, cx.fromText);
      if (v < LIMITS.I64_MIN || v > LIMITS.I64_MAX) clash(`integer ${v} is out of range`);
      return { type: "integer", value: v };
    }
    case "real":
      return { type: "real", value: realValue(d, cx.fromText) };
    case "string":
    case "enum-value":
      return textData(d, type);
    case "address":
    case "subnet":
    case "port":
    case "timestamp":
    case "timespan":
      return scalarFromText(type, textValue(d, type));
    case "set":
    case "vector": {
      const xs = elements(d, type);
      if (xs.length > 0 && depth >= cx.maxDepth) bad("nesting deeper than the limit");
      const items = xs.map((x) => toData(x, depth + 1, cx));
      if (type === "vector") return { type: "vector", value: items };
      const s = set(...items);
      if (s.value.length !== items.length) bad("duplicate set element");
      return s;
    }
    case "table": {
      const xs = elements(d, type);
      if (xs.length > 0 && depth >= cx.maxDepth) bad("nesting deeper than the limit");
      const entries = xs.map((x) => {
        if (!isObject(x) || !("key" in x) || !("value" in x)) {
          return clash(`table entries must be {"key": ..., "value": ...}, got ${show(x)}`);
        }
        return [toData(x.key, depth + 1, cx), toData(x.value, depth + 1, cx)] as const;
      });
      const t = table(entries);
      if (t.value.length !== entries.length) bad("duplicate table key");
      return t;
    }
    default:
      return bad(
        type === undefined ? 'missing "@data-type"' : `unknown "@data-type" ${show(type)}`,
      );
  }
}

/** A JSON message parsed by `readJsonMessage`. */
export interface JsonMessage {
  /** Its top-level fields; undefined when the text is not an object. */
  readonly fields?: Readonly<Record<string, unknown>>;
  /** Its value, read from `@data-type` and `data` (throws a `BrokerError`). */
  data(): Data;
}

/**
 * Parses a JSON message text once, with Broker's JSON rules (exact 64-bit
 * integers, bare `nan`/`inf`): its top-level fields (e.g. `type` and `topic`
 * of a WebSocket data message; undefined when the text is not an object)
 * now, its value when `data()` is called.
 * Throws `BrokerError(invalid_json)` for text that does not parse.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readJsonMessage } from "./json_read.ts";
 * const m = readJsonMessage('{"type":"data-message","topic":"/t","@data-type":"count","data":1}');
 * equal(m.fields?.topic, "/t");
 * equal(m.data().value, 1n);
 * ```
 */
export function readJsonMessage(text: string, options?: DataFromJsonOptions): JsonMessage {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  const node = new Parser(utf8Of(text), 3 * maxDepth + 3).document();
  const fields = isObject(node) ? node : undefined;
  return { fields, data: () => toData(node, 0, { maxDepth, fromText: true }) };
}

/**
 * Reads a value from Broker's JSON form: text (a string, or UTF-8 bytes, which
 * also carry strings that are not UTF-8) or an object such as
 * {@link dataToJsonValue} or `JSON.parse` gives. Accepts Broker's non-JSON
 * words `nan`, `inf`, `-inf` and the other liberties listed in the module doc.
 * Throws a {@link BrokerError}: `invalid_json`, `deserialization_failed` or
 * `type_clash`.
 *
 * @example
 * ```ts
 * import { dataFromJson, dataToString } from "../../mod.ts";
 * const v = dataFromJson('{"@data-type":"timespan","data":"1500ms"}');
 * dataToString(v); // "1500000000ns"
 * dataFromJson({ "@data-type": "real", data: 1.5 }); // real(1.5)
 * dataFromJson('{"@data-type":"real","data":nan}'); // real(NaN)
 * ```
 */
export function dataFromJson(
  json: string | Uint8Array | JsonDataValue | object,
  options?: DataFromJsonOptions,
): Data {
  const maxDepth = options?.maxDepth ?? DEFAULT_MAX_DEPTH;
  if (typeof json === "string" || json instanceof Uint8Array) {
    const bytes = typeof json === "string" ? utf8Of(json) : json;
    // Each data level takes at most three JSON levels (table, entry, key).
    const node = new Parser(bytes, 3 * maxDepth + 3).document();
    return toData(node, 0, { maxDepth, fromText: true });
  }
  return toData(json, 0, { maxDepth, fromText: false });
}
