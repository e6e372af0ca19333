/**
 * The Endpoint: wires TCP transport, the handshake state machine, routing and
 * subscribers together. One process may hold many endpoints, each with its
 * own ID and configuration.
 *
 * @module
 */
import {
  copyToSlab,
  type Data,
  type DecodeOptions,
  DEFAULT_MAX_VALUES,
  encode,
  encodeAfter,
  validate,
  validateForLater,
} from "./data/mod.ts";
import {
  copyOriginTag,
  isOwnEndpointId,
  newOwnEndpointId,
  readOriginTag,
  SeenOrigins,
  writeOriginTag,
} from "./routing/origin_tag.ts";
import { BrokerError, ErrorCode } from "./errors.ts";
import { Handshake, type HandshakeAction, type PeerCheck } from "./peering/handshake.ts";
import { PeerOverflow } from "./peering/overflow.ts";
import {
  filterMatches,
  insertIntoFilter,
  isInternalTopic,
  isReservedTopic,
  makeFilter,
} from "./routing/filter.ts";
import { PrefixTrie } from "./routing/trie.ts";
import { BoundedQueue } from "./queue.ts";
import { Publisher, type PublisherOptions } from "./publisher.ts";
import { Event, type EventOptions } from "./zeek/event.ts";
import { WebSocketServer, type WebSocketServerOptions } from "./websocket/server.ts";
import { errorEvent, type PeerInfo, StatusCode, type StatusEvent, statusEvent } from "./status.ts";
import { type PendingMessage, Subscriber, type SubscriberOptions } from "./subscriber.ts";
import { connectTcp, type NetAddress, type TcpConnection } from "./transport/tcp.ts";
import { type Listener, listenTcp } from "./transport/listener.ts";
import { loadTlsMaterial, type SslOptions, type TlsMaterial } from "./transport/tls.ts";
import {
  ByeToken,
  decodeRoutingUpdate,
  DEFAULT_MAX_FRAME_SIZE,
  DEFAULT_TTL,
  encodeEnvelope,
  encodePing,
  encodePong,
  encodeRoutingUpdateEnvelope,
  type EndpointId,
  endpointIdsEqual,
  endpointIdToString,
  type EnvelopeEncodeOptions,
  EnvelopeType,
  FRAME_PREFIX_SIZE,
  framedHeaderSize,
  FrameReader,
  hasLocalSender,
  isByePong,
  isNilEndpointId,
  NIL_ENDPOINT_ID,
  parseEndpointId,
  parseEnvelope,
  rewriteForwarded,
  sealFrame,
  writeEnvelopeHeader,
} from "./wire/mod.ts";
import type { StoreBackend } from "./store/backend.ts";
import type { CommandBus, CommandMessage } from "./store/command_bus.ts";
import { type CloneOptions, StoreClone } from "./store/clone.ts";
import { type MasterOptions, StoreMaster } from "./store/master.ts";
import { decodeCommand } from "./store/commands.ts";
import { MemoryBackend } from "./store/memory_backend.ts";
import { Store } from "./store/store.ts";
import type { StoreActor } from "./store/store_common.ts";

/** Options of an endpoint, named after Broker's configuration keys. */
export interface EndpointOptions {
  /**
   * Endpoint ID as UUID text; random when absent (a UUID v5 like CAF's,
   * carrying the mark by which our endpoints recognise each other: an
   * explicit ID without it makes this endpoint look like a C++ Broker to
   * ours, so cycles through it are not deduplicated).
   */
  id?: string;
  /**
   * Broker's `disable-ssl`. Default `true` here (Broker's default is SSL on).
   * With `false`, peerings use TLS with the certificates in `ssl`.
   */
  disableSsl?: boolean;
  /**
   * Broker's `broker.ssl.*` settings (PEM file paths), used when `disableSsl`
   * is false. Certificates are required: Broker's anonymous mode has no
   * counterpart in Deno's TLS. As a client we present our certificate and
   * verify the peer's chain against `cafile`/`capath` (not its host name, as
   * Broker); as a server we present ours and, as Broker, require the
   * client's, signed by `cafile`/`capath`.
   */
  ssl?: SslOptions;
  /** Broker's `ttl`: written into every envelope (Broker never decrements it). Default 16. */
  ttl?: number;
  /** Messages queued per peer before `overflowPolicy` applies. Default 2048, as Broker. */
  peerBufferSize?: number;
  /** What a full peer buffer does: Broker's `disconnect` (default), `drop_newest`, `drop_oldest`. */
  overflowPolicy?: "disconnect" | "drop_newest" | "drop_oldest";
  /**
   * Handshake timeout in ms (Broker has none: a silent peer holds its slot
   * forever). Default 10 s. Over TLS, the TLS handshake gets this long too,
   * then Broker's handshake does.
   */
  handshakeTimeout?: number;
  /**
   * Accepted connections allowed at once in their handshakes (TLS or
   * Broker's), before they are known peers. Beyond it a new connection is
   * closed at once and reported as a `peer_unavailable` error. Default 256.
   */
  maxPendingHandshakes?: number;
  /**
   * Largest frame an accepted connection may send before its handshake is
   * done, in bytes: room for a hello and a subscription list of thousands of
   * topics. Larger ones close the connection (`invalid_message`). Frames
   * from peers we dial, and every frame after the handshake, may be up to
   * 64 MiB. Default 256 KiB.
   */
  maxHandshakeFrameSize?: number;
  /**
   * Bytes queued per peer before `overflowPolicy` applies (besides the
   * `peerBufferSize` message count). Default 64 MiB; a single larger
   * message is still sent when the queue is empty.
   */
  peerBufferBytes?: number;
  /**
   * Decode budget: most values (containers and elements, every level) one
   * received data message may hold. Over it the message is dropped with a
   * `deserialization_failed` error status before anything is built. Default
   * 1,048,576 (`DEFAULT_MAX_VALUES`; Broker has no limit).
   */
  maxValues?: number;
  /** Broker's `disable-forwarding`: never relay other endpoints' messages. */
  disableForwarding?: boolean;
  /** Time allowed for the BYE ping/pong when unpeering, in ms. Default 3 s, as Broker. */
  unpeerTimeout?: number;
  /**
   * Sees every frame sent and received (without its length prefix), e.g. to
   * write a capture file. The frame is only valid during the call.
   */
  recorder?: (frame: RecordedFrame) => void;
}

/** A frame as a recorder sees it. */
export interface RecordedFrame {
  /** Whether we sent or received it. */
  direction: "sent" | "received";
  /** The peer's endpoint ID, once the handshake told us. */
  peerId?: string;
  /** The peer's address. */
  host: string;
  /** The peer's port. */
  port: number;
  /** The frame without its 4-byte length prefix (valid only during the call). */
  frame: Uint8Array;
}

/** Options of `publish`. */
export interface PublishOptions {
  /**
   * Also deliver to this endpoint's own subscribers (Broker does not; the
   * WebSocket API does it for messages from its clients).
   */
  local?: boolean;
  /** With `local`: a subscriber that must not get it (the client that sent it). */
  except?: Subscriber;
}

/** Options of `peer`. */
export interface PeerOptions {
  /** Seconds between reconnection attempts; 0 disables retrying. Default 10, as Broker. */
  retry?: number;
}

/** A peer as `peers()` lists it. */
export interface PeerDescription {
  /** Its endpoint ID (UUID text), once known. */
  id?: string;
  /** Address we dialled, or the remote address of an incoming connection. */
  host: string;
  /** Port we dialled, or the remote port of an incoming connection. */
  port: number;
  /** `connecting` (dialling or in the handshake), `peered`, or `reconnecting` (waiting to redial). */
  status: "connecting" | "peered" | "reconnecting";
  /** Whether we dialled it. */
  outbound: boolean;
  /** Whether it is one of our endpoints, so broadcasts between us carry origin tags (exactly once in cycles). */
  originTags: boolean;
  /** Messages queued for it and not yet written to its socket. */
  queuedMessages: number;
  /** Bytes queued for it and not yet written to its socket. */
  queuedBytes: number;
}

/** A dialled peering that we keep alive (reconnecting at `retry` seconds). */
interface OutboundTarget {
  host: string;
  port: number;
  retry: number;
  active: boolean;
  connection?: Connection;
  timer?: ReturnType<typeof setTimeout>;
  waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** One TCP connection and where it is in its life. */
interface Connection {
  tcp: TcpConnection;
  reader: FrameReader;
  handshake?: Handshake;
  handshakeTimer?: ReturnType<typeof setTimeout>;
  state: "handshake" | "paused" | "peered" | "closed";
  peerId?: EndpointId;
  peerKey?: string;
  filter: readonly string[];
  address: NetAddress;
  target?: OutboundTarget;
  bye?: { token: Uint8Array; done: () => void };
  /** Closed as redundant: another connection to the same peer carries the peering. */
  redundant?: boolean;
  /** An accepted connection that holds one of the `maxPendingHandshakes` slots. */
  pendingSlot?: boolean;
  /** Whether both IDs carry our mark (`isOwnEndpointId`): broadcasts to the peer carry origin tags. */
  ours?: boolean;
  /** Version of our filter last sent; if ours grew since the handshake, the peer gets an update. */
  sentFilterVersion?: number;
  removed?: boolean;
}

/** Default of `maxPendingHandshakes`. */
export const DEFAULT_MAX_PENDING_HANDSHAKES = 256;
/** Default of `maxHandshakeFrameSize`: a hello plus thousands of subscriptions. */
export const DEFAULT_MAX_HANDSHAKE_FRAME_SIZE = 256 * 1024;
/** Default of `peerBufferBytes`. */
export const DEFAULT_PEER_BUFFER_BYTES = 64 * 1024 * 1024;
const UNBUDGETED: DecodeOptions = { maxValues: Number.MAX_SAFE_INTEGER };

function keyOf(id: EndpointId): string {
  let s = "";
  for (const b of id) s += b.toString(16).padStart(2, "0");
  return s;
}

/**
 * A Broker endpoint: listens and peers over TCP, publishes and subscribes by
 * topic prefix, and relays between its peers as the C++ Broker does.
 *
 * @example
 * ```ts ignore
 * import { Endpoint, count } from "../mod.ts";
 * const a = new Endpoint(), b = new Endpoint();
 * const port = await a.listen("127.0.0.1", 0);
 * const sub = a.subscribe(["/demo"]);
 * await b.peer("127.0.0.1", port);
 * await b.awaitPeerSubscription("/demo");
 * b.publish("/demo/x", count(1n));
 * console.log(await sub.get(1000));
 * await a.shutdown(); await b.shutdown();
 * ```
 */
export class Endpoint {
  readonly #id: EndpointId;
  readonly #idText: string;
  readonly #opts: Required<Omit<EndpointOptions, "id" | "recorder" | "ssl">>;
  readonly #tls?: TlsMaterial;
  readonly #decodeOptions: DecodeOptions;
  /** How control frames are encoded: framed, one write each, with our TTL. */
  readonly #controlOptions: EnvelopeEncodeOptions;
  readonly #recorder?: (frame: RecordedFrame) => void;
  readonly #filter: string[] = [];
  /** Bumped whenever #filter grows, so a connection can tell whether it saw the latest. */
  #filterVersion = 0;
  readonly #local = new PrefixTrie<Subscriber>();
  /**
   * Local subscribers that also get this endpoint's own publishes: WebSocket
   * clients, to which Broker's core hands every data message, local ones too.
   */
  readonly #echo = new PrefixTrie<Subscriber>();
  readonly #subscribers = new Set<Subscriber>();
  readonly #headers = new Map<string, Uint8Array>();
  readonly #topicBytes = new Map<string, Uint8Array>();
  #round = 0;
  /** Sequence number of the broadcasts we tag as their origin. */
  #seq = 0;
  readonly #seen = new SeenOrigins();
  readonly #peerRoutes = new PrefixTrie<Connection>();
  /** Per-peer queue limits, the overflow policy and demand (reads `#opts` live). */
  readonly #overflow: PeerOverflow<Connection>;
  readonly #peers = new Map<string, Connection>();
  readonly #connections = new Set<Connection>();
  readonly #targets: OutboundTarget[] = [];
  readonly #listeners: Listener[] = [];
  /** Accepted connections still in Broker's handshake (TLS ones count in their listener first). */
  #pendingAccepted = 0;
  readonly #webSockets: WebSocketServer[] = [];
  readonly #commandHandlers = new Map<string, Set<(m: CommandMessage) => void>>();
  readonly #statusQueues = new Set<{ q: BoundedQueue<StatusEvent>; statuses: boolean }>();
  readonly #filterWaiters: (() => void)[] = [];
  #shuttingDown = false;

  /** A new endpoint: it neither listens nor peers until told to. */
  constructor(options: EndpointOptions = {}) {
    this.#id = options.id ? parseEndpointId(options.id) : newOwnEndpointId();
    this.#idText = endpointIdToString(this.#id);
    this.#opts = {
      disableSsl: options.disableSsl ?? true,
      ttl: options.ttl ?? DEFAULT_TTL,
      peerBufferSize: options.peerBufferSize ?? 2048,
      overflowPolicy: options.overflowPolicy ?? "disconnect",
      handshakeTimeout: options.handshakeTimeout ?? 10_000,
      maxPendingHandshakes: options.maxPendingHandshakes ?? DEFAULT_MAX_PENDING_HANDSHAKES,
      maxHandshakeFrameSize: options.maxHandshakeFrameSize ?? DEFAULT_MAX_HANDSHAKE_FRAME_SIZE,
      peerBufferBytes: options.peerBufferBytes ?? DEFAULT_PEER_BUFFER_BYTES,
      maxValues: options.maxValues ?? DEFAULT_MAX_VALUES,
      disableForwarding: options.disableForwarding ?? false,
      unpeerTimeout: options.unpeerTimeout ?? 3000,
    };
    for (
      const k of [
        "peerBufferSize",
        "handshakeTimeout",
        "maxPendingHandshakes",
        "maxHandshakeFrameSize",
        "peerBufferBytes",
        "maxValues",
      ] as const
    ) {
      const v = this.#opts[k];
      if (!Number.isSafeInteger(v) || v <= 0) {
        throw new BrokerError(ErrorCode.invalid_data, `${k} must be a positive integer, got ${v}`);
      }
    }
    this.#decodeOptions = { maxValues: this.#opts.maxValues };
    this.#controlOptions = { prefix: true, ttl: this.#opts.ttl };
    this.#overflow = new PeerOverflow<Connection>(this.#opts, (c, message) => {
      this.#emit(errorEvent(ErrorCode.peer_timeout, message, this.#infoOf(c)));
    });
    this.#recorder = options.recorder;
    if (!this.#opts.disableSsl) this.#tls = loadTlsMaterial(options.ssl);
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
    return this.#filter;
  }

  // ---------------------------------------------------------------- listening

  /**
   * Accepts peers on `host:port` (port 0 picks a free one). Returns the bound port.
   */
  async listen(host = "127.0.0.1", port = 0): Promise<number> {
    this.#assertRunning();
    const listener = await listenTcp(
      { host, port, tls: this.#tls, tlsHandshakeTimeoutMs: this.#opts.handshakeTimeout },
      {
        admit: (remote) => this.#admit(remote),
        accepted: (tcp) => {
          if (this.#shuttingDown) return tcp.close();
          this.#startConnection(tcp, "acceptor");
        },
        abandoned: (remote, error) => this.#emit(errorEvent(error.code, error.message, remote)),
      },
    );
    this.#listeners.push(listener);
    return listener.port;
  }

  /** Whether a new socket may start a handshake (a cap on unknown clients' slots). */
  #admit(remote: NetAddress): boolean {
    if (this.#shuttingDown) return false;
    let pending = this.#pendingAccepted;
    for (const l of this.#listeners) pending += l.pendingTls;
    if (pending < this.#opts.maxPendingHandshakes) return true;
    this.#emit(errorEvent(
      ErrorCode.peer_unavailable,
      `refused a connection from ${remote.host}:${remote.port}: ` +
        `${pending} handshakes pending (maxPendingHandshakes)`,
      remote,
    ));
    return false;
  }

  // ---------------------------------------------------------------- peering

  /**
   * Peers with the endpoint at `host:port`: resolves once the handshake is
   * done, rejects with `peer_unavailable` when the attempt fails (as Broker's
   * blocking `peer`). With `retry` > 0 (default 10 s, as Broker) the endpoint
   * keeps re-dialling a failed or lost peering in the background until `unpeer`.
   */
  peer(host: string, port: number, options: PeerOptions = {}): Promise<void> {
    this.#assertRunning();
    const existing = this.#targets.find((t) => t.host === host && t.port === port && t.active);
    if (existing?.connection?.state === "peered") return Promise.resolve();
    const target = existing ?? {
      host,
      port,
      retry: options.retry ?? 10,
      active: true,
      waiters: [],
    };
    if (!existing) this.#targets.push(target);
    const done = new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    if (!existing) this.#dial(target);
    return done;
  }

  /** Like `peer`, without waiting; failures show up on status subscribers. */
  peerNoWait(host: string, port: number, options: PeerOptions = {}): void {
    this.peer(host, port, options).catch(() => {});
  }

  async #dial(target: OutboundTarget): Promise<void> {
    target.timer = undefined;
    if (!target.active || this.#shuttingDown) return;
    let tcp: TcpConnection;
    try {
      tcp = await connectTcp({ host: target.host, port: target.port }, 1000, this.#tls);
    } catch (e) {
      this.#emit(errorEvent(ErrorCode.peer_unavailable, `cannot connect: ${e}`, target));
      this.#dialFailed(
        target,
        new BrokerError(
          ErrorCode.peer_unavailable,
          `cannot connect to ${target.host}:${target.port}: ${e}`,
        ),
      );
      return;
    }
    if (!target.active || this.#shuttingDown) {
      tcp.close();
      return;
    }
    const c = this.#startConnection(tcp, "connector", target);
    target.connection = c;
  }

  #dialFailed(target: OutboundTarget, error: BrokerError): void {
    target.connection = undefined;
    // Like Broker's blocking peer(): the caller learns how the attempt went,
    // and with a retry interval the endpoint keeps dialling in the background.
    for (const w of target.waiters.splice(0)) w.reject(error);
    if (target.retry > 0 && target.active && !this.#shuttingDown) {
      target.timer = setTimeout(() => this.#dial(target), target.retry * 1000);
      return;
    }
    target.active = false;
    const i = this.#targets.indexOf(target);
    if (i >= 0) this.#targets.splice(i, 1);
  }

  #startConnection(tcp: TcpConnection, role: "connector" | "acceptor", target?: OutboundTarget) {
    const acceptor = role === "acceptor";
    const c: Connection = {
      tcp,
      // Until it is a known peer, an unknown client may not make us buffer much.
      reader: new FrameReader(
        acceptor ? { maxFrameSize: this.#opts.maxHandshakeFrameSize } : undefined,
      ),
      pendingSlot: acceptor,
      state: "handshake",
      filter: [],
      address: target ? { host: target.host, port: target.port } : tcp.remote,
      target,
    };
    this.#connections.add(c);
    if (acceptor) this.#pendingAccepted++;
    if (this.#recorder) {
      tcp.onSend = (bytes) => this.#record(c, "sent", bytes.subarray(FRAME_PREFIX_SIZE));
    }
    c.handshake = new Handshake({
      ownId: this.#id,
      role,
      filter: () => {
        c.sentFilterVersion = this.#filterVersion;
        return this.#filter.slice();
      },
      checkPeer: (id, originator) => this.#checkPeer(c, id, originator),
      knowsPeer: (id) => {
        const key = keyOf(id);
        if (this.#peers.has(key)) return true;
        for (const other of this.#connections) {
          if (other !== c && other.peerKey === key) return true;
        }
        return false;
      },
    });
    c.handshakeTimer = setTimeout(() => {
      if ((c.state === "handshake" || c.state === "paused") && c.handshake) {
        this.#apply(c, c.handshake.timeout());
      }
    }, this.#opts.handshakeTimeout);
    tcp.start({
      onBytes: (chunk) => this.#onBytes(c, chunk),
      onClose: (error) => this.#onClose(c, error),
    });
    this.#apply(c, c.handshake.start());
    return c;
  }

  /** Broker's peer-status check (source reference section 6.4). */
  #checkPeer(c: Connection, id: EndpointId, originator: boolean): PeerCheck {
    if (this.#shuttingDown) return { drop: ErrorCode.shutting_down, reason: "shutting down" };
    const key = keyOf(id);
    // Known from here on, also for the error a refused connection reports.
    c.peerId = id;
    const peered = this.#peers.get(key);
    if (peered && peered !== c) {
      return originator
        ? { drop: ErrorCode.redundant_connection, reason: "redundant connection" }
        : { drop: ErrorCode.logic_error, reason: "detected redundant connection at the responder" };
    }
    for (const other of this.#connections) {
      if (other !== c && other.state === "handshake" && other.peerKey === key) {
        return originator ? "pause" : {
          drop: ErrorCode.logic_error,
          reason: "detected redundant connection at the responder",
        };
      }
    }
    c.peerKey = key;
    c.peerId = id;
    return "proceed";
  }

  #apply(c: Connection, actions: HandshakeAction[]): void {
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          c.tcp.send(a.frame);
          break;
        case "paused":
          c.state = "paused";
          c.peerKey = keyOf(a.peerId);
          break;
        case "established":
          this.#established(c, a.peerId, a.peerFilter);
          break;
        case "failed": {
          clearTimeout(c.handshakeTimer);
          const redundant = a.redundant || a.error.code === ErrorCode.redundant_connection;
          c.peerId ??= c.handshake?.peerId;
          const existing = c.peerId && this.#peers.get(keyOf(c.peerId));
          if (redundant && existing && c.target) {
            // Already peered over another connection: for the caller that is success (Broker 6.4).
            c.redundant = true;
            const t = c.target;
            t.connection = undefined;
            t.active = false;
            const i = this.#targets.indexOf(t);
            if (i >= 0) this.#targets.splice(i, 1);
            for (const w of t.waiters.splice(0)) w.resolve();
          } else if (!a.redundant) {
            this.#emit(errorEvent(a.error.code, a.error.message, this.#infoOf(c)));
          }
          c.state = "closed";
          c.tcp.closeGracefully(200);
          break;
        }
      }
    }
  }

  #established(c: Connection, peerId: EndpointId, peerFilter: string[]): void {
    clearTimeout(c.handshakeTimer);
    this.#releasePendingSlot(c);
    c.reader.maxFrameSize = DEFAULT_MAX_FRAME_SIZE;
    const key = keyOf(peerId);
    c.state = "peered";
    c.peerId = peerId;
    c.peerKey = key;
    c.handshake = undefined;
    this.#peers.set(key, c);
    // Both IDs carry our mark: tag broadcasts between us (both sides agree, nothing is sent).
    c.ours = isOwnEndpointId(this.#id) && isOwnEndpointId(peerId);
    this.#setPeerFilter(c, peerFilter);
    if (c.sentFilterVersion !== undefined && c.sentFilterVersion !== this.#filterVersion) {
      this.#sendFilter(c);
    }
    const info = this.#infoOf(c);
    this.#emit(
      statusEvent(StatusCode.endpoint_discovered, "found a new peer in the network", info),
    );
    this.#emit(statusEvent(StatusCode.peer_added, "handshake successful", info));
    // A connection that lost the race for this peer gives way now.
    for (const other of this.#connections) {
      if (other !== c && other.state === "paused" && other.peerKey === key && other.handshake) {
        this.#apply(other, other.handshake.resolveRedundant());
      }
    }
    if (c.target) {
      for (const w of c.target.waiters.splice(0)) w.resolve();
    }
    // Frames that arrived right behind the handshake's last message.
    this.#drain(c);
  }

  #releasePendingSlot(c: Connection): void {
    if (!c.pendingSlot) return;
    c.pendingSlot = false;
    this.#pendingAccepted--;
  }

  #setPeerFilter(c: Connection, filter: readonly string[]): void {
    for (const f of c.filter) this.#peerRoutes.remove(f, c);
    c.filter = makeFilter(filter);
    for (const f of c.filter) this.#peerRoutes.add(f, c);
    for (const w of this.#filterWaiters.splice(0)) w();
  }

  #onBytes(c: Connection, chunk: Uint8Array): void | Promise<void> {
    if (c.state === "closed") return;
    try {
      c.reader.push(chunk);
    } catch (e) {
      this.#fail(c, e);
      return;
    }
    return this.#drain(c);
  }

  /** Processes every complete frame; returns a promise when a subscriber asks us to wait. */
  #drain(c: Connection): void | Promise<void> {
    while (c.state !== "closed") {
      let f: Uint8Array | undefined;
      try {
        f = c.reader.next();
      } catch (e) {
        this.#fail(c, e);
        return;
      }
      if (f === undefined) {
        // The transport reuses its read buffer: keep only our own copy of a partial frame.
        c.reader.compact();
        return;
      }
      if (this.#recorder) this.#record(c, "received", f);
      if (c.state === "handshake" || c.state === "paused") {
        if (!c.handshake) return;
        this.#apply(c, c.handshake.receive(f));
        continue;
      }
      if (f.length === 0) continue; // Broker ignores empty frames after the handshake
      const wait = this.#onMessage(c, f);
      if (wait) return wait.then(() => this.#drain(c));
    }
  }

  #fail(c: Connection, e: unknown): void {
    const err = e instanceof BrokerError
      ? e
      : new BrokerError(ErrorCode.invalid_message, `connection failed: ${e}`);
    this.#emit(errorEvent(err.code, err.message, this.#infoOf(c)));
    c.tcp.close();
  }

  #onMessage(c: Connection, frame: Uint8Array): void | Promise<void> {
    let env;
    try {
      env = parseEnvelope(frame);
    } catch {
      return; // Broker drops bad node messages and keeps the peering
    }
    switch (env.type) {
      case EnvelopeType.data:
      case EnvelopeType.command:
        return this.#route(c, frame, env.topic, env.receiver, env.payload, env.type);
      case EnvelopeType.routing_update: {
        if (!endpointIdsEqual(env.sender, c.peerId!)) return;
        try {
          this.#setPeerFilter(c, decodeRoutingUpdate(env.payload));
        } catch {
          // malformed: ignore (Broker would crash; we keep the old filter)
        }
        return;
      }
      case EnvelopeType.ping: {
        if (isNilEndpointId(env.sender) || endpointIdsEqual(env.sender, this.#id)) return;
        this.#sendControl(c, encodePong(env, this.#id, this.#controlOptions), true);
        return;
      }
      case EnvelopeType.pong: {
        if (c.bye && isByePong(env) && bytesEqual(env.payload, c.bye.token)) {
          c.bye.done();
        }
        return;
      }
    }
  }

  /** Delivers a data or command message locally and forwards it to the peers that want it. */
  #route(
    from: Connection,
    frame: Uint8Array,
    topic: string,
    receiver: EndpointId,
    payload: Uint8Array,
    type: EnvelopeType,
  ): void | Promise<void> {
    if (isInternalTopic(topic)) return;
    let tag = from.ours ? readOriginTag(frame, 0) : undefined;
    if (tag) {
      // A tagged broadcast among our endpoints: handle each (origin, seq) once.
      if (tag.hi === this.#originHi && tag.lo === this.#originLo) return;
      if (!this.#seen.firstTime(tag)) return;
    }
    const broadcast = tag !== undefined || isNilEndpointId(receiver);
    const toUs = broadcast || endpointIdsEqual(receiver, this.#id);
    let unsorted: boolean | undefined;
    if (type === EnvelopeType.data) {
      try {
        unsorted = validateForLater(payload, this.#decodeOptions);
      } catch (e) {
        // Broker drops a data message whose payload does not parse, and keeps the peering.
        this.#emit(errorEvent(
          e instanceof BrokerError ? e.code : ErrorCode.deserialization_failed,
          `dropped a data message on ${topic}: ${(e as Error).message}`,
          this.#infoOf(from),
        ));
        return;
      }
    }
    if (!this.#opts.disableForwarding && broadcast) {
      let tagged: Uint8Array | undefined, plain: Uint8Array | undefined;
      // A command is relayed only if it decodes (checked once, and only if relayed).
      let relayable: boolean | undefined = type === EnvelopeType.command ? undefined : true;
      this.#peerRoutes.forEachMatch(topic, (to) => {
        if (to === from || to.state !== "peered") return;
        if (!(relayable ??= isCommand(payload))) return;
        if (to.ours) {
          if (!tagged) {
            // A message entering our endpoints from a C++ peer gets us as its origin.
            tag ??= { hi: this.#originHi, lo: this.#originLo, seq: this.#nextSeq() };
            tagged = this.#forwardCopy(frame);
            copyOriginTag(tagged, FRAME_PREFIX_SIZE, tag);
          }
          this.#sendTo(to, tagged);
        } else {
          // C++ peers get Broker's broadcast: a nil receiver, never our tag.
          plain ??= this.#forwardCopy(frame, NIL_ENDPOINT_ID);
          this.#sendTo(to, plain);
        }
      });
    } else if (!this.#opts.disableForwarding && !toUs) {
      const to = this.#peers.get(keyOf(receiver));
      if (
        to && to !== from && to.state === "peered" &&
        (type !== EnvelopeType.command || isCommand(payload))
      ) this.#sendTo(to, this.#forwardCopy(frame));
    }
    if (toUs && type === EnvelopeType.command) {
      const handlers = this.#commandHandlers.get(topic);
      if (handlers) {
        // Handlers may keep the payload: it lies in the reused read buffer.
        const copy = copyToSlab(payload);
        const sender = from.peerId!;
        for (const h of handlers) h({ sender, receiver, topic, payload: copy });
      }
    }
    // Broker counts a message with a nil or our own sender as local: local
    // subscribers get it only when it is addressed to us (spec §14.5).
    if (
      toUs && type === EnvelopeType.data &&
      (!hasLocalSender(frame, this.#id) || endpointIdsEqual(receiver, this.#id))
    ) {
      let wait: Promise<void>[] | undefined;
      // The payload lies in the transport's reused read buffer: each subscriber copies it.
      // A subscriber with nested prefixes matches twice: the round stamp delivers once.
      const round = ++this.#round;
      this.#local.forEachMatch(topic, (sub) => {
        if (sub.round === round) return;
        sub.round = round;
        const p = sub.deliverBytes(topic, payload, unsorted);
        if (p) (wait ??= []).push(p);
      });
      if (wait) return Promise.all(wait).then(() => {});
    }
  }

  /**
   * A framed copy of a received envelope in the output slab, with us as the
   * sender (Broker: sender = last hop), our TTL (Broker's relayed envelopes
   * do not carry the received TTL: they report its default, 16), and
   * `receiver` when given.
   */
  #forwardCopy(frame: Uint8Array, receiver?: EndpointId): Uint8Array {
    const out = sealFrame(copyToSlab(frame, FRAME_PREFIX_SIZE));
    rewriteForwarded(out, FRAME_PREFIX_SIZE, this.#id, this.#opts.ttl, receiver);
    return out;
  }

  #nextSeq(): number {
    return this.#seq = (this.#seq + 1) >>> 0;
  }

  get #originHi(): number {
    const id = this.#id;
    return ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
  }

  get #originLo(): number {
    const id = this.#id;
    return ((id[4] << 24) | (id[5] << 16) | (id[6] << 8) | id[7]) >>> 0;
  }

  /** Queues a data frame for a peer, subject to its buffer limits and the overflow policy. */
  #sendTo(c: Connection, frame: Uint8Array): void {
    this.#overflow.send(c, frame);
  }

  #onClose(c: Connection, error: unknown): void {
    const wasPeered = c.state === "peered";
    const wasHandshake = c.state === "handshake" || c.state === "paused";
    c.state = "closed";
    clearTimeout(c.handshakeTimer);
    this.#releasePendingSlot(c);
    this.#connections.delete(c);
    if (c.peerKey && this.#peers.get(c.peerKey) === c) {
      this.#peers.delete(c.peerKey);
      for (const f of c.filter) this.#peerRoutes.remove(f, c);
    }
    c.bye?.done();
    const info = this.#infoOf(c);
    if (wasPeered) {
      if (c.removed) {
        this.#emit(statusEvent(StatusCode.peer_removed, "removed peering", info));
      } else {
        this.#emit(
          statusEvent(
            StatusCode.peer_lost,
            `lost connection to remote peer${error ? `: ${error}` : ""}`,
            info,
          ),
        );
      }
      this.#emit(statusEvent(StatusCode.endpoint_unreachable, "lost the last path", info));
    } else if (wasHandshake && !this.#shuttingDown) {
      this.#emit(errorEvent(
        ErrorCode.peer_disconnect_during_handshake,
        "peer disconnected during the handshake",
        info,
      ));
    }
    const t = c.target;
    if (t && t.connection === c) {
      t.connection = undefined;
      if (t.active && !this.#shuttingDown) {
        if (wasPeered) {
          // Lost an established peering: re-dial at the retry interval (Broker does).
          if (t.retry > 0) t.timer = setTimeout(() => this.#dial(t), t.retry * 1000);
          else this.#dialFailed(t, new BrokerError(ErrorCode.peer_unavailable, "peering lost"));
        } else {
          this.#dialFailed(
            t,
            new BrokerError(
              ErrorCode.peer_unavailable,
              `handshake with ${t.host}:${t.port} failed`,
            ),
          );
        }
      }
    }
  }

  #record(c: Connection, direction: "sent" | "received", frame: Uint8Array): void {
    try {
      this.#recorder!({
        direction,
        peerId: c.peerId ? endpointIdToString(c.peerId) : undefined,
        host: c.address.host,
        port: c.address.port,
        frame,
      });
    } catch {
      // A failing recorder must not take the peering down.
    }
  }

  #infoOf(c: Connection): PeerInfo {
    return {
      id: c.peerId ? endpointIdToString(c.peerId) : undefined,
      host: c.address.host,
      port: c.address.port,
    };
  }

  /**
   * Ends the peering with `host:port` gracefully (BYE ping, pong, close) and
   * stops re-dialling it. Resolves false when no such peering exists.
   */
  async unpeer(host: string, port: number): Promise<boolean> {
    const target = this.#targets.find((t) => t.host === host && t.port === port);
    if (target) {
      target.active = false;
      clearTimeout(target.timer);
      this.#targets.splice(this.#targets.indexOf(target), 1);
      for (const w of target.waiters.splice(0)) {
        w.reject(new BrokerError(ErrorCode.peer_unavailable, "unpeered"));
      }
    }
    const c = target?.connection ??
      [...this.#connections].find((x) => x.address.host === host && x.address.port === port);
    if (!c) return !!target;
    await this.#disconnect(c);
    return true;
  }

  async #disconnect(c: Connection): Promise<void> {
    c.removed = true;
    if (c.state !== "peered") {
      c.tcp.close();
      return;
    }
    const token = ByeToken.next();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.#opts.unpeerTimeout);
      c.bye = {
        token,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.#sendControl(c, encodePing(this.#id, c.peerId!, token, this.#controlOptions));
    });
    c.tcp.close();
  }

  /** The peers and their state. */
  peers(): PeerDescription[] {
    const out: PeerDescription[] = [];
    for (const c of this.#connections) {
      if (c.state === "closed") continue;
      out.push({
        id: c.peerId && c.state === "peered" ? endpointIdToString(c.peerId) : undefined,
        host: c.address.host,
        port: c.address.port,
        status: c.state === "peered" ? "peered" : "connecting",
        outbound: !!c.target,
        originTags: !!c.ours,
        queuedMessages: c.tcp.queuedFrames,
        queuedBytes: c.tcp.queuedBytes,
      });
    }
    for (const t of this.#targets) {
      if (!t.connection && t.active) {
        out.push({
          host: t.host,
          port: t.port,
          status: "reconnecting",
          outbound: true,
          originTags: false,
          queuedMessages: 0,
          queuedBytes: 0,
        });
      }
    }
    return out;
  }

  /** Every topic prefix our peers subscribed to (their filters, merged). */
  peerSubscriptions(): readonly string[] {
    return makeFilter([...this.#peers.values()].flatMap((c) => c.filter));
  }

  /**
   * Resolves once some peer's filter matches `topic` (so a publish would reach
   * it), or rejects with `request_timeout` after `timeoutMs`.
   */
  awaitPeerSubscription(topic: string, timeoutMs = 10_000): Promise<void> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.#peerRoutes.matches(topic)) return resolve();
        if (Date.now() - started >= timeoutMs) {
          return reject(
            new BrokerError(ErrorCode.request_timeout, `no peer subscribed to ${topic}`),
          );
        }
        this.#filterWaiters.push(check);
        setTimeout(() => {
          const i = this.#filterWaiters.indexOf(check);
          if (i >= 0) {
            this.#filterWaiters.splice(i, 1);
            check();
          }
        }, Math.min(50, timeoutMs));
      };
      check();
    });
  }

  // ---------------------------------------------------------------- pub/sub

  /**
   * Publishes a value on a topic to every peer whose subscriptions match.
   * Like Broker, the endpoint's own subscribers do not receive it; its
   * WebSocket clients do (unless their server has `localPublishes: false`).
   */
  publish(topic: string, data: Data, options?: PublishOptions): void {
    this.#assertRunning();
    const header = this.#dataHeader(topic);
    if (options?.local) this.#deliverLocal(topic, data, options.except);
    else if (this.#echo.size > 0) this.#deliverLocal(topic, data, undefined, this.#echo);
    if (!this.#peerRoutes.matches(topic)) return;
    // Header and value are written once into one buffer, shared by every peer.
    this.#sendBroadcast(topic, sealFrame(encodeAfter(header, data)));
  }

  /** Hands a value to this endpoint's own subscribers (all but `except`), or those of `to`. */
  #deliverLocal(
    topic: string,
    data: Data | Uint8Array,
    except?: Subscriber,
    to = this.#local,
  ): void {
    let msg: PendingMessage | undefined;
    const round = ++this.#round;
    to.forEachMatch(topic, (sub) => {
      if (sub.round === round || sub === except) return;
      sub.round = round;
      msg ??= { topic, payload: data instanceof Uint8Array ? data : encode(data) };
      // A full `block` queue takes the message when it has room; a local
      // publisher has no socket to slow down, so it does not wait here.
      sub.deliver(msg);
    });
  }

  /** Sends a framed broadcast to every matching peer; our endpoints get it with our origin tag. */
  #sendBroadcast(topic: string, frame: Uint8Array): void {
    let tagged: Uint8Array | undefined, plain = false;
    this.#peerRoutes.forEachMatch(topic, (c) => {
      if (!c.ours) plain = true;
    });
    this.#peerRoutes.forEachMatch(topic, (c) => {
      if (c.state !== "peered") return;
      if (!c.ours) return this.#sendTo(c, frame);
      if (!tagged) {
        // The frame is ours to change unless a C++ peer needs the plain one.
        tagged = plain ? copyToSlab(frame) : frame;
        writeOriginTag(tagged, FRAME_PREFIX_SIZE, this.#id, this.#nextSeq());
      }
      this.#sendTo(c, tagged);
    });
  }

  /** The framed envelope header of a data message on `topic` (cached per topic). */
  #dataHeader(topic: string): Uint8Array {
    let h = this.#headers.get(topic);
    if (h) return h;
    checkTopic(topic);
    const empty = encodeEnvelope({
      sender: this.#id,
      type: EnvelopeType.data,
      ttl: this.#opts.ttl,
      topic,
      payload: new Uint8Array(0),
    }, { prefix: true });
    if (this.#headers.size >= 4096) this.#headers.clear();
    this.#headers.set(topic, h = empty);
    return h;
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
    this.#assertRunning();
    const header = this.#dataHeader(topic);
    const echo = this.#echo.size > 0 && this.#echo.matches(topic);
    const toPeers = this.#peerRoutes.matches(topic);
    if (!echo && !toPeers) return;
    // Our own values are not budgeted: the budget guards what peers send us.
    validate(payload, UNBUDGETED);
    if (echo) this.#deliverLocal(topic, payload, undefined, this.#echo);
    if (!toPeers) return;
    // Cached header and payload into the output slab: no allocation per message.
    const frame = copyToSlab(payload, header.length);
    frame.set(header);
    this.#sendBroadcast(topic, sealFrame(frame));
  }

  /**
   * How many more messages on `topic` every matching peer can take before
   * its buffer is full: the demand a publisher should respect.
   */
  demand(topic: string): number {
    return this.#overflow.demand(this.#peerRoutes, topic);
  }

  /**
   * Resolves when every peer matching `topic` has room in its buffer again
   * (its queue fell to half, so the producer refills while the socket drains).
   */
  ready(topic: string): Promise<void> {
    return this.#overflow.ready(this.#peerRoutes, topic);
  }

  /**
   * Serves Broker's WebSocket JSON API (`ws://host:port/v1/messages/json`)
   * from this endpoint; resolves once it listens (port 0 picks one: see `server.port`).
   */
  async listenWebSocket(
    host = "127.0.0.1",
    port = 0,
    options?: WebSocketServerOptions,
  ): Promise<WebSocketServer> {
    this.#assertRunning();
    const server = new WebSocketServer(
      {
        id: this.id,
        subscribe: (topics, opts) => {
          const sub = this.subscribe(topics, opts);
          if (opts.localPublishes) { for (const t of sub.topics) this.#echo.add(t, sub); }
          return sub;
        },
        publish: (topic, data, opts) => this.publish(topic, data, opts),
      },
      host,
      port,
      { handshakeTimeoutMs: this.#opts.handshakeTimeout, ...options },
    );
    this.#webSockets.push(server);
    await server.ready;
    return server;
  }

  /** The command channel the data stores use (see `engine/store`). */
  get commandBus(): CommandBus {
    return this.#commandBus ??= this.#makeCommandBus();
  }

  #commandBus?: CommandBus;

  #makeCommandBus(): CommandBus {
    return {
      idBytes: this.#id,
      onCommands: (topic, handler) => {
        let set = this.#commandHandlers.get(topic);
        if (!set) this.#commandHandlers.set(topic, set = new Set());
        set.add(handler);
        if (insertIntoFilter(this.#filter, topic)) {
          this.#filterVersion++;
          for (const c of this.#peers.values()) this.#sendFilter(c);
        }
        return () => {
          set!.delete(handler);
          if (set!.size === 0) this.#commandHandlers.delete(topic);
        };
      },
      sendCommand: (topic, payload, receiver) => {
        if (this.#shuttingDown) return;
        // Built in the output slab, topic bytes cached: no allocation per command.
        let topicBytes = this.#topicBytes.get(topic);
        if (!topicBytes) {
          if (this.#topicBytes.size >= 4096) this.#topicBytes.clear();
          this.#topicBytes.set(topic, topicBytes = new TextEncoder().encode(topic));
        }
        const frame = sealFrame(copyToSlab(payload, framedHeaderSize(topicBytes.length)));
        // The slab's headroom is zeroed: no receiver leaves Broker's nil (by subscription).
        writeEnvelopeHeader(
          frame,
          FRAME_PREFIX_SIZE,
          this.#id,
          receiver,
          EnvelopeType.command,
          this.#opts.ttl,
          topicBytes,
        );
        if (receiver) {
          const c = this.#peers.get(keyOf(receiver));
          if (c) c.tcp.send(frame);
          return;
        }
        this.#peerRoutes.forEachMatch(topic, (c) => {
          if (c.state === "peered") c.tcp.send(frame);
        });
      },
      hasPeerSubscriber: (topic) => this.#peerRoutes.matches(topic),
      hasLocalSubscriber: (topic) => this.#local.matches(topic),
      deliverLocal: (topic, data) => this.#deliverLocal(topic, data),
    };
  }

  /** A publisher for one topic, with a bounded buffer and demand to await. */
  publisher(topic: string, options?: PublisherOptions): Publisher {
    this.#assertRunning();
    checkTopic(topic);
    return new Publisher(this, topic, options);
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

  /** Subscribes to topic prefixes. */
  subscribe(topics: string | string[], options?: SubscriberOptions): Subscriber {
    this.#assertRunning();
    const list = typeof topics === "string" ? [topics] : topics;
    for (const t of list) checkSubscription(t);
    return new Subscriber(this.#subscriptionHost, list, options);
  }

  readonly #subscriptionHost = {
    addSubscriptions: (sub: Subscriber, topics: readonly string[]) => {
      this.#subscribers.add(sub);
      let grew = false;
      for (const t of topics) {
        this.#local.add(t, sub);
        if (insertIntoFilter(this.#filter, t)) grew = true;
      }
      if (!grew) return;
      this.#filterVersion++;
      // Broker announces a grown filter to every direct peer, unicast, never forwarded.
      for (const c of this.#peers.values()) this.#sendFilter(c);
    },
    removeSubscription: (sub: Subscriber, topic: string) => {
      this.#local.remove(topic, sub);
      this.#echo.remove(topic, sub);
    },
    detach: (sub: Subscriber) => {
      this.#subscribers.delete(sub);
      for (const t of sub.topics) {
        this.#local.remove(t, sub);
        this.#echo.remove(t, sub);
      }
    },
  };

  #sendFilter(c: Connection): void {
    c.sentFilterVersion = this.#filterVersion;
    this.#sendControl(
      c,
      encodeRoutingUpdateEnvelope(this.#id, c.peerId!, this.#filter, this.#controlOptions),
    );
  }

  /**
   * A message for one direct peer on Broker's internal topic `<$>` (pings,
   * pongs, filters). It counts against the peer's buffer like data, with a
   * small reserve; past that a pong obeys the overflow policy (a peer that
   * pings and never reads cannot make us hold its pongs). Routing updates
   * and BYE pings, which only we trigger, are always queued.
   */
  #sendControl(c: Connection, frame: Uint8Array, pong = false): void {
    this.#overflow.sendControl(c, frame, pong);
  }

  /**
   * Status and error events (peer_added, peer_lost, ... and errors with
   * Broker's codes). With `includeStatuses` false, only errors.
   */
  statusSubscriber(includeStatuses = true, queueSize = 256): BoundedQueue<StatusEvent> {
    const entry = {
      q: new BoundedQueue<StatusEvent>(queueSize, "drop_oldest"),
      statuses: includeStatuses,
    };
    this.#statusQueues.add(entry);
    return entry.q;
  }

  #emit(event: StatusEvent): void {
    for (const e of this.#statusQueues) {
      if (e.q.closed) {
        this.#statusQueues.delete(e);
        continue;
      }
      if (event.kind === "status" && !e.statuses) continue;
      e.q.push(event);
    }
  }

  /** Whether any peer's filter matches `topic`. */
  hasPeerSubscriber(topic: string): boolean {
    return filterMatches(this.peerSubscriptions(), topic);
  }

  // ---------------------------------------------------------------- shutdown

  /** Unpeers from everybody (BYE), closes listeners, ends subscribers. */
  async shutdown(): Promise<void> {
    if (this.#shuttingDown) return;
    this.#shuttingDown = true;
    // Deno frees a listener's port only once its pending accept has ended.
    await Promise.all(this.#listeners.splice(0).map((l) => l.close()));
    await Promise.all(this.#webSockets.splice(0).map((w) => w.close()));
    for (const t of this.#targets.splice(0)) {
      t.active = false;
      clearTimeout(t.timer);
      for (const w of t.waiters.splice(0)) {
        w.reject(new BrokerError(ErrorCode.shutting_down, "endpoint shut down"));
      }
    }
    await Promise.all([...this.#connections].map(async (c) => {
      if (c.state === "peered") await c.tcp.drained();
      await this.#disconnect(c);
    }));
    for (const sub of [...this.#subscribers]) sub.close();
    for (const e of this.#statusQueues) e.q.close();
    this.#statusQueues.clear();
  }

  #assertRunning(): void {
    if (this.#shuttingDown) throw new BrokerError(ErrorCode.shutting_down, "endpoint shut down");
  }

  /**
   * Attaches the master of store `name` (default backend: in memory). Throws
   * `BrokerError(master_exists)` when a peer already announces that master.
   * When this endpoint already runs that master, the new handle shares it, as
   * Broker hands back the master it has (`backend` then goes unused: close it
   * if you opened one); the master stops when its last handle closes.
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * import { count, str } from "./data/mod.ts";
   * const ep = new Endpoint();
   * const kv = ep.attachMaster("kv");
   * await kv.put(str("a"), count(1n));
   * kv.close();
   * await ep.shutdown();
   * ```
   */
  attachMaster(
    name: string,
    backend: StoreBackend = new MemoryBackend(),
    options?: MasterOptions,
  ): Store {
    this.#assertRunning();
    return this.#shareStore(
      this.#masters,
      name,
      () => new StoreMaster(this, name, backend, options),
    );
  }

  /**
   * Attaches a clone of store `name`: it finds the master through its peers.
   * Like Broker, refuses with `BrokerError(no_such_master)` when this endpoint
   * is the master of `name`, and shares the clone it already runs.
   *
   * @example
   * ```ts
   * import { Endpoint } from "./endpoint.ts";
   * const ep = new Endpoint();
   * const kv = ep.attachClone("kv", { requestTimeout: 1000 });
   * kv.close();
   * await ep.shutdown();
   * ```
   */
  attachClone(name: string, options?: CloneOptions): Store {
    this.#assertRunning();
    if (this.#masters.get(name)?.actor.closed === false) {
      throw new BrokerError(
        ErrorCode.no_such_master,
        `this endpoint is the master of ${name}; a clone of it here is refused, as Broker does`,
      );
    }
    return this.#shareStore(this.#clones, name, () => new StoreClone(this, name, options));
  }

  readonly #masters = new Map<string, SharedStore>();
  readonly #clones = new Map<string, SharedStore>();

  // One actor per store name and role, as Broker's core keeps; handles count.
  #shareStore(map: Map<string, SharedStore>, name: string, make: () => StoreActor): Store {
    let slot = map.get(name);
    if (!slot || slot.actor.closed) map.set(name, slot = { actor: make(), handles: 0 });
    slot.handles++;
    const s = slot;
    return new Store(s.actor, () => {
      if (--s.handles > 0) return;
      s.actor.close();
      if (map.get(name) === s) map.delete(name);
    });
  }
}

interface SharedStore {
  readonly actor: StoreActor;
  handles: number;
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

/**
 * Whether a command payload decodes. Broker parses commands on arrival and
 * drops those that do not (spec §13); our stores check what they receive,
 * so only relayed commands are checked here.
 */
function isCommand(payload: Uint8Array): boolean {
  try {
    decodeCommand(payload);
    return true;
  } catch {
    return false;
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
