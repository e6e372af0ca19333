/**
 * Drives each connection through its life: Broker's handshake (with a
 * timer, since Broker has none), the peer table's redundancy rules, the
 * frames that arrive (control messages here, data and commands to the
 * router), BYE, and what a closed connection leaves behind (statuses, a
 * re-dial). The socket only moves bytes; the handshake and the router
 * decide; this file wires their decisions to the socket.
 *
 * @example
 * ```ts
 * import { ConnectionDriver } from "./connection_driver.ts";
 * // The endpoint builds one per endpoint from its parts (see `Endpoint`'s
 * // constructor); its behaviour is tested through real peerings in tests/.
 * if (typeof ConnectionDriver !== "function") throw new Error("a class");
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { LocalSubscriptions } from "../routing/local_subscriptions.ts";
import { isOwnEndpointId } from "../routing/origin_tag.ts";
import type { Router } from "../routing/router.ts";
import { errorEvent, StatusCode, type StatusEvent, statusEvent } from "../status.ts";
import type { StatusHub } from "../status_hub.ts";
import type { Dialer, DialTarget } from "../transport/dialer.ts";
import type { TcpConnection } from "../transport/tcp.ts";
import {
  decodeRoutingUpdate,
  type EndpointId,
  endpointIdsEqual,
  endpointIdToString,
  EnvelopeType,
  FRAME_PREFIX_SIZE,
  FrameReader,
  isNilEndpointId,
  parseEnvelope,
} from "../wire/mod.ts";
import type { OutgoingFrames } from "../wire/outgoing.ts";
import { envelopePayloadStart, envelopeTopic } from "../wire/envelope.ts";

/** Where a node message's type byte lies (after the sender's and receiver's IDs). */
const ENVELOPE_TYPE_OFFSET = 32;
import { Histogram } from "../histogram.ts";
import { answersBye, sayBye } from "./bye.ts";
import { type Connection, peerInfo, peerKey } from "./connection.ts";
import { Handshake, type HandshakeAction } from "./handshake.ts";
import type { PeerOverflow } from "./overflow.ts";
import type { PeerTable } from "./peer_table.ts";
import { timerDelay } from "../timer_delay.ts";

// The per-message test as constants, not reads of the enum's object, and as
// a range whose two halves every data message runs: the first message of
// another type read `EnvelopeType.command`, or compared with it, for the
// first time, and V8 threw away the code it had optimised without that.
const DATA = EnvelopeType.data, COMMAND = EnvelopeType.command;

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

/** The parts of an endpoint a connection driver works with. */
export interface DriverParts {
  /** Our endpoint ID. */
  readonly id: EndpointId;
  /** Largest frame an accepted connection may send before its handshake is done. */
  readonly maxHandshakeFrameSize: number;
  /** Largest frame a peer may send once its handshake is done. */
  readonly maxFrameSize: number;
  /** Time a handshake may take, in ms. */
  readonly handshakeTimeoutMs: number;
  /** Time allowed for the BYE ping/pong, in ms. */
  readonly unpeerTimeoutMs: number;
  /** The connections and peerings. */
  readonly table: PeerTable;
  /** Our filter (the handshake sends it; peers are told when it grows). */
  readonly local: LocalSubscriptions;
  /** Dialled targets: told how their connections end. */
  readonly dialer: Dialer<Connection>;
  /** Where statuses and errors go. */
  readonly statuses: StatusHub;
  /**
   * Told of each failed handshake, which is no status (see
   * `#handshakeError`): for observers inside the process (a gateway's loop guard).
   */
  handshakeFailed?(event: StatusEvent): void;
  /** Per-peer queue limits for control messages. */
  readonly overflow: PeerOverflow<Connection>;
  /** Where data and command messages go. */
  readonly router: Router<Connection>;
  /** Builds our control frames. */
  readonly frames: OutgoingFrames;
  /** Sees every frame sent and received. */
  readonly recorder?: (frame: RecordedFrame) => void;
  /** False once the endpoint shuts down. */
  running(): boolean;
}

/** Upper bounds of the handshake-duration histogram, seconds. */
const HANDSHAKE_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];

/** Runs the connections of one endpoint. */
export class ConnectionDriver {
  readonly #p: DriverParts;
  /** Handshakes that failed, by Broker's error code name (rare: a map is fine). */
  readonly handshakeFailures: Map<string, number> = new Map();
  /** Peerings established so far. */
  peeringsEstablished = 0;
  /** Peerings that ended so far (lost or removed). */
  peeringsEnded = 0;
  /** Time from a connection's start to its established peering, in seconds. */
  readonly handshakeSeconds: Histogram = new Histogram(HANDSHAKE_BUCKETS);
  /** Accepted connections still in Broker's handshake (for the `maxPendingHandshakes` cap). */
  #pendingAccepted = 0;

  /** A driver for the endpoint whose parts these are. */
  constructor(parts: DriverParts) {
    this.#p = parts;
  }

  /** Accepted connections still in Broker's handshake. */
  get pendingAccepted(): number {
    return this.#pendingAccepted;
  }

  /** Starts Broker's handshake on a new socket, as its originator (`connector`) or responder. */
  start(
    tcp: TcpConnection,
    role: "connector" | "acceptor",
    target?: DialTarget<Connection>,
  ): Connection {
    const p = this.#p;
    const acceptor = role === "acceptor";
    const c: Connection = {
      tcp,
      // Until it is a known peer, an unknown client may not make us buffer much.
      // Frames are handled before the next one is read (and lie in the reused
      // read buffer anyway), so frames that span reads may share one buffer too.
      reader: new FrameReader({
        reuseAssembly: true,
        ...(acceptor ? { maxFrameSize: p.maxHandshakeFrameSize } : {}),
      }),
      pendingSlot: acceptor,
      state: "handshake",
      filter: [],
      address: target ? { host: target.host, port: target.port } : tcp.remote,
      target,
      messagesIn: 0,
      startedAt: performance.now(),
      // Every field from the start, in one order: fields added later in an
      // order that depends on the path (dialled or accepted, warm-up or real)
      // give connections different hidden classes, and the hot paths that
      // were compiled for the warm-up's deoptimised on the first real peer.
      handshake: undefined,
      handshakeTimer: undefined,
      peerId: undefined,
      peerKey: undefined,
      bye: undefined,
      redundant: false,
      ours: false,
      sentFilterVersion: undefined,
      removed: false,
    };
    p.table.add(c);
    if (acceptor) this.#pendingAccepted++;
    if (p.recorder) {
      tcp.onSend = (bytes) => this.#record(c, "sent", bytes.subarray(FRAME_PREFIX_SIZE));
    }
    c.handshake = new Handshake({
      ownId: p.id,
      role,
      filter: () => {
        c.sentFilterVersion = p.local.version;
        return p.local.filter.slice();
      },
      checkPeer: (id, originator) =>
        p.running()
          ? p.table.check(c, id, originator)
          : { drop: ErrorCode.shutting_down, reason: "shutting down" },
      knowsPeer: (id) => p.table.knows(c, id),
    });
    c.handshakeTimer = setTimeout(() => {
      if ((c.state === "handshake" || c.state === "paused") && c.handshake) {
        this.#apply(c, c.handshake.timeout());
      }
    }, timerDelay(p.handshakeTimeoutMs));
    tcp.start({
      onBytes: (chunk) => this.#onBytes(c, chunk),
      onClose: () => this.#onClose(c),
    });
    this.#apply(c, c.handshake.start());
    return c;
  }

  /** Tells every peer our grown filter (Broker: unicast to each direct peer, never forwarded). */
  announceFilter(): void {
    for (const c of this.#p.table.peered()) this.#sendFilter(c);
  }

  /** Ends `c`: a peering with Broker's BYE ping and pong, anything else at once. */
  async disconnect(c: Connection): Promise<void> {
    c.removed = true;
    if (c.state === "peered") {
      await sayBye(
        c,
        (token) => this.#sendControl(c, this.#p.frames.ping(c.peerId!, token)),
        this.#p.unpeerTimeoutMs,
      );
    }
    c.tcp.close();
  }

  /**
   * Queues a control message (`<$>`: pings, pongs, filters) for one direct
   * peer. It counts against the peer's buffer like data, with a small
   * reserve; past that a pong obeys the overflow policy (a peer that pings
   * and never reads cannot make us hold its pongs). Routing updates and BYE
   * pings, which only we trigger, are always queued.
   */
  #sendControl(c: Connection, frame: Uint8Array, pong = false): void {
    this.#p.overflow.sendControl(c, frame, pong);
  }

  #sendFilter(c: Connection): void {
    c.sentFilterVersion = this.#p.local.version;
    this.#sendControl(c, this.#p.frames.routingUpdate(c.peerId!, this.#p.local.filter));
  }

  #apply(c: Connection, actions: HandshakeAction[]): void {
    const p = this.#p;
    for (const a of actions) {
      switch (a.kind) {
        case "send":
          c.tcp.send(a.frame);
          break;
        case "paused":
          c.state = "paused";
          c.peerKey = peerKey(a.peerId);
          break;
        case "established":
          this.#established(c, a.peerId, a.peerFilter);
          break;
        case "failed": {
          clearTimeout(c.handshakeTimer);
          const redundant = a.redundant || a.error.code === ErrorCode.redundant_connection;
          c.peerId ??= c.handshake?.peerId;
          const existing = c.peerId && p.table.get(c.peerId);
          // Not a failed attempt: the peer is (being) reached over another connection.
          // (A drop_conn(39) from a peer we know nothing of is a failure, as in Broker.)
          c.redundant = a.redundant || (redundant && !!existing);
          if (redundant && existing && c.target) {
            // Already peered over another connection: for the caller that is success (Broker 6.4).
            this.#adoptTarget(existing, c.target);
          } else if (!a.redundant) {
            this.#handshakeError(c, a.error);
          }
          if (!redundant) this.countHandshakeFailure(a.error.code);
          c.state = "closed";
          c.tcp.closeGracefully(200);
          break;
        }
      }
    }
  }

  /**
   * A dial to `target` found the peering over `existing`. Broker's core keeps
   * the dialled address, if it has a retry interval and the peering's own
   * has none (an accepted connection, or one dialled without retry), as the
   * peering's address, and re-dials it when the peering is lost; otherwise
   * the dial is done with.
   */
  #adoptTarget(existing: Connection, target: DialTarget<Connection>): void {
    const dialer = this.#p.dialer;
    const own = existing.target;
    if (own === target) return;
    if (target.retryMs === 0 || (own !== undefined && own.retryMs > 0)) {
      dialer.retire(target);
      return;
    }
    if (own) dialer.retire(own);
    existing.target = target;
    existing.address = { host: target.host, port: target.port };
    dialer.adopt(target, existing);
  }

  #established(c: Connection, peerId: EndpointId, peerFilter: string[]): void {
    const p = this.#p;
    clearTimeout(c.handshakeTimer);
    this.#releasePendingSlot(c);
    c.reader.maxFrameSize = p.maxFrameSize;
    c.handshake = undefined;
    // Both IDs carry our mark: tag broadcasts between us (both sides agree, nothing is sent).
    c.ours = isOwnEndpointId(p.id) && isOwnEndpointId(peerId);
    p.table.register(c, peerId, peerFilter);
    this.peeringsEstablished++;
    this.handshakeSeconds.observe((performance.now() - c.startedAt) / 1000);
    if (c.sentFilterVersion !== undefined && c.sentFilterVersion !== p.local.version) {
      this.#sendFilter(c);
    }
    const info = peerInfo(c);
    p.statuses.emit(
      statusEvent(StatusCode.endpoint_discovered, "found a new peer in the network", info),
    );
    p.statuses.emit(statusEvent(StatusCode.peer_added, "handshake successful", info));
    // A connection that lost the race for this peer gives way now.
    for (const other of p.table.pausedBehind(c)) {
      if (other.handshake) this.#apply(other, other.handshake.resolveRedundant());
    }
    if (c.target) p.dialer.succeeded(c.target);
    // Frames that arrived right behind the handshake's last message.
    this.#drain(c);
  }

  /**
   * A handshake that failed, as a status: only for a connection we dialled.
   * Broker's core only logs a failed incoming handshake (a port scanner, a
   * TLS client at a plain port): no status and no data message on
   * `<$>/local/data/errors` (checked live: a bare connect or garbage at a
   * broker-node's port counts no processed message). The failure still
   * counts in `handshakeFailures`.
   */
  // A failed handshake is no status: Broker's core only logs an incoming one, and reports
  // a dialled one as the attempt's peer_unavailable alone (checked live with broker-pipe for
  // a close, garbage, a wrong magic, foreign versions and a drop_conn). The dial's callers
  // learn the cause (`handshakeFailure`).
  #handshakeError(c: Connection, err: BrokerError): void {
    if (c.target) c.handshakeFailure ??= err;
    this.#p.handshakeFailed?.(errorEvent(err.code, err.message, peerInfo(c)));
  }

  /**
   * Counts a failed handshake in `handshakeFailures` (the metrics' only
   * report of an incoming one; see `#handshakeError`): also the acceptor's,
   * refused before or during TLS.
   */
  countHandshakeFailure(code: ErrorCode): void {
    const name = ErrorCode[code] ?? `ec(${code})`;
    this.handshakeFailures.set(name, (this.handshakeFailures.get(name) ?? 0) + 1);
  }

  #releasePendingSlot(c: Connection): void {
    if (!c.pendingSlot) return;
    c.pendingSlot = false;
    this.#pendingAccepted--;
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
      if (this.#p.recorder) this.#record(c, "received", f);
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
    if (c.state === "handshake" || c.state === "paused") {
      this.#handshakeError(c, err);
      // The handshake failed here, with this error: the close that follows is
      // ours, not a peer disconnecting during the handshake (a second error).
      this.countHandshakeFailure(err.code);
      c.state = "closed";
    } else {
      this.#p.statuses.emit(errorEvent(err.code, err.message, peerInfo(c)));
    }
    c.tcp.close();
  }

  #onMessage(c: Connection, frame: Uint8Array): void | Promise<void> {
    c.messagesIn++;
    const start = envelopePayloadStart(frame);
    if (start < 0) return; // Broker drops bad node messages and keeps the peering
    const type = frame[ENVELOPE_TYPE_OFFSET];
    if (type >= DATA && type <= COMMAND) {
      // The per-message path reads the fields in place, with no envelope view to build.
      return this.#p.router.route(
        c,
        frame,
        envelopeTopic(frame, start),
        c.reader.tail(start),
        type,
      );
    }
    this.#onControl(c, frame);
  }

  /**
   * A routing update, ping or pong. Apart from the per-message path: these
   * arrive at a peering's start and end, and code V8 optimised for data
   * messages was thrown away when one first reached it (each new peering's
   * first filter, each BYE's pong), then compiled again on a background
   * thread during the peering's first few hundred messages.
   */
  #onControl(c: Connection, frame: Uint8Array): void {
    const env = parseEnvelope(frame); // checked by the caller: does not throw
    switch (env.type) {
      case EnvelopeType.routing_update: {
        this.#p.router.processed.routingUpdate++;
        if (!endpointIdsEqual(env.sender, c.peerId!)) return;
        try {
          this.#p.table.setFilter(c, decodeRoutingUpdate(env.payload));
        } catch {
          // malformed: ignore (Broker would crash; we keep the old filter)
        }
        return;
      }
      case EnvelopeType.ping: {
        this.#p.router.processed.ping++;
        if (isNilEndpointId(env.sender) || endpointIdsEqual(env.sender, this.#p.id)) return;
        this.#p.router.processed.pong++; // the answer passes the core too, as in Broker's count
        this.#sendControl(c, this.#p.frames.pong(env), true);
        return;
      }
      case EnvelopeType.pong: {
        this.#p.router.processed.pong++;
        if (answersBye(c, env)) c.bye!.done();
        return;
      }
    }
  }

  #onClose(c: Connection): void {
    const p = this.#p;
    const wasPeered = c.state === "peered";
    const wasHandshake = c.state === "handshake" || c.state === "paused";
    c.state = "closed";
    clearTimeout(c.handshakeTimer);
    this.#releasePendingSlot(c);
    p.table.remove(c);
    c.bye?.done();
    const info = peerInfo(c);
    if (wasPeered) {
      this.peeringsEnded++;
      if (c.removed) {
        const why = c.removedReason ? ` (${c.removedReason})` : "";
        p.statuses.emit(
          statusEvent(StatusCode.peer_removed, `removed connection to remote peer${why}`, info),
        );
      } else {
        // Broker's text whatever ended it: a reset or broken pipe is no part of its peer_lost.
        p.statuses.emit(statusEvent(StatusCode.peer_lost, "lost connection to remote peer", info));
      }
      p.statuses.emit(statusEvent(StatusCode.endpoint_unreachable, "lost the last path", info));
    } else if (wasHandshake && p.running() && !c.removed) {
      // (A handshake we ended ourselves, by unpeering, is no peer disconnecting.)
      this.countHandshakeFailure(ErrorCode.peer_disconnect_during_handshake);
      this.#handshakeError(
        c,
        new BrokerError(
          ErrorCode.peer_disconnect_during_handshake,
          "peer disconnected during the handshake",
        ),
      );
    }
    if (c.target) p.dialer.closed(c.target, c, wasPeered, c.handshakeFailure);
  }

  #record(c: Connection, direction: "sent" | "received", frame: Uint8Array): void {
    try {
      this.#p.recorder!({
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
}
