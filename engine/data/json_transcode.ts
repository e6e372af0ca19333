/**
 * A WebSocket data message in Broker's JSON form written straight into
 * Broker's binary format (`transcodeDataMessage`), without the JSON tree and
 * the `Data` objects `readJsonMessage` and `encode` make on the way. It takes
 * the form Broker's writers give (`"@data-type"` before `"data"` in every
 * value, strings without escapes, integers of up to 20 digits) and declines
 * anything else, so that the full reader reads that, with its errors: what
 * this writes is what `encode(dataFromJson(...))` gives for the same text.
 *
 * @module
 */
import type { DataBuilder } from "./builder.ts";
import { cafReal, quickTimestampMs, scalarFromText, utf8Of } from "./json_input.ts";
import { ASCII_MAX, asciiText, utf8Fatal } from "./read_text.ts";
import { NS_PER_TIMESPAN_UNIT } from "./timespan_units.ts";
import { JSON_TYPE_NAMES } from "./json_write.ts";
import { Address, type Protocol, Tag, TYPE_NAMES } from "./types.ts";

/**
 * Containers nested deeper than this are left to the full reader (whose
 * limit, 128 by default, is higher): no Zeek value comes near it, and the
 * recursion here stays short.
 */
const MAX_NESTING = 32;
/** Digits of an integer read as a JS number (below 2^53); longer ones go through a bigint. */
const SAFE_DIGITS = 15;

// Keys and names, as the bytes between their quotes.
const bytesOf = (s: string) => new TextEncoder().encode(s);
const KEY_DATA_TYPE = bytesOf("@data-type");
const KEY_DATA = bytesOf("data");
const KEY_TYPE = bytesOf("type");
const KEY_TOPIC = bytesOf("topic");
const KEY_KEY = bytesOf("key");
const KEY_VALUE = bytesOf("value");
const DATA_MESSAGE = bytesOf("data-message");
// What Broker writes around a type name, without spaces: matched in one loop.
const VALUE_HEAD = bytesOf('{"@data-type":"');
const DATA_HEAD = bytesOf(',"data":');
const [TRUE, FALSE, NULL] = ["true", "false", "null"].map(bytesOf);

/** Each type's JSON name (`JSON_TYPE_NAMES`), by its tag. */
const TYPE_BYTES = TYPE_NAMES.map((t) => bytesOf(JSON_TYPE_NAMES[t]));

/** Port protocols as Broker writes them, and what they are. */
const PROTOCOL_BYTES = ["tcp", "udp", "icmp", "?"].map(bytesOf);
const PORT_PROTOCOLS: Protocol[] = ["tcp", "udp", "icmp", "unknown"];

/** A timespan's units as CAF reads them (no days), and the nanoseconds in each. */
const CAF_UNITS = Object.entries(NS_PER_TIMESPAN_UNIT).filter(([u]) => u !== "d");
const UNIT_BYTES = CAF_UNITS.map(([u]) => bytesOf(u));
const NS_PER_UNIT = CAF_UNITS.map(([, ns]) => Number(ns));

/** Thrown inside to decline a text; never leaves this module. */
const DECLINE = new Error("declined");

/**
 * Writes the value of a data message
 * (`{"type":"data-message","topic":...,"@data-type":...,"data":...}`) into
 * `builder`, after `reset`, and returns its topic; or returns undefined,
 * with the builder reset, for a text it leaves to `readJsonMessage` (any
 * other form, or an error). Checks what `dataMessageOf` checks except the
 * topic's: reserved topics are the caller's to refuse.
 *
 * @example
 * ```ts
 * import { DataBuilder, encode, str, vector } from "../../mod.ts";
 * import { transcodeDataMessage } from "./json_transcode.ts";
 * const b = new DataBuilder();
 * const text = '{"type":"data-message","topic":"/t","@data-type":"vector",' +
 *   '"data":[{"@data-type":"string","data":"hi"}]}';
 * if (transcodeDataMessage(text, b) !== "/t") throw new Error("the topic");
 * if (b.finish().join() !== encode(vector(str("hi"))).join()) throw new Error("the bytes");
 * // Another key order: left to the full reader.
 * const other = '{"topic":"/t","data":1,"@data-type":"count","type":"data-message"}';
 * if (transcodeDataMessage(other, b) !== undefined) throw new Error("declined");
 * ```
 */
export function transcodeDataMessage(text: string, builder: DataBuilder): string | undefined {
  const t = transcoder;
  t.b = utf8Of(text);
  t.pos = 0;
  t.out = builder.reset();
  try {
    return t.message();
  } catch {
    // Malformed or unusual text, or a value the builder refuses: the full reader says why.
    builder.reset();
    return undefined;
  } finally {
    t.b = EMPTY;
  }
}

const EMPTY = new Uint8Array(0);

/** One pass over the text's bytes, writing as it reads; any surprise declines. */
class Transcoder {
  b: Uint8Array = EMPTY;
  pos = 0;
  out!: DataBuilder;
  /** The bytes of the last string read (`text`): `from..to`. */
  from = 0;
  to = 0;

  message(): string {
    let topic: string | undefined, typed = false, valued = false;
    this.ws();
    this.expect(0x7b); // {
    do {
      this.ws();
      this.text();
      this.colon();
      if (this.isText(KEY_TYPE) && !typed) {
        this.text();
        if (!this.isText(DATA_MESSAGE)) throw DECLINE;
        typed = true;
      } else if (this.isText(KEY_TOPIC) && topic === undefined) {
        this.text();
        topic = this.string();
      } else if (this.isText(KEY_DATA_TYPE) && !valued) {
        this.typedValue(0);
        valued = true;
      } else throw DECLINE;
      this.ws();
    } while (this.comma());
    this.expect(0x7d); // }
    this.ws();
    if (this.pos !== this.b.length || !typed || topic === undefined || !valued) throw DECLINE;
    if (this.out.repeats > 0) throw DECLINE; // a repeated set element or table key: an error there
    return topic;
  }

  /** A value: `{"@data-type": ..., "data": ...}`. */
  value(depth: number): void {
    if (this.match(VALUE_HEAD)) this.pos--; // back to the name's opening quote
    else {
      this.expect(0x7b);
      this.ws();
      this.key(KEY_DATA_TYPE);
    }
    this.typedValue(depth);
    this.ws();
    this.expect(0x7d);
  }

  /** `"name", "data": ...`, the value's `"@data-type":` already read. */
  typedValue(depth: number): void {
    this.text();
    // The index in TYPE_BYTES is the tag.
    const type = this.nameAt(this.from, this.to, TYPE_BYTES);
    if (!this.match(DATA_HEAD)) {
      this.ws();
      this.expect(0x2c); // ,
      this.ws();
      this.key(KEY_DATA);
    }
    const out = this.out;
    switch (type) {
      case Tag.count:
      case Tag.integer:
        this.integer(type === Tag.count);
        return;
      case Tag.string:
      case Tag.enum: {
        // Bytes between the quotes, as they are: what the full reader keeps too.
        this.text();
        const bytes = this.b.subarray(this.from, this.to);
        if (type === Tag.string) out.str(bytes);
        else out.enumValue(bytes);
        return;
      }
      case Tag.timespan:
        this.text();
        if (!this.quickTimespan()) out.data(scalarFromText("timespan", this.string()));
        return;
      case Tag.timestamp: {
        this.text();
        const text = this.string(), ms = quickTimestampMs(text);
        // Out of range, the builder throws (the full reader's type_clash).
        if (ms !== undefined) out.timestampMs(ms);
        else out.data(scalarFromText("timestamp", text));
        return;
      }
      case Tag.address: {
        this.text();
        const v4 = this.dottedQuad();
        if (v4 >= 0) out.addr(Address.fromWords(0, 0, 0xffff, v4));
        else out.data(scalarFromText("address", this.string()));
        return;
      }
      case Tag.port:
        this.text();
        if (!this.quickPort()) out.data(scalarFromText("port", this.string()));
        return;
      case Tag.subnet:
        this.text();
        out.data(scalarFromText("subnet", this.string()));
        return;
      case Tag.boolean:
        if (this.match(TRUE)) out.bool(true);
        else if (this.match(FALSE)) out.bool(false);
        else throw DECLINE;
        return;
      case Tag.real:
        out.real(this.real());
        return;
      case Tag.none:
        // Broker writes `{}`; the full reader ignores whatever is there.
        if (!this.match(NULL)) {
          this.expect(0x7b);
          this.ws();
          this.expect(0x7d);
        }
        out.none();
        return;
      case Tag.vector:
      case Tag.set:
      case Tag.table:
        this.container(type, depth + 1);
        return;
      default:
        throw DECLINE;
    }
  }

  container(type: number, depth: number): void {
    const out = this.out;
    this.expect(0x5b); // [
    this.ws();
    if (type === Tag.vector) out.beginVector();
    else if (type === Tag.set) out.beginSet();
    else out.beginTable();
    if (this.b[this.pos] === 0x5d) {
      this.pos++;
      out.end();
      return;
    }
    if (depth > MAX_NESTING) throw DECLINE;
    do {
      this.ws();
      if (type === Tag.table) {
        this.expect(0x7b);
        this.key(KEY_KEY);
        this.value(depth);
        this.ws();
        this.expect(0x2c);
        this.ws();
        this.key(KEY_VALUE);
        this.value(depth);
        this.ws();
        this.expect(0x7d);
      } else this.value(depth);
      this.ws();
    } while (this.comma());
    this.expect(0x5d); // ]
    out.end();
  }

  /** A count or an integer: an optional minus (integers), then digits, no leading zero. */
  integer(unsigned: boolean): void {
    const b = this.b, negative = b[this.pos] === 0x2d;
    if (negative) {
      if (unsigned) throw DECLINE;
      this.pos++;
    }
    const from = this.pos;
    let n = 0;
    while (b[this.pos] >= 0x30 && b[this.pos] <= 0x39) n = n * 10 + (b[this.pos++] - 0x30);
    const digits = this.pos - from;
    const next = b[this.pos];
    // A fraction or exponent makes a real (refused as a count), a leading zero malformed JSON.
    if (
      digits === 0 || digits > 20 || next === 0x2e || next === 0x65 || next === 0x45 ||
      (b[from] === 0x30 && digits > 1)
    ) throw DECLINE;
    if (digits <= SAFE_DIGITS) {
      if (unsigned) this.out.count(n);
      else this.out.integer(negative ? -n : n);
      return;
    }
    let big = BigInt(asciiText(b, from, this.pos)!);
    if (negative) big = -big;
    // The builder refuses what is out of range (the full reader's type_clash).
    if (unsigned) this.out.count(big);
    else this.out.integer(big);
  }

  /** A real written as a JSON number (Broker's `nan` and `inf` are left to the full reader). */
  real(): number {
    const b = this.b, from = this.pos;
    if (b[this.pos] === 0x2d) this.pos++;
    const intFrom = this.pos;
    this.digits();
    if (b[intFrom] === 0x30 && this.pos - intFrom > 1) throw DECLINE;
    let integral = true;
    if (b[this.pos] === 0x2e) {
      integral = false;
      this.pos++;
      this.digits();
    }
    if (b[this.pos] === 0x65 || b[this.pos] === 0x45) {
      integral = false;
      this.pos++;
      if (b[this.pos] === 0x2b || b[this.pos] === 0x2d) this.pos++;
      this.digits();
    }
    if (!integral) {
      // As broker-node reads it; what CAF refuses is the full reader's error.
      const x = cafReal(b, from, this.pos);
      if (x === undefined) throw DECLINE;
      return x;
    }
    // An integer token is no real to Broker: the full reader's refusal (or, past
    // a bigint's digits, its rounding).
    throw DECLINE;
  }

  /** One or more digits. */
  digits(): void {
    const b = this.b, at = this.pos;
    while (b[this.pos] >= 0x30 && b[this.pos] <= 0x39) this.pos++;
    if (this.pos === at) throw DECLINE;
  }

  /**
   * The timespan text just read, when it is a sign, up to 15 digits and a
   * unit whose nanoseconds stay a safe integer: written without a bigint or
   * the regex. False (nothing written) for any other text.
   */
  quickTimespan(): boolean {
    const b = this.b, to = this.to;
    let p = this.from, negative = false;
    if (b[p] === 0x2d || b[p] === 0x2b) negative = b[p++] === 0x2d;
    const from = p;
    let n = 0;
    while (p < to && b[p] >= 0x30 && b[p] <= 0x39) n = n * 10 + (b[p++] - 0x30);
    const unit = this.nameAt(p, to, UNIT_BYTES);
    // A digit after a leading 0 is CAF's refusal: the full reader's error.
    if (p === from || p - from > SAFE_DIGITS || unit < 0 || (b[from] === 0x30 && p > from + 1)) {
      return false;
    }
    const v = n * NS_PER_UNIT[unit];
    if (!Number.isSafeInteger(v)) return false;
    this.out.timespan(negative ? -v : v);
    return true;
  }

  /**
   * The address text just read as an IPv4 word when it is Broker's dotted
   * quad (no leading zeros), else -1: `scalarFromText`'s first test, on bytes.
   */
  dottedQuad(): number {
    const b = this.b, to = this.to;
    let w = 0, p = this.from;
    for (let part = 0; part < 4; part++) {
      if (part > 0 && b[p++] !== 0x2e) return -1;
      const at = p;
      let v = 0;
      while (p < to && p - at < 3 && b[p] >= 0x30 && b[p] <= 0x39) v = v * 10 + b[p++] - 0x30;
      if (p === at || v > 255 || (b[at] === 0x30 && p - at > 1)) return -1;
      w = w * 256 + v;
    }
    return p === to ? w : -1;
  }

  /**
   * The port text just read when it is Broker's (`80/tcp`, `0/?`): written,
   * as `scalarFromText` reads it; false (nothing written) for any other text.
   */
  quickPort(): boolean {
    const b = this.b, to = this.to;
    let p = this.from, n = 0;
    while (p < to && p - this.from < 5 && b[p] >= 0x30 && b[p] <= 0x39) n = n * 10 + b[p++] - 0x30;
    if (p === this.from || n > 65535 || b[p++] !== 0x2f) return false;
    const protocol = this.nameAt(p, to, PROTOCOL_BYTES);
    if (protocol < 0) return false;
    this.out.port(n, PORT_PROTOCOLS[protocol]);
    return true;
  }

  /** `"name"`, its colon and the spaces after: a key that must come here. */
  key(name: Uint8Array): void {
    this.text();
    if (!this.isText(name)) throw DECLINE;
    this.colon();
  }

  colon(): void {
    this.ws();
    this.expect(0x3a);
    this.ws();
  }

  /** Whether the last string read is `name`. */
  isText(name: Uint8Array): boolean {
    return this.same(this.from, this.to, name);
  }

  /** Whether the bytes `from..to` are `name`. */
  same(from: number, to: number, name: Uint8Array): boolean {
    const b = this.b;
    if (to - from !== name.length) return false;
    for (let i = 0; i < name.length; i++) if (b[from + i] !== name[i]) return false;
    return true;
  }

  /** Which of `names` the bytes `from..to` are (its index), or -1. */
  nameAt(from: number, to: number, names: readonly Uint8Array[]): number {
    for (let i = 0; i < names.length; i++) if (this.same(from, to, names[i])) return i;
    return -1;
  }

  /** A string without escapes, its bytes noted as `from..to`. */
  text(): void {
    const b = this.b, n = b.length;
    if (b[this.pos] !== 0x22) throw DECLINE;
    const from = this.pos + 1;
    let p = from;
    while (p < n) {
      const c = b[p];
      if (c === 0x22) break;
      if (c === 0x5c) throw DECLINE; // escapes: the full reader's
      p++;
    }
    if (p >= n) throw DECLINE;
    this.from = from;
    this.to = p;
    this.pos = p + 1;
  }

  /** The last string read, as a string (the text came from a string: valid UTF-8). */
  string(): string {
    const b = this.b, from = this.from, to = this.to;
    if (to - from <= ASCII_MAX) {
      const s = asciiText(b, from, to);
      if (s !== undefined) return s;
    }
    return utf8Fatal.decode(b.subarray(from, to));
  }

  /** Whether `bytes` come next (then read), as a whole. */
  match(bytes: Uint8Array): boolean {
    const b = this.b, at = this.pos;
    for (let i = 0; i < bytes.length; i++) if (b[at + i] !== bytes[i]) return false;
    this.pos = at + bytes.length;
    return true;
  }

  comma(): boolean {
    if (this.b[this.pos] !== 0x2c) return false;
    this.pos++;
    return true;
  }

  expect(c: number): void {
    if (this.b[this.pos] !== c) throw DECLINE;
    this.pos++;
  }

  ws(): void {
    const b = this.b;
    // Broker writes none; clients such as Python's json.dumps write a space after `,` and `:`.
    if (b[this.pos] > 0x20) return;
    let c = b[this.pos];
    while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = b[++this.pos];
  }
}

const transcoder = new Transcoder();
