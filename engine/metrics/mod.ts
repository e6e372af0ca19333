/**
 * Observability: the metrics registry and its Prometheus text, the
 * endpoint's series (Broker's and ours), the status API's document, and
 * metrics over Broker topics in Broker's exporter layout. The endpoint
 * serves them (`Endpoint.listenMetrics`, the `metricsPort` option).
 *
 * @example
 * ```ts
 * import { parsePrometheus } from "./mod.ts";
 * console.log(parsePrometheus("x 1\n").get("x")); // 1
 * ```
 *
 * @module
 */
export { Histogram, type HistogramValue } from "../histogram.ts";
export {
  Counter,
  Gauge,
  mergeFamilies,
  type MetricFamilySnapshot,
  type MetricLabels,
  type MetricSample,
  MetricsRegistry,
  type MetricType,
  parsePrometheus,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
} from "./registry.ts";
export { type MessageTypeStatus, type NodeStatus, type PeeringStatus } from "./status_api.ts";
export {
  type CafMetricName,
  exportRows,
  type ImportedMetrics,
  MetricsCollector,
  parseExport,
} from "./topic_export.ts";
export { DEFAULT_METRICS_EXPORT_INTERVAL_MS } from "./exchange.ts";
export { METRICS_PATH, STATUS_PATH } from "./http_server.ts";
