/**
 * Broker's text form of data (`broker::to_string`), as `broker-pipe` prints it.
 *
 * @module
 */
import type { Data } from "./types.ts";

const f64 = new Float64Array(1);
const u64 = new BigUint64Array(f64.buffer);

/**
 * Formats a double like C's `printf("%f")`: exact decimal expansion of the
 * binary value, six decimals, ties to even; `nan`, `inf`, `-inf` as Broker prints them.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatReal } from "./text.ts";
 * equal(formatReal(1.5), "1.500000");
 * ```
 */
export function formatReal(x: number): string {
  if (x !== x) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  f64[0] = x;
  const bits = u64[0];
  const negative = (bits >> 63n) === 1n;
  const expField = Number((bits >> 52n) & 0x7ffn);
  let mant = bits & ((1n << 52n) - 1n);
  if (expField !== 0) mant |= 1n << 52n;
  const e2 = (expField === 0 ? 1 : expField) - 1075;
  let q: bigint;
  if (e2 >= 0) {
    q = (mant << BigInt(e2)) * 1_000_000n;
  } else {
    const num = mant * 1_000_000n;
    const den = 1n << BigInt(-e2);
    q = num / den;
    const r2 = (num % den) * 2n;
    if (r2 > den || (r2 === den && (q & 1n) === 1n)) q++;
  }
  const digits = q.toString().padStart(7, "0");
  return `${negative ? "-" : ""}${digits.slice(0, -6)}.${digits.slice(-6)}`;
}

/** Where `toFixed(6)` and printf differ: a tie at six decimals is an odd multiple of 2^-7. */
const TIE_SCALE = 128;

/**
 * `formatReal`'s text, through `toFixed` where that gives the same digits,
 * which is nearly always and several times faster: `toFixed` is printf's
 * exact decimal expansion except on exact ties, which it rounds up where
 * printf rounds to even, and beyond 1e21 it switches to exponents.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatReal, formatRealFast } from "./text.ts";
 * equal(formatRealFast(0.0000005), formatReal(0.0000005));
 * ```
 */
export function formatRealFast(x: number): string {
  const a = Math.abs(x);
  if (a < 1e21 && !(Number.isInteger(x * TIE_SCALE) && !Number.isInteger(x * (TIE_SCALE / 2)))) {
    return x === 0 && 1 / x < 0 ? "-0.000000" : x.toFixed(6);
  }
  return formatReal(x);
}

/**
 * Broker's text form of a value: `nil`, `T`/`F`, `80/tcp`, `10.0.0.0/8`,
 * `1500000000ns`, `(1, 2)` for vectors, `{a, b}` for sets, `{a -> 1}` for tables.
 * Strings print raw, without quotes (bytes that are not UTF-8 print as U+FFFD;
 * `dataToStringBytes` keeps them).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { dataToString } from "./text.ts";
 * import { count, port, vector } from "./constructors.ts";
 * equal(dataToString(vector(count(1n), port(80, "tcp"))), "(1, 80/tcp)");
 * ```
 */
export function dataToString(value: Data): string {
  const out: TextOut = { text: "" };
  writeText(value, out);
  return out.text;
}

const utf8 = new TextEncoder();

/** What `writeText` writes to: the text, and with `parts`, raw bytes (text flushed before them). */
interface TextOut {
  text: string;
  parts?: Uint8Array[];
}

/** Broker's text of `d` onto `out`: strings that are not UTF-8 as raw bytes when it keeps `parts`. */
function writeText(d: Data, out: TextOut): void {
  switch (d.type) {
    case "none":
      out.text += "nil";
      return;
    case "boolean":
      out.text += d.value ? "T" : "F";
      return;
    case "count":
    case "integer":
      out.text += d.value.toString();
      return;
    case "real":
      out.text += formatReal(d.value);
      return;
    case "string":
    case "enum":
      if (out.parts && d.bytes) {
        out.parts.push(utf8.encode(out.text), d.bytes);
        out.text = "";
      } else out.text += d.value;
      return;
    case "address":
    case "subnet":
    case "port":
      out.text += d.value.toString();
      return;
    case "timestamp":
    case "timespan":
      out.text += `${d.value}ns`;
      return;
    case "set":
    case "vector":
      out.text += d.type === "set" ? "{" : "(";
      d.value.forEach((e, i) => {
        if (i > 0) out.text += ", ";
        writeText(e, out);
      });
      out.text += d.type === "set" ? "}" : ")";
      return;
    case "table":
      out.text += "{";
      d.value.forEach(([k, v], i) => {
        if (i > 0) out.text += ", ";
        writeText(k, out);
        out.text += " -> ";
        writeText(v, out);
      });
      out.text += "}";
      return;
  }
}

/**
 * Broker's text form as the bytes its tools write: `dataToString`'s text in
 * UTF-8, except that strings and enum values that are not UTF-8 keep their
 * raw bytes (broker-pipe prints them so), where `dataToString` shows U+FFFD.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { dataToStringBytes } from "./text.ts";
 * import { str, vector } from "./constructors.ts";
 * const bytes = dataToStringBytes(vector(str(new Uint8Array([0x61, 0xff]))));
 * equal(bytes.join(), "40,97,255,41"); // "(a", the raw 0xff, ")"
 * ```
 */
export function dataToStringBytes(value: Data): Uint8Array {
  const out: TextOut = { text: "", parts: [] };
  writeText(value, out);
  const parts = out.parts!;
  if (parts.length === 0) return utf8.encode(out.text);
  parts.push(utf8.encode(out.text));
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    bytes.set(p, at);
    at += p.length;
  }
  return bytes;
}
