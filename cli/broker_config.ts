/**
 * The options Broker's own tools (`broker-node`, `broker-pipe`) take besides
 * their own: Broker's endpoint settings (`--ttl`, `--disable-forwarding`,
 * `--peer-buffer-size`, `broker.web-socket.*`, `broker.metrics.*` ...) and
 * CAF's (`caf.scheduler.*`, `caf.logger.*` ...), with Broker's names, types
 * and help, and what deno-broker does with each: some work as in Broker,
 * the rest are accepted and reported by `--dump-config` so that command
 * lines and config files written for the C++ tools run unchanged, and their
 * help says that they have no effect here.
 *
 * `--dump-config` prints the settings as CAF does (on stdout): built-in
 * defaults (the same keys and values as Broker's tools), then the config
 * file, then `BROKER_*` environment variables, then the command line, nested
 * by section and sorted.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { renderCafDump } from "./broker_config.ts";
 * import { parseCafConfig } from "./caf_config.ts";
 * equal(
 *   renderCafDump(parseCafConfig('broker.ttl = 16\ntopics = ["/a"]').values),
 *   "broker {\n  ttl = 16\n}\ntopics = [\n  /a,\n]\n",
 * );
 * ```
 *
 * @module
 */
import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import {
  type ConfigValue,
  parseCafConfig,
  parseCafList,
  parseCafUri,
  parseCafValue,
} from "./caf_config.ts";
import { formatCafTimespan, parseDuration, UsageError } from "./cli_values.ts";
import { BrokerError } from "../engine/errors.ts";

/** The value types of Broker's and CAF's options, as their help prints them. */
export type CafOptionType =
  | "bool"
  | "uint64"
  | "uint16"
  | "int32"
  | "float"
  | "string"
  | "timespan"
  | "list"
  | "uri"
  | "port";

/** One option of Broker's tools. */
export interface CafOptionSpec {
  /** The CAF key, e.g. `broker.ttl`, `caf.scheduler.max-threads` or `topics`. */
  readonly key: string;
  /** The command-line name without dashes, when it is not the key (`ttl`). */
  readonly long?: string;
  /** A one-letter alias (`t`). */
  readonly short?: string;
  /** Its type. */
  readonly type: CafOptionType;
  /** What it does (Broker's words, with deno-broker's differences). */
  readonly help: string;
  /** The value's name in help (`<path>`), when not the type's. */
  readonly meta?: string;
  /** Only in `--long-help` (CAF's options, Broker's metrics), as Broker's `--help` leaves them out. */
  readonly longHelpOnly?: boolean;
}

const NO_EFFECT = "accepted for broker-node compatibility, no effect in deno-broker";

/**
 * Broker's endpoint options that its tools take at the top level of the
 * command line (CAF's "global" category), mapped to their `broker.*` keys.
 */
export const BROKER_GLOBAL_OPTIONS: readonly CafOptionSpec[] = [
  {
    key: "broker.disable-forwarding",
    long: "disable-forwarding",
    type: "bool",
    help: "disables forwarding of incoming data to peers (default: forward)",
  },
  {
    key: "broker.ttl",
    long: "ttl",
    type: "uint16",
    help: "drop messages after traversing TTL hops (taken; as in Broker, every message carries 16)",
  },
  {
    key: "broker.peer-buffer-size",
    long: "peer-buffer-size",
    type: "uint64",
    help: "maximum number of items we buffer per peer before dropping it (default: 2048)",
  },
  {
    key: "broker.web_socket-buffer-size",
    long: "web_socket-buffer-size",
    type: "uint64",
    help: "maximum number of items we buffer per WebSocket client (default: 512)",
  },
  {
    key: "broker.recording-directory",
    long: "recording-directory",
    type: "string",
    meta: "<dir>",
    help:
      "record this node's configuration, peers, topics and published messages there, as Broker " +
      "2.2.0's recorder (also BROKER_RECORDING_DIRECTORY)",
  },
  {
    key: "broker.output-generator-file-cap",
    long: "output-generator-file-cap",
    type: "uint64",
    help:
      "maximum number of entries when recording published messages (also BROKER_OUTPUT_GENERATOR_FILE_CAP; default: no limit)",
  },
  {
    key: "broker.max-pending-inputs-per-source",
    long: "max-pending-inputs-per-source",
    type: "uint64",
    help:
      `maximum number of items we buffer per peer or publisher (${NO_EFFECT}: --peer-buffer-size bounds each peer)`,
  },
];

/** Broker's `broker.ssl.*`, `broker.web-socket.*` and `broker.metrics.*` options. */
export const BROKER_SECTION_OPTIONS: readonly CafOptionSpec[] = [
  {
    key: "broker.ssl.certificate",
    type: "string",
    meta: "<path>",
    help: "path to the PEM-formatted certificate file (TLS)",
  },
  {
    key: "broker.ssl.key",
    type: "string",
    meta: "<path>",
    help: "path to the private key file for this node",
  },
  {
    key: "broker.ssl.passphrase",
    type: "string",
    help: "passphrase to decrypt the private key",
  },
  {
    key: "broker.ssl.capath",
    type: "string",
    meta: "<dir>",
    help: "path to an OpenSSL-style directory of trusted certificates",
  },
  {
    key: "broker.ssl.cafile",
    type: "string",
    meta: "<path>",
    help: "path to a file of concatenated PEM-formatted certificates",
  },
  {
    key: "broker.web-socket.address",
    type: "string",
    meta: "<addr>",
    help: "bind address for the WebSocket server socket (default: 0.0.0.0)",
  },
  {
    key: "broker.web-socket.port",
    type: "port",
    help: "port for incoming WebSocket connections (also BROKER_WEB_SOCKET_PORT; default: none)",
  },
  {
    key: "broker.metrics.port",
    type: "port",
    help:
      "port for incoming Prometheus (HTTP) requests: /metrics, also /v1/status/json and a status " +
      "page at / (also BROKER_METRICS_PORT; default: none)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.address",
    type: "string",
    meta: "<addr>",
    help: "bind address for the HTTP server socket (default: 0.0.0.0)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.endpoint-name",
    type: "string",
    help:
      "name for this endpoint in metrics (when exporting: suffix of the topic by default; also " +
      "BROKER_METRICS_ENDPOINT_NAME)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.export.topic",
    type: "string",
    help: "if set, causes Broker to publish its metrics periodically on the given topic (also " +
      "BROKER_METRICS_EXPORT_TOPIC)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.export.interval",
    type: "timespan",
    help: "time between publishing metrics on the topic (default: 1s)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.export.prefixes",
    type: "list",
    help: "selects metric prefixes to publish on the topic (default: all)",
    longHelpOnly: true,
  },
  {
    key: "broker.metrics.import.topics",
    type: "list",
    help: "topics for collecting remote metrics from (served on /metrics with an endpoint label)",
    longHelpOnly: true,
  },
];

const caf = (key: string, type: CafOptionType, help: string): CafOptionSpec => ({
  key,
  type,
  help: `${help} (CAF's; ${NO_EFFECT})`,
  longHelpOnly: true,
});

/** CAF's options, as Broker's tools list them; deno-broker has no CAF, so none has an effect. */
export const CAF_OPTIONS: readonly CafOptionSpec[] = [
  caf("caf.logger.inline-output", "bool", "disable logger thread (for testing only!)"),
  caf("caf.logger.console.colored", "bool", "forces colored or uncolored output"),
  caf("caf.logger.console.format", "string", "format for printed console lines"),
  caf("caf.logger.console.verbosity", "string", "minimum severity level for console output"),
  caf("caf.logger.console.excluded-components", "list", "excluded components on console"),
  caf("caf.logger.file.path", "string", "filesystem path for the log file"),
  caf("caf.logger.file.format", "string", "format for individual log file entries"),
  caf("caf.logger.file.verbosity", "string", "minimum severity level for file output"),
  caf("caf.logger.file.excluded-components", "list", "excluded components in files"),
  caf("caf.metrics-filters.actors.includes", "list", "selects actors for run-time metrics"),
  caf("caf.metrics-filters.actors.excludes", "list", "excludes actors from run-time metrics"),
  caf("caf.middleman.app-identifiers", "list", "valid application identifiers of this node"),
  caf("caf.middleman.this-node", "uri", "locator of this CAF node"),
  caf("caf.middleman.max-consecutive-reads", "uint64", "max. number of consecutive reads"),
  caf("caf.middleman.manual-multiplexing", "bool", "disables background activity"),
  caf("caf.middleman.workers", "uint64", "number of deserialization workers"),
  caf("caf.middleman.heartbeat-interval", "timespan", "interval of heartbeat messages"),
  caf("caf.middleman.connection-timeout", "timespan", "max. time between messages"),
  caf("caf.middleman.network-backend", "string", "legacy option"),
  caf("caf.scheduler.policy", "string", "'stealing' (default) or 'sharing'"),
  caf("caf.scheduler.max-threads", "uint64", "maximum number of worker threads"),
  caf("caf.scheduler.max-throughput", "uint64", "nr. of messages actors can consume per run"),
  caf("caf.scheduler.enable-profiling", "bool", "enables profiler output"),
  caf("caf.scheduler.profiling-resolution", "timespan", "data collection rate"),
  caf("caf.scheduler.profiling-output-file", "string", "output file for the profiler"),
  caf("caf.stream.max-batch-delay", "timespan", "maximum delay for partial batches"),
  caf("caf.stream.credit-policy", "string", "selects an implementation for credit computation"),
  caf("caf.stream.size-based-policy.bytes-per-batch", "int32", "desired batch size in bytes"),
  caf("caf.stream.size-based-policy.buffer-capacity", "int32", "maximum input buffer size"),
  caf("caf.stream.size-based-policy.sampling-rate", "int32", "frequency of collecting sizes"),
  caf("caf.stream.size-based-policy.calibration-interval", "int32", "frequency of re-calibrations"),
  caf("caf.stream.size-based-policy.smoothing-factor", "float", "discount of older samples"),
  caf("caf.stream.token-based-policy.batch-size", "int32", "number of elements per batch"),
  caf("caf.stream.token-based-policy.buffer-size", "int32", "max. elements in the input buffer"),
  caf("caf.work-stealing.aggressive-poll-attempts", "uint64", "nr. of aggressive steal attempts"),
  caf("caf.work-stealing.aggressive-steal-interval", "uint64", "frequency of aggressive steals"),
  caf("caf.work-stealing.moderate-poll-attempts", "uint64", "nr. of moderate steal attempts"),
  caf("caf.work-stealing.moderate-steal-interval", "uint64", "frequency of moderate steals"),
  caf("caf.work-stealing.moderate-sleep-duration", "timespan", "sleep between moderate steals"),
  caf("caf.work-stealing.relaxed-steal-interval", "uint64", "frequency of relaxed steals"),
  caf("caf.work-stealing.relaxed-sleep-duration", "timespan", "sleep between relaxed steals"),
];

/**
 * What Broker's tools report with `--dump-config` when nothing is set
 * (zeek/broker 2.8's `broker-node`, checked key by key against it in
 * `node_command_test.ts`).
 */
export const BROKER_DEFAULT_CONFIG = `
broker {
  disable-forwarding = false
  disable-ssl = false
  peer-buffer-size = 2048
  ttl = 16
  web-socket-buffer-size = 512
}
caf {
  logger {
    console {
      colored = true
      excluded-components = ["caf", "caf_io", "caf_net", "caf_flow", "caf_stream"]
      format = "[%c/%p] %d %m"
      verbosity = "error"
    }
    file {
      excluded-components = ["caf", "caf_io", "caf_net", "caf_flow", "caf_stream"]
      format = "%r %c %p %a %t %C %M %F:%L %m%n"
      path = "broker_[PID]_[TIMESTAMP].log"
      verbosity = "quiet"
    }
    inline-output = false
  }
  metrics-filters.actors.includes = ["broker.core"]
  middleman {
    app-identifiers = ["broker.v2"]
    enable-automatic-connections = false
    heartbeat-interval = 10s
    max-consecutive-reads = 50
    workers = 0
  }
  openssl {
    cafile = ""
    capath = ""
    certificate = ""
    key = ""
    passphrase = ""
  }
  scheduler {
    enable-profiling = false
    max-throughput = -1
    policy = "stealing"
    profiling-output-file = ""
    profiling-resolution = 100ms
  }
  stream {
    credit-policy = "size-based"
    max-batch-delay = 1ms
    size-policy {
      buffer-capacity = 65536
      bytes-per-batch = 2048
    }
  }
  work-stealing {
    aggressive-poll-attempts = 100
    aggressive-steal-interval = 10
    moderate-poll-attempts = 500
    moderate-sleep-duration = 50us
    moderate-steal-interval = 5
    relaxed-sleep-duration = 10ms
    relaxed-steal-interval = 1
  }
}
`;

/** The environment variables Broker maps to its settings (it reads them over the config file). */
export const BROKER_ENV_KEYS: Readonly<Record<string, { key: string; type: CafOptionType }>> = {
  BROKER_RECORDING_DIRECTORY: { key: "broker.recording-directory", type: "string" },
  BROKER_OUTPUT_GENERATOR_FILE_CAP: { key: "broker.output-generator-file-cap", type: "uint64" },
  BROKER_WEB_SOCKET_PORT: { key: "broker.web-socket.port", type: "port" },
  BROKER_METRICS_PORT: { key: "broker.metrics.port", type: "port" },
  BROKER_METRICS_ENDPOINT_NAME: { key: "broker.metrics.endpoint-name", type: "string" },
  BROKER_METRICS_EXPORT_TOPIC: { key: "broker.metrics.export.topic", type: "string" },
  BROKER_METRICS_EXPORT_INTERVAL: { key: "broker.metrics.export.interval", type: "timespan" },
  BROKER_METRICS_EXPORT_PREFIXES: { key: "broker.metrics.export.prefixes", type: "list" },
  BROKER_METRICS_IMPORT_TOPICS: { key: "broker.metrics.import.topics", type: "list" },
  BROKER_CONSOLE_VERBOSITY: { key: "caf.logger.console.verbosity", type: "string" },
  BROKER_FILE_VERBOSITY: { key: "caf.logger.file.verbosity", type: "string" },
};

/** The command-line flag of an option, e.g. `--ttl` or `-t, --topics`. */
export function optionFlag(spec: CafOptionSpec): string {
  return `--${spec.long ?? spec.key}`;
}

const META: Record<CafOptionType, string> = {
  bool: "",
  uint64: "<n>",
  uint16: "<n>",
  int32: "<n>",
  float: "<x>",
  string: "<text>",
  timespan: "<duration>",
  list: "<list>",
  uri: "<uri>",
  port: "<port>",
};

/**
 * Adds the options to a command: each as `--name <type>` with its help;
 * `longHelpOnly` ones hidden until `showLongHelp`.
 *
 * @example
 * ```ts
 * import { Command } from "@commander-js/extra-typings";
 * import { addCafOptions, BROKER_GLOBAL_OPTIONS } from "./broker_config.ts";
 * const cmd = addCafOptions(new Command("node"), BROKER_GLOBAL_OPTIONS);
 * ```
 */
export function addCafOptions<C extends CommandUnknownOpts>(
  cmd: C,
  specs: readonly CafOptionSpec[],
): C {
  for (const spec of specs) {
    const short = spec.short ? `-${spec.short}, ` : "";
    const meta = spec.meta ?? META[spec.type];
    const opt = new Option(`${short}${optionFlag(spec)}${meta ? ` ${meta}` : ""}`, spec.help);
    if (spec.longHelpOnly) opt.hideHelp();
    cmd.addOption(opt);
  }
  return cmd;
}

/**
 * Shows the options only `--long-help` lists, so that the next help output has them all.
 *
 * @example
 * ```ts ignore
 * showLongHelp(command);
 * command.outputHelp();
 * ```
 */
export function showLongHelp(cmd: CommandUnknownOpts): void {
  for (const o of cmd.options) o.hidden = false;
}

/** Commander's name for an option's value (`--num-messages` → `numMessages`). */
export function attributeName(spec: CafOptionSpec): string {
  return new Option(`${optionFlag(spec)} <x>`).attributeName();
}

function integerRange(type: CafOptionType): [bigint, bigint] {
  switch (type) {
    case "uint16":
      return [0n, 65535n];
    case "int32":
      return [-(1n << 31n), (1n << 31n) - 1n];
    default:
      return [0n, (1n << 64n) - 1n];
  }
}

/**
 * Parses an option's text as its type, the way CAF reads it (hex and `1e3`
 * for integers, units for durations, CAF lists); a bad value is a
 * `UsageError` naming `source` (the flag or environment variable) and the
 * type it wants. A port is kept as Zeek writes it (`29001/tcp`), as CAF
 * prints Broker's ports.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseCafOptionValue } from "./broker_config.ts";
 * deepEqual(parseCafOptionValue("0x10", "uint16", "--ttl"), { type: "integer", value: 16n });
 * ```
 */
export function parseCafOptionValue(
  text: string | boolean,
  type: CafOptionType,
  source: string,
): ConfigValue {
  if (type === "bool" || typeof text === "boolean") {
    if (typeof text === "boolean") return { type: "boolean", value: text };
    if (text === "true" || text === "false") return { type: "boolean", value: text === "true" };
    throw new UsageError(source, `expected true or false, got ${JSON.stringify(text)}`);
  }
  const fail = (what: string): never => {
    throw new UsageError(source, `expected ${what}, got ${JSON.stringify(text)}`);
  };
  switch (type) {
    case "uint64":
    case "uint16":
    case "int32": {
      const [min, max] = integerRange(type);
      const what = type === "uint64"
        ? "a whole number ≥ 0"
        : `a whole number from ${min} to ${max}`;
      let v: ConfigValue;
      try {
        v = parseCafValue(text);
      } catch {
        return fail(what);
      }
      let n: bigint | undefined;
      if (v.type === "integer") n = v.value;
      else if (v.type === "real" && Number.isSafeInteger(v.value)) n = BigInt(v.value);
      if (n === undefined || n < min || n > max) return fail(what);
      return { type: "integer", value: n };
    }
    case "float": {
      const v = Number(text.trim());
      if (text.trim() === "" || !Number.isFinite(v) || v < 0) fail("a number ≥ 0");
      return { type: "real", value: v };
    }
    case "string": {
      const t = text.trim();
      if (t.startsWith('"')) {
        try {
          const v = parseCafValue(t);
          if (v.type === "string") return v;
        } catch {
          // not a quoted string after all: the text as given
        }
      }
      return { type: "string", value: text };
    }
    case "timespan": {
      const ms = parseDuration(text, source);
      return { type: "timespan", value: BigInt(Math.round(ms * 1e6)) };
    }
    case "list":
      try {
        return { type: "list", value: parseCafList(text) };
      } catch (e) {
        throw new UsageError(
          source,
          `${(e as Error).message} (expected a CAF list, e.g. '["a", "b"]')`,
        );
      }
    case "uri":
      try {
        return { type: "uri", value: parseCafUri(text.trim().replace(/^<(.*)>$/, "$1")) };
      } catch {
        return fail("a URI such as tcp://host:port");
      }
    case "port": {
      const m = /^\s*(\d{1,5})(?:\/(tcp|udp|icmp|unknown|\?))?\s*$/.exec(text);
      if (!m || Number(m[1]) > 65535) return fail("a port such as 29001 or 29001/tcp");
      return { type: "string", value: `${Number(m[1])}/${m![2] ?? "tcp"}` };
    }
  }
}

/** An option with, optionally, its own way to read a value (lists in `broker`'s forms). */
export type CafOptionWithParser = CafOptionSpec & {
  /** Reads the text as the option's value; a bad one throws a `UsageError`. */
  readonly parse?: (text: string | boolean, source: string) => ConfigValue;
};

/**
 * The values the command line gives for `specs` (commander's option values,
 * by attribute name), typed, by CAF key. A bad one throws a `UsageError`.
 * `--web_socket-buffer-size` also sets `broker.web-socket-buffer-size`, as
 * in Broker.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { BROKER_GLOBAL_OPTIONS, cafValuesFromCli } from "./broker_config.ts";
 * deepEqual(cafValuesFromCli({ ttl: "5" }, BROKER_GLOBAL_OPTIONS).get("broker.ttl"), {
 *   type: "integer",
 *   value: 5n,
 * });
 * ```
 */
export function cafValuesFromCli(
  cli: Readonly<Record<string, unknown>>,
  specs: readonly CafOptionWithParser[],
): Map<string, ConfigValue> {
  const out = new Map<string, ConfigValue>();
  for (const spec of specs) {
    const text = cli[attributeName(spec)] as string | boolean | undefined;
    if (text === undefined) continue;
    const flag = optionFlag(spec);
    out.set(
      spec.key,
      spec.parse ? spec.parse(text, flag) : parseCafOptionValue(text, spec.type, flag),
    );
  }
  const ws = out.get("broker.web_socket-buffer-size");
  if (ws) out.set("broker.web-socket-buffer-size", ws);
  return out;
}

/**
 * The `BROKER_*` variables set in `env`, typed, by CAF key. A bad one throws
 * a `UsageError` naming the variable.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { cafValuesFromEnv } from "./broker_config.ts";
 * deepEqual(cafValuesFromEnv({ BROKER_WEB_SOCKET_PORT: "9997" }).get("broker.web-socket.port"), {
 *   type: "string",
 *   value: "9997/tcp",
 * });
 * ```
 */
export function cafValuesFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Map<string, ConfigValue> {
  const out = new Map<string, ConfigValue>();
  for (const [name, { key, type }] of Object.entries(BROKER_ENV_KEYS)) {
    const text = env[name];
    if (text !== undefined) out.set(key, parseCafOptionValue(text, type, name));
  }
  return out;
}

/**
 * The settings as `--dump-config` shows them: the defaults, then each of
 * `layers` in turn (config file, environment, command line), a later value
 * replacing an earlier one, and a value replacing a section of the same
 * name, as in CAF.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { dumpEntries } from "./broker_config.ts";
 * const m = dumpEntries([new Map([["broker.ttl", { type: "integer", value: 5n }]])]);
 * deepEqual(m.get("broker.ttl"), { type: "integer", value: 5n });
 * ```
 */
export function dumpEntries(
  layers: readonly (ReadonlyMap<string, ConfigValue> | undefined)[],
): Map<string, ConfigValue> {
  const out = new Map(parseCafConfig(BROKER_DEFAULT_CONFIG).values);
  for (const layer of layers) {
    if (!layer) continue;
    for (const [key, value] of layer) {
      for (const k of [...out.keys()]) {
        if (k.startsWith(`${key}.`) || key.startsWith(`${k}.`)) out.delete(k);
      }
      out.set(key, value);
    }
  }
  return out;
}

function scalar(v: ConfigValue): string {
  switch (v.type) {
    case "boolean":
    case "integer":
      return String(v.value);
    case "real":
      return String(v.value);
    case "timespan":
      return formatCafTimespan(v.value);
    case "string":
      return v.value;
    case "uri":
      return v.value.text;
    case "list":
      return `[${v.value.map(scalar).join(", ")}]`;
    case "dictionary":
      return `{${[...v.value].map(([k, x]) => `${k} = ${scalar(x)}`).join(", ")}}`;
  }
}

type Tree = Map<string, Tree | ConfigValue>;

/**
 * The settings as CAF's `--dump-config` prints them: sections as `name {`
 * ... `}`, keys sorted, strings and URIs bare, lists one element a line
 * with a trailing comma, timespans in their largest unit.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { renderCafDump } from "./broker_config.ts";
 * equal(renderCafDump(new Map([["a.b", { type: "list", value: [] }]])), "a {\n  b = []\n}\n");
 * ```
 */
export function renderCafDump(entries: ReadonlyMap<string, ConfigValue>): string {
  const root: Tree = new Map();
  for (const [key, value] of entries) {
    const path = key.split(".");
    let node = root;
    for (const seg of path.slice(0, -1)) {
      let next = node.get(seg);
      if (!(next instanceof Map)) node.set(seg, next = new Map());
      node = next as Tree;
    }
    const last = path[path.length - 1];
    if (value.type === "dictionary") {
      const sub: Tree = new Map();
      for (const [k, x] of value.value) sub.set(k, x);
      node.set(last, sub);
    } else node.set(last, value);
  }
  const lines: string[] = [];
  const walk = (node: Tree, indent: string) => {
    for (const key of [...node.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))) {
      const v = node.get(key)!;
      if (v instanceof Map) {
        lines.push(`${indent}${key} {`);
        walk(v, `${indent}  `);
        lines.push(`${indent}}`);
      } else if (v.type === "list") {
        if (v.value.length === 0) lines.push(`${indent}${key} = []`);
        else {
          lines.push(`${indent}${key} = [`);
          for (const x of v.value) lines.push(`${indent}  ${scalar(x)},`);
          lines.push(`${indent}]`);
        }
      } else lines.push(`${indent}${key} = ${scalar(v)}`);
    }
  };
  walk(root, "");
  return lines.map((l) => `${l}\n`).join("");
}

/**
 * Runs `f`; a `BrokerError` it throws about a command-line value becomes a
 * `UsageError` naming `flag` (the program exits with 2 for those).
 *
 * @example
 * ```ts ignore
 * const port = usage("--port", () => portFromConfig(value, "--port"));
 * ```
 */
export function usage<T>(flag: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof UsageError || !(e instanceof BrokerError)) throw e;
    const detail = e.message.startsWith(`${flag}: `) ? e.message.slice(flag.length + 2) : e.message;
    throw new UsageError(flag, detail);
  }
}
