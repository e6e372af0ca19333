/**
 * ZMTP over TCP: a connection that runs a {@link ZmtpSession} on a Deno TCP
 * socket, for the ZeroMQ node (`tcp_node.ts`) and proxy (`tcp_proxy.ts`).
 * All protocol decisions stay in the session; this moves bytes.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { frameLength, MessageScanner } from "./scan.ts";
import { type SocketType, type ZmtpEvent, ZmtpSession } from "./session.ts";
import { ZMQ_RECONNECT_IVL_MS } from "./reconnect.ts";
import { timerDelay } from "../timer_delay.ts";

/** A TCP endpoint. */
export interface HostPort {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
}

/**
 * libzmq's default `ZMQ_HANDSHAKE_IVL`, kept by Zeek: a connection whose
 * ZMTP handshake has not finished within 30 s is closed (a dialled one is
 * then dialled again, as any lost connection).
 */
export const ZMQ_HANDSHAKE_IVL_MS = 30_000;

// Sizes of the read buffer and of the first write buffer; a written buffer up to KEEP_BYTES
// is kept for the next write (two take turns: one is written while the other fills).
const READ_BYTES = 256 * 1024;
const WRITE_BYTES = 64 * 1024;
const KEEP_BYTES = 4 * 1024 * 1024;

/**
 * Takes the whole messages a connection in bulk mode received (see
 * {@link ZmtpConnection}'s `bulk`): `records` holds, per message, its
 * topic's start and end and its frames' start and end in `buf` (as
 * `MessageScanner` gives them). `buf` is overwritten by the next read: copy
 * what must outlive the call. A returned promise holds the next read back
 * until it settles (backpressure).
 */
export interface BulkReceiver {
  /** `count` whole messages in `buf`, as described above. */
  messages(buf: Uint8Array, records: Int32Array, count: number): void | Promise<void>;
}

/**
 * One ZMTP connection over TCP: a {@link ZmtpSession}, a read loop that
 * feeds it and reports its events, and writes kept in order.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZmtpConnection } from "./tcp_connection.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const got = Promise.withResolvers<Uint8Array[]>();
 * listener.accept().then((tcp) =>
 *   new ZmtpConnection(tcp, "PULL", (e) => e.type === "message" && got.resolve(e.parts))
 * );
 * const ready = Promise.withResolvers<void>();
 * const port = (listener.addr as Deno.NetAddr).port;
 * const push = await ZmtpConnection.dial({ host: "127.0.0.1", port }, "PUSH", Date.now() + 5000, (e) => {
 *   if (e.type === "ready") ready.resolve();
 * });
 * await ready.promise;
 * push.write(push.session.send([new TextEncoder().encode("hi")]));
 * equal(new TextDecoder().decode((await got.promise)[0]), "hi");
 * await push.closeAfterWrites();
 * listener.close();
 * ```
 */
export class ZmtpConnection {
  /** The protocol state; `send` and `subscribe` encode what to `write`. */
  readonly session: ZmtpSession;
  readonly #conn: Deno.TcpConn;
  // Bytes waiting for the socket, copied in one after the other, and the loop writing them
  // (undefined when idle): what comes in while a write is under way goes out with the next
  // one, in one syscall.
  #out: Uint8Array<ArrayBuffer> = new Uint8Array(WRITE_BYTES);
  #outLen = 0;
  #spare?: Uint8Array<ArrayBuffer>;
  #inFlight = 0;
  // Messages (counted by the caller, see `reserve`) in #out and in the write under way.
  #outMessages = 0;
  #inFlightMessages = 0;
  #writing?: Promise<void>;
  #room?: { limit: number; resolve: () => void; promise: Promise<void> };
  #closed = false;
  /** Resolves when the read loop has ended (peer closed, error, or `close`). */
  readonly done: Promise<void>;
  /**
   * Messages this side may hold for the socket before {@link full} says
   * so; 0 means no limit. libzmq's `ZMQ_SNDHWM`, which Zeek sets from
   * `xpub_sndhwm` and `log_sndhwm`: it counts messages, not bytes.
   *
   * @example
   * ```ts
   * import { equal } from "node:assert/strict";
   * import { ZmtpConnection } from "./tcp_connection.ts";
   * const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
   * const port = (l.addr as Deno.NetAddr).port;
   * const c = await ZmtpConnection.dial({ host: "127.0.0.1", port }, "PUSH", Date.now() + 5000, () => {});
   * c.sndhwm = 1;
   * c.reserve(3, 1)?.set([1, 2, 3]); // one message: the mark is reached until it is written
   * equal(c.full, true);
   * c.close();
   * l.close();
   * ```
   */
  sndhwm = 0;

  /**
   * Runs a session of `socketType` on an open connection (dialled or
   * accepted). With `bulk`, once the handshake is done, whole messages go
   * to `bulk` as byte ranges of what was read (no parts, no events) and
   * only commands become events: the path of a proxy's receiving side.
   * A connection whose handshake has not finished within `handshakeIvlMs`
   * is closed (libzmq's `ZMQ_HANDSHAKE_IVL`; 0: never).
   */
  constructor(
    conn: Deno.TcpConn,
    socketType: SocketType,
    onEvent: (e: ZmtpEvent) => void,
    bulk?: BulkReceiver,
    handshakeIvlMs: number = ZMQ_HANDSHAKE_IVL_MS,
  ) {
    this.#conn = conn;
    this.session = new ZmtpSession({ socketType });
    this.#flush();
    // A peer that never finishes its handshake (silent, or half a greeting) held the
    // connection for good.
    const timer = handshakeIvlMs > 0
      ? setTimeout(() => this.session.ready || this.close(), timerDelay(handshakeIvlMs))
      : undefined;
    const events = timer === undefined ? onEvent : (e: ZmtpEvent) => {
      if (e.type === "ready") clearTimeout(timer);
      onEvent(e);
    };
    this.done = bulk ? this.#readBulk(events, bulk) : this.#read(events);
    if (timer !== undefined) this.done.then(() => clearTimeout(timer));
  }

  /**
   * Dials `to`, re-dialling while it refuses, until `deadline` (ms since
   * the epoch); `bulk` as in the constructor.
   */
  static async dial(
    to: HostPort,
    socketType: SocketType,
    deadline: number,
    onEvent: (e: ZmtpEvent) => void,
    bulk?: BulkReceiver,
  ): Promise<ZmtpConnection> {
    while (true) {
      try {
        const conn = await Deno.connect({ hostname: to.host, port: to.port });
        conn.setNoDelay(true);
        return new ZmtpConnection(conn, socketType, onEvent, bulk);
      } catch (e) {
        // Nothing listens yet: re-dial as libzmq does (ZMQ_RECONNECT_IVL), up to the deadline.
        if (!(e instanceof Deno.errors.ConnectionRefused) || Date.now() >= deadline) {
          throw new BrokerError(
            ErrorCode.peer_unavailable,
            `cannot reach ${
              socketType === "XPUB" ? "the proxy's XSUB" : "the proxy's XPUB"
            } at ${to.host}:${to.port}: ${e}`,
          );
        }
        await new Promise((r) => setTimeout(r, ZMQ_RECONNECT_IVL_MS));
      }
    }
  }

  /** Bytes queued or being written, not yet taken by the socket. */
  get buffered(): number {
    return this.#outLen + this.#inFlight;
  }

  /** Messages queued or being written (as counted by `reserve`'s callers). */
  get queuedMessages(): number {
    return this.#outMessages + this.#inFlightMessages;
  }

  /** Whether {@link sndhwm} messages wait for the socket: a sender that drops drops now. */
  get full(): boolean {
    return this.sndhwm > 0 && this.#outMessages + this.#inFlightMessages >= this.sndhwm;
  }

  /** Whether the connection was closed (writes are dropped then). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Queues a copy of `bytes` to write after those queued before; a failed
   * write closes the connection. `messages` as in {@link reserve}.
   */
  write(bytes: Uint8Array, messages = 0): void {
    this.reserve(bytes.length, messages)?.set(bytes);
  }

  /** Queues a copy of `buf[start, end)`, as {@link write}. */
  writeRange(buf: Uint8Array, start: number, end: number): void {
    this.reserve(end - start)?.set(buf.subarray(start, end));
  }

  /**
   * The next `size` bytes to write, to fill in at once (before anything
   * else is written or awaited): an encoder writes there rather than into
   * an array of its own. Undefined once the connection is closed.
   * `messages` is how many whole messages they hold, for {@link sndhwm}
   * (commands count none); checking {@link full} first is the caller's.
   */
  reserve(size: number, messages = 0): Uint8Array | undefined {
    if (this.#closed) return undefined;
    this.#outMessages += messages;
    const at = this.#outLen;
    if (at + size > this.#out.length) {
      const grown = new Uint8Array(Math.max(2 * this.#out.length, at + size));
      grown.set(this.#out.subarray(0, at));
      this.#out = grown;
    }
    this.#outLen = at + size;
    this.#writing ??= this.#drain();
    return this.#out.subarray(at, at + size);
  }

  /**
   * Resolves once at most `limit` bytes wait for the socket (or it
   * closed): the high-water mark a sender that must not drop waits on.
   */
  below(limit: number): Promise<void> {
    if (this.#closed || this.buffered <= limit) return Promise.resolve();
    if (this.#room) {
      this.#room.limit = Math.min(this.#room.limit, limit);
      return this.#room.promise;
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#room = { limit, resolve, promise };
    return promise;
  }

  async #drain(): Promise<void> {
    // Let the caller fill what it reserved first: the write starts after this turn.
    await Promise.resolve();
    try {
      while (this.#outLen > 0 && !this.#closed) {
        const full = this.#out, n = this.#outLen;
        this.#out = this.#spare ?? new Uint8Array(WRITE_BYTES);
        this.#spare = undefined;
        this.#outLen = 0;
        this.#inFlight = n;
        this.#inFlightMessages = this.#outMessages;
        this.#outMessages = 0;
        for (let at = 0; at < n;) at += await this.#conn.write(full.subarray(at, n));
        this.#inFlight = 0;
        this.#inFlightMessages = 0;
        if (full.length <= KEEP_BYTES) this.#spare = full;
        this.#wake();
      }
    } catch {
      this.close();
    } finally {
      this.#writing = undefined;
      this.#inFlight = 0;
      this.#inFlightMessages = 0;
    }
  }

  #wake(): void {
    const room = this.#room;
    if (room && (this.#closed || this.buffered <= room.limit)) {
      this.#room = undefined;
      room.resolve();
    }
  }

  #flush(): void {
    const out = this.session.takeOutput();
    if (out) this.write(out);
  }

  async #read(onEvent: (e: ZmtpEvent) => void): Promise<void> {
    const buf = new Uint8Array(READ_BYTES);
    try {
      while (!this.#closed) {
        const n = await this.#conn.read(buf);
        if (n === null) break;
        const events = this.session.receive(buf.subarray(0, n));
        this.#flush();
        for (const e of events) onEvent(e);
        if (this.session.failed) break;
      }
    } catch {
      // the socket went away; close below
    }
    this.close();
  }

  // Feeds the session whole pieces only (the greeting, then one frame at a time), so that it
  // never holds part of a message: messages bypass it.
  #feed(bytes: Uint8Array, onEvent: (e: ZmtpEvent) => void): boolean {
    const events = this.session.receive(bytes);
    this.#flush();
    for (const e of events) onEvent(e);
    return !this.session.failed;
  }

  async #readBulk(onEvent: (e: ZmtpEvent) => void, bulk: BulkReceiver): Promise<void> {
    let buf = new Uint8Array(READ_BYTES);
    let have = 0, greetingLeft = 64;
    const scanner = new MessageScanner((frame) => this.#feed(frame, onEvent));
    try {
      while (!this.#closed) {
        if (have === buf.length) {
          // One message larger than the buffer: room for the rest of it.
          const grown = new Uint8Array(2 * buf.length);
          grown.set(buf);
          buf = grown;
        }
        const n = await this.#conn.read(buf.subarray(have));
        if (n === null) break;
        have += n;
        let at = 0;
        if (greetingLeft > 0) {
          at = Math.min(greetingLeft, have);
          greetingLeft -= at;
          if (!this.#feed(buf.subarray(0, at), onEvent)) break;
        }
        while (greetingLeft === 0 && !this.session.ready) {
          const len = frameLength(buf, at, have);
          if (len < 0) break;
          if (!this.#feed(buf.subarray(at, at + len), onEvent)) return this.close();
          at += len;
        }
        if (this.session.ready) {
          const rest = scanner.scan(buf, at, have);
          if (scanner.count > 0) await bulk.messages(buf, scanner.records, scanner.count);
          if (this.session.failed) break;
          buf.copyWithin(0, rest, scanner.end);
          have = scanner.end - rest;
        } else {
          buf.copyWithin(0, at, have);
          have -= at;
        }
      }
    } catch (e) {
      if (e instanceof BrokerError) onEvent({ type: "error", error: e });
      // else the socket went away; close below
    }
    this.close();
  }

  /** Closes the socket now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    this.#wake();
  }

  /** Closes the socket once the queued writes are done, and waits for the read loop. */
  async closeAfterWrites(): Promise<void> {
    await this.#writing;
    this.close();
    await this.done;
  }
}

/** How many of the latest errors a proxy or node keeps (their `errors`). */
export const KEPT_ERRORS = 100;

/**
 * Adds `e` to `errors`, dropping the oldest past `KEPT_ERRORS`: a peer that
 * fails on purpose, again and again, must not grow the proxy or node.
 */
export function keepError(errors: BrokerError[], e: BrokerError): void {
  if (errors.push(e) > KEPT_ERRORS) errors.shift();
}
