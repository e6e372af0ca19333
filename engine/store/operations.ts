/**
 * What store commands do to a backend, as Broker's master applies them
 * (`master_actor.cc`, `detail/appliers.hh`, `detail/abstract_backend.cc`),
 * and what the master then broadcasts to its clones.
 *
 * Broadcasts follow the master: `add` and `subtract` go out as a `put` of the
 * resulting value (without expiry), a successful `put_unique` as `put` plus
 * `put_unique_result`, a failed one as `put_unique_result` only. Expiries
 * are relative on the wire and become absolute here: `now` + expiry at the
 * time of the change. As in Broker's master (`master_actor.cc`,
 * `set_expire_time`) and backends (`memory_backend.cc`, `sqlite_backend.cc`),
 * each applied `put`, `put_unique`, `add` or `subtract` replaces the key's
 * expiry with its own: with an expiry the clock restarts, without one the
 * key no longer expires. A write that fails leaves the expiry alone.
 *
 * Failures throw `BrokerError`: `type_clash` when the value does not fit
 * the stored one, `no_such_key` when there is nothing to erase or subtract
 * from, `invalid_data` for a table entry that is not a pair.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyAdd } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, dataToString, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * const r = applyAdd(b, {
 *   type: "add", key: str("a"), value: count(41n), initType: "count",
 *   expiry: null, publisher: NIL_ENTITY,
 * }, 0n);
 * equal(r.broadcast[0].type, "put");
 * equal(dataToString(b.get(str("a"))!), "41");
 * ```
 *
 * @module
 */
import {
  Address,
  bool,
  compare,
  type Data,
  type DataType,
  Port,
  str,
  Subnet,
} from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend } from "./backend.ts";
import type {
  ActionCommand,
  AddCommand,
  ClearCommand,
  EraseCommand,
  PutCommand,
  PutUniqueCommand,
  SubtractCommand,
} from "./commands.ts";
import type { Entity } from "./entity.ts";

/** The outcome of one operation on the master. */
export interface Applied {
  /** What the master broadcasts to its clones, in order; empty when nothing changed. */
  readonly broadcast: readonly ActionCommand[];
  /**
   * The key's value before the change (for store events); undefined when it
   * was absent, and after a `put` or `erase` applied without `wantOld`.
   */
  readonly old?: Data;
  /**
   * The key's absolute expiry after the change (null: none), for the master's
   * expiry timers; absent when the operation does not set one.
   */
  readonly expiry?: bigint | null;
}

/** The outcome of `put_unique`. */
export interface AppliedPutUnique extends Applied {
  /** Whether the key was absent and is now set. */
  readonly inserted: boolean;
}

/** The outcome of `clear`. */
export interface AppliedClear extends Applied {
  /** The keys that were removed, in Broker's order (one erase event each). */
  readonly erased: readonly Data[];
}

// ------------------------------------------------------------------ values

function clash(message: string): never {
  throw new BrokerError(ErrorCode.type_clash, message);
}

const ZERO_ADDRESS = new Address(new Uint8Array(16));

/**
 * The value `add` starts from when the key is missing (Broker's
 * `data::from_type`): zero, empty, false, `::`, `::/0`, `0/?`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { initialValue } from "./operations.ts";
 * deepEqual(initialValue("count"), { type: "count", value: 0n });
 * ```
 */
export function initialValue(type: DataType): Data {
  switch (type) {
    case "none":
      return { type, value: null };
    case "boolean":
      return { type, value: false };
    case "count":
    case "integer":
    case "timestamp":
    case "timespan":
      return { type, value: 0n };
    case "real":
      return { type, value: 0 };
    case "string":
    case "enum":
      return { type, value: "" };
    case "address":
      return { type, value: ZERO_ADDRESS };
    case "subnet":
      return { type, value: new Subnet(ZERO_ADDRESS, 0) };
    case "port":
      return { type, value: new Port(0, "unknown") };
    case "set":
    case "table":
    case "vector":
      return { type, value: [] };
  }
}

// C++ arithmetic on these types wraps; keep the values in their 64-bit ranges.
const wrapU64 = (x: bigint) => BigInt.asUintN(64, x);
const wrapI64 = (x: bigint) => BigInt.asIntN(64, x);

/** Index of the first element not less than `x` (binary search in Broker's order). */
function lowerBound<T>(items: readonly T[], x: Data, key: (t: T) => Data): number {
  let lo = 0, hi = items.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compare(key(items[mid]), x) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const utf8 = new TextEncoder();
const rawText = (d: { value: string; bytes?: Uint8Array }) => d.bytes ?? utf8.encode(d.value);

/**
 * Broker's `adder`: the value after `add(value)` on `current`. Numbers add
 * (count, integer, real, timespan; a timespan onto a timestamp), strings
 * append, vectors push, sets insert, tables insert a `(key, value)` vector.
 * Throws `type_clash` (or `invalid_data` for a table entry that is not a pair).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { addTo } from "./operations.ts";
 * import { count, dataToString, set, str } from "../data/mod.ts";
 * equal(dataToString(addTo(set(str("a")), str("b"))), "{a, b}");
 * equal(dataToString(addTo(count(1n), count(2n))), "3");
 * ```
 */
export function addTo(current: Data, value: Data): Data {
  switch (current.type) {
    case "count":
      if (value.type !== "count") clash(`cannot add ${value.type} to count`);
      return { type: "count", value: wrapU64(current.value + value.value) };
    case "integer":
    case "timespan":
      if (value.type !== current.type) clash(`cannot add ${value.type} to ${current.type}`);
      return { type: current.type, value: wrapI64(current.value + (value.value as bigint)) };
    case "real":
      if (value.type !== "real") clash(`cannot add ${value.type} to real`);
      return { type: "real", value: current.value + value.value };
    case "timestamp":
      if (value.type !== "timespan") clash(`cannot add ${value.type} to timestamp`);
      return { type: "timestamp", value: wrapI64(current.value + value.value) };
    case "string": {
      if (value.type !== "string") clash(`cannot add ${value.type} to string`);
      if (!current.bytes && !value.bytes) return str(current.value + value.value);
      const a = rawText(current), b = rawText(value);
      const joined = new Uint8Array(a.length + b.length);
      joined.set(a);
      joined.set(b, a.length);
      return str(joined);
    }
    case "vector":
      return { type: "vector", value: [...current.value, value] };
    case "set": {
      const items = current.value;
      const at = lowerBound(items, value, (d) => d);
      if (at < items.length && compare(items[at], value) === 0) return current;
      return { type: "set", value: [...items.slice(0, at), value, ...items.slice(at)] };
    }
    case "table": {
      if (value.type !== "vector") clash(`a table takes a (key, value) vector, not ${value.type}`);
      if (value.value.length !== 2) {
        throw new BrokerError(ErrorCode.invalid_data, "a table entry is a vector of two");
      }
      const [k, v] = value.value;
      const entries = current.value;
      const at = lowerBound(entries, k, (e) => e[0]);
      // Like `t[k] = v`: an existing entry keeps its key and takes the new value.
      const replace = at < entries.length && compare(entries[at][0], k) === 0;
      const entry = [replace ? entries[at][0] : k, v] as const;
      return {
        type: "table",
        value: [...entries.slice(0, at), entry, ...entries.slice(replace ? at + 1 : at)],
      };
    }
    default:
      return clash(`cannot add to ${current.type}`);
  }
}

/**
 * Broker's `remover`: the value after `subtract(value)` on `current`.
 * Numbers subtract (a timespan from a timestamp), sets and tables lose the
 * element or key, vectors lose their last element whatever `value` is.
 * Strings and everything else: `type_clash`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { subtractFrom } from "./operations.ts";
 * import { count, dataToString, vector } from "../data/mod.ts";
 * equal(dataToString(subtractFrom(vector(count(1n), count(2n)), count(9n))), "(1)");
 * ```
 */
export function subtractFrom(current: Data, value: Data): Data {
  switch (current.type) {
    case "count":
      if (value.type !== "count") clash(`cannot subtract ${value.type} from count`);
      return { type: "count", value: wrapU64(current.value - value.value) };
    case "integer":
    case "timespan":
      if (value.type !== current.type) {
        clash(`cannot subtract ${value.type} from ${current.type}`);
      }
      return { type: current.type, value: wrapI64(current.value - (value.value as bigint)) };
    case "real":
      if (value.type !== "real") clash(`cannot subtract ${value.type} from real`);
      return { type: "real", value: current.value - value.value };
    case "timestamp":
      if (value.type !== "timespan") clash(`cannot subtract ${value.type} from timestamp`);
      return { type: "timestamp", value: wrapI64(current.value - value.value) };
    case "vector":
      return current.value.length === 0
        ? current
        : { type: "vector", value: current.value.slice(0, -1) };
    case "set": {
      const items = current.value;
      const at = lowerBound(items, value, (d) => d);
      if (at === items.length || compare(items[at], value) !== 0) return current;
      return { type: "set", value: [...items.slice(0, at), ...items.slice(at + 1)] };
    }
    case "table": {
      const entries = current.value;
      const at = lowerBound(entries, value, (e) => e[0]);
      if (at === entries.length || compare(entries[at][0], value) !== 0) return current;
      return { type: "table", value: [...entries.slice(0, at), ...entries.slice(at + 1)] };
    }
    default:
      return clash(`cannot subtract from ${current.type}`);
  }
}

/**
 * Broker's `retriever` (`get(key, aspect)`): element `aspect` of a vector
 * (count or non-negative integer index), membership in a set (a boolean),
 * the value under key `aspect` in a table; any other value is returned whole.
 * Throws `no_such_key` for a missing index or table key, `type_clash` for a
 * vector index of another type.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { getAspect } from "./operations.ts";
 * import { count, dataToString, set, str } from "../data/mod.ts";
 * equal(dataToString(getAspect(set(str("a")), str("a"))), "T");
 * ```
 */
export function getAspect(value: Data, aspect: Data): Data {
  switch (value.type) {
    case "vector": {
      let index: bigint;
      if (aspect.type === "count") index = aspect.value;
      else if (aspect.type === "integer" && aspect.value >= 0n) index = aspect.value;
      else return clash(`a vector is indexed by a count, not ${aspect.type}`);
      if (index >= BigInt(value.value.length)) {
        throw new BrokerError(ErrorCode.no_such_key, `no index ${index}`);
      }
      return value.value[Number(index)];
    }
    case "set": {
      const at = lowerBound(value.value, aspect, (d) => d);
      return bool(at < value.value.length && compare(value.value[at], aspect) === 0);
    }
    case "table": {
      const at = lowerBound(value.value, aspect, (e) => e[0]);
      if (at === value.value.length || compare(value.value[at][0], aspect) !== 0) {
        throw new BrokerError(ErrorCode.no_such_key, "no such key in the table");
      }
      return value.value[at][1];
    }
    default:
      return value;
  }
}

/**
 * A store read as the master answers it: the value, or one aspect of it.
 * Throws `no_such_key` for a missing key.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { getValue } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { count, str, vector } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("v"), vector(str("x")));
 * deepEqual(getValue(b, str("v"), count(0n)), { type: "string", value: "x" });
 * ```
 */
export function getValue(backend: StoreBackend, key: Data, aspect?: Data): Data {
  const value = backend.get(key);
  if (value === undefined) throw new BrokerError(ErrorCode.no_such_key, "no such key");
  return aspect === undefined ? value : getAspect(value, aspect);
}

/**
 * The absolute expiry of a change made at `now` with a relative `expiry`
 * (both ns), as Broker's master computes it (`clock->now() + expiry` in
 * int64 nanoseconds): a sum past 2^63 - 1 wraps to a time long gone, so
 * such a key expires at the master's next tick, as on a C++ master (an
 * expiry more than ~234 years from now; clamping kept the key forever).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { expiresAt } from "./operations.ts";
 * equal(expiresAt(1_000n, 200n), 1200n);
 * equal(expiresAt(1_000n, null), null);
 * equal(expiresAt(1n, 2n ** 63n - 1n), -(2n ** 63n));
 * ```
 */
export function expiresAt(now: bigint, expiry: bigint | null): bigint | null {
  if (expiry === null) return null;
  return BigInt.asIntN(64, now + expiry);
}

// ------------------------------------------------------------------ commands

/**
 * `put`: stores the value with its expiry; the master re-broadcasts the
 * command unchanged (publisher and relative expiry included). `wantOld`
 * false skips reading the old value (only store events need it).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyPut } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const r = applyPut(new MemoryBackend(), {
 *   type: "put", key: str("k"), value: count(1n), expiry: 200_000_000n, publisher: NIL_ENTITY,
 * }, 1_000n);
 * equal(r.expiry, 200001000n);
 * ```
 */
export function applyPut(
  backend: StoreBackend,
  cmd: PutCommand,
  now: bigint,
  wantOld = true,
): Applied {
  // The old value only feeds store events; reading it costs a decode in the memory backend.
  const old = wantOld ? backend.get(cmd.key) : undefined;
  const expiry = expiresAt(now, cmd.expiry);
  backend.put(cmd.key, cmd.value, expiry);
  return { broadcast: [cmd], old, expiry };
}

/**
 * `put_unique`: stores only when the key is absent. Broadcasts `put` (with
 * the writer's publisher) and `put_unique_result{inserted: true}`, or only
 * `put_unique_result{inserted: false}`; results carry the master (`self`)
 * as publisher. A backend failure counts as not inserted, as in Broker.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyPutUnique } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * const cmd = {
 *   type: "put_unique", key: str("u"), value: count(1n), expiry: null,
 *   who: NIL_ENTITY, reqId: 1n, publisher: NIL_ENTITY,
 * } as const;
 * equal(applyPutUnique(b, cmd, 0n, NIL_ENTITY).inserted, true);
 * equal(applyPutUnique(b, cmd, 0n, NIL_ENTITY).inserted, false);
 * ```
 */
export function applyPutUnique(
  backend: StoreBackend,
  cmd: PutUniqueCommand,
  now: bigint,
  self: Entity,
): AppliedPutUnique {
  const result = (inserted: boolean): ActionCommand => ({
    type: "put_unique_result",
    inserted,
    who: cmd.who,
    reqId: cmd.reqId,
    publisher: self,
  });
  if (backend.exists(cmd.key)) return { broadcast: [result(false)], inserted: false };
  const expiry = expiresAt(now, cmd.expiry);
  try {
    backend.put(cmd.key, cmd.value, expiry);
  } catch (e) {
    if (!(e instanceof BrokerError && e.code === ErrorCode.backend_failure)) throw e;
    return { broadcast: [result(false)], inserted: false };
  }
  const put: PutCommand = {
    type: "put",
    key: cmd.key,
    value: cmd.value,
    expiry: cmd.expiry,
    publisher: cmd.publisher,
  };
  return { broadcast: [put, result(true)], inserted: true, expiry };
}

/**
 * `erase`: removes the key and re-broadcasts the command. A missing key is
 * `no_such_key` (Broker's master drops the command and broadcasts nothing).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyErase } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("k"), count(1n));
 * equal(applyErase(b, { type: "erase", key: str("k"), publisher: NIL_ENTITY }).broadcast.length, 1);
 * ```
 */
export function applyErase(backend: StoreBackend, cmd: EraseCommand, wantOld = true): Applied {
  const old = wantOld ? backend.get(cmd.key) : undefined;
  if (!backend.erase(cmd.key)) throw new BrokerError(ErrorCode.no_such_key, "nothing to erase");
  return { broadcast: [cmd], old, expiry: null };
}

/**
 * `add`: the stored value (or `initType`'s initial value for a missing key)
 * plus `value`, stored with the command's expiry; broadcast as a `put` of the
 * result without expiry.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyAdd } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { dataToString, integer, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * const r = applyAdd(b, {
 *   type: "add", key: str("vec"), value: integer(-7n), initType: "vector",
 *   expiry: null, publisher: NIL_ENTITY,
 * }, 0n);
 * const put = r.broadcast[0];
 * equal(put.type === "put" && dataToString(put.value), "(-7)");
 * ```
 */
export function applyAdd(backend: StoreBackend, cmd: AddCommand, now: bigint): Applied {
  const old = backend.get(cmd.key);
  // A missing key with init type none starts from nil, which nothing adds to.
  const value = addTo(old ?? initialValue(cmd.initType), cmd.value);
  const expiry = expiresAt(now, cmd.expiry);
  backend.put(cmd.key, value, expiry);
  return { broadcast: [resultPut(cmd, value)], old, expiry };
}

/**
 * `subtract`: the stored value minus `value`, stored with the command's
 * expiry; broadcast as a `put` of the result without expiry. Unlike `add`, a
 * missing key is an error (`no_such_key`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applySubtract } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, dataToString, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("n"), count(5n));
 * applySubtract(b, { type: "subtract", key: str("n"), value: count(2n), expiry: null, publisher: NIL_ENTITY }, 0n);
 * equal(dataToString(b.get(str("n"))!), "3");
 * ```
 */
export function applySubtract(backend: StoreBackend, cmd: SubtractCommand, now: bigint): Applied {
  const old = backend.get(cmd.key);
  if (old === undefined) throw new BrokerError(ErrorCode.no_such_key, "nothing to subtract from");
  const value = subtractFrom(old, cmd.value);
  const expiry = expiresAt(now, cmd.expiry);
  backend.put(cmd.key, value, expiry);
  return { broadcast: [resultPut(cmd, value)], old, expiry };
}

function resultPut(cmd: AddCommand | SubtractCommand, value: Data): PutCommand {
  return { type: "put", key: cmd.key, value, expiry: null, publisher: cmd.publisher };
}

/**
 * `clear`: removes every key (reported in `erased`) and re-broadcasts the
 * command.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyClear } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("k"), count(1n));
 * equal(applyClear(b, { type: "clear", publisher: NIL_ENTITY }).erased.length, 1);
 * ```
 */
export function applyClear(backend: StoreBackend, cmd: ClearCommand): AppliedClear {
  const erased = backend.keys();
  backend.clear();
  return { broadcast: [cmd], erased };
}

/**
 * The master's expiry check for one key (run each tick for keys whose time
 * has passed): when the backend removes it, broadcast `expire` with the
 * master (`self`) as publisher; a key that was since rewritten or erased
 * is left alone and nothing is broadcast.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyExpire } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const b = new MemoryBackend();
 * b.put(str("tmp"), count(1n), 100n);
 * equal(applyExpire(b, str("tmp"), 100n, NIL_ENTITY).broadcast[0].type, "expire");
 * ```
 */
export function applyExpire(
  backend: StoreBackend,
  key: Data,
  now: bigint,
  self: Entity,
): Applied {
  const old = backend.get(key);
  if (old === undefined || !backend.expire(key, now)) return { broadcast: [] };
  return { broadcast: [{ type: "expire", key, publisher: self }], old, expiry: null };
}

/**
 * Applies any action a writer sent, the way the master's `consume` does,
 * returning failures instead of throwing them: `error` is set and nothing
 * is broadcast. `expire` and `put_unique_result` only ever come from a
 * master, so a master receiving them reports `invalid_message`. With
 * `wantOld` false, `put` and `erase` skip reading the old value (nobody
 * watches the store's events).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { applyCommand } from "./operations.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { str } from "../data/mod.ts";
 * const r = applyCommand(new MemoryBackend(), {
 *   type: "subtract", key: str("missing"), value: str("x"), expiry: null, publisher: NIL_ENTITY,
 * }, 0n, NIL_ENTITY);
 * equal(r.error?.codeName, "no_such_key");
 * ```
 */
export function applyCommand(
  backend: StoreBackend,
  cmd: ActionCommand,
  now: bigint,
  self: Entity,
  wantOld = true,
): Applied & { readonly error?: BrokerError } {
  try {
    switch (cmd.type) {
      case "put":
        return applyPut(backend, cmd, now, wantOld);
      case "put_unique":
        return applyPutUnique(backend, cmd, now, self);
      case "erase":
        return applyErase(backend, cmd, wantOld);
      case "add":
        return applyAdd(backend, cmd, now);
      case "subtract":
        return applySubtract(backend, cmd, now);
      case "clear":
        return applyClear(backend, cmd);
      default:
        throw new BrokerError(ErrorCode.invalid_message, `a master does not apply ${cmd.type}`);
    }
  } catch (e) {
    const error = e instanceof BrokerError
      ? e
      : new BrokerError(ErrorCode.backend_failure, String(e), { cause: e });
    return { broadcast: [], error };
  }
}
