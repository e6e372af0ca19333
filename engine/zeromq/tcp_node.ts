/**
 * A node of a Zeek 8 ZeroMQ cluster over TCP: the I/O around
 * {@link ZmtpSession} and {@link ZeekClusterNode}. Like Zeek's nodes it
 * connects an XSUB socket to the proxy's XPUB (receiving; Zeek's
 * `connect_xsub_endpoint`) and an XPUB socket to the proxy's XSUB
 * (publishing; `connect_xpub_endpoint`), subscribes its node topics, says
 * hello, and reports `node_up`/`node_down`; with `logger`, it also PUSHes
 * log batches to a logger's PULL socket (Zeek's `connect_log_endpoints`).
 * The proxy is `ZmqProxyServer` (`tcp_proxy.ts`).
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
import { type HostPort, keepError, ZmtpConnection } from "./tcp_connection.ts";

export type { HostPort };

const EMPTY = new Uint8Array(0);
const EMPTY_EVENT = new Event("", []);
import { encodeLogWriteBatch, type LogWriteBatch } from "./log_batch.ts";
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
  /** How long to keep dialling the proxy (libzmq re-dials every 100 ms). Default 10 s. */
  connectTimeoutMs?: number;
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
 * const none: ZeekZmqNodeStats = { xpubDrops: 0, logDrops: 0 };
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
  // Prefixes the proxy subscribed on our XPUB. A set, as libzmq's XPUB keeps them per pipe:
  // the proxy passes every subscription on (duplicates too) but a cancellation only once
  // its last subscriber is gone, so one cancellation ends a prefix however often it came.
  readonly #peerSubs = new Set<string>();
  // Per topic: whether a node subscribed a prefix of it (cleared on every (un)subscription).
  readonly #wanted = new Map<string, boolean>();
  // Per topic: the first three frames of our messages on it.
  readonly #heads = new Map<string, Uint8Array>();
  #xpub!: ZmtpConnection;
  #xsub!: ZmtpConnection;
  #log?: ZmtpConnection;
  readonly #stats: ZeekZmqNodeStats = { xpubDrops: 0, logDrops: 0 };
  #closing = false;
  #lost!: (e: BrokerError) => void;
  /**
   * Settles with a `BrokerError(peer_unavailable)` once a connection of
   * the node (to the proxy's XPUB or XSUB, or the logger) ends while the
   * node is up, by the peer or an error: Zeek's libzmq dials again, this node does not, so a program that
   * must stay in the cluster starts it again (`broker zeromq` and `broker
   * bridge` exit 1). Never settles for `close`.
   */
  readonly lost: Promise<BrokerError> = new Promise((r) => this.#lost = r);

  private constructor(node: ZeekClusterNode, queueSize: number) {
    this.#state = node;
    this.events = new BoundedQueue(queueSize, "drop_oldest");
  }

  /** The node ID. */
  get id(): string {
    return this.#state.id;
  }

  /** The node's name in the cluster layout. */
  get name(): string {
    return this.#state.name;
  }

  /** A copy of the drop counters. */
  stats(): ZeekZmqNodeStats {
    return { ...this.#stats };
  }

  /** Published messages waiting for the proxy (at most `xpubSndhwm` of them, when set). */
  get xpubQueued(): number {
    return this.#xpub.queuedMessages;
  }

  /**
   * Resolves once the published messages waiting for the proxy have all
   * been handed to the socket (or it closed): a sender that must not drop
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

  /** Log batches waiting for the logger (at most `logSndhwm`, when set); 0 without a logger. */
  get logQueued(): number {
    return this.#log?.queuedMessages ?? 0;
  }

  /** Other nodes that are up (both hellos crossed): node ID to name. */
  get up(): ReadonlyMap<string, string> {
    return this.#state.up;
  }

  /**
   * Connects both sockets, waits for both ZMTP handshakes and subscribes
   * the node's topics; the hellos then run by themselves.
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
    const deadline = Date.now() + (options.connectTimeoutMs ?? 10_000);
    const readiness = { xpub: () => {}, xsub: () => {}, log: () => {} };
    let failed!: (e: BrokerError) => void;
    const ready = Promise.all(
      (["xpub", "xsub", ...(options.logger ? ["log"] as const : [])] as const).map((k) =>
        new Promise<void>((r) => readiness[k] = r)
      ),
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
    self.#xpub = await ZmtpConnection.dial(options.xpub, "XPUB", deadline, handle("xpub"));
    self.#xpub.sndhwm = options.xpubSndhwm ?? ZEEK_ZMQ_DEFAULT_SNDHWM;
    try {
      self.#xsub = await ZmtpConnection.dial(options.xsub, "XSUB", deadline, handle("xsub"));
      if (options.logger) {
        self.#log = await ZmtpConnection.dial(options.logger, "PUSH", deadline, handle("log"));
        self.#log.sndhwm = options.logSndhwm ?? ZEEK_ZMQ_DEFAULT_SNDHWM;
      }
    } catch (e) {
      self.#xpub.close();
      self.#xsub?.close();
      throw e;
    }
    try {
      await Promise.race([ready, failure]);
    } catch (e) {
      await self.close();
      throw e;
    }
    for (const topic of self.#state.subscriptions()) self.subscribe(topic);
    const watched: [string, HostPort, ZmtpConnection][] = [
      ["the proxy's XSUB", options.xpub, self.#xpub],
      ["the proxy's XPUB", options.xsub, self.#xsub],
    ];
    if (options.logger && self.#log) watched.push(["the logger", options.logger, self.#log]);
    for (const [what, at, conn] of watched) {
      conn.done.then(() => {
        if (self.#closing) return;
        self.#lost(
          new BrokerError(
            ErrorCode.peer_unavailable,
            `lost the connection to ${what} at ${at.host}:${at.port}`,
          ),
        );
      });
    }
    return self;
  }

  /** Subscribes our XSUB to a topic prefix (dotted). */
  subscribe(prefix: string): void {
    this.#xsub.write(this.#xsub.session.subscribe(prefix));
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
   * PUSHes a batch of log writes to the logger, in Zeek's log batch format.
   * Returns false when `logSndhwm` batches already wait for the logger:
   * this one is dropped and counted, as Zeek's PUSH drops it. Throws
   * `invalid_status` without a `logger`, `type_clash` for a value its type
   * cannot hold.
   */
  writeLogs(batch: LogWriteBatch): boolean {
    if (!this.#log) {
      throw new BrokerError(ErrorCode.invalid_status, "no logger: connect with the logger option");
    }
    const payload = encodeLogWriteBatch(batch);
    if (this.#log.full) {
      this.#stats.logDrops++;
      return false;
    }
    this.#log.write(
      this.#log.session.send(zeekZmqMessageParts({
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
    this.events.close();
    this.statuses.close();
    await this.#log?.closeAfterWrites();
    await Promise.all([this.#xpub?.closeAfterWrites(), this.#xsub?.closeAfterWrites()]);
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
