/**
 * How long data messages wait for their readers: from arrival at the
 * endpoint (or a local publish) to a subscriber taking the message, as the
 * `broker_delivery_latency_seconds` histogram. One message in
 * {@linkcode DELIVERY_SAMPLE_EVERY} is stamped, so the hot path pays a
 * counter and a branch, and a clock read only on the sampled ones.
 *
 * @example
 * ```ts
 * import { DELIVERY_SAMPLE_EVERY, DeliveryLatency } from "./delivery_latency.ts";
 * const latency = new DeliveryLatency();
 * const stamps = Array.from({ length: DELIVERY_SAMPLE_EVERY }, () => latency.stamp());
 * for (const at of stamps) latency.taken(at);
 * const observed = latency.histogram.counts.reduce((a, b) => a + b, 0);
 * if (observed !== 1) throw new Error("one message in DELIVERY_SAMPLE_EVERY is sampled");
 * ```
 *
 * @module
 */
import { Histogram } from "./histogram.ts";

/** One message in this many is timed (a power of two). */
export const DELIVERY_SAMPLE_EVERY = 16;

/** Bucket bounds of the histogram, seconds. */
export const DELIVERY_BUCKETS: readonly number[] = [
  0.0001,
  0.0005,
  0.001,
  0.005,
  0.01,
  0.05,
  0.1,
  0.5,
  1,
  5,
];

/** The sampled delivery latency of one endpoint's subscribers. */
export class DeliveryLatency {
  /** Sampled waits, seconds. */
  readonly histogram: Histogram = new Histogram(DELIVERY_BUCKETS);
  #n = 0;

  /** The stamp for a message entering a queue: the time for sampled ones, else 0. */
  stamp(): number {
    return (++this.#n & (DELIVERY_SAMPLE_EVERY - 1)) === 0 ? performance.now() : 0;
  }

  /** A message stamped `at` was handed to a reader. */
  taken(at: number): void {
    if (at !== 0) this.histogram.observe((performance.now() - at) / 1000);
  }
}
