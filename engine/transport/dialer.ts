/**
 * Dialing out and keeping dialled peerings alive: one target per
 * `host:port` we were asked to peer with, connect attempts, Broker's retry
 * interval after a failed attempt (a lost peering is re-dialled at once,
 * as Broker does), and the callers
 * waiting on `peer()`. What a connection does once its socket is open is
 * the connection driver's business, not this file's.
 *
 * @example
 * ```ts
 * import { Dialer } from "./dialer.ts";
 * import { BrokerError, ErrorCode } from "../errors.ts";
 * const failures: string[] = [];
 * const dialer = new Dialer<{ state: string }>({
 *   connectTimeoutMs: 200,
 *   running: () => true,
 *   connected: (tcp) => (tcp.close(), { state: "handshake" }),
 *   unavailable: (_target, e) => void failures.push(e.message),
 * });
 * // Nobody listens on port 1: the attempt fails and, with retry 0, is not repeated.
 * const e = await dialer.peer("127.0.0.1", 1, 0).catch((e) => e);
 * if (!(e instanceof BrokerError) || e.code !== ErrorCode.peer_unavailable) throw e;
 * if (failures.length !== 1 || dialer.waiting().length !== 0) throw new Error("one attempt");
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { connectTcp, type TcpConnection } from "./tcp.ts";
import type { TlsMaterial } from "./tls.ts";
import { timerDelay } from "../timer_delay.ts";

/** A `host:port` we dial and, with a retry interval, keep re-dialling. */
export interface DialTarget<C> {
  /** The address dialled. */
  readonly host: string;
  /** The port dialled. */
  readonly port: number;
  /**
   * Pause before re-dialling, in ms; 0: never re-dial. A later `peer()` of
   * the same address with a retry gives it to a target that had none.
   */
  retryMs: number;
  /** False once the target is retired (unpeered, redundant, given up). */
  active: boolean;
  /** The connection of the current attempt or peering. */
  connection?: C;
  /** The pending re-dial. */
  timer?: ReturnType<typeof setTimeout>;
  /** Callers of `peer()` waiting for the outcome of the next attempt. */
  readonly waiters: { resolve: () => void; reject: (e: unknown) => void }[];
}

/** What the dialer needs from its endpoint. */
export interface DialerHost<C> {
  /** TLS material when peerings use TLS. */
  readonly tls?: TlsMaterial;
  /** Time allowed to open a socket (and complete TLS), in ms. */
  readonly connectTimeoutMs: number;
  /** False once the endpoint shuts down: no more attempts. */
  running(): boolean;
  /** A socket to `target` is open: start a connection on it. */
  connected(tcp: TcpConnection, target: DialTarget<C>): C;
  /** An attempt failed: no socket opened, or its handshake failed (for a status event). */
  unavailable(target: DialTarget<C>, error: BrokerError): void;
}

/** The endpoint's dial targets. */
export class Dialer<C extends { state: string; redundant?: boolean; removed?: boolean }> {
  readonly #host: DialerHost<C>;
  readonly #targets: DialTarget<C>[] = [];

  /** A dialer for one endpoint. */
  constructor(host: DialerHost<C>) {
    this.#host = host;
  }

  /**
   * Peers with `host:port`: resolves when an attempt peers, rejects when it
   * fails (the target stays and re-dials every `retryMs` unless that is 0).
   * Asking again for a target we keep joins its next outcome, and dials at
   * once if it waits out its retry interval (Broker's core starts an attempt
   * for every peer()); asking with a retry interval gives it to a target that
   * had none (Broker's core gives the peering the address of such a
   * redundant peer, and re-dials it when the peering is lost).
   */
  peer(host: string, port: number, retryMs: number): Promise<void> {
    const existing = this.#targets.find((t) => t.host === host && t.port === port && t.active);
    if (existing && existing.retryMs === 0 && retryMs > 0) existing.retryMs = retryMs;
    if (existing?.connection?.state === "peered") return Promise.resolve();
    const target: DialTarget<C> = existing ?? { host, port, retryMs, active: true, waiters: [] };
    const done = new Promise<void>((resolve, reject) => target.waiters.push({ resolve, reject }));
    if (!existing) {
      this.#targets.push(target);
      this.#dial(target);
    } else if (!existing.connection && existing.timer !== undefined) {
      clearTimeout(existing.timer);
      this.#dial(existing);
    }
    return done;
  }

  /** The target for `host:port`, if we dial it. */
  find(host: string, port: number): DialTarget<C> | undefined {
    return this.#targets.find((t) => t.host === host && t.port === port);
  }

  /** Targets between attempts (no connection): `peers()` lists them as reconnecting. */
  waiting(): DialTarget<C>[] {
    return this.#targets.filter((t) => !t.connection && t.active);
  }

  /** The attempt over `target` peered: its callers learn it. */
  succeeded(target: DialTarget<C>): void {
    for (const w of target.waiters.splice(0)) w.resolve();
  }

  /**
   * The attempt over `target` met a peering that already exists over `c`,
   * which now carries the target: its callers learn success, and when that
   * peering is lost the target is re-dialled as if its own had been.
   */
  adopt(target: DialTarget<C>, c: C): void {
    clearTimeout(target.timer);
    target.timer = undefined;
    target.connection = c;
    this.succeeded(target);
  }

  /**
   * The attempt over `target` failed: its callers learn how; with a retry
   * interval the dialer tries again later (Broker's blocking `peer()` reports
   * the attempt and keeps dialling in the background), else it retires it.
   */
  failed(target: DialTarget<C>, error: BrokerError): void {
    target.connection = undefined;
    for (const w of target.waiters.splice(0)) w.reject(error);
    if (target.retryMs > 0 && target.active && this.#host.running()) {
      this.#redial(target);
      return;
    }
    this.retire(target);
  }

  /**
   * The connection `c` of `target` closed: a lost peering is re-dialled at
   * once (Broker's core calls `try_connect` when a peering it dialled with a
   * retry interval ends, and waits the interval only after that attempt
   * fails), a failed handshake counts as a failed attempt.
   */
  closed(target: DialTarget<C>, c: C, wasPeered: boolean, cause?: BrokerError): void {
    if (target.connection !== c) return;
    target.connection = undefined;
    if (!target.active || !this.#host.running()) return;
    // A peering we cut ourselves (the overflow policy) is not dialled again, as in Broker.
    if (wasPeered && c.removed) return this.retire(target);
    if (wasPeered && target.retryMs > 0) {
      this.#dial(target);
      return;
    }
    const error = new BrokerError(
      ErrorCode.peer_unavailable,
      wasPeered
        ? "peering lost"
        : `handshake with ${target.host}:${target.port} failed${cause ? `: ${cause.message}` : ""}`,
      { cause },
    );
    // Broker's connector reports every failed attempt as peer_unavailable,
    // whether the socket did not open or the handshake on it failed.
    if (!wasPeered && !c.redundant) this.#host.unavailable(target, error);
    this.failed(target, error);
  }

  /**
   * Stops dialling `target` for good. Its waiting callers get `error`, or
   * success without one (the peer is already reached over another connection).
   */
  retire(target: DialTarget<C>, error?: BrokerError): void {
    target.active = false;
    target.connection = undefined;
    clearTimeout(target.timer);
    const i = this.#targets.indexOf(target);
    if (i >= 0) this.#targets.splice(i, 1);
    for (const w of target.waiters.splice(0)) error ? w.reject(error) : w.resolve();
  }

  /** Retires every target (at shutdown). */
  retireAll(error: BrokerError): void {
    for (const t of [...this.#targets]) this.retire(t, error);
  }

  #redial(target: DialTarget<C>): void {
    target.timer = setTimeout(() => this.#dial(target), timerDelay(target.retryMs));
  }

  async #dial(target: DialTarget<C>): Promise<void> {
    target.timer = undefined;
    if (!target.active || !this.#host.running()) return;
    let tcp: TcpConnection;
    try {
      tcp = await connectTcp(
        { host: target.host, port: target.port },
        this.#host.connectTimeoutMs,
        this.#host.tls,
      );
    } catch (e) {
      this.#host.unavailable(
        target,
        new BrokerError(ErrorCode.peer_unavailable, `cannot connect: ${e}`),
      );
      this.failed(
        target,
        new BrokerError(
          ErrorCode.peer_unavailable,
          `cannot connect to ${target.host}:${target.port}: ${e}`,
        ),
      );
      return;
    }
    if (!target.active || !this.#host.running()) {
      tcp.close();
      return;
    }
    target.connection = this.#host.connected(tcp, target);
  }
}
