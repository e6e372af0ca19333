/**
 * A node of a Zeek 8 ZeroMQ cluster over TCP: the I/O around
 * {@link ZmtpSession} and {@link ZeekClusterNode}. Like Zeek's nodes it
 * connects an XSUB socket to the proxy's XPUB (receiving; Zeek's
 * `connect_xsub_endpoint`) and an XPUB socket to the proxy's XSUB
 * (publishing; `connect_xpub_endpoint`), subscribes its node topics, says
 * hello, and reports `node_up`/`node_down`; with `logger` (or `loggers`),
 * it also PUSHes log batches to the loggers' PULL sockets (Zeek's
 * `connect_log_endpoints`), one logger after the other, as libzmq's PUSH
 * deals them out. With `listenLog` it is a logger (or a manager that is the
 * logger): its PULL socket takes the other nodes' log batches
 * ({@link ZeekZmqNode.logs}), as Zeek's `listen_log_endpoint`.
 * The proxy is `ZmqProxyServer` (`tcp_proxy.ts`).
 *
 * Like a Zeek node's libzmq sockets, each of them keeps dialling when its
 * peer goes away (`tcp_link.ts`: every 100 to 199 ms, Zeek's defaults) and
 * resumes when it is back: the XSUB subscribes its prefixes again, the
 * subscriptions the proxy had made on our XPUB stand meanwhile (no
 * `node_down`, no hello again: Zeek's nodes raise none either), and what is
 * published or logged meanwhile waits, up to the high-water marks, for the
 * next connection. A node that comes back under a new ID says hello, and
 * the old ID goes down then (Zeek's "never said goodbye"). Each loss and
 * return is reported in {@link ZeekZmqNode.links}.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { BoundedQueue } from "../queue.ts";
import { encode } from "../data/mod.ts";
import { Event } from "../zeek/event.ts";
import { encodeMessage, FrameFlag } from "./frame.ts";
import { type NodeActions, ZeekClusterNode, type ZeekNodeType } from "./cluster_node.ts";
import type { ZmtpEvent } from "./session.ts";
import { encodeSubscription } from "./subscription.ts";
import { type HostPort, keepError, ZmtpConnection } from "./tcp_connection.ts";
import { unreachable, ZmtpLink, type ZmtpLinkStatus } from "./tcp_link.ts";

export type { HostPort };

const EMPTY = new Uint8Array(0);
const EMPTY_EVENT = new Event("", []);
import { decodeLogWriteBatch, encodeLogWriteBatch, type LogWriteBatch } from "./log_batch.ts";
import {
  eventMessage,
  LOG_WRITE_TOPIC,
  parseZeekZmqMessage,
  ZEEK_BIN_SERIALIZER,
  zeekZmqEvent,
  zeekZmqMessageParts,
} from "./zeek_message.ts";

/** Options of {@link ZeekZmqNode.connect}. */
export interface ZeekZmqNodeOptions {
  /** The node's name in the cluster layout, e.g. `worker-1`. */
  name: string;
  /** Its type in the layout. */
  nodeType: ZeekNodeType;
  /** Its node ID; default `zeromq_<name>_deno_<pid>_<random>`, like Zeek's. */
  id?: string;
  /** The proxy's XSUB, where our XPUB publishes (Zeek's `connect_xpub_endpoint`). */
  xpub: HostPort;
  /** The proxy's XPUB, from which our XSUB receives (Zeek's `connect_xsub_endpoint`). */
  xsub: HostPort;
  /** A logger's PULL socket for {@link ZeekZmqNode.writeLogs} (Zeek's `connect_log_endpoints`). */
  logger?: HostPort;
  /**
   * More loggers' PULL sockets (after `logger`, if given): a cluster with
   * several loggers, whose nodes' `connect_log_endpoints` list them all.
   * Log batches go to them in turn, a logger whose `logSndhwm` batches are
   * waiting skipped, as libzmq's PUSH round-robins over its pipes.
   */
  loggers?: readonly HostPort[];
  /**
   * Where our PULL socket listens for the other nodes' log batches, when
   * this node is a logger (or a manager that is the logger): Zeek's
   * `listen_log_endpoint`, the layout's port of the node. Port 0 picks a
   * free one ({@link ZeekZmqNode.logPort}). They arrive in
   * {@link ZeekZmqNode.logs}.
   */
  listenLog?: { hostname?: string; port: number };
  /**
   * How long {@link ZeekZmqNode.connect} waits for the proxy's first
   * handshakes (the logger is not waited for; the sockets dial every 100 to 199 ms meanwhile); 0: no limit, as a
   * Zeek node, which starts without its proxy and joins when it answers.
   * Default 10 s.
   */
  connectTimeoutMs?: number;
  /**
   * libzmq's `ZMQ_RECONNECT_IVL`: the shortest wait before a socket dials
   * again (a random part of it is added). Zeek keeps the default, 100 ms.
   */
  reconnectIvlMs?: number;
  /**
   * libzmq's `ZMQ_RECONNECT_IVL_MAX`: with a value above `reconnectIvlMs`,
   * the waits double up to it while the peer stays away. Zeek keeps the
   * default, 0 (no back-off).
   */
  reconnectIvlMaxMs?: number;
  /** Events held for the reader before the oldest are dropped. Default 4096. */
  queueSize?: number;
  /**
   * Published messages held for the proxy before more are dropped and
   * counted in {@link ZeekZmqNodeStats.xpubDrops}; 0 means no limit. Zeek's
   * `xpub_sndhwm`, default as there: 1000.
   */
  xpubSndhwm?: number;
  /**
   * Log batches held for the logger before more are dropped and counted in
   * {@link ZeekZmqNodeStats.logDrops}; 0 means no limit. Zeek's
   * `log_sndhwm`, default as there: 1000.
   */
  logSndhwm?: number;
}

/** Default of {@link ZeekZmqNodeOptions.xpubSndhwm} and `logSndhwm`: Zeek's. */
export const ZEEK_ZMQ_DEFAULT_SNDHWM = 1000;

/**
 * What a {@link ZeekZmqNode} dropped because a peer did not read.
 *
 * @example
 * ```ts
 * import type { ZeekZmqNodeStats } from "./tcp_node.ts";
 * const none: ZeekZmqNodeStats = { xpubDrops: 0, logDrops: 0, dials: 0 };
 * ```
 */
export interface ZeekZmqNodeStats {
  /**
   * Published events dropped at the XPUB's high-water mark (Zeek's metric
   * `zeek_cluster_zeromq_xpub_drops_total`).
   */
  xpubDrops: number;
  /**
   * Log batches dropped at the log PUSH's high-water mark (Zeek reports
   * "Failed to send log write. HWM reached?" for each).
   */
  logDrops: number;
  /** TCP connection attempts of the node's sockets, the first ones included. */
  dials: number;
}

/** An event received from the cluster. */
export interface ZeekZmqEventMessage {
  /** Its topic. */
  topic: string;
  /** The sending node's ID. */
  sender: string;
  /** The event. */
  event: Event;
}

/**
 * A batch of log writes another node PUSHed to our PULL socket (see
 * {@link ZeekZmqNodeOptions.listenLog}).
 *
 * @example
 * ```ts
 * import type { ZeekZmqLogMessage } from "./tcp_node.ts";
 * const show = (m: ZeekZmqLogMessage) => `${m.sender}: ${m.batch.records.length} to ${m.batch.path}`;
 * ```
 */
export interface ZeekZmqLogMessage {
  /** The sending node's ID. */
  sender: string;
  /** The batch: stream, writer, path, fields and records. */
  batch: LogWriteBatch;
}

/** A node of the cluster coming up or going away. */
export interface ZeekNodeStatus {
  /** `node_up` or `node_down`, as Zeek's events. */
  type: "node_up" | "node_down";
  /** Its name in the layout. */
  name: string;
  /** Its node ID. */
  id: string;
}

/**
 * A loss or return of one of a node's connections (see
 * {@link ZeekZmqNode.links}).
 */
export interface ZeekZmqLinkStatus {
  /**
   * `disconnected`: the peer went away, the socket dials again;
   * `reconnected`: it is back; `failed`: a protocol error, the socket gave
   * up (libzmq dials that endpoint no more).
   */
  type: "disconnected" | "reconnected" | "failed";
  /** Which socket of ours: the XPUB, the XSUB or the log PUSH. */
  socket: "XPUB" | "XSUB" | "PUSH";
  /** The peer's endpoint. */
  to: HostPort;
  /** One line saying what happened, e.g. for a log. */
  message: string;
}

/**
 * A node of a Zeek ZeroMQ cluster (see the module doc). Here with our own
 * proxy as the hub; against Zeek's, give the ports of its manager's
 * `listen_xsub_endpoint` (as `xpub`) and `listen_xpub_endpoint` (as `xsub`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { str } from "../data/mod.ts";
 * import { Event } from "../zeek/event.ts";
 * import { ZeekZmqNode, ZmqProxyServer } from "./mod.ts";
 * // Our own proxy as the hub here; with Zeek's, give its ports (XPUB_PORT, XSUB_PORT).
 * const proxy = ZmqProxyServer.listen();
 * const at = {
 *   xpub: { host: "127.0.0.1", port: proxy.xsubPort },
 *   xsub: { host: "127.0.0.1", port: proxy.xpubPort },
 * };
 * const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
 * const worker = await ZeekZmqNode.connect({ name: "worker-1", nodeType: "worker", ...at });
 * equal((await worker.statuses.get(5000))?.name, "manager"); // node_up
 * worker.publish("zeek.cluster.manager", new Event("Test::ping", [str("hi")]));
 * equal((await manager.events.get(5000))?.event.name, "Test::ping");
 * await worker.close();
 * await manager.close();
 * await proxy.close();
 * ```
 */
export class ZeekZmqNode {
  // The node's hello state (sans-I/O).
  readonly #state: ZeekClusterNode;
  /** Events other nodes sent to our topics (the hellos excepted). */
  readonly events: BoundedQueue<ZeekZmqEventMessage>;
  /** Log batches the other nodes PUSHed to us (with `listenLog`), oldest dropped when full. */
  readonly logs: BoundedQueue<ZeekZmqLogMessage>;
  /** `node_up`/`node_down` of the other nodes. */
  readonly statuses: BoundedQueue<ZeekNodeStatus> = new BoundedQueue(1024, "drop_oldest");
  /**
   * Errors of either connection (the node keeps what still works) and
   * messages it could not read: the latest `KEPT_ERRORS`, all of them
   * counted in `errorCount` (a peer sending garbage must not grow the node).
   */
  readonly errors: BrokerError[] = [];
  /** Every error so far, kept or not. */
  errorCount = 0;
  /** Each loss and return of a connection (see the module doc). */
  readonly links: BoundedQueue<ZeekZmqLinkStatus> = new BoundedQueue(1024, "drop_oldest");
  // The prefixes our XSUB subscribed, in order: subscribed again on every new connection.
  readonly #subscriptions = new Set<string>();
  // Prefixes the proxy subscribed on our XPUB. A set, as libzmq's XPUB keeps them per pipe:
  // the proxy passes every subscription on (duplicates too) but a cancellation only once
  // its last subscriber is gone, so one cancellation ends a prefix however often it came.
  readonly #peerSubs = new Set<string>();
  // Per topic: whether a node subscribed a prefix of it (cleared on every (un)subscription).
  readonly #wanted = new Map<string, boolean>();
  // Per topic: the first three frames of our messages on it.
  readonly #heads = new Map<string, Uint8Array>();
  #xpub!: ZmtpLink;
  #xsub!: ZmtpLink;
  // The log PUSH's connections, one a logger, and which takes the next batch.
  #logs: ZmtpLink[] = [];
  #nextLog = 0;
  // With listenLog: the PULL socket's listener and the nodes' connections to it.
  #logListener?: Deno.TcpListener;
  readonly #logPeers = new Set<ZmtpConnection>();
  readonly #stats = { xpubDrops: 0, logDrops: 0 };
  #closing = false;
  #lost!: (e: BrokerError) => void;
  /**
   * Settles with the error once a socket of the node gives up for good: a
   * protocol error from its peer (not a ZeroMQ socket of a matching type,
   * an ERROR), after which libzmq dials that endpoint no more (Zeek treats
   * a failed handshake as fatal). A peer that merely goes away does not
   * settle it: the socket dials again. Never settles for `close`.
   */
  readonly lost: Promise<BrokerError> = new Promise((r) => this.#lost = r);

  private constructor(node: ZeekClusterNode, queueSize: number) {
    this.#state = node;
    this.events = new BoundedQueue(queueSize, "drop_oldest");
    this.logs = new BoundedQueue(queueSize, "drop_oldest");
  }

  /** The port our log PULL socket listens on (with `listenLog`), else 0. */
  get logPort(): number {
    return (this.#logListener?.addr as Deno.NetAddr | undefined)?.port ?? 0;
  }

  /** The node ID. */
  get id(): string {
    return this.#state.id;
  }

  /** The node's name in the cluster layout. */
  get name(): string {
    return this.#state.name;
  }

  /** A copy of the counters. */
  stats(): ZeekZmqNodeStats {
    const dials = this.#xpub.dials + this.#xsub.dials + this.#logs.reduce((n, l) => n + l.dials, 0);
    return { ...this.#stats, dials };
  }

  /** Published messages waiting for the proxy (at most `xpubSndhwm` of them, when set). */
  get xpubQueued(): number {
    return this.#xpub.queuedMessages;
  }

  /**
   * Resolves once the published messages waiting for the proxy have all
   * been handed to the socket (after the next connection, while the proxy
   * is away), or the node closed: a sender that must not drop
   * (the bridge) waits here when `xpubQueued` reached the mark, where a
   * synchronous burst would otherwise fill it before the writer ever runs.
   */
  xpubDrained(): Promise<void> {
    return this.#xpub.below(0);
  }

  /** Whether a publish now would be dropped at `xpubSndhwm`. */
  get xpubFull(): boolean {
    return this.#xpub.full;
  }

  /** Log batches waiting for the loggers (at most `logSndhwm` a logger, when set); 0 without a logger. */
  get logQueued(): number {
    return this.#logs.reduce((n, l) => n + l.queuedMessages, 0);
  }

  /** Other nodes that are up (both hellos crossed): node ID to name. */
  get up(): ReadonlyMap<string, string> {
    return this.#state.up;
  }

  /**
   * Connects the sockets, waits for the proxy's ZMTP handshakes (up to
   * `connectTimeoutMs`), and subscribes the node's topics; the hellos then
   * run by themselves, and the sockets dial again whenever their peer goes
   * away. With `logger`, the log PUSH dials too but is not waited for: a
   * Zeek node starts without its logger and queues its log batches (up to
   * `logSndhwm`) until the logger answers. Throws `peer_unavailable` when
   * the proxy was not found in time, the protocol error when a socket's
   * peer broke it.
   */
  static async connect(options: ZeekZmqNodeOptions): Promise<ZeekZmqNode> {
    const id = options.id ??
      `zeromq_${options.name}_deno_${Deno.pid}_${
        crypto.randomUUID().replaceAll("-", "").slice(0, 16)
      }`;
    const self = new ZeekZmqNode(
      new ZeekClusterNode({ name: options.name, nodeType: options.nodeType, id }),
      options.queueSize ?? 4096,
    );
    for (const topic of self.#state.subscriptions()) self.#subscriptions.add(topic);
    const readiness = { xpub: () => {}, xsub: () => {}, log: () => {} };
    let failed!: (e: BrokerError) => void;
    const ready = Promise.all(
      (["xpub", "xsub"] as const).map((k) => new Promise<void>((r) => readiness[k] = r)),
    );
    const failure = new Promise<never>((_, reject) => failed = reject);
    const handle = (which: "xpub" | "xsub" | "log") => (e: ZmtpEvent) => {
      if (e.type === "ready") readiness[which]();
      else if (e.type === "error") {
        self.#keep(e.error);
        failed(e.error);
      } else if (which === "xpub" && e.type === "subscription") self.#onSubscription(e);
      else if (which === "xsub" && e.type === "message") self.#onMessage(e.parts);
    };
    const link = (
      which: "xpub" | "xsub" | "log",
      to: HostPort,
      type: "XPUB" | "XSUB" | "PUSH",
      what: string,
      sndhwm = 0,
    ) =>
      new ZmtpLink(to, type, what, handle(which), {
        ivlMs: options.reconnectIvlMs,
        ivlMaxMs: options.reconnectIvlMaxMs,
        sndhwm,
        // libzmq's XSUB sends every prefix it has to each new connection, the first included.
        onUp: type === "XSUB"
          ? (conn) => {
            for (const t of self.#subscriptions) conn.write(conn.session.subscribe(t));
          }
          : undefined,
        onStatus: (status) => self.#onLinkStatus(type, to, what, status),
      });
    self.#xpub = link(
      "xpub",
      options.xpub,
      "XPUB",
      "the proxy's XSUB",
      options.xpubSndhwm ?? ZEEK_ZMQ_DEFAULT_SNDHWM,
    );
    self.#xsub = link("xsub", options.xsub, "XSUB", "the proxy's XPUB");
    for (const to of [...(options.logger ? [options.logger] : []), ...(options.loggers ?? [])]) {
      self.#logs.push(
        link("log", to, "PUSH", "the logger", options.logSndhwm ?? ZEEK_ZMQ_DEFAULT_SNDHWM),
      );
    }
    if (options.listenLog) {
      try {
        self.#listenLog(options.listenLog);
      } catch (e) {
        await self.close();
        throw e;
      }
    }
    const links = [self.#xpub, self.#xsub];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = options.connectTimeoutMs ?? 10_000;
    const timeout = new Promise<never>((_, reject) => {
      if (limit <= 0) return;
      timer = setTimeout(() => {
        const down = links.find((l) => !l.up) ?? links[0];
        reject(unreachable(down));
      }, limit);
    });
    try {
      await Promise.race([ready, failure, timeout]);
    } catch (e) {
      await self.close();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return self;
  }

  /**
   * Subscribes our XSUB to a topic prefix (dotted), now if the proxy is
   * there, and again on every new connection to it.
   */
  subscribe(prefix: string): void {
    this.#subscriptions.add(prefix);
    if (this.#xsub.up) this.#xsub.write(this.#xsub.encode([encodeSubscription(prefix)]));
  }

  /**
   * Publishes an event on a topic, if any node subscribed a prefix of it
   * (an XPUB sends nothing otherwise) and fewer than `xpubSndhwm` messages
   * wait for the proxy (else it is dropped and counted, as Zeek's XPUB
   * does). Returns whether it went out.
   */
  publish(topic: string, event: Event): boolean {
    if (!this.wants(topic)) return false;
    if (this.#xpub.full) {
      this.#stats.xpubDrops++;
      return false;
    }
    this.#writeEvent(topic, encode(event.toData()));
    return true;
  }

  // The message's four frames, written straight into the socket's buffer: the topic, sender
  // and format frames are the same for every event on a topic (cached), then the payload's.
  #writeEvent(topic: string, payload: Uint8Array): void {
    let head = this.#heads.get(topic);
    if (!head) {
      if (this.#heads.size >= 1024) this.#heads.clear();
      head = encodeMessage(
        [...zeekZmqMessageParts(eventMessage(topic, this.id, EMPTY_EVENT)).slice(0, 3), EMPTY],
      );
      head = head.subarray(0, head.length - 2); // without the empty last frame
      // Its frames all carry MORE: the payload frame follows.
      this.#heads.set(topic, head);
    }
    const n = payload.length;
    const long = n > 255;
    const out = this.#xpub.reserve(head.length + (long ? 9 : 2) + n, 1);
    if (!out) return; // closed
    out.set(head);
    let at = head.length;
    out[at] = long ? FrameFlag.long : 0;
    if (long) new DataView(out.buffer, out.byteOffset).setBigUint64(at + 1, BigInt(n));
    else out[at + 1] = n;
    at += long ? 9 : 2;
    out.set(payload, at);
  }

  /** Whether a node subscribed a prefix of `topic`, so that {@link ZeekZmqNode.publish} sends it. */
  wants(topic: string): boolean {
    let wanted = this.#wanted.get(topic);
    if (wanted === undefined) {
      wanted = false;
      for (const prefix of this.#peerSubs) {
        if (topic.startsWith(prefix)) {
          wanted = true;
          break;
        }
      }
      if (this.#wanted.size >= 1024) this.#wanted.clear();
      this.#wanted.set(topic, wanted);
    }
    return wanted;
  }

  /**
   * PUSHes a batch of log writes to a logger, in Zeek's log batch format:
   * with several, to the next in turn that has fewer than `logSndhwm`
   * batches waiting (libzmq's PUSH). Returns false when every logger has
   * that many: this one is dropped and counted, as Zeek's PUSH drops it.
   * Throws `invalid_status` without a logger, `type_clash` for a value its
   * type cannot hold.
   */
  writeLogs(batch: LogWriteBatch): boolean {
    if (this.#logs.length === 0) {
      throw new BrokerError(ErrorCode.invalid_status, "no logger: connect with the logger option");
    }
    const payload = encodeLogWriteBatch(batch);
    const n = this.#logs.length;
    let log: ZmtpLink | undefined;
    for (let i = 0; i < n && !log; i++) {
      const at = (this.#nextLog + i) % n;
      if (!this.#logs[at].full) {
        log = this.#logs[at];
        this.#nextLog = (at + 1) % n;
      }
    }
    if (!log) {
      this.#stats.logDrops++;
      return false;
    }
    log.write(
      log.encode(zeekZmqMessageParts({
        topic: LOG_WRITE_TOPIC,
        sender: this.id,
        format: ZEEK_BIN_SERIALIZER,
        payload,
      })),
      1,
    );
    return true;
  }

  /**
   * Closes the sockets once what was written is sent, the log socket first
   * (other nodes then see our node-ID topic unsubscribed: `node_down`).
   */
  async close(): Promise<void> {
    this.#closing = true;
    this.#logListener?.close();
    this.#logListener = undefined;
    for (const c of this.#logPeers) c.close();
    this.logs.close();
    this.events.close();
    this.statuses.close();
    this.links.close();
    await Promise.all(this.#logs.map((l) => l.closeAfterWrites()));
    await Promise.all([this.#xpub?.closeAfterWrites(), this.#xsub?.closeAfterWrites()]);
  }

  // Zeek's listen_log_endpoint: a PULL socket every node's log PUSH connects to.
  #listenLog(at: { hostname?: string; port: number }): void {
    const listener = Deno.listen({ hostname: at.hostname ?? "127.0.0.1", port: at.port });
    this.#logListener = listener;
    (async () => {
      for await (const tcp of listener) {
        tcp.setNoDelay(true);
        const conn: ZmtpConnection = new ZmtpConnection(tcp, "PULL", (e) => {
          if (e.type === "error") this.#keep(e.error);
          else if (e.type === "message") this.#onLog(e.parts);
        });
        this.#logPeers.add(conn);
        conn.done.finally(() => this.#logPeers.delete(conn));
      }
    })().catch(() => {}); // the listener closed
  }

  #onLog(parts: Uint8Array[]): void {
    try {
      const msg = parseZeekZmqMessage(parts);
      this.logs.push({ sender: msg.sender, batch: decodeLogWriteBatch(msg.payload) });
    } catch (e) {
      // As for events: what cannot be read is dropped, the error kept.
      if (e instanceof BrokerError) this.#keep(e);
    }
  }

  #onSubscription(e: Extract<ZmtpEvent, { type: "subscription" }>): void {
    const topic = new TextDecoder("utf-8", { ignoreBOM: true }).decode(e.subscription.topic);
    const subscribe = e.subscription.subscribe;
    // A prefix we have is no news: Zeek raises its subscription event (and says hello) only
    // for one it had not seen (ZeroMQ.cc's xpub_subscriptions).
    if (subscribe && this.#peerSubs.has(topic)) return;
    this.#wanted.clear();
    if (subscribe) this.#peerSubs.add(topic);
    else this.#peerSubs.delete(topic);
    this.#act(this.#state.onSubscription(topic, subscribe));
  }

  #onMessage(parts: Uint8Array[]): void {
    let msg;
    let event: Event;
    try {
      msg = parseZeekZmqMessage(parts);
      event = zeekZmqEvent(msg);
    } catch (e) {
      // Zeek drops what it cannot read, and so do we; the error is kept for the curious.
      if (e instanceof BrokerError) this.#keep(e);
      return;
    }
    const actions = this.#state.onEvent(event);
    this.#act(actions);
    if (!actions.internal) this.events.push({ topic: msg.topic, sender: msg.sender, event });
  }

  #onLinkStatus(
    socket: "XPUB" | "XSUB" | "PUSH",
    to: HostPort,
    what: string,
    status: ZmtpLinkStatus,
  ): void {
    if (this.#closing) return;
    const at = `${what} at ${to.host}:${to.port}`;
    if (status.type === "connected") {
      if (!status.again) return; // the first handshake: connect() reports that
      this.links.push({ type: "reconnected", socket, to, message: `connected again to ${at}` });
    } else if (status.type === "disconnected") {
      const ivl = this.#xpub.reconnectIvlMs;
      this.links.push({
        type: "disconnected",
        socket,
        to,
        message: `lost the connection to ${at}; dialling again every ${ivl} to ${2 * ivl - 1} ms`,
      });
    } else {
      this.links.push({ type: "failed", socket, to, message: status.error.message });
      this.#lost(status.error);
    }
  }

  #keep(e: BrokerError): void {
    this.errorCount++;
    keepError(this.errors, e);
  }

  #act(actions: NodeActions): void {
    for (const p of actions.publish) this.publish(p.topic, p.event);
    for (const n of actions.up) this.statuses.push({ type: "node_up", ...n });
    for (const n of actions.down) this.statuses.push({ type: "node_down", ...n });
  }
}
