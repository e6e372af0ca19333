/**
 * Fixed-bucket histograms, the one metric kept on hot paths (delivery
 * latency, peers' round trips): in a module of their own, below the metrics
 * registry, so that the code that observes them does not depend on it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Histogram } from "./histogram.ts";
 * const h = new Histogram([0.001, 0.01]);
 * h.observe(0.005);
 * equal(h.counts.join(), "0,1,0");
 * ```
 *
 * @module
 */

/**
 * A histogram's state: `bounds` are the buckets' upper bounds (ascending,
 * without +Inf), `counts` the observations per bucket (not cumulative), one
 * more than `bounds` (the last is the +Inf bucket), `sum` their sum.
 */
export interface HistogramValue {
  /** Upper bounds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket, `bounds.length + 1` of them (the last: above every bound). */
  readonly counts: readonly number[];
  /** Sum of the observed values. */
  readonly sum: number;
}

/** A histogram with fixed buckets. */
export class Histogram implements HistogramValue {
  /** Upper bounds, ascending, without +Inf. */
  readonly bounds: readonly number[];
  /** Observations per bucket (the last: above every bound). */
  readonly counts: number[];
  /** Sum of the observed values. */
  sum = 0;

  /** A histogram with these upper bounds (ascending). */
  constructor(bounds: readonly number[]) {
    this.bounds = [...bounds];
    this.counts = new Array(bounds.length + 1).fill(0);
  }

  /** Records one observation. */
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
  }
}
