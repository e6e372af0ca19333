/**
 * `broker node`: a drop-in for Broker's `broker-node` test tool. It relays,
 * answers pings (`pong`) or sends them and prints round-trip times (`ping`),
 * with broker-node's options, `BROKER_PORT`, CAF config files and output.
 *
 * Option values merge as in broker-node: built-in defaults, then the config
 * file (`--config-file`, else `caf-application.conf` if present), then the
 * command line; `BROKER_PORT` overrides the port from all of them.
 *
 * `--master-stores` and `--clone-stores` attach data stores as broker-node
 * does (`broker-node/broker-node.cc` in zeek/broker): masters in memory, before
 * peering; the node never reads or writes them itself, it hosts them for
 * other endpoints until it shuts down.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { registerNodeCommand } from "./node_command.ts";
 * const program = new Command("broker");
 * registerNodeCommand(program, (code) => console.log("exit code", code));
 * await program.parseAsync(["node", "-m", "ping", "-t", '["/t"]', "-n", "0"], { from: "user" });
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import process from "node:process";
import { SSL_KEYS, type SslCliValues } from "./ssl_options.ts";
import {
  addCafOptions,
  BROKER_ENV_KEYS,
  BROKER_GLOBAL_OPTIONS,
  BROKER_SECTION_OPTIONS,
  CAF_OPTIONS,
  type CafOptionSpec,
  type CafOptionWithParser,
  cafValuesFromCli,
  cafValuesFromEnv,
  dumpEntries,
  formatCafTimespan,
  optionFlag,
  parseCafOptionValue,
  renderCafDump,
  showLongHelp,
  usage,
} from "./broker_config.ts";
import {
  type HostPort,
  parseBindAddress,
  parseChoice,
  parsePeerList,
  parseTopicList,
  peerUri,
  UsageError,
} from "./cli_values.ts";
import {
  Address,
  type CommandBus,
  count,
  type Data,
  dataToString,
  decode,
  Endpoint,
  type EndpointOptions,
  type PublishOptions,
  StatusCode,
  str,
  type Subscriber,
  type SubscriberOptions,
  vector,
} from "../mod.ts";
import { GeneratorFileWriter } from "../engine/recording/generator_file.ts";
import { decodeCommand } from "../engine/store/commands.ts";
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

// ------------------------------------------------------------------ options

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
  /** Broker's `--recording-directory` (or `BROKER_RECORDING_DIRECTORY`), when set. */
  recordingDirectory?: string;
  /** Broker's `--output-generator-file-cap`, when set. */
  outputGeneratorFileCap?: number;
  /** Stores to attach as masters (in memory, as broker-node does); names as given. */
  masterStores: string[];
  /** Stores to attach as clones. */
  cloneStores: string[];
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

function invalid(message: string): never {
  throw new BrokerError(ErrorCode.invalid_data, message);
}

/**
 * Parses a port as broker-node takes it: `29001`, or Zeek's `29001/tcp` form
 * (the protocol is ignored).
 *
 * @example
 * ```ts
 * import { parseNodePort } from "./node_command.ts";
 * console.log(parseNodePort("12345/tcp", "BROKER_PORT")); // 12345
 * ```
 */
export function parseNodePort(text: string, source: string): number {
  const m = /^\s*(\d{1,5})(?:\/(?:tcp|udp|icmp|unknown|\?))?\s*$/.exec(text);
  if (!m || Number(m[1]) > 65535) {
    invalid(`${source}: invalid port ${JSON.stringify(text)} (expected e.g. 29001 or 29001/tcp)`);
  }
  return Number(m[1]);
}

function portFromConfig(v: ConfigValue, source: string): number {
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

function stringsFromList(xs: readonly ConfigValue[], source: string): string[] {
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

function timespanMs(v: ConfigValue, source: string): number {
  if (v.type === "timespan" && v.value >= 0n) return Number(v.value) / 1e6;
  if (v.type === "integer" && v.value === 0n) return 0;
  return invalid(`${source}: expected a timespan such as 250ms, got ${formatConfigValue(v)}`);
}

function stringValue(v: ConfigValue, source: string): string {
  if (v.type === "string") return v.value;
  return invalid(`${source}: expected a string, got ${formatConfigValue(v)}`);
}

function listValue(v: ConfigValue, source: string): readonly ConfigValue[] {
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
  help: "forces Broker to use unencrypted communication (without it, give certificates)",
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
 * import { nodeCliEntries } from "./node_command.ts";
 * console.log(nodeCliEntries({ ttl: "5" }).get("broker.ttl")); // { type: "integer", value: 5n }
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
 * import { nodeDumpConfig } from "./node_command.ts";
 * console.log(nodeDumpConfig({ topics: '["/a"]' }, undefined, {}).endsWith("topics = [\n  /a,\n]\n")); // true
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
 * import { resolveNodeOptions } from "./node_command.ts";
 * import { parseCafConfig } from "./caf_config.ts";
 * const cfg = parseCafConfig('topics = ["/t"]\nmode = "pong"');
 * const opts = resolveNodeOptions({ port: "29001" }, cfg, { BROKER_PORT: "29002/tcp" });
 * console.log(opts.mode, opts.topics, opts.port); // "pong" ["/t"] 29002
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

  const ttl = count("broker.ttl");
  if (ttl !== undefined && ttl > 65535) invalid(`broker.ttl: expected at most 65535, got ${ttl}`);
  const peerBufferSize = count("broker.peer-buffer-size");
  const wsPort = pick("broker.web-socket.port", (v, s) => portFromConfig(v, s));
  const wsBuffer = count("broker.web-socket-buffer-size") ??
    count("broker.web_socket-buffer-size");
  const recordingDirectory = pick("broker.recording-directory", stringValue);
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
          address: bindAddress("broker.web-socket.address") ?? NODE_DEFAULTS.address,
          port: wsPort,
          ...(wsBuffer !== undefined
            ? { bufferSize: positive(wsBuffer, "broker.web_socket-buffer-size") }
            : {}),
        },
      }
      : {}),
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

// ------------------------------------------------------------------ messages

/**
 * broker-node's ping: `("ping", id, "xxx…")` with `payloadSize` bytes of `x`.
 *
 * @example
 * ```ts
 * import { makePing } from "./node_command.ts";
 * import { dataToString } from "../mod.ts";
 * console.log(dataToString(makePing(1, 3))); // "(ping, 1, xxx)"
 * ```
 */
export function makePing(id: number | bigint, payloadSize: number): Data {
  return vector(str("ping"), count(BigInt(id)), str("x".repeat(payloadSize)));
}

/**
 * broker-node's pong: `("pong", id)`.
 *
 * @example
 * ```ts
 * import { makePong } from "./node_command.ts";
 * makePong(7);
 * ```
 */
export function makePong(id: number | bigint): Data {
  return vector(str("pong"), count(BigInt(id)));
}

/**
 * broker-node's stop message: the plain string `stop`. It ends relay and pong mode.
 *
 * @example
 * ```ts
 * import { makeStop } from "./node_command.ts";
 * makeStop(); // str("stop")
 * ```
 */
export function makeStop(): Data {
  return str("stop");
}

/**
 * The id of a ping (`("ping", count, string)`), else undefined.
 *
 * @example
 * ```ts
 * import { makePing, pingId } from "./node_command.ts";
 * console.log(pingId(makePing(4, 0))); // 4n
 * ```
 */
export function pingId(x: Data): bigint | undefined {
  if (x.type !== "vector" || x.value.length !== 3) return undefined;
  const [tag, id, payload] = x.value;
  if (tag.type !== "string" || tag.value !== "ping" || id.type !== "count") return undefined;
  return payload.type === "string" ? id.value : undefined;
}

/**
 * The id of a pong (`("pong", count)`), else undefined.
 *
 * @example
 * ```ts
 * import { makePong, pongId } from "./node_command.ts";
 * console.log(pongId(makePong(4))); // 4n
 * ```
 */
export function pongId(x: Data): bigint | undefined {
  if (x.type !== "vector" || x.value.length !== 2) return undefined;
  const [tag, id] = x.value;
  return tag.type === "string" && tag.value === "pong" && id.type === "count"
    ? id.value
    : undefined;
}

/**
 * Whether `x` is the stop message.
 *
 * @example
 * ```ts
 * import { isStop, makeStop } from "./node_command.ts";
 * console.log(isStop(makeStop())); // true
 * ```
 */
export function isStop(x: Data): boolean {
  return x.type === "string" && x.value === "stop";
}

// ------------------------------------------------------------------ output

/**
 * A duration as CAF prints it: the largest unit (h, min, s, ms, us) that
 * gives at least 1, six decimals with trailing zeros cut; else `ns`.
 *
 * @example
 * ```ts
 * import { formatTimespan } from "./node_command.ts";
 * console.log(formatTimespan(1_362_169n)); // "1.362169ms"
 * ```
 */
export function formatTimespan(ns: bigint): string {
  return formatCafTimespan(ns);
}

/**
 * The time prefix of verbose lines: local time with milliseconds, quoted
 * (CAF prints a time point that way).
 *
 * @example
 * ```ts
 * import { formatVerboseTime } from "./node_command.ts";
 * formatVerboseTime(new Date()); // e.g. "\"2024-05-01T12:00:00.123\""
 * ```
 */
export function formatVerboseTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `"${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:` +
    `${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}"`;
}

/**
 * A topic list as broker-node prints it: `[/a, /b]`.
 *
 * @example
 * ```ts
 * import { formatTopicList } from "./node_command.ts";
 * console.log(formatTopicList(["/a", "/b"])); // "[/a, /b]"
 * ```
 */
export function formatTopicList(topics: readonly string[]): string {
  return `[${topics.join(", ")}]`;
}

/** A status or error event, as `Endpoint.statusSubscriber` yields it. */
export interface NodeStatusEvent {
  /** A status or an error. */
  kind: "status" | "error";
  /** Broker's name of its code. */
  codeName: string;
  /** What happened. */
  message: string;
  /** The peer concerned, if any. */
  peer?: { id?: string; host?: string; port?: number };
}

/**
 * A status or error event in Broker's text form, e.g.
 * `peer_added(<id>, 127.0.0.1:29001, "handshake successful")`.
 *
 * @example
 * ```ts
 * import { formatStatusEvent } from "./node_command.ts";
 * console.log(formatStatusEvent({ kind: "error", codeName: "peer_unavailable", message: "refused" }));
 * // error(peer_unavailable, "refused")
 * ```
 */
export function formatStatusEvent(ev: NodeStatusEvent): string {
  if (ev.kind === "error") return `error(${ev.codeName}, "${ev.message}")`;
  const parts: string[] = [];
  if (ev.peer?.id !== undefined) parts.push(ev.peer.id);
  if (ev.peer?.host !== undefined) parts.push(`${ev.peer.host}:${ev.peer.port ?? 0}`);
  parts.push(`"${ev.message}"`);
  return `${ev.codeName}(${parts.join(", ")})`;
}

/**
 * The host part of broker-node's disconnect line. It prints CAF's variant
 * form: `anonymous(127.0.0.1)` for addresses, `anonymous("name")` for names.
 *
 * @example
 * ```ts
 * import { formatVariantHost } from "./node_command.ts";
 * console.log(formatVariantHost("localhost")); // anonymous("localhost")
 * ```
 */
export function formatVariantHost(host: string): string {
  try {
    Address.parse(host);
    return `anonymous(${host})`;
  } catch {
    return `anonymous("${host}")`;
  }
}

/** Where a printer writes; `stdout` and `stderr` by default. */
export type NodeWrite = (stream: "stdout" | "stderr", text: string) => void;

const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * Writes synchronously so lines from concurrent tasks never interleave.
 *
 * @example
 * ```ts
 * import { writeToStdio } from "./node_command.ts";
 * writeToStdio("stderr", "a whole line\n");
 * ```
 */
export function writeToStdio(stream: "stdout" | "stderr", text: string): void {
  writeAllSync(stream === "stdout" ? Deno.stdout : Deno.stderr, text);
}

/**
 * broker-node's three kinds of output lines: plain results on stdout, errors
 * on stderr (red), and verbose lines on stdout (blue, time-prefixed, only
 * when verbose). Colour only where asked, i.e. on a TTY.
 *
 * @example
 * ```ts
 * import { NodePrinter } from "./node_command.ts";
 * const p = new NodePrinter({ verbose: true, write: (s, t) => console.log(s, t) });
 * p.verbose("relay messages");
 * ```
 */
export class NodePrinter {
  /** Whether verbose lines print. */
  readonly verboseEnabled: boolean;
  readonly #write: NodeWrite;
  readonly #colorOut: boolean;
  readonly #colorErr: boolean;
  readonly #now: () => Date;

  /** A printer; `write` and `color` default to stdio and its TTY-ness, `now` to the clock. */
  constructor(options: {
    verbose: boolean;
    write?: NodeWrite;
    color?: { stdout: boolean; stderr: boolean };
    now?: () => Date;
  }) {
    this.verboseEnabled = options.verbose;
    this.#write = options.write ?? writeToStdio;
    this.#colorOut = options.color?.stdout ?? false;
    this.#colorErr = options.color?.stderr ?? false;
    this.#now = options.now ?? (() => new Date());
  }

  /** A result line on stdout. */
  out(text: string): void {
    this.#write("stdout", `${text}${this.#colorOut ? "\x1b[0m" : ""}\n`);
  }

  /** An error line on stderr. */
  err(text: string): void {
    this.#write("stderr", this.#colorErr ? `\x1b[31m${text}\x1b[0m\n` : `${text}\n`);
  }

  /** A verbose line on stdout, if verbose. */
  verbose(text: string): void {
    if (!this.verboseEnabled) return;
    const line = `${formatVerboseTime(this.#now())}: ${text}`;
    this.#write("stdout", this.#colorOut ? `\x1b[34m${line}\x1b[0m\n` : `${line}\n`);
  }

  /** A data message as a verbose line: `data(<topic>, <value>)`. */
  data(msg: NodeMessage): void {
    if (this.verboseEnabled) this.verbose(`data(${msg.topic}, ${dataToString(msg.data)})`);
  }
}

/**
 * Whether to colour each stream: on a TTY, unless `NO_COLOR` is set.
 *
 * @example
 * ```ts
 * import { stdioColors } from "./node_command.ts";
 * console.log(stdioColors()); // { stdout: false, stderr: false } when piped
 * ```
 */
export function stdioColors(): { stdout: boolean; stderr: boolean } {
  let noColor = false;
  try {
    noColor = (Deno.env.get("NO_COLOR") ?? "") !== "";
  } catch {
    // Without env permission, go by the TTY alone.
  }
  return {
    stdout: !noColor && Deno.stdout.isTerminal(),
    stderr: !noColor && Deno.stderr.isTerminal(),
  };
}

// ------------------------------------------------------------------ modes

/** A data message as a subscriber yields it. */
export interface NodeMessage {
  /** The topic it came on. */
  readonly topic: string;
  /** Its value. */
  readonly data: Data;
}

/** The part of a subscriber the modes use. */
export interface NodeSubscriber extends AsyncIterable<NodeMessage> {
  /** Next message; undefined (or null) after `timeoutMs` or once closed. */
  get(timeoutMs?: number): Promise<NodeMessage | undefined | null>;
  /** Stops receiving. */
  close(): void;
}

/** The part of an endpoint the modes use (an `Endpoint`, or a fake in tests). */
export interface NodeEndpoint {
  /** Receives the topics. */
  subscribe(topics: string[]): NodeSubscriber;
  /** Sends a value to the peers. */
  publish(topic: string, data: Data): void;
}

/** A data store the node holds (a `Store`); the node only closes it. */
export interface NodeStore {
  /** Detaches the store. */
  close(): void;
}

/** Everything `runNode` needs from an endpoint. */
export interface NodeHost extends NodeEndpoint {
  /** Accepts peers on host:port. */
  listen(host: string, port: number): Promise<number>;
  /** Dials a peer. */
  peer(host: string, port: number, options?: { retry?: number }): Promise<void>;
  /** Status and error events. */
  statusSubscriber(includeStatuses: boolean): AsyncIterable<NodeStatusEvent>;
  /** Serves Broker's WebSocket API on host:port (Broker's `broker.web-socket.*`). */
  listenWebSocket?(host: string, port: number, options?: { bufferSize?: number }): Promise<unknown>;
  /** Attaches a master with the in-memory backend (may throw a `BrokerError`). */
  attachMaster(name: string): NodeStore;
  /** Attaches a clone of a store. */
  attachClone(name: string): NodeStore;
  /** Closes everything. */
  shutdown(): Promise<void>;
}

/** Nanoseconds from a monotonic clock. */
export type NanoClock = () => bigint;

const hrtimeNs: NanoClock = () => process.hrtime.bigint();

/**
 * The summary line of `--summary` (after the per-ping lines, which stay as
 * broker-node prints them): round-trip times as CAF prints durations,
 * percentiles by nearest rank.
 *
 * @example
 * ```ts
 * import { formatPingSummary } from "./node_command.ts";
 * console.log(formatPingSummary([100_000n, 200_000n, 300_000n]));
 * // rtt min/avg/p50/p99/max = 100us/200us/200us/300us/300us (3 pings)
 * ```
 */
export function formatPingSummary(rtts: readonly bigint[]): string {
  const sorted = [...rtts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = sorted.length;
  if (n === 0) return "rtt min/avg/p50/p99/max = -/-/-/-/- (0 pings)";
  const rank = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  const avg = sorted.reduce((a, b) => a + b, 0n) / BigInt(n);
  const figures = [sorted[0], avg, rank(0.5), rank(0.99), sorted[n - 1]].map(formatTimespan);
  return `rtt min/avg/p50/p99/max = ${figures.join("/")} (${n} ping${n === 1 ? "" : "s"})`;
}

/**
 * Ping mode: rendezvous by repeating ping 0 until pong 0 arrives, then send
 * `numMessages` pings of `payloadSize` bytes one at a time on the first
 * topic, printing each round-trip time in ns, then `AVG:` (verbose).
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, pingMode } from "./node_command.ts";
 * async function measure(ep: Endpoint): Promise<number> {
 *   const opts = { numMessages: 5, payloadSize: 10, rendezvousRetryMs: 250 };
 *   return await pingMode(ep, ["/t"], opts, new NodePrinter({ verbose: false }));
 * }
 * ```
 */
export async function pingMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  opts: Pick<NodeOptions, "numMessages" | "payloadSize" | "rendezvousRetryMs"> & {
    warmUp?: number;
    summary?: boolean;
  },
  p: NodePrinter,
  clock: NanoClock = hrtimeNs,
): Promise<number> {
  const topic = topics[0];
  p.verbose(`send pings to topic ${topic}`);
  if (opts.numMessages === 0) {
    p.err("send no pings: n = 0");
    return 0;
  }
  const sub = ep.subscribe([topic]);
  try {
    // Ping 0 is not measured: it only tells us that the pong side is up.
    ep.publish(topic, makePing(0, 0));
    for (;;) {
      const m = await sub.get(opts.rendezvousRetryMs);
      if (m == null) {
        ep.publish(topic, makePing(0, 0));
        continue;
      }
      p.data(m);
      if (pongId(m.data) === 0n) break;
    }
    // Both sides compile their hot paths during the first few thousand
    // messages; unmeasured round trips (ping 0 is never measured) move that
    // out of the figures.
    for (let w = 0; w < (opts.warmUp ?? 0); w++) {
      ep.publish(topic, makePing(0, opts.payloadSize));
      for (;;) {
        const m = await sub.get();
        if (m == null) {
          throw new BrokerError(ErrorCode.shutting_down, "subscriber closed in warm-up");
        }
        p.data(m);
        if (pongId(m.data) === 0n) break;
      }
    }
    let total = 0n;
    const rtts: bigint[] = [];
    for (let i = 1; i <= opts.numMessages; i++) {
      const t0 = clock();
      ep.publish(topic, makePing(i, opts.payloadSize));
      for (;;) {
        const m = await sub.get();
        if (m == null) {
          throw new BrokerError(ErrorCode.shutting_down, `no pong ${i}: subscriber closed`);
        }
        p.data(m);
        if (pongId(m.data) === BigInt(i)) break;
      }
      const rtt = clock() - t0;
      total += rtt;
      if (opts.summary) rtts.push(rtt);
      p.out(String(rtt));
    }
    p.verbose(`AVG: ${formatTimespan(total / BigInt(opts.numMessages))}`);
    if (opts.summary) p.out(formatPingSummary(rtts));
    return 0;
  } finally {
    sub.close();
  }
}

/**
 * Pong mode: answer each ping with a pong of the same id on the topic it came
 * on, until a stop message arrives.
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, pongMode } from "./node_command.ts";
 * async function serve(ep: Endpoint): Promise<number> {
 *   return await pongMode(ep, ["/t"], new NodePrinter({ verbose: true }));
 * }
 * ```
 */
export async function pongMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  p: NodePrinter,
): Promise<number> {
  p.verbose(`receive pings from topics ${formatTopicList(topics)}`);
  const sub = ep.subscribe([...topics]);
  try {
    for await (const m of sub) {
      p.data(m);
      const id = pingId(m.data);
      if (id !== undefined) {
        p.verbose(`received ping ${id}`);
        ep.publish(m.topic, makePong(id));
      } else if (isStop(m.data)) {
        p.verbose("received stop");
        break;
      }
    }
    return 0;
  } finally {
    sub.close();
  }
}

/**
 * Relay mode: subscribe (so that peers route the topics through us) and
 * report pings, pongs and the stop message that ends it; with `rate`, print
 * the number of messages of each second as `N/s`.
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, relayMode } from "./node_command.ts";
 * async function relay(ep: Endpoint): Promise<number> {
 *   return await relayMode(ep, ["/t"], { rate: true }, new NodePrinter({ verbose: true }));
 * }
 * ```
 */
export async function relayMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  opts: { rate: boolean },
  p: NodePrinter,
): Promise<number> {
  p.verbose("relay messages");
  const sub = ep.subscribe([...topics]);
  let received = 0;
  const timer = p.verboseEnabled && opts.rate
    ? setInterval(() => {
      p.verbose(`${received}/s`);
      received = 0;
    }, 1000)
    : undefined;
  try {
    for await (const m of sub) {
      p.data(m);
      const ping = pingId(m.data);
      const pong = ping === undefined ? pongId(m.data) : undefined;
      if (ping !== undefined) p.verbose(`received ping ${ping}`);
      else if (pong !== undefined) p.verbose(`received pong ${pong}`);
      else if (isStop(m.data)) {
        p.verbose("received stop");
        break;
      }
      received++;
    }
    return 0;
  } finally {
    clearInterval(timer);
    sub.close();
  }
}

/**
 * Attaches the node's stores in broker-node's order, masters first. A name
 * listed twice gets one store (Broker's `attach_master`/`attach_clone` hand
 * back the one the endpoint already has); a clone of a store this node is
 * master of fails with `no_such_master`, as Broker's core refuses it. On a
 * failure prints broker-node's line and returns undefined; the caller exits
 * with 1, after closing what `stores` already holds.
 *
 * @example
 * ```ts
 * import { attachNodeStores, NodePrinter } from "./node_command.ts";
 * import { Endpoint } from "../mod.ts";
 * const ep = new Endpoint();
 * const stores: { close(): void }[] = [];
 * const p = new NodePrinter({ verbose: false });
 * attachNodeStores(ep, { masterStores: ["kv"], cloneStores: [] }, p, stores); // true
 * for (const s of stores) s.close();
 * await ep.shutdown();
 * ```
 */
export function attachNodeStores(
  ep: Pick<NodeHost, "attachMaster" | "attachClone">,
  opts: Pick<NodeOptions, "masterStores" | "cloneStores">,
  p: NodePrinter,
  stores: NodeStore[],
): boolean {
  const masters = new Set<string>();
  const clones = new Set<string>();
  const failed = (role: string, name: string, e: unknown) => {
    // broker-node prints the error code alone (e.g. `master_exists`).
    const why = e instanceof BrokerError ? e.codeName : e instanceof Error ? e.message : String(e);
    p.err(`failed to attach ${role} store for ${name}: ${why}`);
    return false;
  };
  for (const name of opts.masterStores) {
    if (masters.has(name)) continue;
    try {
      stores.push(ep.attachMaster(name));
    } catch (e) {
      return failed("master", name, e);
    }
    masters.add(name);
  }
  for (const name of opts.cloneStores) {
    if (masters.has(name)) {
      return failed("clone", name, new BrokerError(ErrorCode.no_such_master, name));
    }
    if (clones.has(name)) continue;
    try {
      stores.push(ep.attachClone(name));
    } catch (e) {
      return failed("clone", name, e);
    }
    clones.add(name);
  }
  return true;
}

/**
 * Runs a node: verbose status output, listen, attach the stores, peer, run
 * the mode, then shut down. Returns the exit code. `createEndpoint` is
 * replaceable for tests.
 *
 * @example
 * ```ts
 * import { NodePrinter, resolveNodeOptions, runNode } from "./node_command.ts";
 * const opts = resolveNodeOptions({ topics: '["/t"]', mode: "ping", numMessages: "0", disableSsl: true });
 * const code = await runNode(opts, new NodePrinter({ verbose: opts.verbose }));
 * ```
 */
export async function runNode(
  opts: NodeOptions,
  p: NodePrinter,
  createEndpoint: (
    o: {
      id?: string;
      disableSsl?: boolean;
      ssl?: SslOptions;
      disableForwarding?: boolean;
      ttl?: number;
      peerBufferSize?: number;
    },
  ) => NodeHost = (o) => new Endpoint(o),
): Promise<number> {
  const ep = createEndpoint({
    id: opts.endpointId,
    disableSsl: opts.disableSsl,
    ssl: opts.ssl,
    disableForwarding: opts.disableForwarding,
    ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
    ...(opts.peerBufferSize !== undefined ? { peerBufferSize: opts.peerBufferSize } : {}),
  });
  let statusTask: Promise<void> | undefined;
  const stores: NodeStore[] = [];
  try {
    if (p.verboseEnabled) {
      const events = ep.statusSubscriber(true);
      statusTask = (async () => {
        for await (const ev of events) p.verbose(formatStatusEvent(ev));
      })();
    }
    if (opts.port !== undefined) {
      p.verbose(`listen for peers on port ${opts.port}`);
      try {
        await ep.listen(opts.address ?? NODE_DEFAULTS.address, opts.port);
      } catch (e) {
        p.err(`cannot listen on port ${opts.port}: ${e instanceof Error ? e.message : e}`);
        return 1;
      }
    }
    // Broker's endpoint serves its WebSocket API when broker.web-socket.port is set.
    if (opts.webSocket) {
      const ws = opts.webSocket;
      p.verbose(`listen for WebSocket clients on port ${ws.port}`);
      try {
        if (!ep.listenWebSocket) throw new Error("no WebSocket server here");
        await ep.listenWebSocket(ws.address, ws.port, { bufferSize: ws.bufferSize });
      } catch (e) {
        p.err(
          `cannot listen for WebSocket clients on port ${ws.port}: ${
            e instanceof Error ? e.message : e
          }`,
        );
        return 1;
      }
    }
    // broker-node attaches its stores after listening and before it peers, so
    // a clone's first request goes out as soon as a peering with the master is up.
    if (!attachNodeStores(ep, opts, p, stores)) return 1;
    const peered: CafUri[] = [];
    for (const peer of opts.peers) {
      if (peer.scheme !== "tcp" || peer.host === undefined) {
        p.err(`unrecognized scheme (expected tcp) or no authority in: <${peer.text}>`);
        continue;
      }
      peered.push(peer);
      p.verbose(`connect to ${peer.host} on port ${peer.port ?? 0} ...`);
      try {
        await ep.peer(peer.host, peer.port ?? 0, { retry: 0 });
      } catch {
        p.err(`unable to connect to <${peer.text}>`);
      }
    }
    // Let the status task print what peering reported before the mode's first
    // line, which is the order broker-node's blocking peer() gives.
    if (statusTask) await new Promise((r) => setTimeout(r, 0));
    let code: number;
    if (opts.mode === "ping") code = await pingMode(ep, opts.topics, opts, p);
    else if (opts.mode === "pong") code = await pongMode(ep, opts.topics, p);
    else code = await relayMode(ep, opts.topics, opts, p);
    for (const peer of peered) {
      // Spelling and host form as broker-node prints them, so outputs compare equal.
      p.verbose(`diconnect from ${formatVariantHost(peer.host!)} on port ${peer.port ?? 0} ...`);
    }
    return code;
  } finally {
    await ep.shutdown();
    // The stores lived as long as the endpoint (broker-node drops its handles
    // only at exit); closing them now stops their timers so the process ends.
    for (const s of stores) s.close();
    await statusTask;
  }
}

// ------------------------------------------------------------------ command

/**
 * Loads the config, resolves the options and runs the node; prints errors
 * as one line on stderr. Returns the exit code (0 ok, 1 error). A bad
 * command-line value throws a `UsageError` before anything runs (the
 * program prints it and exits with 2). With `--dump-config`, prints the
 * settings on stdout instead, as broker-node does.
 *
 * @example
 * ```ts
 * import { nodeMain } from "./node_command.ts";
 * const code = await nodeMain({ topics: '["/t"]', mode: "ping", numMessages: "0" });
 * ```
 */
export async function nodeMain(
  cli: NodeCliValues,
  env: NodeEnv = readNodeEnv(),
  output: { write?: NodeWrite; color?: { stdout: boolean; stderr: boolean } } = {},
): Promise<number> {
  const color = output.color ?? (output.write ? undefined : stdioColors());
  let p = new NodePrinter({ verbose: false, write: output.write, color });
  try {
    const config = await loadNodeConfig(cli.configFile);
    if (cli.dumpConfig) {
      // Types are checked first (a bad value is a usage error), as CAF does before dumping.
      const path = cli.configFile ?? (config ? "caf-application.conf" : undefined);
      (output.write ?? writeToStdio)("stdout", nodeDumpConfig(cli, config, env, path));
      return 0;
    }
    const opts = resolveNodeOptions(cli, config, env);
    p = new NodePrinter({ verbose: opts.verbose, write: output.write, color });
    const dir = opts.recordingDirectory;
    if (!dir) return await runNode(opts, p);
    // Record what this node publishes, the way Broker's recorder does: shapes in a generator file.
    const recording = await RecordingDirectory.open(
      dir,
      opts.outputGeneratorFileCap ?? Infinity,
      opts,
    );
    // Broker's recorder wrote as it went; ours keeps the file in memory, so a
    // node stopped by a signal (pong and relay run until stopped) writes it first.
    const signals = (["SIGINT", "SIGTERM"] as const).map((sig) => {
      const handler = () => {
        recording.flushSync();
        Deno.exit(sig === "SIGINT" ? 130 : 143);
      };
      Deno.addSignalListener(sig, handler);
      return () => Deno.removeSignalListener(sig, handler);
    });
    try {
      return await runNode(opts, p, (o) => recording.endpoint(o));
    } finally {
      signals.forEach((remove) => remove());
      await recording.close();
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    p.err(e instanceof Error ? e.message : String(e));
    return 1;
  }
}

/**
 * The environment variables broker-node reads: `BROKER_PORT`, and Broker's
 * `BROKER_*` settings (`BROKER_ENV_KEYS`: recording, WebSocket port ...).
 *
 * @example
 * ```ts
 * import { readNodeEnv } from "./node_command.ts";
 * console.log(readNodeEnv().BROKER_PORT); // e.g. "29001/tcp"
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

/**
 * An endpoint that shows a `RecordingDirectory` what it does, where Broker
 * 2.2.0's recorder sat in its core: every message published here (data and
 * store commands, once each, whether or not a peer wants it; not what it
 * forwards for others) and every subscription, store topics included.
 */
class RecordingEndpoint extends Endpoint {
  readonly #recording: RecordingDirectory;
  #bus?: CommandBus;

  constructor(recording: RecordingDirectory, options: EndpointOptions) {
    super(options);
    this.#recording = recording;
  }

  override publish(topic: string, data: Data, options?: PublishOptions): void {
    this.#recording.recordData(topic, data);
    super.publish(topic, data, options);
  }

  override publishEncoded(topic: string, payload: Uint8Array): void {
    this.#recording.recordData(topic, decode(payload));
    super.publishEncoded(topic, payload);
  }

  override subscribe(topics: string | string[], options?: SubscriberOptions): Subscriber {
    const sub = super.subscribe(topics, options);
    this.#recording.recordSubscription(typeof topics === "string" ? [topics] : topics);
    return sub;
  }

  /** The endpoint's bus, seen by the recorder: the stores' commands and subscriptions. */
  override get commandBus(): CommandBus {
    if (this.#bus) return this.#bus;
    const bus = super.commandBus;
    const recording = this.#recording;
    this.#bus = {
      idBytes: bus.idBytes,
      onCommands: (topic, handler) => {
        recording.recordSubscription([topic]);
        return bus.onCommands(topic, handler);
      },
      sendCommand: (topic, payload, receiver) => {
        recording.recordCommand(topic, payload);
        bus.sendCommand(topic, payload, receiver);
      },
      hasPeerSubscriber: (topic) => bus.hasPeerSubscriber(topic),
      hasLocalSubscriber: (topic) => bus.hasLocalSubscriber(topic),
      deliverLocal: (topic, data) => bus.deliverLocal(topic, data),
    };
    return this.#bus;
  }
}

/**
 * A node's recording directory, as Broker's recorder laid it out (its
 * core_recorder, in Broker 2.2.0 and before): the node's configuration in
 * `broker.conf` (with `broker.forward`, which generate-config reads), its
 * endpoint ID in `id.txt`, the IDs of its peers in `peers.txt` as they
 * connect, its subscriptions in `topics.txt` as they are made (repeats
 * included), and the shapes of the messages it publishes, data and store
 * commands, in the generator file `messages.dat` (version 1, which Broker
 * 2.2.0's `broker-cluster-benchmark` reads). These are the files
 * `broker bench cluster --mode generate-config` reads.
 */
export class RecordingDirectory {
  readonly #dir: string;
  readonly #writer: GeneratorFileWriter;
  #peers?: Promise<void>;
  #topics = "";

  private constructor(dir: string, writer: GeneratorFileWriter) {
    this.#dir = dir;
    this.#writer = writer;
  }

  /** Creates the directory and writes `broker.conf`. */
  static async open(dir: string, cap: number, opts: NodeOptions): Promise<RecordingDirectory> {
    await Deno.mkdir(dir, { recursive: true });
    const conf = [
      "broker {",
      `  disable-ssl = ${opts.disableSsl ? "true" : "false"}`,
      // Broker 2.2.0's name: its generate-config reads only this one, newer ones both.
      `  forward = ${opts.disableForwarding ? "false" : "true"}`,
      "}",
      `topics = [${opts.topics.map((t) => JSON.stringify(t)).join(", ")}]`,
      `mode = "${opts.mode}"`,
      "",
    ].join("\n");
    await Deno.writeTextFile(`${dir}/broker.conf`, conf);
    return new RecordingDirectory(
      dir,
      new GeneratorFileWriter(Number.isFinite(cap) && cap > 0 ? cap : Infinity),
    );
  }

  /** A new endpoint that records into this directory (see `attach`). */
  endpoint(options: EndpointOptions): Endpoint {
    const ep = new RecordingEndpoint(this, options);
    this.attach(ep);
    return ep;
  }

  /**
   * Records the endpoint's ID now and each peer as its handshake completes.
   * Publications and subscriptions are recorded only through `endpoint`.
   */
  attach(ep: Endpoint): void {
    Deno.writeTextFileSync(`${this.#dir}/id.txt`, `${ep.id}\n`);
    Deno.writeTextFileSync(`${this.#dir}/peers.txt`, "");
    Deno.writeTextFileSync(`${this.#dir}/topics.txt`, this.#topics);
    const events = ep.statusSubscriber(true);
    this.#peers = (async () => {
      for await (const ev of events) {
        if (ev.kind === "status" && ev.code === StatusCode.peer_added && ev.peer?.id) {
          Deno.writeTextFileSync(`${this.#dir}/peers.txt`, `${ev.peer.id}\n`, { append: true });
        }
      }
    })();
  }

  /** Keeps the shape of a data message the node publishes. */
  recordData(topic: string, data: Data): void {
    this.#writer.addData(topic, data);
  }

  /**
   * Keeps the shape of a store command the node publishes, under Broker
   * 2.2.0's command types (see `GeneratorFileWriter.addCommand`).
   */
  recordCommand(topic: string, payload: Uint8Array): void {
    try {
      this.#writer.addCommand(topic, decodeCommand(payload).content);
    } catch {
      // not ours to judge here: the peer sees the same bytes
    }
  }

  /** Appends subscribed topics to `topics.txt`, as Broker's recorder did on every subscription. */
  recordSubscription(topics: readonly string[]): void {
    const lines = topics.map((t) => `${t}\n`).join("");
    this.#topics += lines;
    try {
      Deno.writeTextFileSync(`${this.#dir}/topics.txt`, lines, { append: true });
    } catch {
      // the directory is written at `attach`; before that, the text waits in #topics
    }
  }

  /** Writes `messages.dat` now, synchronously: also from a signal handler. */
  flushSync(): void {
    Deno.writeFileSync(`${this.#dir}/messages.dat`, this.#writer.bytes());
  }

  /** Writes the files and waits for the peer recorder to end (the endpoint is shut down). */
  async close(): Promise<void> {
    this.flushSync();
    await this.#peers;
  }
}

/**
 * Registers `node` on `program`, with every option broker-node takes
 * (`NODE_OPTIONS`; Broker's metrics and CAF's options show in `--long-help`
 * only, as in broker-node). Its action hands the parsed values to `run`
 * (`nodeMain`, or a stand-in in tests) and reports the exit code through
 * `setExitCode` instead of exiting, so callers decide when to exit.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { registerNodeCommand } from "./node_command.ts";
 * registerNodeCommand(new Command("broker"), (code) => Deno.exitCode = code);
 * ```
 */
export function registerNodeCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
  run: (cli: NodeCliValues) => Promise<number> = nodeMain,
): void {
  const command = program
    .command("node")
    .description(
      "a drop-in for broker-node: relay, answer pings (pong) or measure round trips (ping)",
    )
    .option("--long-help", "print help with every option (Broker's metrics, CAF's) and exit")
    .option("--dump-config", "print the configuration and exit");
  addCafOptions(command, NODE_OPTIONS)
    .addHelpText(
      "after",
      `
Values as broker-node takes them: lists in CAF syntax ('["/a","/b"]',
'[<tcp://127.0.0.1:29001>]'; peers also as 127.0.0.1:29001), durations with
units (250ms, 1s; a bare number is seconds), ports as 29001 or 29001/tcp.
Settings merge as in broker-node: defaults, the config file (CAF syntax, keys
as --dump-config shows them), BROKER_* variables, the command line; BROKER_PORT
last.`,
    )
    .action(async (opts: NodeCliValues, cmd: CommandUnknownOpts) => {
      if (opts.longHelp) {
        showLongHelp(cmd);
        cmd.outputHelp();
        setExitCode(0);
        return;
      }
      setExitCode(await run(opts));
    });
}
