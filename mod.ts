/**
 * deno-broker: a Deno implementation of Zeek's Broker, wire-compatible with
 * the C++ Broker. This module is the supported API, listed name by name:
 * the data model and its binary codec, `Endpoint` (peering over TCP and
 * TLS, subscribers, publishers, statuses), data stores (masters and clones,
 * memory and SQLite backends), Zeek's message layouts, and the WebSocket
 * JSON API (server and client). `./browser` is the browser-safe subset and
 * `./cli` the `broker` command line; internals are not exported.
 *
 * @example
 * ```ts
 * import { count, dataToString, decode, encode, port, set, str, vector } from "./mod.ts";
 * const bytes = encode(vector(str("conn"), port(443, "tcp"), set(count(2n), count(1n))));
 * console.log(dataToString(decode(bytes))); // "(conn, 443/tcp, {1, 2})"
 * ```
 *
 * @module
 */
export { BrokerError, ErrorCode } from "./engine/errors.ts";
export * from "./engine/data/api.ts";
export {
  Endpoint,
  type EndpointOptions,
  type PeerDescription,
  type PeerOptions,
} from "./engine/endpoint.ts";
export {
  type DataMessage,
  type PendingMessage,
  Subscriber,
  type SubscriberOptions,
} from "./engine/subscriber.ts";
export { BoundedQueue, type OverflowPolicy } from "./engine/queue.ts";
export { Publisher, type PublisherOptions } from "./engine/publisher.ts";
export { type PeerInfo, StatusCode, type StatusEvent } from "./engine/status.ts";
export {
  connectWebSocket,
  type ServerError,
  WEB_SOCKET_PATH,
  WebSocketClient,
  type WebSocketClientOptions,
  type WebSocketClientStats,
  type WebSocketMessage,
  type WebSocketOverflowPolicy,
  WebSocketServer,
  type WebSocketServerOptions,
} from "./engine/websocket/mod.ts";
export { type PublishOptions, type RecordedFrame } from "./engine/endpoint.ts";
export type { CommandBus, CommandMessage } from "./engine/store/command_bus.ts";
export type { SslOptions } from "./engine/transport/tls.ts";
export type { EndpointId } from "./engine/wire/endpoint_id.ts";
export { tcpWebSocket } from "./engine/websocket/tcp_socket.ts";
export { type SocketLike } from "./engine/websocket/client.ts";
export {
  dataFromJson,
  type DataFromJsonOptions,
  dataMessageToJson,
  dataToJson,
  dataToJsonBytes,
  type DataToJsonOptions,
  dataToJsonValue,
  JSON_TYPE_NAMES,
  type JsonDataValue,
} from "./engine/data/json.ts";
export * from "./engine/zeek/mod.ts";
export { Store, type WriteOptions } from "./engine/store/store.ts";
export { type MasterOptions } from "./engine/store/master.ts";
export { type CloneOptions } from "./engine/store/clone.ts";
export type { StoreBackend, StoreEntry } from "./engine/store/backend.ts";
export { MemoryBackend } from "./engine/store/memory_backend.ts";
export {
  SqliteBackend,
  type SqliteBackendOptions,
  type SqliteFailureMode,
  type SqliteJournalMode,
  type SqliteSynchronous,
} from "./engine/store/sqlite_backend.ts";
export type { Entity } from "./engine/store/entity.ts";
export {
  STORE_EVENTS_TOPIC,
  type StoreEraseEvent,
  type StoreEvent,
  type StoreEventsOptions,
  storeEventToData,
  type StoreExpireEvent,
  type StoreInsertEvent,
  type StoreUpdateEvent,
} from "./engine/store/events.ts";
export {
  Counter,
  DEFAULT_METRICS_EXPORT_INTERVAL_MS,
  exportRows,
  Gauge,
  Histogram,
  type HistogramValue,
  type ImportedMetrics,
  mergeFamilies,
  type MessageTypeStatus,
  type MetricFamilySnapshot,
  type MetricLabels,
  METRICS_PATH,
  type MetricSample,
  MetricsCollector,
  MetricsRegistry,
  type MetricType,
  type NodeStatus,
  parseExport,
  parsePrometheus,
  type PeeringStatus,
  PROMETHEUS_CONTENT_TYPE,
  renderPrometheus,
  STATUS_PATH,
} from "./engine/metrics/mod.ts";
