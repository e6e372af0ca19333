/**
 * How a node joins a Zeek 8 ZeroMQ cluster, sans-I/O: the topics it
 * subscribes, and the hello exchange of Zeek's
 * `policy/frameworks/cluster/backend/zeromq/main.zeek`. Each node subscribes
 * to its node-ID topic (`zeek.cluster.nodeid.<id>.`); a node that sees
 * another's node-ID subscription on its XPUB sends it
 * `Cluster::Backend::ZeroMQ::hello(name, id)`; once a node has seen both the
 * other's subscription and its ZeroMQ hello it sends `Cluster::hello(name,
 * id)`, on which the receiver's cluster framework raises `node_up`. The
 * node-ID subscription's cancellation means `node_down`.
 *
 * One difference from Zeek: Zeek raises `node_up` as soon as the other
 * node's `Cluster::hello` arrives, which can be before it has sent its own
 * (the subscription it waits for comes over the other socket). Then an
 * event published on `node_up` can reach the other node before our hello,
 * that is before its `node_up` for us. Here `up` waits until both hellos
 * crossed: our hello goes out on the same socket before anything published
 * after `up`, so the other node always knows us first.
 *
 * @example
 * ```ts
 * import { equal, ok } from "node:assert/strict";
 * import { ZeekClusterNode } from "./cluster_node.ts";
 * const node = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "w1" });
 * ok(node.subscriptions().includes("zeek.cluster.nodeid.w1."));
 * const out = node.onSubscription("zeek.cluster.nodeid.m1.", true);
 * equal(out.publish[0].event.name, "Cluster::Backend::ZeroMQ::hello");
 * ```
 *
 * @module
 */
import { str } from "../data/constructors.ts";
import { Event } from "../zeek/event.ts";

/** Zeek's node types, as its ZeroMQ topics name them. */
export type ZeekNodeType = "manager" | "logger" | "proxy" | "worker";

/** Options of a {@link ZeekClusterNode}. */
export interface ZeekClusterNodeOptions {
  /** The node's name in Zeek's cluster layout (`Cluster::node`), e.g. `worker-1`. */
  name: string;
  /** Its type in the layout. */
  nodeType: ZeekNodeType;
  /** Its node ID (`Cluster::node_id()`), unique per run. */
  id: string;
}

/** An event to publish on a topic. */
export interface Publication {
  /** The topic (dotted, Zeek's ZeroMQ naming). */
  topic: string;
  /** The event. */
  event: Event;
}

/** What the node must do after an input, and what it learnt. */
export interface NodeActions {
  /** Events to publish, in order. */
  publish: Publication[];
  /** Nodes that came up (their Cluster::hello arrived): name and ID. */
  up: { name: string; id: string }[];
  /** Nodes that went away (their node-ID topic was unsubscribed). */
  down: { name: string; id: string }[];
  /** Whether the input was one of the cluster's own events, not for the application. */
  internal: boolean;
}

/** Prefix of node-ID topics. */
export const NODEID_TOPIC_PREFIX = "zeek.cluster.nodeid.";
/** Name of the ZeroMQ backend's hello event. */
export const ZEROMQ_HELLO = "Cluster::Backend::ZeroMQ::hello";
/** Name of the cluster framework's hello event. */
export const CLUSTER_HELLO = "Cluster::hello";

/** Zeek's `Cluster::node_topic(name)` on ZeroMQ. */
export function nodeTopic(name: string): string {
  return `zeek.cluster.node.${name}.`;
}

/** Zeek's `Cluster::nodeid_topic(id)` on ZeroMQ. */
export function nodeIdTopic(id: string): string {
  return `${NODEID_TOPIC_PREFIX}${id}.`;
}

/** The topic all nodes of a type share, e.g. `Cluster::worker_topic`. */
export function nodeTypeTopic(type: ZeekNodeType): string {
  return `zeek.cluster.${type}`;
}

/** The hello state of one node (see the module doc). */
export class ZeekClusterNode {
  /** The node's name. */
  readonly name: string;
  /** Its type. */
  readonly nodeType: ZeekNodeType;
  /** Its ID. */
  readonly id: string;
  // Node IDs whose subscription we saw before their ZeroMQ hello, and the other way round.
  readonly #subscribed = new Set<string>();
  readonly #helloed = new Set<string>();
  // Node IDs we sent Cluster::hello to, and those whose Cluster::hello we got (ID to name).
  readonly #helloSent = new Set<string>();
  readonly #helloGot = new Map<string, string>();
  /** Nodes that are up, by ID. */
  readonly #up = new Map<string, string>();

  /** A node; nothing is up yet. */
  constructor(options: ZeekClusterNodeOptions) {
    this.name = options.name;
    this.nodeType = options.nodeType;
    this.id = options.id;
  }

  /**
   * The prefixes the node's XSUB subscribes, as Zeek's nodes do (in the
   * order a worker sends them): supervisor and table topics, its pool and
   * type topics, its node-ID topic, its node topic.
   */
  subscriptions(): string[] {
    const subs = ["zeek/supervisor", "zeek/table/"];
    if (this.nodeType !== "manager") subs.push(`zeek.cluster.pool.${this.nodeType}`);
    subs.push(nodeTypeTopic(this.nodeType), nodeIdTopic(this.id), nodeTopic(this.name));
    return subs;
  }

  /** Nodes that are up: ID to name. */
  get up(): ReadonlyMap<string, string> {
    return this.#up;
  }

  /** A (un)subscription seen on the node's XPUB socket. */
  onSubscription(topic: string, subscribe: boolean): NodeActions {
    const actions = empty();
    if (!topic.startsWith(NODEID_TOPIC_PREFIX) || !topic.endsWith(".")) return actions;
    const other = topic.slice(NODEID_TOPIC_PREFIX.length, -1);
    if (other === this.id) return actions;
    if (!subscribe) {
      this.#forget(other, actions);
      return actions;
    }
    actions.publish.push({ topic, event: this.#hello(ZEROMQ_HELLO) });
    if (this.#helloed.delete(other)) this.#sendClusterHello(other, actions);
    else this.#subscribed.add(other);
    return actions;
  }

  /** An event received on the node's XSUB socket. */
  onEvent(event: Event): NodeActions {
    const actions = empty();
    if (event.name !== ZEROMQ_HELLO && event.name !== CLUSTER_HELLO) return actions;
    actions.internal = true;
    const [name, id] = event.args;
    if (name?.type !== "string" || id?.type !== "string") return actions;
    if (event.name === ZEROMQ_HELLO) {
      // Zeek ignores a second ZeroMQ hello from a node that is up ("sends ZeroMQ::hello
      // twice"), and takes one under a new ID for a name that is up as the old node's end
      // ("never said goodbye": node_down for the old ID). That is how a node that came back
      // while the proxy was away, whose old node-ID subscription the proxy never cancelled,
      // goes down.
      if (this.#up.has(id.value)) return actions;
      for (const [old, upName] of this.#up) {
        if (upName === name.value) this.#forget(old, actions);
      }
      if (this.#subscribed.delete(id.value)) this.#sendClusterHello(id.value, actions);
      else this.#helloed.add(id.value);
    } else {
      this.#helloGot.set(id.value, name.value);
      this.#checkUp(id.value, actions);
    }
    return actions;
  }

  // A node went away: down if it was up, and nothing kept of its hellos.
  #forget(id: string, actions: NodeActions): void {
    const name = this.#up.get(id);
    if (name !== undefined) {
      this.#up.delete(id);
      actions.down.push({ name, id });
    }
    this.#subscribed.delete(id);
    this.#helloed.delete(id);
    this.#helloSent.delete(id);
    this.#helloGot.delete(id);
  }

  #sendClusterHello(id: string, actions: NodeActions): void {
    actions.publish.push({ topic: nodeIdTopic(id), event: this.#hello(CLUSTER_HELLO) });
    this.#helloSent.add(id);
    this.#checkUp(id, actions);
  }

  // Up once both Cluster::hellos crossed (see the module doc), and only once.
  #checkUp(id: string, actions: NodeActions): void {
    const name = this.#helloGot.get(id);
    if (name === undefined || !this.#helloSent.has(id) || this.#up.has(id)) return;
    this.#up.set(id, name);
    actions.up.push({ name, id });
  }

  #hello(name: string): Event {
    return new Event(name, [str(this.name), str(this.id)]);
  }
}

function empty(): NodeActions {
  return { publish: [], up: [], down: [], internal: false };
}
