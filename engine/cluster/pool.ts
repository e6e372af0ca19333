/**
 * Zeek's cluster pools (`base/frameworks/cluster/pools.zeek` and
 * `base/utils/hash_hrw.zeek`): Highest Random Weight and round-robin
 * selection of a node topic, exactly as Zeek computes them, so a Deno
 * worker sends a key to the proxy a Zeek worker would.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { fnv1a32, fnv1a32String, type HrwKey, hrwWeight } from "./hash.ts";
import { type ClusterBackend, clusterTopics } from "./topics.ts";

/** One node of a pool, as Zeek's `Cluster::PoolNode`. */
export interface PoolNode {
  /** The node name. */
  readonly name: string;
  /** `name + ".<n>"`: the string whose hash is the site ID (n > 0 only after a collision). */
  readonly alias: string;
  /** `fnv1a32(alias)`, unique in the pool. */
  readonly siteId: number;
  /** The node's topic (`Cluster::node_topic(name)`). */
  readonly topic: string;
  /** Whether the node takes work. */
  readonly alive: boolean;
}

/** Options of a {@link Pool}. */
export interface PoolOptions {
  /** Topic spelling (default `broker`: `zeek/cluster/node/<name>/`). */
  backend?: ClusterBackend;
  /**
   * Whether the nodes start alive (default true: the pool answers at once, as
   * an operator asks it). A cluster node's pools start with every node dead
   * and follow `node_up`/`node_down`, as Zeek's.
   */
  alive?: boolean;
  /**
   * The local node's name. Zeek's `init_pool_node` marks the local node alive
   * for round-robin but does not add it to the HRW sites (only
   * `mark_pool_node_alive` does, which `node_up` calls, and Zeek never raises
   * `node_up` for itself): so it is mirrored here, with `alive: false`.
   */
  self?: string;
}

interface MutableNode {
  name: string;
  alias: string;
  siteId: number;
  topic: string;
  alive: boolean;
  /** In the HRW sites (Zeek's `hrw_pool$sites`), which `alive` alone does not imply. */
  hrw: boolean;
}

/**
 * A pool of cluster nodes: `hrwTopic(key)` picks the node Zeek's
 * `Cluster::hrw_topic` picks, `rrTopic(key)` cycles as `Cluster::rr_topic`;
 * both return `""` when no node is alive.
 *
 * @example
 * ```ts
 * import { Pool } from "./pool.ts";
 * const pool = new Pool(["proxy-1", "proxy-2"]);
 * const before = pool.hrwTopic("10.0.0.1");
 * pool.markDead("proxy-1");
 * pool.hrwTopic("10.0.0.1"); // "zeek/cluster/node/proxy-2/"
 * pool.markDead("proxy-2");
 * pool.hrwTopic("10.0.0.1"); // ""
 * ```
 */
export class Pool {
  readonly #nodes = new Map<string, MutableNode>();
  readonly #list: MutableNode[] = [];
  readonly #rr = new Map<string, number>();
  // The HRW sites as parallel arrays, rebuilt on every change: the lookup is
  // on the per-event path and must not walk a Map.
  #siteIds = new Uint32Array(0);
  #siteTopics: string[] = [];
  #siteNames: string[] = [];

  /** A pool of these nodes, in this order (round-robin order, and site ID collision order). */
  constructor(names: Iterable<string>, options: PoolOptions = {}) {
    const topics = clusterTopics(options.backend ?? "broker");
    const alive = options.alive ?? true;
    for (const name of names) {
      if (typeof name !== "string" || name === "") {
        throw new BrokerError(ErrorCode.invalid_data, "a pool node needs a non-empty name");
      }
      if (this.#nodes.has(name)) continue; // Zeek's init_pool_node returns F
      // init_pool_node: aliases name.0, name.1, ... until the site ID is new.
      let c = 0, alias: string, siteId: number;
      for (;;) {
        alias = `${name}.${c}`;
        siteId = fnv1a32String(alias);
        if (!this.#list.some((n) => n.siteId === siteId)) break;
        c++;
      }
      const isSelf = options.self === name;
      const node: MutableNode = {
        name,
        alias,
        siteId,
        topic: topics.nodeTopic(name),
        alive: alive || isSelf,
        hrw: alive,
      };
      this.#nodes.set(name, node);
      this.#list.push(node);
    }
    this.#rebuild();
  }

  /** The nodes, in pool order. */
  get nodes(): readonly PoolNode[] {
    return this.#list.map(({ name, alias, siteId, topic, alive }) => ({
      name,
      alias,
      siteId,
      topic,
      alive,
    }));
  }

  /** Number of nodes alive (Zeek's `alive_count`). */
  get aliveCount(): number {
    let n = 0;
    for (const node of this.#list) if (node.alive) n++;
    return n;
  }

  /** Whether the pool holds a node of this name. */
  has(name: string): boolean {
    return this.#nodes.has(name);
  }

  /** `Cluster::mark_pool_node_alive`: false when the node is not in the pool. */
  markAlive(name: string): boolean {
    const node = this.#nodes.get(name);
    if (!node) return false;
    node.alive = true;
    if (!node.hrw) {
      node.hrw = true;
      this.#rebuild();
    }
    return true;
  }

  /** `Cluster::mark_pool_node_dead`: false when the node is not in the pool. */
  markDead(name: string): boolean {
    const node = this.#nodes.get(name);
    if (!node) return false;
    node.alive = false;
    if (node.hrw) {
      node.hrw = false;
      this.#rebuild();
    }
    return true;
  }

  #rebuild(): void {
    const sites = this.#list.filter((n) => n.hrw);
    this.#siteIds = Uint32Array.from(sites, (n) => n.siteId);
    this.#siteTopics = sites.map((n) => n.topic);
    this.#siteNames = sites.map((n) => n.name);
  }

  /** Index of the winning site for a digest, or -1 (HashHRW::get_site). */
  #site(digest: number): number {
    const ids = this.#siteIds;
    let best = -1, bestWeight = -1, bestId = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const w = hrwWeight(digest, id);
      // Ties go to the larger site ID, so the table's order does not matter.
      if (w > bestWeight || (w === bestWeight && id > bestId)) {
        best = i;
        bestWeight = w;
        bestId = id;
      }
    }
    return best;
  }

  /**
   * `Cluster::hrw_topic(pool, key)`: the topic of the node that owns `key`,
   * or `""` when no node is alive. Strings hash as their UTF-8 bytes; other
   * keys as Zeek describes them (see `hash.ts` for the covered types).
   */
  hrwTopic(key: HrwKey): string {
    const i = this.#site(typeof key === "string" ? fnv1a32String(key) : fnv1a32(key));
    return i < 0 ? "" : this.#siteTopics[i];
  }

  /** Like `hrwTopic` for a precomputed `fnv1a32` digest of the key. */
  hrwTopicForDigest(digest: number): string {
    const i = this.#site(digest);
    return i < 0 ? "" : this.#siteTopics[i];
  }

  /** The name of the node that owns `key`, or `""` when no node is alive. */
  hrwNode(key: HrwKey): string {
    const i = this.#site(typeof key === "string" ? fnv1a32String(key) : fnv1a32(key));
    return i < 0 ? "" : this.#siteNames[i];
  }

  /**
   * `Cluster::rr_topic(pool, key)`: the next alive node's topic in pool
   * order, one cycle per `key` (default `""`), or `""` when none is alive.
   */
  rrTopic(key = ""): string {
    const node = this.#rrNext(key);
    return node ? node.topic : "";
  }

  /** Like `rrTopic`, the node's name. */
  rrNode(key = ""): string {
    const node = this.#rrNext(key);
    return node ? node.name : "";
  }

  #rrNext(key: string): MutableNode | undefined {
    const list = this.#list;
    let next = this.#rr.get(key) ?? 0;
    const start = next;
    // Zeek returns without storing the index here (only for an empty pool).
    if (next >= list.length) return undefined;
    let found: MutableNode | undefined;
    for (;;) {
      const node = list[next];
      if (++next === list.length) next = 0;
      if (node.alive) {
        found = node;
        break;
      }
      if (next === start) break;
    }
    this.#rr.set(key, next);
    return found;
  }
}
