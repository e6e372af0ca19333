/**
 * Endpoints for bench/zeromq.ts that cost next to nothing, so that what is
 * measured is the proxy (or the Zeek node) between them: a publisher that
 * encodes its N Zeek event messages before the clock starts and hands them
 * to its XPUB socket in one write, and a receiver whose XSUB counts whole
 * messages as its bulk scan finds them, without reading them.
 *
 * @example
 * ```ts ignore
 * const pub = await RawPublisher.connect(at, "/bench/ev", 1000);
 * const sub = await RawReceiver.connect(at, "/bench/", 1000);
 * await pub.subscribed;
 * pub.send();
 * console.log(await sub.result);
 * ```
 *
 * @module
 */
import { count, Event, str } from "../../mod.ts";
import {
  encodeMessage,
  eventMessage,
  type HostPort,
  zeekZmqMessageParts,
  ZmtpConnection,
} from "../../engine/zeromq/mod.ts";

/** Where the proxy's two sides are, as our node takes them. */
export interface ProxyAt {
  /** The proxy's XSUB (publishers connect here). */
  xpub: HostPort;
  /** The proxy's XPUB (receivers connect here). */
  xsub: HostPort;
}

/**
 * The `ProxyAt` of a proxy listening on these loopback ports: a node's XPUB
 * socket connects to the proxy's XSUB port and its XSUB socket to the XPUB
 * port, so the names cross.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { proxyAt } from "./raw.ts";
 * equal(proxyAt({ xpub: 5556, xsub: 5555 }).xpub.port, 5555);
 * ```
 */
export function proxyAt(p: { xpub: number; xsub: number }): ProxyAt {
  return {
    xpub: { host: "127.0.0.1", port: p.xsub },
    xsub: { host: "127.0.0.1", port: p.xpub },
  };
}

/** Arrivals as the receiver counted them. */
export interface RawResult {
  /** Messages that arrived. */
  received: number;
  /** Seconds from the first arrival to the last. */
  seconds: number;
}

/** A publisher of N pre-encoded `Bench::ev(count, string)` messages (see the module doc). */
export class RawPublisher {
  readonly #conn: ZmtpConnection;
  readonly #bytes: Uint8Array;
  /** Resolves once a subscription prefixing the topic came (before it, an XPUB sends nothing). */
  readonly subscribed: Promise<void>;

  private constructor(conn: ZmtpConnection, bytes: Uint8Array, subscribed: Promise<void>) {
    this.#conn = conn;
    this.#bytes = bytes;
    this.subscribed = subscribed;
  }

  /** Encodes the messages (the same bytes our node sends), then connects. */
  static async connect(at: ProxyAt, topic: string, n: number): Promise<RawPublisher> {
    const messages: Uint8Array[] = [];
    let size = 0;
    for (let i = 0; i < n; i++) {
      const ev = new Event("Bench::ev", [count(BigInt(i)), str("C1f7x9")]);
      const m = encodeMessage(zeekZmqMessageParts(eventMessage(topic, "raw-publisher", ev)));
      messages.push(m);
      size += m.length;
    }
    const bytes = new Uint8Array(size);
    let off = 0;
    for (const m of messages) {
      bytes.set(m, off);
      off += m.length;
    }
    const { promise, resolve } = Promise.withResolvers<void>();
    const conn = await ZmtpConnection.dial(at.xpub, "XPUB", Date.now() + 10_000, (e) => {
      if (e.type !== "subscription" || !e.subscription.subscribe) return;
      const prefix = new TextDecoder().decode(e.subscription.topic);
      if (topic.startsWith(prefix)) resolve();
    });
    return new RawPublisher(conn, bytes, promise);
  }

  /** Hands every message to the socket; returns the seconds that took. */
  send(): number {
    const start = performance.now();
    this.#conn.write(this.#bytes);
    return (performance.now() - start) / 1000;
  }

  /** Closes once what was written is sent. */
  close(): Promise<void> {
    return this.#conn.closeAfterWrites();
  }
}

/** A receiver that counts messages under a prefix (see the module doc). */
export class RawReceiver {
  readonly #conn: ZmtpConnection;
  /** Resolves with N arrivals, or what came before 5 s without any. */
  readonly result: Promise<RawResult>;

  private constructor(conn: ZmtpConnection, result: Promise<RawResult>) {
    this.#conn = conn;
    this.result = result;
  }

  /** Connects and subscribes `prefix`; `result` settles after `n` messages. */
  static async connect(at: ProxyAt, prefix: string, n: number): Promise<RawReceiver> {
    let received = 0, first = 0, last = 0;
    const done = Promise.withResolvers<RawResult>();
    const ready = Promise.withResolvers<void>();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const finish = () => done.resolve({ received, seconds: (last - first) / 1000 });
    const conn = await ZmtpConnection.dial(
      at.xsub,
      "XSUB",
      Date.now() + 10_000,
      (e) => e.type === "ready" && ready.resolve(),
      {
        messages: (_buf, _records, k) => {
          const now = performance.now();
          if (received === 0) first = now;
          received += k;
          last = now;
          clearTimeout(idle);
          if (received >= n) finish();
          else idle = setTimeout(finish, 5000);
        },
      },
    );
    await ready.promise;
    conn.write(conn.session.subscribe(prefix));
    done.promise.finally(() => clearTimeout(idle));
    return new RawReceiver(conn, done.promise);
  }

  /** Closes the connection. */
  close(): Promise<void> {
    return this.#conn.closeAfterWrites();
  }
}
