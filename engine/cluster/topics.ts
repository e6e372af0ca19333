/**
 * Zeek's cluster topic names. They differ per cluster backend: Zeek's
 * `base/frameworks/cluster/main.zeek` uses slashes (the Broker backend), and
 * `policy/frameworks/cluster/backend/zeromq/main.zeek` redefines them all
 * with dots (ZeroMQ, Zeek 8's default backend).
 *
 * @module
 */

/** A Zeek cluster backend, which decides the topic spelling. */
export type ClusterBackend = "broker" | "zeromq";

/** A cluster node's type, as Zeek's `Cluster::NodeType` without `NONE`/`CONTROL`. */
export type NodeType = "manager" | "logger" | "proxy" | "worker";

/**
 * The node types in Zeek's enum order.
 *
 * @example
 * ```ts
 * import { NODE_TYPES } from "./topics.ts";
 * NODE_TYPES.includes("proxy"); // true
 * ```
 */
export const NODE_TYPES: readonly NodeType[] = ["logger", "manager", "proxy", "worker"];

/** Zeek's topic names for one backend. */
export interface ClusterTopics {
  /** Which backend these are for. */
  readonly backend: ClusterBackend;
  /** `Cluster::manager_topic` and its siblings: every node of a type subscribes to its own. */
  readonly typeTopic: Readonly<Record<NodeType, string>>;
  /** `Cluster::node_topic_prefix` (Broker: `zeek/cluster/node/`). */
  readonly nodeTopicPrefix: string;
  /** `Cluster::nodeid_topic_prefix` (Broker: `zeek/cluster/nodeid/`). */
  readonly nodeidTopicPrefix: string;
  /** The pool specs' topics (`Cluster::proxy_pool_spec$topic` and siblings). */
  readonly poolTopic: Readonly<Record<"logger" | "proxy" | "worker", string>>;
  /** `Cluster::node_topic(name)`: one node's own topic. */
  nodeTopic(name: string): string;
  /** `Cluster::nodeid_topic(id)`: one endpoint's own topic. */
  nodeidTopic(id: string): string;
}

function topicsFor(backend: ClusterBackend): ClusterTopics {
  const sep = backend === "broker" ? "/" : ".";
  const base = `zeek${sep}cluster${sep}`;
  // On ZeroMQ the prefixes lack the separator (`zeek.cluster.node`) and
  // node_topic adds one on each side of the name.
  const nodePrefix = backend === "broker" ? `${base}node/` : `${base}node`;
  const nodeidPrefix = backend === "broker" ? `${base}nodeid/` : `${base}nodeid`;
  const join = backend === "broker"
    ? (p: string, s: string) => `${p}${s}/`
    : (p: string, s: string) => `${p}.${s}.`;
  return Object.freeze({
    backend,
    typeTopic: Object.freeze({
      manager: `${base}manager`,
      logger: `${base}logger`,
      proxy: `${base}proxy`,
      worker: `${base}worker`,
    }),
    nodeTopicPrefix: nodePrefix,
    nodeidTopicPrefix: nodeidPrefix,
    poolTopic: Object.freeze({
      logger: `${base}pool${sep}logger`,
      proxy: `${base}pool${sep}proxy`,
      worker: `${base}pool${sep}worker`,
    }),
    nodeTopic: (name: string) => join(nodePrefix, name),
    nodeidTopic: (id: string) => join(nodeidPrefix, id),
  });
}

/**
 * Zeek's cluster topics on the Broker backend.
 *
 * @example
 * ```ts
 * import { BROKER_TOPICS } from "./topics.ts";
 * BROKER_TOPICS.nodeTopic("proxy-1"); // "zeek/cluster/node/proxy-1/"
 * ```
 */
export const BROKER_TOPICS: ClusterTopics = topicsFor("broker");

/**
 * Zeek's cluster topics on the ZeroMQ backend.
 *
 * @example
 * ```ts
 * import { ZEROMQ_TOPICS } from "./topics.ts";
 * ZEROMQ_TOPICS.nodeTopic("proxy-1"); // "zeek.cluster.node.proxy-1."
 * ```
 */
export const ZEROMQ_TOPICS: ClusterTopics = topicsFor("zeromq");

/**
 * The topics of a backend.
 *
 * @example
 * ```ts
 * import { clusterTopics } from "./topics.ts";
 * clusterTopics("zeromq").typeTopic.worker; // "zeek.cluster.worker"
 * ```
 */
export function clusterTopics(backend: ClusterBackend = "broker"): ClusterTopics {
  return backend === "zeromq" ? ZEROMQ_TOPICS : BROKER_TOPICS;
}
