/**
 * The peer table: every connection an endpoint holds, the one connection
 * that carries each peering, the peers' filters as a routing trie, and
 * Broker's rules for two connections to the same peer. Sans-I/O: it decides
 * and indexes; the connection driver acts.
 *
 * @example
 * ```ts
 * import { PeerTable } from "./peer_table.ts";
 * import type { Connection } from "./connection.ts";
 * const table = new PeerTable();
 * const fields = { state: "handshake", filter: [], address: { host: "h", port: 1 } };
 * const c = fields as unknown as Connection;
 * table.add(c);
 * const id = new Uint8Array(16).fill(7);
 * if (table.check(c, id, true) !== "proceed") throw new Error("a new peer proceeds");
 * table.register(c, id, ["/b", "/a"]);
 * if (!table.routes.matches("/a/x") || table.get(id) !== c) throw new Error("routed by filter");
 * ```
 *
 * @module
 */
import { ErrorCode } from "../errors.ts";
import { BrokerError } from "../errors.ts";
import { makeFilter } from "../routing/filter.ts";
import { PrefixTrie } from "../routing/trie.ts";
import type { EndpointId } from "../wire/mod.ts";
import { type Connection, peerKey } from "./connection.ts";
import type { PeerCheck } from "./handshake.ts";

/** The connections of one endpoint, indexed by peer and by filter. */
export class PeerTable {
  /** Every open connection, in the handshake or peered. */
  readonly connections = new Set<Connection>();
  /** The peered connections by the topic prefixes their peers subscribed to. */
  readonly routes = new PrefixTrie<Connection>();
  readonly #peers = new Map<string, Connection>();
  readonly #filterWaiters: (() => void)[] = [];
  readonly #filterListeners = new Set<() => void>();

  /** Tracks a new connection. */
  add(c: Connection): void {
    this.connections.add(c);
  }

  /** The connection carrying the peering with `id`. */
  get(id: EndpointId): Connection | undefined {
    return this.#peers.get(peerKey(id));
  }

  /** The connections carrying peerings. */
  peered(): IterableIterator<Connection> {
    return this.#peers.values();
  }

  /** Whether another connection than `c` already claims the peer `id`. */
  knows(c: Connection, id: EndpointId): boolean {
    const key = peerKey(id);
    if (this.#peers.has(key)) return true;
    for (const other of this.connections) {
      if (other !== c && other.peerKey === key) return true;
    }
    return false;
  }

  /**
   * Broker's peer-status check (source reference section 6.4) for `c`,
   * which learnt its peer's ID: proceed, pause behind a parallel handshake
   * to the same peer, or drop a redundant connection. On proceed `c` claims
   * the peer.
   */
  check(c: Connection, id: EndpointId, originator: boolean): PeerCheck {
    const key = peerKey(id);
    // Known from here on, also for the error a refused connection reports.
    c.peerId = id;
    const peered = this.#peers.get(key);
    if (peered && peered !== c) {
      return originator
        ? { drop: ErrorCode.redundant_connection, reason: "redundant connection" }
        : { drop: ErrorCode.logic_error, reason: "detected redundant connection at the responder" };
    }
    for (const other of this.connections) {
      if (other !== c && other.state === "handshake" && other.peerKey === key) {
        return originator ? "pause" : {
          drop: ErrorCode.logic_error,
          reason: "detected redundant connection at the responder",
        };
      }
    }
    c.peerKey = key;
    return "proceed";
  }

  /** `c` finished its handshake with `id`: it carries that peering now. */
  register(c: Connection, id: EndpointId, filter: readonly string[]): void {
    const key = peerKey(id);
    c.state = "peered";
    c.peerId = id;
    c.peerKey = key;
    this.#peers.set(key, c);
    this.setFilter(c, filter);
  }

  /** Connections paused behind `c`'s handshake with the same peer. */
  *pausedBehind(c: Connection): Generator<Connection> {
    for (const other of this.connections) {
      if (other !== c && other.state === "paused" && other.peerKey === c.peerKey) yield other;
    }
  }

  /** Replaces the filter of `c`'s peer (from the handshake or a routing update). */
  setFilter(c: Connection, filter: readonly string[]): void {
    for (const f of c.filter) this.routes.remove(f, c);
    c.filter = makeFilter(filter);
    for (const f of c.filter) this.routes.add(f, c);
    for (const w of this.#filterWaiters.splice(0)) w();
    this.#filterChanged();
  }

  /**
   * Calls `listener` whenever a peer's filter is set or a peering with a
   * filter goes away; returns a function that stops the calls.
   *
   * @example
   * ```ts
   * import { PeerTable } from "./peer_table.ts";
   * import type { Connection } from "./connection.ts";
   * const table = new PeerTable();
   * let changes = 0;
   * const stop = table.onFilterChange(() => changes++);
   * const c = { state: "handshake", filter: [], address: { host: "h", port: 1 } } as unknown as Connection;
   * table.add(c);
   * table.register(c, new Uint8Array(16).fill(7), ["/a"]);
   * table.remove(c);
   * stop();
   * if (changes !== 2 || table.subscriptions().length !== 0) throw new Error("set, then gone");
   * ```
   */
  onFilterChange(listener: () => void): () => void {
    this.#filterListeners.add(listener);
    return () => void this.#filterListeners.delete(listener);
  }

  #filterChanged(): void {
    for (const l of [...this.#filterListeners]) l();
  }

  /** Forgets a closed connection (and its routes, if it carried a peering). */
  remove(c: Connection): void {
    this.connections.delete(c);
    if (c.peerKey && this.#peers.get(c.peerKey) === c) {
      this.#peers.delete(c.peerKey);
      for (const f of c.filter) this.routes.remove(f, c);
      if (c.filter.length > 0) this.#filterChanged();
    }
  }

  /** Every topic prefix the peers subscribed to (their filters, merged). */
  subscriptions(): readonly string[] {
    return makeFilter([...this.#peers.values()].flatMap((c) => c.filter));
  }

  /**
   * Resolves once some peer's filter matches `topic`, or rejects with
   * `request_timeout` after `timeoutMs`.
   */
  awaitSubscription(topic: string, timeoutMs: number): Promise<void> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.routes.matches(topic)) return resolve();
        if (Date.now() - started >= timeoutMs) {
          return reject(
            new BrokerError(ErrorCode.request_timeout, `no peer subscribed to ${topic}`),
          );
        }
        this.#filterWaiters.push(check);
        setTimeout(() => {
          const i = this.#filterWaiters.indexOf(check);
          if (i >= 0) {
            this.#filterWaiters.splice(i, 1);
            check();
          }
        }, Math.min(50, timeoutMs));
      };
      check();
    });
  }
}
