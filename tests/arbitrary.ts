/**
 * fast-check arbitraries for Broker data, shared by the property tests and
 * the fuzzer.
 *
 * @module
 */
import fc from "fast-check";
import {
  addr,
  bool,
  count,
  type Data,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  str,
  Subnet,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { Address } from "../mod.ts";

const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const i64 = fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n });

/** Any string content: text (with non-BMP characters) or raw bytes. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.uint8Array({ maxLength: 20 }),
);

// Reals without subnormals: Broker's encoder mangles those (spec section 1).
const realValue = fc.oneof(
  fc.double({ noDefaultInfinity: false, noNaN: false }).filter((x) =>
    x === 0 || !Number.isFinite(x) || Math.abs(x) >= 2.2250738585072014e-308
  ),
  fc.constantFrom(0, -0, 1.5, NaN, Infinity, -Infinity),
);

/** Reals of every kind but subnormals. */
export const realData: fc.Arbitrary<Data> = realValue.map(real);

/** IPv4 addresses (v4-mapped, as Broker holds them). */
export const v4Address: fc.Arbitrary<Address> = fc.tuple(
  fc.nat(255),
  fc.nat(255),
  fc.nat(255),
  fc.nat(255),
).map(([a, b, c, d]) => Address.parse(`${a}.${b}.${c}.${d}`));

const address = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => new Address(b)),
  v4Address,
);

/** Ports of every protocol. */
export const portData: fc.Arbitrary<Data> = fc.tuple(
  fc.nat(65535),
  fc.constantFrom("unknown", "tcp", "udp", "icmp") as fc.Arbitrary<
    "unknown" | "tcp" | "udp" | "icmp"
  >,
).map(([n, p]) => port(n, p));

/** Scalars: every non-container type. */
export const scalarData: fc.Arbitrary<Data> = fc.oneof(
  fc.constant(none()),
  fc.boolean().map(bool),
  u64.map(count),
  i64.map(integer),
  realData,
  text.map(str),
  address.map(addr),
  fc.tuple(address, fc.nat(128)).map(([a, n]) => subnet(Subnet.of(a, a.isV4 ? n % 33 : n))),
  portData,
  i64.map(timestamp),
  i64.map(timespan),
  text.map(enumValue),
);

/** Values of `scalars` and vectors, sets and tables of them, nested a few levels deep. */
export function dataWith(scalars: fc.Arbitrary<Data>): fc.Arbitrary<Data> {
  return fc.letrec<{ data: Data }>((tie) => ({
    data: fc.oneof(
      { depthSize: "small", withCrossShrink: true },
      scalars,
      fc.array(tie("data"), { maxLength: 6 }).map((xs) => vector(...xs)),
      fc.array(tie("data"), { maxLength: 6 }).map((xs) => set(...xs)),
      fc.array(fc.tuple(tie("data"), tie("data")), { maxLength: 5 }).map((es) => table(es)),
    ),
  })).data;
}

/** Any Broker value, containers nested a few levels deep. */
export const anyData: fc.Arbitrary<Data> = dataWith(scalarData);
