/**
 * The XPUB/XSUB proxy of a Zeek 8 ZeroMQ cluster over TCP: the I/O around
 * {@link ZmqProxy}. It listens where Zeek's manager would
 * (`Cluster::Backend::ZeroMQ::listen_xpub_endpoint` and
 * `listen_xsub_endpoint`), so a cluster whose manager runs with
 * `run_proxy_thread = F` uses our process as its hub.
 *
 * @module
 */
import type { BrokerError } from "../errors.ts";
import { type ProxyOutput, type ProxySide, ZmqProxy } from "./proxy.ts";
import type { ZmtpEvent } from "./session.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { ByteSlab, encodeMessage } from "./frame.ts";

/** Options of {@link ZmqProxyServer.listen}. */
export interface ZmqProxyServerOptions {
  /** Address to listen on. Default 127.0.0.1. */
  hostname?: string;
  /** Port of the XPUB side (nodes' XSUBs connect here). Default 0: any free port. */
  xpubPort?: number;
  /** Port of the XSUB side (nodes' XPUBs connect here). Default 0: any free port. */
  xsubPort?: number;
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
  /** Protocol errors of peers (each closed its connection). */
  readonly errors: BrokerError[] = [];
  readonly #listeners: Deno.TcpListener[];
  // Outgoing messages are cut from slabs (see ByteSlab).
  readonly #slab = new ByteSlab();
  readonly #alloc = (size: number): Uint8Array => this.#slab.alloc(size);
  readonly #conns = new Map<number, ZmtpConnection>();
  readonly #loops: Promise<void>[] = [];
  #next = 1;

  private constructor(xpub: Deno.TcpListener, xsub: Deno.TcpListener) {
    this.#listeners = [xpub, xsub];
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
    return new ZmqProxyServer(xpub, xsub);
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
        );
        this.#conns.set(id, conn);
        conn.done.then(() => {
          this.#conns.delete(id);
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
    else if (e.type === "message" && side === "xsub") {
      this.#route(this.#proxy.message(id, e.parts, e.raw));
    } else if (e.type === "error") this.errors.push(e.error);
  }

  #route(outputs: ProxyOutput[]): void {
    // A message goes to every subscriber as the same bytes: encoded once.
    let parts: Uint8Array[] | undefined;
    let bytes: Uint8Array | undefined;
    for (const o of outputs) {
      const conn = this.#conns.get(o.peer);
      if (!conn || !conn.session.ready) continue;
      if ("parts" in o) {
        if (o.parts !== parts) {
          parts = o.parts;
          // As received when it can be (no copy), else encoded again.
          bytes = o.raw ?? encodeMessage(o.parts, this.#alloc);
        }
        conn.write(bytes!);
      } else conn.write(conn.session.subscribe(o.subscription.topic, o.subscription.subscribe));
    }
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
