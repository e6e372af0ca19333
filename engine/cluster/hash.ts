/**
 * Zeek's hashing for Highest Random Weight pools, bit for bit: `fnv1a32`
 * and `hrw_weight` of `src/zeek.bif`, and the bytes `fnv1a32` hashes for a
 * value of any type (`ODesc` in binary mode, `DESC_BINARY`).
 *
 * What Zeek hashes for `fnv1a32(x)`:
 * - a `string`: its bytes, nothing else (our `string` keys are hashed as
 *   their UTF-8 bytes, a `Uint8Array` as is);
 * - anything else: `Val::Describe` in binary mode, the type tag as a native
 *   (little-endian) 32-bit int, then the value: `bool`/`int` as int64,
 *   `count` as uint64, `double`/`time` as an IEEE double (all little-endian),
 *   `addr` and `subnet` as their text and a NUL (IPv6 as glibc's `inet_ntop`
 *   writes it: `::1.2.3.4` for an IPv4-compatible address, see
 *   {@linkcode zeekAddrText}), `port` as uint32 number,
 *   `"/\0"` and the protocol name, `enum` as the enum type's name and the
 *   value's name with a NUL.
 *
 * Covered here: string, bool, count, int, double, time, addr, subnet, port
 * and enum. Not covered (a `BrokerError`): `interval` (Zeek writes a text
 * form with units), records, vectors, sets and tables (their type
 * descriptions are long and version-dependent).
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { Address, Data } from "../data/types.ts";

/**
 * FNV-1a 32-bit offset basis, as `zeek.bif`.
 *
 * @example
 * ```ts
 * import { FNV32_OFFSET, fnv1a32String } from "./hash.ts";
 * fnv1a32String("") === FNV32_OFFSET; // true
 * ```
 */
export const FNV32_OFFSET = 2166136261;
/**
 * FNV-1a 32-bit prime, as `zeek.bif`.
 *
 * @example
 * ```ts
 * import { FNV32_OFFSET, FNV32_PRIME, fnv1a32String } from "./hash.ts";
 * fnv1a32String("a") === Number((BigInt(FNV32_OFFSET ^ 0x61) * BigInt(FNV32_PRIME)) & 0xffffffffn); // true
 * ```
 */
export const FNV32_PRIME = 16777619;

/**
 * FNV-1a over bytes, 32 bits (Zeek's `fnv1a32` of a string).
 *
 * @example
 * ```ts
 * import { fnv1a32Bytes } from "./hash.ts";
 * fnv1a32Bytes(new Uint8Array(0)); // 2166136261
 * ```
 */
export function fnv1a32Bytes(bytes: Uint8Array): number {
  let h = FNV32_OFFSET | 0;
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i], FNV32_PRIME);
  return h >>> 0;
}

/**
 * FNV-1a 32 over the UTF-8 bytes of a JS string, without building them: the
 * per-event path of a worker hashes one key per event. Lone surrogates count
 * as U+FFFD, as `TextEncoder` writes them.
 *
 * @example
 * ```ts
 * import { fnv1a32String } from "./hash.ts";
 * fnv1a32String("a"); // 3826002220
 * ```
 */
export function fnv1a32String(s: string): number {
  let h = FNV32_OFFSET | 0;
  const n = s.length;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV32_PRIME);
      continue;
    }
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV32_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdfff) {
      const next = i + 1 < n ? s.charCodeAt(i + 1) : 0;
      if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (next - 0xdc00);
        i++;
        h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV32_PRIME);
        h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
        continue;
      }
      c = 0xfffd;
    }
    h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV32_PRIME);
    h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV32_PRIME);
    h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV32_PRIME);
  }
  return h >>> 0;
}

/**
 * Zeek's `hrw_weight(key_digest, site_id)`: the weight function of the
 * rendezvous hashing paper, in Zeek's 32-bit unsigned arithmetic (the
 * products wrap at 2^32, the result is taken modulo 2^31).
 *
 * @example
 * ```ts
 * import { hrwWeight } from "./hash.ts";
 * hrwWeight(0, 0); // 1406932606
 * ```
 */
export function hrwWeight(keyDigest: number, siteId: number): number {
  const d = keyDigest & 0x7fffffff;
  const inner = (Math.imul(1103515245, siteId) + 12345) ^ d;
  return (Math.imul(1103515245, inner) + 12345) & 0x7fffffff;
}

/** A value for `fnv1a32` beyond Broker's data: a Zeek enum needs its type's name. */
export interface ZeekEnumKey {
  /** Discriminates it from Broker data. */
  type: "zeek_enum";
  /** The enum type's name, e.g. `Cluster::NodeType`. */
  enumType: string;
  /** The value's name, e.g. `Cluster::WORKER`. */
  value: string;
}

/** Any key `fnv1a32` takes here: a string (its UTF-8 bytes), raw string bytes, Broker data, or a Zeek enum. */
export type HrwKey = string | Uint8Array | Data | ZeekEnumKey;

// Zeek's TypeTag numbers (src/Type.h).
const TYPE_BOOL = 1, TYPE_INT = 2, TYPE_COUNT = 3, TYPE_DOUBLE = 4, TYPE_TIME = 5;
const TYPE_ENUM = 9, TYPE_PORT = 10, TYPE_ADDR = 11, TYPE_SUBNET = 12;

const utf8 = new TextEncoder();

/** Little-endian byte writer for a description. */
class DescWriter {
  #parts: number[] = [];
  #dv = new DataView(new ArrayBuffer(8));
  int32(v: number) {
    this.#dv.setInt32(0, v, true);
    for (let i = 0; i < 4; i++) this.#parts.push(this.#dv.getUint8(i));
  }
  uint32(v: number) {
    this.#dv.setUint32(0, v, true);
    for (let i = 0; i < 4; i++) this.#parts.push(this.#dv.getUint8(i));
  }
  int64(v: bigint) {
    this.#dv.setBigInt64(0, v, true);
    for (let i = 0; i < 8; i++) this.#parts.push(this.#dv.getUint8(i));
  }
  uint64(v: bigint) {
    this.#dv.setBigUint64(0, v, true);
    for (let i = 0; i < 8; i++) this.#parts.push(this.#dv.getUint8(i));
  }
  double(v: number) {
    this.#dv.setFloat64(0, v, true);
    for (let i = 0; i < 8; i++) this.#parts.push(this.#dv.getUint8(i));
  }
  /** `ODesc::Add(std::string)`: the bytes only. */
  bytes(s: string) {
    for (const b of utf8.encode(s)) this.#parts.push(b);
  }
  /** `ODesc::Add(const char*)` in binary mode: the bytes and the NUL. */
  cstr(s: string) {
    this.bytes(s);
    this.#parts.push(0);
  }
  done(): Uint8Array {
    return Uint8Array.from(this.#parts);
  }
}

/**
 * The bytes Zeek's `fnv1a32` hashes for a key: a string's bytes, or the
 * binary `ODesc` description of other values (see the module doc for what
 * is covered). Throws a `BrokerError` (`type_clash`) for uncovered types.
 *
 * @example
 * ```ts
 * import { count } from "../data/constructors.ts";
 * import { zeekKeyBytes } from "./hash.ts";
 * zeekKeyBytes(count(1n)); // tag 3 (4 bytes LE), then 1 as uint64 LE
 * ```
 */
export function zeekKeyBytes(key: HrwKey): Uint8Array {
  if (typeof key === "string") return utf8.encode(key);
  if (key instanceof Uint8Array) return key;
  const w = new DescWriter();
  switch (key.type) {
    case "string":
      return key.bytes ?? utf8.encode(key.value);
    case "boolean":
      w.int32(TYPE_BOOL);
      w.int64(key.value ? 1n : 0n);
      break;
    case "count":
      w.int32(TYPE_COUNT);
      w.uint64(key.value);
      break;
    case "integer":
      w.int32(TYPE_INT);
      w.int64(key.value);
      break;
    case "real":
      w.int32(TYPE_DOUBLE);
      w.double(key.value);
      break;
    case "timestamp":
      // Zeek's time is a double of seconds; Broker's is integer ns.
      w.int32(TYPE_TIME);
      w.double(Number(key.value) / 1e9);
      break;
    case "address":
      w.int32(TYPE_ADDR);
      w.cstr(zeekAddrText(key.value));
      break;
    case "subnet":
      // IPPrefix::AsString: the network's address text, "/", the length.
      w.int32(TYPE_SUBNET);
      w.cstr(`${zeekAddrText(key.value.address)}/${key.value.length}`);
      break;
    case "port":
      w.int32(TYPE_PORT);
      w.uint32(key.value.number);
      w.cstr("/");
      w.bytes(key.value.protocol);
      break;
    case "zeek_enum":
      w.int32(TYPE_ENUM);
      w.bytes(key.enumType);
      w.cstr(key.value);
      break;
    default:
      throw new BrokerError(
        ErrorCode.type_clash,
        `no Zeek hash for a ${key.type} key (covered: string, bool, count, int, double, ` +
          `time, addr, subnet, port, enum)`,
      );
  }
  return w.done();
}

/**
 * An address as Zeek's `IPAddr::AsString` writes it, which `fnv1a32` hashes:
 * IPv4 dotted, IPv6 as glibc's `inet_ntop`, which is RFC 5952's text but for
 * an IPv4-compatible address (the first six groups zero, the seventh not),
 * written `::a.b.c.d` (checked with Zeek 8.2.2: `cat([::1:2])` is
 * `::0.1.0.2`, `cat([::2])` is `::2`).
 *
 * @example
 * ```ts
 * import { addr } from "../data/constructors.ts";
 * import { zeekAddrText } from "./hash.ts";
 * zeekAddrText(addr("::1.2.3.4").value); // "::1.2.3.4"
 * zeekAddrText(addr("::2").value); // "::2"
 * ```
 */
export function zeekAddrText(a: Address): string {
  const [w0, w1, w2, w3] = a.words;
  if (w0 === 0 && w1 === 0 && w2 === 0 && w3 >>> 16 !== 0) {
    return `::${w3 >>> 24}.${(w3 >>> 16) & 0xff}.${(w3 >>> 8) & 0xff}.${w3 & 0xff}`;
  }
  return a.toString();
}

/**
 * Zeek's `fnv1a32(key)` for any covered key.
 *
 * @example
 * ```ts
 * import { fnv1a32 } from "./hash.ts";
 * fnv1a32("proxy-1.0") === fnv1a32(new TextEncoder().encode("proxy-1.0")); // true
 * ```
 */
export function fnv1a32(key: HrwKey): number {
  if (typeof key === "string") return fnv1a32String(key);
  if (key instanceof Uint8Array) return fnv1a32Bytes(key);
  if (key.type === "string") {
    return key.bytes ? fnv1a32Bytes(key.bytes) : fnv1a32String(key.value);
  }
  return fnv1a32Bytes(zeekKeyBytes(key));
}
