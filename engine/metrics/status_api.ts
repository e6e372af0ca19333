/**
 * The status API's document (`GET /v1/status/json`), sans I/O: the keys of
 * Broker's (`core_actor_state::status_snapshot` and the stores'
 * `status_snapshot`: `id`, `cluster-node`, `time`, `native-connections`,
 * `message-metrics`, `peerings`, `published-via-async-msg`, `masters`,
 * `clones`), with `local-publishers` and `local-subscribers` as newer
 * Broker versions serve them, and ours beside them: `web-socket-connections`,
 * `subscriptions`, `peer-subscriptions`, `imported-metrics`.
 *
 * Where Broker's numbers have no counterpart here: `peerings.<id>.input`
 * has `delivered` (messages received from that peer) and `output` has
 * `buffered` and `buffered-bytes` (what waits in its send queue), since our
 * peerings have no credit (`requested`). In `message-metrics`, `buffered`
 * is the messages queued for peers now, reported under `data` (peer queues
 * mix the types; nearly all is data), 0 for the others.
 *
 * @example
 * ```ts
 * import { buildStatus } from "./status_api.ts";
 * const s = buildStatus({
 *   id: "x",
 *   clusterNode: "unknown",
 *   now: new Date(0),
 *   processed: { data: 1, command: 0, routingUpdate: 0, ping: 0, pong: 0 },
 *   commandsSent: 0,
 *   published: 0,
 *   webSocketClients: 0,
 *   peers: [],
 *   stores: [],
 *   subscribers: 0,
 *   publishers: 0,
 *   filter: [],
 *   peerFilter: [],
 *   imported: new Map(),
 * });
 * if (s["message-metrics"].data.processed !== 1) throw new Error("counted");
 * ```
 *
 * @module
 */
import type { StoreMetrics } from "../store/store_common.ts";

/** One peer as the status API lists it. */
export interface StatusPeer {
  /** Its endpoint ID, once known. */
  readonly id?: string;
  /** Host we dialled, or of the incoming connection. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** `connecting`, `peered` or `reconnecting`. */
  readonly status: string;
  /** Whether we dialled it. */
  readonly outbound: boolean;
  /** Messages received from it. */
  readonly messagesIn: number;
  /** Messages queued for it. */
  readonly queuedMessages: number;
  /** Their bytes. */
  readonly queuedBytes: number;
}

/** What the status document is built from. */
export interface StatusSources {
  /** Our endpoint ID. */
  readonly id: string;
  /** Broker's `cluster-node` (the `CLUSTER_NODE` environment variable, else `unknown`). */
  readonly clusterNode: string;
  /** Now. */
  readonly now: Date;
  /** Processed messages per type (received, plus ours in `published`). */
  readonly processed: {
    readonly data: number;
    readonly command: number;
    readonly routingUpdate: number;
    readonly ping: number;
    readonly pong: number;
  };
  /** Commands our stores sent. */
  readonly commandsSent: number;
  /** Data messages we published. */
  readonly published: number;
  /** WebSocket clients now. */
  readonly webSocketClients: number;
  /** The peers. */
  readonly peers: readonly StatusPeer[];
  /** The stores. */
  readonly stores: readonly { readonly name: string; readonly metrics: StoreMetrics }[];
  /** Local subscribers. */
  readonly subscribers: number;
  /** Open publishers. */
  readonly publishers: number;
  /** Our filter. */
  readonly filter: readonly string[];
  /** Our peers' filters, merged. */
  readonly peerFilter: readonly string[];
  /** Endpoints whose metrics we import, with the time of their newest export (ns). */
  readonly imported: ReadonlyMap<string, bigint>;
}

/** Processed and buffered messages of one type. */
export interface MessageTypeStatus {
  /** Processed so far. */
  processed: number;
  /** Queued now. */
  buffered: number;
}

/** A peering in the status document. */
export interface PeeringStatus {
  /** `host:port`. */
  address: string;
  /** `connecting`, `peered` or `reconnecting`. */
  status: string;
  /** Whether we dialled it. */
  outbound: boolean;
  /** What came in. */
  input: { delivered: number };
  /** What waits to go out. */
  output: { buffered: number; "buffered-bytes": number };
}

/** The status document (`GET /v1/status/json`). */
export interface NodeStatus {
  /** Our endpoint ID. */
  id: string;
  /** `CLUSTER_NODE`, or `unknown`. */
  "cluster-node": string;
  /** Now, as CAF prints timestamps (ISO 8601, UTC, no zone suffix). */
  time: string;
  /** Peerings now. */
  "native-connections": number;
  /** WebSocket clients now. */
  "web-socket-connections": number;
  /** Open publishers. */
  "local-publishers": number;
  /** Local subscribers. */
  "local-subscribers": number;
  /** Data messages we published. */
  "published-via-async-msg": number;
  /** Per message type (Broker's key spelling: `routing_update`). */
  "message-metrics": Record<
    "data" | "command" | "routing_update" | "ping" | "pong",
    MessageTypeStatus
  >;
  /** Peerings by peer ID (by `host:port` before the ID is known). */
  peerings: Record<string, PeeringStatus>;
  /** Masters by store name. */
  masters: Record<string, unknown>;
  /** Clones by store name. */
  clones: Record<string, unknown>;
  /** Our filter. */
  subscriptions: string[];
  /** Our peers' filters, merged. */
  "peer-subscriptions": string[];
  /** Endpoints whose metrics we import, with their newest export's time. */
  "imported-metrics": Record<string, string>;
}

/** CAF's timestamp text: ISO 8601 in UTC, milliseconds, no zone suffix. */
export function cafTime(d: Date): string {
  return d.toISOString().replace(/Z$/, "");
}

/** Builds the status document. */
export function buildStatus(src: StatusSources): NodeStatus {
  let buffered = 0;
  const peerings: Record<string, PeeringStatus> = {};
  let native = 0;
  for (const p of src.peers) {
    if (p.status === "peered") native++;
    buffered += p.queuedMessages;
    const address = `${p.host}:${p.port}`;
    peerings[p.id ?? address] = {
      address,
      status: p.status,
      outbound: p.outbound,
      input: { delivered: p.messagesIn },
      output: { buffered: p.queuedMessages, "buffered-bytes": p.queuedBytes },
    };
  }
  const masters: Record<string, unknown> = {};
  const clones: Record<string, unknown> = {};
  for (const { name, metrics: m } of src.stores) {
    if (m.role === "master") {
      masters[name] = {
        entries: m.entries,
        inputs: m.inputChannels,
        output: {
          buffered: m.unacknowledgedUpdates,
          paths: m.outputChannels,
        },
        "processed-updates": m.processedUpdates,
      };
    } else {
      clones[name] = {
        entries: m.entries,
        input: { buffered: m.outOfOrderUpdates, channels: m.inputChannels },
        output: { buffered: m.unacknowledgedUpdates, paths: m.outputChannels },
        "pending-writes": m.pendingWrites,
        "processed-updates": m.processedUpdates,
      };
    }
  }
  const p = src.processed;
  const t = (processed: number, b = 0): MessageTypeStatus => ({ processed, buffered: b });
  return {
    id: src.id,
    "cluster-node": src.clusterNode,
    time: cafTime(src.now),
    "native-connections": native,
    "web-socket-connections": src.webSocketClients,
    "local-publishers": src.publishers,
    "local-subscribers": src.subscribers,
    "published-via-async-msg": src.published,
    "message-metrics": {
      data: t(p.data + src.published, buffered),
      command: t(p.command + src.commandsSent),
      routing_update: t(p.routingUpdate),
      ping: t(p.ping),
      pong: t(p.pong),
    },
    peerings,
    masters,
    clones,
    subscriptions: [...src.filter],
    "peer-subscriptions": [...src.peerFilter],
    "imported-metrics": Object.fromEntries(
      [...src.imported].map(([k, ns]) => [k, cafTime(new Date(Number(ns / 1_000_000n)))]),
    ),
  };
}
