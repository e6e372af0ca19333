/**
 * The cluster file of Broker's `broker-cluster-benchmark`: a CAF-syntax
 * config whose `nodes` section names every endpoint with its `id`
 * (`<local:NAME>` or `<tcp://host:port>`), `peers`, `topics`,
 * `generator-file`, `num-inputs`, `num-outputs`, `disable-forwarding` and
 * `inputs-by-node`. This module parses it and checks the topology exactly
 * as the C++ tool does (tests/benchmarks/cluster/cluster.cc in zeek/broker),
 * with no I/O, so the runner and its tests share one reading.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../mod.ts";
import { type CafConfig, type CafUri, type ConfigValue, parseCafConfig } from "./caf_config.ts";

/** One node of the cluster, as configured plus its place in the peering tree. */
export interface ClusterNode {
  /** Unique name (the key under `nodes`). */
  readonly name: string;
  /** `local:NAME` (no listener) or `tcp://host:port` (listens there). */
  readonly id: CafUri;
  /** Names of the nodes this one peers to at start-up. */
  readonly peers: Set<string>;
  /** Topics this node subscribes to. */
  readonly topics: readonly string[];
  /** Generator file to publish from; empty for pure receivers. */
  readonly generatorFile: string;
  /** Messages this node expects (0: it does not receive). */
  numInputs: number;
  /** Messages to publish; `undefined` publishes the generator file once. */
  readonly numOutputs?: number;
  /** Broker's `disable-forwarding`; the tool's default is `true`. */
  readonly disableForwarding: boolean;
  /** Expected inputs per sending node, for partial setups. */
  readonly inputsByNode: Map<string, number>;
  /** Nodes that peer to this one. */
  readonly left: ClusterNode[];
  /** Nodes this one peers to (its `peers`, minus mirrored relations). */
  readonly right: ClusterNode[];
}

/** Whether a node publishes (it has a generator file). */
export function isSender(n: ClusterNode): boolean {
  return n.generatorFile !== "";
}

/** Whether a node waits for messages (`num-inputs` > 0). */
export function isReceiver(n: ClusterNode): boolean {
  return n.numInputs > 0;
}

/** The C++ tool refuses this many nodes or more. */
export const MAX_NODES = 500;

function fail(message: string): never {
  throw new BrokerError(ErrorCode.invalid_data, message);
}

function nodeField(cfg: CafConfig, name: string, field: string): ConfigValue | undefined {
  return cfg.get(`nodes.${name}.${field}`);
}

function count(name: string, field: string, v: ConfigValue | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v.type !== "integer" || v.value < 0n || v.value > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(`invalid config for node '${name}': illegal type for field ${field}`);
  }
  return Number(v.value);
}

function stringList(name: string, field: string, v: ConfigValue | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  if (v.type !== "list" || v.value.some((x) => x.type !== "string")) {
    fail(`invalid config for node '${name}': illegal type for field ${field}`);
  }
  return v.value.map((x) => x.value as string);
}

/** The names under `nodes`, in the file's order. */
function nodeNames(cfg: CafConfig): string[] {
  const names: string[] = [];
  for (const key of cfg.values.keys()) {
    if (!key.startsWith("nodes.")) continue;
    const name = key.slice(6).split(".")[0];
    if (!names.includes(name)) names.push(name);
  }
  return names;
}

function makeNode(cfg: CafConfig, name: string): ClusterNode {
  const idValue = nodeField(cfg, name, "id");
  if (idValue === undefined) {
    fail(`invalid config for node '${name}': no entry for mandatory field id`);
  }
  let id: CafUri;
  if (idValue.type === "uri") id = idValue.value;
  else fail(`invalid config for node '${name}': illegal type for field id`);
  if (id.scheme === "tcp" && (id.host === undefined || id.port === undefined)) {
    fail(`invalid config for node '${name}': id <${id.text}> needs a host and a port`);
  }
  if (id.scheme !== "tcp" && id.scheme !== "local") {
    fail(`invalid config for node '${name}': id <${id.text}> must be local: or tcp://`);
  }
  const topics = stringList(name, "topics", nodeField(cfg, name, "topics"));
  if (topics === undefined) {
    fail(`invalid config for node '${name}': no entry for mandatory field topics`);
  }
  const generator = nodeField(cfg, name, "generator-file");
  if (generator !== undefined && generator.type !== "string") {
    fail(`invalid config for node '${name}': illegal type for field generator-file`);
  }
  const forwarding = nodeField(cfg, name, "disable-forwarding") ??
    nodeField(cfg, name, "disable_forwarding");
  if (forwarding !== undefined && forwarding.type !== "boolean") {
    fail(`invalid config for node '${name}': illegal type for field disable-forwarding`);
  }
  const inputsByNode = new Map<string, number>();
  const prefix = `nodes.${name}.inputs-by-node.`;
  for (const [key, v] of cfg.values) {
    if (key.startsWith(prefix)) inputsByNode.set(key.slice(prefix.length), count(name, key, v)!);
  }
  return {
    name,
    id,
    peers: new Set(stringList(name, "peers", nodeField(cfg, name, "peers")) ?? []),
    topics,
    generatorFile: generator?.value ?? "",
    numInputs: count(name, "num-inputs", nodeField(cfg, name, "num-inputs")) ?? 0,
    numOutputs: count(name, "num-outputs", nodeField(cfg, name, "num-outputs")),
    disableForwarding: forwarding?.value ?? true,
    inputsByNode,
    left: [],
    right: [],
  };
}

/** What `readClusterConfig` reports besides the nodes. */
export interface ClusterSetup {
  /** The nodes, linked into the peering tree. */
  readonly nodes: ClusterNode[];
  /** Non-fatal findings (the C++ tool prints them in yellow). */
  readonly warnings: string[];
}

/**
 * Reads a cluster file and builds the peering tree, with the C++ tool's
 * checks: mandatory `id` and `topics`, at least two and fewer than 500
 * nodes, no unknown or self peers, every node peered with some other, at
 * least one sender and one receiver, every node sending or receiving.
 * `excluded` drops nodes for a partial run, as `--excluded-nodes` does.
 * Throws a `BrokerError` (`invalid_data`) naming the problem.
 *
 * @example
 * ```ts
 * import { readClusterConfig } from "./cluster_config.ts";
 * const { nodes } = readClusterConfig(`nodes {
 *   earth { id = <local:earth>, peers = ["mars"], topics = ["/b"], num-inputs = 10 }
 *   mars { id = <tcp://127.0.0.1:8001>, topics = ["/b"], generator-file = "mars.dat" }
 * }`);
 * console.log(nodes.map((n) => n.name)); // ["earth", "mars"]
 * ```
 */
export function readClusterConfig(
  text: string,
  options: { source?: string; excluded?: readonly string[] } = {},
): ClusterSetup {
  const cfg = parseCafConfig(text, { source: options.source });
  const excluded = new Set(options.excluded ?? []);
  const warnings: string[] = [];
  const nodes: ClusterNode[] = [];
  for (const name of nodeNames(cfg)) {
    if (excluded.has(name)) continue;
    const n = makeNode(cfg, name);
    if (n.inputsByNode.size > 0) {
      const total = [...n.inputsByNode.values()].reduce((a, b) => a + b, 0);
      if (total !== n.numInputs) {
        warnings.push(
          `inconsistent data: ${name} expects ${n.numInputs} messages but inputs-by-node only sums up to ${total}`,
        );
      }
    }
    nodes.push(n);
  }
  if (excluded.size > 0) {
    if (nodes.length === 0) fail("no nodes left after applying node filter");
    for (const n of nodes) {
      if (n.numInputs > 0 && n.inputsByNode.size === 0) {
        fail("cannot run partial setup without inputs-by-node fields");
      }
      let total = 0;
      for (const [from, k] of n.inputsByNode) if (!excluded.has(from)) total += k;
      n.numInputs = total;
      for (const p of n.peers) if (excluded.has(p)) n.peers.delete(p);
    }
  }
  if (nodes.length < 2) fail("at least two nodes required");
  if (nodes.length >= MAX_NODES) fail(`must configure less than ${MAX_NODES} nodes`);
  buildNodeTree(nodes);
  verifyNodeTree(nodes);
  return { nodes, warnings };
}

function buildNodeTree(nodes: ClusterNode[]): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const x of nodes) {
    for (const peerName of x.peers) {
      const peer = byName.get(peerName);
      if (!peer) fail(`${x.name} cannot peer to unknown node ${peerName}`);
      if (peer === x) fail(`${x.name} cannot peer with itself`);
      x.right.push(peer);
      peer.left.push(x);
    }
  }
  for (const x of nodes) {
    if (x.left.length === 0 && x.right.length === 0) {
      fail(`${x.name} has no peering relation to any other node`);
    }
  }
  // A peering in both directions would open two connections (and Broker
  // drops one as redundant): keep only the first direction seen.
  for (const x of nodes) {
    for (const y of x.right) {
      const i = y.right.indexOf(x);
      if (i < 0) continue;
      y.peers.delete(x.name);
      y.right.splice(i, 1);
      const j = x.left.indexOf(y);
      if (j >= 0) x.left.splice(j, 1);
    }
  }
}

function verifyNodeTree(nodes: ClusterNode[]): void {
  if (!nodes.some(isReceiver)) fail("no node expects to receive any data");
  if (!nodes.some(isSender)) fail("no node has a generator file for publishing data");
  const idle = nodes.find((n) => !isSender(n) && !isReceiver(n));
  if (idle) fail(`${idle.name} neither receives nor sends`);
}

/**
 * The peering tree as the C++ tool prints it in verbose mode: each root
 * (a node nobody peers to) with its topics and, indented, the nodes it peers to.
 *
 * @example
 * ```ts
 * import { peeringTree, readClusterConfig } from "./cluster_config.ts";
 * const { nodes } = readClusterConfig(`nodes {
 *   earth { id = <local:earth>, peers = ["mars"], topics = ["/b"], num-inputs = 10 }
 *   mars { id = <tcp://127.0.0.1:8001>, topics = ["/b"], generator-file = "mars.dat" }
 * }`);
 * console.log(peeringTree(nodes).join("\n"));
 * ```
 */
export function peeringTree(nodes: readonly ClusterNode[]): string[] {
  const roots = nodes.filter((n) => n.left.length === 0);
  if (roots.length === 0) return ["note: topology does not form a tree"];
  const lines = ["peering tree (multiple roots are allowed):"];
  const printed = new Set<string>();
  const walk = (prefix: string, x: ClusterNode, isLast: boolean) => {
    let first = "", inner = "", next = prefix;
    if (x.left.length === 0) next += "    ";
    else if (isLast) [first, inner, next] = ["└── ", "    ", prefix + "        "];
    else [first, inner, next] = ["├── ", "│   ", prefix + "│       "];
    lines.push(prefix + first + x.name, prefix + inner + "├── topics:");
    if (printed.has(x.name)) lines.push(prefix + inner + "│   └── (see above)");
    else {
      x.topics.forEach((t, i) =>
        lines.push(prefix + inner + (i === x.topics.length - 1 ? "│   └── " : "│   ├── ") + t)
      );
    }
    lines.push(prefix + inner + "└── peers:");
    printed.add(x.name);
    if (x.right.length === 0) {
      lines.push(next + "└── (none)");
      return;
    }
    x.right.forEach((y, i) => walk(next, y, i === x.right.length - 1));
  };
  for (const r of roots) walk("", r, true);
  lines.push("");
  return lines;
}

/** What `generate-config` reads from one recording directory. */
export interface RecordedNode {
  /** The directory's name, which becomes the node's name. */
  readonly name: string;
  /** The endpoint ID from `id.txt`. */
  readonly handle: string;
  /** Peer IDs from `peers.txt`. */
  readonly peerHandles: readonly string[];
  /** Subscriptions from `topics.txt` (any order, repeats allowed). */
  readonly topics: readonly string[];
  /** From `broker.conf`: `broker.forward` (older Brokers) or `broker.disable-forwarding`. */
  readonly disableForwarding: boolean;
  /** Path of its `messages.dat`. */
  readonly generatorFile: string;
  /** Messages per topic in its generator file. */
  readonly outputs: ReadonlyMap<string, number>;
}

function sortedUnique(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort((a, b) => a < b ? -1 : a > b ? 1 : 0);
}

/**
 * `broker-cluster-benchmark --mode=generate-config`: a cluster file from the
 * recordings of every node (see `RecordingDirectory` in `broker node`). It
 * resolves peer IDs to node names, builds the peering tree, counts how many
 * messages each node should receive (along peerings, through nodes that
 * forward, where the topics match), gives every node that others peer to a
 * `tcp://127.0.0.1:` id from port 8000 up, and prints the file in the C++
 * tool's layout. One difference: a node's own messages do not count as its
 * inputs, since Broker does not deliver them to its own subscribers.
 *
 * @example
 * ```ts
 * import { generateClusterConfig } from "./cluster_config.ts";
 * const text = generateClusterConfig([
 *   { name: "a", handle: "A", peerHandles: ["B"], topics: ["/t"], disableForwarding: false,
 *     generatorFile: "a/messages.dat", outputs: new Map([["/t", 5]]) },
 *   { name: "b", handle: "B", peerHandles: ["A"], topics: ["/t"], disableForwarding: false,
 *     generatorFile: "b/messages.dat", outputs: new Map() },
 * ]);
 * console.log(text.includes("num-inputs = 5")); // true
 * ```
 */
export function generateClusterConfig(recorded: readonly RecordedNode[]): string {
  const byHandle = new Map<string, string>();
  const names = new Set<string>();
  for (const r of recorded) {
    if (names.has(r.name)) fail(`node name "${r.name}" appears twice`);
    names.add(r.name);
    if (r.handle === "") fail(`empty id.txt for ${r.name}`);
    if (byHandle.has(r.handle)) fail(`node ID: ${r.handle} appears twice`);
    byHandle.set(r.handle, r.name);
  }
  const nodes: ClusterNode[] = [...recorded]
    .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
    .map((r) => {
      const peers = new Set<string>();
      for (const h of r.peerHandles) {
        const name = byHandle.get(h);
        if (name === undefined) fail(`missing data: cannot resolve peer ID ${h}`);
        if (name === r.name) fail(`corrupted data: ${h} cannot peer with itself`);
        peers.add(name);
      }
      return {
        name: r.name,
        id: { text: `local:${r.name}`, scheme: "local", path: r.name },
        peers,
        topics: sortedUnique(r.topics),
        generatorFile: r.generatorFile,
        numInputs: 0,
        disableForwarding: r.disableForwarding,
        inputsByNode: new Map<string, number>(),
        left: [],
        right: [],
      };
    });
  buildNodeTree(nodes);
  const outputs = new Map(recorded.map((r) => [r.name, r.outputs]));
  const step = (src: ClusterNode, dst: ClusterNode, filter: readonly string[]) => {
    let n = 0;
    for (const [topic, k] of outputs.get(src.name)!) if (matchesAny(topic, filter)) n += k;
    if (n === 0) return;
    dst.numInputs += n;
    dst.inputsByNode.set(src.name, (dst.inputsByNode.get(src.name) ?? 0) + n);
  };
  // Walks away from the source in one direction of the tree, as the C++ tool
  // does; `seen` only guards against cycles, which a tree does not have.
  const traverse = (
    src: ClusterNode,
    dst: ClusterNode,
    filter: readonly string[],
    walk: (n: ClusterNode) => ClusterNode[],
    seen: Set<ClusterNode>,
  ) => {
    if (seen.has(dst)) return;
    seen.add(dst);
    step(src, dst, filter);
    if (dst.disableForwarding) return;
    for (const peer of walk(dst)) {
      if (filter.some((t) => peer.topics.includes(t))) traverse(src, peer, filter, walk, seen);
    }
  };
  for (const n of nodes) {
    for (const peer of n.left) traverse(n, peer, peer.topics, (x) => x.left, new Set([n]));
    for (const peer of n.right) traverse(n, peer, peer.topics, (x) => x.right, new Set([n]));
  }
  let port = 8000;
  const lines = ["nodes {"];
  const list = (name: string, xs: readonly string[]) => {
    if (xs.length === 0) return;
    lines.push(`    ${name} = [`, ...xs.map((x) => `      ${JSON.stringify(x)},`), "    ]");
  };
  for (const n of nodes) {
    const id = n.left.length === 0 ? `local:${n.name}` : `tcp://127.0.0.1:${port++}`;
    lines.push(`  ${n.name} {`, `    id = <${id}>`);
    if (n.numInputs > 0) {
      lines.push(`    num-inputs = ${n.numInputs}`, "    inputs-by-node {");
      for (const [src, k] of [...n.inputsByNode].sort(([a], [b]) => a < b ? -1 : 1)) {
        lines.push(`      ${src} = ${k}`);
      }
      lines.push("    }");
    }
    lines.push(`    disable_forwarding = ${n.disableForwarding}`);
    list("topics", n.topics);
    list("peers", sortedUnique(n.peers));
    if (n.generatorFile && outputs.get(n.name)!.size > 0) {
      lines.push(`    generator-file = ${JSON.stringify(n.generatorFile)}`);
    }
    lines.push("  }");
  }
  lines.push("}");
  return lines.join("\n") + "\n";
}

/**
 * Whether a topic falls under one of the prefixes, as Broker's filters match.
 *
 * @example
 * ```ts
 * import { matchesAny } from "./cluster_config.ts";
 * console.log(matchesAny("/benchmark/events", ["/benchmark/"])); // true
 * ```
 */
export function matchesAny(topic: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => topic.startsWith(p));
}
