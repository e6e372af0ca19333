/**
 * ZeroMQ's wire protocol, ZMTP 3.1, sans-I/O, for Zeek 8's ZeroMQ cluster
 * backend: the greeting, frames and multipart messages, commands (the NULL
 * mechanism's READY, ERROR, SUBSCRIBE/CANCEL, PING/PONG), subscriptions in
 * both forms, a session that runs the handshake, and Zeek's 4-part messages
 * (topic, sender node, format, payload) whose `broker-bin-v1` payloads our
 * Broker codec reads; then the cluster's hello exchange (sans-I/O) and a
 * TCP node that joins a Zeek 8 cluster through its XPUB/XSUB proxy (and,
 * as libzmq's sockets do, dials it again when it goes away), the proxy
 * itself, and a bridge to the Broker protocol (`bridge.ts`). Written
 * in TypeScript rather than binding libzmq (`npm:zeromq` ships native N-API
 * binaries), so it runs wherever Deno does.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZmtpSession } from "./mod.ts";
 * const s = new ZmtpSession({ socketType: "XSUB" });
 * equal(s.takeOutput()?.length, 64); // the greeting
 * ```
 *
 * @module
 */
export {
  encodeGreeting,
  type Greeting,
  GREETING_SIZE,
  type GreetingOptions,
  isSignature,
  parseGreeting,
  SIGNATURE_SIZE,
} from "./greeting.ts";
export {
  DEFAULT_MAX_ZMTP_FRAME_SIZE,
  encodeFrame,
  encodeMessage,
  FrameDecoder,
  FrameFlag,
  type ZmtpFrame,
} from "./frame.ts";
export {
  encodeCommand,
  encodeError,
  encodeReady,
  parseCommand,
  parseError,
  parseReady,
  pongFor,
  type Property,
  propertyValue,
  type ZmtpCommand,
} from "./command.ts";
export {
  encodeSubscription,
  type Subscription,
  subscriptionFromCommand,
  subscriptionFromMessage,
} from "./subscription.ts";
export {
  type SocketType,
  type ZmtpEvent,
  ZmtpSession,
  type ZmtpSessionOptions,
} from "./session.ts";
export {
  BROKER_BIN_V1,
  eventMessage,
  LOG_WRITE_TOPIC,
  parseZeekZmqMessage,
  ZEEK_BIN_SERIALIZER,
  zeekZmqEvent,
  type ZeekZmqMessage,
  zeekZmqMessageParts,
} from "./zeek_message.ts";
export {
  CLUSTER_HELLO,
  type NodeActions,
  NODEID_TOPIC_PREFIX,
  nodeIdTopic,
  nodeTopic,
  nodeTypeTopic,
  type Publication,
  ZeekClusterNode,
  type ZeekClusterNodeOptions,
  type ZeekNodeType,
  ZEROMQ_HELLO,
} from "./cluster_node.ts";
export {
  ZEEK_ZMQ_DEFAULT_SNDHWM,
  type ZeekNodeStatus,
  type ZeekZmqEventMessage,
  type ZeekZmqLinkStatus,
  type ZeekZmqLogMessage,
  ZeekZmqNode,
  type ZeekZmqNodeOptions,
  type ZeekZmqNodeStats,
} from "./tcp_node.ts";
export {
  decodeLogRecord,
  decodeLogWriteBatch,
  encodeLogRecord,
  encodeLogWriteBatch,
  type LogData,
  type LogField,
  type LogPort,
  type LogSubnet,
  type LogValue,
  type LogWriteBatch,
  ZeekType,
} from "./log_batch.ts";
export { type ProxyOutput, type ProxySide, ZmqProxy } from "./proxy.ts";
export { recentKey, RecentKeys } from "./recent.ts";
export { type CommandHandler, frameLength, MessageScanner, RECORD_SIZE } from "./scan.ts";
export { SUBSCRIBER_HWM_BYTES, ZmqProxyServer, type ZmqProxyServerOptions } from "./tcp_proxy.ts";
export { type BulkReceiver, type HostPort, ZmtpConnection } from "./tcp_connection.ts";
export { ZmtpLink, type ZmtpLinkOptions, type ZmtpLinkStatus } from "./tcp_link.ts";
export {
  ReconnectInterval,
  type ReconnectIntervalOptions,
  ZMQ_RECONNECT_IVL_MAX_MS,
  ZMQ_RECONNECT_IVL_MS,
} from "./reconnect.ts";
export {
  BRIDGE_ID_MARK,
  brokerToZeromqTopic,
  ZeromqBridge,
  type ZeromqBridgeOptions,
  type ZeromqBridgeStats,
  zeromqToBrokerTopic,
} from "./bridge.ts";
