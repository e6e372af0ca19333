/**
 * Accepting connections, plain or TLS, beside `connectTcp` for dialling.
 * Every accepted socket is admitted or refused at once (a cap on connections
 * still in their handshakes), and a TLS socket whose TLS handshake has not
 * finished within the timeout is closed: `Deno.listenTls` cannot close one
 * while its handshake waits for the client (still so in Deno 2.9.6: the
 * client stayed connected 3 s after `close()`), nor ask clients for a
 * certificate (its rustls config has no client auth), so TLS is accepted
 * with `node:tls`, whose raw socket can be destroyed at any time. Once the
 * handshake is done, the socket is read through Deno's native TLS wrap with
 * reused buffers (`tls_wrap_stream.ts`) where this Deno has it, else through
 * its `'data'` events (`node_stream.ts`).
 *
 * @module
 */
import { createServer as createTlsServer, type TLSSocket } from "node:tls";
import type { Socket } from "node:net";
import { BrokerError, ErrorCode } from "../errors.ts";
import { type NetAddress, TcpConnection } from "./tcp.ts";
import { NodeSocketStream } from "./node_stream.ts";
import { wrapTlsSocket } from "./tls_wrap_stream.ts";
import type { CertificateTls, TlsMaterial } from "./tls.ts";
import { anonTlsHandshake } from "./anon_tls_stream.ts";
import { timerDelay } from "../timer_delay.ts";

/** What a listener asks of its owner. */
export interface ListenerHooks {
  /** A socket arrived: true to take it, false to close it at once (over a cap). */
  admit(remote: NetAddress): boolean;
  /** An admitted connection, ready for Broker's handshake. */
  accepted(conn: TcpConnection): void;
  /** An admitted socket went away before it became a connection (TLS failed or timed out). */
  abandoned(remote: NetAddress, error: BrokerError): void;
}

/** Options of `listenTcp`. */
export interface ListenOptions {
  /** Address to bind. */
  host: string;
  /** Port to bind (0 picks a free one). */
  port: number;
  /** TLS certificate and key, or Broker's anonymous mode; plain TCP without. */
  tls?: TlsMaterial;
  /** How long a TLS handshake may take before the socket is closed, in ms. */
  tlsHandshakeTimeoutMs: number;
  /**
   * Reads accepted TLS sockets through Deno's native TLS wrap with reused
   * buffers where this Deno has it (`tls_wrap_stream.ts`); false keeps the
   * socket's `'data'` events. Default true.
   */
  fastTlsReads?: boolean;
}

/** A bound listener. */
export interface Listener {
  /** The bound port. */
  readonly port: number;
  /** Sockets admitted and still in their TLS handshake. */
  readonly pendingTls: number;
  /** Stops accepting; resolves when the accept loop has ended. */
  close(): Promise<void>;
}

/**
 * Binds and starts accepting. Throws `BrokerError(cannot_open_resource)`
 * when the address cannot be bound.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listenTcp } from "./listener.ts";
 * import { connectTcp, type TcpConnection } from "./tcp.ts";
 * const accepted = Promise.withResolvers<TcpConnection>();
 * const l = await listenTcp({ host: "127.0.0.1", port: 0, tlsHandshakeTimeoutMs: 10_000 }, {
 *   admit: () => true,
 *   accepted: (c) => accepted.resolve(c),
 *   abandoned: () => {},
 * });
 * const client = await connectTcp({ host: "127.0.0.1", port: l.port });
 * const server = await accepted.promise;
 * equal(client.remote.port, l.port);
 * server.close();
 * client.close();
 * await l.close();
 * ```
 */
export function listenTcp(options: ListenOptions, hooks: ListenerHooks): Promise<Listener> {
  const tls = options.tls;
  return tls && !tls.anonymous ? listenTls(options, tls, hooks) : listenPlain(options, hooks);
}

/** Plain TCP, or Broker's anonymous TLS run over it here (`anon_tls_stream.ts`). */
function listenPlain(options: ListenOptions, hooks: ListenerHooks): Promise<Listener> {
  const anonymous = options.tls?.anonymous === true;
  // Accepted sockets in their TLS handshake, closed when the listener closes.
  const pending = new Set<Deno.Conn>();
  let listener: Deno.Listener;
  try {
    listener = Deno.listen({ hostname: options.host, port: options.port, transport: "tcp" });
  } catch (e) {
    return Promise.reject(cannotListen(options, e));
  }
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        const addr = conn.remoteAddr as Deno.NetAddr;
        const remote = { host: addr.hostname, port: addr.port };
        if (!hooks.admit(remote)) {
          conn.close();
          continue;
        }
        if (!anonymous) {
          hooks.accepted(new TcpConnection(conn));
          continue;
        }
        pending.add(conn);
        anonTlsHandshake(conn, "server", options.tlsHandshakeTimeoutMs).then(
          (stream) => {
            if (pending.delete(conn)) hooks.accepted(new TcpConnection(stream));
            else stream.close();
          },
          (e: BrokerError) => {
            if (pending.delete(conn)) hooks.abandoned(remote, e);
          },
        );
      }
    } catch {
      // listener closed
    }
  })();
  return Promise.resolve({
    port: (listener.addr as Deno.NetAddr).port,
    get pendingTls() {
      return pending.size;
    },
    close: async () => {
      try {
        listener.close();
      } catch {
        // already closed
      }
      for (const conn of pending) {
        try {
          conn.close();
        } catch {
          // closed by its handshake
        }
      }
      pending.clear();
      await loop;
    },
  });
}

function listenTls(
  options: ListenOptions,
  tls: CertificateTls,
  hooks: ListenerHooks,
): Promise<Listener> {
  const pending = new Map<Socket, ReturnType<typeof setTimeout>>();
  const remoteOf = (s: Socket): NetAddress => ({
    host: s.remoteAddress ?? "",
    port: s.remotePort ?? 0,
  });
  const settle = (raw: Socket): boolean => {
    const timer = pending.get(raw);
    if (timer === undefined) return false;
    clearTimeout(timer);
    pending.delete(raw);
    return true;
  };
  // As Broker with certificates: the client must present one that our CAs signed.
  const server = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    ca: tls.caCerts,
    requestCert: true,
    rejectUnauthorized: true,
  });
  server.on("connection", (raw: Socket) => {
    const remote = remoteOf(raw);
    if (!hooks.admit(remote)) {
      raw.destroy();
      return;
    }
    pending.set(
      raw,
      setTimeout(() => {
        if (!settle(raw)) return;
        raw.destroy();
        hooks.abandoned(
          remote,
          new BrokerError(
            ErrorCode.peer_timeout,
            `no TLS handshake within ${options.tlsHandshakeTimeoutMs} ms`,
          ),
        );
      }, timerDelay(options.tlsHandshakeTimeoutMs)),
    );
    raw.once("close", () => {
      if (settle(raw)) {
        hooks.abandoned(
          remote,
          new BrokerError(
            ErrorCode.peer_disconnect_during_handshake,
            "closed during TLS handshake",
          ),
        );
      }
    });
  });
  server.on("secureConnection", (s: TLSSocket) => {
    // The TLS socket wraps the raw one we admitted.
    const raw = (s as unknown as { _parent?: Socket })._parent ?? findRaw(pending, s);
    if (raw && !settle(raw)) {
      s.destroy();
      return;
    }
    const fast = options.fastTlsReads !== false ? wrapTlsSocket(s) : undefined;
    hooks.accepted(new TcpConnection(fast ?? new NodeSocketStream(s)));
  });
  server.on("tlsClientError", (e: Error, s: TLSSocket) => {
    const raw = (s as unknown as { _parent?: Socket })._parent ?? findRaw(pending, s);
    const remote = raw ? remoteOf(raw) : remoteOf(s);
    if (raw && !settle(raw)) return;
    s.destroy();
    hooks.abandoned(
      remote,
      new BrokerError(ErrorCode.peer_invalid, `TLS handshake failed: ${e.message}`),
    );
  });
  return new Promise((resolve, reject) => {
    server.once("error", (e: Error) => reject(cannotListen(options, e)));
    server.listen(options.port, options.host, () => {
      const addr = server.address();
      resolve({
        port: typeof addr === "object" && addr ? addr.port : options.port,
        get pendingTls() {
          return pending.size;
        },
        close: () => {
          for (const [raw, timer] of pending) {
            clearTimeout(timer);
            raw.destroy();
          }
          pending.clear();
          // Node's close callback waits for every connection; the endpoint closes those itself.
          server.close();
          return Promise.resolve();
        },
      });
    });
  });
}

/** The raw socket behind a TLS socket, by address (when the wrapper does not say). */
function findRaw(pending: Map<Socket, unknown>, s: TLSSocket): Socket | undefined {
  for (const raw of pending.keys()) {
    if (raw.remotePort === s.remotePort && raw.remoteAddress === s.remoteAddress) return raw;
  }
  return undefined;
}

function cannotListen(options: ListenOptions, e: unknown): BrokerError {
  return new BrokerError(
    ErrorCode.cannot_open_resource,
    `cannot listen on ${options.host}:${options.port}: ${e}`,
    { cause: e },
  );
}
