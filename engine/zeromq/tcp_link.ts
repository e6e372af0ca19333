/**
 * A connecting ZeroMQ socket over TCP that keeps dialling, as libzmq's do
 * for a Zeek node: one {@link ZmtpConnection} at a time to one endpoint,
 * dialled again after a refusal or a loss at {@link ReconnectInterval}'s
 * waits, for as long as it is open. What it holds for the peer outlives a
 * connection, as a libzmq pipe does without `ZMQ_IMMEDIATE` (Zeek's
 * default): messages written while no connection is up wait, up to
 * `sndhwm` of them, and go out once the next handshake is done, after what
 * `onUp` writes first (an XSUB's subscriptions). A protocol error (a peer
 * that is not a ZeroMQ socket of a matching type, an ERROR) ends the link
 * for good: libzmq stops dialling that endpoint, and Zeek treats a failed
 * handshake as fatal.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZmtpConnection } from "./tcp_connection.ts";
 * import { ZmtpLink } from "./tcp_link.ts";
 * const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const port = (l.addr as Deno.NetAddr).port;
 * const got = Promise.withResolvers<Uint8Array[]>();
 * l.accept().then((tcp) =>
 *   new ZmtpConnection(tcp, "PULL", (e) => e.type === "message" && got.resolve(e.parts))
 * );
 * const push = new ZmtpLink({ host: "127.0.0.1", port }, "PUSH", "a PULL", () => {});
 * push.write(push.encode([new TextEncoder().encode("hi")]), 1); // waits for the handshake
 * equal(new TextDecoder().decode((await got.promise)[0]), "hi");
 * await push.closeAfterWrites();
 * l.close();
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { encodeMessage } from "./frame.ts";
import { ReconnectInterval, type ReconnectIntervalOptions } from "./reconnect.ts";
import type { SocketType, ZmtpEvent } from "./session.ts";
import { type HostPort, ZmtpConnection } from "./tcp_connection.ts";

/** What happened to a link's connection. */
export type ZmtpLinkStatus =
  | {
    /** The handshake is done: messages flow (again, after the first). */
    type: "connected";
    /** Whether a connection was up before (the link is back). */
    again: boolean;
  }
  | {
    /** The connection ended; the link dials again after a wait. */
    type: "disconnected";
  }
  | {
    /** A protocol error: the link stopped dialling, for good. */
    type: "failed";
    /** What went wrong. */
    error: BrokerError;
  };

/** Options of a {@link ZmtpLink}. */
export interface ZmtpLinkOptions extends ReconnectIntervalOptions {
  /** Messages held for the peer (waiting or being written) before {@link ZmtpLink.full}; 0: no limit. */
  sndhwm?: number;
  /** Called with each new connection once its handshake is done, before what waited is written. */
  onUp?: (conn: ZmtpConnection) => void;
  /** Called on every change of the connection (see {@link ZmtpLinkStatus}). */
  onStatus?: (status: ZmtpLinkStatus) => void;
}

/** A connecting socket that dials again (see the module doc). */
export class ZmtpLink {
  /** Where it dials. */
  readonly to: HostPort;
  /** What the peer is, for messages ("the proxy's XSUB"). */
  readonly what: string;
  /** Messages held before {@link full}; 0: no limit (libzmq's `ZMQ_SNDHWM`). */
  sndhwm: number;
  /** TCP connection attempts so far. */
  dials = 0;
  /** The error of the latest failed dial, if the latest dial failed. */
  lastDialError?: unknown;
  readonly #socketType: SocketType;
  readonly #onEvent: (e: ZmtpEvent) => void;
  readonly #options: ZmtpLinkOptions;
  readonly #interval: ReconnectInterval;
  // The connection whose handshake is done, if any, and the one being set up.
  #ready?: ZmtpConnection;
  #conn?: ZmtpConnection;
  // Messages written while no connection was ready, waiting for the next one.
  #waiting: Uint8Array[] = [];
  #waitingMessages = 0;
  #flushed = Promise.withResolvers<void>();
  #wasUp = false;
  #closed = false;
  #failure?: BrokerError;
  #sleep?: { timer: ReturnType<typeof setTimeout>; resolve: () => void };
  /** Resolves when the link has stopped: closed, or failed for good. */
  readonly done: Promise<void>;

  /** Starts dialling `to` at once; `onEvent` gets every connection's session events. */
  constructor(
    to: HostPort,
    socketType: SocketType,
    what: string,
    onEvent: (e: ZmtpEvent) => void,
    options: ZmtpLinkOptions = {},
  ) {
    this.to = to;
    this.what = what;
    this.#socketType = socketType;
    this.#onEvent = onEvent;
    this.#options = options;
    this.sndhwm = options.sndhwm ?? 0;
    this.#interval = new ReconnectInterval(options);
    this.done = this.#run();
  }

  /** Whether a connection is up (its handshake done). */
  get up(): boolean {
    return this.#ready !== undefined;
  }

  /** The protocol error that ended the link, if one did. */
  get failure(): BrokerError | undefined {
    return this.#failure;
  }

  /** The shortest wait between two dials, in ms. */
  get reconnectIvlMs(): number {
    return this.#interval.minimumMs;
  }

  /** Messages waiting for a connection or for the socket. */
  get queuedMessages(): number {
    return this.#waitingMessages + (this.#ready?.queuedMessages ?? 0);
  }

  /** Whether {@link sndhwm} messages are held: a sender that drops drops now. */
  get full(): boolean {
    return this.sndhwm > 0 && this.queuedMessages >= this.sndhwm;
  }

  /** A multipart message encoded to {@link write} (any time: no handshake needed yet). */
  encode(parts: readonly Uint8Array[]): Uint8Array {
    return encodeMessage(parts);
  }

  /** Queues a copy of `bytes` (`messages` whole messages in them, for {@link sndhwm}). */
  write(bytes: Uint8Array, messages = 0): void {
    this.reserve(bytes.length, messages)?.set(bytes);
  }

  /**
   * The next `size` bytes to fill in at once (as `ZmtpConnection.reserve`):
   * in the socket's buffer when a connection is up, else held for the next
   * one. Undefined once the link is closed or failed.
   */
  reserve(size: number, messages = 0): Uint8Array | undefined {
    if (this.#closed || this.#failure) return undefined;
    if (this.#ready && !this.#ready.closed) return this.#ready.reserve(size, messages);
    const bytes = new Uint8Array(size);
    this.#waiting.push(bytes);
    this.#waitingMessages += messages;
    return bytes;
  }

  /**
   * Resolves once at most `limit` bytes wait for the socket and nothing
   * waits for a connection (or the link stopped).
   */
  async below(limit: number): Promise<void> {
    while (this.#waiting.length > 0 && !this.#closed && !this.#failure) {
      await this.#flushed.promise;
    }
    await this.#ready?.below(limit);
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let tcp: Deno.TcpConn;
      try {
        this.dials++;
        tcp = await Deno.connect({ hostname: this.to.host, port: this.to.port });
        this.lastDialError = undefined;
      } catch (e) {
        this.lastDialError = e;
        await this.#wait();
        continue;
      }
      if (this.#closed) {
        tcp.close();
        break;
      }
      tcp.setNoDelay(true);
      const conn: ZmtpConnection = new ZmtpConnection(
        tcp,
        this.#socketType,
        (e) => this.#event(conn, e),
      );
      this.#conn = conn;
      await conn.done;
      const wasReady = this.#ready === conn;
      this.#ready = this.#conn = undefined;
      if (this.#closed) break;
      if (this.#failure) {
        this.#options.onStatus?.({ type: "failed", error: this.#failure });
        this.#flushed.resolve();
        break;
      }
      if (wasReady) this.#options.onStatus?.({ type: "disconnected" });
      // libzmq waits once before dialling again after a loss (a delayed connecter).
      this.#interval.reset();
      await this.#wait();
    }
  }

  #event(conn: ZmtpConnection, e: ZmtpEvent): void {
    if (e.type === "ready") {
      this.#ready = conn;
      this.#options.onUp?.(conn);
      const waiting = this.#waiting;
      this.#waiting = [];
      // Each message of those held counts once more, now in the socket's buffer.
      const n = this.#waitingMessages;
      this.#waitingMessages = 0;
      for (const [i, bytes] of waiting.entries()) conn.write(bytes, i === 0 ? n : 0);
      const flushed = this.#flushed;
      this.#flushed = Promise.withResolvers<void>();
      flushed.resolve();
      this.#options.onStatus?.({ type: "connected", again: this.#wasUp });
      this.#wasUp = true;
    } else if (e.type === "error") {
      this.#failure = new BrokerError(
        e.error.code,
        `${this.what} at ${this.to.host}:${this.to.port}: ${e.error.message}`,
      );
    }
    this.#onEvent(e);
  }

  #wait(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.#sleep = undefined;
        resolve();
      }, this.#interval.next());
      this.#sleep = { timer, resolve };
    });
  }

  /** Stops dialling and closes the connection now; what waits is dropped. */
  close(): void {
    this.#stop();
    this.#conn?.close();
  }

  /** Stops dialling, closes the connection once its queued writes are done, and waits for the link. */
  async closeAfterWrites(): Promise<void> {
    this.#stop();
    await this.#conn?.closeAfterWrites();
    await this.done;
  }

  #stop(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#sleep) {
      clearTimeout(this.#sleep.timer);
      this.#sleep.resolve();
      this.#sleep = undefined;
    }
    this.#flushed.resolve();
  }
}

/** The `peer_unavailable` error of a link that has not connected (yet). */
export function unreachable(link: ZmtpLink): BrokerError {
  const why = link.lastDialError === undefined ? "no handshake" : String(link.lastDialError);
  return new BrokerError(
    ErrorCode.peer_unavailable,
    `cannot reach ${link.what} at ${link.to.host}:${link.to.port}: ${why}`,
  );
}
