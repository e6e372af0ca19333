/**
 * The cluster file of Broker's `broker-cluster-benchmark`: a CAF-syntax
 * config whose `nodes` section names every endpoint with its `id`
 * (`<local:NAME>` or `<tcp://host:port>`), `peers`, `topics`,
 * `generator-file`, `num-inputs`, `num-outputs`, `forward`, `inputs-by-node`
 * and `log-verbosity`. This module parses it and checks the topology as
 * Broker 2.2.0's tool (the last one that runs) does, under the same names
 * and with CAF's conversions (`num-inputs = "10"` is 10, `forward =
 * "false"` is false), and writes the config `--mode=generate-config` makes
 * from recordings byte for byte as that tool does. It has no I/O, so the
 * runner and its tests share one reading.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../mod.ts";
import { compareText } from "../engine/data/order.ts";
import {
  type CafConfig,
  type CafUri,
  type ConfigValue,
  formatConfigValue,
  parseCafConfig,
  parseCafList,
  parseCafUri,
} from "./caf_config.ts";

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
  /**
   * Whether the node keeps to itself what it receives from peers: the
   * opposite of Broker 2.2.0's `forward` (default true, so false by default),
   * or newer Brokers' `disable-forwarding`.
   */
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

/** A string as CAF's `deep_to_string` quotes it inside an error. */
function cafQuoted(s: string): string {
  return `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;
}

/** Broker 2.2.0's words for a bad node: `make_error(sec::invalid_argument, name, what, detail)`. */
function nodeFail(name: string, what: string, detail: string): never {
  fail(
    `invalid config for node '${name}': caf::sec::invalid_argument(${cafQuoted(name)}, ${
      cafQuoted(what)
    }, ${cafQuoted(detail)})`,
  );
}

/** Byte order of UTF-8 strings (what `std::string`'s `<` gives). */
export const compareBytes: (a: string, b: string) => number = compareText;

// ------------------------------------------------------------------ CAF's conversions

const NUMBER_TEXT = /^\s*\+?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/;

/** CAF 0.18's `get_as<size_t>`: a count, an integral real, or a string holding one. */
function asCount(v: ConfigValue): number | undefined {
  let n: number;
  if (v.type === "integer") n = Number(v.value);
  else if (v.type === "real") n = v.value;
  else if (v.type === "string" && NUMBER_TEXT.test(v.value)) n = Number(v.value);
  else return undefined;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** CAF's `get_as<bool>`: a boolean or the exact strings `true` and `false`. */
function asBool(v: ConfigValue): boolean | undefined {
  if (v.type === "boolean") return v.value;
  if (v.type === "string" && (v.value === "true" || v.value === "false")) {
    return v.value === "true";
  }
  return undefined;
}

/** CAF's `get_as<std::string>`: anything, rendered. */
function asString(v: ConfigValue): string {
  return v.type === "string" ? v.value : formatConfigValue(v);
}

/** CAF's `get_as<uri>`: a URI, or a string that parses as one. */
function asUri(v: ConfigValue): CafUri | undefined {
  if (v.type === "uri") return v.value;
  if (v.type !== "string") return undefined;
  try {
    return parseCafUri(v.value);
  } catch {
    return undefined;
  }
}

/** CAF's `get_as<std::vector<std::string>>`: a list (elements rendered), or a string holding one. */
function asStringList(v: ConfigValue): string[] | undefined {
  let items: readonly ConfigValue[];
  if (v.type === "list") items = v.value;
  else if (v.type === "string") {
    try {
      items = parseCafList(v.value);
    } catch {
      return undefined;
    }
    if (!v.value.trim().startsWith("[")) return undefined;
  } else return undefined;
  return items.map(asString);
}

// ------------------------------------------------------------------ reading a cluster file

/**
 * The names under `nodes`, in CAF's dictionary order (sorted by bytes), as
 * the C++ tool iterates them.
 */
function nodeNames(cfg: CafConfig): string[] {
  const names = new Set<string>();
  for (const key of cfg.values.keys()) {
    if (key.startsWith("nodes.")) names.add(key.slice(6).split(".")[0]);
  }
  return [...names].sort(compareBytes);
}

/** Options of `readClusterConfig`. */
export interface ReadClusterOptions {
  /** Name of the input in parse errors. */
  source?: string;
  /** Nodes left out (`--excluded-nodes`). */
  excluded?: readonly string[];
  /**
   * Whether a generator file exists: the C++ tool refuses a node whose file
   * does not. Not called when absent (no I/O here).
   */
  generatorFileExists?: (path: string) => boolean;
}

function makeNode(cfg: CafConfig, name: string, options: ReadClusterOptions): ClusterNode {
  const field = (f: string) => cfg.get(`nodes.${name}.${f}`);
  const illegal = (f: string): never => nodeFail(name, "illegal type for field", f);
  const read = <T>(f: string, conv: (v: ConfigValue) => T | undefined): T | undefined => {
    const v = field(f);
    if (v === undefined) return undefined;
    return conv(v) ?? illegal(f);
  };
  // In the C++ tool's order, so that the first bad field is the one named.
  const id = read("id", asUri) ?? nodeFail(name, "no entry for mandatory field", "id");
  if (id.scheme !== "tcp" && id.scheme !== "local") {
    fail(`invalid config for node '${name}': id <${id.text}> must be local: or tcp://`);
  }
  if (id.scheme === "tcp" && (id.host === undefined || id.port === undefined)) {
    fail(`invalid config for node '${name}': id <${id.text}> needs a host and a port`);
  }
  const peers = read("peers", asStringList) ?? [];
  const topics = read("topics", asStringList) ??
    nodeFail(name, "no entry for mandatory field", "topics");
  const generatorFile = read("generator-file", asString) ?? "";
  const numInputs = read("num-inputs", asCount) ?? 0;
  // Broker 2.2.0 says `forward` (default true); newer Brokers `disable-forwarding`,
  // and their generate-config wrote `disable_forwarding`: the first one present counts.
  const forward = read("forward", asBool);
  const disableForwarding = forward !== undefined
    ? !forward
    : read("disable-forwarding", asBool) ?? read("disable_forwarding", asBool) ?? false;
  const numOutputs = read("num-outputs", asCount);
  const inputsByNode = new Map<string, number>();
  const byNode = field("inputs-by-node");
  if (byNode !== undefined) illegal("inputs-by-node"); // a value, not a section
  const prefix = `nodes.${name}.inputs-by-node.`;
  for (const [key, v] of cfg.values) {
    if (!key.startsWith(prefix)) continue;
    const from = key.slice(prefix.length);
    // A nested section under a sender's name is no count either.
    if (from.includes(".")) illegal("inputs-by-node");
    inputsByNode.set(from, asCount(v) ?? illegal("inputs-by-node"));
  }
  // log-verbosity sets the C++ tool's CAF log level; anything converts to a string, nothing to do here.
  if (generatorFile !== "" && options.generatorFileExists?.(generatorFile) === false) {
    nodeFail(name, "generator file does not exist", generatorFile);
  }
  return {
    name,
    id,
    peers: new Set(peers),
    topics,
    generatorFile,
    numInputs,
    numOutputs,
    disableForwarding,
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
 * checks and messages: mandatory `id` and `topics`, fields of the right
 * type, existing generator files, at least two and fewer than 500 nodes, no
 * unknown or self peers, every node peered with some other, no routing loop
 * through forwarding nodes from a sender, at least one sender and one
 * receiver, every node sending or receiving. Nodes come in CAF's order
 * (sorted by name). `excluded` drops nodes for a partial run, as
 * `--excluded-nodes` does.
 *
 * One deliberate difference: when `inputs-by-node` counts a node's own
 * messages (the C++ generate-config counts them), they are taken off its
 * `num-inputs` with a warning, because Broker never delivers a node's
 * messages to itself and the C++ tool waits for them forever.
 *
 * Throws a `BrokerError` (`invalid_data`) naming the problem.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { readClusterConfig } from "./cluster_config.ts";
 * const { nodes } = readClusterConfig(`nodes {
 *   earth { id = <local:earth>, peers = ["mars"], topics = ["/b"], num-inputs = 10 }
 *   mars { id = <tcp://127.0.0.1:8001>, topics = ["/b"], generator-file = "mars.dat" }
 * }`);
 * deepEqual(nodes.map((n) => n.name), ["earth", "mars"]);
 * ```
 */
export function readClusterConfig(text: string, options: ReadClusterOptions = {}): ClusterSetup {
  const cfg = parseCafConfig(text, { source: options.source });
  const excluded = new Set(options.excluded ?? []);
  const warnings: string[] = [];
  const nodes: ClusterNode[] = [];
  for (const name of nodeNames(cfg)) {
    if (excluded.has(name)) continue;
    const n = makeNode(cfg, name, options);
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
  for (const n of nodes) {
    const own = n.inputsByNode.get(n.name) ?? 0;
    if (own === 0) continue;
    n.numInputs = Math.max(0, n.numInputs - own);
    warnings.push(
      `${n.name} expects ${own} of its own messages, which Broker never delivers to the node ` +
        `that publishes them: waiting for ${n.numInputs} instead`,
    );
  }
  verifyNodeTree(nodes);
  return { nodes, warnings };
}

/**
 * Whether, walking from `x` in one direction through nodes that forward,
 * the walk comes back to a node on its path (Broker 2.2.0's loop check).
 */
function hasLoop(
  x: ClusterNode,
  path: string[],
  side: (n: ClusterNode) => readonly ClusterNode[],
): boolean {
  if (x.disableForwarding) return false;
  for (const y of side(x)) {
    if (path.includes(y.name)) return true;
    if (hasLoop(y, [...path, y.name], side)) return true;
  }
  return false;
}

function hasRoutingLoop(x: ClusterNode): boolean {
  for (const side of [(n: ClusterNode) => n.left, (n: ClusterNode) => n.right]) {
    for (const y of side(x)) if (hasLoop(y, [x.name, y.name], side)) return true;
  }
  return false;
}

function buildNodeTree(nodes: ClusterNode[]): void {
  const byName = new Map(nodes.map((n) => [n.name, n]));
  for (const x of nodes) {
    for (const peerName of [...x.peers].sort(compareBytes)) {
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
  // Before the mirrored peerings go: A -> B plus B -> A through a forwarding
  // node is a loop to the C++ tool, which refuses it.
  for (const x of nodes) {
    if (isSender(x) && hasRoutingLoop(x)) {
      fail(`starting at node '${x.name}' results in a routing loop`);
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
 * The generator files `--mode dump-stats` reads: every string under a
 * `generator-file` key anywhere below `nodes`, in CAF's dictionary order and
 * repeats included, as the C++ tool collects them (no other check of the
 * config).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { listGeneratorFiles } from "./cluster_config.ts";
 * deepEqual(
 *   listGeneratorFiles('nodes { b { generator-file = "b.dat" }\n a { generator-file = "a.dat" } }'),
 *   ["a.dat", "b.dat"],
 * );
 * ```
 */
export function listGeneratorFiles(text: string, options: { source?: string } = {}): string[] {
  const cfg = parseCafConfig(text, options);
  const keys = [...cfg.values.keys()]
    .map((k) => k.split("."))
    .filter((segs) => segs[0] === "nodes" && segs.at(-1) === "generator-file")
    .sort((a, b) => {
      for (let i = 0; i < Math.min(a.length, b.length); i++) {
        const c = compareBytes(a[i], b[i]);
        if (c !== 0) return c;
      }
      return a.length - b.length;
    });
  return keys.flatMap((segs) => {
    const v = cfg.get(segs.join("."))!;
    return v.type === "string" ? [v.value] : [];
  });
}

/**
 * The peering tree as the C++ tool prints it in verbose mode: each root
 * (a node nobody peers to) with its topics and, indented, the nodes it peers to.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { peeringTree, readClusterConfig } from "./cluster_config.ts";
 * const { nodes } = readClusterConfig(`nodes {
 *   earth { id = <local:earth>, peers = ["mars"], topics = ["/b"], num-inputs = 10 }
 *   mars { id = <tcp://127.0.0.1:8001>, topics = ["/b"], generator-file = "mars.dat" }
 * }`);
 * deepEqual(peeringTree(nodes), [
 *   "peering tree (multiple roots are allowed):",
 *   "earth",
 *   "├── topics:",
 *   "│   └── /b",
 *   "└── peers:",
 *   "    └── mars",
 *   "        ├── topics:",
 *   "        │   └── /b",
 *   "        └── peers:",
 *   "            └── (none)",
 *   "",
 * ]);
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
  /**
   * From `broker.conf`: the opposite of `broker.forward` (Broker 2.2.0 and
   * older), else newer Brokers' `broker.disable-forwarding`.
   */
  readonly disableForwarding: boolean;
  /** Path of its `messages.dat`. */
  readonly generatorFile: string;
  /** Entries (data and commands) per topic in its generator file. */
  readonly outputs: ReadonlyMap<string, number>;
}

function sortedUnique(xs: Iterable<string>): string[] {
  return [...new Set(xs)].sort(compareBytes);
}

/**
 * `broker-cluster-benchmark --mode=generate-config`: a cluster file from the
 * recordings of every node (see `RecordingDirectory` in `broker node`), byte
 * for byte as Broker 2.2.0's tool writes it. Nodes come in the order given
 * (the tool sorts its directory arguments first). It resolves peer IDs to
 * node names, builds the peering tree (refusing routing loops), counts how
 * many messages each node should receive (along peerings, through nodes
 * that forward, where the topics match, and, as the C++ tool does, its own
 * messages on topics it subscribes), gives every node that others peer to a
 * `tcp://127.0.0.1:` id from port 8000 up, and prints the file in the C++
 * tool's layout (strings in quotes as they are, without escapes).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { generateClusterConfig } from "./cluster_config.ts";
 * const text = generateClusterConfig([
 *   { name: "a", handle: "A", peerHandles: ["B"], topics: ["/t"], disableForwarding: true,
 *     generatorFile: "a/messages.dat", outputs: new Map([["/t", 5]]) },
 *   { name: "b", handle: "B", peerHandles: ["A"], topics: ["/t"], disableForwarding: true,
 *     generatorFile: "b/messages.dat", outputs: new Map() },
 * ]);
 * equal(text.includes("num-inputs = 5"), true);
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
  const nodes: ClusterNode[] = recorded.map((r) => {
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
  // Walks away from the source in one direction of the tree, as the C++
  // tool does, with the first hop's topics as the filter all the way. The
  // loop check above leaves no cycle through forwarding nodes; a node
  // reached along two paths counts twice, as it would get two copies.
  const traverse = (
    src: ClusterNode,
    dst: ClusterNode,
    filter: readonly string[],
    walk: (n: ClusterNode) => ClusterNode[],
  ) => {
    step(src, dst, filter);
    if (dst.disableForwarding) return;
    for (const peer of walk(dst)) {
      if (filter.some((t) => peer.topics.includes(t))) traverse(src, peer, filter, walk);
    }
  };
  for (const n of nodes) {
    step(n, n, n.topics);
    for (const peer of n.left) traverse(n, peer, peer.topics, (x) => x.left);
    for (const peer of n.right) traverse(n, peer, peer.topics, (x) => x.right);
  }
  let port = 8000;
  const lines = ["nodes {"];
  const list = (name: string, xs: readonly string[]) => {
    if (xs.length === 0) return;
    lines.push(`    ${name} = [`, ...xs.map((x) => `      "${x}",`), "    ]");
  };
  for (const n of nodes) {
    const id = n.left.length === 0 ? `local:${n.name}` : `tcp://127.0.0.1:${port++}`;
    lines.push(`  ${n.name} {`, `    id = <${id}>`);
    if (n.numInputs > 0) {
      lines.push(`    num-inputs = ${n.numInputs}`, "    inputs-by-node {");
      for (const [src, k] of [...n.inputsByNode].sort(([a], [b]) => compareBytes(a, b))) {
        lines.push(`      ${src} = ${k}`);
      }
      lines.push("    }");
    }
    lines.push(`    forward = ${!n.disableForwarding}`);
    list("topics", n.topics);
    list("peers", sortedUnique(n.peers));
    if (n.generatorFile && outputs.get(n.name)!.size > 0) {
      lines.push(`    generator-file = "${n.generatorFile}"`);
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
 * import { equal } from "node:assert/strict";
 * import { matchesAny } from "./cluster_config.ts";
 * equal(matchesAny("/benchmark/events", ["/benchmark/"]), true);
 * ```
 */
export function matchesAny(topic: string, prefixes: readonly string[]): boolean {
  return prefixes.some((p) => topic.startsWith(p));
}
