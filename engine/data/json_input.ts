/**
 * What both readers of Broker's JSON share (`json_read.ts`, the full one,
 * and `json_transcode.ts`, which writes binary as it reads): the text as
 * UTF-8 in a reused buffer, and the values whose JSON data is text in a form
 * of their own (addresses, subnets, ports, timestamps, timespans) read from
 * that text, with the full reader's errors.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { NS_PER_TIMESPAN_UNIT } from "./timespan_units.ts";
import { Address, type Data, LIMITS, Port, Subnet } from "./types.ts";
import { cafAddress } from "./caf_address.ts";

const utf8Enc = new TextEncoder();

/** Throws the readers' `type_clash` error: the JSON is fine, the value is not of its type. */
export function clash(what: string): never {
  throw new BrokerError(ErrorCode.type_clash, what);
}

const TS_RE =
  /^(\d+)-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d\d)(?::?(\d\d))?)?$/;

/** An IPv4 address in Broker's form (`a.b.c.d`, no leading zeros) as a word, or -1. */
function dottedQuad(s: string): number {
  let w = 0, parts = 0, i = 0;
  while (parts < 4) {
    const from = i;
    let v = 0;
    while (i < s.length && i - from < 3) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) break;
      v = v * 10 + c - 0x30;
      i++;
    }
    if (i === from || v > 255 || (s.charCodeAt(from) === 0x30 && i - from > 1)) return -1;
    w = w * 256 + v;
    if (++parts < 4) {
      if (s.charCodeAt(i) !== 0x2e) return -1;
      i++;
    }
  }
  return i === s.length ? w : -1;
}

const QUICK_PROTOCOLS: Record<string, "tcp" | "udp" | "icmp" | "unknown"> = {
  tcp: "tcp",
  udp: "udp",
  icmp: "icmp",
  "?": "unknown",
};

/** Broker's port text (`80/tcp`, `0/?`) without the regex; undefined for anything else. */
function quickPort(s: string): Port | undefined {
  const slash = s.indexOf("/");
  if (slash < 1 || slash > 5) return undefined;
  let n = 0;
  for (let i = 0; i < slash; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return undefined;
    n = n * 10 + c - 0x30;
  }
  const proto = QUICK_PROTOCOLS[s.slice(slash + 1)];
  if (proto === undefined || n > 65535 || !Object.hasOwn(QUICK_PROTOCOLS, s.slice(slash + 1))) {
    return undefined;
  }
  return new Port(n, proto);
}

/** Broker's own timestamp text, `YYYY-MM-DDTHH:MM:SS.mmm` (UTC), to ns; undefined for other forms. */
function quickTimestamp(s: string): bigint | undefined {
  const ms = quickTimestampMs(s);
  if (ms === undefined) return undefined;
  // Years 0..9999 in ms stay below 2^53, and in ns within int64 up to 2262.
  const ns = BigInt(ms) * 1_000_000n;
  return ns < LIMITS.I64_MIN || ns > LIMITS.I64_MAX ? undefined : ns;
}

/**
 * Broker's own timestamp text, `YYYY-MM-DDTHH:MM:SS.mmm` (UTC), to
 * milliseconds since the epoch (a safe integer); undefined for other forms.
 * Unlike a timestamp's range, its years go up to 9999.
 *
 * @example
 * ```ts
 * import { quickTimestampMs } from "./json_input.ts";
 * if (quickTimestampMs("1970-01-02T00:00:00.001") !== 86_400_001) throw new Error("ms");
 * if (quickTimestampMs("1970-01-02 00:00:00") !== undefined) throw new Error("not Broker's form");
 * ```
 */
export function quickTimestampMs(s: string): number | undefined {
  if (s.length !== 23) return undefined;
  let ok = true;
  const num = (from: number, to: number) => {
    let v = 0;
    for (let i = from; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c < 0x30 || c > 0x39) ok = false;
      v = v * 10 + c - 0x30;
    }
    return v;
  };
  const year = num(0, 4), month = num(5, 7), day = num(8, 10);
  const hour = num(11, 13), minute = num(14, 16), second = num(17, 19), ms = num(20, 23);
  if (
    !ok || s[4] !== "-" || s[7] !== "-" || s[10] !== "T" || s[13] !== ":" || s[16] !== ":" ||
    s[19] !== "."
  ) return undefined;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = month === 2 && leap ? 29 : MONTH_DAYS[month - 1];
  if (month < 1 || month > 12 || day < 1 || day > monthDays || hour > 23 || minute > 59) {
    return undefined;
  }
  if (second > 59) return undefined;
  const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second;
  return secs * 1000 + ms;
}

/**
 * The largest decimal exponent CAF's number reader takes: its
 * `read_floating_point` refuses a real whose exponent, less the count of
 * its fraction's digits, is beyond ±511 (`pec::exponent_overflow`,
 * `exponent_underflow`: broker-node answers `1.5e999` so), and scales
 * the others, `1e400` to inf, `1e-400` to 0.
 */
export const CAF_MAX_EXPONENT = 511;

const utf8Dec = new TextDecoder();

/** Whether the fraction and exponent at `p..to` (after the integer part) are within CAF's ±511. */
function cafExponentInRange(b: Uint8Array, p: number, to: number): boolean {
  let exp = 0;
  if (b[p] === 0x2e) { for (p++; p < to && b[p] >= 0x30 && b[p] <= 0x39; p++) exp--; }
  if (b[p] === 0x65 || b[p] === 0x45) {
    const minus = b[++p] === 0x2d;
    if (minus || b[p] === 0x2b) p++;
    let e = 0;
    for (; p < to && e <= 2 ** 31; p++) e = e * 10 + (b[p] - 0x30);
    exp += minus ? -e : e;
  }
  return exp >= -CAF_MAX_EXPONENT && exp <= CAF_MAX_EXPONENT;
}

/** CAF's powers of ten for scaling a real: 10^(2^i). */
const CAF_POWERS = [1e1, 1e2, 1e4, 1e8, 1e16, 1e32, 1e64, 1e128, 1e256];
const U64_MAX = (1n << 64n) - 1n;

/** `x` times 10^`exp` as CAF's `read_floating_point` scales it: by `CAF_POWERS`, each step rounded. */
function cafScale(x: number, exp: number): number {
  if (exp < 0) {
    for (let n = -exp, i = 0; n !== 0; n >>= 1, i++) if (n & 1) x /= CAF_POWERS[i];
  } else {
    for (let n = exp, i = 0; n !== 0; n >>= 1, i++) if (n & 1) x *= CAF_POWERS[i];
  }
  return x;
}

/**
 * A JSON number with a fraction or an exponent, its text at `from..to` of
 * `b` (an optional minus, digits, then `.` and digits and/or an exponent),
 * as CAF's reader makes it a double, bit for bit: the integer part as a
 * 64-bit integer (past it `integer_overflow`), then each fraction digit as
 * `x * 10 + d` in doubles, then the exponent less the fraction's digits, if
 * within ±511 (`CAF_MAX_EXPONENT`), applied by multiplying or dividing by
 * `CAF_POWERS`, each step rounded. So `0.21672980046384815` is a unit in the
 * last place below the nearest double and `1.7976931348623157e308` is inf,
 * as broker-node makes them. Undefined where CAF refuses the text.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { cafReal } from "./json_input.ts";
 * const t = new TextEncoder().encode("1.5e999 0.1");
 * equal(cafReal(t, 0, 7), undefined);
 * equal(cafReal(t, 8, 11), 0.1);
 * ```
 */
export function cafReal(b: Uint8Array, from: number, to: number): number | undefined {
  const negative = b[from] === 0x2d;
  const start = negative ? from + 1 : from;
  let p = start, x = 0;
  while (p < to && b[p] >= 0x30 && b[p] <= 0x39) p++;
  if (p - start <= 15) {
    for (let i = start; i < p; i++) x = x * 10 + (b[i] - 0x30);
  } else {
    // Past 64 bits (no leading zeros in JSON: past 20 digits), CAF refuses
    // the text (integer_overflow), Broker's own %f of a real from 2^64 up
    // included: we read it, rounded once, as we read every form Broker writes.
    let big = -1n;
    if (p - start <= 20) {
      big = 0n;
      for (let i = start; i < p; i++) big = big * 10n + BigInt(b[i] - 0x30);
    }
    if (big < 0n || big > (negative ? 1n << 63n : U64_MAX)) {
      return cafExponentInRange(b, p, to)
        ? Number(utf8Dec.decode(b.subarray(from, to)))
        : undefined;
    }
    x = Number(big);
  }
  let exp = 0;
  if (b[p] === 0x2e) {
    for (p++; p < to && b[p] >= 0x30 && b[p] <= 0x39; p++) {
      x = x * 10 + (b[p] - 0x30);
      exp--;
    }
  }
  if (b[p] === 0x65 || b[p] === 0x45) {
    const minus = b[++p] === 0x2d;
    if (minus || b[p] === 0x2b) p++;
    let e = 0;
    for (; p < to; p++) {
      e = e * 10 + (b[p] - 0x30);
      // CAF reads the exponent into an int: past it, an overflow or underflow.
      if (e > 2 ** 31) return undefined;
    }
    exp += minus ? -e : e;
  }
  if (exp < -CAF_MAX_EXPONENT || exp > CAF_MAX_EXPONENT) return undefined;
  x = cafScale(x, exp);
  return negative ? -x : x;
}

/** Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** ISO 8601 as CAF's datetime reads it (no zone means UTC), to ns since the epoch. */
function parseTimestamp(text: string): bigint {
  // CAF's reader ends after a point without digits (`...:20.` is `...:20`).
  const m = TS_RE.exec(/:\d\d\.$/.test(text) ? text.slice(0, -1) : text);
  if (!m) return clash(`bad timestamp ${JSON.stringify(text)}`);
  // The year is read as CAF reads an integer: with a leading 0, in octal
  // (`03747` is 2023). Years beyond 6 digits are far outside int64 ns anyway.
  const octal = m[1].length > 1 && m[1][0] === "0";
  if (octal && /[89]/.test(m[1])) return clash(`bad timestamp ${JSON.stringify(text)}`);
  const year = m[1].length > 6 ? 1e9 : octal ? parseInt(m[1], 8) : Number(m[1]);
  const [month, day, hour, minute, second] = [2, 3, 4, 5, 6].map((i) => Number(m[i]));
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const monthDays = month === 2 && leap ? 29 : MONTH_DAYS[month - 1];
  if (
    Math.abs(year) > 100_000 || month < 1 || month > 12 || day < 1 || day > monthDays ||
    hour > 23 || minute > 59 || second > 59
  ) {
    return clash(`bad timestamp ${JSON.stringify(text)}`);
  }
  let offset = 0;
  if (m[9]) offset = (m[9] === "-" ? -1 : 1) * (Number(m[10]) * 3600 + Number(m[11] ?? 0) * 60);
  const secs = daysFromCivil(year, month, day) * 86400 + hour * 3600 + minute * 60 + second -
    offset;
  const frac = BigInt((m[7] ?? "").padEnd(9, "0"));
  const ns = BigInt(secs) * 1_000_000_000n + frac;
  if (ns < LIMITS.I64_MIN || ns > LIMITS.I64_MAX) {
    return clash(`timestamp ${JSON.stringify(text)} is out of range`);
  }
  return ns;
}

/**
 * A timespan's number and unit, as CAF's `read_floating_point` reads the
 * number: blanks and tabs, a sign, digits (after a leading 0 only a point),
 * an optional point and digits (at least one digit in all), an optional
 * exponent; then CAF's unit right after it (no days: `1d` is refused).
 */
const TIMESPAN_RE = /^[ \t]*([+-]?)(\d*)(\.?)(\d*)(?:[eE]([+-]?\d+))?(ns|us|ms|s|min|h)$/;
/** Nanoseconds per unit as doubles: libstdc++'s `duration_cast` multiplies by them in doubles. */
const NS_PER_UNIT_DOUBLE: Readonly<Record<string, number>> = Object.fromEntries(
  Object.entries(NS_PER_TIMESPAN_UNIT).map(([u, ns]) => [u, Number(ns)]),
);
const TWO_63 = 2 ** 63;
/** The largest exponent CAF reads into its `int` (past it, `exponent_overflow`). */
const INT_MAX = 2 ** 31 - 1;

/**
 * A number and a unit, as Broker reads timespans, to ns, bit for bit:
 * CAF's `parse` reads the number into a double (`1.5s`, `.5s`, `1e3ns`; not
 * `01s`, `0e3s`, nor after a newline) digit by digit and scales it by its
 * powers of ten, as `cafReal` does; `duration_cast` multiplies that by the
 * unit's nanoseconds in doubles and truncates toward zero. So
 * `123456789.123456789s` is 123456789123456800 ns and `4296.302427s` one
 * ns short of the decimal's value, as broker-node forwards them. Past
 * int64's range the conversion is undefined in C++; x86's instruction
 * gives INT64_MIN, which broker-node forwards (`1e19ns`, `9300000000s`,
 * even `9223372036854775807ns`, whose double is 2^63).
 */
function parseTimespan(text: string): bigint {
  const m = TIMESPAN_RE.exec(text);
  const int = m?.[2] ?? "", frac = m?.[4] ?? "";
  if (
    !m || (int === "" && frac === "") || (!m[3] && frac !== "") ||
    (int[0] === "0" && (int.length > 1 || (!m[3] && m[5] !== undefined)))
  ) {
    return clash(`bad timespan ${JSON.stringify(text)}`);
  }
  const e = m[5] === undefined ? 0 : Number(m[5]);
  const exp = e - frac.length;
  if (e > INT_MAX || e < -INT_MAX - 1 || exp < -CAF_MAX_EXPONENT || exp > CAF_MAX_EXPONENT) {
    return clash(`timespan ${JSON.stringify(text)} is out of range`);
  }
  let x = 0;
  for (let i = 0; i < int.length; i++) x = x * 10 + (int.charCodeAt(i) - 0x30);
  for (let i = 0; i < frac.length; i++) x = x * 10 + (frac.charCodeAt(i) - 0x30);
  x = cafScale(x, exp);
  if (m[1] === "-") x = -x;
  const ns = m[6] === "ns" ? x : x * NS_PER_UNIT_DOUBLE[m[6]];
  if (!(ns >= -TWO_63 && ns < TWO_63)) return LIMITS.I64_MIN;
  return BigInt(Math.trunc(ns));
}

/** What `strtoul` reads in base 10: C white space, a sign, digits (none: 0, read nothing). */
const STRTOUL_RE = /^[ \t\n\v\f\r]*([+-]?)0*(\d*)/;

/**
 * A port as Broker's `convert(string, port)` reads it: `strtoul` of the
 * text (white space, a sign, digits; none is 0; beyond 64 bits refused, a
 * minus negating modulo 2^64), cut to 16 bits; TCP when the text has no
 * `/`, else the protocol named exactly by what follows the first `/` after
 * the number (`80/TCP` is `80/?`). The C functions stop at a NUL. Checked
 * live against broker-node's WebSocket API (`80` is `80/tcp`, `-1/tcp`
 * `65535/tcp`), whose own check for `strtoul`'s ERANGE also reads an
 * `errno` that nothing clears, so a thread that once overflowed refuses
 * every port after: that we do not copy.
 */
function portFromText(s: string): Port {
  const nul = s.indexOf("\0");
  const c = nul < 0 ? s : s.slice(0, nul);
  const m = STRTOUL_RE.exec(c)!;
  const digits = m[2];
  if (digits.length > 20) return clash(`bad port ${JSON.stringify(s)}`);
  let n = digits === "" ? 0n : BigInt(digits);
  if (n >= 1n << 64n) return clash(`bad port ${JSON.stringify(s)}`);
  if (m[1] === "-") n = -n;
  const number = Number(BigInt.asUintN(16, n));
  if (!s.includes("/")) return new Port(number, "tcp");
  // strtoul leaves its end at the text's start when it read no digits.
  const slash = c.indexOf("/", /\d/.test(m[0]) ? m[0].length : 0);
  if (slash < 0) return clash(`bad port ${JSON.stringify(s)}`);
  const name = c.slice(slash + 1);
  return new Port(number, name === "tcp" || name === "udp" || name === "icmp" ? name : "unknown");
}

/** What `std::stoi` reads of a subnet's length: C white space, a sign, digits. */
const STOI_RE = /^[ \t\n\v\f\r]*([+-]?\d+)/;

/** Broker's `subnet{}`, which its constructor gives for a length beyond the family's. */
const EMPTY_SUBNET = new Subnet(new Address(new Uint8Array(16)), 0);

/**
 * A subnet as Broker's `convert(string, subnet)` reads it: the address up
 * to the first `/`, then `std::stoi` of the rest (white space, a sign,
 * digits; anything after them ignored). A length outside 0..255 is refused;
 * one beyond the family's (IPv4 32, IPv6 128) gives Broker's empty subnet
 * `::/0`, as its constructor does (`::ffff:10.0.0.0/104` too: the address
 * is IPv4). Checked live against broker-node's WebSocket API.
 */
function subnetFromText(s: string): Subnet {
  const slash = s.indexOf("/");
  const m = slash < 0 ? null : STOI_RE.exec(s.slice(slash + 1));
  if (!m) return clash(`bad subnet ${JSON.stringify(s)}`);
  const address = cafAddress(s.slice(0, slash));
  if (!address) return clash(`bad subnet ${JSON.stringify(s)}`);
  const length = Number(m[1]) || 0; // -0 is 0
  if (!(length >= 0 && length <= 255)) return clash(`bad subnet ${JSON.stringify(s)}`);
  return length > (address.isV4 ? 32 : 128) ? EMPTY_SUBNET : Subnet.of(address, length);
}

/** The types whose JSON data is text in a form of their own. */
export type TextScalarType = "address" | "subnet" | "port" | "timestamp" | "timespan";

/**
 * A value whose JSON data is text (`"10.0.0.1"`, `"80/tcp"`, `"1500ms"`),
 * read from that text as `dataFromJson` reads it: the forms Broker writes
 * without a regex, the others as CAF reads them. Throws `type_clash`.
 *
 * @example
 * ```ts
 * import { scalarFromText } from "./json_input.ts";
 * if (scalarFromText("timespan", "2ms").value !== 2_000_000n) throw new Error("2 ms");
 * ```
 */
export function scalarFromText(type: TextScalarType, s: string): Data {
  switch (type) {
    case "address": {
      const v4 = dottedQuad(s);
      if (v4 >= 0) return { type: "address", value: Address.fromWords(0, 0, 0xffff, v4) };
      const address = cafAddress(s);
      if (!address) return clash(`bad address ${JSON.stringify(s)}`);
      return { type: "address", value: address };
    }
    case "subnet":
      return { type: "subnet", value: subnetFromText(s) };
    case "port":
      return { type: "port", value: quickPort(s) ?? portFromText(s) };
    case "timestamp":
      return { type: "timestamp", value: quickTimestamp(s) ?? parseTimestamp(s) };
    case "timespan":
      return { type: "timespan", value: parseTimespan(s) };
  }
}

/** Texts up to this many UTF-16 units are encoded into `scratch`. */
const SCRATCH_TEXT = 16 * 1024;
let scratch = new Uint8Array(1024);

/**
 * `text` as UTF-8, for a parser that reads it once and keeps no view of it
 * (`json_read.ts`'s, `json_transcode.ts`): a short text goes into a reused
 * buffer, since a fresh one per message cost more than the encoding (~3 µs
 * for a 1.2 KB message). The next call may write over it.
 *
 * @example
 * ```ts
 * import { utf8Of } from "./json_input.ts";
 * if (utf8Of("é").join() !== "195,169") throw new Error("UTF-8");
 * ```
 */
export function utf8Of(text: string): Uint8Array {
  if (text.length > SCRATCH_TEXT) return utf8Enc.encode(text);
  if (text.length * 3 > scratch.length) scratch = new Uint8Array(SCRATCH_TEXT * 3);
  return scratch.subarray(0, utf8Enc.encodeInto(text, scratch).written);
}
