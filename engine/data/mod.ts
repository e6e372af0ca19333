/**
 * Broker's data model: types, constructors, order, text form and binary codec.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { addr, count, dataToString, decode, encode, vector } from "./mod.ts";
 * const bytes = encode(vector(count(1n), addr("10.0.0.1")));
 * equal(dataToString(decode(bytes)), "(1, 10.0.0.1)");
 * ```
 *
 * @module
 */
export * from "./types.ts";
export * from "./constructors.ts";
export * from "./order.ts";
export * from "./text.ts";
export * from "./binary.ts";
