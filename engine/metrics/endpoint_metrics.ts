/**
 * The series an endpoint exposes, sans I/O: Broker's own (same names,
 * labels, help and meaning as `libbroker/broker/internal/metric_factory.cc`)
 * and ours beyond them, all read at scrape time from the plain fields the
 * endpoint's rooms keep (the router's processed messages, the overflow's
 * drops, the connection driver's handshake failures, the stores' numbers).
 *
 * Broker's series:
 *
 * | series | labels | meaning |
 * |---|---|---|
 * | `broker_processed_messages_total` | `type`: data, command, routing-update, ping, pong | messages that passed the endpoint, received or ours |
 * | `broker_connections` | `type`: native, web-socket | peerings and WebSocket clients now |
 * | `broker_store_entries` | `name` | entries in a store |
 * | `broker_store_output_channels` | `name` | a master's channels to its clones; a clone's to its master (0 or 1) |
 * | `broker_store_unacknowledged_updates` | `name` | updates sent and not yet acknowledged |
 * | `broker_store_processed_updates_total` | `name` | updates applied to the store |
 * | `broker_store_input_channels` | `name` | a master's channels from writing clones; a clone's from its master (0 or 1) |
 * | `broker_store_out_of_order_updates` | `name` | updates held ahead of a gap in those channels |
 *
 * Ours (`broker_` too):
 *
 * | series | labels | meaning |
 * |---|---|---|
 * | `broker_peer_buffered_messages` | `peer`, `address` | messages queued for a peer, not yet written |
 * | `broker_peer_buffered_bytes` | `peer`, `address` | their bytes |
 * | `broker_overflow_drops_total` | `policy`: drop_newest, drop_oldest, disconnect | messages the overflow policy dropped (for `disconnect`: times it cut a peer) |
 * | `broker_handshake_failures_total` | `code`: Broker's error code name | handshakes that failed |
 * | `broker_peerings_total` | `event`: established, ended | peerings that came up and went away |
 * | `broker_handshake_duration_seconds` | | histogram: a connection's start (dialled or accepted) to its established peering |
 * | `broker_delivery_latency_seconds` | | histogram, one message in 16: a data message's arrival (or local publish) to a subscriber taking it |
 * | `broker_web_socket_clients` | | WebSocket clients now (as `broker_connections{type="web-socket"}`) |
 * | `broker_local_subscribers` | | local subscribers now (WebSocket clients' included) |
 * | `broker_local_publishers` | | open publishers (`Endpoint.publisher`) |
 * | `broker_metrics_imported_endpoints` | | endpoints whose metrics this node imports |
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 * import { registerEndpointMetrics } from "./endpoint_metrics.ts";
 * const reg = new MetricsRegistry();
 * const processed = { data: 5, published: 0, command: 0, routingUpdate: 0, ping: 0, pong: 0 };
 * registerEndpointMetrics(reg, {
 *   processed,
 *   commandsSent: () => 0,
 *   nativeConnections: () => 0,
 *   webSocketClients: () => 0,
 *   peers: () => [],
 *   drops: { drop_newest: 0, drop_oldest: 0, disconnect: 0 },
 *   handshakeFailures: new Map(),
 *   peerings: () => ({ established: 0, ended: 0 }),
 *   stores: () => [],
 *   subscribers: () => 0,
 *   publishers: () => 0,
 *   importedEndpoints: () => 0,
 * });
 * if (!reg.render().includes('broker_processed_messages_total{type="data"} 5')) throw new Error();
 * ```
 *
 * @module
 */
import type { HistogramValue } from "../histogram.ts";
import type { MetricSample, MetricsRegistry } from "./registry.ts";
import type { StoreMetrics } from "../store/store_common.ts";

/** A peer as the metrics see it. */
export interface MetricsPeer {
  /** Its endpoint ID, once known. */
  readonly id?: string;
  /** `host:port`. */
  readonly address: string;
  /** Messages queued for it. */
  readonly queuedMessages: number;
  /** Their bytes. */
  readonly queuedBytes: number;
}

/** Where the endpoint's numbers are read (plain fields, or functions run at scrape time). */
export interface EndpointMetricSources {
  /** The router's processed messages per type (received ones; our publishes in `published`). */
  readonly processed: {
    readonly data: number;
    readonly published: number;
    readonly command: number;
    readonly routingUpdate: number;
    readonly ping: number;
    readonly pong: number;
  };
  /** Commands our stores sent (processed commands too, as Broker counts them). */
  commandsSent(): number;
  /** Peerings now. */
  nativeConnections(): number;
  /** WebSocket clients now. */
  webSocketClients(): number;
  /** The peers and their queues. */
  peers(): readonly MetricsPeer[];
  /** The overflow policy's drops. */
  readonly drops: Readonly<Record<"drop_newest" | "drop_oldest" | "disconnect", number>>;
  /** Failed handshakes by error code name. */
  readonly handshakeFailures: ReadonlyMap<string, number>;
  /** Peerings established and ended so far. */
  peerings(): { established: number; ended: number };
  /** Handshake durations (start of the connection to the established peering), seconds. */
  readonly handshakeSeconds?: HistogramValue;
  /** Sampled waits from a data message's arrival (or local publish) to its reader, seconds. */
  readonly deliverySeconds?: HistogramValue;
  /** The stores by name and their numbers. */
  stores(): readonly { readonly name: string; readonly metrics: StoreMetrics }[];
  /** Local subscribers now. */
  subscribers(): number;
  /** Open publishers now. */
  publishers(): number;
  /** Endpoints whose metrics are imported. */
  importedEndpoints(): number;
}

/** Registers every series of an endpoint on `reg`. */
export function registerEndpointMetrics(reg: MetricsRegistry, src: EndpointMetricSources): void {
  const p = src.processed;
  reg.add(
    "broker_processed_messages_total",
    "Total number of processed messages.",
    "counter",
    // In the order Broker's exposition lists them.
    () => [
      { labels: { type: "pong" }, value: p.pong },
      { labels: { type: "ping" }, value: p.ping },
      { labels: { type: "routing-update" }, value: p.routingUpdate },
      { labels: { type: "command" }, value: p.command + src.commandsSent() },
      { labels: { type: "data" }, value: p.data + p.published },
    ],
  );
  reg.add("broker_connections", "Number of active network connections.", "gauge", () => [
    { labels: { type: "native" }, value: src.nativeConnections() },
    { labels: { type: "web-socket" }, value: src.webSocketClients() },
  ]);
  const store = (
    name: string,
    help: string,
    type: "gauge" | "counter",
    pick: (m: StoreMetrics) => number,
  ) =>
    reg.add(name, help, type, () => {
      const out: MetricSample[] = [];
      for (const s of src.stores()) {
        out.push({ labels: { name: s.name }, value: pick(s.metrics) });
      }
      return out;
    });
  store(
    "broker_store_input_channels",
    "Number of active input channels in a data store.",
    "gauge",
    (m) => m.inputChannels,
  );
  store(
    "broker_store_out_of_order_updates",
    "Number of out-of-order data store updates.",
    "gauge",
    (m) => m.outOfOrderUpdates,
  );
  store(
    "broker_store_output_channels",
    "Number of active output channels in a data store.",
    "gauge",
    (m) => m.outputChannels,
  );
  store(
    "broker_store_entries",
    "Number of entries in the data store.",
    "gauge",
    (m) => m.entries,
  );
  store(
    "broker_store_processed_updates_total",
    "Total number of processed data store updates.",
    "counter",
    (m) => m.processedUpdates,
  );
  store(
    "broker_store_unacknowledged_updates",
    "Number of unacknowledged data store updates.",
    "gauge",
    (m) => m.unacknowledgedUpdates,
  );

  // ---- ours
  const perPeer = (pick: (p: MetricsPeer) => number) => () =>
    src.peers().map((x) => ({
      labels: { peer: x.id ?? "", address: x.address },
      value: pick(x),
    }));
  reg.add(
    "broker_peer_buffered_messages",
    "Number of messages queued for a peer and not yet written to its socket.",
    "gauge",
    perPeer((x) => x.queuedMessages),
  );
  reg.add(
    "broker_peer_buffered_bytes",
    "Number of bytes queued for a peer and not yet written to its socket.",
    "gauge",
    perPeer((x) => x.queuedBytes),
  );
  reg.add(
    "broker_overflow_drops_total",
    "Total number of messages dropped by the peer overflow policy (for disconnect: times it cut a peer).",
    "counter",
    () =>
      (["drop_newest", "drop_oldest", "disconnect"] as const).map((policy) => ({
        labels: { policy },
        value: src.drops[policy],
      })),
  );
  reg.add(
    "broker_handshake_failures_total",
    "Total number of failed peering handshakes by error code.",
    "counter",
    () => [...src.handshakeFailures].map(([code, value]) => ({ labels: { code }, value })),
  );
  reg.add(
    "broker_peerings_total",
    "Total number of peerings established and ended.",
    "counter",
    () => {
      const n = src.peerings();
      return [
        { labels: { event: "established" }, value: n.established },
        { labels: { event: "ended" }, value: n.ended },
      ];
    },
  );
  const hs = src.handshakeSeconds;
  if (hs) {
    reg.add(
      "broker_handshake_duration_seconds",
      "Time from a connection's start to its established peering.",
      "histogram",
      () => [{ labels: {}, value: hs }],
    );
  }
  const ds = src.deliverySeconds;
  if (ds) {
    reg.add(
      "broker_delivery_latency_seconds",
      "Sampled time from a data message's arrival or local publish to a subscriber taking it.",
      "histogram",
      () => [{ labels: {}, value: ds }],
    );
  }
  const single = (name: string, help: string, read: () => number) =>
    reg.add(name, help, "gauge", () => [{ labels: {}, value: read() }]);
  single(
    "broker_web_socket_clients",
    "Number of connected WebSocket clients.",
    () => src.webSocketClients(),
  );
  single("broker_local_subscribers", "Number of local subscribers.", () => src.subscribers());
  single("broker_local_publishers", "Number of open local publishers.", () => src.publishers());
  single(
    "broker_metrics_imported_endpoints",
    "Number of endpoints whose metrics this node imports over Broker topics.",
    () => src.importedEndpoints(),
  );
}
