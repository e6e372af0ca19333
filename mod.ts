/**
 * deno-broker: a Deno implementation of Zeek's Broker, wire-compatible with
 * the C++ Broker. This module is the supported API, listed name by name:
 *
 * - the data model: Broker's 15 types, their constructors, order, text form
 *   and binary codec (`encode`, `decode`, `dataToString`), and Broker's
 *   JSON form (`dataToJson`, `dataFromJson`);
 * - `Endpoint`: peering over TCP and TLS, subscribers, publishers, statuses;
 * - data stores: `Store` handles on masters and clones, memory and SQLite
 *   backends, store events;
 * - Zeek's message layouts (events, log create and write, identifier
 *   updates, batches);
 * - the WebSocket JSON API: the server an endpoint hosts and a client;
 * - Zeek 8's ZeroMQ cluster backend: `ZeekZmqNode`, `ZmqProxyServer`, and
 *   `ZeromqBridge` between it and the Broker protocol.
 *
 * Errors are `BrokerError`s with Broker's `ErrorCode`. Options name their
 * unit (`…Ms`, `…Ticks`, `…Bytes`) and document their defaults. Other entry
 * points: `./browser`, the browser-safe subset (data model, JSON and the
 * WebSocket client), and `./cli`, the `broker` command line. Everything
 * else under `engine/` is internal and may change without notice.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, dataToString, decode, encode, port, set, str, vector } from "./mod.ts";
 * const bytes = encode(vector(str("conn"), port(443, "tcp"), set(count(2n), count(1n))));
 * equal(dataToString(decode(bytes)), "(conn, 443/tcp, {1, 2})");
 * ```
 *
 * @module
 */
// The browser-safe subset, a curated list of its own: errors, the data
// model and its binary codec, Broker's JSON form, the WebSocket client.
export * from "./browser.ts";

// The endpoint: peering, publishing, subscribing, statuses.
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_HANDSHAKE_FRAME_SIZE,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_OVERFLOW_POLICY,
  DEFAULT_PEER_BUFFER_BYTES,
  DEFAULT_PEER_BUFFER_SIZE,
  DEFAULT_RETRY_MS,
  DEFAULT_STATUS_QUEUE_SIZE,
  DEFAULT_UNPEER_TIMEOUT_MS,
  Endpoint,
  type EndpointOptions,
  type PeerDescription,
  type PeerOptions,
  type PublishOptions,
  type RecordedFrame,
  type StatusSubscriberOptions,
} from "./engine/endpoint.ts";
export type { EndpointId } from "./engine/wire/endpoint_id.ts";
export type { SslOptions } from "./engine/transport/tls.ts";
export { type DataMessage, Subscriber, type SubscriberOptions } from "./engine/subscriber.ts";
export { CallbackSubscription, type MessageCallback } from "./engine/callback_subscription.ts";
export { Publisher, type PublisherOptions } from "./engine/publisher.ts";
export { BoundedQueue, type OverflowPolicy } from "./engine/queue.ts";
export { type PeerInfo, StatusCode, type StatusEvent } from "./engine/status.ts";
export { ERROR_TOPIC, STATUS_TOPIC, statusToData, statusTopicOf } from "./engine/status_data.ts";
// A message still encoded, as `Subscriber.getEncoded` and `pollEncoded` hand it over.
export type { PendingMessage } from "./engine/subscriber.ts";

// Data stores.
export { Store, type WriteOptions } from "./engine/store/store.ts";
export type { StoreTimingOptions } from "./engine/store/options.ts";
export type { MasterOptions } from "./engine/store/master.ts";
export type { CloneOptions } from "./engine/store/clone.ts";
export type { StoreBackend, StoreEntry } from "./engine/store/backend.ts";
export { MemoryBackend, type SnapshotChanges } from "./engine/store/memory_backend.ts";
export type { StateSpans } from "./engine/store/commands.ts";
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

// Zeek's message layouts.
export {
  Batch,
  Event,
  type EventOptions,
  IdentifierUpdate,
  type IdentifierUpdateOptions,
  LogCreate,
  type LogCreateOptions,
  LogWrite,
  type LogWriteOptions,
  type MetadataEntry,
  MetadataType,
  parseZeekMessage,
  ZEEK_KIND_NAMES,
  ZEEK_PROTOCOL_VERSION,
  type ZeekKind,
  type ZeekMessage,
  ZeekMessageType,
  zeekMessageType,
} from "./engine/zeek/mod.ts";

// The WebSocket JSON API: the server an endpoint hosts (the client comes
// with the browser subset), and a client socket for the C++ Broker's server.
export {
  type WebSocketClientStats,
  type WebSocketOverflowPolicy,
  WebSocketServer,
  type WebSocketServerOptions,
} from "./engine/websocket/server.ts";
export { tcpWebSocket } from "./engine/websocket/tcp_socket.ts";

// Gateways: two domains behind one endpoint ID.
export {
  Gateway,
  type GatewayDirection,
  type GatewayDirectionStats,
  type GatewayEvent,
  type GatewayOptions,
  type GatewayPeer,
  type GatewayPorts,
  type GatewaySide,
  type GatewaySideOptions,
  type GatewayStats,
  TopicPolicy,
  type TopicPolicyOptions,
} from "./engine/gateway/gateway.ts";

// Zeek's cluster layer: layouts, node identity, pools as Zeek computes them, groups.
export {
  BROKER_TOPICS,
  type ClusterBackend,
  type ClusterEvent,
  ClusterLayout,
  ClusterNode,
  type ClusterNodeOptions,
  type ClusterTopics,
  clusterTopics,
  DEFAULT_WAIT_MS,
  fnv1a32,
  type GroupEvent,
  GroupMember,
  type GroupMemberOptions,
  type GroupMessage,
  groupPrefix,
  GroupPublisher,
  type GroupPublisherOptions,
  type GroupSelection,
  type HrwKey,
  hrwWeight,
  type LayoutNode,
  type LayoutObject,
  LOG_TOPIC_PREFIX,
  NODE_TYPES,
  type NodeType,
  Pool,
  type PoolNode,
  type PoolOptions,
  rrLogTopic,
  type WaitForOptions,
  type ZeekEnumKey,
  zeekKeyBytes,
  ZEROMQ_TOPICS,
} from "./engine/cluster/mod.ts";

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

// Zeek 8's ZeroMQ cluster backend: a node that joins a cluster through its XPUB/XSUB proxy
// (events, hellos, node_up/node_down, log batches to a logger), the proxy itself, and the
// bridge to the Broker protocol. The ZMTP codec under engine/zeromq/ stays internal.
export {
  brokerToZeromqTopic,
  type HostPort,
  type LogData,
  type LogField,
  type LogPort,
  type LogSubnet,
  type LogValue,
  type LogWriteBatch,
  ZEEK_ZMQ_DEFAULT_SNDHWM,
  type ZeekNodeStatus,
  type ZeekNodeType,
  ZeekType,
  type ZeekZmqEventMessage,
  type ZeekZmqLinkStatus,
  type ZeekZmqLogMessage,
  ZeekZmqNode,
  type ZeekZmqNodeOptions,
  type ZeekZmqNodeStats,
  ZeromqBridge,
  type ZeromqBridgeOptions,
  type ZeromqBridgeStats,
  zeromqToBrokerTopic,
  ZmqProxyServer,
  type ZmqProxyServerOptions,
} from "./engine/zeromq/mod.ts";
