/**
 * `broker pipe`: a drop-in for Broker's `broker-pipe`. Publish mode reads
 * lines from stdin and publishes each as a string (or, with `--json`, as the
 * value the line holds in Broker's JSON); subscribe mode prints every
 * message as `data(<topic>, <value>)` in Broker's text form (or as a JSON
 * data message with `--json`), and endpoint statuses as `*** ...` lines.
 *
 * @module
 */
import { keepAlive } from "./keep_alive.ts";
import {
  DISABLE_SSL_HELP,
  endpointSslOptions,
  SSL_KEYS,
  type SslCliValues,
} from "./ssl_options.ts";
import { byteLines } from "./self.ts";
import { writeToStdio } from "./stdio.ts";
import { listenOnAll } from "./listen_all.ts";
import type { SslOptions } from "../engine/transport/tls.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import {
  type Data,
  dataFromJson,
  dataMessageToJson,
  dataToString,
  dataToStringBytes,
  Endpoint,
  StatusCode,
  statusToData,
  statusTopicOf,
  str,
} from "../mod.ts";

// The peer syntax is shared by every subcommand; `broker store` imports it from here.
export { type HostPort, parsePeerList } from "./cli_values.ts";
import {
  checkListenerPorts,
  parseBindAddress,
  parseChoice,
  parseCount,
  parsePeerList,
  parsePort,
  UsageError,
} from "./cli_values.ts";
import {
  addCafOptions,
  BROKER_ENV_KEYS,
  BROKER_GLOBAL_OPTIONS,
  BROKER_SECTION_OPTIONS,
  CAF_OPTIONS,
  type CafOptionWithParser,
  cafValuesFromCli,
  cafValuesFromEnv,
  dumpEntries,
  optionFlag,
  renderCafDump,
  showLongHelp,
  usage,
} from "./broker_config.ts";
import {
  type CafConfig,
  type ConfigValue,
  formatConfigValue,
  loadCafConfigFile,
} from "./caf_config.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import {
  listValue,
  portFromConfig,
  stringsFromList,
  stringValue,
  timespanMs,
} from "./node_options.ts";

/** Values of `broker pipe`'s options as commander hands them over (raw text; flags `true`). */
export interface PipeCliValues extends SslCliValues {
  /** `--mode`, as given. */
  mode?: string;
  /** `--topic`, as given. */
  topic?: string;
  /** `--peers`, as given. */
  peers?: string;
  /** `--local-port`, as given. */
  localPort?: string;
  /** `--address`, as given. */
  address?: string;
  /** `--message-cap`, as given. */
  messageCap?: string;
  /** `--count`, as given (the same as `--message-cap`). */
  count?: string;
  /** `--impl`, as given. */
  impl?: string;
  /** `--rate`, as given. */
  rate?: boolean;
  /** `--json`, as given. */
  json?: boolean;
  /** `--config-file`, as given. */
  configFile?: string;
  /** `--dump-config`: print the settings and exit. */
  dumpConfig?: boolean;
  /** `--long-help`: help with every option. */
  longHelp?: boolean;
  /** Broker's and CAF's options (`--ttl` ...), as given. */
  [option: string]: string | boolean | undefined;
}

/** Parsed options. */
export interface PipeOptions {
  /** Publish stdin lines (or the body), or print what arrives. */
  mode: "publish" | "subscribe";
  /** The topic. */
  topic: string;
  /** Peers to dial. */
  peers: { host: string; port: number }[];
  /** Port to listen on (0: none). */
  localPort: number;
  /**
   * Address to listen on with `localPort`.
   * @default 0.0.0.0
   */
  address?: string;
  /**
   * Stop after this many messages (with a body, how often to send it):
   * `Infinity` for no limit, and 0 for none at all, as broker-pipe's
   * `--message-cap=0` sends and receives nothing.
   */
  cap: number;
  /** Print the rate once per second instead of messages. */
  rate: boolean;
  /** Values in Broker's JSON instead of strings and text. */
  json: boolean;
  /** Publish this (a command-line argument) instead of stdin lines. */
  body?: string;
  /**
   * How often a peer that is not up is dialled again (broker-pipe: Broker's
   * default, 10 s; no option sets it there either).
   * @default 10000
   */
  retryMs?: number;
  /** TLS or plain TCP (see `endpointSslOptions`), and Broker's endpoint settings. */
  endpoint?: {
    disableSsl: boolean;
    ssl?: SslOptions;
    ttl?: number;
    peerBufferSize?: number;
    disableForwarding?: boolean;
    /** `broker.metrics.*`, which broker-pipe's endpoint serves and exports as broker-node's. */
    metricsPort?: number;
    metricsAddress?: string;
    metricsEndpointName?: string;
    metricsExportTopic?: string;
    metricsExportIntervalMs?: number;
    metricsExportPrefixes?: string[];
    metricsImportTopics?: string[];
  };
  /** `broker.web-socket.*`: Broker's WebSocket API, which broker-pipe's endpoint serves too. */
  webSocket?: { address: string; port: number; bufferSize?: number };
}

const pipePeers = (text: string | boolean, source: string): ConfigValue => ({
  type: "list",
  value: parsePeerList(String(text), source).map((p) => ({
    type: "string",
    value: p.host.includes(":") ? `[${p.host}]:${p.port}` : `${p.host}:${p.port}`,
  })),
});

/** broker-pipe's own options, with its names and letters, and ours. */
export const PIPE_OWN_OPTIONS: readonly CafOptionWithParser[] = [
  {
    key: "rate",
    short: "r",
    type: "bool",
    help: "print the rate of messages once per second instead of the message content",
  },
  {
    key: "peers",
    short: "p",
    type: "list",
    help: "peers to connect to: host:port, [v6]:port, tcp://host:port, or a list '[\"h:p\", ...]'",
    parse: pipePeers,
  },
  {
    key: "local-port",
    short: "l",
    type: "uint64",
    meta: "<port>",
    help: "port to accept peers on (default: 0, none)",
  },
  {
    key: "address",
    type: "string",
    meta: "<addr>",
    help: "address to listen on with --local-port (default: 0.0.0.0, all IPv4 interfaces)",
  },
  { key: "topic", short: "t", type: "string", meta: "<topic>", help: "topic to send or receive" },
  {
    key: "mode",
    short: "m",
    type: "string",
    meta: "<mode>",
    help: "publish or subscribe (default: publish when a body is given)",
  },
  {
    key: "impl",
    short: "i",
    type: "string",
    meta: "<impl>",
    help: "broker-pipe's implementation: blocking, select or stream (all the same here)",
  },
  {
    key: "message-cap",
    short: "c",
    type: "uint64",
    help:
      "stop after this many messages sent or received; with a body, send it this often (default: no limit; with a body: 1)",
  },
];

/** Every option `broker pipe` takes, as `broker-pipe --long-help` lists them. */
export const PIPE_OPTIONS: readonly CafOptionWithParser[] = [
  {
    key: "config-file",
    type: "string",
    meta: "<path>",
    help: "sets a path to a configuration file (CAF syntax, keys as --dump-config shows them)",
  },
  {
    key: "broker.disable-ssl",
    long: "disable-ssl",
    type: "bool",
    help: DISABLE_SSL_HELP,
  },
  ...BROKER_GLOBAL_OPTIONS,
  ...PIPE_OWN_OPTIONS,
  ...BROKER_SECTION_OPTIONS,
  ...CAF_OPTIONS,
];

/**
 * Checks and converts the options, merged as broker-pipe merges them (the
 * config file, `BROKER_*` variables, the command line); a bad command-line
 * value throws a `UsageError` naming the option and what it takes, a bad
 * config-file value a `BrokerError`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { resolvePipeOptions } from "./pipe_command.ts";
 * const o = resolvePipeOptions({ mode: "subscribe", topic: "/t", peers: '["127.0.0.1:9999"]' });
 * deepEqual(o.peers, [{ host: "127.0.0.1", port: 9999 }]);
 * ```
 */
export function resolvePipeOptions(
  cli: PipeCliValues,
  body?: string,
  config?: CafConfig,
  env: Readonly<Record<string, string | undefined>> = {},
): PipeOptions {
  const given = cafValuesFromCli(cli, PIPE_OPTIONS);
  const fromEnv = cafValuesFromEnv(env);
  const flagOf = (key: string) => optionFlag(PIPE_OPTIONS.find((s) => s.key === key)!);
  // The command line wins over the environment, which wins over the file.
  function pick<T>(key: string, convert: (v: ConfigValue, source: string) => T): T | undefined {
    const v = given.get(key);
    if (v !== undefined) return usage(flagOf(key), () => convert(v, flagOf(key)));
    const e = fromEnv.get(key);
    if (e !== undefined) return convert(e, key);
    const f = config?.get(key);
    if (f === undefined) return undefined;
    try {
      return convert(f, key);
    } catch (e) {
      // A file's value: not a usage error, but its key and what it takes.
      if (e instanceof UsageError) throw new BrokerError(ErrorCode.invalid_data, e.message);
      throw e;
    }
  }
  const text = (v: ConfigValue, source: string) => {
    if (v.type !== "string") {
      throw new UsageError(source, `expected a string, got ${formatConfigValue(v)}`);
    }
    return v.value;
  };
  const count = (v: ConfigValue, source: string) => {
    if (v.type === "integer" && v.value >= 0n && v.value <= BigInt(Number.MAX_SAFE_INTEGER)) {
      return Number(v.value);
    }
    throw new UsageError(source, `expected a whole number ≥ 0, got ${formatConfigValue(v)}`);
  };
  const flag = (key: string) =>
    given.has(key) ? given.get(key)!.value === true : (config?.getBool(key) ?? false);

  const mode = pick(
    "mode",
    (v, s) => parseChoice(text(v, s), s, ["publish", "subscribe"] as const),
  ) ?? (body !== undefined ? "publish" : undefined);
  if (mode === undefined) {
    throw new UsageError("--mode", "expected one of publish, subscribe (-m publish, -m subscribe)");
  }
  if (body !== undefined && mode !== "publish") {
    throw new UsageError("<body>", "a body is published: it needs -m publish (or no -m)");
  }
  const topic = pick("topic", text);
  if (!topic) throw new UsageError("--topic", "a topic is required (-t /topic)");
  pick("impl", (v, s) => parseChoice(text(v, s), s, ["blocking", "select", "stream"] as const));
  const peers = pick("peers", (v, s) => {
    if (v.type !== "list") throw new UsageError(s, "expected a list of host:port peers");
    return v.value.flatMap((x) =>
      x.type === "string" || x.type === "uri"
        ? parsePeerList(x.type === "string" ? x.value : x.value.text, s)
        : (() => {
          throw new UsageError(s, `expected "host:port" peers, got ${formatConfigValue(x)}`);
        })()
    );
  }) ?? [];
  const localPort =
    pick("local-port", (v, s) => parsePort(String(count(v, s)), s, { allowZero: true })) ??
      0;
  const address = pick("address", (v, s) => parseBindAddress(text(v, s), s));
  if (given.has("address") && localPort === 0) {
    throw new UsageError("--address", "is where --local-port listens: give --local-port too");
  }
  if (cli.messageCap !== undefined && cli.count !== undefined) {
    throw new UsageError("--count", "the same as --message-cap: give one of them");
  }
  const cap = cli.count !== undefined
    ? parseCount(cli.count, "--count")
    : (pick("message-cap", count) ?? (body !== undefined ? 1 : Infinity));
  if (body !== undefined && cap === 0) {
    throw new UsageError(
      cli.count !== undefined ? "--count" : "--message-cap",
      'expected a whole number ≥ 1 with a body, got "0"',
    );
  }
  if (body !== undefined) {
    // A body that is no value is a usage error like any other, found before anything runs.
    usage("<body>", () => parsePipeLine(body, { json: !!cli.json }));
  }
  const ttl = pick("broker.ttl", count);
  const peerBufferSize = pick("broker.peer-buffer-size", count);
  if (peerBufferSize === 0) {
    throw new UsageError("--peer-buffer-size", 'expected a whole number ≥ 1, got "0"');
  }
  // Broker's endpoint serves its WebSocket API and metrics when these are set,
  // broker-pipe's as broker-node's (checked live: broker-pipe listens on both).
  const bind = (key: string) => pick(key, (v, s) => parseBindAddress(text(v, s), s));
  const wsPort = pick("broker.web-socket.port", portFromConfig);
  const wsBuffer = pick("broker.web-socket-buffer-size", count) ??
    pick("broker.web_socket-buffer-size", count);
  if (wsBuffer === 0) {
    throw new UsageError("--web_socket-buffer-size", 'expected a whole number ≥ 1, got "0"');
  }
  const webSocket = wsPort === undefined ? undefined : {
    address: bind("broker.web-socket.address") ?? "0.0.0.0",
    port: wsPort,
    ...(wsBuffer !== undefined ? { bufferSize: wsBuffer } : {}),
  };
  const metricsPort = pick("broker.metrics.port", portFromConfig);
  const metricsList = (key: string) =>
    pick(key, (v, s) => stringsFromList(listValue(v, s), s)) ?? [];
  const exportTopic = pick("broker.metrics.export.topic", stringValue);
  const exportPrefixes = metricsList("broker.metrics.export.prefixes");
  const importTopics = metricsList("broker.metrics.import.topics");
  const endpointName = pick("broker.metrics.endpoint-name", stringValue);
  // As Broker's exporter: an interval of 0 is its default.
  const exportIntervalMs = pick("broker.metrics.export.interval", timespanMs) || undefined;
  const metrics = {
    ...(metricsPort !== undefined
      ? { metricsPort, metricsAddress: bind("broker.metrics.address") ?? "0.0.0.0" }
      : {}),
    ...(endpointName ? { metricsEndpointName: endpointName } : {}),
    ...(exportTopic ? { metricsExportTopic: exportTopic } : {}),
    ...(exportIntervalMs !== undefined ? { metricsExportIntervalMs: exportIntervalMs } : {}),
    ...(exportPrefixes.length ? { metricsExportPrefixes: exportPrefixes } : {}),
    ...(importTopics.length ? { metricsImportTopics: importTopics } : {}),
  };
  checkListenerPorts([
    { where: flagOf("local-port"), port: localPort, address: address ?? "0.0.0.0" },
    { where: flagOf("broker.web-socket.port"), port: webSocket?.port, address: webSocket?.address },
    { where: flagOf("broker.metrics.port"), port: metricsPort, address: metrics.metricsAddress },
  ]);
  const ssl = endpointSslOptions({
    ...Object.fromEntries(
      SSL_KEYS.flatMap((k) => {
        const v = pick(`broker.ssl.${k}`, text);
        return v === undefined ? [] : [[`broker.ssl.${k}`, v]];
      }),
    ),
    disableSsl: flag("broker.disable-ssl"),
  }); // broker-pipe's SSL is on unless disabled
  return {
    mode,
    topic,
    peers,
    localPort,
    ...(address !== undefined ? { address } : {}),
    cap,
    rate: flag("rate"),
    json: !!cli.json,
    ...(body !== undefined ? { body } : {}),
    endpoint: {
      ...ssl,
      ...(ttl !== undefined ? { ttl } : {}),
      ...(peerBufferSize !== undefined ? { peerBufferSize } : {}),
      ...(flag("broker.disable-forwarding") ? { disableForwarding: true } : {}),
      ...metrics,
    },
    ...(webSocket ? { webSocket } : {}),
  };
}

/** Whether `broker pipe` reads and writes Broker's JSON or plain text (`--json`). */
export interface PipeFormatOptions {
  /**
   * Broker's JSON messages instead of `data(topic, value)` lines and plain strings.
   * @default false
   */
  json?: boolean;
}

/**
 * How one received message is printed.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatPipeMessage } from "./pipe_command.ts";
 * import { count } from "../mod.ts";
 * equal(formatPipeMessage("/t", count(1n)), "data(/t, 1)");
 * ```
 */
export function formatPipeMessage(
  topic: string,
  data: Data,
  options: PipeFormatOptions = {},
): string {
  return options.json ? dataMessageToJson(topic, data) : `data(${topic}, ${dataToString(data)})`;
}

/** `formatPipeMessage`'s line (not JSON) as bytes, strings that are not UTF-8 raw. */
function pipeMessageBytes(topic: string, data: Data): Uint8Array {
  const head = new TextEncoder().encode(`data(${topic}, `), body = dataToStringBytes(data);
  const line = new Uint8Array(head.length + body.length + 1);
  line.set(head);
  line.set(body, head.length);
  line[line.length - 1] = 0x29; // ")"
  return line;
}

/**
 * Reads one input line as the value to publish.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parsePipeLine } from "./pipe_command.ts";
 * import { count, str } from "../mod.ts";
 * deepEqual(parsePipeLine("hello"), str("hello"));
 * deepEqual(parsePipeLine('{"@data-type":"count","data":5}', { json: true }), count(5n));
 * ```
 */
export function parsePipeLine(line: string | Uint8Array, options: PipeFormatOptions = {}): Data {
  return options.json ? dataFromJson(line) : str(line);
}

/**
 * Runs `broker pipe`; returns the exit code. A received value whose text
 * has bytes that are not UTF-8 goes to `outBytes` as broker-pipe prints it,
 * raw (to `out` with U+FFFD without it).
 */
export async function runPipe(
  o: PipeOptions,
  out: (line: string) => void,
  err: (line: string) => void,
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
  outBytes?: (line: Uint8Array) => void,
): Promise<number> {
  let ep: Endpoint;
  try {
    ep = new Endpoint(o.endpoint);
  } catch (e) {
    err(`broker pipe: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const statuses = ep.statusSubscriber();
  const statusTask = (async () => {
    // As broker-pipe prints what its endpoint publishes on <$>/local/data/statuses and errors.
    for await (const s of statuses) {
      err(`*** ${formatPipeMessage(statusTopicOf(s), statusToData(s))}`);
    }
  })();
  // Messages received or published so far: with -r, broker-pipe prints how many more each second.
  let n = 0, printed = 0;
  const rateTimer = o.rate
    ? setInterval(() => {
      out(String(n - printed));
      printed = n;
    }, 1000)
    : undefined;
  try {
    const port = o.endpoint?.metricsPort;
    if (port !== undefined) {
      try {
        await ep.metricsReady;
      } catch (e) {
        err(`broker pipe: cannot serve metrics on port ${port}: ${(e as Error).message}`);
        return 1;
      }
    }
    if (o.webSocket) {
      const ws = o.webSocket;
      try {
        await listenOnAll(
          ws.address,
          (h) => ep.listenWebSocket(h, ws.port, { bufferSize: ws.bufferSize }),
        );
      } catch (e) {
        err(
          `broker pipe: cannot listen for WebSocket clients on port ${ws.port}: ${
            (e as Error).message
          }`,
        );
        return 1;
      }
    }
    if (o.localPort > 0) {
      await listenOnAll(o.address ?? "0.0.0.0", (h) => ep.listen(h, o.localPort));
    }
    for (const p of o.peers) await peerAsBrokerPipe(ep, p.host, p.port, o.retryMs);
    if (o.mode === "subscribe") {
      const sub = ep.subscribe(o.topic);
      const release = keepAlive();
      try {
        // broker-pipe's loop (i < cap) ends before the first message when the cap is 0.
        if (o.cap > 0) {
          for await (const m of sub) {
            n++;
            if (!o.rate) {
              const text = formatPipeMessage(m.topic, m.data, { json: o.json });
              // U+FFFD stands for bytes that are not UTF-8 (or is one): print them raw.
              if (outBytes && !o.json && text.includes("\uFFFD")) {
                outBytes(pipeMessageBytes(m.topic, m.data));
              } else out(text);
            }
            if (n >= o.cap) break;
          }
        }
      } finally {
        release();
      }
      return 0;
    }
    // Publish: like broker-pipe, wait until someone listens before sending.
    if (o.peers.length > 0) {
      await ep.awaitPeerSubscription(o.topic, 10_000).catch(() =>
        err(`*** no peer subscribed to ${o.topic} after 10s; publishing anyway`)
      );
    }
    const pub = ep.publisher(o.topic);
    if (o.body !== undefined) {
      const value = parsePipeLine(o.body, { json: o.json }); // checked by resolvePipeOptions
      for (; n < o.cap; n++) await pub.write(value);
      await pub.flush();
      out(`*** published ${n} messages, byte`); // broker-pipe's line, word for word
      return 0;
    }
    // Lines as bytes, as broker-pipe reads them: a string that is not UTF-8 goes out as it is.
    for await (const line of byteLines(input)) {
      // broker-pipe reads a line before it checks its cap: with a cap of 0 it sends nothing.
      if (n >= o.cap) break;
      let value: Data;
      try {
        value = parsePipeLine(line, { json: o.json });
      } catch (e) {
        err(`*** invalid input line: ${e instanceof Error ? e.message : e}`);
        continue;
      }
      await pub.write(value);
      n++;
      if (n >= o.cap) break;
    }
    await pub.flush();
    out(`*** published ${n} messages, byte`); // broker-pipe's line, word for word
    return 0;
  } finally {
    clearInterval(rateTimer);
    await ep.shutdown();
    await statusTask;
  }
}

/**
 * Peers as broker-pipe's blocking `peer` call does: a failed attempt is
 * reported (the `peer_unavailable` error, printed from the status topic)
 * and redialled every 10 s until the peering is up; nothing else is
 * printed, and the pipe waits (checked live: `broker-pipe -p` at a closed
 * port published its stdin once a listener came up, ~10 s later).
 */
async function peerAsBrokerPipe(
  ep: Endpoint,
  host: string,
  port: number,
  retryMs: number | undefined, // undefined: the endpoint's default, Broker's 10 s
): Promise<void> {
  // Subscribed before dialling, so that a peering that comes up at once is seen.
  const watch = ep.statusSubscriber();
  const release = keepAlive();
  try {
    try {
      await ep.peer(host, port, { retryMs });
      return;
    } catch {
      // Reported on the status topic; the endpoint redials in the background.
    }
    for await (const s of watch) {
      if (
        s.kind === "status" && s.code === StatusCode.peer_added && s.peer?.host === host &&
        s.peer.port === port
      ) return;
    }
  } finally {
    release();
    watch.close();
  }
}

/**
 * Registers `broker pipe` on the program, with every option broker-pipe
 * takes (Broker's metrics and CAF's options in `--long-help` only).
 *
 * @example
 * ```ts ignore
 * registerPipeCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerPipeCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("pipe")
    .description(
      "a drop-in for broker-pipe: publish stdin lines (or a body given as argument), or print what arrives",
    )
    .argument("[body]", "publish this value instead of stdin lines (a string, or JSON with --json)")
    .option("--long-help", "print help with every option (Broker's metrics, CAF's) and exit")
    .option("--dump-config", "print the configuration and exit")
    .option("--count <n>", "the same as --message-cap (nats's name)")
    .option("--json", "read and print values in Broker's JSON instead of strings/text");
  addCafOptions(command, PIPE_OPTIONS)
    .addHelpText(
      "after",
      `
Examples:
  broker pipe -m subscribe -t /t -l 9999             print what peers publish on /t
  broker pipe -m publish -t /t -p 127.0.0.1:9999     publish stdin lines
  broker pipe -t /t -p 127.0.0.1:9999 hello --count 3  publish "hello" three times`,
    )
    .action(async (body: string | undefined, cli: PipeCliValues, cmd: CommandUnknownOpts) => {
      if (cli.longHelp) {
        showLongHelp(cmd);
        cmd.outputHelp();
        setExitCode(0);
        return;
      }
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l + "\n"));
      let config: CafConfig | undefined;
      try {
        config = await loadCafConfigFile(cli.configFile);
      } catch (e) {
        err(`broker pipe: ${e instanceof Error ? e.message : e}`);
        setExitCode(1);
        return;
      }
      const env = readBrokerEnv();
      if (cli.dumpConfig) {
        const path = cli.configFile ?? (config ? "caf-application.conf" : undefined);
        const file = config && path !== undefined
          ? new Map([...config.values, ["config-file", { type: "string", value: path } as const]])
          : config?.values;
        const entries = dumpEntries([
          file,
          cafValuesFromEnv(env),
          cafValuesFromCli(cli, PIPE_OPTIONS),
        ]);
        if (cli.count !== undefined) {
          entries.set("message-cap", {
            type: "integer",
            value: BigInt(parseCount(cli.count, "--count")),
          });
        }
        Deno.stdout.writeSync(enc.encode(renderCafDump(entries)));
        setExitCode(0);
        return;
      }
      let o: PipeOptions;
      try {
        o = resolvePipeOptions(cli, body, config, env);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        err(`broker pipe: ${e instanceof Error ? e.message : e}`);
        setExitCode(1);
        return;
      }
      setExitCode(
        await runPipe(
          o,
          (l) => Deno.stdout.writeSync(enc.encode(l + "\n")),
          err,
          Deno.stdin.readable,
          (b) => {
            writeToStdio("stdout", b);
            writeToStdio("stdout", "\n");
          },
        ),
      );
    });
}

/** Broker's `BROKER_*` variables (see `BROKER_ENV_KEYS`). */
function readBrokerEnv(): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const k of Object.keys(BROKER_ENV_KEYS)) {
    try {
      env[k] = Deno.env.get(k);
    } catch {
      // no env permission: as if unset
    }
  }
  return env;
}
