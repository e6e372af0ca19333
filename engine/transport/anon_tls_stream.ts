/**
 * Broker's anonymous TLS (SSL on, no certificates: Broker's default, and
 * Zeek's) over a TCP connection, as a `ByteStream`: the sans-I/O session
 * of `../anon_tls/session.ts` with a socket under it. Deno's TLS (rustls)
 * has no anonymous suites, so this one runs here.
 *
 * @module
 */
import { type AnonTlsRole, AnonTlsSession } from "../anon_tls/session.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { timerDelay } from "../timer_delay.ts";
import type { ByteStream } from "./node_stream.ts";

const READ_SIZE = 64 * 1024;

/**
 * A connected anonymous TLS session: application data in and out.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { anonTlsHandshake } from "./anon_tls_stream.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const [client, server] = await Promise.all([
 *   Deno.connect({ port: listener.addr.port }).then((c) => anonTlsHandshake(c, "client", 1000)),
 *   listener.accept().then((c) => anonTlsHandshake(c, "server", 1000)),
 * ]);
 * await client.write(new Uint8Array([1, 2, 3]));
 * deepEqual(await server.readChunk(), new Uint8Array([1, 2, 3]));
 * client.close();
 * deepEqual(await server.readChunk(), null);
 * server.close();
 * listener.close();
 * ```
 */
export class AnonTlsStream implements ByteStream {
  readonly #conn: Deno.Conn;
  readonly #session: AnonTlsSession;
  readonly #buf = new Uint8Array(READ_SIZE);
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error?: BrokerError;
  // Every write, ours and the session's own (alerts), in the order sealed.
  #out: Promise<unknown> = Promise.resolve();
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** Which read path this is. */
  readonly via = "anon-tls";

  /** Takes over a connection whose session is connected (see `anonTlsHandshake`). */
  constructor(conn: Deno.Conn, session: AnonTlsSession, early: Uint8Array[] = []) {
    this.#conn = conn;
    this.#session = session;
    this.#chunks = early;
    this.remoteAddr = conn.remoteAddr;
  }

  #send(bytes: Uint8Array): Promise<unknown> {
    const conn = this.#conn;
    this.#out = this.#out.then(() => writeAll(conn, bytes));
    return this.#out;
  }

  /** The next chunk of application data, or null at the end. */
  async readChunk(): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      const n = await this.#conn.read(this.#buf);
      if (n === null) {
        // The peer went without close_notify: as OpenSSL's unexpected EOF,
        // the end of this stream either way.
        this.#ended = true;
        return null;
      }
      const ev = this.#session.receive(this.#buf.subarray(0, n));
      for (const b of ev.send) this.#send(b).catch(() => {});
      this.#chunks = ev.data;
      if (ev.ended) this.#ended = true;
      if (ev.error) {
        this.#error = new BrokerError(ErrorCode.peer_invalid, `TLS failed: ${ev.error}`);
      }
    }
    return this.#chunks.shift()!;
  }

  /** Reads into `buf` (copying out of the session's chunks). */
  async read(buf: Uint8Array): Promise<number | null> {
    const chunk = await this.readChunk();
    if (chunk === null) return null;
    const n = Math.min(chunk.length, buf.length);
    buf.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#chunks.unshift(chunk.subarray(n));
    return n;
  }

  /** Seals and writes all of `buf`; resolves once written. */
  async write(buf: Uint8Array): Promise<number> {
    if (this.#error) throw this.#error;
    await this.#send(this.#session.seal(buf));
    return buf.length;
  }

  /** Sends close_notify where the session is open, then closes the socket. */
  close(): void {
    const bye = this.#session.close();
    const shut = () => closeQuietly(this.#conn);
    if (bye.length === 0) return shut();
    // A socket that does not take the alert at once is not waited for.
    const timer = setTimeout(shut, timerDelay(1000));
    this.#send(bye).finally(() => {
      clearTimeout(timer);
      shut();
    }).catch(() => {});
  }

  /** Disables Nagle's algorithm on the socket under it. */
  setNoDelay(noDelay = true): void {
    (this.#conn as Deno.TcpConn).setNoDelay?.(noDelay);
  }
}

/**
 * Runs the anonymous TLS handshake on a connected socket within
 * `timeoutMs`. Rejects with a `BrokerError` (`peer_timeout`,
 * `peer_disconnect_during_handshake`, or `peer_invalid` for a failed
 * handshake) after closing the socket.
 *
 * @example
 * ```ts ignore
 * import { anonTlsHandshake } from "./anon_tls_stream.ts";
 * const stream = await anonTlsHandshake(await Deno.connect({ port: 9999 }), "client", 1000);
 * ```
 */
export async function anonTlsHandshake(
  conn: Deno.Conn,
  role: AnonTlsRole,
  timeoutMs: number,
): Promise<AnonTlsStream> {
  const session = new AnonTlsSession(role);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    closeQuietly(conn);
  }, timerDelay(timeoutMs));
  const fail = (e: BrokerError): never => {
    closeQuietly(conn);
    throw e;
  };
  try {
    const first = session.start();
    if (first.length) await writeAll(conn, first);
    const buf = new Uint8Array(READ_SIZE);
    let heard = false;
    for (;;) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) {
        // A Broker listener without SSL reads a ClientHello as an absurd
        // frame length and closes at once, before a byte back.
        const silent = role === "client" && !heard ? SILENT_PEER : "";
        return fail(
          timedOut
            ? new BrokerError(ErrorCode.peer_timeout, `no TLS handshake within ${timeoutMs} ms`)
            : new BrokerError(
              ErrorCode.peer_disconnect_during_handshake,
              `closed during TLS handshake${silent}`,
            ),
        );
      }
      // The peer's first bytes are not a TLS record at all (a Broker without
      // SSL answers a ClientHello with its own hello): say so.
      const plainPeer = !heard && (buf[0] < 20 || buf[0] > 23) ? PLAIN_PEER : "";
      heard = true;
      const ev = session.receive(buf.subarray(0, n));
      for (const b of ev.send) await writeAll(conn, b).catch(() => {});
      if (ev.error) {
        return fail(
          new BrokerError(ErrorCode.peer_invalid, `TLS handshake failed: ${ev.error}${plainPeer}`),
        );
      }
      if (ev.ended) {
        return fail(
          new BrokerError(
            ErrorCode.peer_disconnect_during_handshake,
            "closed during TLS handshake",
          ),
        );
      }
      if (ev.connected) return new AnonTlsStream(conn, session, ev.data);
    }
  } catch (e) {
    if (e instanceof BrokerError) throw e;
    return fail(
      new BrokerError(ErrorCode.peer_invalid, `TLS handshake failed: ${e}`, { cause: e }),
    );
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What a TLS dial's error adds when the peer's first bytes are no TLS
 * record: a Broker listener without SSL answers a ClientHello with its own
 * first message (`00 00 00 05 07 ZEEK`, ours and broker-node's alike).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { PLAIN_PEER } from "./anon_tls_stream.ts";
 * equal(`TLS handshake failed: not a TLS record${PLAIN_PEER}`.endsWith("SSL is off there)"), true);
 * ```
 */
export const PLAIN_PEER = " (the peer does not speak TLS: SSL is off there)";

/**
 * What a TLS dial's error adds when the server closed before a byte: a
 * listener without SSL may, reading a ClientHello as an absurd frame length.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { SILENT_PEER } from "./anon_tls_stream.ts";
 * equal(`closed during TLS handshake${SILENT_PEER}`.includes("without SSL"), true);
 * ```
 */
export const SILENT_PEER = ", the server having sent nothing (as a listener without SSL may)";

/** Writes all of `bytes` (a socket's write may take part of them). */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/** Closes a socket that may be closed already (by a timer, by the peer's end). */
function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
