/**
 * One node of a Zeek cluster, on the Broker backend, built only on the
 * public `Endpoint` API: it listens and peers as Zeek's
 * `policy/frameworks/cluster/backend/broker/main.zeek` does, subscribes as
 * `base/frameworks/cluster/setup-subscriptions.zeek`, and runs Zeek's hello
 * protocol:
 *
 * - on every new peering (`peer_added`) it publishes
 *   `Cluster::hello(name, node_id)` to the peer's `nodeid_topic`;
 * - a manager sends `Broker::announce_masters(ids)` there first, the
 *   Broker-backed tables it masters (`broker-stores.zeek`; an empty set when
 *   none, as Zeek's manager does), so the other nodes attach their clones
 *   (`___sync_store_<id>`, see `attachTableMaster`); ours do so too, as
 *   Zeek's (see `tableClone`);
 * - a `Cluster::hello` from a layout node that had no ID raises `node_up`
 *   (one from an unknown name is an error; a second ID for a name is one
 *   too, and replaces the first, as in Zeek);
 * - a lost peering (`peer_lost`, and here also `peer_removed`) of a node
 *   with a known ID raises `node_down`. Zeek 8.2.2 raises it on `peer_lost`
 *   only: on its own `Broker::unpeer` it gets `peer_removed` and keeps the
 *   node up (its ID, its pools; checked live). Here the node goes down, as it
 *   can no longer be reached (Broker's pub/sub goes to direct peers only) and
 *   its pools' keys must move; a later hello brings it up again. The other
 *   side, Zeek's or ours, gets `peer_lost` and `node_down` either way.
 *
 * Pools built from the layout follow `node_up`/`node_down`, as Zeek's.
 *
 * Beyond Zeek: relays. Zeek's hello goes to the direct peer's ID, so a
 * C++ `broker-node` relaying one peering (it must subscribe `zeek/cluster/`
 * to forward the cluster's topics) would swallow it. When a peering we
 * dialled to layout node X brings no hello from that peer within
 * `relayIntervalMs`, the node also says hello on X's node topic; a hello
 * from a node that is not a direct peer is answered on its nodeid topic.
 * Such relayed nodes get no `peer_lost` when they go, so both sides repeat
 * the hello every `relayIntervalMs` and a relayed node not heard from for
 * three intervals is down. Direct peerings (all of Zeek's) see exactly
 * Zeek's protocol.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { set, str } from "../data/constructors.ts";
import type { Data } from "../data/types.ts";
import { Endpoint } from "../endpoint.ts";
import { BoundedQueue } from "../queue.ts";
import type { Subscriber, SubscriberOptions } from "../subscriber.ts";
import { StatusCode, type StatusEvent } from "../status.ts";
import { parseZeekMessage } from "../zeek/message.ts";
import { Event } from "../zeek/event.ts";
import type { ClusterLayout, LayoutNode } from "./layout.ts";
import { Conditions } from "../conditions.ts";
import { Pool } from "./pool.ts";
import { type ClusterTopics, clusterTopics } from "./topics.ts";
import { listenOn } from "../transport/listen_everywhere.ts";
import type { StoreBackend } from "../store/backend.ts";
import type { MasterOptions } from "../store/master.ts";
import type { CloneOptions } from "../store/clone.ts";
import type { Store } from "../store/store.ts";
import type { LogCreate } from "../zeek/log_create.ts";
import type { LogWrite } from "../zeek/log_write.ts";

/**
 * Zeek's `Broker::default_log_topic_prefix`, which loggers (and a logging manager) subscribe.
 *
 * @example
 * ```ts
 * import { LOG_TOPIC_PREFIX } from "./node.ts";
 * "zeek/logs/conn".startsWith(LOG_TOPIC_PREFIX); // true
 * ```
 */
export const LOG_TOPIC_PREFIX = "zeek/logs/";

/**
 * The prefix every Zeek node subscribes for `&publish_on_change` tables
 * (`base/frameworks/cluster/publish-on-change.zeek`): a table `t` changes on
 * `zeek/table/t/` by default (checked live with Zeek 8.2.2's manager).
 */
const TABLE_TOPIC_PREFIX = "zeek/table/";

/** Zeek's `SupervisorControl::topic_prefix`, which every Zeek process subscribes. */
const SUPERVISOR_TOPIC = "zeek/supervisor";

/** The store name Zeek gives the Broker-backed table `id` (`Broker::Manager`, `broker-stores.zeek`). */
const SYNC_STORE_PREFIX = "___sync_store_";

/**
 * Zeek's `Cluster::rr_log_topic(id, path)` for the log stream `id` (its
 * `Log::ID` name, e.g. `"Conn::LOG"`): the next alive logger of `loggers` in
 * turn (`rr_topic` with the key `"Cluster::rr_log_topic"`), or, with none
 * alive, `Broker::default_log_topic(id, path)`, which Zeek 8.2.2 makes of
 * the ID alone: `zeek/logs/Conn::LOG` (checked live; the path does not enter).
 * The records' topic only: the stream's log-create goes to every logger
 * (see {@linkcode ClusterNode.publishLogCreate}).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Pool } from "./pool.ts";
 * import { rrLogTopic } from "./node.ts";
 * const loggers = new Pool(["logger-1", "logger-2"]);
 * equal(rrLogTopic(loggers, "Conn::LOG"), "zeek/cluster/node/logger-1/");
 * equal(rrLogTopic(loggers, "DNS::LOG"), "zeek/cluster/node/logger-2/");
 * equal(rrLogTopic(new Pool([]), "Conn::LOG"), "zeek/logs/Conn::LOG");
 * ```
 */
export function rrLogTopic(loggers: Pool, id: string): string {
  return loggers.rrTopic("Cluster::rr_log_topic") || LOG_TOPIC_PREFIX + id;
}

/**
 * Zeek's `Broker::default_listen_address`, where Zeek's Broker cluster
 * backend listens whatever host the layout gives the node: the environment
 * variable `ZEEK_DEFAULT_LISTEN_ADDRESS`, else `""`, every interface (checked
 * live: Zeek 8.2.2's manager on a layout host of 127.0.0.1 listens on `*`).
 * Without permission to read the environment, `""`.
 *
 * @example
 * ```ts
 * import { zeekListenAddress } from "./node.ts";
 * typeof zeekListenAddress(); // "string"
 * ```
 */
export function zeekListenAddress(): string {
  try {
    return Deno.env.get("ZEEK_DEFAULT_LISTEN_ADDRESS") ?? "";
  } catch {
    return "";
  }
}

/**
 * The re-dial pause Zeek's Broker cluster backend peers with, in ms:
 * `Cluster::retry_interval` (1 s), or the environment variable
 * `ZEEK_DEFAULT_CONNECT_RETRY`, which Zeek's `Broker::Manager::Peer` reads
 * with `atoi` as whole seconds (`"2.5"` is 2 s; 0, `"0.5"` too, is one
 * attempt and no re-dial). Without permission to read the environment, 1 s.
 *
 * @example
 * ```ts
 * import { zeekConnectRetryMs } from "./node.ts";
 * typeof zeekConnectRetryMs(); // "number"
 * ```
 */
export function zeekConnectRetryMs(): number {
  let text: string | undefined;
  try {
    text = Deno.env.get("ZEEK_DEFAULT_CONNECT_RETRY");
  } catch {
    text = undefined;
  }
  if (text === undefined) return 1000;
  // atoi: leading blanks, a sign, digits; anything else ends it (none: 0).
  const n = Number(/^\s*([+-]?\d+)/.exec(text)?.[1] ?? 0);
  return Math.max(0, n) * 1000;
}

/** Something that happened to the cluster, as this node sees it. */
export type ClusterEvent =
  | { kind: "node_up"; name: string; id: string }
  | { kind: "node_down"; name: string; id: string }
  | { kind: "error"; message: string };

/** Default of {@linkcode WaitForOptions.timeoutMs}. */
export const DEFAULT_WAIT_MS = 10_000;

/** Options of `ClusterNode.waitFor`. */
export interface WaitForOptions {
  /**
   * Wait for the nodes to be up (`true`) or down (`false`).
   * @default {true}
   */
  up?: boolean;
  /**
   * How long to wait before rejecting with `request_timeout`.
   * @default {10_000}
   */
  timeoutMs?: number;
}

/** Options of {@link ClusterNode.join}. */
export interface ClusterNodeOptions {
  /**
   * The endpoint to use (it must not be peered yet); default a new one, shut
   * down on `close`, that relays no other endpoint's messages
   * (`disableForwarding`), as a Zeek node's (`Broker::forward_messages` is F):
   * one given here should do the same, or Zeek nodes that peer with it and
   * with each other get each broadcast twice.
   */
  endpoint?: Endpoint;
  /**
   * Address to listen on; `""` is every interface (IPv6 and IPv4). Default:
   * Zeek's `Broker::default_listen_address`, see {@linkcode zeekListenAddress}.
   */
  listenHost?: string;
  /** Port to listen on instead of the layout's (0: a free one; tests). */
  listenPort?: number;
  /** More topics for `messages`, besides the node's own. */
  topics?: string[];
  /** Options of the `messages` subscriber (default: 1024 messages, `drop_oldest`). */
  subscriberOptions?: SubscriberOptions;
  /**
   * Pause between re-dials of a lost or refused peering; Zeek's
   * `Cluster::retry_interval` is 1 s, which `ZEEK_DEFAULT_CONNECT_RETRY`
   * overrides (see {@linkcode zeekConnectRetryMs}), the default here too.
   * @default {1000}
   */
  retryMs?: number;
  /** Hello fallback and keep-alive period for nodes reached through relays (default 500 ms). */
  relayIntervalMs?: number;
  /**
   * Whether a node that is no manager clones the Broker-backed tables a
   * manager announces (`Broker::announce_masters`), as every Zeek node but
   * the manager does (`broker-stores.zeek`); see `ClusterNode.tableClone`.
   * Off, the announcement only shows in `messages`.
   * @default {true}
   */
  cloneTables?: boolean;
  /**
   * Options of those clones. Zeek's `Broker::create_clone` passes its
   * resync, stale and mutation-buffer intervals (10 s, 5 min, 2 min), which
   * Broker's `attach_clone` takes and does not use: its clone has Broker's
   * fixed timings, as ours has by default.
   */
  tableCloneOptions?: CloneOptions;
}

/**
 * A node of a Zeek cluster layout: it peers per the layout, says hello as
 * Zeek's scripts do and keeps a live view of which nodes are up.
 *
 * @example
 * ```ts ignore
 * import { ClusterLayout, ClusterNode, str } from "../../mod.ts";
 * const layout = ClusterLayout.fromJson(await Deno.readTextFile("cluster.json"));
 * const node = await ClusterNode.join(layout, "worker-1");
 * const events = node.events();
 * for await (const ev of events) console.log(ev.kind, ev.kind !== "error" && ev.name);
 * const topic = node.pool("proxy").hrwTopic("10.0.0.1");
 * if (topic) node.endpoint.publishEvent(topic, "Test::key", [str("10.0.0.1")]);
 * ```
 */
export class ClusterNode {
  /** Removes the metric series registered at construction (run at close). */
  readonly #unmetrics: (() => void)[] = [];
  /** The layout. */
  readonly layout: ClusterLayout;
  /** This node in the layout. */
  readonly self: LayoutNode;
  /** Zeek's topic names for the layout's backend. */
  readonly topics: ClusterTopics;
  /** The endpoint carrying the node. */
  readonly endpoint: Endpoint;
  /**
   * Messages on the node's own topics (node topic, nodeid topic, type topic,
   * its pools' topics, `zeek/table/`, `zeek/supervisor`, `zeek/logs/` on
   * loggers), as a Zeek node subscribes them, and `options.topics`. The
   * `Cluster::hello` events the node handles show here too, as a Zeek node
   * raises them.
   */
  readonly messages: Subscriber;
  /** The port the node listens on (0 when it does not). */
  readonly port: number;

  readonly #ownsEndpoint: boolean;
  readonly #ids = new Map<string, string>();
  readonly #pools: Record<"proxy" | "worker" | "logger", Pool>;
  readonly #queues = new Set<BoundedQueue<ClusterEvent>>();
  readonly #hellos: Subscriber;
  readonly #status: BoundedQueue<StatusEvent>;
  readonly #loops: Promise<void>[] = [];
  readonly #conditions = new Conditions();
  readonly #counters = { up: 0, down: 0, hellosSent: 0, hellosReceived: 0 };
  /** Nodes up through a relay (not direct peers): when we last heard their hello. */
  readonly #relayed = new Map<string, number>();
  /** Peerings we dialled: when each came up, by `host:port`. */
  readonly #dialledSince = new Map<string, number>();
  readonly #relayIntervalMs: number;
  /** The log writers `publishLogCreate` made, by stream, writer and path: each new peer gets them. */
  readonly #logCreates = new Map<string, LogCreate>();
  /** Peers (by ID) that got every log-create in `#logCreates`. */
  readonly #createsSentTo = new Set<string>();
  /** The Broker-backed tables this manager masters (`attachTableMaster`), which it announces. */
  readonly #tables = new Set<string>();
  /** Clones of the Broker-backed tables managers announced, by table ID (`tableClone`). */
  readonly #clones = new Map<string, Store>();
  readonly #cloneTables: boolean;
  readonly #tableCloneOptions?: CloneOptions;
  #tick?: ReturnType<typeof setInterval>;
  #closed = false;

  private constructor(
    layout: ClusterLayout,
    self: LayoutNode,
    endpoint: Endpoint,
    ownsEndpoint: boolean,
    options: ClusterNodeOptions,
    port: number,
  ) {
    this.layout = layout;
    this.self = self;
    this.topics = clusterTopics(layout.backend);
    this.endpoint = endpoint;
    this.#ownsEndpoint = ownsEndpoint;
    this.port = port;
    const pool = (t: "proxy" | "worker" | "logger") =>
      new Pool(layout.poolMembers(t), { alive: false, self: self.name, backend: layout.backend });
    this.#pools = { proxy: pool("proxy"), worker: pool("worker"), logger: pool("logger") };
    // Subscribed before any peering, so the first handshake announces them all.
    // The nodeid topic too, as Zeek's setup-subscriptions.zeek: a Zeek manager
    // sends Broker::announce_masters there, and scripts reply by node ID.
    const own = [
      this.topics.nodeTopic(self.name),
      this.topics.nodeidTopic(endpoint.id),
      this.topics.typeTopic[self.type],
      // Every Zeek node takes the &publish_on_change tables' changes.
      TABLE_TOPIC_PREFIX,
      // And the supervisor's control events: base/frameworks/supervisor subscribes
      // them in every Zeek process (its handlers act in the supervisor alone).
      SUPERVISOR_TOPIC,
    ];
    for (const t of ["proxy", "worker", "logger"] as const) {
      if (this.#pools[t].has(self.name)) own.push(this.topics.poolTopic[t]);
    }
    if (self.type === "logger" || (self.type === "manager" && layout.managerIsLogger)) {
      own.push(LOG_TOPIC_PREFIX);
    }
    this.messages = endpoint.subscribe([...own, ...(options.topics ?? [])], {
      queueSize: 1024,
      overflowPolicy: "drop_oldest",
      ...options.subscriberOptions,
    });
    // Hellos come on the nodeid topic (Zeek's way) or, through relays, on the node topic.
    this.#hellos = endpoint.subscribe([
      this.topics.nodeidTopic(endpoint.id),
      this.topics.nodeTopic(self.name),
      // A manager relays the workers' table changes (forward_table_change_infos).
      ...(self.type === "manager" ? [this.topics.typeTopic.manager] : []),
    ]);
    this.#status = endpoint.statusSubscriber();
    this.#relayIntervalMs = options.relayIntervalMs ?? 500;
    // Zeek's manager masters them (table_store_master); every other node clones.
    this.#cloneTables = self.type !== "manager" && (options.cloneTables ?? true);
    this.#tableCloneOptions = options.tableCloneOptions;
    this.#loops.push(this.#helloLoop(), this.#statusLoop());
    this.#registerMetrics();
    this.#tick = setInterval(() => this.#relayTick(), this.#relayIntervalMs);
    Deno.unrefTimer(this.#tick);
  }

  /**
   * Joins the cluster as `name`: listens on the node's port when it has one
   * (on `listenHost`, by default Zeek's: every interface, not the layout's host),
   * then dials the nodes Zeek's connection pattern gives it (re-dialling
   * every `retryMs`, without waiting for them). Throws `invalid_data`
   * when `name` is not in the layout.
   */
  static async join(
    layout: ClusterLayout,
    name: string,
    options: ClusterNodeOptions = {},
  ): Promise<ClusterNode> {
    const self = layout.node(name);
    if (layout.backend !== "broker") {
      throw new BrokerError(
        ErrorCode.invalid_data,
        "a ClusterNode joins over Broker peerings; the layout's backend is zeromq",
      );
    }
    // Zeek's Broker manager: disable_forwarding = !Broker::forward_messages (F).
    const endpoint = options.endpoint ?? new Endpoint({ disableForwarding: true });
    const node = new ClusterNode(layout, self, endpoint, !options.endpoint, options, 0);
    let port = 0;
    try {
      const listenPort = options.listenPort ?? self.port;
      if (listenPort !== 0 || options.listenPort === 0) {
        // "" is every interface, as Broker binds it.
        const host = options.listenHost ?? zeekListenAddress();
        const listen = (h: string) => endpoint.listen(h, listenPort);
        port = await listenOn(host === "" ? undefined : host, listen);
      }
    } catch (e) {
      await node.close();
      throw e;
    }
    (node as { port: number }).port = port;
    for (const peer of layout.connections(name)) {
      if (peer.port === 0) continue;
      endpoint.peerNoWait(peer.host, peer.port, {
        retryMs: options.retryMs ?? zeekConnectRetryMs(),
      });
    }
    return node;
  }

  /** The node's name. */
  get name(): string {
    return this.self.name;
  }

  /** This node's ID (`Cluster::node_id()`: the endpoint's ID). */
  get id(): string {
    return this.endpoint.id;
  }

  /** The nodes that are up, by name, with their IDs (Zeek's `Cluster::nodes[n]$id`). */
  up(): Map<string, string> {
    return new Map(this.#ids);
  }

  /** Whether a node is up. */
  isUp(name: string): boolean {
    return this.#ids.has(name);
  }

  /** One of Zeek's pools (`Cluster::proxy_pool` and siblings), following node_up/node_down. */
  pool(type: "proxy" | "worker" | "logger"): Pool {
    return this.#pools[type];
  }

  /** `Cluster::rr_log_topic(id, path)` over this node's logger pool (see {@linkcode rrLogTopic}). */
  rrLogTopic(id: string): string {
    return rrLogTopic(this.#pools.logger, id);
  }

  /** A new queue of cluster events from now on (drops the oldest past `size`). */
  events(size = 256): BoundedQueue<ClusterEvent> {
    const q = new BoundedQueue<ClusterEvent>(size, "drop_oldest");
    if (this.#closed) q.close();
    else this.#queues.add(q);
    return q;
  }

  /**
   * Resolves once the named nodes are all up (or, with `up: false`, all
   * down); rejects with `request_timeout` after `timeoutMs`, and with
   * `shutting_down` when the node is closed first (or was already).
   */
  waitFor(names: string | string[], options: WaitForOptions = {}): Promise<void> {
    const list = typeof names === "string" ? [names] : names;
    const up = options.up ?? true;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_MS;
    const met = () => list.every((n) => this.#ids.has(n) === up);
    const what = `${list.join(", ")} ${up ? "up" : "down"}`;
    // Closing wakes the wait (and clears its timer): a closed node's view no
    // longer changes, so it would only run out its timeout.
    return this.#conditions.until(
      () => this.#closed || met(),
      timeoutMs,
      () => `${this.name}: ${list.join(", ")} not ${up ? "up" : "down"} after ${timeoutMs} ms`,
    ).then(() => {
      if (this.#closed && !met()) {
        throw new BrokerError(ErrorCode.shutting_down, `${this.name}: closed, ${what} not seen`);
      }
    });
  }

  /**
   * The master of Zeek's Broker-backed table `id` (a `&backend` table),
   * which Zeek's nodes keep in the store `___sync_store_<id>`: a manager
   * announces it with `Broker::announce_masters` to every peer (now, and on
   * each new peering before its hello, as Zeek's manager does), and Zeek's
   * other nodes attach a clone that fills their table. A key is the table's
   * index (a vector of several indexes), the value its yield (checked live).
   * Zeek 8.2.2 deprecates such tables (to go in 9.1) but still syncs them.
   * Throws `invalid_data` on a node that is no manager: Zeek's others clone
   * (`table_store_master = F`).
   *
   * @example
   * ```ts ignore
   * import { ClusterLayout, ClusterNode, count, str } from "../../mod.ts";
   * const layout = ClusterLayout.fromJson(await Deno.readTextFile("cluster.json"));
   * const manager = await ClusterNode.join(layout, "manager");
   * // Zeek's workers: global shared: table[string] of count &backend=Broker::MEMORY;
   * const shared = manager.attachTableMaster("shared");
   * await shared.put(str("k"), count(42n)); // each worker's shared["k"] is 42
   * ```
   */
  attachTableMaster(id: string, backend?: StoreBackend, options?: MasterOptions): Store {
    if (this.self.type !== "manager") {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `${this.name}: only a manager masters Zeek's Broker-backed tables`,
      );
    }
    const store = this.endpoint.attachMaster(SYNC_STORE_PREFIX + id, backend, options);
    this.#tables.add(id);
    for (const p of this.endpoint.peers()) {
      if (p.status === "peered" && p.id) this.#announceMasters(p.id);
    }
    return store;
  }

  /**
   * The clone of Zeek's Broker-backed table `id` (its global's name, as
   * `Test::shared` in a module; store `___sync_store_<id>`) this node
   * attached when a manager announced it (`Broker::announce_masters`, sent
   * to each peer before its hello), as Zeek's non-manager nodes do
   * (`broker-stores.zeek`: `Broker::create_clone` for each ID, once per
   * name): reads answer from the manager's master, a key being the table's
   * index (a vector of several indexes), the value its yield. `undefined`
   * until announced (or with `cloneTables: false`, or on a manager). The
   * node owns it: `close` closes it.
   *
   * @example
   * ```ts ignore
   * import { ClusterLayout, ClusterNode, str } from "../../mod.ts";
   * const layout = ClusterLayout.fromJson(await Deno.readTextFile("cluster.json"));
   * const worker = await ClusterNode.join(layout, "worker-1");
   * // Zeek's manager: global shared: table[string] of count &backend=Broker::MEMORY;
   * const shared = await worker.waitForTableClone("shared");
   * console.log(await shared.get(str("k")), worker.tableClone("shared") === shared); // true
   * ```
   */
  tableClone(id: string): Store | undefined {
    return this.#clones.get(id);
  }

  /**
   * Resolves with {@linkcode ClusterNode.tableClone}`(id)` once a manager
   * announced the table; rejects with `request_timeout` after `timeoutMs`,
   * and with `shutting_down` when the node is closed first.
   */
  async waitForTableClone(id: string, timeoutMs = DEFAULT_WAIT_MS): Promise<Store> {
    await this.#conditions.until(
      () => this.#closed || this.#clones.has(id),
      timeoutMs,
      () => `${this.name}: no clone of table ${id} after ${timeoutMs} ms (not announced)`,
    );
    const store = this.#clones.get(id);
    if (this.#closed || !store) {
      throw new BrokerError(ErrorCode.shutting_down, `${this.name}: closed, no clone of ${id}`);
    }
    return store;
  }

  /**
   * Zeek's `Broker::announce_masters` handler on nodes that are no manager
   * (`broker-stores.zeek`): a clone of `___sync_store_<id>` per announced
   * ID, once per name (Zeek's `MakeClone` skips a store it has, so a second
   * announcement, from a reconnect or another manager, changes nothing).
   */
  #announcedMasters(args: readonly Data[]): void {
    if (this.#closed) return;
    const [masters] = args;
    if (masters?.type !== "set") {
      this.#emit({ kind: "error", message: "Broker::announce_masters with bad arguments" });
      return;
    }
    for (const m of masters.value) {
      if (m.type !== "string" || this.#clones.has(m.value)) continue;
      try {
        const store = this.endpoint.attachClone(
          SYNC_STORE_PREFIX + m.value,
          this.#tableCloneOptions,
        );
        this.#clones.set(m.value, store);
      } catch (e) {
        // Zeek: "Failed to attach clone store" (e.g. this endpoint masters it).
        this.#emit({
          kind: "error",
          message: `Failed to attach clone store ${SYNC_STORE_PREFIX}${m.value}: ${
            (e as Error).message
          }`,
        });
      }
    }
    this.#conditions.changed();
  }

  /** Zeek's manager's `Broker::announce_masters` to a peer's nodeid topic. */
  #announceMasters(peerId: string): void {
    try {
      this.endpoint.publishEvent(this.topics.nodeidTopic(peerId), "Broker::announce_masters", [
        set(...[...this.#tables].map((t) => str(t))),
      ]);
    } catch {
      // shutting down
    }
  }

  /**
   * Opens a log writer on the cluster's loggers as a Zeek node does: the
   * log-create goes to `zeek/logs/<stream>` (`Broker::default_log_topic_prefix`
   * and the stream's ID), which every logger subscribes, not to one logger as
   * the writes do, and again to each new peer (a logger that joins or comes
   * back) before its `node_up`, as Zeek's logging manager sends its writers
   * to every new peer (`SendAllWritersTo` on `peer_added`; all checked live
   * with Zeek 8.2.2). That one goes to the new peer alone, as Zeek's
   * (`PublishLogCreate` with the peer: Broker's `publish(dst, ...)`, see
   * `Endpoint.publishTo`), so the loggers already peered do not get it again.
   * A logger drops, silently, the writes of a writer it got no log-create for.
   *
   * @example
   * ```ts ignore
   * import { ClusterLayout, ClusterNode, LogCreate, LogWrite } from "../../mod.ts";
   * import { bool, count, none, real, str, table, vector } from "../../mod.ts";
   * const layout = ClusterLayout.fromJson(await Deno.readTextFile("cluster.json"));
   * const worker = await ClusterNode.join(layout, "worker-1");
   * // Writer info: path, rotation base and interval, network time, config, post-processor.
   * const info = vector(str("test"), real(0), real(0), real(0), table(), str(""));
   * const fields = vector(vector(str("n"), none(), count(3n), count(0n), bool(false)));
   * worker.publishLogCreate(new LogCreate("Test::LOG", "Log::WRITER_ASCII", info, fields));
   * worker.publishLogWrite(new LogWrite("Test::LOG", "Log::WRITER_ASCII", "test", new Uint8Array()));
   * ```
   */
  publishLogCreate(create: LogCreate): void {
    const info = create.writerInfo;
    const path = info.type === "vector" && info.value[0]?.type === "string"
      ? info.value[0].value
      : "";
    this.#logCreates.set(JSON.stringify([create.streamId, create.writerId, path]), create);
    this.endpoint.publish(LOG_TOPIC_PREFIX + create.streamId, create.toData());
  }

  /**
   * Writes a log record as a Zeek node does: to `Cluster::rr_log_topic`,
   * the next alive logger in turn, record by record (see {@linkcode rrLogTopic});
   * its writer comes from {@linkcode ClusterNode.publishLogCreate}.
   */
  publishLogWrite(write: LogWrite): void {
    this.endpoint.publish(this.rrLogTopic(write.streamId), write.toData());
  }

  /**
   * Zeek's logging manager's writers to a new peer (`SendAllWritersTo`),
   * once per peering: addressed to that peer alone (the envelope's receiver),
   * on the stream's topic, whatever the peer's type, as Zeek sends them.
   */
  #sendLogCreates(peerId: string): void {
    if (this.#createsSentTo.has(peerId)) return;
    this.#createsSentTo.add(peerId);
    try {
      for (const c of this.#logCreates.values()) {
        this.endpoint.publishTo(peerId, LOG_TOPIC_PREFIX + c.streamId, c.toData());
      }
    } catch {
      // shutting down
    }
  }

  /** Publishes a Zeek event to one node by name (its node topic). */
  publishToNode(name: string, event: string, args: readonly Data[] = []): void {
    this.endpoint.publishEvent(this.topics.nodeTopic(name), event, args);
  }

  #emit(ev: ClusterEvent): void {
    for (const q of this.#queues) {
      if (q.closed) this.#queues.delete(q);
      else q.push(ev);
    }
    this.#conditions.changed();
  }

  /**
   * The node's counters on its endpoint's metrics: `broker_cluster_nodes_up`
   * (other nodes up now), `broker_cluster_node_events_total{event}` (node_up,
   * node_down) and `broker_cluster_hellos_total{direction}` (sent, received).
   */
  #registerMetrics(): void {
    const c = this.#counters;
    this.#unmetrics.push(this.endpoint.addMetrics(
      "broker_cluster_nodes_up",
      "Number of other nodes of the cluster layout this node sees up.",
      "gauge",
      () => [{ labels: { node: this.name }, value: this.#ids.size }],
    ));
    this.#unmetrics.push(this.endpoint.addMetrics(
      "broker_cluster_node_events_total",
      "Total number of node_up and node_down events this node raised.",
      "counter",
      () => [
        { labels: { node: this.name, event: "node_up" }, value: c.up },
        { labels: { node: this.name, event: "node_down" }, value: c.down },
      ],
    ));
    this.#unmetrics.push(this.endpoint.addMetrics(
      "broker_cluster_hellos_total",
      "Total number of Cluster::hello events this node sent and received.",
      "counter",
      () => [
        { labels: { node: this.name, direction: "sent" }, value: c.hellosSent },
        { labels: { node: this.name, direction: "received" }, value: c.hellosReceived },
      ],
    ));
  }

  #nodeUp(name: string, id: string): void {
    // Its peer_added may still wait in the status queue: a logger must have
    // the writers before the first write its node_up lets through.
    if (this.#isDirectPeer(id)) this.#sendLogCreates(id);
    this.#counters.up++;
    this.#ids.set(name, id);
    // Zeek: node_up &priority=10 in pools.zeek marks the node alive in every pool.
    for (const p of Object.values(this.#pools)) p.markAlive(name);
    this.#emit({ kind: "node_up", name, id });
  }

  #nodeDown(name: string, id: string): void {
    this.#counters.down++;
    this.#ids.delete(name);
    for (const p of Object.values(this.#pools)) p.markDead(name);
    this.#emit({ kind: "node_down", name, id });
  }

  async #helloLoop(): Promise<void> {
    for await (const msg of this.#hellos) {
      let parsed;
      try {
        parsed = parseZeekMessage(msg.data);
      } catch {
        continue; // not a Zeek message: nothing of the cluster's
      }
      if (parsed.kind !== "event") continue;
      if (parsed.name === "Broker::announce_masters") {
        // Zeek raises it from any topic it subscribes; managers send it to our nodeid topic.
        if (this.#cloneTables) this.#announcedMasters(parsed.args);
        continue;
      }
      if (
        parsed.name === "Cluster::forward_table_change_infos" &&
        msg.topic.startsWith(this.topics.typeTopic.manager)
      ) {
        this.#forwardTableChanges(parsed.args);
        continue;
      }
      if (parsed.name !== "Cluster::hello") continue;
      const [name, id] = parsed.args;
      if (name?.type !== "string" || id?.type !== "string") {
        this.#emit({ kind: "error", message: "Cluster::hello with bad arguments" });
        continue;
      }
      this.#hello(name.value, id.value);
    }
  }

  /**
   * Zeek's manager's `Cluster::forward_table_change_infos` handler
   * (publish-on-change.zeek): on the Broker backend a worker's
   * `&publish_on_change` changes go to the manager, which publishes them as
   * `Cluster::table_change_infos` on their topic (the other workers do not
   * hear each other) and raises them itself when it subscribes that topic:
   * here they reach this endpoint's own subscribers of it, `messages` among
   * them (`zeek/table/`).
   */
  #forwardTableChanges(args: readonly Data[]): void {
    const [header, infos, to] = args;
    if (header === undefined || infos === undefined || to?.type !== "string") {
      this.#emit({
        kind: "error",
        message: "Cluster::forward_table_change_infos with bad arguments",
      });
      return;
    }
    try {
      this.endpoint.publish(
        to.value,
        new Event("Cluster::table_change_infos", [header, infos]).toData(),
        { local: true },
      );
    } catch {
      // shutting down
    }
  }

  /** Zeek's `Cluster::hello` handler (main.zeek). */
  #hello(name: string, id: string): void {
    this.#counters.hellosReceived++;
    if (!this.layout.get(name)) {
      this.#emit({
        kind: "error",
        message: `Got Cluster::hello msg from unexpected node: ${name}`,
      });
      return;
    }
    const known = this.#ids.get(name);
    if (known !== undefined) {
      if (known === id && this.#relayed.has(name)) this.#relayed.set(name, Date.now());
      if (known !== id) {
        // Zeek reports it and still takes the new ID (`n$id = id`): a node
        // restarted before its old peering was seen lost stays up, and that
        // old peering's loss later names no node.
        this.#ids.set(name, id);
        if (this.#isDirectPeer(id)) this.#relayed.delete(name);
        else this.#relayed.set(name, Date.now());
        this.#emit({
          kind: "error",
          message: `Got Cluster::hello msg from duplicate node:${name}`,
        });
      }
      return;
    }
    this.#nodeUp(name, id);
    if (!this.#isDirectPeer(id)) {
      // Through a relay: answer on its nodeid topic (it may not have heard
      // ours), and keep it alive by hellos from now on.
      this.#relayed.set(name, Date.now());
      this.#sayHello(this.topics.nodeidTopic(id));
    }
  }

  #isDirectPeer(id: string): boolean {
    return this.endpoint.peers().some((p) => p.id === id && p.status === "peered");
  }

  #sayHello(topic: string): void {
    this.#counters.hellosSent++;
    try {
      this.endpoint.publishEvent(topic, "Cluster::hello", [str(this.name), str(this.id)]);
    } catch {
      // shutting down
    }
  }

  /** Hello fallback through relays, and the relayed nodes' keep-alive. */
  #relayTick(): void {
    if (this.#closed) return;
    const now = Date.now();
    const upIds = new Set(this.#ids.values());
    const peers = this.endpoint.peers();
    for (const target of this.layout.connections(this.name)) {
      if (this.#ids.has(target.name)) continue;
      const key = `${target.host}:${target.port}`;
      const since = this.#dialledSince.get(key);
      if (since === undefined || now - since < this.#relayIntervalMs) continue;
      const peer = peers.find((p) =>
        p.outbound && p.status === "peered" && p.host === target.host && p.port === target.port
      );
      // No hello from the peer we dialled: something relays; ask by name.
      if (peer?.id && !upIds.has(peer.id)) this.#sayHello(this.topics.nodeTopic(target.name));
    }
    for (const [name, seen] of this.#relayed) {
      const id = this.#ids.get(name);
      if (id === undefined) {
        this.#relayed.delete(name);
      } else if (now - seen > 3 * this.#relayIntervalMs) {
        this.#relayed.delete(name);
        this.#nodeDown(name, id);
      } else this.#sayHello(this.topics.nodeidTopic(id));
    }
  }

  async #statusLoop(): Promise<void> {
    for await (const ev of this.#status) {
      if (ev.kind !== "status" || !ev.peer?.id) continue;
      const peerId = ev.peer.id;
      if (ev.code === StatusCode.peer_added) {
        // A manager's broker-stores.zeek handler runs first (priority 11), so
        // the peer attaches its clones before its node_up.
        if (this.self.type === "manager") this.#announceMasters(peerId);
        this.#sendLogCreates(peerId);
        // Broker::peer_added in the Broker backend: hello to the peer's nodeid topic.
        this.#sayHello(this.topics.nodeidTopic(peerId));
        const { host, port } = ev.peer;
        if (this.layout.connections(this.name).some((t) => t.host === host && t.port === port)) {
          this.#dialledSince.set(`${host}:${port}`, Date.now());
        }
      } else if (ev.code === StatusCode.peer_lost || ev.code === StatusCode.peer_removed) {
        this.#dialledSince.delete(`${ev.peer.host}:${ev.peer.port}`);
        this.#createsSentTo.delete(peerId);
        for (const [name, id] of this.#ids) {
          if (id === peerId) {
            this.#nodeDown(name, id);
            break;
          }
        }
      }
    }
  }

  /** Leaves the cluster: closes the subscriptions and event queues, shuts down an endpoint we made. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#conditions.changed();
    clearInterval(this.#tick);
    for (const remove of this.#unmetrics.splice(0)) remove();
    this.#hellos.close();
    this.messages.close();
    this.#status.close();
    for (const store of this.#clones.values()) store.close();
    this.#clones.clear();
    if (this.#ownsEndpoint) await this.endpoint.shutdown();
    await Promise.all(this.#loops);
    for (const q of this.#queues) q.close();
    this.#queues.clear();
  }
}
