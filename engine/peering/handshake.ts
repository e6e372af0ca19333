/**
 * Broker's peering handshake (`lb/internal/connector.cc`, class
 * `connect_state`) as a sans-I/O state machine: frames in, actions out.
 * The caller owns the socket, the timer and the endpoint's peer-status table.
 *
 * Roles: the TCP connector opens with `hello`, the acceptor with `probe`;
 * independently, the endpoint with the smaller ID (memcmp) is the
 * originator. Message order: hello(s), version_select, originator_syn,
 * responder_syn_ack, originator_ack.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { Handshake, type HandshakeAction, HandshakeState } from "./handshake.ts";
 * import { newEndpointId } from "../wire/endpoint_id.ts";
 * import { FrameReader } from "../wire/framing.ts";
 *
 * const [idA, idB] = [newEndpointId(), newEndpointId()];
 * const a = new Handshake({ ownId: idA, role: "connector", filter: () => ["/a"] });
 * const b = new Handshake({ ownId: idB, role: "acceptor", filter: () => ["/b"] });
 * // Deliver each side's "send" frames to the other until both are done.
 * const pump = (to: Handshake, actions: HandshakeAction[]): HandshakeAction[] => {
 *   const r = new FrameReader();
 *   for (const x of actions) if (x.kind === "send") r.push(x.frame);
 *   const out: HandshakeAction[] = [];
 *   for (let f = r.next(); f; f = r.next()) out.push(...to.receive(f));
 *   return out;
 * };
 * let toB = a.start(), toA = b.start();
 * while (toA.length + toB.length > 0) [toA, toB] = [pump(b, toB), pump(a, toA)];
 * equal(a.state, HandshakeState.FIN);
 * equal(b.state, HandshakeState.FIN);
 * deepEqual(a.peerId, idB); // each side learned the other's ID
 * deepEqual(b.peerId, idA);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { compareEndpointIds, type EndpointId } from "../wire/endpoint_id.ts";
import {
  decodeHandshakeMessage,
  type DropConnMessage,
  encodeHandshakeMessage,
  type HandshakeMessage,
  type HelloMessage,
  MAGIC,
  MessageType,
  messageTypeName,
  PROTOCOL_VERSION,
  type VersionSelectMessage,
} from "../wire/handshake_messages.ts";

/**
 * The connector's states, named as in the C++ source.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { HandshakeState } from "./handshake.ts";
 * equal(HandshakeState.AWAIT_ORIG_SYN, "AWAIT_ORIG_SYN");
 * ```
 */
export enum HandshakeState {
  /** Connector, after sending hello. */
  AWAIT_HELLO_OR_VERSION_SELECT = "AWAIT_HELLO_OR_VERSION_SELECT",
  /** Acceptor, after sending probe. */
  AWAIT_HELLO = "AWAIT_HELLO",
  /** Responder, after its hello. */
  AWAIT_VERSION_SELECT = "AWAIT_VERSION_SELECT",
  /** Responder, after accepting version_select. */
  AWAIT_ORIG_SYN = "AWAIT_ORIG_SYN",
  /** Originator, after sending version_select and originator_syn. */
  AWAIT_RESP_SYN_ACK = "AWAIT_RESP_SYN_ACK",
  /** Responder, after sending responder_syn_ack. */
  AWAIT_ORIG_ACK = "AWAIT_ORIG_ACK",
  /** Originator of a redundant connection, waiting for the other handshake to end. */
  PAUSED = "PAUSED",
  /** Done: established, or closed as redundant. */
  FIN = "FIN",
  /** Failed. */
  ERR = "ERR",
}

/**
 * What the caller must do, in order. After `failed`, write the pending sends
 * and close the socket.
 */
export type HandshakeAction =
  /** Write this frame (length prefix included). */
  | { kind: "send"; frame: Uint8Array }
  /** The peering is up: hand the connection (and any bytes read after this frame) to phase 3. */
  | { kind: "established"; peerId: EndpointId; peerFilter: string[]; originator: boolean }
  /** A redundant originator waits; call `resolveRedundant()` when the other handshake ends. */
  | { kind: "paused"; peerId: EndpointId }
  /** The handshake ended without a peering; `redundant` when another connection to the peer wins. */
  | { kind: "failed"; error: BrokerError; redundant: boolean };

/**
 * The endpoint's verdict on a peer ID (its peer-status table, source
 * reference section 6.4): go on, pause this redundant originator, or
 * send `drop_conn(drop, reason)` and end.
 */
export type PeerCheck = "proceed" | "pause" | { drop: ErrorCode; reason: string };

/** Options of a {@linkcode Handshake}. */
export interface HandshakeOptions {
  /** Our endpoint ID. */
  ownId: EndpointId;
  /** Whether we dialled (`connector`) or accepted the TCP connection. */
  role: "connector" | "acceptor";
  /** Our current subscriptions, read when our filter is sent. */
  filter: () => readonly string[];
  /**
   * Consulted once the peer's ID and our role are known (where Broker calls
   * `proceed_with_handshake`). Default: always "proceed".
   */
  checkPeer?: (peerId: EndpointId, originator: boolean) => PeerCheck;
  /**
   * Whether we know (are connected or connecting to) an endpoint: Broker
   * treats a received `drop_conn(39)` as "redundant" only from a peer it
   * knows, and as a failure otherwise. Default: every peer counts as known.
   */
  knowsPeer?: (peerId: EndpointId) => boolean;
}

const TERMINAL: ReadonlySet<HandshakeState> = new Set([HandshakeState.FIN, HandshakeState.ERR]);

/** Highest `ec` value Broker can name; a drop_conn with a larger code is malformed. */
const MAX_KNOWN_EC = ErrorCode.logic_error;

/**
 * One connection's handshake, either role. Feed it whole frame payloads
 * (see `FrameReader`); it returns what to send and how it ended. Broker has
 * no handshake timeout; we do, driven by the caller's timer via
 * {@linkcode Handshake.timeout}.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { Handshake, HandshakeState } from "./handshake.ts";
 * import { newEndpointId } from "../wire/endpoint_id.ts";
 * const hs = new Handshake({ ownId: newEndpointId(), role: "acceptor", filter: () => [] });
 * const probe = new Uint8Array([0, 0, 0, 5, 7, 90, 69, 69, 75]); // length, type, "ZEEK"
 * deepEqual(hs.start(), [{ kind: "send", frame: probe }]); // the acceptor opens with a probe
 * equal(hs.state, HandshakeState.AWAIT_HELLO);
 * ```
 */
export class Handshake {
  readonly #ownId: EndpointId;
  readonly #role: "connector" | "acceptor";
  readonly #filter: () => readonly string[];
  readonly #checkPeer: (peerId: EndpointId, originator: boolean) => PeerCheck;
  readonly #knowsPeer: (peerId: EndpointId) => boolean;
  #state: HandshakeState;
  #started = false;
  #sentHello = false;
  #peerId: EndpointId | undefined;
  #originator: boolean | undefined;
  #peerFilter: string[] = [];

  /** A handshake in its start state. */
  constructor(opts: HandshakeOptions) {
    this.#ownId = opts.ownId;
    this.#role = opts.role;
    this.#filter = opts.filter;
    this.#checkPeer = opts.checkPeer ?? (() => "proceed");
    this.#knowsPeer = opts.knowsPeer ?? (() => true);
    this.#state = opts.role === "connector"
      ? HandshakeState.AWAIT_HELLO_OR_VERSION_SELECT
      : HandshakeState.AWAIT_HELLO;
  }

  /** The current state. */
  get state(): HandshakeState {
    return this.#state;
  }

  /** The peer's ID once known (from version_select, or the hello we answered as originator). */
  get peerId(): EndpointId | undefined {
    return this.#peerId;
  }

  /** Whether we are the originator, once decided. */
  get originator(): boolean | undefined {
    return this.#originator;
  }

  /** The opening message: hello for the connector, probe for the acceptor. Call once. */
  start(): HandshakeAction[] {
    if (this.#started) {
      throw new BrokerError(ErrorCode.invalid_handshake_state, "handshake already started");
    }
    this.#started = true;
    if (this.#role === "connector") {
      this.#sentHello = true;
      return [this.#send(this.#hello())];
    }
    return [this.#send({ type: MessageType.probe, magic: MAGIC })];
  }

  /**
   * Processes one frame payload (no length prefix). Throws
   * `BrokerError(invalid_handshake_state)` before `start()` and after the
   * handshake ended: frames after FIN belong to phase 3.
   */
  receive(frame: Uint8Array): HandshakeAction[] {
    if (!this.#started || TERMINAL.has(this.#state)) {
      throw new BrokerError(
        ErrorCode.invalid_handshake_state,
        this.#started ? `handshake frame in state ${this.#state}` : "handshake not started",
      );
    }
    if (frame.length === 0) {
      // Broker's connector closes on a zero-length frame, without drop_conn.
      return this.#fail(ErrorCode.invalid_message, "zero-length frame during the handshake");
    }
    let msg: HandshakeMessage;
    try {
      msg = decodeHandshakeMessage(frame);
    } catch (e) {
      if (!(e instanceof BrokerError)) throw e;
      return this.#drop(e.code, e.message);
    }
    // Broker checks magic, versions and codes while decoding, before looking at the state.
    const bad = check(msg);
    if (bad) return this.#drop(bad[0], bad[1]);

    const s = this.#state;
    if (s === HandshakeState.PAUSED) return this.#unexpected(msg);
    if (msg.type === MessageType.drop_conn) return this.#onDropConn(msg);
    switch (msg.type) {
      case MessageType.probe:
        if (
          s === HandshakeState.AWAIT_HELLO_OR_VERSION_SELECT || s === HandshakeState.AWAIT_HELLO ||
          s === HandshakeState.AWAIT_VERSION_SELECT
        ) return [];
        break;
      case MessageType.hello:
        if (
          s === HandshakeState.AWAIT_HELLO_OR_VERSION_SELECT || s === HandshakeState.AWAIT_HELLO
        ) {
          return this.#onHello(msg);
        }
        break;
      case MessageType.version_select:
        if (
          s === HandshakeState.AWAIT_HELLO_OR_VERSION_SELECT ||
          s === HandshakeState.AWAIT_VERSION_SELECT
        ) return this.#onVersionSelect(msg);
        break;
      case MessageType.originator_syn:
        if (s === HandshakeState.AWAIT_ORIG_SYN) {
          const out = [
            this.#send({ type: MessageType.responder_syn_ack, filter: this.#ourFilter() }),
          ];
          this.#state = HandshakeState.AWAIT_ORIG_ACK;
          this.#peerFilter = msg.filter;
          return out;
        }
        break;
      case MessageType.responder_syn_ack:
        if (s === HandshakeState.AWAIT_RESP_SYN_ACK) {
          this.#peerFilter = msg.filter;
          return [this.#send({ type: MessageType.originator_ack }), this.#established()];
        }
        break;
      case MessageType.originator_ack:
        if (s === HandshakeState.AWAIT_ORIG_ACK) return [this.#established()];
        break;
    }
    return this.#unexpected(msg);
  }

  /**
   * Ends a PAUSED (redundant) connection once the other handshake with the
   * same peer finished: sends `drop_conn(39 redundant_connection)`. Does
   * nothing in other states.
   */
  resolveRedundant(): HandshakeAction[] {
    if (this.#state !== HandshakeState.PAUSED) return [];
    return this.#drop(ErrorCode.redundant_connection, "redundant connection");
  }

  /**
   * The caller's handshake timer fired (Broker has none; a silent peer would
   * hold the connection forever). Sends `drop_conn(6 peer_timeout)` and
   * fails; does nothing once the handshake ended.
   */
  timeout(): HandshakeAction[] {
    if (TERMINAL.has(this.#state)) return [];
    return this.#drop(ErrorCode.peer_timeout, "handshake timed out");
  }

  #onHello(hello: HelloMessage): HandshakeAction[] {
    const order = compareEndpointIds(this.#ownId, hello.senderId);
    if (order === 0) return this.#sameId();
    if (order < 0) {
      // Smaller ID: we originate.
      const verdict = this.#admit(hello.senderId, true);
      if (verdict) return verdict;
      const out = [
        this.#send({
          type: MessageType.version_select,
          magic: MAGIC,
          senderId: this.#ownId,
          selectedVersion: PROTOCOL_VERSION,
        }),
        this.#send({ type: MessageType.originator_syn, filter: this.#ourFilter() }),
      ];
      this.#state = HandshakeState.AWAIT_RESP_SYN_ACK;
      return out;
    }
    // Larger ID: we respond; the originator needs our ID, unless our opening hello carried it.
    const out = this.#sentHello ? [] : [this.#send(this.#hello())];
    this.#sentHello = true;
    this.#state = HandshakeState.AWAIT_VERSION_SELECT;
    return out;
  }

  #onVersionSelect(vs: VersionSelectMessage): HandshakeAction[] {
    if (compareEndpointIds(this.#ownId, vs.senderId) === 0) return this.#sameId();
    const verdict = this.#admit(vs.senderId, false);
    if (verdict) return verdict;
    this.#state = HandshakeState.AWAIT_ORIG_SYN;
    return [];
  }

  #onDropConn(msg: DropConnMessage): HandshakeAction[] {
    const s = this.#state;
    // The sender's ID tells the caller which peering this was about.
    this.#peerId ??= msg.senderId;
    // Broker's `handle(drop_conn)` runs only while awaiting hello/version_select;
    // later states treat drop_conn as any unexpected message (close, then retry).
    const early = s === HandshakeState.AWAIT_HELLO_OR_VERSION_SELECT ||
      s === HandshakeState.AWAIT_HELLO || s === HandshakeState.AWAIT_VERSION_SELECT;
    const redundant = early && msg.code === ErrorCode.redundant_connection &&
      this.#knowsPeer(msg.senderId);
    this.#state = redundant ? HandshakeState.FIN : HandshakeState.ERR;
    const error = new BrokerError(
      msg.code,
      `peer dropped the connection: ${msg.description || ErrorCode[msg.code]}`,
    );
    return [{ kind: "failed", error, redundant }];
  }

  /**
   * Applies the caller's peer check; returns the actions that end (or pause)
   * the handshake, or undefined to proceed.
   */
  #admit(peerId: EndpointId, originator: boolean): HandshakeAction[] | undefined {
    this.#peerId = peerId;
    this.#originator = originator;
    const verdict = this.#checkPeer(peerId, originator);
    if (verdict === "proceed") return undefined;
    if (verdict === "pause") {
      if (!originator) {
        // Only the originator may wait for the other connection, as in Broker.
        return this.#drop(ErrorCode.logic_error, "detected redundant connection at the responder");
      }
      this.#state = HandshakeState.PAUSED;
      return [{ kind: "paused", peerId }];
    }
    return this.#drop(verdict.drop, verdict.reason);
  }

  #sameId(): HandshakeAction[] {
    // Broker does not handle this: both sides would wait for version_select forever.
    return this.#drop(ErrorCode.peer_invalid, "peer uses our endpoint ID");
  }

  #hello(): HelloMessage {
    return {
      type: MessageType.hello,
      magic: MAGIC,
      senderId: this.#ownId,
      minVersion: PROTOCOL_VERSION,
      maxVersion: PROTOCOL_VERSION,
    };
  }

  #ourFilter(): string[] {
    return [...this.#filter()];
  }

  #send(msg: HandshakeMessage): HandshakeAction {
    return { kind: "send", frame: encodeHandshakeMessage(msg, { prefix: true }) };
  }

  #established(): HandshakeAction {
    this.#state = HandshakeState.FIN;
    return {
      kind: "established",
      peerId: this.#peerId!,
      peerFilter: this.#peerFilter,
      originator: this.#originator!,
    };
  }

  /** Sends drop_conn and ends: FIN for a redundant connection (as Broker does), ERR otherwise. */
  #drop(code: ErrorCode, reason: string): HandshakeAction[] {
    const send = this.#send({
      type: MessageType.drop_conn,
      magic: MAGIC,
      senderId: this.#ownId,
      code,
      description: reason,
    });
    const redundant = code === ErrorCode.redundant_connection;
    this.#state = redundant ? HandshakeState.FIN : HandshakeState.ERR;
    return [send, { kind: "failed", error: new BrokerError(code, reason), redundant }];
  }

  /** Ends without drop_conn (Broker just closes). */
  #fail(code: ErrorCode, reason: string): HandshakeAction[] {
    this.#state = HandshakeState.ERR;
    return [{ kind: "failed", error: new BrokerError(code, reason), redundant: false }];
  }

  #unexpected(msg: HandshakeMessage): HandshakeAction[] {
    return this.#fail(
      ErrorCode.unexpected_handshake_message,
      `unexpected ${messageTypeName(msg.type)} in state ${this.#state}`,
    );
  }
}

/** Broker's `wire_format::check`: the drop_conn to answer with, if any. */
function check(msg: HandshakeMessage): [ErrorCode, string] | undefined {
  if ("magic" in msg && msg.magic !== MAGIC) {
    return [ErrorCode.wrong_magic_number, "wrong magic number"];
  }
  switch (msg.type) {
    case MessageType.hello:
      if (msg.minVersion > PROTOCOL_VERSION || msg.maxVersion < PROTOCOL_VERSION) {
        return [ErrorCode.peer_incompatible, "unsupported versions offered"];
      }
      break;
    case MessageType.version_select:
      if (msg.selectedVersion !== PROTOCOL_VERSION) {
        return [ErrorCode.peer_incompatible, "unsupported version selected"];
      }
      break;
    case MessageType.drop_conn:
      if (msg.code > MAX_KNOWN_EC) return [ErrorCode.unspecified, msg.description];
      break;
  }
  return undefined;
}
