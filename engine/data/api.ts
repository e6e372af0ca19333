/**
 * The data model as the package offers it: Broker's 15 types, their
 * constructors, order, text form and binary codec. `mod.ts` and `browser.ts`
 * both export this list; the codec's internals (the validate-once pair,
 * slabs, the WASM tape paths) stay in the folder's own `mod.ts` for the
 * engine, benches and tests.
 *
 * @example
 * ```ts
 * import { count, dataToString, decode, encode, vector } from "./api.ts";
 * if (dataToString(decode(encode(vector(count(1n))))) !== "(1)") throw new Error("round trip");
 * ```
 *
 * @module
 */
export {
  Address,
  type AddressData,
  type BooleanData,
  type CountData,
  type Data,
  type DataType,
  type EnumData,
  type IntegerData,
  LIMITS,
  type NoneData,
  Port,
  type PortData,
  type Protocol,
  PROTOCOLS,
  type RealData,
  type SetData,
  type StringData,
  Subnet,
  type SubnetData,
  type TableData,
  Tag,
  type TimespanData,
  type TimestampData,
  TYPE_NAMES,
  type VectorData,
} from "./types.ts";
export {
  addr,
  bool,
  count,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "./constructors.ts";
export { compare, equals } from "./order.ts";
export { dataToString, dataToStringBytes } from "./text.ts";
export { DataBuilder } from "./builder.ts";
export {
  type DataHeader,
  decode,
  type DecodeOptions,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  encode,
  EncodedData,
  scanHeader,
  validate,
} from "./binary.ts";
