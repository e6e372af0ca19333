/**
 * `broker cluster`: Zeek's cluster layer from the shell.
 *
 * - `nodes LAYOUT`: which nodes of a layout are up, live. It peers (silently,
 *   with no cluster role) with every node that listens (loggers, the
 *   manager, proxies) and counts one up when its `Cluster::hello` arrives,
 *   as Zeek's nodes send one to every new peer; workers do not listen, so
 *   they show as `-`. `--watch` keeps printing node_up/node_down.
 * - `hrw LAYOUT|--pool NAMES KEY...`: which node owns each key, as Zeek's
 *   `Cluster::hrw_topic` computes it (`--typed` reads keys as Zeek values,
 *   so `10.0.0.1` hashes as an addr, not a string).
 * - `join LAYOUT NAME`: runs one node of the layout, printing node_up and
 *   node_down until SIGINT/SIGTERM.
 *
 * Layouts are JSON, ZeekControl's `node.cfg` or CAF config
 * (`cluster_layout_file.ts`). Every option and the layout are checked
 * before anything runs; a bad one exits 2. `join` and `nodes` peer over TLS
 * unless `--disable-ssl`, as Zeek's `Broker::disable_ssl` is F by default:
 * anonymous, or with the `--broker.ssl.*` certificates.
 *
 * @module
 */
import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import {
  type ClusterEvent,
  type ClusterLayout,
  ClusterNode,
  type Data,
  dataToString,
  Endpoint,
  type HrwKey,
  parseZeekMessage,
  Pool,
  StatusCode,
} from "../mod.ts";
import { BROKER_TOPICS, clusterTopics } from "../engine/cluster/topics.ts";
import {
  parseBindAddress,
  parseChoice,
  parseDuration,
  parsePort,
  UsageError,
} from "./cli_values.ts";
import { parseLayoutText } from "./cluster_layout_file.ts";
import { writeToStdio } from "./stdio.ts";
import {
  addSslOptions,
  DISABLE_SSL_HELP,
  endpointSslOptions,
  type SslCliValues,
} from "./ssl_options.ts";
import { parseCliValue } from "./store_command.ts";
import { timerDelay } from "../engine/timer_delay.ts";

const POOL_TYPES = ["proxy", "worker", "logger"] as const;

/** Reads and checks a layout argument: unreadable or invalid is a usage error. */
async function loadLayout(path: string): Promise<ClusterLayout> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (e) {
    throw new UsageError("<layout>", `cannot read ${path}: ${e instanceof Error ? e.message : e}`);
  }
  try {
    return parseLayoutText(text, path);
  } catch (e) {
    throw new UsageError("<layout>", e instanceof Error ? e.message : String(e));
  }
}

/**
 * A `--pool` list: names separated by commas (or a JSON list), at least one,
 * no duplicates.
 *
 * @example
 * ```ts
 * import { parsePoolNames } from "./cluster_command.ts";
 * parsePoolNames("proxy-1, proxy-2", "--pool"); // ["proxy-1", "proxy-2"]
 * ```
 */
export function parsePoolNames(text: string, option: string): string[] {
  let names: unknown;
  const t = text.trim();
  if (t.startsWith("[")) {
    try {
      names = JSON.parse(t);
    } catch {
      throw new UsageError(option, `expected names separated by commas or a JSON list, got ${t}`);
    }
  } else names = t.split(",").map((s) => s.trim());
  if (
    !Array.isArray(names) || names.length === 0 ||
    names.some((n) => typeof n !== "string" || n === "")
  ) {
    throw new UsageError(
      option,
      `expected node names separated by commas, got ${JSON.stringify(text)}`,
    );
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new UsageError(option, `${dup} appears twice`);
  return names as string[];
}

/** A key argument: a string, or with `typed` a Zeek value as `broker store` reads them. */
function parseKey(text: string, typed: boolean): HrwKey {
  if (!typed) return text;
  let v: Data;
  try {
    v = parseCliValue(text);
  } catch (e) {
    throw new UsageError("<key>", e instanceof Error ? e.message : String(e));
  }
  if (
    !["string", "count", "integer", "real", "boolean", "address", "subnet", "port", "timestamp"]
      .includes(v.type)
  ) {
    throw new UsageError("<key>", `Zeek's hash of a ${v.type} key is not covered: ${text}`);
  }
  return v;
}

function writeLine(line: string): void {
  writeToStdio("stdout", line + "\n");
}

/** Resolves on SIGINT or SIGTERM (listeners removed after). */
function untilSignal(): { done: Promise<void>; stop: () => void } {
  let resolve!: () => void;
  const done = new Promise<void>((r) => resolve = r);
  const sigs: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const handler = () => resolve();
  for (const s of sigs) Deno.addSignalListener(s, handler);
  return {
    done,
    stop: () => {
      for (const s of sigs) Deno.removeSignalListener(s, handler);
      resolve();
    },
  };
}

function eventLine(ev: ClusterEvent, json: boolean): string {
  if (json) return JSON.stringify(ev);
  return ev.kind === "error" ? `error ${ev.message}` : `${ev.kind} ${ev.name} ${ev.id}`;
}

interface HrwValues {
  pool?: string;
  type?: string;
  dead?: string;
  typed?: boolean;
  backend?: string;
  json?: boolean;
}

async function runHrw(args: string[], cli: HrwValues): Promise<void> {
  const type = parseChoice(cli.type ?? "proxy", "--type", POOL_TYPES);
  if (cli.pool !== undefined && cli.type !== undefined) {
    throw new UsageError("--type", "picks a layout's pool: leave it out with --pool");
  }
  let backend = cli.backend === undefined
    ? undefined
    : parseChoice(cli.backend, "--backend", ["broker", "zeromq"] as const);
  const dead = cli.dead === undefined ? [] : parsePoolNames(cli.dead, "--dead");
  let names: string[];
  let keys: string[];
  if (cli.pool !== undefined) {
    names = parsePoolNames(cli.pool, "--pool");
    keys = args;
  } else {
    if (args.length === 0) throw new UsageError("<layout>", "missing (or give --pool NAMES)");
    const layout = await loadLayout(args[0]);
    names = layout.poolMembers(type);
    if (names.length === 0) throw new UsageError("--type", `the layout has no ${type} nodes`);
    keys = args.slice(1);
    // The layout's own topic spelling, unless --backend says otherwise.
    backend ??= layout.backend;
  }
  if (keys.length === 0) throw new UsageError("<key>", "give at least one key");
  for (const d of dead) {
    if (!names.includes(d)) throw new UsageError("--dead", `${d} is not in the pool`);
  }
  const parsed = keys.map((k) => parseKey(k, !!cli.typed));
  // All checked: now compute.
  const pool = new Pool(names, { backend: backend ?? BROKER_TOPICS.backend });
  for (const d of dead) pool.markDead(d);
  for (let i = 0; i < keys.length; i++) {
    const node = pool.hrwNode(parsed[i]);
    const topic = pool.hrwTopic(parsed[i]);
    writeLine(
      cli.json
        ? JSON.stringify({ key: keys[i], node, topic })
        : `${keys[i]}\t${node || "-"}\t${topic || "-"}`,
    );
  }
}

interface JoinValues extends SslCliValues {
  address?: string;
  localPort?: string;
  /** `--address`'s first name, still taken (hidden from help). */
  listenHost?: string;
  /** `--local-port`'s first name, still taken (hidden from help). */
  listenPort?: string;
  json?: boolean;
  messages?: boolean;
}

/** The value of an option that also answers to its first name; both given is a usage error. */
function eitherName(
  value: string | undefined,
  flag: string,
  old: string | undefined,
  oldFlag: string,
): [string, string] | undefined {
  if (value !== undefined && old !== undefined) {
    throw new UsageError(oldFlag, `the same as ${flag}: give one of them`);
  }
  if (value !== undefined) return [value, flag];
  return old === undefined ? undefined : [old, oldFlag];
}

async function runJoin(layoutPath: string, name: string, cli: JoinValues): Promise<void> {
  const host = eitherName(cli.address, "--address", cli.listenHost, "--listen-host");
  const port = eitherName(cli.localPort, "--local-port", cli.listenPort, "--listen-port");
  const listenHost = host && parseBindAddress(host[0], host[1]);
  const listenPort = port && parsePort(port[0], port[1], { allowZero: true });
  const layout = await loadLayout(layoutPath);
  if (!layout.get(name)) {
    throw new UsageError(
      "<name>",
      `${name} is not in the layout (${layout.nodes.map((n) => n.name).join(", ")})`,
    );
  }
  if (layout.backend !== "broker") {
    throw new UsageError(
      "<layout>",
      "join runs over Broker peerings; the layout's backend is zeromq",
    );
  }
  // Ours, not the node's, so that it takes the TLS options; shut down below.
  // It relays nothing, as a Zeek node (Broker::forward_messages = F).
  const endpoint = new Endpoint({ ...endpointSslOptions(cli), disableForwarding: true });
  let node: ClusterNode;
  try {
    node = await ClusterNode.join(layout, name, { listenHost, listenPort, endpoint });
  } catch (e) {
    await endpoint.shutdown();
    throw e;
  }
  const signal = untilSignal();
  const events = node.events();
  writeLine(
    cli.json
      ? JSON.stringify({ kind: "joined", name, id: node.id, port: node.port })
      : `joined ${name} ${node.id} port=${node.port}`,
  );
  const printing = (async () => {
    for await (const ev of events) {
      if (!cli.json) {
        writeLine(eventLine(ev, false));
        continue;
      }
      // With --json each event carries the live view: who is up, and the
      // pools' alive members (they follow node_up/node_down, as Zeek's).
      const alive = (t: "proxy" | "worker" | "logger") =>
        node.pool(t).nodes.filter((n) => n.alive).map((n) => n.name);
      writeLine(JSON.stringify({
        ...ev,
        up: [...node.up().keys()].sort(),
        pools: { proxy: alive("proxy"), worker: alive("worker"), logger: alive("logger") },
      }));
    }
  })();
  const messages = cli.messages
    ? (async () => {
      for await (const { topic, data } of node.messages) {
        writeLine(
          cli.json
            ? JSON.stringify({ kind: "message", topic, data: dataToString(data) })
            : `message ${topic} ${dataToString(data)}`,
        );
      }
    })()
    : undefined;
  await signal.done;
  signal.stop();
  await node.close();
  await endpoint.shutdown();
  await printing;
  await messages;
}

interface NodesValues extends SslCliValues {
  timeout?: string;
  watch?: boolean;
  json?: boolean;
}

async function runNodes(layoutPath: string, cli: NodesValues): Promise<void> {
  const timeoutMs = parseDuration(cli.timeout ?? "2s", "--timeout");
  const layout = await loadLayout(layoutPath);
  if (layout.backend !== "broker") {
    throw new UsageError(
      "<layout>",
      "nodes asks over Broker peerings; the layout's backend is zeromq",
    );
  }
  const topics = clusterTopics(layout.backend);
  // Peered with every node: relaying, it would double their broadcasts.
  const endpoint = new Endpoint({ ...endpointSslOptions(cli), disableForwarding: true });
  const up = new Map<string, string>();
  const changes: string[] = [];
  let changed = () => {};
  const hellos = endpoint.subscribe(topics.nodeidTopic(endpoint.id));
  const status = endpoint.statusSubscriber();
  const listening = layout.nodes.filter((n) => n.port !== 0);
  const signal = cli.watch ? untilSignal() : undefined;
  const loops = [
    (async () => {
      for await (const msg of hellos) {
        try {
          const m = parseZeekMessage(msg.data);
          const [n, id] = m.kind === "event" && m.name === "Cluster::hello" ? m.args : [];
          if (n?.type !== "string" || id?.type !== "string" || !layout.get(n.value)) continue;
          if (up.get(n.value) === id.value) continue;
          up.set(n.value, id.value);
          changes.push(eventLine({ kind: "node_up", name: n.value, id: id.value }, !!cli.json));
          changed();
        } catch {
          // not a Zeek event
        }
      }
    })(),
    (async () => {
      for await (const ev of status) {
        if (ev.kind !== "status" || !ev.peer?.id) continue;
        if (ev.code !== StatusCode.peer_lost && ev.code !== StatusCode.peer_removed) continue;
        for (const [n, id] of up) {
          if (id !== ev.peer.id) continue;
          up.delete(n);
          changes.push(eventLine({ kind: "node_down", name: n, id }, !!cli.json));
          changed();
        }
      }
    })(),
  ];
  try {
    for (const n of listening) endpoint.peerNoWait(n.host, n.port, { retryMs: 1000 });
    // Done early once every listening node said hello.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, timerDelay(timeoutMs));
      changed = () => {
        if (listening.every((n) => up.has(n.name))) {
          clearTimeout(timer);
          resolve();
        }
      };
      changed();
    });
    changes.length = 0;
    for (const n of layout.nodes) {
      const state = n.port === 0 ? "-" : up.has(n.name) ? "up" : "down";
      writeLine(
        cli.json
          ? JSON.stringify({ ...n, state, id: up.get(n.name) ?? null })
          : `${n.name}\t${n.type}\t${n.host}:${n.port}\t${state}\t${up.get(n.name) ?? "-"}`,
      );
    }
    if (signal) {
      changed = () => {
        for (const l of changes.splice(0)) writeLine(l);
      };
      await signal.done;
      signal.stop();
    }
  } finally {
    await endpoint.shutdown();
    await Promise.all(loops);
  }
}

/**
 * Registers `broker cluster` (`nodes`, `hrw`, `join`).
 *
 * @example
 * ```ts ignore
 * registerClusterCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerClusterCommand(
  program: CommandUnknownOpts,
  _setExitCode: (code: number) => void,
): void {
  const cluster = program
    .command("cluster")
    .description("Zeek's cluster layer: who is up, which node owns a key, run one node");
  const nodes = cluster
    .command("nodes")
    .description("which nodes of a layout are up (listening nodes are asked over Broker)")
    .argument("<layout>", "layout file: JSON, ZeekControl node.cfg or CAF config")
    .option(
      "--timeout <duration>",
      "how long to wait for hellos (a bare number is seconds; default: 2s)",
    )
    .option("--watch", "keep running and print node_up/node_down until interrupted")
    .option("--json", "one JSON object per line")
    .option("--disable-ssl", DISABLE_SSL_HELP);
  addSslOptions(nodes).action((layout: string, cli: NodesValues) => runNodes(layout, cli));
  cluster
    .command("hrw")
    .description("which node owns each key, as Zeek's Cluster::hrw_topic picks it")
    .argument("[args...]", "LAYOUT KEY... (or KEY... with --pool)")
    .option("--pool <names>", "the pool's nodes, separated by commas, instead of a layout")
    .option("--type <type>", `the layout's pool: ${POOL_TYPES.join(", ")} (default: proxy)`)
    .option("--dead <names>", "nodes to count as down, separated by commas")
    .option("--typed", "read keys as Zeek values (1 a count, 10.0.0.1 an addr, 80/tcp a port)")
    .option(
      "--backend <backend>",
      `topic spelling: broker or zeromq (default: the layout's, else ${BROKER_TOPICS.backend})`,
    )
    .option("--json", "one JSON object per line")
    .action((args: string[], cli: HrwValues) => runHrw(args, cli));
  const join = cluster
    .command("join")
    .description("run one node of a layout, printing node_up/node_down until interrupted")
    .argument("<layout>", "layout file: JSON, ZeekControl node.cfg or CAF config")
    .argument("<name>", "the node to be")
    // The names every subcommand uses for a listener (README, "Command line"); the first ones stay.
    .option(
      "--address <addr>",
      "address to listen on (default: as Zeek, $ZEEK_DEFAULT_LISTEN_ADDRESS, else all)",
    )
    .option("-l, --local-port <port>", "port to listen on instead of the layout's (0: any)")
    .addOption(new Option("--listen-host <addr>").hideHelp())
    .addOption(new Option("--listen-port <port>").hideHelp())
    .option("--messages", "also print the messages on the node's topics")
    .option("--json", "one JSON object per line")
    .option("--disable-ssl", DISABLE_SSL_HELP);
  addSslOptions(join).action((layout: string, name: string, cli: JoinValues) =>
    runJoin(layout, name, cli)
  );
}
