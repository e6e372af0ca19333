/**
 * The Endpoint: the public face of one Broker endpoint and the place its
 * parts are put together. Each part has its own room: listening and dialing
 * in `transport/`, connections, the peer table, BYE and overflow in
 * `peering/`, forwarding decisions, local subscribers and the store port in
 * `routing/`, frames in `wire/`, statuses in `status_hub.ts`, options in
 * `endpoint_options.ts`. One process may hold many endpoints, each with its
 * own ID and configuration.
 *
 * @module
 */
import { type Data, type DataBuilder, type DecodeOptions, encode, validate } from "./data/mod.ts";
import { BrokerError, ErrorCode } from "./errors.ts";
import {
  CONNECT_TIMEOUT_MS,
  DEFAULT_METRICS_ADDRESS,
  DEFAULT_RETRY_MS,
  type EndpointOptions,
  type PeerOptions,
  type PublishOptions,
  type ResolvedEndpointOptions,
  resolveEndpointOptions,
} from "./endpoint_options.ts";
import { registerEndpointMetrics } from "./metrics/endpoint_metrics.ts";
import { MetricsExchange } from "./metrics/exchange.ts";
import { MetricsHttpServer } from "./metrics/http_server.ts";
import {
  type MetricFamilySnapshot,
  type MetricSample,
  MetricsRegistry,
  type MetricType,
} from "./metrics/registry.ts";
import { buildStatus, type NodeStatus } from "./metrics/status_api.ts";
import type { Connection } from "./peering/connection.ts";
import { ConnectionDriver } from "./peering/connection_driver.ts";
import { PeerOverflow } from "./peering/overflow.ts";
import { peerInfo } from "./peering/connection.ts";
import { PeerTable } from "./peering/peer_table.ts";
import { CommandPort } from "./routing/command_port.ts";
import { isInternalTopic, isReservedTopic } from "./routing/filter.ts";
import { LocalSubscriptions } from "./routing/local_subscriptions.ts";
import { newOwnEndpointId } from "./routing/origin_tag.ts";
import { Router } from "./routing/router.ts";
import { Publisher, type PublisherOptions } from "./publisher.ts";
import type { BoundedQueue } from "./queue.ts";
import { errorEvent, retrySeconds, type StatusEvent } from "./status.ts";
import { StatusHub, type StatusSubscriberOptions } from "./status_hub.ts";
import { statusToData, statusTopicOf } from "./status_data.ts";
import {
  routedSubscriber,
  Subscriber,
  subscriberHandle,
  type SubscriberOptions,
  unhandled,
} from "./subscriber.ts";
import { CallbackSubscription, type MessageCallback } from "./callback_subscription.ts";
import { Acceptor } from "./transport/acceptor.ts";
import { Dialer } from "./transport/dialer.ts";
import { loadTlsMaterial, type TlsMaterial } from "./transport/tls.ts";
import {
  DEFAULT_TTL,
  type EndpointId,
  endpointIdsEqual,
  endpointIdToString,
  NIL_ENDPOINT_ID,
  parseEndpointId,
} from "./wire/mod.ts";
import { OutgoingFrames } from "./wire/outgoing.ts";
import { WebSocketServer, type WebSocketServerOptions } from "./websocket/server.ts";
import { Event, type EventOptions } from "./zeek/event.ts";
import type { StoreBackend } from "./store/backend.ts";
import type { CommandBus } from "./store/command_bus.ts";
import type { CloneOptions } from "./store/clone.ts";
import type { MasterOptions } from "./store/master.ts";
import type { Store } from "./store/store.ts";
import { closeUnused, StoreRegistry } from "./store/store_registry.ts";
import type { ByteStream } from "./transport/node_stream.ts";
import { TcpConnection } from "./transport/tcp.ts";
import { warmUpOnce, warmUpPartOnce } from "./warm_up.ts";
import { warmUpStoreTraffic } from "./store/warm_up_store.ts";
import { warmUpWebSocketTraffic } from "./websocket/warm_up_websocket.ts";
import type { StoreMetrics } from "./store/store_common.ts";

export { DEFAULT_STATUS_QUEUE_SIZE, type StatusSubscriberOptions } from "./status_hub.ts";
export type { NodeStatus } from "./metrics/status_api.ts";
export type { MetricFamilySnapshot } from "./metrics/registry.ts";
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  DEFAULT_MAX_HANDSHAKE_FRAME_SIZE,
  DEFAULT_MAX_PENDING_HANDSHAKES,
  DEFAULT_METRICS_ADDRESS,
  DEFAULT_OVERFLOW_POLICY,
  DEFAULT_PEER_BUFFER_BYTES,
  DEFAULT_PEER_BUFFER_SIZE,
  DEFAULT_RETRY_MS,
  DEFAULT_UNPEER_TIMEOUT_MS,
  type EndpointOptions,
  type PeerOptions,
  type PublishOptions,
} from "./endpoint_options.ts";
export type { RecordedFrame } from "./peering/connection_driver.ts";

/** A peer as `peers()` lists it. */
export interface PeerDescription {
  /** Its endpoint ID (UUID text), once known. */
  id?: string;
  /** Address we dial, or the remote address of an incoming connection. */
  host: string;
  /** Port we dial, or the remote port of an incoming connection. */
  port: number;
  /** `connecting` (dialling or in the handshake), `peered`, or `reconnecting` (waiting to redial). */
  status: "connecting" | "peered" | "reconnecting";
  /**
   * Whether we dial it: we opened the connection, or a `peer()` with a retry
   * interval found the peer already peered over this one (then `host` and
   * `port` are the address it asked for, as in Broker), so it is dialled
   * again when lost.
   */
  outbound: boolean;
  /** Whether it is one of our endpoints, so broadcasts between us carry origin tags (exactly once in cycles). */
  originTags: boolean;
  /** Messages received from it over this connection. */
  messagesIn: number;
  /** Messages queued for it and not yet written to its socket. */
  queuedMessages: number;
  /** Bytes queued for it and not yet written to its socket. */
  queuedBytes: number;
}

/**
 * Sees each data message an endpoint accepted from a peer for local delivery
 * (see `Endpoint.tapReceived`): `frame` is its envelope without the length
 * prefix, `payload` the validated value at its tail, both valid only during
 * the call. A returned promise makes the endpoint read nothing more from
 * that peer until it settles.
 * @internal
 */
export type ReceivedTap = (
  topic: string,
  frame: Uint8Array,
  payload: Uint8Array,
) => void | Promise<void>;

/** Our own values are not budgeted: the decode budget guards what peers send us. */
const UNBUDGETED: DecodeOptions = { maxValues: Number.MAX_SAFE_INTEGER };

/**
 * A Broker endpoint: listens and peers over TCP, publishes and subscribes by
 * topic prefix, and relays between its peers as the C++ Broker does.
 *
 * @example
 * ```ts
 * import { Endpoint } from "./endpoint.ts";
 * import { count } from "./data/mod.ts";
 * const a = new Endpoint(), b = new Endpoint();
 * const port = await a.listen("127.0.0.1", 0);
 * const sub = a.subscribe(["/demo"]);
 * await b.peer("127.0.0.1", port);
 * await b.awaitPeerSubscription("/demo");
 * b.publish("/demo/x", count(1n));
 * const got = await sub.get(1000);
 * if (got?.topic !== "/demo/x" || got.data.value !== 1n) throw new Error("delivered");
 * await a.shutdown();
 * await b.shutdown();
 * ```
 */
export class Endpoint {
  readonly #id: EndpointId;
  readonly #idText: string;
  readonly #opts: ResolvedEndpointOptions;
  readonly #tls?: TlsMaterial;
  /** Statuses and errors, also published to local subscribers as Broker's data. */
  readonly #statuses = new StatusHub((e) => {
    // Broker's core publishes each one as a data message and counts it as processed.
    if (this.#router) this.#router.processed.published++;
    // (Before the constructor set up local delivery, there is nobody to tell.)
    this.#local?.deliverPublished(statusTopicOf(e), statusToData(e));
  });
  readonly #frames: OutgoingFrames;
  readonly #table = new PeerTable();
  readonly #local: LocalSubscriptions;
  readonly #overflow: PeerOverflow<Connection>;
  readonly #router: Router<Connection>;
  readonly #commands: CommandPort<Connection>;
  readonly #dialer: Dialer<Connection>;
  readonly #acceptor: Acceptor;
  readonly #driver: ConnectionDriver;
  readonly #stores: StoreRegistry;
  readonly #webSockets: WebSocketServer[] = [];
  /**
   * The publishers made here, weakly: one dropped without `close` is gone
   * once collected, as a destroyed Broker publisher closes (held strongly,
   * each unclosed one stayed for good). A publisher still sending what it
   * buffered is reachable through its pump.
   */
  readonly #publishers = new Set<WeakRef<Publisher>>();
  readonly #collected = new FinalizationRegistry<WeakRef<Publisher>>((ref) =>
    this.#publishers.delete(ref)
  );
  readonly #metricsServers: MetricsHttpServer[] = [];
  #metrics?: MetricsRegistry;
  #exchange?: MetricsExchange;
  #metricsReady?: Promise<number>;
  #tap?: ReceivedTap;
  #shuttingDown = false;

  /** A new endpoint: it neither listens nor peers until told to. */
  constructor(options: EndpointOptions = {}) {
    this.#id = options.id ? parseEndpointId(options.id) : newOwnEndpointId();
    this.#idText = endpointIdToString(this.#id);
    const opts = this.#opts = resolveEndpointOptions(options);
    if (!opts.disableSsl) this.#tls = loadTlsMaterial(options.ssl);
    const running = () => !this.#shuttingDown;
    const emit = (e: StatusEvent) => this.#statuses.emit(e);
    // Broker reads broker.ttl but writes its default, 16, into every envelope.
    this.#frames = new OutgoingFrames(this.#id, DEFAULT_TTL, checkTopic);
    this.#local = new LocalSubscriptions(() => this.#driver.announceFilter());
    this.#overflow = new PeerOverflow<Connection>(opts, (c) => {
      // Broker's core force-disconnects the peer: peer_removed with the CAF error, no re-dial,
      // and no error status besides (we emitted peer_timeout too, which Broker never does).
      c.removed = true;
      c.removedReason = "caf::sec::backpressure_overflow";
    });
    const table = this.#table;
    this.#commands = new CommandPort(this.#id, this.#frames, this.#local, {
      routes: table.routes,
      peer: (id) => table.get(id),
      running,
    });
    this.#router = new Router<Connection>({
      routes: table.routes,
      peer: (id) => table.get(id),
      send: (to, frame) => this.#overflow.send(to, frame),
      deliver: (topic, payload, unsorted, frame) => {
        const local = this.#local.deliverReceived(topic, payload, unsorted);
        const crossing = this.#tap?.(topic, frame, payload);
        if (!crossing) return local;
        return local ? Promise.all([local, crossing]).then(() => {}) : crossing;
      },
      command: (topic, from, receiver, payload) =>
        this.#commands.dispatch(topic, from.peerId!, receiver, payload),
      dropped: (from, e) => emit(errorEvent(e.code, e.message, peerInfo(from))),
      ownTraffic: (from, topic, why) =>
        emit(errorEvent(
          ErrorCode.logic_error,
          `${
            why === "twin_broadcast" ? "a broadcast of our twin endpoint" : "a message with our ID"
          } on ${topic} arrived from a peer: another path joins the twin's network to ours (dropped)`,
          peerInfo(from),
        )),
    }, {
      id: this.#id,
      frames: this.#frames,
      disableForwarding: opts.disableForwarding,
      decode: { maxValues: opts.maxValues },
      lane: options.sharedIdLane,
    });
    this.#dialer = new Dialer<Connection>({
      tls: this.#tls,
      connectTimeoutMs: CONNECT_TIMEOUT_MS,
      running,
      connected: (tcp, target) => this.#driver.start(tcp, "connector", target),
      // Broker's text for every failed attempt (connector.cc); the caller's promise keeps the cause.
      unavailable: (t, e) =>
        emit(
          errorEvent(e.code, "unable to connect to remote peer", {
            host: t.host,
            port: t.port,
            retry: retrySeconds(t.retryMs),
          }),
        ),
    });
    this.#driver = new ConnectionDriver({
      id: this.#id,
      maxHandshakeFrameSize: opts.maxHandshakeFrameSize,
      maxFrameSize: opts.maxFrameSize,
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      unpeerTimeoutMs: opts.unpeerTimeoutMs,
      table,
      local: this.#local,
      dialer: this.#dialer,
      statuses: this.#statuses,
      handshakeFailed: (e) => {
        for (const l of this.#handshakeFailureListeners) l(e);
      },
      overflow: this.#overflow,
      router: this.#router,
      frames: this.#frames,
      recorder: options.recorder,
      running,
    });
    this.#acceptor = new Acceptor({
      tls: this.#tls,
      tlsHandshakeTimeoutMs: opts.handshakeTimeoutMs,
      maxPendingHandshakes: opts.maxPendingHandshakes,
      running,
      pendingHandshakes: () => this.#driver.pendingAccepted,
      accepted: (tcp) => this.#driver.start(tcp, "acceptor"),
      // Incoming connections that never reached Broker's handshake: counted, not reported
      // as statuses, as Broker's core only logs a failed incoming handshake.
      refused: (_remote, e) => this.#driver.countHandshakeFailure(e.code),
      abandoned: (_remote, e) => this.#driver.countHandshakeFailure(e.code),
    });
    this.#stores = new StoreRegistry({
      commandBus: this.#commands,
      statusSubscriber: (o) => this.statusSubscriber(o),
      reportError: (code, message) => emit(errorEvent(code, message)),
    });
    if (
      options.metricsExportTopic ||
      (options.metricsImportTopics && options.metricsImportTopics.length > 0)
    ) {
      this.#exchange = new MetricsExchange({
        families: () => this.metricFamilies(),
        publish: (topic, data) => this.publish(topic, data),
        subscribe: (topics) => this.subscribe(topics),
      }, {
        exportTopic: options.metricsExportTopic,
        exportIntervalMs: options.metricsExportIntervalMs,
        exportPrefixes: options.metricsExportPrefixes,
        endpointName: options.metricsEndpointName,
        importTopics: options.metricsImportTopics,
      });
    }
    if (options.metricsPort !== undefined) {
      const host = options.metricsAddress ?? DEFAULT_METRICS_ADDRESS;
      const ready = this.listenMetrics(host, options.metricsPort);
      ready.catch((e) =>
        emit(errorEvent(
          ErrorCode.unspecified,
          `cannot serve metrics on ${host}:${options.metricsPort}: ${(e as Error).message}`,
          { host, port: options.metricsPort! },
        ))
      );
      this.#metricsReady = ready;
    }
  }

  /** This endpoint's ID as UUID text. */
  get id(): string {
    return this.#idText;
  }

  /** This endpoint's ID as 16 bytes. */
  get idBytes(): Uint8Array {
    return this.#id.slice();
  }

  /** The local subscriptions as Broker advertises them (sorted, prefix-minimal). */
  get filter(): readonly string[] {
    return this.#local.filter;
  }

  // ---------------------------------------------------------------- peering

  /**
   * Accepts peers on `host:port` (port 0 picks a free one). Returns the bound port.
   */
  listen(host = "127.0.0.1", port = 0): Promise<number> {
    this.#assertRunning();
    const warming = this.#warmUp();
    if (!warming) return this.#acceptor.listen(host, port);
    // Shut down while warming up: no listener may outlive the endpoint.
    return warming.then(() => {
      this.#assertRunning();
      return this.#acceptor.listen(host, port);
    });
  }

  /**
   * Peers with the endpoint at `host:port`: resolves once the handshake is
   * done, rejects with `peer_unavailable` when the first attempt fails (as
   * Broker's blocking `peer` with retry 0; with a retry, Broker's waits until
   * the peering is up). With `retryMs` > 0 (default 10 s, as Broker) the
   * endpoint keeps re-dialling a failed or lost peering in the background
   * until `unpeer`: its `peer_added` status says when it is up.
   */
  peer(host: string, port: number, options: PeerOptions = {}): Promise<void> {
    this.#assertRunning();
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      // Refused here, not dialled and re-dialled every retryMs for ever.
      return Promise.reject(
        new BrokerError(
          ErrorCode.peer_unavailable,
          `cannot connect to ${host}:${port}: a TCP port is 1 to 65535`,
        ),
      );
    }
    const retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    const warming = this.#warmUp();
    if (!warming) return this.#dialer.peer(host, port, retryMs);
    return warming.then(() => {
      this.#assertRunning();
      return this.#dialer.peer(host, port, retryMs);
    });
  }

  /** The process's warm-up (`engine/warm_up.ts`), unless this endpoint opted out. */
  #warmUp(): Promise<unknown> | undefined {
    if (!this.#opts.warmUp) return undefined;
    const peering = warmUpOnce(privateWarmUpEndpoint);
    return this.#storeWarming ? Promise.all([peering, this.#storeWarming]) : peering;
  }

  /** The store warm-up, started by this endpoint's first store; listen and peer wait for it. */
  #storeWarming?: Promise<unknown>;

  /** Starts the process's store warm-up (once per process), unless this endpoint opted out. */
  #warmUpStore(): void {
    if (!this.#opts.warmUp || this.#storeWarming) return;
    this.#storeWarming = warmUpPartOnce(
      "store",
      privateWarmUpEndpoint,
      (a, b) => warmUpStoreTraffic(a, b),
    );
  }

  /**
   * Runs Broker's handshake, then the peering, over a connected byte stream
   * rather than a socket we opened (the warm-up joins two endpoints in memory).
   * @internal
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * import { memoryStreamPair } from "./warm_up.ts";
   * const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
   * const [sa, sb] = memoryStreamPair();
   * b.subscribe("/t");
   * b.adoptStream(sb, "acceptor");
   * a.adoptStream(sa, "connector");
   * await a.awaitPeerSubscription("/t");
   * await a.shutdown();
   * await b.shutdown();
   * ```
   */
  adoptStream(stream: ByteStream, role: "connector" | "acceptor"): void {
    this.#assertRunning();
    this.#driver.start(new TcpConnection(stream), role);
  }

  /** Like `peer`, without waiting; failures show up on status subscribers. */
  peerNoWait(host: string, port: number, options: PeerOptions = {}): void {
    this.peer(host, port, options).catch(() => {});
  }

  /**
   * Ends the peering with `host:port` gracefully (BYE ping, pong, close) and
   * stops re-dialling it. Resolves false when no such peering exists, and
   * reports that as Broker does: error(peer_invalid, "cannot unpeer from
   * unknown peer").
   */
  async unpeer(host: string, port: number): Promise<boolean> {
    const target = this.#dialer.find(host, port);
    const c = target?.connection ??
      [...this.#table.connections].find((x) => x.address.host === host && x.address.port === port);
    if (target) {
      this.#dialer.retire(target, new BrokerError(ErrorCode.peer_unavailable, "unpeered"));
    }
    if (!c && !target) {
      this.#statuses.emit(
        errorEvent(ErrorCode.peer_invalid, "cannot unpeer from unknown peer", { host, port }),
      );
      return false;
    }
    if (!c) return true;
    await this.#driver.disconnect(c);
    return true;
  }

  /** The peers and their state. */
  peers(): PeerDescription[] {
    const out: PeerDescription[] = [];
    for (const c of this.#table.connections) {
      if (c.state === "closed") continue;
      out.push({
        id: c.peerId && c.state === "peered" ? endpointIdToString(c.peerId) : undefined,
        host: c.address.host,
        port: c.address.port,
        status: c.state === "peered" ? "peered" : "connecting",
        outbound: !!c.target,
        originTags: !!c.ours,
        messagesIn: c.messagesIn,
        queuedMessages: c.tcp.queuedFrames,
        queuedBytes: c.tcp.queuedBytes,
      });
    }
    for (const t of this.#dialer.waiting()) {
      out.push({
        host: t.host,
        port: t.port,
        status: "reconnecting",
        outbound: true,
        originTags: false,
        messagesIn: 0,
        queuedMessages: 0,
        queuedBytes: 0,
      });
    }
    return out;
  }

  /** Every topic prefix our peers subscribed to (their filters, merged). */
  peerSubscriptions(): readonly string[] {
    return this.#table.subscriptions();
  }

  /**
   * Follows `peerSubscriptions()`: calls `listener` with it now and again
   * whenever a peer's filter changes (a handshake, a routing update, a peer
   * gone), synchronously from the connection that changed it. Returns a
   * function that stops the calls. A gateway uses it to advertise on one
   * side what the other side's peers want.
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * const a = new Endpoint(), b = new Endpoint();
   * const seen: string[][] = [];
   * const stop = a.watchPeerSubscriptions((topics) => seen.push([...topics]));
   * const port = await a.listen("127.0.0.1", 0);
   * b.subscribe("/b");
   * await b.peer("127.0.0.1", port);
   * await a.awaitPeerSubscription("/b");
   * stop();
   * if (seen[0].length !== 0 || seen.at(-1)?.join() !== "/b") throw new Error("followed");
   * await b.shutdown();
   * await a.shutdown();
   * ```
   */
  watchPeerSubscriptions(listener: (topics: readonly string[]) => void): () => void {
    const changed = () => listener(this.#table.subscriptions());
    const stop = this.#table.onFilterChange(changed);
    changed();
    return stop;
  }

  /**
   * Calls `listener` with each failed handshake (an error event with the
   * peer's address, and its ID once the handshake told it), which is no
   * status: Broker's core only logs an incoming one and reports a dialled
   * one as `peer_unavailable` alone. For observers in this process, such as
   * a gateway naming an endpoint peered with both its sides.
   * Returns the function that stops it.
   * @internal
   */
  watchHandshakeFailures(listener: (event: StatusEvent) => void): () => void {
    this.#handshakeFailureListeners.add(listener);
    return () => this.#handshakeFailureListeners.delete(listener);
  }

  readonly #handshakeFailureListeners = new Set<(event: StatusEvent) => void>();

  /**
   * Resolves once some peer's filter matches `topic` (so a publish would reach
   * it), or rejects with `request_timeout` after `timeoutMs`.
   */
  awaitPeerSubscription(topic: string, timeoutMs = 10_000): Promise<void> {
    return this.#table.awaitSubscription(topic, timeoutMs);
  }

  /** Whether any peer's filter matches `topic`. */
  hasPeerSubscriber(topic: string): boolean {
    return this.#table.routes.matches(topic);
  }

  // ---------------------------------------------------------------- pub/sub

  /**
   * Publishes a value on a topic to every peer whose subscriptions match.
   * Like Broker, the endpoint's own subscribers do not receive it; its
   * WebSocket clients do (unless their server has `localPublishes: false`).
   */
  publish(topic: string, data: Data, options?: PublishOptions): void {
    this.#publish(topic, data, options);
  }

  /**
   * Publishes a value on a topic to one endpoint alone, as Broker's
   * `endpoint::publish(dst, topic, data)` (Zeek sends a new peer its log
   * writers so): the envelope's receiver is `peerId`, so the direct peer
   * with that ID gets it whatever it subscribed (its subscribers of the
   * topic take it) and no other peer does. Broker sends such a message only
   * to the direct peer it names (a relay passes on one that names its own
   * direct peer); our own ID gives it to our subscribers, as Broker's
   * `publish(atom::local)` does. Returns false when `peerId` is no peered
   * direct peer (Broker drops the message then); the value is encoded either
   * way, so one that is no `Data` is refused. Throws `invalid_data` for an
   * ID that is not one.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { str } from "./data/mod.ts";
   * const a = new Endpoint(), b = new Endpoint();
   * const sub = b.subscribe("/t");
   * await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
   * equal(a.publishTo(b.id, "/t", str("to b alone")), true);
   * equal((await sub.get(5000))?.data.value, "to b alone");
   * await a.shutdown();
   * await b.shutdown();
   * ```
   */
  publishTo(peerId: string, topic: string, data: Data): boolean {
    this.#assertRunning();
    const receiver = parseEndpointId(peerId);
    const header = this.#frames.dataHeader(topic); // vets the topic, as every publish does
    this.#router.processed.published++;
    if (endpointIdsEqual(receiver, this.#id)) {
      this.#local.deliverPublished(topic, encode(data));
      return true;
    }
    const peer = this.#table.get(receiver);
    if (peer?.state !== "peered") {
      encode(data);
      return false;
    }
    this.#overflow.send(peer, this.#frames.dataTo(header, data, receiver));
    return true;
  }

  /** `publish`, returning the wait of a full `block` subscriber (see `deliverPublished`). */
  #publish(topic: string, data: Data, options?: PublishOptions): Promise<void> | undefined {
    this.#assertRunning();
    this.#router.processed.published++;
    const header = this.#frames.dataHeader(topic); // vets the topic before anything is delivered
    // Header and value are written once into one buffer, shared by every peer; without
    // peers the value is encoded all the same, so a value that is no Data is refused
    // whether or not anyone subscribes now. Local subscribers get the same bytes.
    const frame = this.#table.routes.matches(topic) ? this.#frames.dataOf(header, data) : undefined;
    const payload = frame === undefined ? encode(data) : undefined;
    let wait: Promise<void> | undefined;
    if (options?.local || this.#local.echo.size > 0) {
      const bytes = payload ?? frame!.subarray(header.length);
      if (options?.local) wait = this.#local.deliverPublished(topic, bytes, exceptOf(options));
      else this.#local.deliverPublished(topic, bytes, undefined, true);
    }
    if (frame) this.#router.broadcast(topic, frame);
    return wait;
  }

  /**
   * Publishes the value a {@linkcode DataBuilder} holds, as Broker's
   * `publish(builder.build_envelope(topic))`: no `Data` objects, no
   * validation (a builder writes only well-formed values), one copy of its
   * bytes into the frame peers get, so the builder can be reset at once.
   * Throws while the builder has a container open. `options` as `publish`'s.
   *
   * @example
   * ```ts
   * import { DataBuilder, Endpoint } from "../mod.ts";
   * const ep = new Endpoint();
   * const b = new DataBuilder();
   * for (let i = 0; i < 3; i++) {
   *   b.reset().beginVector().count(1).count(1).beginVector().str("tick")
   *     .beginVector().count(i).end().end().end();
   *   ep.publishBuilt("/zeek/ticks", b); // no peer yet: nothing is sent
   * }
   * await ep.shutdown();
   * ```
   */
  publishBuilt(topic: string, builder: DataBuilder, options?: PublishOptions): void {
    this.#publishBuilt(topic, builder, options);
  }

  /** `publishBuilt`, returning the wait of a full `block` subscriber (see `deliverPublished`). */
  #publishBuilt(
    topic: string,
    builder: DataBuilder,
    options?: PublishOptions,
  ): Promise<void> | undefined {
    this.#assertRunning();
    const header = this.#frames.dataHeader(topic);
    const local = options?.local === true;
    const echo = !local && this.#local.echo.size > 0 && this.#local.echo.matches(topic);
    const toPeers = this.#table.routes.matches(topic);
    // Framed only when someone wants it: where the builder wrote it when it
    // kept room for the header (it then writes its next value after it), else
    // copied; everyone shares it. Checked either way (`finish` throws).
    const frame = local || echo || toPeers
      ? this.#frames.built(header, builder)
      : void builder.finish();
    this.#router.processed.published++;
    if (frame === undefined) return undefined;
    let wait: Promise<void> | undefined;
    if (local || echo) {
      const payload = frame.subarray(header.length);
      wait = this.#local.deliverPublished(topic, payload, exceptOf(options), echo);
    }
    if (toPeers) this.#router.broadcast(topic, frame);
    return wait;
  }

  /**
   * Publishes a Zeek event (Broker's Zeek message layout: version 1, type
   * event, name and arguments, optional metadata such as the network time).
   */
  publishEvent(
    topic: string,
    name: string,
    args: readonly Data[] = [],
    options?: EventOptions,
  ): void {
    this.publish(topic, new Event(name, args, options).toData());
  }

  /** Publishes several values on one topic. */
  publishBatch(topic: string, values: Iterable<Data>): void {
    for (const v of values) this.publishEncoded(topic, encode(v));
  }

  /**
   * Publishes an already encoded value (validated first, so peers never get
   * garbage: a `BrokerError` otherwise).
   */
  publishEncoded(topic: string, payload: Uint8Array): void {
    this.#publishEncoded(topic, payload, true);
  }

  /**
   * `publishEncoded` for bytes that this library's own encoders wrote (as
   * `generateEncoded` writes a generator file's values): not validated
   * again, as `publish` does not validate what `encode` writes. Validating
   * a mars.dat event (4 KB) costs ~3.3 µs, a tenth of the cluster
   * benchmark's sender per message.
   * @internal
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * import { count, encode } from "./data/mod.ts";
   * const ep = new Endpoint();
   * ep.publishOwnEncoding("/t", encode(count(1n))); // no peer yet: nothing is sent
   * await ep.shutdown();
   * ```
   */
  publishOwnEncoding(topic: string, payload: Uint8Array): void {
    this.#publishEncoded(topic, payload, false);
  }

  #publishEncoded(topic: string, payload: Uint8Array, check: boolean): void {
    this.#assertRunning();
    this.#router.processed.published++;
    const header = this.#frames.dataHeader(topic);
    const echo = this.#local.echo.size > 0 && this.#local.echo.matches(topic);
    const toPeers = this.#table.routes.matches(topic);
    // Validated first, with or without anyone to send to (see #publish).
    if (check) validate(payload, UNBUDGETED);
    if (!echo && !toPeers) return;
    if (echo) this.#local.deliverPublished(topic, payload, undefined, true);
    // Cached header and payload into the output slab: no allocation per message.
    if (toPeers) this.#router.broadcast(topic, this.#frames.data(header, payload));
  }

  /**
   * How many more messages on `topic` every matching peer can take before
   * its buffer is full: the demand a publisher should respect. However deep
   * the buffer, it lets a peer's queue hold at most 4 MiB, or 1,024 messages
   * when they are larger, so the socket keeps being written while the
   * publisher runs (the overflow policy still applies at the buffer's limits).
   */
  demand(topic: string): number {
    return this.#overflow.demand(this.#table.routes, topic);
  }

  /**
   * The most `demand(topic)` can reach: what every peer matching `topic`
   * takes with its buffer empty, for messages the size of those published
   * lately. A producer that waits for more demand than this waits forever.
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * const ep = new Endpoint({ peerBufferSize: 100 });
   * if (ep.demandLimit("/t") !== 100) throw new Error("no peer: the buffer's size");
   * await ep.shutdown();
   * ```
   */
  demandLimit(topic: string): number {
    return this.#overflow.demandLimit(this.#table.routes, topic);
  }

  /**
   * Resolves when every peer matching `topic` has room in its buffer again
   * (its queue fell to half of what `demand` lets it hold, so the producer
   * refills while the socket drains).
   */
  ready(topic: string): Promise<void> {
    return this.#overflow.ready(this.#table.routes, topic);
  }

  /** A publisher for one topic, with a bounded buffer and demand to await. */
  publisher(topic: string, options?: PublisherOptions): Publisher {
    this.#assertRunning();
    checkTopic(topic);
    const p = new Publisher(this, topic, options);
    for (const ref of this.#publishers) {
      const q = ref.deref();
      if (q === undefined || q.closed) this.#forget(ref, q);
    }
    const ref = new WeakRef(p);
    this.#publishers.add(ref);
    this.#collected.register(p, ref, ref);
    return p;
  }

  /** Publishes everything an (async) iterable yields, waiting for demand. */
  async publishAll(topic: string, values: AsyncIterable<Data> | Iterable<Data>): Promise<number> {
    let n = 0;
    for await (const v of values) {
      if (this.demand(topic) <= 0) await this.ready(topic);
      this.publish(topic, v);
      n++;
    }
    return n;
  }

  /**
   * Publishes a data message another endpoint received (its envelope
   * `frame`, validated, whose tail is `payload`) as our own, as
   * `publishEncoded` would, from one copy of the frame: our ID as the
   * sender, Broker's TTL (16) and nil receiver. A gateway's two sides pass
   * messages on this way (see `tapReceived`).
   * @internal
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { count, encode } from "./data/mod.ts";
   * import { encodeEnvelope, EnvelopeType, newEndpointId } from "./wire/mod.ts";
   * const a = new Endpoint(), b = new Endpoint();
   * const sub = b.subscribe("/t");
   * await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
   * await a.awaitPeerSubscription("/t");
   * const payload = encode(count(5n));
   * const frame = encodeEnvelope({ sender: newEndpointId(), type: EnvelopeType.data, topic: "/t", payload });
   * a.relayReceived("/t", frame, payload);
   * equal((await sub.get(5000))?.data.value, 5n);
   * await a.shutdown();
   * await b.shutdown();
   * ```
   */
  relayReceived(topic: string, frame: Uint8Array, payload: Uint8Array): void {
    this.#assertRunning();
    this.#router.processed.published++;
    this.#frames.dataHeader(topic); // vets the topic, as every publish does
    if (this.#local.echo.size > 0 && this.#local.echo.matches(topic)) {
      this.#local.deliverPublished(topic, payload, undefined, true);
    }
    if (!this.#table.routes.matches(topic)) return;
    this.#router.broadcast(topic, this.#frames.forward(frame, NIL_ENDPOINT_ID));
  }

  /**
   * Hands every data message this endpoint accepts from a peer for local
   * delivery (one addressed to us or a broadcast, after validation, the
   * loop guard and forwarding) to `tap` too, besides the local
   * subscribers; `undefined` stops it. There is one tap: a gateway's side
   * uses it to pass what arrives to its other side, whose wants it
   * advertises with `advertise`.
   * @internal
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { count } from "./data/mod.ts";
   * const a = new Endpoint(), b = new Endpoint();
   * const topics: string[] = [];
   * b.tapReceived((topic) => void topics.push(topic));
   * b.advertise(["/t"]);
   * await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
   * await a.awaitPeerSubscription("/t");
   * a.publish("/t/x", count(1n));
   * while (topics.length === 0) await new Promise((r) => setTimeout(r, 10));
   * equal(topics.join(), "/t/x");
   * await a.shutdown();
   * await b.shutdown();
   * ```
   */
  tapReceived(tap: ReceivedTap | undefined): void {
    this.#tap = tap;
  }

  /**
   * Grows the filter we advertise to our peers by `topics` (filters only
   * grow), without a subscriber behind them: what arrives on them goes to
   * the tap (see `tapReceived`) and to the local subscribers that match.
   * @internal
   */
  advertise(topics: readonly string[]): void {
    this.#local.addToFilter(topics);
  }

  /**
   * Subscribes to topic prefixes. Close the subscriber when done; one
   * dropped unclosed is closed once collected, as a C++ Broker subscriber in
   * its destructor (one with a read waiting on it is not collected).
   */
  subscribe(topics: string | string[], options?: SubscriberOptions): Subscriber {
    this.#assertRunning();
    const list = typeof topics === "string" ? [topics] : topics;
    for (const t of list) checkSubscription(t);
    // A handle: one dropped unclosed is closed once collected, as a destroyed Broker subscriber.
    return subscriberHandle(new Subscriber(this.#local, list, options));
  }

  /**
   * Subscribes with a callback, as Broker's `endpoint::subscribe(filter,
   * on_next)`: each message on `topics` goes to `onMessage` as it arrives,
   * encoded, with no queue and no copy (see `CallbackSubscription`). The
   * payload is valid only during the call.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { count, Endpoint } from "../mod.ts";
   * const endpoint = new Endpoint();
   * let bytes = 0;
   * const sub = endpoint.subscribeWith(["/a", "/b"], (_topic, payload) => void (bytes += payload.length));
   * endpoint.publish("/b/x", count(1n), { local: true });
   * equal(bytes, 9); // a count: its tag and 8 bytes
   * sub.close();
   * await endpoint.shutdown();
   * ```
   */
  subscribeWith(topics: string | string[], onMessage: MessageCallback): CallbackSubscription {
    // Its callback runs until closed, whether or not anybody keeps the subscription.
    return new CallbackSubscription(unhandled(this.subscribe(topics)), onMessage);
  }

  // ---------------------------------------------------------------- statuses

  /**
   * Status and error events (peer_added, peer_lost, ... and errors with
   * Broker's codes). With `statuses: false`, only errors.
   */
  statusSubscriber(options?: StatusSubscriberOptions): BoundedQueue<StatusEvent> {
    return this.#statuses.subscribe(options);
  }

  // ---------------------------------------------------------------- WebSocket

  /**
   * Serves Broker's WebSocket JSON API (`ws://host:port/v1/messages/json`;
   * with SSL on `wss://`, with the peerings' certificates and their check of
   * the client's, as Broker) from this endpoint; resolves once it listens
   * (port 0 picks one: see `server.port`).
   */
  async listenWebSocket(
    host = "127.0.0.1",
    port = 0,
    options?: WebSocketServerOptions,
  ): Promise<WebSocketServer> {
    this.#assertRunning();
    if (this.#opts.warmUp) {
      await warmUpPartOnce(
        "websocket",
        privateWarmUpEndpoint,
        (a, b) => warmUpWebSocketTraffic(a, b),
      );
      this.#assertRunning(); // shut down while warming up: no server may outlive the endpoint
    }
    const server = new WebSocketServer(
      {
        id: this.id,
        subscribe: (topics, opts) => {
          // The session keeps it; `except` names it as routed.
          const sub = unhandled(this.subscribe(topics, opts));
          if (opts.localPublishes) this.#local.echoTo(sub);
          return sub;
        },
        publish: (topic, data, opts) => this.#publish(topic, data, opts),
        publishBuilt: (topic, builder, opts) => this.#publishBuilt(topic, builder, opts),
        refused: (e) =>
          this.#statuses.emit(
            errorEvent(e.code, `a WebSocket client's message was not published: ${e.message}`),
          ),
        status: (e) => this.#statuses.emit(e),
        // A server closed before the endpoint is let go (kept, each restart of a listener grew us).
        closed: () => {
          const i = this.#webSockets.indexOf(server);
          if (i >= 0) this.#webSockets.splice(i, 1);
        },
      },
      host,
      port,
      { handshakeTimeoutMs: this.#opts.handshakeTimeoutMs, ...options },
      // With SSL on, Broker's WebSocket server is TLS too, with the same certificates.
      this.#tls,
    );
    this.#webSockets.push(server);
    try {
      await server.ready;
    } catch (e) {
      await server.close(); // a TLS listener binds late: the port was taken
      throw e;
    }
    return server;
  }

  // ---------------------------------------------------------------- stores

  /**
   * The command channel the data stores use (see `engine/store`).
   * @internal
   */
  get commandBus(): CommandBus {
    return this.#commands;
  }

  /**
   * Attaches the master of store `name` (default backend: in memory). Throws
   * `BrokerError(master_exists)` when a peer already announces that master.
   * When this endpoint already runs that master, the new handle shares it, as
   * Broker hands back the master it has; the master stops when its last
   * handle closes, or when the endpoint shuts down. `backend` is the
   * master's from the call on: the master closes it when it stops, and one
   * that goes unused (the master runs already with another, or the attach is
   * refused) is closed at once, as Broker opens a backend only for a master
   * it starts.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { count, str } from "./data/mod.ts";
   * const ep = new Endpoint();
   * const kv = ep.attachMaster("kv");
   * await kv.put(str("a"), count(1n));
   * equal((await kv.get(str("a"))).value, 1n);
   * kv.close();
   * await ep.shutdown();
   * ```
   */
  attachMaster(
    name: string,
    backend?: StoreBackend,
    options?: MasterOptions,
  ): Store {
    if (this.#shuttingDown) closeUnused(backend);
    this.#assertRunning();
    this.#warmUpStore();
    return this.#stores.attachMaster(name, backend, options);
  }

  /**
   * Attaches a clone of store `name`: it finds the master through its peers.
   * Like Broker, refuses with `BrokerError(no_such_master)` when this endpoint
   * is the master of `name`, and shares the clone it already runs.
   *
   * @example
   * ```ts
   * import { throws } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { BrokerError, ErrorCode } from "./errors.ts";
   * const ep = new Endpoint();
   * const kv = ep.attachClone("kv", { requestTimeoutMs: 1000 });
   * const users = ep.attachMaster("users");
   * const noSuchMaster = (e: unknown) => (e as BrokerError).code === ErrorCode.no_such_master;
   * throws(() => ep.attachClone("users"), noSuchMaster); // we are the master of "users"
   * kv.close();
   * users.close();
   * await ep.shutdown();
   * ```
   */
  attachClone(name: string, options?: CloneOptions): Store {
    this.#assertRunning();
    this.#warmUpStore();
    return this.#stores.attachClone(name, options);
  }

  // ---------------------------------------------------------------- metrics

  /**
   * Serves `GET /metrics` (Prometheus text), `GET /v1/status/json` (the
   * status API) and `GET /` (the live status page) on `host:port` (port 0
   * picks one); resolves with the bound port. The `metricsPort` option
   * does this at construction.
   */
  async listenMetrics(host = DEFAULT_METRICS_ADDRESS, port = 0): Promise<number> {
    this.#assertRunning();
    const server = await MetricsHttpServer.listen(host, port, {
      metrics: () => this.metricsText(),
      status: () => this.status(),
    });
    if (this.#shuttingDown) {
      await server.close();
      throw new BrokerError(ErrorCode.shutting_down, "endpoint shut down");
    }
    this.#metricsServers.push(server);
    return server.port;
  }

  /** The metrics server the `metricsPort` option started: resolves with its port. */
  get metricsReady(): Promise<number> | undefined {
    return this.#metricsReady;
  }

  /**
   * This endpoint's metrics now: Broker's series (same names, labels and
   * meaning as the C++ Broker's) and ours (see `engine/metrics/endpoint_metrics.ts`).
   */
  metricFamilies(): MetricFamilySnapshot[] {
    return this.#registry().collect();
  }

  /**
   * What `GET /metrics` serves: our metrics and those imported over
   * topics (`metricsImportTopics`, with an `endpoint` label), in
   * Prometheus' text format.
   */
  metricsText(): string {
    return this.#registry().render(this.#exchange?.collector.families() ?? []);
  }

  /**
   * Adds series of one family to this endpoint's metrics (e.g. a gateway's
   * counters): `collect` runs at every scrape and export. Names should start
   * with `broker_`; a family added twice must keep its type. Returns a
   * function that removes these series again (call it when their owner
   * closes before the endpoint).
   */
  addMetrics(
    name: string,
    help: string,
    type: MetricType,
    collect: () => readonly MetricSample[],
  ): () => void {
    return this.#registry().add(name, help, type, collect);
  }

  /** What `GET /v1/status/json` serves (Broker's keys and ours: see `NodeStatus`). */
  status(): NodeStatus {
    return buildStatus({
      id: this.#idText,
      clusterNode: clusterNode(),
      now: new Date(),
      processed: this.#router.processed,
      commandsSent: this.#commands.sent,
      published: this.#router.processed.published,
      webSocketClients: this.#webSocketClients(),
      peers: this.peers(),
      stores: this.#storeMetrics(),
      subscribers: this.#local.subscriberCount,
      publishers: this.#openPublishers(),
      filter: this.#local.filter,
      peerFilter: this.peerSubscriptions(),
      imported: this.#exchange?.collector.endpoints() ?? new Map(),
    });
  }

  #registry(): MetricsRegistry {
    if (this.#metrics) return this.#metrics;
    const reg = this.#metrics = new MetricsRegistry();
    const driver = this.#driver;
    registerEndpointMetrics(reg, {
      processed: this.#router.processed,
      commandsSent: () => this.#commands.sent,
      nativeConnections: () => {
        let n = 0;
        for (const _ of this.#table.peered()) n++;
        return n;
      },
      webSocketClients: () => this.#webSocketClients(),
      peers: () =>
        this.peers().filter((p) => p.status !== "reconnecting").map((p) => ({
          id: p.id,
          address: `${p.host}:${p.port}`,
          queuedMessages: p.queuedMessages,
          queuedBytes: p.queuedBytes,
        })),
      drops: this.#overflow.drops,
      handshakeFailures: driver.handshakeFailures,
      peerings: () => ({ established: driver.peeringsEstablished, ended: driver.peeringsEnded }),
      handshakeSeconds: driver.handshakeSeconds,
      deliverySeconds: this.#local.latency.histogram,
      stores: () => this.#storeMetrics(),
      subscribers: () => this.#local.subscriberCount,
      publishers: () => this.#openPublishers(),
      importedEndpoints: () => this.#exchange?.collector.endpoints().size ?? 0,
    });
    return reg;
  }

  #webSocketClients(): number {
    let n = 0;
    for (const w of this.#webSockets) n += w.clientCount;
    return n;
  }

  #openPublishers(): number {
    let n = 0;
    for (const ref of this.#publishers) {
      const p = ref.deref();
      if (p !== undefined && !p.closed) n++;
    }
    return n;
  }

  /** Drops a closed (or collected) publisher's entry and its finalizer. */
  #forget(ref: WeakRef<Publisher>, p: Publisher | undefined): void {
    this.#publishers.delete(ref);
    if (p !== undefined) this.#collected.unregister(ref);
  }

  #storeMetrics(): { name: string; metrics: StoreMetrics }[] {
    return this.#stores.actors().map((a) => ({ name: a.name, metrics: a.metrics() }));
  }

  // ---------------------------------------------------------------- shutdown

  /** Unpeers from everybody (BYE), closes listeners, ends subscribers. */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    // The store warm-up this endpoint started runs on private endpoints; it
    // ends on its own (always resolving), and nothing of it may outlive us.
    await this.#storeWarming;
    const exchange = this.#exchange?.stop();
    await Promise.all(this.#metricsServers.splice(0).map((m) => m.close()));
    await this.#acceptor.close();
    await Promise.all(this.#webSockets.splice(0).map((w) => w.close()));
    this.#dialer.retireAll(new BrokerError(ErrorCode.shutting_down, "endpoint shut down"));
    await Promise.all([...this.#table.connections].map(async (c) => {
      if (c.state === "peered") await c.tcp.drained();
      await this.#driver.disconnect(c);
    }));
    // After the peers' BYE, so nothing of the stores goes on the wire, and
    // before the status subscribers end, so they hear of a batch a master's
    // backend could not commit on close; its file is closed when this resolves.
    this.#stores.closeAll();
    this.#local.closeAll();
    this.#statuses.close();
    await exchange;
  }

  #assertRunning(): void {
    if (this.#shuttingDown) throw new BrokerError(ErrorCode.shutting_down, "endpoint shut down");
  }
}

/** The subscriber the endpoint routes to behind `options.except` (a handle's). */
function exceptOf(options: PublishOptions | undefined): Subscriber | undefined {
  return options?.except && routedSubscriber(options.except);
}

/** Broker's `cluster-node` in the status API: `CLUSTER_NODE`, else `unknown`. */
function clusterNode(): string {
  try {
    const granted = Deno.permissions.querySync({ name: "env", variable: "CLUSTER_NODE" });
    return granted.state === "granted" ? Deno.env.get("CLUSTER_NODE") ?? "unknown" : "unknown";
  } catch {
    return "unknown"; // no --allow-env
  }
}

function checkTopic(topic: string): void {
  if (typeof topic !== "string") {
    throw new BrokerError(ErrorCode.invalid_data, "topics are strings");
  }
  if (isReservedTopic(topic)) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `topics starting with "<$>" are reserved for Broker itself: ${topic}`,
    );
  }
}

/** Subscriptions may also name the endpoint's own internal topics (store events, ...). */
function checkSubscription(topic: string): void {
  if (typeof topic === "string" && isInternalTopic(topic)) return;
  checkTopic(topic);
}

/** One of the private endpoints the warm-ups peer in memory: it does not warm up itself. */
function privateWarmUpEndpoint(id: string): Endpoint {
  return new Endpoint({ id, warmUp: false });
}
