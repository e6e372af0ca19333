/**
 * Metrics over Broker topics, the I/O half: an exporter that publishes the
 * node's metrics on a topic every interval (Broker's
 * `broker.metrics.export.*`), and an importer that reads other nodes'
 * exports from topics (`broker.metrics.import.topics`) into a
 * `MetricsCollector`. The layout is `topic_export.ts`'.
 *
 * @example
 * ```ts
 * import { exportEndpointName } from "./exchange.ts";
 * console.log(exportEndpointName("/zeek/metrics/worker-1")); // "worker-1"
 * ```
 *
 * @module
 */
import type { Data } from "../data/types.ts";
import type { DataMessage } from "../subscriber.ts";
import type { MetricFamilySnapshot } from "./registry.ts";
import { exportRows, MetricsCollector } from "./topic_export.ts";
import { timerDelay } from "../timer_delay.ts";

/** Broker's default export interval: 1 s. */
export const DEFAULT_METRICS_EXPORT_INTERVAL_MS = 1000;

/** Options of metrics over topics (Broker's `broker.metrics.*`). */
export interface MetricsExchangeOptions {
  /** `broker.metrics.export.topic`: publish our metrics there. */
  exportTopic?: string;
  /** `broker.metrics.export.interval`, ms. @default {1000} */
  exportIntervalMs?: number;
  /** `broker.metrics.export.prefixes`: only these CAF prefixes (e.g. `broker`); all when empty. */
  exportPrefixes?: readonly string[];
  /** `broker.metrics.endpoint-name`: our name in exports (default: what follows the export topic's last `/`). */
  endpointName?: string;
  /** `broker.metrics.import.topics`: collect other nodes' exports from these topics. */
  importTopics?: readonly string[];
}

/** A subscription the importer reads. */
export interface ExchangeSubscription {
  /** The next message; undefined once closed. */
  get(): Promise<DataMessage | undefined>;
}

/** What the exchange works with. */
export interface ExchangeHost {
  /** Our metrics now. */
  families(): MetricFamilySnapshot[];
  /** Publishes on a topic. */
  publish(topic: string, data: Data): void;
  /** Subscribes to topics. */
  subscribe(topics: string[]): ExchangeSubscription;
}

/**
 * Broker's default endpoint name for an export, `topic::suffix()`: what
 * follows the topic's last `/` (empty when it ends in one, as
 * `/zeek/metrics/` does), the whole topic when it has none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { exportEndpointName } from "./exchange.ts";
 * equal(exportEndpointName("/zeek/metrics/worker-1"), "worker-1");
 * equal(exportEndpointName("/zeek/metrics/"), "");
 * equal(exportEndpointName("metrics"), "metrics");
 * ```
 */
export function exportEndpointName(topic: string): string {
  return topic.slice(topic.lastIndexOf("/") + 1);
}

/** Runs an endpoint's export timer and import subscription. */
export class MetricsExchange {
  /** What was imported. */
  readonly collector: MetricsCollector = new MetricsCollector();
  /** Exports sent so far. */
  exports = 0;
  readonly #timer?: ReturnType<typeof setInterval>;
  readonly #reading?: Promise<void>;
  #stopped = false;

  /** Starts exporting and importing as `options` say (nothing when they say nothing). */
  constructor(host: ExchangeHost, options: MetricsExchangeOptions) {
    const topic = options.exportTopic;
    if (topic) {
      const name = options.endpointName || exportEndpointName(topic);
      const prefixes = options.exportPrefixes ?? [];
      const interval = options.exportIntervalMs ?? DEFAULT_METRICS_EXPORT_INTERVAL_MS;
      if (!(interval > 0)) {
        throw new RangeError(`metrics export interval must be > 0, got ${interval}`);
      }
      this.#timer = setInterval(() => {
        if (this.#stopped) return;
        const rows = exportRows(
          name,
          BigInt(Date.now()) * 1_000_000n,
          host.families(),
          prefixes,
        );
        // As Broker: nothing goes out when there is only the meta row.
        if (rows.type === "vector" && rows.value.length > 1) {
          try {
            host.publish(topic, rows);
            this.exports++;
          } catch {
            // the endpoint shut down between ticks
          }
        }
      }, timerDelay(interval));
      Deno.unrefTimer(this.#timer);
    }
    if (options.importTopics && options.importTopics.length > 0) {
      const sub = host.subscribe([...options.importTopics]);
      this.#reading = (async () => {
        while (!this.#stopped) {
          const m = await sub.get();
          if (!m) return;
          this.collector.update(m.data);
        }
      })();
    }
  }

  /** Stops the timer (the subscription ends when the endpoint closes its subscribers). */
  stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    return this.#reading ?? Promise.resolve();
  }
}
