/**
 * When a ZeroMQ socket dials again, sans-I/O: libzmq's reconnect interval,
 * which Zeek 8 keeps at its defaults (its ZeroMQ backend sets neither
 * `ZMQ_RECONNECT_IVL` nor `ZMQ_RECONNECT_IVL_MAX`). Each wait is the
 * current interval plus a random part of the configured one (100 to 199 ms
 * by default, as Zeek's monitoring events show for every retry); with a
 * larger `ivlMaxMs`, the current interval doubles after each wait up to it
 * (libzmq's `stream_connecter_base_t::get_new_reconnect_ivl`). A loss of
 * an established connection waits once before the first dial, and a
 * connection that succeeds starts the intervals over. libzmq never stops
 * dialling (Zeek sets no `ZMQ_RECONNECT_STOP`), and neither does this.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { ReconnectInterval } from "./reconnect.ts";
 * const ivl = new ReconnectInterval();
 * const wait = ivl.next();
 * ok(wait >= 100 && wait < 200);
 * ```
 *
 * @module
 */

/** libzmq's default `ZMQ_RECONNECT_IVL`, kept by Zeek: 100 ms. */
export const ZMQ_RECONNECT_IVL_MS = 100;
/** libzmq's default `ZMQ_RECONNECT_IVL_MAX`, kept by Zeek: 0 (no back-off). */
export const ZMQ_RECONNECT_IVL_MAX_MS = 0;

/** Options of a {@link ReconnectInterval}. */
export interface ReconnectIntervalOptions {
  /** `ZMQ_RECONNECT_IVL`; at least 1. Default 100 ms. */
  ivlMs?: number;
  /** `ZMQ_RECONNECT_IVL_MAX`; 0 or at most `ivlMs`: no back-off. Default 0. */
  ivlMaxMs?: number;
  /** A number in [0, 1), for the random part (default `Math.random`). */
  random?: () => number;
}

/** The waits between dials of one socket (see the module doc). */
export class ReconnectInterval {
  readonly #ivl: number;
  readonly #max: number;
  readonly #random: () => number;
  #current: number;

  /** Intervals from the start. */
  constructor(options: ReconnectIntervalOptions = {}) {
    this.#ivl = Math.max(1, Math.floor(options.ivlMs ?? ZMQ_RECONNECT_IVL_MS));
    this.#max = Math.floor(options.ivlMaxMs ?? ZMQ_RECONNECT_IVL_MAX_MS);
    this.#random = options.random ?? Math.random;
    this.#current = this.#ivl;
  }

  /** The next wait in ms: the current interval plus a random part of the configured one. */
  next(): number {
    const wait = this.#current + Math.floor(this.#random() * this.#ivl);
    if (this.#max > this.#ivl) this.#current = Math.min(this.#current * 2, this.#max);
    return wait;
  }

  /** A connection succeeded: the next waits start from the configured interval again. */
  reset(): void {
    this.#current = this.#ivl;
  }

  /** The shortest wait there can be: dials per second stay below 1000 / this. */
  get minimumMs(): number {
    return this.#ivl;
  }
}
