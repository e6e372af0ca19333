/**
 * The XPUB/XSUB proxy of a Zeek 8 ZeroMQ cluster over TCP: the I/O around
 * {@link ZmqProxy}. It listens where Zeek's manager would
 * (`Cluster::Backend::ZeroMQ::listen_xpub_endpoint` and
 * `listen_xsub_endpoint`), so a cluster whose manager runs with
 * `run_proxy_thread = F` uses our process as its hub.
 *
 * Messages are forwarded in bulk: what a publisher's read brought is
 * scanned for message boundaries and topics in place (`scan.ts`), the
 * subscribers are found by the topic's bytes, and runs of consecutive
 * messages for a subscriber are copied to its write buffer at once, one
 * write per many messages. Like Zeek's proxy (`listen_xpub_nodrop = T`), it
 * drops nothing: while a subscriber has more than a high-water mark of
 * bytes waiting, the proxy reads no more from publishers.
 *
 * @module
 */
import type { BrokerError } from "../errors.ts";
import { type ProxyOutput, type ProxySide, ZmqProxy } from "./proxy.ts";
import { RECORD_SIZE } from "./scan.ts";
import type { ZmtpEvent } from "./session.ts";
import { keepError, ZMQ_HANDSHAKE_IVL_MS, ZmtpConnection } from "./tcp_connection.ts";
import { encodeMessage } from "./frame.ts";

/**
 * Bytes waiting for one subscriber beyond which the proxy stops reading
 * from publishers until they fall to half of it (libzmq blocks its proxy
 * at the send high-water mark with XPUB_NODROP, as Zeek sets it).
 */
export const SUBSCRIBER_HWM_BYTES = 2 * 1024 * 1024;

// A subscriber's run of consecutive messages in the buffer being forwarded: copied at once.
interface Run {
  conn: ZmtpConnection;
  batch: number;
  start: number;
  end: number;
}

/** Options of {@link ZmqProxyServer.listen}. */
export interface ZmqProxyServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Port of the XPUB side (nodes' XSUBs connect here). Default 0: any free port. */
  xpubPort?: number;
  /** Port of the XSUB side (nodes' XPUBs connect here). Default 0: any free port. */
  xsubPort?: number;
  /**
   * A peer whose ZMTP handshake has not finished within this time (ms) is
   * disconnected, as by libzmq's `ZMQ_HANDSHAKE_IVL`.
   * @default 30_000 (`ZMQ_HANDSHAKE_IVL_MS`)
   */
  handshakeIvlMs?: number;
}

/**
 * A running XPUB/XSUB proxy (see the module doc): Zeek nodes connect their
 * `connect_xsub_endpoint` to `xpubPort` and `connect_xpub_endpoint` to `xsubPort`.
 *
 * @example
 * ```ts
 * import { ok } from "node:assert/strict";
 * import { ZmqProxyServer } from "./tcp_proxy.ts";
 * const proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
 * ok(proxy.xpubPort > 0 && proxy.xsubPort > 0);
 * await proxy.close();
 * ```
 */
export class ZmqProxyServer {
  // The routing state (sans-I/O).
  readonly #proxy: ZmqProxy = new ZmqProxy();
  /**
   * Protocol errors of peers (each closed its connection): the latest
   * `KEPT_ERRORS`, all of them counted in `errorCount` (a peer that fails on
   * purpose, again and again, must not grow the proxy).
   */
  readonly errors: BrokerError[] = [];
  /** Every error so far, kept or not. */
  errorCount = 0;
  readonly #listeners: Deno.TcpListener[];
  readonly #conns = new Map<number, ZmtpConnection>();
  // The runs of the subscribers of a route (the proxy's array for a topic): found once.
  readonly #runs = new WeakMap<readonly number[], Run[]>();
  readonly #runOf = new Map<number, Run>();
  readonly #touched: Run[] = [];
  #batch = 0;
  readonly #loops: Promise<void>[] = [];
  #next = 1;

  readonly #handshakeIvlMs: number;

  private constructor(xpub: Deno.TcpListener, xsub: Deno.TcpListener, handshakeIvlMs: number) {
    this.#listeners = [xpub, xsub];
    this.#handshakeIvlMs = handshakeIvlMs;
    this.#loops.push(this.#accept(xpub, "xpub"), this.#accept(xsub, "xsub"));
  }

  /** Listens on both sides. */
  static listen(options: ZmqProxyServerOptions = {}): ZmqProxyServer {
    const hostname = options.hostname ?? "127.0.0.1";
    const xpub = Deno.listen({ hostname, port: options.xpubPort ?? 0 });
    let xsub: Deno.TcpListener;
    try {
      xsub = Deno.listen({ hostname, port: options.xsubPort ?? 0 });
    } catch (e) {
      xpub.close();
      throw e;
    }
    return new ZmqProxyServer(xpub, xsub, options.handshakeIvlMs ?? ZMQ_HANDSHAKE_IVL_MS);
  }

  /** Port of the XPUB side (Zeek's `connect_xsub_endpoint` points here). */
  get xpubPort(): number {
    return (this.#listeners[0].addr as Deno.NetAddr).port;
  }

  /** Port of the XSUB side (Zeek's `connect_xpub_endpoint` points here). */
  get xsubPort(): number {
    return (this.#listeners[1].addr as Deno.NetAddr).port;
  }

  async #accept(listener: Deno.TcpListener, side: ProxySide): Promise<void> {
    try {
      for await (const tcp of listener) {
        tcp.setNoDelay(true);
        const id = this.#next++;
        const conn = new ZmtpConnection(
          tcp,
          side === "xpub" ? "XPUB" : "XSUB",
          (e) => this.#onEvent(id, side, e),
          side === "xsub"
            ? { messages: (buf, records, count) => this.#forward(id, buf, records, count) }
            : undefined,
          this.#handshakeIvlMs,
        );
        this.#conns.set(id, conn);
        conn.done.then(() => {
          this.#conns.delete(id);
          this.#runOf.delete(id);
          this.#route(this.#proxy.disconnect(id));
        });
      }
    } catch {
      // the listener was closed
    }
  }

  #onEvent(id: number, side: ProxySide, e: ZmtpEvent): void {
    if (e.type === "ready") this.#route(this.#proxy.connect(id, side));
    else if (e.type === "subscription") this.#route(this.#proxy.subscription(id, e.subscription));
    else if (e.type === "error") {
      this.errorCount++;
      keepError(this.errors, e.error);
    }
    // Messages from publishers come to #forward; an XSUB peer's non-subscription messages are
    // dropped, as libzmq's XPUB does.
  }

  // Subscriptions (and, from the sans-I/O proxy's API, messages) to their peers.
  #route(outputs: ProxyOutput[]): void {
    for (const o of outputs) {
      const conn = this.#conns.get(o.peer);
      if (!conn || !conn.session.ready) continue;
      if ("parts" in o) conn.write(o.raw ?? encodeMessage(o.parts));
      else conn.write(conn.session.subscribe(o.subscription.topic, o.subscription.subscribe));
    }
  }

  // Whole messages a publisher sent, as byte ranges of its read buffer (see the module doc).
  #forward(
    id: number,
    buf: Uint8Array,
    records: Int32Array,
    count: number,
  ): Promise<void> | undefined {
    const batch = ++this.#batch;
    const touched = this.#touched;
    let peers: readonly number[] | undefined;
    let runs: Run[] = [];
    for (let r = 0; r < count * RECORD_SIZE; r += RECORD_SIZE) {
      const to = this.#proxy.subscribersOf(id, buf, records[r], records[r + 1]);
      if (to.length === 0) continue;
      if (to !== peers) {
        peers = to;
        runs = this.#runsOf(to);
      }
      const start = records[r + 2], end = records[r + 3];
      for (let i = 0; i < runs.length; i++) {
        const run = runs[i];
        if (run.batch !== batch) {
          run.batch = batch;
          touched.push(run);
        } else if (run.end === start) {
          run.end = end;
          continue;
        } else run.conn.writeRange(buf, run.start, run.end);
        run.start = start;
        run.end = end;
      }
    }
    let full: ZmtpConnection[] | undefined;
    for (const run of touched) {
      run.conn.writeRange(buf, run.start, run.end);
      if (run.conn.buffered > SUBSCRIBER_HWM_BYTES) (full ??= []).push(run.conn);
    }
    touched.length = 0;
    if (!full) return undefined;
    return Promise.all(full.map((c) => c.below(SUBSCRIBER_HWM_BYTES / 2))).then(() => {});
  }

  #runsOf(peers: readonly number[]): Run[] {
    let runs = this.#runs.get(peers);
    if (!runs) {
      runs = [];
      for (const p of peers) {
        const conn = this.#conns.get(p);
        if (!conn) continue;
        let run = this.#runOf.get(p);
        if (!run) this.#runOf.set(p, run = { conn, batch: 0, start: 0, end: 0 });
        runs.push(run);
      }
      this.#runs.set(peers, runs);
    }
    return runs;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const l of this.#listeners) {
      try {
        l.close();
      } catch {
        // already closed
      }
    }
    const conns = [...this.#conns.values()];
    for (const c of conns) c.close();
    await Promise.all([...this.#loops, ...conns.map((c) => c.done)]);
  }
}
