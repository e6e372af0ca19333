/**
 * One side of a ZMTP 3.1 connection with the NULL mechanism, sans-I/O: the
 * caller writes what {@link ZmtpSession.takeOutput} gives and feeds what it
 * reads to {@link ZmtpSession.receive}, which returns what happened. The
 * session sends its greeting at once, READY (with its socket type) once the
 * peer's greeting is in, checks the peer's READY, answers PING with PONG,
 * assembles multipart messages, and on a socket that takes subscriptions
 * (PUB, XPUB) reads them in both of their forms.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { ZmtpSession } from "./session.ts";
 * const a = new ZmtpSession({ socketType: "XSUB" });
 * const b = new ZmtpSession({ socketType: "XPUB", asServer: true });
 * // Two rounds of exchanging output complete the handshake.
 * for (let i = 0; i < 2; i++) {
 *   const fromA = a.takeOutput(), fromB = b.takeOutput();
 *   if (fromB) a.receive(fromB);
 *   if (fromA) b.receive(fromA);
 * }
 * ok(a.ready && b.ready);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import {
  encodeCommand,
  encodeError,
  encodeReady,
  parseCommand,
  parseError,
  parseReady,
  pongFor,
  type Property,
  propertyValue,
  type ZmtpCommand,
} from "./command.ts";
import { concatBytes } from "../bytes.ts";
import { DEFAULT_MAX_ZMTP_FRAME_SIZE, encodeFrame, encodeMessage, FrameDecoder } from "./frame.ts";
import {
  encodeGreeting,
  type Greeting,
  GREETING_SIZE,
  isSignature,
  parseGreeting,
  SIGNATURE_SIZE,
} from "./greeting.ts";
import {
  encodeSubscription,
  type Subscription,
  subscriptionFromCommand,
  subscriptionFromMessage,
} from "./subscription.ts";

/** ZeroMQ socket types (RFC 37's list). */
export type SocketType =
  | "PAIR"
  | "PUB"
  | "SUB"
  | "REQ"
  | "REP"
  | "DEALER"
  | "ROUTER"
  | "PULL"
  | "PUSH"
  | "XPUB"
  | "XSUB";

// Which peer socket types each type may talk to (RFC 37, "Socket Types").
const COMPATIBLE: Record<SocketType, readonly string[]> = {
  PAIR: ["PAIR"],
  PUB: ["SUB", "XSUB"],
  SUB: ["PUB", "XPUB"],
  XPUB: ["SUB", "XSUB"],
  XSUB: ["PUB", "XPUB"],
  REQ: ["REP", "ROUTER"],
  REP: ["REQ", "DEALER"],
  DEALER: ["REP", "DEALER", "ROUTER"],
  ROUTER: ["REQ", "DEALER", "ROUTER"],
  PULL: ["PUSH"],
  PUSH: ["PULL"],
};

/** Options of a {@link ZmtpSession}. */
export interface ZmtpSessionOptions {
  /** Our socket type, sent in READY and checked against the peer's. */
  socketType: SocketType;
  /** The greeting's as-server flag: NULL has no roles and libzmq sends 0 there. Default false. */
  asServer?: boolean;
  /** More READY properties after Socket-Type (e.g. `Identity` for ROUTER peers). */
  properties?: readonly Property[];
  /** Largest frame body accepted. Default 64 MiB. */
  maxFrameSize?: number;
}

/** What {@link ZmtpSession.receive} reports. */
export type ZmtpEvent =
  | {
    /** The handshake is done: messages may flow. */
    type: "ready";
    /** The peer's greeting. */
    greeting: Greeting;
    /** The peer's READY properties (Socket-Type among them). */
    properties: Map<string, string>;
  }
  | {
    /** A whole multipart message. */
    type: "message";
    /** Its parts, in order. */
    parts: Uint8Array[];
    /**
     * Its frames as they came (flags and sizes included), when they lie one
     * after the other in what was received: a proxy forwards them as they
     * are, without encoding the message again.
     */
    raw?: Uint8Array;
  }
  | {
    /** A subscription or cancellation from the peer (on PUB and XPUB sockets). */
    type: "subscription";
    /** Which, and the topic prefix. */
    subscription: Subscription;
  }
  | {
    /** A command the session does not handle itself (e.g. PONG). */
    type: "command";
    /** The command. */
    command: ZmtpCommand;
  }
  | {
    /** The connection must be closed: a protocol error, ours or the peer's ERROR. */
    type: "error";
    /** What went wrong (`peer_incompatible`, `invalid_message`, ...). */
    error: BrokerError;
  };

/** A ZMTP 3.1 NULL-mechanism session (see the module doc). */
export class ZmtpSession {
  readonly #socketType: SocketType;
  readonly #properties: readonly Property[];
  readonly #frames: FrameDecoder;
  #greetingBuf: Uint8Array | undefined = new Uint8Array(0);
  #peerGreeting?: Greeting;
  #ready = false;
  #failed = false;
  #parts: Uint8Array[] = [];
  // Where the current message's frames lie in the decoder's buffer, while they are contiguous.
  #rawBuffer?: ArrayBufferLike;
  #rawStart = 0;
  #rawEnd = 0;
  #out: Uint8Array[] = [];

  /** A session; its greeting is queued for {@link takeOutput} at once. */
  constructor(options: ZmtpSessionOptions) {
    this.#socketType = options.socketType;
    this.#properties = options.properties ?? [];
    this.#frames = new FrameDecoder(options.maxFrameSize ?? DEFAULT_MAX_ZMTP_FRAME_SIZE);
    this.#out.push(encodeGreeting({ mechanism: "NULL", asServer: options.asServer ?? false }));
  }

  /** Whether the handshake is done. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Whether the session failed (after an `error` event); it then ignores input. */
  get failed(): boolean {
    return this.#failed;
  }

  /** Bytes to write to the peer, or undefined when there are none. */
  takeOutput(): Uint8Array | undefined {
    if (this.#out.length === 0) return undefined;
    const out = concatBytes(this.#out);
    this.#out = [];
    return out;
  }

  /**
   * Encodes a multipart message to write. Throws `invalid_status` before
   * the handshake is done (a peer would drop the connection).
   */
  send(parts: readonly Uint8Array[]): Uint8Array {
    if (!this.#ready) {
      throw new BrokerError(ErrorCode.invalid_status, "ZMTP session not ready: handshake not done");
    }
    return encodeMessage(parts);
  }

  /**
   * Encodes a subscription (or with `subscribe` false its cancellation) in
   * the message form, which every ZMTP 3.x (X)PUB reads.
   */
  subscribe(topic: string | Uint8Array, subscribe = true): Uint8Array {
    return this.send([encodeSubscription(topic, subscribe)]);
  }

  /** Feeds received bytes; returns what they completed, in order. Never throws. */
  receive(chunk: Uint8Array): ZmtpEvent[] {
    const events: ZmtpEvent[] = [];
    if (this.#failed) return events;
    try {
      this.#receive(chunk, events);
    } catch (e) {
      const error = e instanceof BrokerError
        ? e
        : new BrokerError(ErrorCode.unspecified, `ZMTP session: ${e}`);
      this.#fail(error, events);
    }
    return events;
  }

  #receive(chunk: Uint8Array, events: ZmtpEvent[]): void {
    if (this.#greetingBuf) {
      const have = concatBytes([this.#greetingBuf, chunk]);
      if (have.length < GREETING_SIZE) {
        // Check the signature as soon as it is in, so a non-ZMTP peer fails fast.
        if (have.length >= SIGNATURE_SIZE && !isSignature(have)) {
          throw new BrokerError(ErrorCode.wrong_magic_number, "not a ZMTP greeting: bad signature");
        }
        this.#greetingBuf = have.slice();
        return;
      }
      this.#peerGreeting = parseGreeting(have.subarray(0, GREETING_SIZE));
      if (this.#peerGreeting.mechanism !== "NULL") {
        throw new BrokerError(
          ErrorCode.peer_incompatible,
          `ZMTP mechanism ${this.#peerGreeting.mechanism}: only NULL is supported`,
        );
      }
      this.#greetingBuf = undefined;
      this.#out.push(encodeFrame({
        command: true,
        more: false,
        body: encodeCommand(
          "READY",
          encodeReady([["Socket-Type", this.#socketType], ...this.#properties]),
        ),
      }));
      chunk = have.subarray(GREETING_SIZE);
    }
    this.#frames.push(chunk);
    for (let f = this.#frames.next(); f; f = this.#frames.next()) {
      if (f.command) {
        this.#rawBuffer = undefined; // a command inside a message: its frames are not contiguous
        this.#command(parseCommand(f.body), events);
        if (this.#failed) return;
        continue;
      }
      if (!this.#ready) {
        throw new BrokerError(ErrorCode.invalid_message, "ZMTP message before the peer's READY");
      }
      const body = f.body;
      const wireStart = body.byteOffset - (f.long ? 9 : 2);
      if (this.#parts.length === 0) {
        this.#rawBuffer = body.buffer;
        this.#rawStart = wireStart;
      } else if (body.buffer !== this.#rawBuffer || wireStart !== this.#rawEnd) {
        this.#rawBuffer = undefined;
      }
      this.#rawEnd = body.byteOffset + body.length;
      this.#parts.push(body);
      if (f.more) continue;
      const parts = this.#parts;
      this.#parts = [];
      const raw = this.#rawBuffer
        ? new Uint8Array(this.#rawBuffer, this.#rawStart, this.#rawEnd - this.#rawStart)
        : undefined;
      this.#rawBuffer = undefined;
      if (
        this.#takesSubscriptions && parts.length === 1 && parts[0].length > 0 && parts[0][0] <= 1
      ) {
        events.push({ type: "subscription", subscription: subscriptionFromMessage(parts) });
      } else {
        events.push(raw ? { type: "message", parts, raw } : { type: "message", parts });
      }
    }
  }

  get #takesSubscriptions(): boolean {
    return this.#socketType === "XPUB" || this.#socketType === "PUB";
  }

  #command(command: ZmtpCommand, events: ZmtpEvent[]): void {
    if (!this.#ready) {
      if (command.name === "ERROR") {
        throw new BrokerError(ErrorCode.peer_invalid, `ZMTP peer: ${parseError(command.data)}`);
      }
      if (command.name !== "READY") {
        throw new BrokerError(
          ErrorCode.invalid_message,
          `ZMTP ${command.name} before READY in the NULL handshake`,
        );
      }
      const properties = parseReady(command.data);
      const peerType = propertyValue(properties, "Socket-Type") ?? "";
      if (!COMPATIBLE[this.#socketType].includes(peerType)) {
        // Tell the peer, as libzmq does, then give up.
        this.#out.push(encodeFrame({
          command: true,
          more: false,
          body: encodeCommand("ERROR", encodeError("Invalid socket type")),
        }));
        throw new BrokerError(
          ErrorCode.peer_incompatible,
          `ZMTP socket types ${this.#socketType} and ${JSON.stringify(peerType)} do not match`,
        );
      }
      this.#ready = true;
      events.push({ type: "ready", greeting: this.#peerGreeting!, properties });
      return;
    }
    const sub = this.#takesSubscriptions ? subscriptionFromCommand(command) : undefined;
    if (sub) events.push({ type: "subscription", subscription: sub });
    else if (command.name === "PING") {
      this.#out.push(encodeFrame({
        command: true,
        more: false,
        body: encodeCommand("PONG", pongFor(command.data)),
      }));
    } else if (command.name === "ERROR") {
      throw new BrokerError(ErrorCode.peer_invalid, `ZMTP peer: ${parseError(command.data)}`);
    } else events.push({ type: "command", command });
  }

  #fail(error: BrokerError, events: ZmtpEvent[]): void {
    this.#failed = true;
    events.push({ type: "error", error });
  }
}
