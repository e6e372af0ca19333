/**
 * `broker node`'s options: broker-node's option table, the merge of
 * defaults, config file, environment and command line, and `--dump-config`.
 *
 * @module
 */
import { DISABLE_SSL_HELP, SSL_KEYS, type SslCliValues } from "./ssl_options.ts";
import {
  BROKER_ENV_KEYS,
  BROKER_GLOBAL_OPTIONS,
  BROKER_SECTION_OPTIONS,
  CAF_OPTIONS,
  type CafOptionSpec,
  type CafOptionWithParser,
  cafValuesFromCli,
  cafValuesFromEnv,
  dumpEntries,
  optionFlag,
  parseCafOptionValue,
  renderCafDump,
  usage,
} from "./broker_config.ts";
import {
  type HostPort,
  listenerClash,
  listenerClashMessage,
  type ListenerSpec,
  parseBindAddress,
  parseChoice,
  parsePeerList,
  parseTopicList,
  peerUri,
  UsageError,
} from "./cli_values.ts";
import type { SslOptions } from "../engine/transport/tls.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import {
  type CafConfig,
  type CafUri,
  type ConfigValue,
  formatConfigValue,
  loadCafConfigFile,
  parseCafUri,
} from "./caf_config.ts";

/** The three modes of broker-node. */
export type NodeMode = "relay" | "ping" | "pong";

/**
 * Option values as the command line gave them (raw text; flags as `true`),
 * under commander's names for them; Broker's and CAF's other options
 * (`broker.*`, `caf.*`, see `NODE_OPTIONS`) are there too, by the same rule.
 */
export interface NodeCliValues extends SslCliValues {
  /** `--config-file`, as given. */
  configFile?: string;
  /** `--topics`, as given. */
  topics?: string;
  /** `--port`, as given. */
  port?: string;
  /** `--address`, as given. */
  address?: string;
  /** `--peers`, as given. */
  peers?: string;
  /** `--mode`, as given. */
  mode?: string;
  /** `--verbose`, as given. */
  verbose?: boolean;
  /** `--rate`, as given. */
  rate?: boolean;
  /** `--name`, as given. */
  name?: string;
  /** `--num-messages`, as given. */
  numMessages?: string;
  /** `--payload-size`, as given. */
  payloadSize?: string;
  /** `--rendezvous-retry`, as given. */
  rendezvousRetry?: string;
  /** `--warm-up`, as given. */
  warmUp?: string;
  /** `--endpoint-id`, as given. */
  endpointId?: string;
  /** `--disable-ssl`, as given. */
  disableSsl?: boolean;
  /** `--master-stores`, as given. */
  masterStores?: string;
  /** `--clone-stores`, as given. */
  cloneStores?: string;
  /** `--dump-config`: print the settings and exit. */
  dumpConfig?: boolean;
  /** `--long-help`: help with every option. */
  longHelp?: boolean;
  /** Broker's and CAF's options (`--ttl`, `--caf.scheduler.max-threads` ...), as given. */
  [option: string]: string | boolean | undefined;
}

/** The settings a node runs with, after merging defaults, config file, command line and env. */
export interface NodeOptions {
  /** relay, ping or pong. */
  mode: NodeMode;
  /** Node name; broker-node keeps it but prints it nowhere. Defaults to the mode. */
  name: string;
  /** Topics to subscribe to; ping mode uses the first. */
  topics: string[];
  /** Print status and debug lines (`-v`). */
  verbose: boolean;
  /** Print the message rate once per second (relay mode, with `verbose`). */
  rate: boolean;
  /** Port to listen on, if any. */
  port?: number;
  /** Address to listen on (`--address`; broker-node listens on all interfaces). */
  address: string;
  /** Peers to dial at start-up. */
  peers: CafUri[];
  /** Pings to send (ping mode). */
  numMessages: number;
  /** Extra bytes per ping (ping mode). */
  payloadSize: number;
  /** How long ping mode waits for the first pong before repeating ping 0. */
  rendezvousRetryMs: number;
  /**
   * Unmeasured round trips (as ping 0, full size) before the measured ones,
   * so both sides run compiled code; broker-node has no such option (0).
   */
  warmUp: number;
  /** Ping mode: a summary line (min/avg/p50/p99/max) after the per-ping lines (`--summary`). */
  summary?: boolean;
  /** With `verbose`, a line per data message (`--print-data`; broker-node prints none). */
  printData?: boolean;
  /** A fixed endpoint ID (lowercase UUID text). */
  endpointId?: string;
  /** Plain TCP instead of TLS. */
  disableSsl: boolean;
  /** Broker's `broker.ssl.*` (PEM file paths), for TLS when SSL is not disabled. */
  ssl: SslOptions;
  /**
   * Keep what peers send to ourselves instead of passing it on: Broker's
   * `--disable-forwarding` / `broker.disable-forwarding` (or
   * `broker.forward = false`, Broker 2.2.0's name), as Zeek runs its cluster nodes.
   */
  disableForwarding?: boolean;
  /** Broker's `--ttl`, when set (the endpoint's default is Broker's 16). */
  ttl?: number;
  /** Broker's `--peer-buffer-size`, when set (default 2048, as Broker). */
  peerBufferSize?: number;
  /** A WebSocket server, when `broker.web-socket.port` is set (as Broker's endpoint starts one). */
  webSocket?: { address: string; port: number; bufferSize?: number };
  /**
   * Broker's `broker.metrics.*`, when the port or metrics over topics are
   * set: the HTTP server for `/metrics`, `/v1/status/json` and `/`, and the
   * export and import of metrics over topics.
   */
  metrics?: NodeMetricsOptions;
  /** Broker's `--recording-directory` (or `BROKER_RECORDING_DIRECTORY`), when set. */
  recordingDirectory?: string;
  /** Broker's `--output-generator-file-cap`, when set. */
  outputGeneratorFileCap?: number;
  /** Stores to attach as masters (in memory, as broker-node does); names as given. */
  masterStores: string[];
  /** Stores to attach as clones. */
  cloneStores: string[];
}

/** Broker's `broker.metrics.*` as broker-node takes them. */
export interface NodeMetricsOptions {
  /** `broker.metrics.port` (or `BROKER_METRICS_PORT`): serve HTTP there. */
  port?: number;
  /** `broker.metrics.address` (default 0.0.0.0). */
  address: string;
  /** `broker.metrics.endpoint-name`. */
  endpointName?: string;
  /** `broker.metrics.export.topic`. */
  exportTopic?: string;
  /** `broker.metrics.export.interval`, ms. */
  exportIntervalMs?: number;
  /** `broker.metrics.export.prefixes`. */
  exportPrefixes?: string[];
  /** `broker.metrics.import.topics`. */
  importTopics?: string[];
}

/** broker-node's defaults (the binary uses 250 ms for the retry; its help text says 50 ms). */
export const NODE_DEFAULTS = {
  numMessages: 100,
  payloadSize: 0,
  rendezvousRetryMs: 250,
  warmUp: 0,
  address: "0.0.0.0",
} as const;

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function optional<K extends string, V>(key: K, v: V | undefined): { [k in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [k in K]?: V };
}

function invalid(message: string): never {
  throw new BrokerError(ErrorCode.invalid_data, message);
}

/**
 * Parses a port as broker-node takes it: `29001`, or Zeek's `29001/tcp` form
 * (the protocol is ignored).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseNodePort } from "./node_command.ts";
 * equal(parseNodePort("12345/tcp", "BROKER_PORT"), 12345);
 * ```
 */
export function parseNodePort(text: string, source: string): number {
  const m = /^\s*(\d{1,5})(?:\/(?:tcp|udp|icmp|unknown|\?))?\s*$/.exec(text);
  if (!m || Number(m[1]) > 65535) {
    invalid(`${source}: invalid port ${JSON.stringify(text)} (expected e.g. 29001 or 29001/tcp)`);
  }
  return Number(m[1]);
}

/** A port from a config value: a number, or text as `parseNodePort` reads it. */
export function portFromConfig(v: ConfigValue, source: string): number {
  if (v.type === "integer" && v.value >= 0n && v.value <= 65535n) return Number(v.value);
  if (v.type === "string") return parseNodePort(v.value, source);
  return invalid(
    `${source}: invalid port ${formatConfigValue(v)} (expected e.g. 29001 or "29001/tcp")`,
  );
}

function countFromValue(v: ConfigValue, source: string): number {
  if (v.type === "integer" && v.value >= 0n && v.value <= BigInt(Number.MAX_SAFE_INTEGER)) {
    return Number(v.value);
  }
  return invalid(`${source}: expected a non-negative integer, got ${formatConfigValue(v)}`);
}

/** The strings of a list value (CAF lists quote them). */
export function stringsFromList(xs: readonly ConfigValue[], source: string): string[] {
  return xs.map((x) =>
    x.type === "string"
      ? x.value
      : invalid(`${source}: expected quoted strings, got ${formatConfigValue(x)}`)
  );
}

function urisFromList(xs: readonly ConfigValue[], source: string): CafUri[] {
  return xs.map((x) => {
    if (x.type === "uri") return x.value;
    if (x.type === "string") {
      // Broker's URI form, or the `host:port` every other subcommand takes.
      if (/^\w+:\/\//.test(x.value)) return parseCafUri(x.value, { source });
      return peerAsUri(parsePeerList(x.value, source)[0]);
    }
    return invalid(`${source}: expected <tcp://host:port> URIs, got ${formatConfigValue(x)}`);
  });
}

function peerAsUri(p: HostPort): CafUri {
  const text = peerUri(p);
  return { text, scheme: "tcp", host: p.host, port: p.port, path: "" };
}

/** A timespan value, not negative, in ms (a bare 0 too, as CAF takes it). */
export function timespanMs(v: ConfigValue, source: string): number {
  if (v.type === "timespan" && v.value >= 0n) return Number(v.value) / 1e6;
  if (v.type === "integer" && v.value === 0n) return 0;
  return invalid(`${source}: expected a timespan such as 250ms, got ${formatConfigValue(v)}`);
}

/** A string value. */
export function stringValue(v: ConfigValue, source: string): string {
  if (v.type === "string") return v.value;
  return invalid(`${source}: expected a string, got ${formatConfigValue(v)}`);
}

/** A list value's elements. */
export function listValue(v: ConfigValue, source: string): readonly ConfigValue[] {
  if (v.type === "list") return v.value;
  return invalid(`${source}: expected a list, got ${formatConfigValue(v)}`);
}

// A list option's text: a CAF list (broker-node's form) or, as everywhere
// else in `broker`, `host:port` peers and `/a,/b` topics.
const topicList = (text: string | boolean, source: string): ConfigValue => ({
  type: "list",
  value: parseTopicList(String(text), source).map((value) => ({ type: "string", value })),
});

const peerList = (text: string | boolean, source: string): ConfigValue => {
  const t = String(text).trim();
  // A CAF list keeps its URIs as given, so that broker-node's line about a
  // non-tcp one comes at run time; `[::1]:9999` is an address, not a list.
  if (t.startsWith("[") && !/^\[[0-9A-Fa-f:.]*(?:%[\w.-]+)?\]:/.test(t)) {
    return parseCafOptionValue(t, "list", source);
  }
  return {
    type: "list",
    value: parsePeerList(t, source).map((p) => ({ type: "uri", value: peerAsUri(p) })),
  };
};

/**
 * broker-node's own options (besides Broker's, `BROKER_GLOBAL_OPTIONS`),
 * in its order, with its names, and ours (`--address`, `--warm-up`).
 */
export const NODE_OWN_OPTIONS: readonly CafOptionWithParser[] = [
  { key: "verbose", short: "v", type: "bool", help: "print status and debug output" },
  {
    key: "rate",
    short: "r",
    type: "bool",
    help: "print the message rate once per second (relay mode, with -v)",
  },
  {
    key: "name",
    short: "N",
    type: "string",
    meta: "<name>",
    help: "set node name (default: the mode)",
  },
  {
    key: "topics",
    short: "t",
    type: "list",
    help: 'topics for sending/receiving messages, e.g. \'["/a","/b"]\' or /a,/b',
    parse: topicList,
  },
  {
    key: "mode",
    short: "m",
    type: "string",
    meta: "<mode>",
    help: "relay, ping or pong (default: relay)",
  },
  {
    key: "payload-size",
    short: "s",
    type: "uint64",
    meta: "<bytes>",
    help: "additional number of bytes for the ping message (default: 0)",
  },
  {
    key: "rendezvous-retry",
    type: "timespan",
    help:
      "timeout before repeating the first rendezvous ping message, e.g. 50ms (default: 250ms, as broker-node runs; its help says 50ms)",
  },
  {
    key: "num-messages",
    short: "n",
    type: "uint64",
    help: "number of pings (default: 100, ping mode only)",
  },
  {
    key: "peers",
    type: "list",
    help: "peers to connect to on startup, e.g. '[<tcp://127.0.0.1:29001>]' or 127.0.0.1:29001",
    parse: peerList,
  },
  {
    key: "port",
    short: "p",
    type: "port",
    help: "port to listen for incoming Broker peerings (also BROKER_PORT; default: none)",
  },
  {
    key: "address",
    type: "string",
    meta: "<addr>",
    help: "address to listen on with --port (default: 0.0.0.0, all IPv4 interfaces)",
  },
  {
    key: "endpoint-id",
    type: "string",
    meta: "<uuid>",
    help: "forces the endpoint to use this ID (a UUID)",
  },
  {
    key: "master-stores",
    type: "list",
    help: "stores to attach as masters (in memory), e.g. '[\"kv\"]'",
  },
  { key: "clone-stores", type: "list", help: "stores to attach as clones, e.g. '[\"kv\"]'" },
  {
    key: "summary",
    type: "bool",
    help:
      "ping mode: print min/avg/p50/p99/max of the round trips after the per-ping lines (not in broker-node)",
  },
  {
    key: "print-data",
    type: "bool",
    help:
      "with -v, print each data message as a verbose line data(<topic>, <value>) (not in broker-node)",
  },
  {
    key: "warm-up",
    type: "uint64",
    help: "ping mode: unmeasured full-size round trips (as ping 0) before measuring (default: 0)",
  },
];

/** `--disable-ssl`, which Broker's tools have besides `--disable-forwarding` and the rest. */
const DISABLE_SSL: CafOptionSpec = {
  key: "broker.disable-ssl",
  long: "disable-ssl",
  type: "bool",
  help: DISABLE_SSL_HELP,
};

/** `--config-file`, shown by `--dump-config` as CAF does. */
const CONFIG_FILE: CafOptionSpec = {
  key: "config-file",
  type: "string",
  meta: "<path>",
  help: "sets a path to a configuration file (default: caf-application.conf, if present)",
};

/**
 * Every option `broker node` takes, as `broker-node --long-help` lists them:
 * Broker's global ones, broker-node's own, Broker's `broker.*` sections and
 * CAF's `caf.*`.
 */
export const NODE_OPTIONS: readonly CafOptionWithParser[] = [
  CONFIG_FILE,
  DISABLE_SSL,
  ...BROKER_GLOBAL_OPTIONS,
  ...NODE_OWN_OPTIONS,
  ...BROKER_SECTION_OPTIONS,
  ...CAF_OPTIONS,
];

/**
 * The command line's values, typed by each option's type, by CAF key (a
 * bad value is a `UsageError`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { nodeCliEntries } from "./node_command.ts";
 * deepEqual(nodeCliEntries({ ttl: "5" }).get("broker.ttl"), { type: "integer", value: 5n });
 * ```
 */
export function nodeCliEntries(cli: NodeCliValues): Map<string, ConfigValue> {
  return cafValuesFromCli(cli, NODE_OPTIONS);
}

/**
 * What `broker node --dump-config` prints (on stdout, as broker-node does,
 * whatever its help says):
 * Broker's defaults, the config file, the `BROKER_*` variables and the
 * command line. Like broker-node, it does not check the settings beyond
 * their types, and `BROKER_PORT` is not among them.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { nodeDumpConfig } from "./node_command.ts";
 * equal(nodeDumpConfig({ topics: '["/a"]' }, undefined, {}).endsWith("topics = [\n  /a,\n]\n"), true);
 * ```
 */
export function nodeDumpConfig(
  cli: NodeCliValues,
  config: CafConfig | undefined,
  env: NodeEnv,
  configPath?: string,
): string {
  const cliEntries = nodeCliEntries(cli);
  const file = config && configPath !== undefined
    ? new Map([...config.values, ["config-file", { type: "string", value: configPath } as const]])
    : config?.values;
  return renderCafDump(dumpEntries([file, cafValuesFromEnv(env), cliEntries]));
}

/**
 * Merges built-in defaults, the config file, the `BROKER_*` variables and
 * the command line into the settings of a node, checking them in
 * broker-node's order (endpoint ID, topics, mode). A bad command-line value
 * is a `UsageError` naming its option and what it takes (e.g. `--mode:
 * expected one of relay, ping, pong; got "foo"`); a bad value in the config
 * file is a `BrokerError` naming the key, or broker-node's message (e.g.
 * `invalid mode: foo`).
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { resolveNodeOptions } from "./node_command.ts";
 * import { parseCafConfig } from "./caf_config.ts";
 * const cfg = parseCafConfig('topics = ["/t"]\nmode = "pong"');
 * const opts = resolveNodeOptions({ port: "29001" }, cfg, { BROKER_PORT: "29002/tcp" });
 * equal(opts.mode, "pong");
 * deepEqual(opts.topics, ["/t"]);
 * equal(opts.port, 29002);
 * ```
 */
export function resolveNodeOptions(
  cli: NodeCliValues,
  config?: CafConfig,
  env: NodeEnv = {},
): NodeOptions {
  // Types first, for every option given, as CAF checks them while parsing.
  const given = nodeCliEntries(cli);
  const fromEnv = cafValuesFromEnv(env);
  const flagOf = (key: string) => {
    const spec = NODE_OPTIONS.find((s) => s.key === key);
    return spec ? optionFlag(spec) : key;
  };
  // A command-line value wins over the environment, which wins over the file;
  // the file is read lazily, so a bad entry only matters when nothing overrides it.
  function pick<T>(
    key: string,
    convert: (v: ConfigValue, source: string) => T,
    fromFile: (c: CafConfig, key: string) => T | undefined = (c, k) => convert(c.get(k)!, k),
  ): T | undefined {
    const v = given.get(key);
    if (v !== undefined) return usage(flagOf(key), () => convert(v, flagOf(key)));
    const e = fromEnv.get(key);
    if (e !== undefined) {
      const name = Object.entries(BROKER_ENV_KEYS).find(([, x]) => x.key === key)![0];
      return usage(name, () => convert(e, name));
    }
    return config?.has(key) ? fromFile(config, key) : undefined;
  }
  const fromCli = (key: string) => given.has(key);

  const endpointId = pick("endpoint-id", (v, s) => stringValue(v, s).trim());
  if (endpointId !== undefined && !UUID_RE.test(endpointId)) {
    if (fromCli("endpoint-id")) {
      throw new UsageError(
        "--endpoint-id",
        `expected a UUID such as 6c5e1e2a-0000-4000-8000-000000000001, got ${
          JSON.stringify(endpointId)
        }`,
      );
    }
    invalid("endpoint-id must be a valid UUID");
  }
  const topics = pick(
    "topics",
    (v, s) => stringsFromList(listValue(v, s), s),
    (c, k) => stringsFromList(c.getList(k)!, k),
  ) ?? [];
  if (topics.length === 0) {
    throw new UsageError("--topics", `no topics specified (e.g. -t '["/topic"]')`);
  }
  const modeText = pick("mode", stringValue, (c, k) => c.getString(k)) ?? "relay";
  if (modeText !== "relay" && modeText !== "ping" && modeText !== "pong") {
    if (fromCli("mode")) parseChoice(modeText, "--mode", ["relay", "ping", "pong"]);
    invalid(`invalid mode: ${modeText}`);
  }
  const mode: NodeMode = modeText;

  // broker-node reads both lists as `string_list`; we also refuse an empty
  // name, which broker-node accepts and turns into a store on the bare
  // `<$>/data/...` topics that no one can mean.
  const storeNames = (key: string) => {
    const names = pick(
      key,
      (v, s) => stringsFromList(listValue(v, s), s),
      (c, k) => stringsFromList(c.getList(k)!, k),
    ) ?? [];
    if (names.includes("")) {
      if (fromCli(key)) throw new UsageError(flagOf(key), "empty store name");
      invalid(`${key}: empty store name`);
    }
    return names;
  };
  const masterStores = storeNames("master-stores");
  const cloneStores = storeNames("clone-stores");

  let port = pick("port", (v, s) => portFromConfig(v, s));
  if (env.BROKER_PORT !== undefined) {
    port = usage("BROKER_PORT", () => parseNodePort(env.BROKER_PORT!, "BROKER_PORT"));
  }
  const bindAddress = (key: string) =>
    pick(key, (v, s) => {
      const text = stringValue(v, s);
      if (fromCli(key)) return parseBindAddress(text, s);
      try {
        return parseBindAddress(text, s);
      } catch (e) {
        return invalid((e as Error).message);
      }
    });
  const address = bindAddress("address") ?? NODE_DEFAULTS.address;
  if (fromCli("address") && port === undefined) {
    throw new UsageError("--address", "is where --port listens: give --port (or BROKER_PORT) too");
  }

  const bool = (key: string) =>
    given.has(key) ? given.get(key)!.value === true : (config?.getBool(key) ?? false);
  const count = (key: string) => pick(key, countFromValue);
  // Our own options do nothing outside what they are for: said at once, rather than ignored.
  const onlyWith = (key: string, applies: boolean, what: string) => {
    if (applies) return;
    if (fromCli(key)) throw new UsageError(flagOf(key), what);
    invalid(`${key}: ${what}`);
  };
  const isGiven = (key: string) => given.has(key) || config?.get(key) !== undefined;
  if (bool("summary")) {
    onlyWith("summary", mode === "ping", "applies to ping mode (-m ping) only");
  }
  if (isGiven("warm-up")) {
    onlyWith("warm-up", mode === "ping", "applies to ping mode (-m ping) only");
  }
  if (bool("print-data")) {
    onlyWith("print-data", bool("verbose"), "prints verbose lines: give -v too");
  }

  const ttl = count("broker.ttl");
  if (ttl !== undefined && ttl > 65535) invalid(`broker.ttl: expected at most 65535, got ${ttl}`);
  const peerBufferSize = count("broker.peer-buffer-size");
  const wsPort = pick("broker.web-socket.port", (v, s) => portFromConfig(v, s));
  const wsBuffer = count("broker.web-socket-buffer-size") ??
    count("broker.web_socket-buffer-size");
  const recordingDirectory = pick("broker.recording-directory", stringValue);
  const metricsPort = pick("broker.metrics.port", (v, s) => portFromConfig(v, s));
  const metricsList = (key: string) =>
    pick(
      key,
      (v, s) => stringsFromList(listValue(v, s), s),
      (c, k) => stringsFromList(c.getList(k)!, k),
    );
  const exportTopic = pick("broker.metrics.export.topic", stringValue) || undefined;
  const importTopics = metricsList("broker.metrics.import.topics");
  const metrics: NodeMetricsOptions | undefined =
    metricsPort !== undefined || exportTopic || (importTopics && importTopics.length > 0)
      ? {
        ...(metricsPort !== undefined ? { port: metricsPort } : {}),
        address: bindAddress("broker.metrics.address") ?? NODE_DEFAULTS.address,
        ...optional("endpointName", pick("broker.metrics.endpoint-name", stringValue) || undefined),
        ...optional("exportTopic", exportTopic),
        // Broker's exporter takes an interval of 0 for its default (1 s), as it takes none.
        ...optional(
          "exportIntervalMs",
          pick("broker.metrics.export.interval", timespanMs) || undefined,
        ),
        ...optional("exportPrefixes", metricsList("broker.metrics.export.prefixes")),
        ...optional("importTopics", importTopics),
      }
      : undefined;
  const cap = count("broker.output-generator-file-cap");
  // Broker's two spellings: disable-forwarding, or 2.2.0's forward = false.
  const disableForwarding = given.has("broker.disable-forwarding") ||
    (config?.getBool("broker.disable-forwarding") ?? config?.getBool("broker.forward") === false);
  const positive = (n: number | undefined, key: string) => {
    if (n === 0) {
      if (fromCli(key)) throw new UsageError(flagOf(key), 'expected a whole number ≥ 1, got "0"');
      invalid(`${key}: expected a whole number ≥ 1, got 0`);
    }
    return n;
  };

  const wsAddress = wsPort === undefined
    ? undefined
    : bindAddress("broker.web-socket.address") ?? NODE_DEFAULTS.address;
  // Two of the node's listeners on one port: the second bind would fail once the first is up.
  const whereOf = (key: string) =>
    fromCli(key)
      ? flagOf(key)
      : key === "port" && env.BROKER_PORT !== undefined
      ? "BROKER_PORT"
      : fromEnv.has(key)
      ? Object.entries(BROKER_ENV_KEYS).find(([, x]) => x.key === key)![0]
      : key;
  const listeners = ([
    ["port", port, address],
    ["broker.web-socket.port", wsPort, wsAddress],
    ["broker.metrics.port", metrics?.port, metrics?.address],
  ] as const).map(([key, p, a]) => ({ where: whereOf(key), port: p, address: a }));
  const clash = listenerClash(listeners);
  if (clash) {
    // A config file's keys are named as they are (its errors exit 1); else a usage error.
    const fromFile = (l: ListenerSpec) => !l.where.startsWith("-") && !/^[A-Z_]+$/.test(l.where);
    const [first, second] = clash;
    if (fromFile(first) && fromFile(second)) {
      invalid(`${second.where}: ${listenerClashMessage(clash)}`);
    }
    const [other, named] = fromFile(second) ? [second, first] : [first, second];
    throw new UsageError(named.where, listenerClashMessage([other, named]));
  }

  return {
    mode,
    name: pick("name", stringValue, (c, k) => c.getString(k)) ?? mode,
    topics,
    verbose: bool("verbose"),
    rate: bool("rate"),
    port,
    address,
    peers: pick(
      "peers",
      (v, s) => urisFromList(listValue(v, s), s),
      (c, k) => urisFromList(c.getList(k)!, k),
    ) ?? [],
    numMessages: count("num-messages") ?? NODE_DEFAULTS.numMessages,
    payloadSize: count("payload-size") ?? NODE_DEFAULTS.payloadSize,
    rendezvousRetryMs: pick("rendezvous-retry", timespanMs) ?? NODE_DEFAULTS.rendezvousRetryMs,
    warmUp: count("warm-up") ?? NODE_DEFAULTS.warmUp,
    ...(bool("summary") ? { summary: true } : {}),
    ...(bool("print-data") ? { printData: true } : {}),
    endpointId: endpointId?.toLowerCase(),
    disableSsl: bool("broker.disable-ssl"),
    // Only when set, so the options of a node that forwards look as before.
    ...(disableForwarding ? { disableForwarding: true } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(peerBufferSize !== undefined
      ? { peerBufferSize: positive(peerBufferSize, "broker.peer-buffer-size") }
      : {}),
    ...(wsPort !== undefined
      ? {
        webSocket: {
          address: wsAddress!,
          port: wsPort,
          ...(wsBuffer !== undefined
            ? { bufferSize: positive(wsBuffer, "broker.web_socket-buffer-size") }
            : {}),
        },
      }
      : {}),
    ...(metrics ? { metrics } : {}),
    ...(recordingDirectory ? { recordingDirectory } : {}),
    ...(cap !== undefined && cap > 0 ? { outputGeneratorFileCap: cap } : {}),
    ssl: Object.fromEntries(
      SSL_KEYS.flatMap((k) => {
        const v = pick(`broker.ssl.${k}`, stringValue, (c, kk) => c.getString(kk));
        return v === undefined ? [] : [[k, v]];
      }),
    ) as SslOptions,
    masterStores,
    cloneStores,
  };
}

/**
 * Reads the config file: `path` if given (a missing file is an error), else
 * CAF's default `caf-application.conf` when it exists.
 *
 * @example
 * ```ts
 * import { loadNodeConfig } from "./node_command.ts";
 * const cfg = await loadNodeConfig(undefined); // undefined unless ./caf-application.conf exists
 * ```
 */
export function loadNodeConfig(path: string | undefined): Promise<CafConfig | undefined> {
  return loadCafConfigFile(path);
}

/**
 * The environment variables broker-node reads: `BROKER_PORT`, and Broker's
 * `BROKER_*` settings (`BROKER_ENV_KEYS`: recording, WebSocket port ...).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readNodeEnv } from "./node_command.ts";
 * const port = readNodeEnv().BROKER_PORT; // e.g. "29001/tcp"
 * equal(port === undefined || typeof port === "string", true);
 * ```
 */
export function readNodeEnv(): NodeEnv {
  const env: NodeEnv = {};
  for (const k of ["BROKER_PORT", ...Object.keys(BROKER_ENV_KEYS)]) {
    try {
      const v = Deno.env.get(k);
      if (v !== undefined) env[k] = v;
    } catch {
      // no env permission: as if unset
    }
  }
  return env;
}

/** The environment variables `broker node` reads. */
export interface NodeEnv {
  /** Port to listen on, as broker-node reads it (`29001/tcp`); overrides the command line. */
  BROKER_PORT?: string;
  /** Where to record what this node publishes (Broker's recorder layout). */
  BROKER_RECORDING_DIRECTORY?: string;
  /** Most messages to record. */
  BROKER_OUTPUT_GENERATOR_FILE_CAP?: string;
  /** Broker's other `BROKER_*` settings (`BROKER_ENV_KEYS`), over the config file. */
  [name: string]: string | undefined;
}
