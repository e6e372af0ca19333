/**
 * Broker's data model: the 15 types of `broker::data` as tagged JS values.
 *
 * Every value is a plain object `{ type, value }`. 64-bit numbers are
 * `bigint`s, so counts, integers and times are exact over their whole range.
 *
 * @module
 */

/** Wire tags (variant index in `broker::data`). */
export enum Tag {
  none = 0,
  boolean = 1,
  count = 2,
  integer = 3,
  real = 4,
  string = 5,
  address = 6,
  subnet = 7,
  port = 8,
  timestamp = 9,
  timespan = 10,
  enum = 11,
  set = 12,
  table = 13,
  vector = 14,
}

/** The names of the 15 types, in tag order. */
export const TYPE_NAMES = [
  "none",
  "boolean",
  "count",
  "integer",
  "real",
  "string",
  "address",
  "subnet",
  "port",
  "timestamp",
  "timespan",
  "enum",
  "set",
  "table",
  "vector",
] as const;

/** One of Broker's type names. */
export type DataType = typeof TYPE_NAMES[number];

/** Transport protocol of a port, as Broker names them (`?` prints for unknown). */
export type Protocol = "unknown" | "tcp" | "udp" | "icmp";

/** Protocol names in wire order (0..3). */
export const PROTOCOLS: readonly Protocol[] = ["unknown", "tcp", "udp", "icmp"];

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

/**
 * An IPv4 or IPv6 address stored as 16 bytes in network order, IPv4 as
 * v4-mapped IPv6 (`::ffff:a.b.c.d`), exactly as Broker stores it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Address } from "./types.ts";
 * equal(Address.parse("10.0.0.1").toString(), "10.0.0.1");
 * ```
 */
export class Address {
  // Four big-endian 32-bit words: far cheaper to make than a Uint8Array (and
  // its ArrayBuffer) per decoded value; `bytes` is built on first use. They
  // are kept as signed 32-bit integers, which V8 stores in the object as
  // small integers, where a word of 2^31 or more (any IPv4 address from
  // 128.0.0.0) would be a heap number of its own.
  readonly #w0: number;
  readonly #w1: number;
  readonly #w2: number;
  readonly #w3: number;
  #bytes?: Uint8Array;

  /** An address from its 16 bytes (IPv4 v4-mapped); `Address.parse` reads text. */
  constructor(bytes: Uint8Array) {
    if (bytes === FROM_WORDS) {
      this.#w0 = pendingWords[0];
      this.#w1 = pendingWords[1];
      this.#w2 = pendingWords[2];
      this.#w3 = pendingWords[3];
      return;
    }
    if (!(bytes instanceof Uint8Array) || bytes.length !== 16) {
      throw new RangeError("an address has 16 bytes");
    }
    const w = (i: number) =>
      (bytes[i] << 24) | (bytes[i + 1] << 16) | (bytes[i + 2] << 8) | bytes[i + 3];
    this.#w0 = w(0);
    this.#w1 = w(4);
    this.#w2 = w(8);
    this.#w3 = w(12);
  }

  /** Builds an address from its four big-endian 32-bit words. */
  static fromWords(w0: number, w1: number, w2: number, w3: number): Address {
    pendingWords[0] = w0 | 0;
    pendingWords[1] = w1 | 0;
    pendingWords[2] = w2 | 0;
    pendingWords[3] = w3 | 0;
    return new Address(FROM_WORDS);
  }

  /** Parses dotted IPv4 or any RFC 4291 IPv6 text form. Throws a RangeError on bad input. */
  static parse(text: string): Address {
    const bytes = parseAddressText(text);
    if (!bytes) throw new RangeError(`not an IP address: ${JSON.stringify(text)}`);
    return new Address(bytes);
  }

  /** The four big-endian 32-bit words. */
  get words(): [number, number, number, number] {
    return [this.#w0 >>> 0, this.#w1 >>> 0, this.#w2 >>> 0, this.#w3 >>> 0];
  }

  /** The 16 bytes in network order (a shared copy; do not mutate). */
  get bytes(): Uint8Array {
    if (!this.#bytes) {
      const b = new Uint8Array(16);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, this.#w0);
      dv.setUint32(4, this.#w1);
      dv.setUint32(8, this.#w2);
      dv.setUint32(12, this.#w3);
      this.#bytes = b;
    }
    return this.#bytes;
  }

  /** Writes the 16 bytes at `offset` of `dv`. */
  writeTo(dv: DataView, offset: number): void {
    dv.setUint32(offset, this.#w0);
    dv.setUint32(offset + 4, this.#w1);
    dv.setUint32(offset + 8, this.#w2);
    dv.setUint32(offset + 12, this.#w3);
  }

  /** memcmp order of the 16 bytes, as Broker compares addresses. */
  compare(other: Address): number {
    return cmpU32(this.#w0, other.#w0) || cmpU32(this.#w1, other.#w1) ||
      cmpU32(this.#w2, other.#w2) || cmpU32(this.#w3, other.#w3);
  }

  /** Whether this is an IPv4 address (v4-mapped form). */
  get isV4(): boolean {
    return this.#w0 === 0 && this.#w1 === 0 && this.#w2 === 0xffff;
  }

  /** Broker's text form: dotted quad for IPv4, RFC 5952 style for IPv6. */
  toString(): string {
    return formatAddress(this.bytes);
  }
}

const FROM_WORDS = new Uint8Array(0);
const pendingWords = [0, 0, 0, 0];

/** Unsigned order of two words kept as signed 32-bit integers. */
function cmpU32(a: number, b: number): number {
  a >>>= 0;
  b >>>= 0;
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * A subnet: an address and a prefix length. As in Broker, the length is kept
 * over 128 bits (`rawLength`); `length` gives the IPv4 form for IPv4 networks.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Subnet } from "./types.ts";
 * const s = Subnet.parse("10.1.2.3/8");
 * equal(s.toString(), "10.0.0.0/8");
 * equal(s.rawLength, 104);
 * ```
 */
export class Subnet {
  /** Network address. */
  readonly address: Address;
  /** Prefix length over the 128-bit address (IPv4 /n is n + 96). */
  readonly rawLength: number;

  /** A subnet of `address` with a prefix length over 128 bits (IPv4: n + 96). */
  constructor(address: Address, rawLength: number) {
    if (!Number.isInteger(rawLength) || rawLength < 0 || rawLength > 255) {
      throw new RangeError(`bad subnet length ${rawLength}`);
    }
    this.address = address;
    this.rawLength = rawLength;
  }

  /**
   * Builds a subnet the way Broker's constructor does: the length is given in
   * the address family's terms and the host bits are cleared.
   */
  static of(address: Address, length: number): Subnet {
    const max = address.isV4 ? 32 : 128;
    if (!Number.isInteger(length) || length < 0 || length > max) {
      throw new RangeError(`bad prefix length /${length} for ${address}`);
    }
    const raw = address.isV4 ? length + 96 : length;
    const bytes = address.bytes.slice();
    for (let bit = raw; bit < 128; bit++) bytes[bit >> 3] &= ~(0x80 >> (bit & 7));
    return new Subnet(new Address(bytes), raw);
  }

  /** Parses `addr/len`. Throws a RangeError on bad input. */
  static parse(text: string): Subnet {
    const slash = text.lastIndexOf("/");
    if (slash < 0) throw new RangeError(`not a subnet: ${JSON.stringify(text)}`);
    const len = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(len)) throw new RangeError(`not a subnet: ${JSON.stringify(text)}`);
    return Subnet.of(Address.parse(text.slice(0, slash)), Number(len));
  }

  /**
   * Prefix length in the address family's terms (0..32 for IPv4), as
   * Broker's `subnet::length()`: for an IPv4 network, the raw length minus 96
   * as a byte, so a decoded raw length below 96 wraps (16 is 176, as Broker
   * prints it).
   */
  get length(): number {
    return this.address.isV4 ? (this.rawLength - 96) & 0xff : this.rawLength;
  }

  /** Broker's text form, e.g. `10.0.0.0/8`. */
  toString(): string {
    return `${this.address}/${this.length}`;
  }
}

/**
 * A transport-layer port: number and protocol.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Port } from "./types.ts";
 * equal(new Port(80, "tcp").toString(), "80/tcp");
 * ```
 */
export class Port {
  /** Port number, 0..65535. */
  readonly number: number;
  /** Protocol. */
  readonly protocol: Protocol;

  /** A port number (0 to 65535) with its protocol. */
  constructor(number: number, protocol: Protocol = "unknown") {
    if (!(number >= 0 && number <= 65535 && number === Math.floor(number))) {
      throw new RangeError(`bad port number ${number}`);
    }
    if (
      protocol !== "tcp" && protocol !== "udp" && protocol !== "unknown" && protocol !== "icmp"
    ) {
      throw new RangeError(`bad protocol ${protocol}`);
    }
    this.number = number;
    this.protocol = protocol;
  }

  /** Parses `80/tcp`, `53/udp`, `8/icmp` or `0/?`. */
  static parse(text: string): Port {
    const m = /^(\d{1,5})\/(tcp|udp|icmp|\?|unknown)$/.exec(text);
    if (!m) throw new RangeError(`not a port: ${JSON.stringify(text)}`);
    return new Port(Number(m[1]), m[2] === "?" ? "unknown" : m[2] as Protocol);
  }

  /** Broker's text form (`80/tcp`, `0/?`). */
  toString(): string {
    return `${this.number}/${this.protocol === "unknown" ? "?" : this.protocol}`;
  }
}

/** `nil`. */
export interface NoneData {
  /** Which of Broker's 15 types this is. */
  readonly type: "none";
  /** The value, in its JS form. */
  readonly value: null;
}
/** `T` or `F`. */
export interface BooleanData {
  /** Which of Broker's 15 types this is. */
  readonly type: "boolean";
  /** The value, in its JS form. */
  readonly value: boolean;
}
/** Unsigned 64-bit integer. */
export interface CountData {
  /** Which of Broker's 15 types this is. */
  readonly type: "count";
  /** The value, in its JS form. */
  readonly value: bigint;
}
/** Signed 64-bit integer. */
export interface IntegerData {
  /** Which of Broker's 15 types this is. */
  readonly type: "integer";
  /** The value, in its JS form. */
  readonly value: bigint;
}
/** IEEE-754 double. */
export interface RealData {
  /** Which of Broker's 15 types this is. */
  readonly type: "real";
  /** The value, in its JS form. */
  readonly value: number;
}
/**
 * A byte string. `value` is its UTF-8 reading; when the bytes are not valid
 * UTF-8, `bytes` holds them and is what gets encoded, so they round-trip.
 */
export interface StringData {
  /** Which of Broker's 15 types this is. */
  readonly type: "string";
  /** The value, in its JS form. */
  readonly value: string;
  /** The exact bytes, when they are not valid UTF-8 (`value` then has U+FFFD). */
  readonly bytes?: Uint8Array;
}
/** An IP address. */
export interface AddressData {
  /** Which of Broker's 15 types this is. */
  readonly type: "address";
  /** The value, in its JS form. */
  readonly value: Address;
}
/** An IP network. */
export interface SubnetData {
  /** Which of Broker's 15 types this is. */
  readonly type: "subnet";
  /** The value, in its JS form. */
  readonly value: Subnet;
}
/** A port with protocol. */
export interface PortData {
  /** Which of Broker's 15 types this is. */
  readonly type: "port";
  /** The value, in its JS form. */
  readonly value: Port;
}
/** Nanoseconds since the UNIX epoch. */
export interface TimestampData {
  /** Which of Broker's 15 types this is. */
  readonly type: "timestamp";
  /** The value, in its JS form. */
  readonly value: bigint;
}
/** A duration in nanoseconds. */
export interface TimespanData {
  /** Which of Broker's 15 types this is. */
  readonly type: "timespan";
  /** The value, in its JS form. */
  readonly value: bigint;
}
/** A Zeek enum value, by name; `bytes` as for strings. */
export interface EnumData {
  /** Which of Broker's 15 types this is. */
  readonly type: "enum";
  /** The value, in its JS form. */
  readonly value: string;
  /** The exact bytes, when they are not valid UTF-8 (`value` then has U+FFFD). */
  readonly bytes?: Uint8Array;
}
/** A set: distinct elements in Broker's total order. */
export interface SetData {
  /** Which of Broker's 15 types this is. */
  readonly type: "set";
  /** The value, in its JS form. */
  readonly value: readonly Data[];
}
/** A table: distinct keys in Broker's total order, each with its value. */
export interface TableData {
  /** Which of Broker's 15 types this is. */
  readonly type: "table";
  /** The value, in its JS form. */
  readonly value: readonly (readonly [Data, Data])[];
}
/** A vector (Broker's list). */
export interface VectorData {
  /** Which of Broker's 15 types this is. */
  readonly type: "vector";
  /** The value, in its JS form. */
  readonly value: readonly Data[];
}

/** Any Broker value. */
export type Data =
  | NoneData
  | BooleanData
  | CountData
  | IntegerData
  | RealData
  | StringData
  | AddressData
  | SubnetData
  | PortData
  | TimestampData
  | TimespanData
  | EnumData
  | SetData
  | TableData
  | VectorData;

/**
 * The bigints 0..1023, made once: counts this small are most of Zeek's
 * (packet and byte counts of short connections, versions, message types),
 * and a bigint is immutable, so every small count can share one: 40 bytes
 * less to allocate per small count, so fewer scavenges.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { SMALL_BIGINTS } from "./types.ts";
 * equal(SMALL_BIGINTS[80], 80n);
 * ```
 */
export const SMALL_BIGINTS: readonly bigint[] = Array.from({ length: 1024 }, (_, i) => BigInt(i));

/** Checks that n is an integer in [lo, hi] and returns it as a bigint. */
export function toBigIntIn(n: bigint | number, lo: bigint, hi: bigint, what: string): bigint {
  if (typeof n === "number") {
    if (!Number.isSafeInteger(n)) {
      throw new RangeError(`${what}: ${n} is not an exact integer (pass a bigint)`);
    }
    // Numbers are compared as numbers (a bigint comparison costs more than the
    // conversion); a bound beyond 2^53 cannot reject a safe integer.
    if ((n < 0 && n < Number(lo)) || (n > 0x7fffffff && n > Number(hi))) {
      throw new RangeError(`${what}: ${n} is out of range`);
    }
    return n >= 0 && n < 1024 ? SMALL_BIGINTS[n] : BigInt(n);
  }
  if (n < lo || n > hi) throw new RangeError(`${what}: ${n} is out of range`);
  return n;
}

/** Range limits of count and integer. */
export const LIMITS = { U64_MAX, I64_MIN, I64_MAX } as const;

// ---------------------------------------------------------------- addresses

function parseV4(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out.push(v);
  }
  return out;
}

function parseAddressText(text: string): Uint8Array | undefined {
  const bytes = new Uint8Array(16);
  const v4 = parseV4(text);
  if (v4) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    bytes.set(v4, 12);
    return bytes;
  }
  if (!text.includes(":")) return undefined;
  // Expand an embedded dotted quad into two groups first.
  let s = text;
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const q = parseV4(tail);
    if (!q) return undefined;
    s = s.slice(0, lastColon + 1) + ((q[0] << 8) | q[1]).toString(16) + ":" +
      ((q[2] << 8) | q[3]).toString(16);
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]);
  const rest = halves.length === 2 ? groupsOf(halves[1]) : [];
  const total = head.length + rest.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return undefined;
  const groups = [...head, ...new Array(8 - total).fill("0"), ...rest];
  for (let i = 0; i < 8; i++) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(groups[i])) return undefined;
    const v = parseInt(groups[i], 16);
    bytes[2 * i] = v >> 8;
    bytes[2 * i + 1] = v & 0xff;
  }
  return bytes;
}

/**
 * Formats 16 address bytes the way Broker does (CAF's `to_string` of
 * `ipv6_address`): v4-mapped as a dotted quad, otherwise hex groups with the
 * first longest run of two or more zero groups as `::`.
 */
export function formatAddress(b: Uint8Array): string {
  let v4Mapped = b[10] === 0xff && b[11] === 0xff;
  for (let i = 0; i < 10 && v4Mapped; i++) if (b[i] !== 0) v4Mapped = false;
  if (v4Mapped) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 8; i++) words.push((b[2 * i] << 8) | b[2 * i + 1]);
  // Longest run of zero words (at least two), first one on a tie.
  let bestBase = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestBase = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  let out = "";
  for (let i = 0; i < 8; i++) {
    if (bestBase >= 0 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ":";
      continue;
    }
    if (i !== 0) out += ":";
    // No dotted tail for IPv4-compatible ::a.b.c.d as inet_ntop writes:
    // CAF's to_string (Broker's) prints it in hex, ::102:304.
    out += words[i].toString(16);
  }
  if (bestBase >= 0 && bestBase + bestLen === 8) out += ":";
  return out;
}
