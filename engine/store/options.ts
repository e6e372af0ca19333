/**
 * The timing options masters and clones share, and the defaults of every
 * store option as named constants (Broker's values from `lb/defaults.hh`
 * and `broker/defaults.hh` where Broker has one).
 *
 * Units are in the names: a duration ends in `Ms` (milliseconds); the
 * channel's cadences end in `Ticks`, counted in store ticks of
 * `tickIntervalMs` each, because that is what Broker configures and what
 * the wire carries (`ack_clone` and `attach_writer` send the heartbeat
 * interval in ticks); `connectionTimeoutFactor` counts heartbeat intervals.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import {
 *   DEFAULT_CONNECTION_TIMEOUT_FACTOR,
 *   DEFAULT_HEARTBEAT_INTERVAL_TICKS,
 *   DEFAULT_TICK_INTERVAL_MS,
 * } from "./options.ts";
 * // A peer that stays silent this long (ms) counts as gone: 50 s, as in Broker.
 * const silenceMs = DEFAULT_TICK_INTERVAL_MS * DEFAULT_HEARTBEAT_INTERVAL_TICKS *
 *   DEFAULT_CONNECTION_TIMEOUT_FACTOR;
 * equal(silenceMs, 50_000);
 * ```
 *
 * @module
 */
import { MAX_TIMER_MS } from "../timer_delay.ts";

/** Broker's store tick interval (`defaults::store::tick_interval`), in ms. */
export const DEFAULT_TICK_INTERVAL_MS = 100;
/** Ticks between heartbeats and between periodic acks (`defaults::store::heartbeat_interval`). */
export const DEFAULT_HEARTBEAT_INTERVAL_TICKS = 5;
/** Ticks without progress before a consumer nacks (`defaults::store::nack_timeout`). */
export const DEFAULT_NACK_TIMEOUT_TICKS = 2;
/** Heartbeat intervals of silence before a peer counts as gone (`connection_timeout_factor`). */
export const DEFAULT_CONNECTION_TIMEOUT_FACTOR = 100;
/** Most sequence numbers in one nack (ours: Broker has no limit). */
export const DEFAULT_MAX_NACK_SEQS = 4096;
/**
 * How far ahead of the next expected event a consumer buffers (ours: Broker
 * has no limit); later events are dropped and come again after a nack.
 */
export const DEFAULT_MAX_BUFFERED_EVENTS = 4096;
/** How long a clone's `putUnique` waits for the master's answer, in ms (Broker's 10 s). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
/**
 * How long a clone's reads wait for its master's first snapshot, in ms
 * (Broker's `broker.store.max-get-delay`, `defaults::store::max_get_delay`).
 */
export const DEFAULT_MAX_GET_DELAY_MS = 5_000;
/** Writes a clone keeps while it has no master (ours: Broker's buffer is unbounded). */
export const DEFAULT_MUTATION_BUFFER_SIZE = 8192;
/** Bytes of keys and values a clone keeps while it has no master (16 MiB). */
export const DEFAULT_MUTATION_BUFFER_BYTES = 16 << 20;
/** Broker's default `await_idle` timeout, in ms. */
export const DEFAULT_AWAIT_IDLE_MS = 15_000;
/** Events a `Store.events()` reader keeps before dropping the oldest. */
export const DEFAULT_STORE_EVENTS_CAPACITY = 1024;
/** Most writes per SQLite transaction. */
export const DEFAULT_SQLITE_BATCH_SIZE = 512;

/**
 * Timing settings of a store actor, master or clone (Broker's
 * `lb/defaults.hh`): how often it ticks and how many ticks its channels
 * wait before they keep alive, nack, or give up on the other side.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { StoreTimingOptions } from "./options.ts";
 * // Tests tick five times as fast as Broker.
 * const fast: StoreTimingOptions = { tickIntervalMs: 20 };
 * equal(fast.heartbeatIntervalTicks, undefined);
 * ```
 */
export interface StoreTimingOptions {
  /**
   * Milliseconds per tick.
   * @default 100 (`DEFAULT_TICK_INTERVAL_MS`)
   */
  tickIntervalMs?: number;
  /**
   * Ticks between keepalives (master) and between acks (clone); 0 disables
   * heartbeats and the timeouts built on them.
   * @default 5 (`DEFAULT_HEARTBEAT_INTERVAL_TICKS`)
   */
  heartbeatIntervalTicks?: number;
  /**
   * Ticks without progress before nacking.
   * @default 2 (`DEFAULT_NACK_TIMEOUT_TICKS`)
   */
  nackTimeoutTicks?: number;
  /**
   * Heartbeat intervals of silence before the other side counts as gone.
   * @default 100 (`DEFAULT_CONNECTION_TIMEOUT_FACTOR`)
   */
  connectionTimeoutFactor?: number;
}

/**
 * The tick interval `options` give (Broker's 100 ms unless given), checked:
 * more than 0 and at most 2^31 - 1 ms. A tick of 0 or less (or NaN) would
 * run a store's timer every millisecond, and so would a longer one, since a
 * timer fires a delay past that at once.
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { tickIntervalOf } from "./options.ts";
 * equal(tickIntervalOf({}), 100);
 * equal(tickIntervalOf({ tickIntervalMs: 20 }), 20);
 * throws(() => tickIntervalOf({ tickIntervalMs: 0 }), RangeError);
 * ```
 */
export function tickIntervalOf(options: StoreTimingOptions): number {
  const ms = options.tickIntervalMs ?? DEFAULT_TICK_INTERVAL_MS;
  if (!(ms > 0 && ms <= MAX_TIMER_MS)) {
    throw new RangeError(
      `tickIntervalMs must be more than 0 and at most ${MAX_TIMER_MS}, got ${ms}`,
    );
  }
  return ms;
}
