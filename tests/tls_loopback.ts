/**
 * One TLS connection over 127.0.0.1 through our listener and dialler, both
 * ends using the same TLS material: what the transport's TLS tests need to
 * show that material peers (the handshake completes both ways).
 *
 * @example
 * ```ts
 * import { tlsLoopback } from "./tls_loopback.ts";
 * import { loadTlsMaterial } from "../engine/transport/tls.ts";
 * const dir = new URL("../fixtures/tls/", import.meta.url).pathname;
 * const tls = loadTlsMaterial({
 *   certificate: `${dir}node.pem`,
 *   key: `${dir}node.key`,
 *   cafile: `${dir}ca.pem`,
 * });
 * const { client, close } = await tlsLoopback(tls);
 * if (client.closed) throw new Error("the handshake completed");
 * await close();
 * ```
 *
 * @module
 */
import { listenTcp } from "../engine/transport/listener.ts";
import { connectTcp, type TcpConnection } from "../engine/transport/tcp.ts";
import type { TlsMaterial } from "../engine/transport/tls.ts";

/** A listener and a dialled connection to it, both with `tls`; `close` ends all three. */
export async function tlsLoopback(tls: TlsMaterial): Promise<{
  client: TcpConnection;
  server: TcpConnection;
  close(): Promise<void>;
}> {
  const accepted = Promise.withResolvers<TcpConnection>();
  const l = await listenTcp({ host: "127.0.0.1", port: 0, tls, tlsHandshakeTimeoutMs: 10_000 }, {
    admit: () => true,
    accepted: (c) => accepted.resolve(c),
    abandoned: (_, e) => accepted.reject(e),
  });
  try {
    const client = await connectTcp({ host: "127.0.0.1", port: l.port }, 10_000, tls);
    const server = await accepted.promise;
    return {
      client,
      server,
      async close() {
        client.close();
        server.close();
        await l.close();
      },
    };
  } catch (e) {
    await l.close();
    throw e;
  }
}
