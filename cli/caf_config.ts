/**
 * CAF's configuration syntax, as `broker-node --config-file` and its list
 * options on the command line read it.
 *
 * A file is a list of `key = value` entries (`:` works too) separated by
 * newlines or commas; `name { ... }` opens a section, `a.b = 1` is the same
 * as `a { b = 1 }`, and the whole file may sit in one pair of braces. Values
 * are quoted strings, integers (decimal, `0x` hex, `0b` binary, leading-zero
 * octal), reals, `true`/`false`, timespans (`10s`, `100ms`, `5min`, ...),
 * `<uri>`s, `[lists]` (trailing commas and `1..5` ranges allowed) and
 * `{ maps }`. Comments start with `#`; CAF has no `//` comments and no
 * unquoted strings in files.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { parseCafConfig } from "./caf_config.ts";
 * const cfg = parseCafConfig('topics = ["/a"]\nbroker { disable-ssl = true }');
 * deepEqual(cfg.getStringList("topics"), ["/a"]);
 * equal(cfg.getBool("broker.disable-ssl"), true);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { NS_PER_TIMESPAN_UNIT, type TimespanUnit } from "../engine/data/timespan_units.ts";

/** A parsed URI, as CAF's `<scheme://host:port/path>` notation gives it. */
export interface CafUri {
  /** The URI as written between the angle brackets. */
  readonly text: string;
  /** Scheme, e.g. `tcp`. */
  readonly scheme: string;
  /** User info before `@` in the authority, if any. */
  readonly userinfo?: string;
  /** Host of the authority (IPv6 without brackets), if there is an authority. */
  readonly host?: string;
  /** Port of the authority, if given. */
  readonly port?: number;
  /** Path (possibly empty). */
  readonly path: string;
  /** Query after `?`, if any. */
  readonly query?: string;
  /** Fragment after `#`, if any. */
  readonly fragment?: string;
}

/** One configuration value. Integers and timespans (nanoseconds) are exact `bigint`s. */
export type ConfigValue =
  | { readonly type: "boolean"; readonly value: boolean }
  | { readonly type: "integer"; readonly value: bigint }
  | { readonly type: "real"; readonly value: number }
  | { readonly type: "timespan"; readonly value: bigint }
  | { readonly type: "string"; readonly value: string }
  | { readonly type: "uri"; readonly value: CafUri }
  | { readonly type: "list"; readonly value: readonly ConfigValue[] }
  | { readonly type: "dictionary"; readonly value: ReadonlyMap<string, ConfigValue> };

/** Where parse errors say they are: a file name or an option like `--topics`. */
export interface ParseOptions {
  /** Prefix for error messages, e.g. `node.cfg`. */
  source?: string;
}

const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;
// A typo like [1..1000000000] should fail, not eat the heap.
const MAX_RANGE_ELEMENTS = 1_000_000;

function isKeyChar(c: string): boolean {
  return /^[A-Za-z0-9_-]$/.test(c);
}

function isDigit(c: string): boolean {
  return c >= "0" && c <= "9";
}

function isWordChar(c: string): boolean {
  return /^[A-Za-z0-9_]$/.test(c);
}

function describe(c: string): string {
  if (c === "") return "end of input";
  if (c === "\n") return "end of line";
  return JSON.stringify(c);
}

/** A map body ends at the end of input (`top`) or at its `}` (`nested`). */
type MapLevel = "top" | "nested";

/** Where parsed entries go: the flat top level or a nested dictionary. */
interface EntrySink {
  set(path: readonly string[], value: ConfigValue, offset: number): void;
}

/** Builds a nested dictionary, as map values inside lists need. */
class DictionarySink implements EntrySink {
  readonly root = new Map<string, ConfigValue>();

  set(path: readonly string[], value: ConfigValue): void {
    let map = this.root;
    for (const seg of path.slice(0, -1)) {
      const cur = map.get(seg);
      if (cur?.type === "dictionary") {
        map = cur.value as Map<string, ConfigValue>;
      } else {
        // A value replaces a section of the same name and vice versa, as in CAF.
        const next = new Map<string, ConfigValue>();
        map.set(seg, { type: "dictionary", value: next });
        map = next;
      }
    }
    map.set(path[path.length - 1], value);
  }
}

/** Character-level recursive-descent reader with CAF's grammar. */
class Reader {
  pos = 0;

  constructor(readonly text: string, readonly source?: string) {}

  peek(k = 0): string {
    return this.text[this.pos + k] ?? "";
  }

  atEnd(): boolean {
    return this.pos >= this.text.length;
  }

  fail(message: string, at = this.pos): never {
    throw new BrokerError(ErrorCode.invalid_data, locate(this.text, at, message, this.source), {
      offset: at,
    });
  }

  unexpected(expected: string): never {
    const hint = this.text.startsWith("//", this.pos) ? " (CAF comments start with '#')" : "";
    this.fail(`unexpected ${describe(this.peek())}, expected ${expected}${hint}`);
  }

  skipBlanks(): void {
    while (this.peek() === " " || this.peek() === "\t") this.pos++;
  }

  skipComment(): void {
    while (!this.atEnd() && this.peek() !== "\n") this.pos++;
  }

  /** Skips whitespace including newlines, and comments. */
  skipSpace(): void {
    for (;;) {
      const c = this.peek();
      if (c === "#") this.skipComment();
      else if (c !== "" && " \t\n\r\f\v".includes(c)) this.pos++;
      else return;
    }
  }

  // ------------------------------------------------------------- maps

  /** The entries of a map up to `}` (nested) or the end of input (top level). */
  readMapBody(prefix: readonly string[], level: MapLevel, sink: EntrySink): void {
    const nested = level === "nested";
    this.skipSpace();
    for (;;) {
      const c = this.peek();
      if (c === "") {
        if (nested) this.fail("unexpected end of input, expected '}'");
        return;
      }
      if (c === "}") {
        if (!nested) this.unexpected("a key");
        this.pos++;
        return;
      }
      this.readEntry(prefix, sink);
      this.readSeparator(level);
    }
  }

  /** After a value: a comma, a newline or comment, `}` or the end of input. */
  readSeparator(level: MapLevel): void {
    const nested = level === "nested";
    this.skipBlanks();
    const c = this.peek();
    if (c === "}" && nested) return;
    if (c === "" && nested) this.unexpected("'}'");
    // CAF's top level also takes the next entry on the same line.
    if (!nested && (c === "" || isKeyChar(c) || c === '"' || c === "'")) return;
    if (c === ",") {
      this.pos++;
      this.skipSpace();
      return;
    }
    if (c === "\n" || c === "\r" || c === "#") {
      if (c === "\r" && this.peek(1) !== "\n") this.unexpected("a line feed after '\\r'");
      this.skipSpace();
      // CAF allows one comma on a line of its own between entries.
      if (this.peek() === ",") {
        this.pos++;
        this.skipSpace();
      }
      return;
    }
    this.unexpected(nested ? "',', a new line or '}'" : "',' or a new line");
  }

  readKeySegment(): string {
    const c = this.peek();
    if (c === '"' || c === "'") return this.readQuoted();
    if (!isKeyChar(c)) this.unexpected("a key");
    const start = this.pos;
    while (isKeyChar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  readEntry(prefix: readonly string[], sink: EntrySink): void {
    const keyStart = this.pos;
    const path = [...prefix, this.readKeySegment()];
    while (this.peek() === ".") {
      this.pos++;
      path.push(this.readKeySegment());
    }
    this.skipBlanks();
    const c = this.peek();
    if (c === "=" || c === ":") {
      this.pos++;
      this.skipBlanks();
      if (this.peek() === "{") {
        this.pos++;
        this.readMapBody(path, "nested", sink);
        return;
      }
      const value = this.readValue();
      sink.set(path, value, keyStart);
      return;
    }
    if (c === "{") {
      this.pos++;
      this.readMapBody(path, "nested", sink);
      return;
    }
    this.unexpected("'=' or '{' after the key");
  }

  // ------------------------------------------------------------- values

  readValue(): ConfigValue {
    const c = this.peek();
    if (c === '"' || c === "'") return { type: "string", value: this.readQuoted() };
    if (c === "[") return this.readList();
    if (c === "{") {
      this.pos++;
      const sink = new DictionarySink();
      this.readMapBody([], "nested", sink);
      return { type: "dictionary", value: sink.root };
    }
    if (c === "<") return { type: "uri", value: this.readUri() };
    if (isDigit(c) || c === "+" || c === "-" || c === ".") {
      return this.readNumber({ insideList: false })[0];
    }
    if (c === "" || /[\s,\]}>#=]/.test(c)) this.unexpected("a value");
    const start = this.pos;
    if (isWordChar(c)) {
      while (isWordChar(this.peek())) this.pos++;
    } else {
      while (!this.atEnd() && !/[\s,\]}#]/.test(this.peek())) this.pos++;
    }
    const word = this.text.slice(start, this.pos);
    if (word === "true" || word === "false") return { type: "boolean", value: word === "true" };
    return this.fail(`unquoted string ${JSON.stringify(word)}: strings need quotes`, start);
  }

  /** One list element, or the integers of an `a..b` / `a..b..step` range. */
  readElements(): ConfigValue[] {
    const c = this.peek();
    if (isDigit(c) || c === "+" || c === "-" || c === ".") {
      return this.readNumber({ insideList: true });
    }
    return [this.readValue()];
  }

  readList(): ConfigValue {
    this.pos++; // '['
    const items: ConfigValue[] = [];
    for (;;) {
      this.skipSpace();
      if (this.peek() === "]") {
        this.pos++;
        return { type: "list", value: items };
      }
      items.push(...this.readElements());
      this.skipSpace();
      const c = this.peek();
      if (c === ",") this.pos++;
      else if (c !== "]") this.unexpected("',' or ']'");
    }
  }

  readQuoted(): string {
    const quote = this.peek();
    const start = this.pos;
    this.pos++;
    let out = "";
    for (;;) {
      const c = this.peek();
      if (c === "") this.fail("unterminated string", start);
      if (c === "\n") this.fail("unexpected end of line in string");
      this.pos++;
      if (c === quote) return out;
      if (c !== "\\") {
        out += c;
        continue;
      }
      const e = this.peek();
      const escapes: Record<string, string> = {
        f: "\f",
        n: "\n",
        r: "\r",
        t: "\t",
        v: "\v",
        "\\": "\\",
      };
      if (e in escapes) out += escapes[e];
      else if (e === quote) out += quote;
      else this.fail(`invalid escape sequence \\${e}`, this.pos - 1);
      this.pos++;
    }
  }

  readUri(): CafUri {
    const open = this.pos;
    this.pos++; // '<'
    this.skipSpace();
    const start = this.pos;
    while (!this.atEnd() && !/[\s>]/.test(this.peek())) this.pos++;
    const text = this.text.slice(start, this.pos);
    this.skipSpace();
    if (this.peek() !== ">") this.unexpected("'>' to close the URI");
    this.pos++;
    const uri = tryParseUri(text);
    if (typeof uri === "string") this.fail(`invalid URI <${text}>: ${uri}`, open);
    return uri;
  }

  /** An integer, real or timespan; in lists also a range, expanded. */
  readNumber({ insideList }: { insideList: boolean }): ConfigValue[] {
    const start = this.pos;
    const first = this.readNumberLiteral({ insideList });
    if (first.type !== "integer") return [first];
    if (insideList && this.peek() === "." && this.peek(1) === ".") {
      this.pos += 2;
      const end = this.readIntegerOnly();
      let step: bigint | undefined;
      if (this.peek() === "." && this.peek(1) === ".") {
        this.pos += 2;
        step = this.readIntegerOnly();
      }
      return expandRange(first.value, end, step, (m) => this.fail(m, start));
    }
    const unit = this.readUnit();
    if (unit === undefined) return [first];
    return [{ type: "timespan", value: first.value * NS_PER_TIMESPAN_UNIT[unit] }];
  }

  readIntegerOnly(): bigint {
    const v = this.readNumberLiteral({ insideList: false, allowReal: false });
    if (v.type !== "integer") this.fail("a range needs integers");
    return v.value;
  }

  readUnit(): TimespanUnit | undefined {
    for (const unit of ["min", "ns", "us", "ms", "s", "h"] as const) {
      if (this.text.startsWith(unit, this.pos) && !isWordChar(this.peek(unit.length))) {
        this.pos += unit.length;
        return unit;
      }
    }
    return undefined;
  }

  readNumberLiteral(
    { insideList, allowReal = true }: { insideList: boolean; allowReal?: boolean },
  ): { type: "integer"; value: bigint } | { type: "real"; value: number } {
    const start = this.pos;
    let sign = 1n;
    if (this.peek() === "+" || this.peek() === "-") {
      if (this.peek() === "-") sign = -1n;
      this.pos++;
    }
    const integer = (magnitude: bigint) => {
      const value = sign * magnitude;
      if (value < I64_MIN || value > I64_MAX) this.fail("integer out of 64-bit range", start);
      return { type: "integer" as const, value };
    };
    const digitsOf = (re: RegExp): string => {
      const s = this.pos;
      while (re.test(this.peek())) this.pos++;
      return this.text.slice(s, this.pos);
    };
    if (this.peek() === "0" && /[xXbB]/.test(this.peek(1))) {
      const hex = /[xX]/.test(this.peek(1));
      this.pos += 2;
      const digits = digitsOf(hex ? /^[0-9A-Fa-f]$/ : /^[01]$/);
      if (digits === "") this.unexpected(hex ? "a hexadecimal digit" : "a binary digit");
      return integer(BigInt((hex ? "0x" : "0b") + digits));
    }
    const intDigits = digitsOf(/^[0-9]$/);
    const rangeAhead = insideList && this.peek() === "." && this.peek(1) === ".";
    const isReal = allowReal && !rangeAhead &&
      (this.peek() === "." || (/[eE]/.test(this.peek()) && intDigits !== ""));
    if (!isReal) {
      if (intDigits === "") this.unexpected("a digit");
      if (intDigits.length > 1 && intDigits[0] === "0") {
        // CAF reads a leading zero as octal, so `010` is 8 and `08` is an error.
        if (/[89]/.test(intDigits)) this.fail("invalid digit in octal number", start);
        return integer(BigInt("0o" + intDigits.slice(1)));
      }
      return integer(BigInt(intDigits));
    }
    let frac = "";
    if (this.peek() === ".") {
      this.pos++;
      frac = digitsOf(/^[0-9]$/);
    }
    if (intDigits === "" && frac === "") this.unexpected("a digit");
    let exp = "";
    if (/[eE]/.test(this.peek())) {
      this.pos++;
      let expSign = "";
      if (this.peek() === "+" || this.peek() === "-") expSign = this.text[this.pos++];
      const expDigits = digitsOf(/^[0-9]$/);
      if (expDigits === "") this.unexpected("exponent digits");
      exp = `e${expSign}${expDigits}`;
    }
    if (this.readUnitLookahead()) this.fail("a timespan needs an integer, not a fraction", start);
    const literal = `${sign < 0n ? "-" : ""}${intDigits || "0"}.${frac || "0"}${exp}`;
    return { type: "real", value: Number(literal) };
  }

  readUnitLookahead(): boolean {
    const save = this.pos;
    const unit = this.readUnit();
    this.pos = save;
    return unit !== undefined;
  }
}

function expandRange(
  from: bigint,
  to: bigint,
  step: bigint | undefined,
  fail: (message: string) => never,
): ConfigValue[] {
  const s = step ?? (from <= to ? 1n : -1n);
  if (from !== to && (s === 0n || (from < to) !== (s > 0n))) {
    fail(`invalid range ${from}..${to}..${s}: the step points the wrong way`);
  }
  const out: ConfigValue[] = [];
  for (let i = from; s > 0n ? i <= to : i >= to; i += s) {
    if (out.length >= MAX_RANGE_ELEMENTS) fail(`range ${from}..${to} is too long`);
    out.push({ type: "integer", value: i });
    if (from === to) break;
  }
  return out;
}

function locate(text: string, offset: number, message: string, source?: string): string {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text[i] === "\n") {
      line++;
      lineStart = i + 1;
    }
  }
  const where = `line ${line}, column ${offset - lineStart + 1}`;
  return source ? `${source}: ${where}: ${message}` : `${where}: ${message}`;
}

/** Returns the URI, or why the text is not one. */
function tryParseUri(text: string): CafUri | string {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):(.*)$/s.exec(text);
  if (!m) return "missing scheme";
  const scheme = m[1];
  let rest = m[2];
  let fragment: string | undefined;
  let query: string | undefined;
  const hash = rest.indexOf("#");
  if (hash >= 0) {
    fragment = rest.slice(hash + 1);
    rest = rest.slice(0, hash);
  }
  const q = rest.indexOf("?");
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let userinfo: string | undefined;
  let host: string | undefined;
  let port: number | undefined;
  let path = rest;
  if (rest.startsWith("//")) {
    const slash = rest.indexOf("/", 2);
    let authority = slash < 0 ? rest.slice(2) : rest.slice(2, slash);
    path = slash < 0 ? "" : rest.slice(slash);
    const at = authority.lastIndexOf("@");
    if (at >= 0) {
      userinfo = authority.slice(0, at);
      authority = authority.slice(at + 1);
    }
    let portText: string | undefined;
    if (authority.startsWith("[")) {
      const close = authority.indexOf("]");
      if (close < 0) return "unterminated IPv6 address";
      host = authority.slice(1, close);
      const after = authority.slice(close + 1);
      if (after !== "" && !after.startsWith(":")) return "junk after IPv6 address";
      if (after !== "") portText = after.slice(1);
    } else {
      const colon = authority.lastIndexOf(":");
      host = colon < 0 ? authority : authority.slice(0, colon);
      if (colon >= 0) portText = authority.slice(colon + 1);
    }
    if (host === "") {
      // `file:///path` has an empty authority, which is fine; `tcp://:1` is not.
      if (userinfo !== undefined || portText !== undefined) return "empty host";
      host = undefined;
    }
    if (portText !== undefined) {
      if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) > 65535) {
        return `invalid port ${JSON.stringify(portText)}`;
      }
      port = Number(portText);
    }
  } else if (rest === "") {
    return "nothing after the scheme";
  }
  return { text, scheme, userinfo, host, port, path, query, fragment };
}

/**
 * Parses a URI as CAF does inside `<...>`, e.g. `tcp://127.0.0.1:9999`.
 * Throws a `BrokerError` (`invalid_data`) on malformed input.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCafUri } from "./caf_config.ts";
 * const u = parseCafUri("tcp://[::1]:9999");
 * equal(u.scheme, "tcp");
 * equal(u.host, "::1");
 * equal(u.port, 9999);
 * ```
 */
export function parseCafUri(text: string, options: ParseOptions = {}): CafUri {
  const uri = tryParseUri(text);
  if (typeof uri === "string") {
    const msg = `invalid URI <${text}>: ${uri}`;
    throw new BrokerError(
      ErrorCode.invalid_data,
      options.source ? `${options.source}: ${msg}` : msg,
    );
  }
  return uri;
}

/** Sink of the top level: dotted keys, later entries replacing earlier ones. */
class FlatSink implements EntrySink {
  readonly values = new Map<string, ConfigValue>();
  readonly offsets = new Map<string, number>();

  set(path: readonly string[], value: ConfigValue, offset: number): void {
    if (value.type === "dictionary") {
      for (const [k, v] of value.value) this.set([...path, k], v, offset);
      return;
    }
    const key = path.join(".");
    // As in CAF, a value replaces a section of the same name and vice versa.
    for (let i = 1; i < path.length; i++) this.#delete(path.slice(0, i).join("."));
    for (const k of [...this.values.keys()]) if (k.startsWith(key + ".")) this.#delete(k);
    this.values.set(key, value);
    this.offsets.set(key, offset);
  }

  #delete(key: string): void {
    this.values.delete(key);
    this.offsets.delete(key);
  }
}

/**
 * Parses a CAF configuration file into a `CafConfig`. Throws a `BrokerError`
 * (`invalid_data`) whose message names the line and column of the problem.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCafConfig } from "./caf_config.ts";
 * const cfg = parseCafConfig("broker.ttl = 16\nretry = 250ms", { source: "node.cfg" });
 * equal(cfg.getNumber("broker.ttl"), 16);
 * equal(cfg.getTimespan("retry"), 250_000_000n);
 * ```
 */
export function parseCafConfig(text: string, options: ParseOptions = {}): CafConfig {
  const r = new Reader(text, options.source);
  const sink = new FlatSink();
  r.skipSpace();
  if (r.peek() === "{") {
    r.pos++;
    r.readMapBody([], "nested", sink);
    r.skipSpace();
    if (!r.atEnd()) r.unexpected("end of input after '}'");
  } else {
    r.readMapBody([], "top", sink);
  }
  return new CafConfig(sink.values, { text, source: options.source, offsets: sink.offsets });
}

/**
 * Parses one value the way CAF reads an option on the command line: CAF
 * syntax if it parses, otherwise the raw text as a string, unless it clearly
 * meant to be something else (starts with a bracket, brace, quote or digit).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseCafValue } from "./caf_config.ts";
 * deepEqual(parseCafValue("250ms"), { type: "timespan", value: 250_000_000n });
 * deepEqual(parseCafValue("ping"), { type: "string", value: "ping" });
 * ```
 */
export function parseCafValue(text: string, options: ParseOptions = {}): ConfigValue {
  const trimmed = text.trim();
  if (trimmed === "") return { type: "string", value: "" };
  const r = new Reader(trimmed, options.source);
  try {
    const v = r.readValue();
    r.skipBlanks();
    if (!r.atEnd()) r.unexpected("end of input");
    return v;
  } catch (e) {
    if (/^[\[{"'0-9]/.test(trimmed)) throw e;
    return { type: "string", value: trimmed };
  }
}

/**
 * Parses a list option from the command line: `["/a", "/b"]`, or the
 * elements without brackets (`"/a", "/b"`, or one quoted string). Bare
 * words are not strings here, as in CAF: `--topics=/a` is an error.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCafList } from "./caf_config.ts";
 * equal(parseCafList('[<tcp://127.0.0.1:29001>]')[0].type, "uri");
 * ```
 */
export function parseCafList(text: string, options: ParseOptions = {}): ConfigValue[] {
  const r = new Reader(text, options.source);
  r.skipSpace();
  if (r.peek() === "[") {
    const v = r.readList();
    r.skipSpace();
    if (!r.atEnd()) r.unexpected("end of input after ']'");
    return [...(v.value as ConfigValue[])];
  }
  const items: ConfigValue[] = [];
  while (!r.atEnd()) {
    items.push(...r.readElements());
    r.skipSpace();
    if (r.atEnd()) break;
    if (r.peek() !== ",") r.unexpected("',' or end of input");
    r.pos++;
    r.skipSpace();
  }
  return items;
}

/**
 * Renders a value in CAF syntax (strings quoted, URIs in angle brackets,
 * timespans with their largest exact unit).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatConfigValue } from "./caf_config.ts";
 * equal(formatConfigValue({ type: "timespan", value: 1_500_000n }), "1500us");
 * ```
 */
export function formatConfigValue(v: ConfigValue): string {
  switch (v.type) {
    case "boolean":
    case "integer":
      return String(v.value);
    case "real": {
      const s = String(v.value);
      return /[.eEn]/.test(s) ? s : `${s}.0`;
    }
    case "timespan": {
      for (const unit of ["h", "min", "s", "ms", "us"] as const) {
        const n = NS_PER_TIMESPAN_UNIT[unit];
        if (v.value !== 0n && v.value % n === 0n) return `${v.value / n}${unit}`;
      }
      return `${v.value}ns`;
    }
    case "string":
      return JSON.stringify(v.value);
    case "uri":
      return `<${v.value.text}>`;
    case "list":
      return `[${v.value.map(formatConfigValue).join(", ")}]`;
    case "dictionary":
      return `{${[...v.value].map(([k, x]) => `${k} = ${formatConfigValue(x)}`).join(", ")}}`;
  }
}

/**
 * A parsed configuration: a flat map from dotted keys (`broker.disable-ssl`)
 * to values, with typed accessors. An accessor returns `undefined` for a
 * missing key and throws a `BrokerError` (`type_clash`) naming the key, and
 * its line and column, when the value has another type.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCafConfig } from "./caf_config.ts";
 * const cfg = parseCafConfig("peers = [<tcp://127.0.0.1:9999>]");
 * equal(cfg.getUriList("peers")?.[0].port, 9999);
 * ```
 */
export class CafConfig {
  /** Every entry, keyed by dotted path. */
  readonly values: Map<string, ConfigValue>;
  readonly #text?: string;
  readonly #source?: string;
  readonly #offsets: Map<string, number>;

  /** A config from entries; `origin` lets type errors name the line and column. */
  constructor(
    values: Iterable<readonly [string, ConfigValue]> = [],
    origin: { text?: string; source?: string; offsets?: Map<string, number> } = {},
  ) {
    this.values = new Map(values);
    this.#text = origin.text;
    this.#source = origin.source;
    this.#offsets = origin.offsets ?? new Map();
  }

  /** The value at `key`, untyped. */
  get(key: string): ConfigValue | undefined {
    return this.values.get(key);
  }

  /** Whether `key` has a value. */
  has(key: string): boolean {
    return this.values.has(key);
  }

  /** A string. */
  getString(key: string): string | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type !== "string") this.#clash(key, "a string", v);
    return v.value;
  }

  /** A boolean (`true`/`false`, also as the strings CAF converts). */
  getBool(key: string): boolean | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type === "boolean") return v.value;
    if (v.type === "string" && (v.value === "true" || v.value === "false")) {
      return v.value === "true";
    }
    return this.#clash(key, "a boolean", v);
  }

  /** A number: a real, or an integer that a JS number holds exactly. */
  getNumber(key: string): number | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type === "real") return v.value;
    if (v.type === "integer") {
      const n = Number(v.value);
      if (!Number.isSafeInteger(n)) this.#clash(key, "an integer below 2^53", v);
      return n;
    }
    return this.#clash(key, "a number", v);
  }

  /** An integer, exact. */
  getInteger(key: string): bigint | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type !== "integer") this.#clash(key, "an integer", v);
    return v.value;
  }

  /** A timespan in nanoseconds (`0` without a unit counts as zero, as CAF allows). */
  getTimespan(key: string): bigint | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type === "timespan") return v.value;
    if (v.type === "integer" && v.value === 0n) return 0n;
    return this.#clash(key, "a timespan such as 250ms", v);
  }

  /** A list of any values. */
  getList(key: string): readonly ConfigValue[] | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type !== "list") this.#clash(key, "a list", v);
    return v.value;
  }

  /** A list of strings. */
  getStringList(key: string): string[] | undefined {
    const xs = this.getList(key);
    if (xs === undefined) return undefined;
    return xs.map((x) => x.type === "string" ? x.value : this.#clash(key, "a list of strings", x));
  }

  /** A URI (`<tcp://host:port>`, or a string holding one). */
  getUri(key: string): CafUri | undefined {
    const v = this.values.get(key);
    if (v === undefined) return undefined;
    if (v.type === "uri") return v.value;
    if (v.type === "string") {
      const u = tryParseUri(v.value);
      if (typeof u !== "string") return u;
    }
    return this.#clash(key, "a URI such as <tcp://host:port>", v);
  }

  /** A list of URIs. */
  getUriList(key: string): CafUri[] | undefined {
    const xs = this.getList(key);
    if (xs === undefined) return undefined;
    return xs.map((x) => x.type === "uri" ? x.value : this.#clash(key, "a list of <uri>s", x));
  }

  #clash(key: string, expected: string, got: ConfigValue): never {
    const offset = this.#offsets.get(key);
    const msg = `${key} must be ${expected}, not ${formatConfigValue(got)}`;
    const text = this.#text !== undefined && offset !== undefined
      ? locate(this.#text, offset, msg, this.#source)
      : this.#source
      ? `${this.#source}: ${msg}`
      : msg;
    throw new BrokerError(ErrorCode.type_clash, text);
  }
}

/**
 * Reads a CAF config file as Broker's tools do: `path` if given (a missing
 * file is an error), else CAF's default `caf-application.conf` when it
 * exists. Throws `BrokerError(cannot_open_file)` or the parser's error.
 *
 * @example
 * ```ts
 * import { loadCafConfigFile } from "./caf_config.ts";
 * const cfg = await loadCafConfigFile(undefined); // undefined unless ./caf-application.conf exists
 * ```
 */
export async function loadCafConfigFile(path: string | undefined): Promise<CafConfig | undefined> {
  const file = path ?? "caf-application.conf";
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (path === undefined && e instanceof Deno.errors.NotFound) return undefined;
    throw new BrokerError(
      ErrorCode.cannot_open_file,
      `cannot read configuration file ${file}: ${
        e instanceof Deno.errors.NotFound ? "no such file" : e instanceof Error ? e.message : e
      }`,
    );
  }
  return parseCafConfig(text, { source: file });
}
