/**
 * A bridge between a Broker-protocol world (C++ Broker tools, Zeek before 8
 * or on its Broker backend, our endpoints) and a Zeek 8 cluster on the
 * ZeroMQ backend. One process holds an {@link Endpoint} that listens and/or
 * peers, and a {@link ZeekZmqNode} that joins the cluster through its
 * XPUB/XSUB proxy; Zeek events on the bridged topics cross both ways.
 *
 * Topic names follow Zeek 8: its ZeroMQ backend
 * (`policy/frameworks/cluster/backend/zeromq/main.zeek`) redefines only the
 * cluster's own topics, `zeek/cluster/...` becoming `zeek.cluster....`
 * (`Cluster::worker_topic`, the pool topics, `node_topic(name)` and
 * `nodeid_topic(id)`, whose name or ID is kept as it is); every other topic
 * (`zeek/supervisor`, `zeek/table/`, an application's own) is spelled the
 * same on both backends. See {@link brokerToZeromqTopic}.
 *
 * No loops: the endpoint's own subscribers never see what it publishes (as
 * in Broker), and what the proxy sends back of the node's own publications
 * (its XSUB subscribes the same prefixes its XPUB publishes on) is dropped
 * by sender node ID and counted as `echoes`. When two bridges join the same
 * two worlds, each would carry the other's copies back, without end. So a
 * bridge's node ID says it is one (`zeromq_<name>_deno-bridge_<pid>_<random>`,
 * {@link BRIDGE_ID_MARK}; a Zeek node ID is any string to Zeek), and a
 * bridge never carries to the Broker side what another bridge published on
 * ZeroMQ: every loop has that leg. Besides, it drops an event arriving from
 * one side that it published on that side itself within `loopWindowMs`
 * (same topic, same encoded event: another bridge's copy of it). Both count
 * as `loops`. Each bridge still carries its own copy of an event from where
 * it was first published: with two bridges, the other world may see it
 * twice (Broker messages carry nothing that tells a bridged copy apart).
 * Only Zeek events cross: ZeroMQ carries nothing else, so other Broker data
 * is counted as `notEvents`.
 *
 * @module
 */
import { encode } from "../data/mod.ts";
import { Endpoint } from "../endpoint.ts";
import type { EndpointOptions } from "../endpoint_options.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { Subscriber } from "../subscriber.ts";
import { Event } from "../zeek/event.ts";
import { recentKey, RecentKeys } from "./recent.ts";
import { type HostPort, ZeekZmqNode, type ZeekZmqNodeOptions } from "./tcp_node.ts";
import { listenOn } from "../transport/listen_everywhere.ts";

/**
 * What a bridge's ZeroMQ node ID holds (see the module doc): other bridges
 * do not carry its publications to the Broker side. Keep it in an `id` of
 * your own.
 */
export const BRIDGE_ID_MARK = "_deno-bridge_";

const BROKER_CLUSTER = "zeek/cluster/";
const ZEROMQ_CLUSTER = "zeek.cluster.";
const NAMED = ["node", "nodeid"];

/**
 * A topic (or prefix) of the Broker backend as Zeek 8's ZeroMQ backend
 * spells it: under `zeek/cluster/` slashes become dots, the name of
 * `node/<name>/` and the ID of `nodeid/<id>/` kept verbatim; any other topic
 * is the same on both.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { brokerToZeromqTopic } from "./bridge.ts";
 * equal(brokerToZeromqTopic("zeek/cluster/worker"), "zeek.cluster.worker");
 * equal(brokerToZeromqTopic("zeek/cluster/pool/proxy"), "zeek.cluster.pool.proxy");
 * equal(brokerToZeromqTopic("zeek/cluster/node/worker-1/"), "zeek.cluster.node.worker-1.");
 * equal(brokerToZeromqTopic("zeek/table/"), "zeek/table/");
 * ```
 */
export function brokerToZeromqTopic(topic: string): string {
  return mapTopic(topic, BROKER_CLUSTER, "/", ZEROMQ_CLUSTER, ".");
}

/**
 * The inverse of {@link brokerToZeromqTopic}: a ZeroMQ topic as Zeek's
 * Broker backend spells it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { zeromqToBrokerTopic } from "./bridge.ts";
 * equal(zeromqToBrokerTopic("zeek.cluster.manager"), "zeek/cluster/manager");
 * equal(zeromqToBrokerTopic("zeek.cluster.nodeid.zeromq_m_h.lan_7_N1."), "zeek/cluster/nodeid/zeromq_m_h.lan_7_N1/");
 * equal(zeromqToBrokerTopic("/my/app"), "/my/app");
 * ```
 */
export function zeromqToBrokerTopic(topic: string): string {
  return mapTopic(topic, ZEROMQ_CLUSTER, ".", BROKER_CLUSTER, "/");
}

function mapTopic(
  topic: string,
  fromBase: string,
  fromSep: string,
  toBase: string,
  toSep: string,
): string {
  if (!topic.startsWith(fromBase)) return topic;
  const rest = topic.slice(fromBase.length);
  for (const kind of NAMED) {
    // `node` + sep + name + sep: the name may hold the separator (a host name in an ID).
    if (rest.startsWith(kind + fromSep)) {
      const name = rest.slice(kind.length + 1);
      const closed = name.endsWith(fromSep);
      return `${toBase}${kind}${toSep}${closed ? name.slice(0, -1) + toSep : name}`;
    }
  }
  return toBase + rest.split(fromSep).join(toSep);
}

/** Options of {@link ZeromqBridge.start}. */
export interface ZeromqBridgeOptions {
  /**
   * Topic prefixes to bridge, as the Broker side spells them (mapped with
   * {@link brokerToZeromqTopic} for ZeroMQ); events cross both ways on them.
   */
  topics: readonly string[];
  /** More prefixes (Broker spelling) carried from the Broker side to ZeroMQ only. */
  toZeromq?: readonly string[];
  /** More prefixes (Broker spelling) carried from ZeroMQ to the Broker side only. */
  toBroker?: readonly string[];
  /**
   * How long an event a bridge published on one side keeps the same event
   * arriving from that side from crossing back (the loop guard, see the
   * module doc); 0 turns the guard off.
   * @default {1000}
   */
  loopWindowMs?: number;
  /**
   * Carry other bridges' ZeroMQ publications to the Broker side: for
   * bridges into different Broker worlds (one world's events reach the
   * other through the cluster). Never with two bridges into the same two
   * worlds: that is a loop (see the module doc).
   * @default {false}
   */
  carryOtherBridges?: boolean;
  /**
   * Where the Broker side accepts peers (port 0: any free one, see
   * `brokerPort`); without a host, on every interface (`::`, which takes
   * IPv4 too; `0.0.0.0` where the machine has no IPv6).
   */
  listen?: { host?: string; port: number };
  /** Broker peers to dial (re-dialled every `retryMs` when lost). */
  peers?: readonly HostPort[];
  /**
   * Pause between re-dials of a lost Broker peer; 0: never.
   * @default {10_000}
   */
  retryMs?: number;
  /** Options of the bridge's Broker endpoint (ID, TLS, buffers). */
  endpoint?: EndpointOptions;
  /** How the bridge joins the ZeroMQ cluster: its node name, type and the proxy's sockets. */
  zeromq: Omit<ZeekZmqNodeOptions, "logger" | "loggers">;
}

/** What crossed, and what did not. */
export interface ZeromqBridgeStats {
  /** Events from the Broker side published on ZeroMQ. */
  toZeromq: number;
  /** Events from ZeroMQ published on the Broker side. */
  toBroker: number;
  /** Broker messages that are not Zeek events (ZeroMQ carries only events): dropped. */
  notEvents: number;
  /** Our own ZeroMQ publications the proxy sent back: dropped (the loop guard). */
  echoes: number;
  /** Broker events no ZeroMQ node subscribed to (an XPUB sends nothing then). */
  unsubscribed: number;
  /** Broker events dropped because the proxy did not read (the node's `xpubSndhwm`). */
  xpubDrops: number;
  /** Events this bridge had published on the side they came from (another bridge's copies): dropped. */
  loops: number;
  /**
   * Events from ZeroMQ the Broker side cannot carry (a topic over 65,535
   * bytes, say): dropped, as a bad message from any peer is.
   */
  refused: number;
}

/**
 * A running bridge (see the module doc).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint, Event, str } from "../../mod.ts";
 * import { ZeekZmqNode, ZmqProxyServer } from "./mod.ts";
 * import { ZeromqBridge } from "./bridge.ts";
 * const proxy = ZmqProxyServer.listen();
 * const at = {
 *   xpub: { host: "127.0.0.1", port: proxy.xsubPort },
 *   xsub: { host: "127.0.0.1", port: proxy.xpubPort },
 * };
 * const bridge = await ZeromqBridge.start({
 *   topics: ["zeek/cluster/manager", "zeek/cluster/worker"],
 *   listen: { host: "127.0.0.1", port: 0 },
 *   zeromq: { name: "worker-1", nodeType: "worker", ...at },
 * });
 * const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
 * const old = new Endpoint(); // a Broker-protocol peer
 * const sub = old.subscribe("zeek/cluster/worker");
 * await old.peer("127.0.0.1", bridge.brokerPort!);
 * await old.awaitPeerSubscription("zeek/cluster/manager");
 * await bridge.awaitZeromqSubscription("zeek.cluster.worker");
 * old.publishEvent("zeek/cluster/manager", "Test::ping", [str("hi")]);
 * equal((await manager.events.get(5000))?.event.name, "Test::ping");
 * manager.publish("zeek.cluster.worker", new Event("Test::pong", [str("hi")]));
 * equal((await sub.get(5000))?.topic, "zeek/cluster/worker");
 * await old.shutdown();
 * await manager.close();
 * await bridge.close();
 * await proxy.close();
 * ```
 */
export class ZeromqBridge {
  /** The Broker side. */
  readonly endpoint: Endpoint;
  /** The ZeroMQ side. */
  readonly node: ZeekZmqNode;
  /** Port the Broker side listens on, with `listen`. */
  readonly brokerPort?: number;
  readonly #stats: ZeromqBridgeStats = {
    toZeromq: 0,
    toBroker: 0,
    notEvents: 0,
    echoes: 0,
    unsubscribed: 0,
    xpubDrops: 0,
    loops: 0,
    refused: 0,
  };
  // What the bridge published on each side lately (the loop guard); undefined when off.
  #sentToZeromq?: RecentKeys;
  #sentToBroker?: RecentKeys;
  #carryOtherBridges = false;
  readonly #loops: Promise<void>[] = [];
  #closed = false;

  private constructor(
    endpoint: Endpoint,
    node: ZeekZmqNode,
    brokerPort: number | undefined,
    loopWindowMs: number,
  ) {
    this.endpoint = endpoint;
    this.node = node;
    this.brokerPort = brokerPort;
    if (loopWindowMs > 0) {
      this.#sentToZeromq = new RecentKeys(loopWindowMs);
      this.#sentToBroker = new RecentKeys(loopWindowMs);
    }
  }

  /**
   * Joins the cluster, then opens the Broker side (listens, dials the
   * peers: each must answer once), subscribing the topics on both.
   * Throws `invalid_topic_key` without topics.
   */
  static async start(options: ZeromqBridgeOptions): Promise<ZeromqBridge> {
    const fromBroker = [...options.topics, ...options.toZeromq ?? []];
    const fromZeromq = [...options.topics, ...options.toBroker ?? []];
    if (fromBroker.length + fromZeromq.length === 0) {
      throw new BrokerError(ErrorCode.invalid_topic_key, "a bridge needs at least one topic");
    }
    const node = await ZeekZmqNode.connect({
      id: `zeromq_${options.zeromq.name}${BRIDGE_ID_MARK}${Deno.pid}_${
        crypto.randomUUID().replaceAll("-", "").slice(0, 16)
      }`,
      ...options.zeromq,
    });
    const endpoint = new Endpoint(options.endpoint);
    let bridge: ZeromqBridge;
    try {
      const sub = fromBroker.length > 0
        ? endpoint.subscribe(fromBroker, { queueSize: 4096 })
        : undefined;
      for (const t of fromZeromq) node.subscribe(brokerToZeromqTopic(t));
      const listen = options.listen;
      const port = listen === undefined
        ? undefined
        : await listenOn(listen.host, (host) => endpoint.listen(host, listen.port));
      bridge = new ZeromqBridge(endpoint, node, port, options.loopWindowMs ?? 1000);
      bridge.#carryOtherBridges = options.carryOtherBridges ?? false;
      bridge.#loops.push(bridge.#fromZeromq(fromZeromq));
      if (sub) bridge.#loops.push(bridge.#fromBroker(sub));
      await Promise.all(
        (options.peers ?? []).map((p) =>
          endpoint.peer(p.host, p.port, { retryMs: options.retryMs })
        ),
      );
    } catch (e) {
      await endpoint.shutdown();
      await node.close();
      throw e;
    }
    return bridge;
  }

  /** The counters so far. */
  stats(): ZeromqBridgeStats {
    return { ...this.#stats };
  }

  /**
   * Resolves once a ZeroMQ node subscribed a prefix of `topic` (dotted):
   * from then on events for it leave the bridge.
   */
  async awaitZeromqSubscription(topic: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.node.wants(topic)) {
      if (Date.now() > deadline) {
        throw new BrokerError(ErrorCode.request_timeout, `no ZeroMQ subscriber for ${topic}`);
      }
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  async #fromBroker(sub: Subscriber): Promise<void> {
    for await (const m of sub) {
      let event: Event;
      try {
        event = Event.from(m.data);
      } catch {
        this.#stats.notEvents++;
        continue;
      }
      const key = this.#sentToZeromq ? recentKey(m.topic, encode(event.toData())) : 0;
      if (this.#sentToBroker?.has(key, Date.now())) {
        this.#stats.loops++;
        continue;
      }
      const topic = brokerToZeromqTopic(m.topic);
      // Wait rather than drop: the subscriber's queue then holds the Broker
      // side back, as its `block` policy does for any slow reader.
      if (this.node.xpubFull) await this.node.xpubDrained();
      if (this.node.publish(topic, event)) {
        this.#stats.toZeromq++;
        this.#sentToZeromq?.add(key, Date.now());
      } else if (this.node.wants(topic)) this.#stats.xpubDrops++;
      else this.#stats.unsubscribed++;
    }
  }

  async #fromZeromq(topics: readonly string[]): Promise<void> {
    const prefixes = topics.map(brokerToZeromqTopic);
    for await (const m of this.node.events) {
      if (m.sender === this.node.id) {
        this.#stats.echoes++;
        continue;
      }
      if (!this.#carryOtherBridges && m.sender.includes(BRIDGE_ID_MARK)) {
        // Another bridge's: it came from the Broker side, where we got it too.
        this.#stats.loops++;
        continue;
      }
      // The node's own subscriptions (its node topics) bring more than the bridged prefixes.
      if (!prefixes.some((p) => m.topic.startsWith(p))) continue;
      if (this.#closed) break;
      const topic = zeromqToBrokerTopic(m.topic), data = m.event.toData();
      const key = this.#sentToBroker ? recentKey(topic, encode(data)) : 0;
      if (this.#sentToZeromq?.has(key, Date.now())) {
        this.#stats.loops++;
        continue;
      }
      try {
        this.endpoint.publish(topic, data);
      } catch (e) {
        if (!(e instanceof BrokerError)) throw e;
        this.#stats.refused++;
        continue;
      }
      this.#stats.toBroker++;
      this.#sentToBroker?.add(key, Date.now());
    }
  }

  /** Leaves the cluster (other nodes see `node_down`) and shuts the endpoint down. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.node.close();
    await this.endpoint.shutdown();
    await Promise.allSettled(this.#loops);
  }
}
