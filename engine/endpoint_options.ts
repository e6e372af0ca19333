/**
 * The endpoint's options, their defaults (each a named `DEFAULT_*`) and
 * their checks: one place to read what an endpoint can be told and what
 * it assumes when it is not.
 *
 * @example
 * ```ts
 * import { DEFAULT_PEER_BUFFER_SIZE, resolveEndpointOptions } from "./endpoint_options.ts";
 * const o = resolveEndpointOptions({ ttl: 8 });
 * if (o.ttl !== 8 || o.peerBufferSize !== DEFAULT_PEER_BUFFER_SIZE) throw new Error("defaults");
 * ```
 *
 * @module
 */
import { DEFAULT_MAX_VALUES } from "./data/mod.ts";
import { BrokerError, ErrorCode } from "./errors.ts";
import type { RecordedFrame } from "./peering/connection_driver.ts";
import type { Subscriber } from "./subscriber.ts";
import type { SslOptions } from "./transport/tls.ts";
import { BROKER_MAX_FRAME_SIZE, DEFAULT_TTL } from "./wire/mod.ts";

export { DEFAULT_TTL };

/** Default of `peerBufferSize`: Broker's. */
export const DEFAULT_PEER_BUFFER_SIZE = 2048;
/** Default of `overflowPolicy`: Broker's. */
export const DEFAULT_OVERFLOW_POLICY = "disconnect";
/** Default of `handshakeTimeoutMs` (Broker has none). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;
/** Default of `maxPendingHandshakes`. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 256;
/** Default of `maxHandshakeFrameSize`: a hello plus thousands of subscriptions. */
export const DEFAULT_MAX_HANDSHAKE_FRAME_SIZE = 256 * 1024;
/** Default of `peerBufferBytes`. */
export const DEFAULT_PEER_BUFFER_BYTES = 64 * 1024 * 1024;
/** Default of `unpeerTimeoutMs`: Broker's 3 s. */
export const DEFAULT_UNPEER_TIMEOUT_MS = 3000;
/** Default of `PeerOptions.retryMs`: Broker's 10 s. */
export const DEFAULT_RETRY_MS = 10_000;
/** Default of `metricsAddress` (Broker's tools bind 0.0.0.0; a library endpoint stays local). */
export const DEFAULT_METRICS_ADDRESS = "127.0.0.1";
/** Time allowed to open a socket to a peer (and complete TLS), ms. */
export const CONNECT_TIMEOUT_MS = 1000;

/**
 * Options of an endpoint, named after Broker's configuration keys; times
 * are in milliseconds and say so (`…Ms`), sizes in messages or bytes.
 */
export interface EndpointOptions {
  /**
   * Endpoint ID as UUID text; random when absent (a UUID v5 like CAF's,
   * carrying the mark by which our endpoints recognise each other: an
   * explicit ID without it makes this endpoint look like a C++ Broker to
   * ours, so cycles through it are not deduplicated).
   */
  id?: string;
  /**
   * Broker's `disable-ssl`, `true` here (Broker's default is SSL on).
   * With `false`, peerings use TLS: with the certificates in `ssl`, or,
   * with no `ssl` setting, Broker's (and Zeek's) default anonymous mode.
   * @default {true}
   */
  disableSsl?: boolean;
  /**
   * Broker's `broker.ssl.*` settings (PEM file paths), used when `disableSsl`
   * is false. With none of them set, TLS runs as Broker's anonymous mode
   * (`AECDH-AES256-SHA` over P-384, no certificates, nothing authenticated),
   * the mode a Zeek with default settings peers in. As a client we present our certificate and
   * verify the peer's chain against `cafile`/`capath` (not its host name, as
   * Broker); as a server we present ours and, as Broker, require the
   * client's, signed by `cafile`/`capath`.
   */
  ssl?: SslOptions;
  /**
   * Broker's `ttl` (`broker.ttl`): accepted and kept, as Broker, which reads
   * it and uses it nowhere: every envelope carries 16 (Broker's default),
   * whatever this says, and a received TTL is neither checked nor decremented.
   * @default {16}
   */
  ttl?: number;
  /**
   * Messages queued per peer before `overflowPolicy` applies, as Broker.
   * @default {2048}
   */
  peerBufferSize?: number;
  /**
   * What a full peer buffer does: Broker's `disconnect`, `drop_newest`, `drop_oldest`.
   * @default {"disconnect"}
   */
  overflowPolicy?: "disconnect" | "drop_newest" | "drop_oldest";
  /**
   * Handshake timeout (Broker has none: a silent peer holds its slot
   * forever). Over TLS, the TLS handshake gets this long too, then Broker's
   * handshake does.
   * @default {10_000}
   */
  handshakeTimeoutMs?: number;
  /**
   * Accepted connections allowed at once in their handshakes (TLS or
   * Broker's), before they are known peers. Beyond it a new connection is
   * closed at once and reported as a `peer_unavailable` error.
   * @default {256}
   */
  maxPendingHandshakes?: number;
  /**
   * Largest frame an accepted connection may send before its handshake is
   * done, in bytes: room for a hello and a subscription list of thousands of
   * topics. Larger ones close the connection (`invalid_message`). Frames
   * from peers we dial may be up to 64 MiB before the handshake, and every
   * frame after it up to `maxFrameSize`.
   * @default {262_144}
   */
  maxHandshakeFrameSize?: number;
  /**
   * Largest frame a peer may send once its handshake is done, in bytes; a
   * larger one ends the peering (`invalid_message`). By default Broker's own
   * bound, INT32_MAX - 4 (`BROKER_MAX_FRAME_SIZE`): a store's snapshot or a
   * value travels as one frame however large, and Broker sends and takes it.
   * A frame being read holds memory as its bytes arrive, so lower this to
   * bound what one peer can make us hold.
   * @default {2_147_483_643}
   */
  maxFrameSize?: number;
  /**
   * Bytes queued per peer before `overflowPolicy` applies (besides the
   * `peerBufferSize` message count, Broker's only bound): a message that
   * does not fit is refused, unless it is larger than this whole bound and
   * less than it is queued.
   * @default {67_108_864}
   */
  peerBufferBytes?: number;
  /**
   * Decode budget: most values (containers and elements, every level) one
   * received data message may hold. Over it the message is dropped with a
   * `deserialization_failed` error status before anything is built
   * (`DEFAULT_MAX_VALUES`; Broker has no limit).
   * @default {1_048_576}
   */
  maxValues?: number;
  /**
   * Broker's `disable-forwarding`: never relay other endpoints' messages.
   * @default {false}
   */
  disableForwarding?: boolean;
  /**
   * Time allowed for the BYE ping/pong when unpeering, as Broker.
   * @default {3000}
   */
  unpeerTimeoutMs?: number;
  /**
   * Sees every frame sent and received (without its length prefix), e.g. to
   * write a capture file. The frame is only valid during the call.
   */
  recorder?: (frame: RecordedFrame) => void;
  /**
   * For two endpoints of one process that share one `id`, as a gateway's
   * external and internal sides do (see `Gateway`): 0 for one, 1 for the
   * other. Their origin-tagged broadcasts then never reuse each other's
   * sequence numbers, and traffic from our own ID that arrives from a peer
   * and is not our own broadcast coming round a cycle (the twin's
   * broadcast, or a frame whose sender is our ID) means another path joins
   * the twin's network to ours: it is dropped and reported as a
   * `logic_error` status. Absent (the default), nothing changes.
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * import { str } from "./data/mod.ts";
   * // Twins sharing one ID, and a path joining their networks: i -> y -> x -> e.
   * const e = new Endpoint({ sharedIdLane: 0 });
   * const i = new Endpoint({ id: e.id, sharedIdLane: 1 });
   * const x = new Endpoint(), y = new Endpoint();
   * const errors = e.statusSubscriber({ statuses: false });
   * for (const ep of [x, y, e]) ep.subscribe("/t");
   * const ep = await e.listen("127.0.0.1", 0), yp = await y.listen("127.0.0.1", 0);
   * await x.peer("127.0.0.1", ep);
   * await x.peer("127.0.0.1", yp);
   * await i.peer("127.0.0.1", yp);
   * await i.awaitPeerSubscription("/t");
   * await y.awaitPeerSubscription("/t");
   * i.publish("/t/x", str("from the twin"));
   * const err = await errors.get(5000);
   * if (!/another path joins/.test(err?.message ?? "")) throw new Error("reported");
   * await Promise.all([x.shutdown(), y.shutdown(), e.shutdown(), i.shutdown()]);
   * ```
   */
  sharedIdLane?: 0 | 1;
  /**
   * Broker's `broker.metrics.port`: serve `GET /metrics` (Prometheus text,
   * Broker's series and ours), `GET /v1/status/json` (the status API) and
   * `GET /` (a live status page) on this port from the start (0 picks a
   * free one; see `Endpoint.metricsReady`). Unset: no server, unless
   * `Endpoint.listenMetrics` starts one. A failure to listen is reported
   * as an error status and rejects `metricsReady`.
   */
  metricsPort?: number;
  /**
   * Broker's `broker.metrics.address`: where `metricsPort` listens.
   * @default {"127.0.0.1"}
   */
  metricsAddress?: string;
  /**
   * Broker's `broker.metrics.endpoint-name`: this endpoint's name in the
   * metrics it exports (default: the export topic's last segment).
   */
  metricsEndpointName?: string;
  /**
   * Broker's `broker.metrics.export.topic`: publish this endpoint's metrics
   * on the topic every `metricsExportIntervalMs`, in Broker's exporter
   * layout (see `engine/metrics/topic_export.ts`).
   */
  metricsExportTopic?: string;
  /**
   * Broker's `broker.metrics.export.interval`, in ms.
   * @default {1000}
   */
  metricsExportIntervalMs?: number;
  /**
   * Broker's `broker.metrics.export.prefixes`: export only the metric
   * families of these prefixes (`broker` for all of ours); all when unset.
   */
  metricsExportPrefixes?: readonly string[];
  /**
   * Broker's `broker.metrics.import.topics`: collect other endpoints'
   * exports from these topics and serve them on our `/metrics`, with an
   * `endpoint` label.
   */
  metricsImportTopics?: readonly string[];
  /**
   * Before this process's first `listen` or `peer`, run the hot paths for a
   * few ms between two private endpoints in memory (see
   * `engine/warm_up.ts`), so the first messages over real peerings do not
   * pay for V8's compilation; likewise the store path (about 150 ms)
   * after the first master or clone, and the WebSocket API (through a private server on a
   * loopback port, about 145 ms) before the first `listenWebSocket`. Once
   * per process each; nothing reaches a peer.
   * @default {true}
   */
  warmUp?: boolean;
}

/** Options of `publish`. */
export interface PublishOptions {
  /**
   * Also deliver to this endpoint's own subscribers (Broker does not; the
   * WebSocket API does it for messages from its clients).
   * @default {false}
   */
  local?: boolean;
  /** With `local`: a subscriber that must not get it (the client that sent it). */
  except?: Subscriber;
}

/** Options of `peer`. */
export interface PeerOptions {
  /**
   * Pause between reconnection attempts (Broker's `retry`, 10 s); 0
   * disables retrying.
   * @default {10_000}
   */
  retryMs?: number;
}

/** The metrics options (`metrics*`): optional even when resolved. */
export type MetricsOptionKey =
  | "metricsPort"
  | "metricsAddress"
  | "metricsEndpointName"
  | "metricsExportTopic"
  | "metricsExportIntervalMs"
  | "metricsExportPrefixes"
  | "metricsImportTopics";

/** Every endpoint option but the ID, the recorder, TLS paths, the lane and metrics, with its default applied. */
export type ResolvedEndpointOptions = Required<
  Omit<EndpointOptions, "id" | "recorder" | "ssl" | "sharedIdLane" | MetricsOptionKey>
>;

/**
 * Applies the defaults to `options` and checks the sizes and times: a
 * `BrokerError(invalid_data)` names the first one that is not a positive
 * integer.
 */
export function resolveEndpointOptions(options: EndpointOptions): ResolvedEndpointOptions {
  const resolved: ResolvedEndpointOptions = {
    disableSsl: options.disableSsl ?? true,
    ttl: options.ttl ?? DEFAULT_TTL,
    peerBufferSize: options.peerBufferSize ?? DEFAULT_PEER_BUFFER_SIZE,
    overflowPolicy: options.overflowPolicy ?? DEFAULT_OVERFLOW_POLICY,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    maxPendingHandshakes: options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
    maxHandshakeFrameSize: options.maxHandshakeFrameSize ?? DEFAULT_MAX_HANDSHAKE_FRAME_SIZE,
    maxFrameSize: options.maxFrameSize ?? BROKER_MAX_FRAME_SIZE,
    peerBufferBytes: options.peerBufferBytes ?? DEFAULT_PEER_BUFFER_BYTES,
    maxValues: options.maxValues ?? DEFAULT_MAX_VALUES,
    disableForwarding: options.disableForwarding ?? false,
    unpeerTimeoutMs: options.unpeerTimeoutMs ?? DEFAULT_UNPEER_TIMEOUT_MS,
    warmUp: options.warmUp ?? true,
  };
  for (
    const k of [
      "peerBufferSize",
      "handshakeTimeoutMs",
      "maxPendingHandshakes",
      "maxHandshakeFrameSize",
      "maxFrameSize",
      "peerBufferBytes",
      "maxValues",
    ] as const
  ) {
    const v = resolved[k];
    if (!Number.isSafeInteger(v) || v <= 0) {
      throw new BrokerError(ErrorCode.invalid_data, `${k} must be a positive integer, got ${v}`);
    }
  }
  if (resolved.maxFrameSize > BROKER_MAX_FRAME_SIZE) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `maxFrameSize must be at most ${BROKER_MAX_FRAME_SIZE} (a frame's length is 32 bits), got ${resolved.maxFrameSize}`,
    );
  }
  // Broker's uint16 settings, and the metrics options (read later, where a bad one threw a
  // RangeError or went unreported): refused here, with the rest.
  const u16 = (k: string, v: number | undefined) => {
    if (v !== undefined && !(Number.isInteger(v) && v >= 0 && v <= 65535)) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `${k} must be an integer from 0 to 65535, got ${v}`,
      );
    }
  };
  u16("ttl", options.ttl);
  u16("metricsPort", options.metricsPort);
  const interval = options.metricsExportIntervalMs;
  if (interval !== undefined && !(Number.isFinite(interval) && interval > 0)) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `metricsExportIntervalMs must be a positive number of ms, got ${interval}`,
    );
  }
  return resolved;
}
