/**
 * Pleasant constructors for Broker values: `count(5n)`, `addr("10.0.0.1")`,
 * `port(80, "tcp")`, `set(...)`, ...
 *
 * @module
 */
import { sortedAsBroker } from "./order.ts";
import {
  Address,
  type AddressData,
  type BooleanData,
  type CountData,
  type Data,
  type EnumData,
  type IntegerData,
  LIMITS,
  type NoneData,
  Port,
  type PortData,
  type Protocol,
  type RealData,
  type SetData,
  type StringData,
  Subnet,
  type SubnetData,
  type TableData,
  type TimespanData,
  type TimestampData,
  toBigIntIn,
  type VectorData,
} from "./types.ts";

const NONE: NoneData = Object.freeze({ type: "none", value: null });
const utf8Fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Lossy = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * `nil`.
 * @example
 * ```ts
 * import { none } from "./constructors.ts";
 * none(); // { type: "none", value: null }
 * ```
 */
export function none(): NoneData {
  return NONE;
}

/**
 * A boolean.
 * @example
 * ```ts
 * import { bool } from "./constructors.ts";
 * bool(true);
 * ```
 */
export function bool(value: boolean): BooleanData {
  return { type: "boolean", value: !!value };
}

/**
 * A count (uint64). Numbers must be safe integers; pass a bigint beyond 2^53.
 * @example
 * ```ts
 * import { count } from "./constructors.ts";
 * count(5n);
 * ```
 */
export function count(value: bigint | number): CountData {
  return { type: "count", value: toBigIntIn(value, 0n, LIMITS.U64_MAX, "count") };
}

/**
 * An integer (int64).
 * @example
 * ```ts
 * import { integer } from "./constructors.ts";
 * integer(-1n);
 * ```
 */
export function integer(value: bigint | number): IntegerData {
  return {
    type: "integer",
    value: toBigIntIn(value, LIMITS.I64_MIN, LIMITS.I64_MAX, "integer"),
  };
}

/**
 * A real (double).
 * @example
 * ```ts
 * import { real } from "./constructors.ts";
 * real(1.5);
 * ```
 */
export function real(value: number): RealData {
  return { type: "real", value: +value };
}

function text<T extends "string" | "enum">(
  type: T,
  value: string | Uint8Array,
): { type: T; value: string; bytes?: Uint8Array } {
  if (typeof value === "string") return { type, value };
  try {
    return { type, value: utf8Fatal.decode(value) };
  } catch {
    return { type, value: utf8Lossy.decode(value), bytes: value.slice() };
  }
}

/**
 * A string: JS text, or any bytes (invalid UTF-8 included, kept exactly).
 * @example
 * ```ts
 * import { str } from "./constructors.ts";
 * str("hello");
 * str(new Uint8Array([0xff, 0xfe]));
 * ```
 */
export function str(value: string | Uint8Array): StringData {
  return text("string", value);
}

/**
 * An address from text (`"10.0.0.1"`, `"2001:db8::1"`), 16 bytes or an `Address`.
 * @example
 * ```ts
 * import { addr } from "./constructors.ts";
 * addr("10.0.0.1");
 * ```
 */
export function addr(value: string | Uint8Array | Address): AddressData {
  const a = value instanceof Address
    ? value
    : typeof value === "string"
    ? Address.parse(value)
    : new Address(value.slice());
  return { type: "address", value: a };
}

/**
 * A subnet from `"10.0.0.0/8"` or an address and a prefix length in the
 * address family's terms; host bits are cleared as Broker does.
 * @example
 * ```ts
 * import { subnet } from "./constructors.ts";
 * subnet("10.0.0.0/8");
 * ```
 */
export function subnet(value: string | Address | Subnet, length?: number): SubnetData {
  if (value instanceof Subnet) return { type: "subnet", value };
  if (typeof value === "string") {
    return {
      type: "subnet",
      value: length === undefined ? Subnet.parse(value) : Subnet.of(Address.parse(value), length),
    };
  }
  if (length === undefined) throw new RangeError("subnet(address, length) needs a length");
  return { type: "subnet", value: Subnet.of(value, length) };
}

/**
 * A port: `port(80, "tcp")` or `port("80/tcp")`.
 * @example
 * ```ts
 * import { port } from "./constructors.ts";
 * port(80, "tcp");
 * ```
 */
export function port(value: number | string | Port, protocol?: Protocol): PortData {
  if (value instanceof Port) return { type: "port", value };
  if (typeof value === "string") return { type: "port", value: Port.parse(value) };
  return { type: "port", value: new Port(value, protocol ?? "unknown") };
}

/**
 * A timestamp: nanoseconds since the epoch (bigint), or a `Date`.
 * @example
 * ```ts
 * import { timestamp } from "./constructors.ts";
 * timestamp(1700000000123456789n);
 * timestamp(new Date(0));
 * ```
 */
export function timestamp(value: bigint | number | Date): TimestampData {
  const ns = value instanceof Date ? BigInt(value.getTime()) * 1_000_000n : value;
  return {
    type: "timestamp",
    value: toBigIntIn(ns, LIMITS.I64_MIN, LIMITS.I64_MAX, "timestamp"),
  };
}

/**
 * A timespan in nanoseconds.
 * @example
 * ```ts
 * import { timespan } from "./constructors.ts";
 * timespan(1_500_000_000n); // 1.5 s
 * ```
 */
export function timespan(ns: bigint | number): TimespanData {
  return {
    type: "timespan",
    value: toBigIntIn(ns, LIMITS.I64_MIN, LIMITS.I64_MAX, "timespan"),
  };
}

/**
 * A Zeek enum value by name.
 * @example
 * ```ts
 * import { enumValue } from "./constructors.ts";
 * enumValue("Conn::LOG");
 * ```
 */
export function enumValue(name: string | Uint8Array): EnumData {
  return text("enum", name);
}

/**
 * A set: elements are ordered and made distinct as Broker's `std::set` does
 * it, the first of equal elements kept (a NaN real and any other real are
 * equal there: see `brokerEquivalent`).
 * @example
 * ```ts
 * import { count, set } from "./constructors.ts";
 * set(count(2n), count(1n), count(2n)); // {1, 2}
 * ```
 */
export function set(...items: Data[]): SetData {
  return { type: "set", value: sortedAsBroker(items, (d) => d) };
}

/**
 * A table from `[key, value]` pairs (or a Map); keys are ordered and distinct
 * (the first of equal keys stays, like std::map; NaN as in `set`).
 * @example
 * ```ts
 * import { count, str, table } from "./constructors.ts";
 * table([[str("a"), count(1n)]]);
 * ```
 */
export function table(entries: Iterable<readonly [Data, Data]> = []): TableData {
  const list = Array.from(entries, ([k, v]) => [k, v] as const);
  return { type: "table", value: sortedAsBroker(list, (e) => e[0]) };
}

/**
 * A vector.
 * @example
 * ```ts
 * import { count, str, vector } from "./constructors.ts";
 * vector(str("ping"), count(1n));
 * ```
 */
export function vector(...items: Data[]): VectorData {
  return { type: "vector", value: items };
}
