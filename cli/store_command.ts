/**
 * `broker store`: one operation on a data store from the shell, or a watch
 * of its events. It peers with the endpoint(s) given, attaches a clone of the
 * named store, runs the operation through it (reads from the clone's copy,
 * writes to the master), prints the result, and exits: 0 on success, 1 when
 * the operation failed (with Broker's error name, e.g. `type_clash`), 2 on
 * a usage error (found before anything is sent).
 *
 * Arguments are typed as Zeek users write values (`STORE_VALUE_RULES`,
 * `parseCliValue`): `1` a count, `-1` an integer, `1.5` a real, `1.2.3.4`
 * an address, `10/8` a subnet, `80/tcp` a port, `T`/`F`, `nil`, `5s` a
 * timespan, `"..."` a string; `--type` forces a type, `--json` reads
 * Broker's JSON. Results print in that same syntax (`formatCliValue`), or as
 * Broker's JSON with `--json`.
 *
 * A clone learns nothing from the master about how a write went (Broker's
 * master drops a write it cannot apply and says nothing), so the CLI
 * confirms each write through the store's events: the master broadcasts
 * every change it applies, the clone reports it as an event naming its
 * publisher, and the master's ack of the write comes after that broadcast.
 * The event settles the write as it arrives; no event from this clone for
 * the key once the master acked the write means the master rejected it;
 * Broker's rules (`operations.ts`) applied to the clone's copy give the
 * error's name.
 *
 * @module
 */
import {
  addSslOptions,
  DISABLE_SSL_HELP,
  endpointSslOptions,
  type SslCliValues,
} from "./ssl_options.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  addr,
  Address,
  bool,
  BrokerError,
  compare,
  count,
  type Data,
  dataFromJson,
  dataToJson,
  Endpoint,
  enumValue,
  ErrorCode,
  integer,
  LIMITS,
  MemoryBackend,
  none,
  Port,
  type Protocol,
  real,
  type Store,
  type StoreEvent,
  storeEventToData,
  str,
  Subnet,
  subnet,
  timespan,
  timestamp,
} from "../mod.ts";
import { type ActionCommand, entityEquals, NIL_ENTITY } from "../engine/store/mod.ts";
import { applyCommand } from "../engine/store/operations.ts";
import { incrementInitType } from "../engine/store/store.ts";
import { NS_PER_TIMESPAN_UNIT, type TimespanUnit } from "../engine/data/timespan_units.ts";
import {
  type HostPort,
  parseDuration,
  parsePeerList,
  parsePositiveCount,
  UsageError,
} from "./cli_values.ts";

/**
 * The operations and how many arguments each takes after the store name
 * (the key first, when there is one).
 */
export const STORE_OPERATIONS: Readonly<Record<string, [min: number, max: number]>> = {
  get: [1, 1],
  exists: [1, 1],
  keys: [0, 0],
  put: [2, 2],
  "put-unique": [2, 2],
  erase: [1, 1],
  clear: [0, 0],
  increment: [1, 2],
  decrement: [1, 2],
  insert: [2, 3],
  remove: [2, 2],
  push: [2, 2],
  pop: [1, 1],
  append: [2, 2],
  watch: [0, 1],
};

/** Operations that write and take `--expiry` (Broker's writes with an expiry). */
const EXPIRING_WRITES = new Set([
  "put",
  "put-unique",
  "increment",
  "decrement",
  "insert",
  "remove",
  "push",
  "pop",
  "append",
]);

/**
 * Writes whose result the CLI prints, the key's value after the master
 * applied them: the writes above but the two puts (they print nothing and T/F).
 */
const PRINTS_RESULT = new Set([...EXPIRING_WRITES].filter((op) => !op.startsWith("put")));

/** The types `--type` and `--key-type` accept. */
export const VALUE_TYPES = [
  "count",
  "integer",
  "real",
  "string",
  "address",
  "subnet",
  "port",
  "bool",
  "timespan",
  "timestamp",
  "enum",
] as const;

/** One of `VALUE_TYPES`. */
export type ValueType = typeof VALUE_TYPES[number];

/**
 * How arguments are typed, as `broker store --help` and the README show it.
 * Checked in this order; the first rule that matches decides, and text that
 * looks like a typed literal but is out of range is a usage error, never a
 * string.
 */
export const STORE_VALUE_RULES: readonly string[] = [
  "nil                          none",
  "T, F                         bool (Zeek's literals; true/false are strings)",
  '"text"                       string (\\" \\\\ \\n \\t \\r \\xHH escapes; quote it for the shell)',
  "42                           count (0 to 2^64-1)",
  "-42, +42                     integer (-2^63 to 2^63-1)",
  "1.5, -2., .5, 1e3            real (a '.' or an exponent)",
  "5s, 100ms, -2.5min           timespan (units ns us ms s min h d)",
  "80/tcp, 53/udp, 8/icmp, 0/?  port",
  "10/8, 10.0.0.0/8, ::1/128    subnet (10/8 is 10.0.0.0/8)",
  "1.2.3.4, ::1, fe80::1        address",
  "anything else                string",
];

// Argument errors name no option: main prints them as `broker store: <message>`, exit 2.
function usage(message: string): never {
  throw new UsageError("", message);
}

// ------------------------------------------------------------------ typing

/** The units a timespan takes (CAF's, and `d` for days). */
export type DurationUnit = TimespanUnit;

const COUNT_RE = /^[0-9]+$/;
const INTEGER_RE = /^[-+][0-9]+$/;
const REAL_RE = /^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+|[0-9]+(?=[eE]))(?:[eE][-+]?[0-9]+)?$/;
const DURATION_RE = /^([-+]?)([0-9]+)(?:\.([0-9]+))?(ns|us|ms|s|min|h|d)$/;
const PORT_RE = /^([0-9]+)\/(tcp|udp|icmp|\?)$/;
const SUBNET_V4_RE = /^([0-9]+(?:\.[0-9]+){0,3})\/([0-9]+)$/;
const IPV4_RE = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$/;

/** A decimal with an optional fraction, scaled exactly to an integer of `unit`ths. */
function scaleDecimal(whole: string, fraction: string, unit: bigint, text: string): bigint {
  let scale = 1n;
  for (let i = 0; i < fraction.length; i++) scale *= 10n;
  const n = BigInt(whole) * unit * scale + BigInt(fraction || "0") * unit;
  if (n % scale !== 0n) usage(`${text}: finer than a nanosecond`);
  return n / scale;
}

/**
 * A duration with a unit (`5s`, `1.5ms`, `-2min`; units ns, us, ms, s, min,
 * h, d) in nanoseconds, exact; with `bareUnit`, a plain number counts in
 * that unit. Undefined when the text is not a duration.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseDurationNs } from "./store_command.ts";
 * equal(parseDurationNs("1.5s"), 1_500_000_000n);
 * equal(parseDurationNs("250", "ms"), 250_000_000n);
 * ```
 */
export function parseDurationNs(text: string, bareUnit?: DurationUnit): bigint | undefined {
  const m = DURATION_RE.exec(
    bareUnit && /^[-+]?[0-9]+(\.[0-9]+)?$/.test(text) ? text + bareUnit : text,
  );
  if (!m) return undefined;
  const ns = scaleDecimal(m[2], m[3] ?? "", NS_PER_TIMESPAN_UNIT[m[4] as DurationUnit], text);
  return inRange(m[1] === "-" ? -ns : ns, LIMITS.I64_MIN, LIMITS.I64_MAX, text, "timespan");
}

function inRange(n: bigint, lo: bigint, hi: bigint, text: string, what: string): bigint {
  if (n < lo || n > hi) usage(`${text}: out of range for a ${what} (${lo} to ${hi})`);
  return n;
}

/** `10/8`'s address part: one to four dotted numbers, padded with zeros. */
function ipv4Prefix(text: string, whole: string): Address {
  const parts = text.split(".").map(Number);
  if (parts.some((p) => p > 255)) usage(`${whole}: not an IPv4 address`);
  while (parts.length < 4) parts.push(0);
  return Address.parse(parts.join("."));
}

function makeSubnet(address: Address, length: string, text: string): Data {
  const max = address.isV4 ? 32 : 128;
  const n = Number(length);
  if (!/^[0-9]{1,3}$/.test(length) || n > max) {
    usage(`${text}: a prefix length is 0 to ${max}`);
  }
  return subnet(Subnet.of(address, n));
}

function tryAddress(text: string): Address | undefined {
  try {
    return Address.parse(text);
  } catch {
    return undefined;
  }
}

const ESCAPES: Readonly<Record<string, number>> = {
  '"': 0x22,
  "\\": 0x5c,
  n: 0x0a,
  t: 0x09,
  r: 0x0d,
};

/** The text between double quotes, escapes resolved (`\xHH` gives any byte). */
function unquote(text: string): Data {
  const inner = text.slice(1, -1);
  if (!/[\\"]/.test(inner)) return str(inner);
  const utf8 = new TextEncoder();
  const bytes: number[] = [];
  let raw = true; // no \x escape: the result is the text itself
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '"') usage(`${text}: a quote inside a string needs a backslash`);
    if (c !== "\\") {
      const cp = inner.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      bytes.push(...utf8.encode(ch));
      i += ch.length - 1;
      continue;
    }
    const e = inner[++i];
    // A backslash at the end escaped the closing quote: no string ends here.
    if (e === undefined) usage(`${text}: a string needs its closing quote`);
    if (e === "x") {
      if (!/^[0-9a-fA-F]{2}$/.test(inner.slice(i + 1, i + 3))) {
        usage(`${text}: \\x needs two hex digits (\\xHH)`);
      }
      bytes.push(parseInt(inner.slice(i + 1, i + 3), 16));
      i += 2;
      raw = false;
    } else if (e in ESCAPES) bytes.push(ESCAPES[e]);
    else usage(`${text}: unknown escape \\${e} (\\" \\\\ \\n \\t \\r \\xHH)`);
  }
  const b = new Uint8Array(bytes);
  return raw ? str(new TextDecoder().decode(b)) : str(b);
}

/**
 * Types one argument by `STORE_VALUE_RULES`: `nil`, `T`/`F`, `"quoted"`
 * strings, counts, integers, reals, timespans with units, ports, subnets,
 * addresses, else a string. Throws `UsageError` for text that looks
 * like a typed literal but does not fit (`70000/tcp`, `10/33`, `300.1.1.1`,
 * a count above 2^64-1).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseCliValue } from "./store_command.ts";
 * deepEqual(["1", "-1", "10/8"].map((t) => parseCliValue(t).type), ["count", "integer", "subnet"]);
 * deepEqual(parseCliValue('"1"'), { type: "string", value: "1" });
 * ```
 */
export function parseCliValue(text: string): Data {
  if (text === "nil") return none();
  if (text === "T" || text === "F") return bool(text === "T");
  if (text.startsWith('"')) {
    // Read as a string it would keep its opening quote: a typo, not a value.
    if (text.length < 2 || !text.endsWith('"')) usage(`${text}: a string needs its closing quote`);
    return unquote(text);
  }
  if (COUNT_RE.test(text)) return count(inRange(BigInt(text), 0n, LIMITS.U64_MAX, text, "count"));
  if (INTEGER_RE.test(text)) {
    return integer(inRange(BigInt(text), LIMITS.I64_MIN, LIMITS.I64_MAX, text, "integer"));
  }
  if (REAL_RE.test(text)) return parseReal(text);
  const span = parseDurationNs(text);
  if (span !== undefined) return timespan(span);
  let m = PORT_RE.exec(text);
  if (m) return makePort(m[1], m[2], text);
  m = SUBNET_V4_RE.exec(text);
  if (m) return makeSubnet(ipv4Prefix(m[1], text), m[2], text);
  const slash = text.lastIndexOf("/");
  if (slash > 0 && text.includes(":")) {
    const a = tryAddress(text.slice(0, slash));
    if (a && !a.isV4) return makeSubnet(a, text.slice(slash + 1), text);
  }
  if (IPV4_RE.test(text)) {
    const a = tryAddress(text);
    if (!a) usage(`${text}: not an IPv4 address`);
    return addr(a);
  }
  if (text.includes(":")) {
    const a = tryAddress(text);
    if (a) return addr(a);
  }
  return str(text);
}

function parseReal(text: string): Data {
  const x = Number(text);
  if (!Number.isFinite(x)) usage(`${text}: out of range for a real`);
  return real(x);
}

function makePort(num: string, proto: string, text: string): Data {
  const n = Number(num);
  if (!(n <= 65535)) usage(`${text}: a port number is 0 to 65535`);
  return { type: "port", value: new Port(n, proto === "?" ? "unknown" : proto as Protocol) };
}

const TIMESTAMP_RE =
  /^([0-9]{4}-[0-9]{2}-[0-9]{2})(?:[T ]([0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?:\.([0-9]{1,9}))?)?(Z|[-+][0-9]{2}:?[0-9]{2})?$/;

/** A timestamp: ISO 8601 (UTC unless a zone is given) or seconds since the epoch. */
function parseTimestamp(text: string): Data {
  const secs = /^([-+]?)([0-9]+)(?:\.([0-9]{1,9}))?$/.exec(text);
  if (secs) {
    const ns = scaleDecimal(secs[2], secs[3] ?? "", NS_PER_TIMESPAN_UNIT.s, text);
    return timestamp(
      inRange(secs[1] === "-" ? -ns : ns, LIMITS.I64_MIN, LIMITS.I64_MAX, text, "timestamp"),
    );
  }
  const m = TIMESTAMP_RE.exec(text);
  const ms = m && Date.parse(`${m[1]}T${m[2] ?? "00:00"}${m[4] ?? "Z"}`);
  if (!m || ms === null || Number.isNaN(ms)) {
    usage(
      `${text}: not a timestamp (ISO 8601, e.g. 2024-05-01T12:00:00.5Z, or seconds since the epoch)`,
    );
  }
  const ns = BigInt(ms) * 1_000_000n + BigInt((m[3] ?? "").padEnd(9, "0"));
  return timestamp(inRange(ns, LIMITS.I64_MIN, LIMITS.I64_MAX, text, "timestamp"));
}

/**
 * Reads `text` as the given type (`--type`): the text must parse as that
 * type, else `UsageError` saying what the type takes. `string` takes
 * the text as it is (no quotes removed); `port` also takes a bare number as
 * TCP, as Broker's own conversion does; `timestamp` takes ISO 8601 or
 * seconds since the epoch; `bool` takes T/F/true/false.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseTypedValue } from "./store_command.ts";
 * deepEqual(parseTypedValue("42", "string"), { type: "string", value: "42" });
 * ```
 */
export function parseTypedValue(text: string, type: ValueType): Data {
  const not = (what: string): never => usage(`${JSON.stringify(text)} is not ${what}`);
  switch (type) {
    case "string":
      return str(text);
    case "enum":
      return text === "" ? not("an enum (a name)") : enumValue(text);
    case "bool":
      if (text === "T" || text === "true") return bool(true);
      if (text === "F" || text === "false") return bool(false);
      return not("a bool (T, F, true, false)");
    case "count":
      if (!COUNT_RE.test(text)) not("a count (0 to 2^64-1)");
      return count(inRange(BigInt(text), 0n, LIMITS.U64_MAX, text, "count"));
    case "integer":
      if (!/^[-+]?[0-9]+$/.test(text)) not("an integer (-2^63 to 2^63-1)");
      return integer(inRange(BigInt(text), LIMITS.I64_MIN, LIMITS.I64_MAX, text, "integer"));
    case "real":
      if (text === "inf" || text === "-inf" || text === "nan") {
        return real(text === "nan" ? NaN : text === "inf" ? Infinity : -Infinity);
      }
      if (!REAL_RE.test(text) && !/^[-+]?[0-9]+$/.test(text)) {
        not("a real (e.g. 1.5, 2, 1e-3, inf, nan)");
      }
      return parseReal(text);
    case "timespan": {
      const ns = parseDurationNs(text);
      return ns === undefined
        ? not("a timespan (a number with a unit: ns us ms s min h d)")
        : timespan(ns);
    }
    case "timestamp":
      return parseTimestamp(text);
    case "port": {
      const m = PORT_RE.exec(text) ?? /^([0-9]+)$/.exec(text);
      return m ? makePort(m[1], m[2] ?? "tcp", text) : not("a port (80/tcp, 53/udp, 8/icmp, 0/?)");
    }
    case "address": {
      const a = tryAddress(text);
      return a ? addr(a) : not("an address (1.2.3.4, ::1)");
    }
    case "subnet": {
      const m = SUBNET_V4_RE.exec(text);
      if (m) return makeSubnet(ipv4Prefix(m[1], text), m[2], text);
      const slash = text.lastIndexOf("/");
      const a = slash > 0 ? tryAddress(text.slice(0, slash)) : undefined;
      return a
        ? makeSubnet(a, text.slice(slash + 1), text)
        : not("a subnet (10/8, 10.0.0.0/8, ::1/128)");
    }
  }
}

function checkType(type: string | undefined, option: string): ValueType | undefined {
  if (type === undefined) return undefined;
  if (!(VALUE_TYPES as readonly string[]).includes(type)) {
    throw new UsageError(
      option,
      `expected one of ${VALUE_TYPES.join(", ")}, got ${JSON.stringify(type)}`,
    );
  }
  return type as ValueType;
}

// ------------------------------------------------------------------ printing

// Separators of the printed forms, quotes, backslashes and control characters.
// deno-lint-ignore no-control-regex
const NEEDS_QUOTES = /[\s",(){}\\\x00-\x1f\x7f]|->/;

function quote(bytes: Uint8Array | undefined, text: string): string {
  let out = '"';
  if (bytes) {
    // Not UTF-8: printable ASCII as is, every other byte as \xHH.
    for (const b of bytes) {
      if (b === 0x22 || b === 0x5c) out += "\\" + String.fromCharCode(b);
      else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
      else out += "\\x" + b.toString(16).padStart(2, "0");
    }
    return out + '"';
  }
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    if (ch === '"' || ch === "\\") out += "\\" + ch;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\t") out += "\\t";
    else if (ch === "\r") out += "\\r";
    else if (c < 0x20 || c === 0x7f) out += "\\x" + c.toString(16).padStart(2, "0");
    else out += ch;
  }
  return out + '"';
}

function readsBackAsString(text: string): boolean {
  try {
    return parseCliValue(text).type === "string";
  } catch {
    return false;
  }
}

function formatReal(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (Object.is(x, -0)) return "-0.0";
  const s = String(x);
  return /[.e]/.test(s) ? s : s + ".0";
}

function formatDuration(ns: bigint): string {
  for (const unit of ["d", "h", "min", "s", "ms", "us"] as const) {
    if (ns !== 0n && ns % NS_PER_TIMESPAN_UNIT[unit] === 0n) {
      return `${ns / NS_PER_TIMESPAN_UNIT[unit]}${unit}`;
    }
  }
  return `${ns}ns`;
}

function formatTimestamp(ns: bigint): string {
  const s = ns / NS_PER_TIMESPAN_UNIT.s - (ns % NS_PER_TIMESPAN_UNIT.s < 0n ? 1n : 0n);
  const frac = ns - s * NS_PER_TIMESPAN_UNIT.s;
  const iso = new Date(Number(s) * 1000).toISOString().replace(".000Z", "");
  return `${iso}${frac === 0n ? "" : "." + frac.toString().padStart(9, "0").replace(/0+$/, "")}Z`;
}

/**
 * A value in the syntax `parseCliValue` reads, so that what `get` prints
 * reads back as the same value: integers carry their sign (`+5`), reals a
 * `.` or an exponent, timespans a unit, strings quotes when they would
 * otherwise read as another type or hold spaces or separators. Timestamps
 * print as ISO 8601 (read back with `--type timestamp`), enums as their
 * name (`--type enum`); containers as Broker's text form does, `(a, b)`
 * for vectors, `{a, b}` for sets, `{k -> v}` for tables.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatCliValue } from "./store_command.ts";
 * import { count, integer, str, vector } from "../mod.ts";
 * equal(formatCliValue(vector(count(2n), integer(2n), str("2"), str("x"))), '(2, +2, "2", x)');
 * ```
 */
export function formatCliValue(v: Data): string {
  switch (v.type) {
    case "none":
      return "nil";
    case "boolean":
      return v.value ? "T" : "F";
    case "count":
      return v.value.toString();
    case "integer":
      return (v.value >= 0n ? "+" : "") + v.value.toString();
    case "real":
      return formatReal(v.value);
    case "string":
      return v.bytes || v.value === "" || NEEDS_QUOTES.test(v.value) ||
          !readsBackAsString(v.value)
        ? quote(v.bytes, v.value)
        : v.value;
    case "enum":
      return v.value;
    case "address":
    case "subnet":
    case "port":
      return v.value.toString();
    case "timespan":
      return formatDuration(v.value);
    case "timestamp":
      return formatTimestamp(v.value);
    case "vector":
      return `(${v.value.map(formatCliValue).join(", ")})`;
    case "set":
      return `{${v.value.map(formatCliValue).join(", ")}}`;
    case "table":
      return `{${
        v.value.map(([k, x]) => `${formatCliValue(k)} -> ${formatCliValue(x)}`).join(", ")
      }}`;
  }
}

/** How `get`, `keys`, `watch` and friends print: Broker's JSON or the CLI's text form. */
export interface StoreOutputOptions {
  /**
   * Broker's JSON (`dataToJson`) instead of the text form `formatCliValue` writes.
   * @default false
   */
  json?: boolean;
}

/**
 * Prints a value the way the chosen output form wants it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatStoreValue } from "./store_command.ts";
 * import { count } from "../mod.ts";
 * equal(formatStoreValue(count(1n)), "1");
 * equal(formatStoreValue(count(1n), { json: true }), '{"@data-type":"count","data":1}');
 * ```
 */
export function formatStoreValue(v: Data, options: StoreOutputOptions = {}): string {
  return options.json ? dataToJson(v) : formatCliValue(v);
}

/**
 * One store event as `watch` prints it: `insert KEY VALUE`, `update KEY OLD
 * -> NEW`, `erase KEY`, `expire KEY` (an expiry the write gave follows as
 * `expiry=5s`), or with `json` Broker's JSON of the event as Broker
 * publishes it on `<$>/local/data/store-events` (`storeEventToData`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatStoreEvent } from "./store_command.ts";
 * import { count, str } from "../mod.ts";
 * import { NIL_ENTITY } from "../engine/store/entity.ts";
 * const e = { type: "update", store: "kv", key: str("n"), oldValue: count(1n),
 *   newValue: count(2n), expiry: null, publisher: NIL_ENTITY } as const;
 * equal(formatStoreEvent(e), "update n 1 -> 2");
 * ```
 */
export function formatStoreEvent(e: StoreEvent, options: StoreOutputOptions = {}): string {
  if (options.json) return dataToJson(storeEventToData(e));
  const k = formatCliValue(e.key);
  const exp = (x: bigint | null) => x === null ? "" : ` expiry=${formatDuration(x)}`;
  switch (e.type) {
    case "insert":
      return `insert ${k} ${formatCliValue(e.value)}${exp(e.expiry)}`;
    case "update":
      return `update ${k} ${formatCliValue(e.oldValue)} -> ${formatCliValue(e.newValue)}${
        exp(e.expiry)
      }`;
    case "erase":
    case "expire":
      return `${e.type} ${k}`;
  }
}

// ------------------------------------------------------------------ requests

/** One parsed command line: the operation, its key and the values after it. */
export interface StoreRequest {
  /** One of `STORE_OPERATIONS`. */
  readonly op: string;
  /** The key (absent for `keys`, `clear`, and `watch` without one). */
  readonly key?: Data;
  /** The arguments after the key, typed. */
  readonly values: readonly Data[];
}

/** How arguments are read: `--json`, `--type`, `--key-type`. */
export interface ArgTyping {
  /** Every argument is Broker's JSON. */
  json?: boolean;
  /** The type of every argument after the key. */
  type?: string;
  /** The type of the key. */
  keyType?: string;
}

/**
 * Checks and types the arguments of one operation; throws `UsageError`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseStoreRequest } from "./store_command.ts";
 * const r = parseStoreRequest("increment", ["ctr", "2"]);
 * deepEqual(r.key, { type: "string", value: "ctr" });
 * deepEqual(r.values, [{ type: "count", value: 2n }]);
 * ```
 */
export function parseStoreRequest(
  op: string,
  args: string[],
  typing: ArgTyping = {},
): StoreRequest {
  const arity = STORE_OPERATIONS[op];
  if (!arity) {
    usage(`unknown operation '${op}' (one of ${Object.keys(STORE_OPERATIONS).join(", ")})`);
  }
  if (args.length < arity[0] || args.length > arity[1]) {
    const n = arity[0] === arity[1] ? `${arity[0]}` : `${arity[0]} to ${arity[1]}`;
    usage(`'${op}' takes ${n} argument(s) after the store name, got ${args.length}`);
  }
  const type = checkType(typing.type, "--type");
  const keyType = checkType(typing.keyType, "--key-type");
  if (typing.json && (type || keyType)) usage("--json and --type/--key-type exclude each other");
  const hasKey = arity[1] > 0;
  if (type && arity[1] < 2) {
    usage(`--type types the values after the key; '${op}' takes none (--key-type types the key)`);
  }
  if (keyType && !hasKey) usage(`'${op}' takes no key for --key-type to type`);
  const read = (text: string, t: ValueType | undefined, option: string): Data => {
    if (typing.json) {
      try {
        return dataFromJson(text);
      } catch (e) {
        return usage(`not Broker's JSON: ${text} (${(e as Error).message})`);
      }
    }
    if (!t) return parseCliValue(text);
    try {
      return parseTypedValue(text, t);
    } catch (e) {
      // Name the option that asked for the type.
      if (e instanceof UsageError) throw new UsageError(option, e.message);
      throw e;
    }
  };
  const [key, ...rest] = args;
  return {
    op,
    key: hasKey && key !== undefined ? read(key, keyType, "--key-type") : undefined,
    // append's operand is text (Zeek's Broker::append takes a string): `append k 5` adds "5".
    values: rest.map((a) => read(a, type ?? (op === "append" ? "string" : undefined), "--type")),
  };
}

/** Options of one run (the parsed command-line options). */
export interface StoreRunOptions extends StoreOutputOptions {
  /** Relative expiry of the write, in nanoseconds. */
  expiryNs?: bigint;
  /**
   * How long to wait for the master to acknowledge a write (ms).
   * @default 10_000 (`DEFAULT_STORE_TIMEOUT_MS`)
   */
  timeoutMs?: number;
}

/** How long `broker store` waits for the master by default, in ms (its clone's reads and writes). */
export const DEFAULT_STORE_TIMEOUT_MS = 10_000;

const name = (key: Data) => formatCliValue(key);

/** The value under key in the clone's copy, or undefined. */
async function current(s: Store, key: Data): Promise<Data | undefined> {
  try {
    return await s.get(key);
  } catch (e) {
    if (e instanceof BrokerError && e.code === ErrorCode.no_such_key) return undefined;
    throw e;
  }
}

/** The writer command a `Store` call sends for this request (for the error name). */
function commandFor(r: StoreRequest, expiry: bigint | null): ActionCommand {
  const key = r.key!;
  const [a, b] = r.values;
  const p = NIL_ENTITY;
  switch (r.op) {
    case "put":
      return { type: "put", key, value: a, expiry, publisher: p };
    case "erase":
      return { type: "erase", key, publisher: p };
    case "increment": {
      const amount = a ?? count(1n);
      return {
        type: "add",
        key,
        value: amount,
        initType: incrementInitType(amount),
        expiry,
        publisher: p,
      };
    }
    case "decrement":
      return { type: "subtract", key, value: a ?? count(1n), expiry, publisher: p };
    case "insert":
      return b === undefined
        ? { type: "add", key, value: a, initType: "set", expiry, publisher: p }
        : {
          type: "add",
          key,
          value: { type: "vector", value: [a, b] },
          initType: "table",
          expiry,
          publisher: p,
        };
    case "push":
      return { type: "add", key, value: a, initType: "vector", expiry, publisher: p };
    case "append":
      return { type: "add", key, value: a, initType: "string", expiry, publisher: p };
    case "remove":
      return { type: "subtract", key, value: a, expiry, publisher: p };
    default: // pop
      return { type: "subtract", key, value: key, expiry, publisher: p };
  }
}

/**
 * What Broker's master would answer to `cmd` on a key holding `value`: the
 * error it would drop the write with, or undefined when it would apply it.
 */
function brokerVerdict(cmd: ActionCommand, value: Data | undefined): BrokerError | undefined {
  const b = new MemoryBackend();
  if (value !== undefined && "key" in cmd) b.put(cmd.key, value);
  return applyCommand(b, cmd, 0n, NIL_ENTITY).error;
}

/**
 * The CLI's own checks of a container operation against the clone's copy,
 * before sending: Broker's master applies `push` onto a set as an insert,
 * `remove` from a vector as a pop, `push 1` onto a count as an addition, so
 * an operation on the wrong container would change the value in another way
 * than asked; and removing what is not there changes nothing. Both are
 * refused here.
 */
function precheck(r: StoreRequest, value: Data | undefined): void {
  const k = name(r.key!);
  const refuse = (code: ErrorCode, why: string): never => {
    throw new BrokerError(code, `${r.op} ${k}: ${why} (not sent)`);
  };
  const want = (...types: string[]) => {
    if (value !== undefined && !types.includes(value.type)) {
      refuse(
        ErrorCode.type_clash,
        `${k} holds a ${value.type}, '${r.op}' works on a ${types.join(" or ")}`,
      );
    }
  };
  switch (r.op) {
    case "insert":
      want(r.values.length === 2 ? "table" : "set");
      return;
    case "push":
      want("vector");
      return;
    case "append":
      // Broker's master would insert the text into a set or push it onto a vector.
      want("string");
      return;
    case "remove": {
      want("set", "table");
      if (value?.type === "set" || value?.type === "table") {
        const el = r.values[0];
        const there = value.type === "set"
          ? value.value.some((x) => compare(x, el) === 0)
          : value.value.some(([x]) => compare(x, el) === 0);
        if (!there) {
          refuse(ErrorCode.no_such_key, `${formatCliValue(el)} is not in ${k}'s ${value.type}`);
        }
      }
      return;
    }
    case "pop":
      want("vector");
      if (value?.type === "vector" && value.value.length === 0) {
        refuse(ErrorCode.no_such_key, `${k}'s vector is empty`);
      }
      return;
  }
}

/** Sends the write the request asks for through the store handle. */
function send(s: Store, r: StoreRequest, expiry: bigint | undefined): Promise<unknown> {
  const key = r.key!;
  const [a, b] = r.values;
  const w = expiry === undefined ? {} : { expiry };
  switch (r.op) {
    case "put":
      return s.put(key, a, w);
    case "erase":
      return s.erase(key);
    case "clear":
      return s.clear();
    case "increment":
      return s.increment(key, a ?? count(1n), w);
    case "decrement":
      return s.decrement(key, a ?? count(1n), w);
    case "insert":
      return s.insertInto(key, a, b, w);
    case "remove":
      return s.removeFrom(key, a, w);
    case "push":
      return s.push(key, a, w);
    case "append":
      return s.append(key, a, w);
    default:
      return s.pop(key, w);
  }
}

/**
 * Runs one operation (not `watch`) on a store handle and returns the lines
 * to print. Writes are confirmed through the store's events (see the
 * module's documentation); a write the master did not apply throws
 * `BrokerError` with Broker's error code (`type_clash`, `no_such_key`, ...),
 * or `request_timeout` when the master did not acknowledge it in time.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseStoreRequest, runStoreOperation } from "./store_command.ts";
 * import { count, Endpoint, str } from "../mod.ts";
 * const ep = new Endpoint();
 * const store = ep.attachMaster("kv");
 * await store.put(str("key"), count(1n));
 * deepEqual(await runStoreOperation(store, parseStoreRequest("get", ["key"])), ["1"]);
 * store.close();
 * await ep.shutdown();
 * ```
 */
export async function runStoreOperation(
  s: Store,
  r: StoreRequest,
  opts: StoreRunOptions = {},
): Promise<string[]> {
  const json = !!opts.json;
  const timeoutMs = opts.timeoutMs ?? DEFAULT_STORE_TIMEOUT_MS;
  switch (r.op) {
    case "get":
      return [formatStoreValue(await s.get(r.key!), { json })];
    case "exists":
      return [(await s.exists(r.key!)) ? "T" : "F"];
    case "keys":
      return (await s.keys()).map((k) => formatStoreValue(k, { json }));
    case "put-unique":
      // The master answers this one itself.
      return [(await s.putUnique(r.key!, r.values[0], { expiry: opts.expiryNs })) ? "T" : "F"];
    case "clear": {
      await s.keys(); // attached: the master's clear reaches this clone too
      await s.clear();
      if (!(await s.awaitIdle(timeoutMs))) throw unacked(timeoutMs);
      return [];
    }
  }
  const key = r.key!;
  // Reading first waits for the master's snapshot: from then on this clone
  // gets every change the master broadcasts, this write's included.
  const before = await current(s, key);
  precheck(r, before);
  const events = s.events({ capacity: 1 << 16 });
  try {
    await send(s, r, opts.expiryNs);
    const isMine = (e: StoreEvent) =>
      entityEquals(e.publisher, s.id) && compare(e.key, key) === 0 &&
      (r.op === "erase" ? e.type === "erase" : e.type === "insert" || e.type === "update");
    // The broadcast settles the write as it comes. Only without one is the
    // master's ack waited for: it comes with the channel's periodic ack, up
    // to half a second later, and then says the write was dropped.
    const idle = s.awaitIdle(timeoutMs);
    // The broadcast, if any, came before the ack: once idle, stop waiting for it.
    const stop = () => events.close();
    idle.then(stop, stop);
    let last: StoreEvent | undefined;
    for (let e = await events.get(); e !== undefined; e = await events.get()) {
      if (isMine(e)) {
        last = e;
        break;
      }
    }
    if (last) {
      if (!PRINTS_RESULT.has(r.op)) return [];
      return [
        formatStoreValue(
          last.type === "insert" ? last.value : last.type === "update" ? last.newValue : none(),
          { json },
        ),
      ];
    }
    if (!(await idle)) throw unacked(timeoutMs);
    // The master acked the write and broadcast nothing for it: it dropped it.
    // Broker's rules on the value it held (as this clone has it now, or had
    // it before) name the reason.
    const cmd = commandFor(r, opts.expiryNs ?? null);
    const now = await current(s, key);
    const why = brokerVerdict(cmd, now) ?? brokerVerdict(cmd, before);
    if (why && cmd.type === "add" && cmd.initType === "none" && now === undefined) {
      throw new BrokerError(
        why.code,
        `${r.op} ${name(key)}: no such key, and Broker starts a missing key only from a ` +
          `count, integer, real or timespan amount, not a ${cmd.value.type}; the master did not apply it`,
      );
    }
    if (why) {
      throw new BrokerError(
        why.code,
        `${r.op} ${name(key)}: ${why.message}; the master did not apply it`,
      );
    }
    throw new BrokerError(
      ErrorCode.unspecified,
      `${r.op} ${name(key)}: the master acknowledged the write but broadcast no change from it`,
    );
  } finally {
    events.close();
  }
}

function unacked(ms: number): BrokerError {
  return new BrokerError(
    ErrorCode.request_timeout,
    `the master did not acknowledge the write within ${ms} ms; it may or may not apply it`,
  );
}

/** What `watch` needs besides the store. */
export interface WatchOptions extends StoreOutputOptions {
  /** Only events for this key. */
  key?: Data;
  /** Stop after this many events. */
  count?: number;
  /** Where lines go. */
  say(line: string): void;
  /** Ends the watch early (e.g. on SIGINT). */
  signal?: AbortSignal;
  /** Called once the watch is subscribed: later changes will all be printed. */
  onReady?(keys: number): void;
}

/**
 * Streams the store's events, one line each (`formatStoreEvent`), from the
 * moment the clone has the master's snapshot, until `count` events, the
 * signal, or the store's end. Resolves how many were printed.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { watchStore } from "./store_command.ts";
 * import { count, Endpoint, str } from "../mod.ts";
 * const ep = new Endpoint();
 * const store = ep.attachMaster("kv");
 * const lines: string[] = [];
 * const printed = await watchStore(store, {
 *   count: 1,
 *   say: (line) => lines.push(line),
 *   onReady: () => void store.put(str("a"), count(1n)),
 * });
 * equal(printed, 1);
 * deepEqual(lines, ["insert a 1"]);
 * store.close();
 * await ep.shutdown();
 * ```
 */
export async function watchStore(s: Store, opts: WatchOptions): Promise<number> {
  const keys = await s.keys(); // the snapshot is in: only changes after it stream
  const q = s.events({ capacity: 1 << 16 });
  opts.onReady?.(keys.length);
  const stop = () => q.close();
  opts.signal?.addEventListener("abort", stop);
  let n = 0;
  try {
    if (opts.signal?.aborted) return 0;
    for await (const e of q) {
      if (opts.key && compare(e.key, opts.key) !== 0) continue;
      opts.say(formatStoreEvent(e, { json: opts.json }));
      if (opts.count !== undefined && ++n >= opts.count) break;
    }
    return n;
  } finally {
    opts.signal?.removeEventListener("abort", stop);
    q.close();
  }
}

// ------------------------------------------------------------------ command

/** Options of `broker store` as commander hands them over. */
export interface StoreCliValues extends SslCliValues {
  /** `--peers`, as given. */
  peers?: string;
  /** `--json`, as given. */
  json?: boolean;
  /** `--type`, as given. */
  type?: string;
  /** `--key-type`, as given. */
  keyType?: string;
  /** `--expiry`, as given. */
  expiry?: string;
  /** `--timeout`, as given. */
  timeout?: string;
  /** `--count`, as given. */
  count?: string;
}

/** A checked command line, ready to run. */
interface StorePlan {
  request: StoreRequest;
  peers: HostPort[];
  expiryNs?: bigint;
  timeoutMs: number;
  count?: number;
}

/** Checks everything the command line says before anything runs. */
function planStore(op: string, args: string[], cli: StoreCliValues): StorePlan {
  const request = parseStoreRequest(op, args, cli);
  let expiryNs: bigint | undefined;
  if (cli.expiry !== undefined) {
    if (!EXPIRING_WRITES.has(op)) {
      throw new UsageError("--expiry", `applies to ${[...EXPIRING_WRITES].join(", ")}, not ${op}`);
    }
    // A duration in ms (fractions of one for us and ns), exact to the nanosecond.
    expiryNs = BigInt(Math.round(parseDuration(cli.expiry, "--expiry") * 1e6));
  }
  const timeoutMs = cli.timeout === undefined
    ? DEFAULT_STORE_TIMEOUT_MS
    : Math.max(1, parseDuration(cli.timeout, "--timeout", { allowZero: false }));
  let n: number | undefined;
  if (cli.count !== undefined) {
    if (op !== "watch") throw new UsageError("--count", "applies to watch only");
    n = parsePositiveCount(cli.count, "--count");
  }
  const peers = cli.peers === undefined ? [] : parsePeerList(cli.peers, "--peers");
  if (peers.length === 0) {
    throw new UsageError(
      "--peers",
      "no peers given: a clone needs a master to reach (-p host:port)",
    );
  }
  return { request, peers, expiryNs, timeoutMs, count: n };
}

const HELP = `
Operations (KEY and values typed as below):
  get KEY | exists KEY | keys        read the clone's copy of the master's table
  put KEY VALUE | put-unique KEY VALUE   put-unique prints T if it inserted, F if KEY existed
  erase KEY | clear
  increment KEY [AMOUNT] | decrement KEY [AMOUNT]   AMOUNT defaults to 1 (a count)
  insert KEY ELEMENT | insert KEY INDEX VALUE       into a set | a table
  remove KEY ELEMENT | push KEY VALUE | pop KEY     set or table | vector | vector
  append KEY TEXT                    onto a string (a missing key starts empty), Broker::append
  watch [KEY]                        stream insert/update/erase/expire events until ^C or --count

Values (first matching rule wins; --type forces one, --json reads Broker's JSON):
${STORE_VALUE_RULES.map((r) => "  " + r).join("\n")}
  Containers only as --json. Results print in the same syntax (integers with a sign,
  strings quoted when they would read as something else), timestamps in ISO 8601.

Writes are confirmed: the master broadcasts what it applied; when it drops a write the
command says why with Broker's error name (type_clash, no_such_key, ...) and exits 1.
increment, decrement, insert, remove, push, pop and append print the key's new value.
insert/remove/push/pop/append on the wrong type and remove/pop of nothing are refused
before sending (type_clash, no_such_key). As in Broker, a write without --expiry removes
an expiry the key had; one with --expiry restarts the clock.

Exit codes: 0 ok, 1 the operation failed, 2 usage error.

Examples:
  broker store kv increment ctr -p 127.0.0.1:9999      # 1, then 2, ...
  broker store kv put host 10.0.0.1 --expiry 5min -p 127.0.0.1:9999
  broker store kv put name '"42"' -p 127.0.0.1:9999     # the string 42
  broker store kv put n 42 --type real -p 127.0.0.1:9999
  broker store kv watch -p 127.0.0.1:9999
`;

/** Registers `broker store`. */
export function registerStoreCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("store")
    .description(
      `one operation on a data store through a clone, or watch its events: ${
        Object.keys(STORE_OPERATIONS).join(", ")
      }`,
    )
    .argument("<name>", "the store's name")
    .argument("<operation>", "what to do")
    .argument("[args...]", "the key, then values (typed as below)")
    .option(
      "-p, --peers <list>",
      "where the master is reachable: host:port, <tcp://host:port>, or a list of them",
    )
    .option("--json", "read arguments and print results (and events) in Broker's JSON")
    .option("--type <type>", `type of the values after the key: ${VALUE_TYPES.join(", ")}`)
    .option("--key-type <type>", "type of the key (same types)")
    .option(
      "--expiry <duration>",
      "expiry of the written key (5s, 500ms, 10min; a bare number is seconds)",
    )
    .option(
      "--timeout <duration>",
      "how long to wait for the master (a bare number is seconds; default: 10s)",
    )
    .option("--count <n>", "watch: stop after n events")
    .option("--disable-ssl", DISABLE_SSL_HELP)
    .addHelpText("after", HELP);
  addSslOptions(command)
    .action(async (store: string, op: string, args: string[], cli: StoreCliValues) => {
      const enc = new TextEncoder();
      const say = (l: string) => Deno.stdout.writeSync(enc.encode(l + "\n"));
      const fail = (m: string) => {
        Deno.stderr.writeSync(enc.encode(`broker store: ${m}\n`));
        setExitCode(1);
      };
      // A UsageError thrown here reaches main: one line and exit code 2, before any peering.
      if (store === "") {
        throw new UsageError("<name>", 'a store needs a name (as --master-stores refuses "")');
      }
      const plan = planStore(op, args, cli);
      let ep: Endpoint;
      try {
        // One-shot (or a quiet watcher): warming the hot paths for traffic would only add start-up time.
        ep = new Endpoint({ ...endpointSslOptions(cli), warmUp: false });
      } catch (e) {
        throw new UsageError("", (e as Error).message);
      }
      const abort = new AbortController();
      const signals: Deno.Signal[] = Deno.build.os === "windows"
        ? ["SIGINT"]
        : ["SIGINT", "SIGTERM"];
      const onSignal = () => abort.abort();
      try {
        for (const p of plan.peers) await ep.peer(p.host, p.port, { retryMs: 0 });
        const s = ep.attachClone(store, {
          requestTimeoutMs: plan.timeoutMs,
          maxGetDelayMs: plan.timeoutMs,
        });
        if (op === "watch") {
          for (const sig of signals) Deno.addSignalListener(sig, onSignal);
          await watchStore(s, {
            key: plan.request.key,
            json: !!cli.json,
            count: plan.count,
            say,
            signal: abort.signal,
            // On stderr, so stdout holds events only; scripts can wait for it.
            onReady: (n) => Deno.stderr.writeSync(enc.encode(`watching ${store} (${n} keys)\n`)),
          });
        } else {
          const lines = await runStoreOperation(s, plan.request, {
            json: !!cli.json,
            expiryNs: plan.expiryNs,
            timeoutMs: plan.timeoutMs,
          });
          for (const l of lines) say(l);
        }
        s.close();
        setExitCode(0);
      } catch (e) {
        fail(
          e instanceof BrokerError
            ? `${e.codeName}: ${e.message}`
            : String((e as Error).message ?? e),
        );
      } finally {
        for (const sig of signals) {
          try {
            Deno.removeSignalListener(sig, onSignal);
          } catch { /* never added */ }
        }
        await ep.shutdown();
      }
    });
}
