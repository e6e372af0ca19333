/**
 * A Zeek cluster layout (Zeek's `Cluster::nodes`): node names, types, hosts
 * and ports, read from JSON, from a plain object (what a CAF config file
 * gives, see `cli/cluster_layout_file.ts`) or from a ZeekControl `node.cfg`,
 * and Zeek's connection pattern over it (the Broker backend's
 * `policy/frameworks/cluster/backend/broker/main.zeek`):
 *
 * - every node peers with every logger;
 * - a proxy peers with its manager;
 * - a worker peers with every proxy and with its manager.
 *
 * So loggers, the manager and proxies listen on their ports; workers need no
 * port.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { type ClusterBackend, NODE_TYPES, type NodeType } from "./topics.ts";

/** One node of a layout (Zeek's `Cluster::Node` with its name). */
export interface LayoutNode {
  /** The node's name, e.g. `worker-1`. */
  readonly name: string;
  /** Manager, logger, proxy or worker. */
  readonly type: NodeType;
  /** Where it listens (or runs, for a node that does not listen). */
  readonly host: string;
  /** Its listening port; 0 when it does not listen. */
  readonly port: number;
  /** The manager a proxy or worker peers with (`$manager`). */
  readonly manager?: string;
}

/** A layout as an object: `{ nodes: [...] }` or `{ nodes: { name: {...} } }`, plus options. */
export interface LayoutObject {
  /** The nodes, as a list with names or a map from name to node. */
  nodes: unknown;
  /** Topic spelling of the cluster: `broker` (default) or `zeromq`. */
  backend?: unknown;
  /** `Cluster::manager_is_logger` (default true, as Zeek). */
  managerIsLogger?: unknown;
}

function bad(source: string, msg: string): never {
  throw new BrokerError(ErrorCode.invalid_data, `${source}: ${msg}`);
}

/**
 * Whether `obj` is `to_json(Cluster::nodes)` itself: a map whose every value
 * is a node in Zeek's spelling (a `node_type`), so a node named `nodes` is
 * read as one.
 */
function isZeekNodeMap(obj: object): boolean {
  if (Array.isArray(obj)) return false;
  const values = Object.values(obj);
  return values.length > 0 &&
    values.every((v) =>
      typeof v === "object" && v !== null && typeof (v as { node_type?: unknown }).node_type ===
        "string"
    );
}

/**
 * A validated cluster layout.
 *
 * @example
 * ```ts
 * import { ClusterLayout } from "./layout.ts";
 * const layout = ClusterLayout.fromJson(JSON.stringify({
 *   nodes: {
 *     manager: { type: "manager", host: "127.0.0.1", port: 27761 },
 *     "proxy-1": { type: "proxy", host: "127.0.0.1", port: 27762 },
 *     "worker-1": { type: "worker", host: "127.0.0.1" },
 *   },
 * }));
 * layout.connections("worker-1").map((n) => n.name); // ["proxy-1", "manager"]
 * ```
 */
export class ClusterLayout {
  /** The nodes, in the order given. */
  readonly nodes: readonly LayoutNode[];
  /** Topic spelling of the cluster. */
  readonly backend: ClusterBackend;
  /** `Cluster::manager_is_logger`: the manager is in the logger pool when true. */
  readonly managerIsLogger: boolean;
  readonly #byName: Map<string, LayoutNode>;

  /** A layout of these nodes; throws `invalid_data` on duplicates, bad types or ports, unknown managers. */
  constructor(
    nodes: readonly LayoutNode[],
    options: { backend?: ClusterBackend; managerIsLogger?: boolean; source?: string } = {},
  ) {
    const source = options.source ?? "cluster layout";
    this.#byName = new Map();
    for (const n of nodes) {
      if (typeof n.name !== "string" || n.name === "") bad(source, "a node needs a name");
      if (this.#byName.has(n.name)) bad(source, `node ${n.name} appears twice`);
      if (!NODE_TYPES.includes(n.type)) {
        bad(source, `node ${n.name}: type must be one of ${NODE_TYPES.join(", ")}`);
      }
      if (typeof n.host !== "string" || n.host === "") bad(source, `node ${n.name} needs a host`);
      if (!Number.isInteger(n.port) || n.port < 0 || n.port > 65535) {
        bad(source, `node ${n.name}: bad port ${n.port}`);
      }
      this.#byName.set(n.name, Object.freeze({ ...n }));
    }
    for (const n of this.#byName.values()) {
      if (n.manager === undefined) continue;
      const m = this.#byName.get(n.manager);
      if (!m || m.type !== "manager") bad(source, `node ${n.name}: ${n.manager} is not a manager`);
    }
    this.nodes = [...this.#byName.values()];
    this.backend = options.backend ?? "broker";
    this.managerIsLogger = options.managerIsLogger ?? true;
  }

  /**
   * A layout from an object: nodes as a list (`{name, type, host, port,
   * manager}`) or a map keyed by name. Zeek's own spelling works too
   * (`node_type`, `ip`, `p`), as `to_json(Cluster::nodes)` prints it, under
   * `nodes` or as the whole object (what that print writes to a file), a
   * port as `{port, proto}` (`0/unknown`: no port); a `control` node
   * (ZeekControl writes one) is left out. A proxy or worker without
   * `manager` gets the layout's first manager, as ZeekControl writes
   * layouts.
   */
  static fromObject(obj: unknown, source = "cluster layout"): ClusterLayout {
    if (typeof obj !== "object" || obj === null) bad(source, "expected an object with `nodes`");
    const o = (isZeekNodeMap(obj) ? { nodes: obj } : obj) as LayoutObject;
    const raw: [string, unknown][] = Array.isArray(o.nodes)
      ? o.nodes.map((n, i) => [(n as { name?: unknown })?.name as string ?? `#${i}`, n])
      : typeof o.nodes === "object" && o.nodes !== null
      ? Object.entries(o.nodes)
      : bad(source, "`nodes` must be a list or a map");
    const nodes = raw.flatMap(([name, v]): LayoutNode[] => {
      if (typeof v !== "object" || v === null) bad(source, `node ${name} must be an object`);
      const n = v as Record<string, unknown>;
      const type = n.type ?? n.node_type;
      const port = n.port ?? n.p ?? 0;
      if (typeof type !== "string") bad(source, `node ${name} needs a type`);
      // ZeekControl's control node: in no pool, dialled by no cluster node.
      if (/^(cluster::)?control$/i.test(type)) return [];
      const portNumber = portOf(port);
      if (portNumber === undefined) bad(source, `node ${name}: bad port`);
      if (n.manager !== undefined && typeof n.manager !== "string") {
        bad(source, `node ${name}: manager must be a node name`);
      }
      return [{
        name,
        type: type.toLowerCase().replace(/^cluster::/, "") as NodeType,
        host: typeof n.host === "string" ? n.host : typeof n.ip === "string" ? n.ip : "",
        port: portNumber,
        manager: n.manager as string | undefined,
      }];
    });
    const firstManager = nodes.find((n) => n.type === "manager")?.name;
    const withManagers = nodes.map((n) =>
      (n.type === "proxy" || n.type === "worker") && n.manager === undefined && firstManager
        ? { ...n, manager: firstManager }
        : n
    );
    const backend = o.backend ?? "broker";
    if (backend !== "broker" && backend !== "zeromq") {
      bad(source, "backend must be broker or zeromq");
    }
    if (o.managerIsLogger !== undefined && typeof o.managerIsLogger !== "boolean") {
      bad(source, "managerIsLogger must be a boolean");
    }
    return new ClusterLayout(withManagers, {
      backend,
      managerIsLogger: o.managerIsLogger as boolean | undefined,
      source,
    });
  }

  /** A layout from JSON text (see `fromObject`). */
  static fromJson(text: string, source = "cluster layout"): ClusterLayout {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch (e) {
      bad(source, `not JSON: ${(e as Error).message}`);
    }
    return ClusterLayout.fromObject(obj, source);
  }

  /**
   * A layout from ZeekControl's `node.cfg`, with ports as ZeekControl's
   * `cluster-layout.zeek` assigns them: `zeekPort` (ZeekControl's
   * `ZeekPort`, default 27760) goes to the control node, then one each to
   * the manager, the loggers, the proxies and the workers, in that order and
   * in file order within a type. A worker with `lb_procs = n` becomes
   * `<name>-1` .. `<name>-n`; `localhost` is `127.0.0.1` (ZeekControl
   * prefers the first IPv4 address). A `standalone` node is not a cluster.
   */
  static fromNodeCfg(
    text: string,
    options: { zeekPort?: number; source?: string } = {},
  ): ClusterLayout {
    const source = options.source ?? "node.cfg";
    const sections: { name: string; keys: Map<string, string>; line: number }[] = [];
    text.split(/\r?\n/).forEach((line, i) => {
      const t = line.trim();
      if (t === "" || t.startsWith("#") || t.startsWith(";")) return;
      const sec = /^\[(.+)\]$/.exec(t);
      if (sec) return sections.push({ name: sec[1].trim(), keys: new Map(), line: i + 1 });
      const kv = /^([^=:]+)[=:](.*)$/.exec(t);
      if (!kv) bad(source, `line ${i + 1}: expected key=value`);
      if (sections.length === 0) bad(source, `line ${i + 1}: an option before any [node] section`);
      // configparser lowercases keys; node.cfg's dotted keys are underscores.
      sections.at(-1)!.keys.set(kv[1].trim().toLowerCase().replace(/\./g, "_"), kv[2].trim());
    });
    const byType: Record<NodeType, { name: string; host: string }[]> = {
      manager: [],
      logger: [],
      proxy: [],
      worker: [],
    };
    for (const s of sections) {
      const type = s.keys.get("type");
      const host = s.keys.get("host");
      if (!type) bad(source, `no type given for node ${s.name}`);
      if (type === "standalone") bad(source, `node ${s.name} is standalone, not a cluster`);
      if (!(type in byType)) bad(source, `unknown node type '${type}' given for node '${s.name}'`);
      if (!host) bad(source, `no host given for node '${s.name}'`);
      const addr = host === "localhost" ? "127.0.0.1" : host;
      const lb = s.keys.get("lb_procs");
      if (lb !== undefined && type !== "worker") {
        bad(source, `node '${s.name}': load balancing options are only for worker nodes`);
      }
      const procs = lb === undefined ? 0 : Number(lb);
      if (lb !== undefined && !(Number.isInteger(procs) && procs >= 1)) {
        bad(source, `node '${s.name}': lb_procs must be an integer above zero`);
      }
      const list = byType[type as NodeType];
      if (procs === 0) list.push({ name: s.name, host: addr });
      else for (let i = 1; i <= procs; i++) list.push({ name: `${s.name}-${i}`, host: addr });
    }
    if (byType.manager.length === 0) bad(source, "no manager defined");
    let port = options.zeekPort ?? 27760;
    port++; // the control node's
    const manager = byType.manager[0].name;
    const nodes: LayoutNode[] = [];
    for (const type of ["manager", "logger", "proxy", "worker"] as const) {
      // ZeekControl uses only the first manager.
      const list = type === "manager" ? byType.manager.slice(0, 1) : byType[type];
      for (const n of list) {
        nodes.push({
          name: n.name,
          type,
          host: n.host,
          port: port++,
          manager: type === "proxy" || type === "worker" ? manager : undefined,
        });
      }
    }
    return new ClusterLayout(nodes, {
      source,
      managerIsLogger: byType.logger.length === 0,
    });
  }

  /** The node of this name, or undefined. */
  get(name: string): LayoutNode | undefined {
    return this.#byName.get(name);
  }

  /** The node of this name; a `BrokerError` (`invalid_data`) when it is not in the layout. */
  node(name: string): LayoutNode {
    const n = this.#byName.get(name);
    if (!n) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `'${name}' is not a valid node in the cluster layout (${
          this.nodes.map((n) => n.name).join(", ")
        })`,
      );
    }
    return n;
  }

  /** Zeek's `nodes_with_type`: the nodes of a type, sorted by name (bytewise, as `strcmp`). */
  ofType(type: NodeType): LayoutNode[] {
    return this.nodes.filter((n) => n.type === type).sort((a, b) => compareBytes(a.name, b.name));
  }

  /**
   * The nodes that `name` dials, in Zeek's order (loggers, proxies, then the
   * manager), as the Broker backend's `zeek_init` connects them.
   */
  connections(name: string): LayoutNode[] {
    const self = this.node(name);
    const out: LayoutNode[] = [];
    if (self.type === "logger") return out;
    out.push(...this.ofType("logger"));
    if (self.type === "worker") out.push(...this.ofType("proxy"));
    if ((self.type === "proxy" || self.type === "worker") && self.manager) {
      out.push(this.node(self.manager));
    }
    return out;
  }

  /**
   * The members of Zeek's default pools as `pools.zeek` assigns them (no
   * `max_nodes`, nothing exclusive): every proxy, every worker, every logger
   * plus the first manager when `managerIsLogger`; each sorted by name.
   */
  poolMembers(pool: "proxy" | "worker" | "logger"): string[] {
    const names = this.ofType(pool).map((n) => n.name);
    if (pool === "logger" && this.managerIsLogger) {
      const mgr = this.ofType("manager")[0];
      if (mgr) names.push(mgr.name);
    }
    return names;
  }

  /** The layout as JSON (what `fromJson` reads). */
  toJSON(): LayoutObject {
    return {
      backend: this.backend,
      managerIsLogger: this.managerIsLogger,
      nodes: this.nodes.map((n) => ({ ...n })),
    };
  }
}

/**
 * A node's port as a layout gives it: a number, `"27761/tcp"`, or Zeek's
 * JSON of a port value, `{"port": 27761, "proto": "tcp"}` (`{"port": 0,
 * "proto": "unknown"}` for a node without one); undefined when it is none
 * of these.
 */
function portOf(p: unknown): number | undefined {
  if (typeof p === "number") return p;
  if (typeof p === "string") return Number(p.replace(/\/tcp$/, ""));
  if (typeof p === "object" && p !== null) {
    const { port, proto } = p as { port?: unknown; proto?: unknown };
    if (typeof port !== "number") return undefined;
    if (proto === "tcp" || (proto === "unknown" && port === 0)) return port;
  }
  return undefined;
}

/** Bytewise (UTF-8) string order, as Zeek's `strcmp`. */
function compareBytes(a: string, b: string): number {
  const enc = new TextEncoder();
  const x = enc.encode(a), y = enc.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
