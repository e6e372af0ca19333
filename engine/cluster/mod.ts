/**
 * Zeek's cluster layer: topics, pools (HRW and round-robin exactly as Zeek
 * computes them), layouts, cluster nodes and load-balanced groups.
 *
 * @example
 * ```ts
 * import { Pool } from "./mod.ts";
 * new Pool(["proxy-1", "proxy-2"]).hrwTopic("10.0.0.1"); // one proxy's node topic
 * ```
 *
 * @module
 */
export {
  fnv1a32,
  fnv1a32Bytes,
  fnv1a32String,
  type HrwKey,
  hrwWeight,
  type ZeekEnumKey,
  zeekKeyBytes,
} from "./hash.ts";
export {
  type GroupEvent,
  GroupMember,
  type GroupMemberOptions,
  type GroupMessage,
  groupPrefix,
  GroupPublisher,
  type GroupPublisherOptions,
  type GroupSelection,
} from "./group.ts";
export { ClusterLayout, type LayoutNode, type LayoutObject } from "./layout.ts";
export {
  type ClusterEvent,
  ClusterNode,
  type ClusterNodeOptions,
  DEFAULT_WAIT_MS,
  LOG_TOPIC_PREFIX,
  rrLogTopic,
  type WaitForOptions,
} from "./node.ts";
export { Pool, type PoolNode, type PoolOptions } from "./pool.ts";
export {
  BROKER_TOPICS,
  type ClusterBackend,
  type ClusterTopics,
  clusterTopics,
  NODE_TYPES,
  type NodeType,
  ZEROMQ_TOPICS,
} from "./topics.ts";
