/**
 * Store events: what Broker's master and clone actors report about each
 * change to their copy (`store_event.hh`, `store_actor.cc`). Broker
 * publishes them as data messages on `<$>/local/data/store-events/<store>`;
 * here they are also handed to in-process readers through `Store.events()`.
 *
 * The data layout (`storeEventToData`) is Broker's:
 *
 * - `("insert", store, key, value, expiry, publisher_endpoint, publisher_object)`
 * - `("update", store, key, old_value, new_value, expiry, publisher_endpoint, publisher_object)`
 * - `("erase", store, key, publisher_endpoint, publisher_object)`
 * - `("expire", store, key, publisher_endpoint, publisher_object)`
 *
 * `expiry` is a relative timespan or nil; the publisher is the endpoint ID
 * as text plus the object ID as count, or nil, nil for "no publisher".
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { storeEventToData } from "./events.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { dataToString, str } from "../data/mod.ts";
 * const d = storeEventToData({ type: "erase", store: "kv", key: str("a"), publisher: NIL_ENTITY });
 * equal(dataToString(d), "(erase, kv, a, nil, nil)");
 * ```
 *
 * @module
 */
import { count, type Data, none, str, timespan, vector } from "../data/mod.ts";
import { BoundedQueue } from "../queue.ts";
import { endpointIdToString } from "../wire/endpoint_id.ts";
import { type Entity, isNilEntity } from "./entity.ts";
import { DEFAULT_STORE_EVENTS_CAPACITY } from "./options.ts";

/** The topic prefix Broker publishes store events under (the store's name follows). */
export const STORE_EVENTS_TOPIC = "<$>/local/data/store-events";

/** A key got its first value. */
export interface StoreInsertEvent {
  /** What happened. */
  readonly type: "insert";
  /** The store's name. */
  readonly store: string;
  /** The key concerned. */
  readonly key: Data;
  /** Its value. */
  readonly value: Data;
  /** Relative expiry in nanoseconds as written, or null. */
  readonly expiry: bigint | null;
  /** Who made the change (nil for a change the store itself inferred). */
  readonly publisher: Entity;
}

/** A key's value changed. */
export interface StoreUpdateEvent {
  /** What happened. */
  readonly type: "update";
  /** The store's name. */
  readonly store: string;
  /** The key concerned. */
  readonly key: Data;
  /** The value before. */
  readonly oldValue: Data;
  /** The value after. */
  readonly newValue: Data;
  /** Relative expiry in nanoseconds as written, or null. */
  readonly expiry: bigint | null;
  /** Who made the change (nil for a change the store itself inferred). */
  readonly publisher: Entity;
}

/** A key was removed by `erase` or `clear`. */
export interface StoreEraseEvent {
  /** What happened. */
  readonly type: "erase";
  /** The store's name. */
  readonly store: string;
  /** The key concerned. */
  readonly key: Data;
  /** Who made the change (nil for a change the store itself inferred). */
  readonly publisher: Entity;
}

/** A key was removed because its expiry passed (publisher: the master). */
export interface StoreExpireEvent {
  /** What happened. */
  readonly type: "expire";
  /** The store's name. */
  readonly store: string;
  /** The key concerned. */
  readonly key: Data;
  /** Who made the change (nil for a change the store itself inferred). */
  readonly publisher: Entity;
}

/** One store event. */
export type StoreEvent = StoreInsertEvent | StoreUpdateEvent | StoreEraseEvent | StoreExpireEvent;

/**
 * Broker's data form of an event (the vector it publishes).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { storeEventToData } from "./events.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { count, str } from "../data/mod.ts";
 * const d = storeEventToData({
 *   type: "insert", store: "kv", key: str("a"), value: count(1n), expiry: null, publisher: NIL_ENTITY,
 * });
 * equal(d.type === "vector" && d.value.length, 7);
 * ```
 */
export function storeEventToData(e: StoreEvent): Data {
  const head = [str(e.type), str(e.store), e.key];
  switch (e.type) {
    case "insert":
      return vector(...head, e.value, expiryData(e.expiry), ...publisherData(e.publisher));
    case "update":
      return vector(
        ...head,
        e.oldValue,
        e.newValue,
        expiryData(e.expiry),
        ...publisherData(e.publisher),
      );
    case "erase":
    case "expire":
      return vector(...head, ...publisherData(e.publisher));
  }
}

function expiryData(expiry: bigint | null): Data {
  return expiry === null ? none() : timespan(expiry);
}

function publisherData(p: Entity): [Data, Data] {
  // Broker writes an unset entity as two nils rather than a zero UUID.
  if (isNilEntity(p)) return [none(), none()];
  return [str(endpointIdToString(p.endpoint)), count(p.object)];
}

/** Options of `Store.events()`. */
export interface StoreEventsOptions {
  /**
   * Events kept before the oldest are dropped (counted in `dropped`).
   * @default 1024 (`DEFAULT_STORE_EVENTS_CAPACITY`)
   */
  capacity?: number;
}

/**
 * Fans a store's events out to its readers. Each reader is a bounded
 * queue that drops its oldest event when full, so a slow reader never
 * stalls the store. With no readers, `emit` is never called with work:
 * callers check `active` first, which keeps the write path free of event
 * allocation.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { StoreEventHub } from "./events.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { str } from "../data/mod.ts";
 * const hub = new StoreEventHub("kv");
 * const q = hub.subscribe({ capacity: 1 });
 * hub.erase(str("a"), NIL_ENTITY);
 * hub.erase(str("b"), NIL_ENTITY);
 * equal(q.poll().length, 1);
 * equal(q.dropped, 1);
 * ```
 */
/** Where a hub also publishes its events: the endpoint's own subscribers. */
export interface StoreEventSink {
  /** Whether a local subscriber wants `topic`. */
  hasLocalSubscriber(topic: string): boolean;
  /** Hands a value to the local subscribers of `topic`. */
  deliverLocal(topic: string, data: Data): void;
}

/** Fans a store's events out to its readers and, when asked, its event topic. */
export class StoreEventHub {
  readonly #store: string;
  readonly #sink?: StoreEventSink;
  readonly #topic: string;
  #readers: BoundedQueue<StoreEvent>[] = [];

  /**
   * A hub for the store called `store`; with a sink, events also go to the
   * endpoint's subscribers of `<$>/local/data/store-events/<store>`, as Broker publishes them.
   */
  constructor(store: string, sink?: StoreEventSink) {
    this.#store = store;
    this.#sink = sink;
    this.#topic = `${STORE_EVENTS_TOPIC}/${store}`;
  }

  /** Whether anyone listens (closed readers are pruned lazily). */
  get active(): boolean {
    return this.#readers.length > 0 || (this.#sink?.hasLocalSubscriber(this.#topic) ?? false);
  }

  /** A new reader; closing the queue unsubscribes it. */
  subscribe(options: StoreEventsOptions = {}): BoundedQueue<StoreEvent> {
    const q = new BoundedQueue<StoreEvent>(
      options.capacity ?? DEFAULT_STORE_EVENTS_CAPACITY,
      "drop_oldest",
    );
    this.#readers.push(q);
    return q;
  }

  /** Reports an insert or, with `old` set, an update. */
  put(key: Data, value: Data, old: Data | undefined, expiry: bigint | null, publisher: Entity) {
    if (old === undefined) this.insert(key, value, expiry, publisher);
    else {
      this.#emit({
        type: "update",
        store: this.#store,
        key,
        oldValue: old,
        newValue: value,
        expiry,
        publisher,
      });
    }
  }

  /** Reports an insert. */
  insert(key: Data, value: Data, expiry: bigint | null, publisher: Entity): void {
    this.#emit({ type: "insert", store: this.#store, key, value, expiry, publisher });
  }

  /** Reports an erase. */
  erase(key: Data, publisher: Entity): void {
    this.#emit({ type: "erase", store: this.#store, key, publisher });
  }

  /** Reports an expiry. */
  expire(key: Data, publisher: Entity): void {
    this.#emit({ type: "expire", store: this.#store, key, publisher });
  }

  /** Ends every reader (they drain what is queued, then end). */
  close(): void {
    for (const q of this.#readers) q.close();
    this.#readers = [];
  }

  #emit(e: StoreEvent): void {
    if (this.#sink?.hasLocalSubscriber(this.#topic)) {
      this.#sink.deliverLocal(this.#topic, storeEventToData(e));
    }
    let pruned = false;
    for (const q of this.#readers) {
      if (q.closed) pruned = true;
      else q.push(e);
    }
    if (pruned) this.#readers = this.#readers.filter((q) => !q.closed);
  }
}
