/**
 * Accepting peers, beside dialing them (`dialer.ts`): the endpoint's
 * listeners, and the cap on connections from unknown clients that are
 * still in a handshake (TLS or Broker's), so they cannot hold every slot.
 *
 * @example
 * ```ts
 * import { Acceptor } from "./acceptor.ts";
 * const acceptor = new Acceptor({
 *   tlsHandshakeTimeoutMs: 1000,
 *   maxPendingHandshakes: 1,
 *   running: () => true,
 *   pendingHandshakes: () => 0,
 *   accepted: (tcp) => tcp.close(),
 *   refused: () => {},
 *   abandoned: () => {},
 * });
 * const port = await acceptor.listen("127.0.0.1", 0);
 * if (!(port > 0)) throw new Error("bound");
 * await acceptor.close();
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { type Listener, listenTcp } from "./listener.ts";
import type { NetAddress, TcpConnection } from "./tcp.ts";
import type { TlsMaterial } from "./tls.ts";

/** What an acceptor needs from its endpoint. */
export interface AcceptorHost {
  /** TLS material when peerings use TLS. */
  readonly tls?: TlsMaterial;
  /** How long a TLS handshake may take, in ms. */
  readonly tlsHandshakeTimeoutMs: number;
  /** Accepted connections allowed at once in their handshakes. */
  readonly maxPendingHandshakes: number;
  /** False once the endpoint shuts down: new sockets are closed. */
  running(): boolean;
  /** Accepted connections in Broker's handshake now (TLS ones are counted here). */
  pendingHandshakes(): number;
  /** A new connection, ready for Broker's handshake. */
  accepted(tcp: TcpConnection): void;
  /** A socket was refused for the cap (for a status event). */
  refused(remote: NetAddress, error: BrokerError): void;
  /** An admitted socket went away before its TLS handshake was done. */
  abandoned(remote: NetAddress, error: BrokerError): void;
}

/** The listeners of one endpoint. */
export class Acceptor {
  readonly #host: AcceptorHost;
  readonly #listeners: Listener[] = [];

  /** An acceptor for one endpoint. */
  constructor(host: AcceptorHost) {
    this.#host = host;
  }

  /** Accepts peers on `host:port` (port 0 picks a free one). Returns the bound port. */
  async listen(host: string, port: number): Promise<number> {
    const listener = await listenTcp(
      { host, port, tls: this.#host.tls, tlsHandshakeTimeoutMs: this.#host.tlsHandshakeTimeoutMs },
      {
        admit: (remote) => this.#admit(remote),
        accepted: (tcp) => {
          if (!this.#host.running()) return tcp.close();
          this.#host.accepted(tcp);
        },
        abandoned: (remote, error) => this.#host.abandoned(remote, error),
      },
    );
    this.#listeners.push(listener);
    return listener.port;
  }

  /** Stops every listener; resolves once their ports are free again. */
  async close(): Promise<void> {
    // Deno frees a listener's port only once its pending accept has ended.
    await Promise.all(this.#listeners.splice(0).map((l) => l.close()));
  }

  /** Whether a new socket may start a handshake (a cap on unknown clients' slots). */
  #admit(remote: NetAddress): boolean {
    if (!this.#host.running()) return false;
    let pending = this.#host.pendingHandshakes();
    for (const l of this.#listeners) pending += l.pendingTls;
    if (pending < this.#host.maxPendingHandshakes) return true;
    this.#host.refused(
      remote,
      new BrokerError(
        ErrorCode.peer_unavailable,
        `refused a connection from ${remote.host}:${remote.port}: ` +
          `${pending} handshakes pending (maxPendingHandshakes)`,
      ),
    );
    return false;
  }
}
