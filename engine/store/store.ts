/**
 * `Store`: the application's handle on a data store, the same API for a
 * master and a clone (Broker's `broker::store`). Every call returns a
 * promise; writes on a clone resolve once queued for the master (as in
 * Broker, a clone learns nothing about how the master applied a write; a
 * clone whose master-less buffer is full refuses it with `no_such_master`),
 * reads on a clone come from its local copy.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { Endpoint } from "../endpoint.ts";
 * import { count, str } from "../data/mod.ts";
 * const ep = new Endpoint();
 * const kv = ep.attachMaster("kv");
 * await kv.increment(str("hits"));
 * await kv.increment(str("hits"), count(2n));
 * deepEqual(await kv.get(str("hits")), { type: "count", value: 3n });
 * kv.close();
 * await ep.shutdown();
 * ```
 *
 * @module
 */
import { count, type Data, type DataType, vector } from "../data/mod.ts";
import type { ActionCommand } from "./commands.ts";
import type { Entity } from "./entity.ts";
import type { StoreEvent, StoreEventsOptions } from "./events.ts";
import type { BoundedQueue } from "../queue.ts";
import { expiryNs, type StoreActor } from "./store_common.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { DEFAULT_AWAIT_IDLE_MS } from "./options.ts";

/** Options of writes that may set an expiry. */
export interface WriteOptions {
  /**
   * Time to live: a number is milliseconds, a bigint nanoseconds, counted
   * from when the master applies the write; the master removes the key when
   * due. As in Broker's master, every write that changes the key sets its
   * expiry anew from its own option: a later write with an expiry restarts
   * the clock, and one without (a `put`, `increment`, `push`, ... with no
   * `expiry`) removes the expiry, so the key then stays until erased.
   */
  expiry?: number | bigint;
}

/** A write before the handle adds its publisher. */
type Unpublished = ActionCommand extends infer C
  ? C extends ActionCommand ? Omit<C, "publisher"> : never
  : never;

/**
 * The type a missing key starts from under `increment`, as Broker's
 * `store::increment` picks it (`store.hh`): the amount's own type for
 * count, integer and real, a timestamp for a timespan, none otherwise.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { incrementInitType } from "./store.ts";
 * import { timespan } from "../data/mod.ts";
 * equal(incrementInitType(timespan(5n)), "timestamp");
 * ```
 */
export function incrementInitType(amount: Data): DataType {
  switch (amount.type) {
    case "count":
    case "integer":
    case "real":
      return amount.type;
    case "timespan":
      return "timestamp";
    default:
      return "none";
  }
}

/**
 * A handle on a store (master or clone).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "../endpoint.ts";
 * import { set, str } from "../data/mod.ts";
 * const ep = new Endpoint();
 * const kv = ep.attachMaster("kv");
 * await kv.insertInto(str("s"), str("x"));
 * equal(await kv.exists(str("s")), true);
 * kv.close();
 * await ep.shutdown();
 * ```
 */
export class Store {
  readonly #live: StoreActor;
  readonly #release?: () => void;
  #released = false;

  /**
   * Wraps a master or clone actor (use `Endpoint.attachMaster` /
   * `attachClone`). `release` runs on `close` instead of closing the actor,
   * when several handles share it.
   */
  constructor(actor: StoreActor, release?: () => void) {
    this.#live = actor;
    this.#release = release;
  }

  // Every use goes through here: a closed handle fails like a closed store,
  // even while other handles keep the actor running.
  get #actor(): StoreActor {
    if (this.#released) {
      throw new BrokerError(ErrorCode.shutting_down, `store ${this.#live.name} closed`);
    }
    return this.#live;
  }

  /** The store's name. */
  get name(): string {
    return this.#live.name;
  }

  /** Whether this handle is the master. */
  get isMaster(): boolean {
    return this.#live.isMaster;
  }

  /** The actor's entity (publisher of this handle's writes). */
  get id(): Entity {
    return this.#live.id;
  }

  /** Master: clones that completed the handshake; clone: its master, once attached. */
  get peers(): Entity[] {
    return this.#live.peers;
  }

  /** Master: clones whose writer channel is open; clone: empty. */
  get writers(): Entity[] {
    return this.#live.writers;
  }

  /** Whether `close` ran on this handle, or the store closed (e.g. the endpoint shut down). */
  get closed(): boolean {
    return this.#released || this.#live.closed;
  }

  /** The value under key, or with `aspect` one element of it; rejects with `no_such_key`. */
  get(key: Data, aspect?: Data): Promise<Data> {
    return this.#call(() => this.#actor.get(key, aspect));
  }

  /** Whether key exists. */
  exists(key: Data): Promise<boolean> {
    return this.#call(() => this.#actor.exists(key));
  }

  /** All keys. */
  keys(): Promise<Data[]> {
    return this.#call(() => this.#actor.keys());
  }

  /** Sets key to value. */
  put(key: Data, value: Data, options?: WriteOptions): Promise<void> {
    // Built whole here (not through #write's spread): puts are the hot path.
    try {
      const expiry = options?.expiry === undefined ? null : expiryNs(options.expiry);
      return this.#actor.write({ type: "put", key, value, expiry, publisher: this.#actor.id });
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Sets key only when absent; resolves whether it did (a clone asks the master). */
  putUnique(key: Data, value: Data, options: WriteOptions = {}): Promise<boolean> {
    return this.#call(() => this.#actor.putUnique(key, value, expiryNs(options.expiry)));
  }

  /** Removes key (on the master: rejects with `no_such_key` when absent). */
  erase(key: Data): Promise<void> {
    return this.#write(() => ({ type: "erase", key }));
  }

  /** Removes every key. */
  clear(): Promise<void> {
    return this.#write(() => ({ type: "clear" }));
  }

  /**
   * Adds `amount` (default count 1). A missing key starts as Broker's
   * `store::increment` has it: from zero for a count, integer or real amount,
   * from the epoch (a timestamp) for a timespan amount; for any other amount
   * the master refuses a missing key with `type_clash`.
   */
  increment(key: Data, amount: Data = count(1n), options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "add",
      key,
      value: amount,
      initType: incrementInitType(amount),
      expiry: expiryNs(options.expiry),
    }));
  }

  /**
   * Appends the string `suffix` to the string under key; a missing key
   * starts as the empty string (Broker's `store::append`, Zeek's
   * `Broker::append`: an `add` whose initial type is string, which
   * `increment` with a string cannot give). The master refuses a value that
   * is no string with `type_clash`.
   */
  append(key: Data, suffix: Data, options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "add",
      key,
      value: suffix,
      initType: "string",
      expiry: expiryNs(options.expiry),
    }));
  }

  /** Subtracts `amount` (default count 1). */
  decrement(key: Data, amount: Data = count(1n), options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "subtract",
      key,
      value: amount,
      expiry: expiryNs(options.expiry),
    }));
  }

  /**
   * Inserts `element` into the set under key, or with `value` the pair into
   * the table under key (a missing key starts as an empty set or table).
   */
  insertInto(key: Data, element: Data, value?: Data, options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "add",
      key,
      value: value === undefined ? element : vector(element, value),
      initType: value === undefined ? "set" : "table",
      expiry: expiryNs(options.expiry),
    }));
  }

  /** Removes `element` from the set, or the key `element` from the table, under key. */
  removeFrom(key: Data, element: Data, options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "subtract",
      key,
      value: element,
      expiry: expiryNs(options.expiry),
    }));
  }

  /** Appends to the vector under key (a missing key starts as an empty vector). */
  push(key: Data, value: Data, options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "add",
      key,
      value,
      initType: "vector",
      expiry: expiryNs(options.expiry),
    }));
  }

  /**
   * Removes the last element of the vector under key. On the wire this is
   * Broker's `store::pop`: a `subtract` whose value is the key itself (a
   * vector ignores the value; a set or table would lose that element).
   */
  pop(key: Data, options: WriteOptions = {}): Promise<void> {
    return this.#write(() => ({
      type: "subtract",
      key,
      value: key,
      expiry: expiryNs(options.expiry),
    }));
  }

  /**
   * A new reader of this store's events (insert, update, erase, expire), as
   * Broker publishes them on `<$>/local/data/store-events`: a bounded queue
   * (`get(timeout)`, `poll()`, `for await`) that drops its oldest event when
   * full and counts drops in `dropped`. Only changes after the call are
   * reported; `close()` on the queue unsubscribes, closing the store ends it.
   * `storeEventToData` gives Broker's vector layout.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Endpoint } from "../endpoint.ts";
   * import { count, str } from "../data/mod.ts";
   * const ep = new Endpoint();
   * const kv = ep.attachMaster("kv");
   * const events = kv.events({ capacity: 100 });
   * await kv.put(str("a"), count(1n));
   * await kv.put(str("a"), count(2n));
   * equal((await events.get(100))?.type, "insert");
   * equal((await events.get(100))?.type, "update");
   * kv.close();
   * await ep.shutdown();
   * ```
   */
  events(options?: StoreEventsOptions): BoundedQueue<StoreEvent> {
    return this.#actor.events(options);
  }

  /**
   * Resolves true once nothing is in flight; false after `timeoutMs`
   * (`DEFAULT_AWAIT_IDLE_MS`: 15 s), or when the store is closed or closes
   * during the wait (this handle, its last one, or the endpoint's shutdown),
   * as Broker's `store::await_idle` is false for a reset store or one its
   * endpoint shut down: what it still held goes nowhere.
   */
  awaitIdle(timeoutMs = DEFAULT_AWAIT_IDLE_MS): Promise<boolean> {
    if (this.#released) return Promise.resolve(false);
    return this.#call(() => this.#actor.awaitIdle(timeoutMs));
  }

  /**
   * Detaches this handle. When it was the last one, the store stops: its
   * timer ends, and a master closes its backend.
   */
  close(): void {
    if (this.#released) return;
    this.#released = true;
    if (this.#release) this.#release();
    else this.#live.close();
  }

  /** `make` runs inside the guard: a bad expiry rejects like any other failure. */
  #write(make: () => Unpublished): Promise<void> {
    return this.#call(() =>
      this.#actor.write({ ...make(), publisher: this.#actor.id } as ActionCommand)
    );
  }

  /** Turns synchronous throws (closed store) into rejections. */
  #call<T>(f: () => Promise<T>): Promise<T> {
    try {
      return f();
    } catch (e) {
      return Promise.reject(e);
    }
  }
}
