/**
 * ZMTP over TCP: a connection that runs a {@link ZmtpSession} on a Deno TCP
 * socket, for the ZeroMQ node (`tcp_node.ts`) and proxy (`tcp_proxy.ts`).
 * All protocol decisions stay in the session; this moves bytes.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { concat } from "./frame.ts";
import { type SocketType, type ZmtpEvent, ZmtpSession } from "./session.ts";

/** A TCP endpoint. */
export interface HostPort {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
}

const RECONNECT_MS = 100;

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
  // Bytes waiting for the socket, and the loop writing them (undefined when idle): what
  // comes in while a write is under way goes out with the next one, in one syscall.
  #pending: Uint8Array[] = [];
  #writing?: Promise<void>;
  #closed = false;
  /** Resolves when the read loop has ended (peer closed, error, or `close`). */
  readonly done: Promise<void>;

  /** Runs a session of `socketType` on an open connection (dialled or accepted). */
  constructor(conn: Deno.TcpConn, socketType: SocketType, onEvent: (e: ZmtpEvent) => void) {
    this.#conn = conn;
    this.session = new ZmtpSession({ socketType });
    this.#flush();
    this.done = this.#read(onEvent);
  }

  /** Dials `to`, re-dialling while it refuses, until `deadline` (ms since the epoch). */
  static async dial(
    to: HostPort,
    socketType: SocketType,
    deadline: number,
    onEvent: (e: ZmtpEvent) => void,
  ): Promise<ZmtpConnection> {
    while (true) {
      try {
        const conn = await Deno.connect({ hostname: to.host, port: to.port });
        conn.setNoDelay(true);
        return new ZmtpConnection(conn, socketType, onEvent);
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
        await new Promise((r) => setTimeout(r, RECONNECT_MS));
      }
    }
  }

  /** Queues bytes to write after those queued before; a failed write closes the connection. */
  write(bytes: Uint8Array): void {
    if (this.#closed) return;
    // Messages cut one after the other from one slab join into one view: no copy later.
    const last = this.#pending[this.#pending.length - 1];
    if (
      last && last.buffer === bytes.buffer && last.byteOffset + last.length === bytes.byteOffset
    ) {
      this.#pending[this.#pending.length - 1] = new Uint8Array(
        last.buffer,
        last.byteOffset,
        last.length + bytes.length,
      );
    } else this.#pending.push(bytes);
    this.#writing ??= this.#drain();
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending.length > 0 && !this.#closed) {
        const bytes = concat(this.#pending);
        this.#pending = [];
        for (let at = 0; at < bytes.length;) at += await this.#conn.write(bytes.subarray(at));
      }
    } catch {
      this.close();
    } finally {
      this.#writing = undefined;
    }
  }

  #flush(): void {
    const out = this.session.takeOutput();
    if (out) this.write(out);
  }

  async #read(onEvent: (e: ZmtpEvent) => void): Promise<void> {
    const buf = new Uint8Array(256 * 1024);
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

  /** Closes the socket now. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Closes the socket once the queued writes are done, and waits for the read loop. */
  async closeAfterWrites(): Promise<void> {
    await this.#writing;
    this.close();
    await this.done;
  }
}
