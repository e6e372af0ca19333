/**
 * `broker gateway`: Broker's `broker-gateway`, which the C++ Broker documents
 * but no longer builds. Two endpoints sharing one ID, one in an external
 * domain and one in an internal domain, joined by a shortcut (see
 * `engine/gateway/gateway.ts`). Options as Broker's manual names them
 * (`--internal.port`, `--external.peers=[tcp://h:p, ...]`,
 * `--internal.disable-forwarding`, the same keys in a `broker.conf` CAF
 * file), plus ours: bind addresses, TLS, a topic policy per direction,
 * `-v`. Every option is checked before anything listens or dials; a bad
 * one is a usage error (exit 2).
 *
 * @example
 * ```ts
 * import { resolveGatewayOptions } from "./gateway_command.ts";
 * const o = resolveGatewayOptions({ "internal.port": "8080", "external.peers": "[tcp://127.0.0.1:9090]" });
 * if (o.gateway.internal?.port !== 8080 || o.gateway.external?.peers?.[0].port !== 9090) {
 *   throw new Error("parsed");
 * }
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { decode } from "../engine/data/mod.ts";
import { dataToString } from "../engine/data/mod.ts";
import {
  Gateway,
  type GatewayDirection,
  type GatewayEvent,
  type GatewayOptions,
  type GatewaySide,
  type GatewaySideOptions,
  type GatewayStats,
} from "../engine/gateway/gateway.ts";
import type { TopicPolicyOptions } from "../engine/gateway/policy.ts";
import { type CafConfig, loadCafConfigFile } from "./caf_config.ts";
import {
  checkListenerPorts,
  type HostPort,
  parseBindAddress,
  parseDuration,
  parsePeerList,
  parsePort,
  parseTopicList,
  UsageError,
} from "./cli_values.ts";
import {
  addSslOptions,
  DISABLE_SSL_HELP,
  endpointSslOptions,
  SSL_KEYS,
  type SslCliValues,
} from "./ssl_options.ts";
import { runUntilSignal, type SignalIo } from "./stdio.ts";

/** Values of `broker gateway`'s options as commander hands them over (raw text; flags `true`). */
export interface GatewayCliValues extends SslCliValues {
  /** `--config-file`. */
  configFile?: string;
  /** `-v, --verbose`. */
  verbose?: boolean;
  /** `--retry`. */
  retry?: string;
  /** `--internal.port`, `--external.address`, `--inward.allow`, ... as given. */
  [option: string]: string | boolean | undefined;
}

/** Parsed options. */
export interface GatewayCommandOptions {
  /** What `new Gateway` takes. */
  gateway: GatewayOptions;
  /** Print what crosses and every status change. */
  verbose: boolean;
  /**
   * `--broker.metrics.port` / `--broker.metrics.address`: serve the external
   * side's `/metrics` (with the gateway's counters), `/v1/status/json` and `/`.
   */
  metrics?: { port: number; address: string };
}

const SIDES = ["internal", "external"] as const;
const DIRECTIONS = ["inward", "outward"] as const;
const SIDE_KEYS = ["port", "address", "peers", "disable-forwarding"] as const;
const POLICY_KEYS = ["allow", "deny"] as const;

/**
 * Peers as the other subcommands take them, and also the manual's
 * `[tcp://mars:1234, tcp://venus:2345]` (a bracketed list of bare URIs).
 */
function parseGatewayPeers(text: string, option: string): HostPort[] {
  try {
    return parsePeerList(text, option);
  } catch (e) {
    const t = text.trim();
    if (!(e instanceof UsageError) || !t.startsWith("[") || !t.endsWith("]")) throw e;
    const inner = t.slice(1, -1).trim();
    if (inner === "") return [];
    return parsePeerList(inner, option);
  }
}

/** The config file's value of `key` as command-line text, or a clear error naming the key. */
function configText(config: CafConfig | undefined, key: string): string | undefined {
  const v = config?.get(key);
  if (v === undefined) return undefined;
  switch (v.type) {
    case "string":
      return v.value;
    case "integer":
      return String(v.value);
    case "boolean":
      return String(v.value);
    case "timespan":
      return `${v.value}ns`;
    case "list":
      return JSON.stringify(
        v.value.map((x) =>
          x.type === "string" ? x.value : x.type === "uri" ? x.value.text : (() => {
            throw new UsageError(
              key,
              `expected a list of strings or <uri>s in the configuration file`,
            );
          })()
        ),
      );
    case "uri":
      return v.value.text;
  }
  throw new UsageError(key, `unsupported value in the configuration file`);
}

/**
 * Checks and converts the options: the command line over the config file
 * (`--config-file`, or `./broker.conf` when it exists). A bad value throws a
 * `UsageError` naming the option (or the config key) and what it takes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { resolveGatewayOptions } from "./gateway_command.ts";
 * const o = resolveGatewayOptions({ "external.port": "0", "internal.port": "0", "inward.deny": "/secret" });
 * deepEqual(o.gateway.inward, { deny: ["/secret"] });
 * ```
 */
export function resolveGatewayOptions(
  cli: GatewayCliValues,
  config?: CafConfig,
): GatewayCommandOptions {
  // Unknown keys in our sections are mistakes worth naming (a typo would silently do nothing).
  for (const key of config?.values.keys() ?? []) {
    const [section, name] = [key.slice(0, key.indexOf(".")), key.slice(key.indexOf(".") + 1)];
    const known = (SIDES as readonly string[]).includes(section)
      ? (SIDE_KEYS as readonly string[]).includes(name)
      : (DIRECTIONS as readonly string[]).includes(section)
      ? (POLICY_KEYS as readonly string[]).includes(name)
      : true;
    if (!known) throw new UsageError(key, `unknown key in the configuration file`);
  }
  const value = (key: string): [string | undefined, string] => {
    // commander's attribute for `--internal.disable-forwarding` is `internal.disableForwarding`.
    const c = cli[key.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase())];
    if (c !== undefined) return [String(c), `--${key}`];
    return [configText(config, key), key];
  };
  const flag = (key: string): boolean => {
    const [t, where] = value(key);
    if (t === undefined || t === "true") return t === "true";
    if (t === "false") return false;
    throw new UsageError(where, `expected true or false, got ${JSON.stringify(t)}`);
  };
  let retryMs: number | undefined;
  {
    const [t, where] = value("retry");
    if (t !== undefined) retryMs = parseDuration(t, where);
  }
  const gateway: GatewayOptions = {};
  for (const side of SIDES) {
    const o: GatewaySideOptions = {};
    const [port, portWhere] = value(`${side}.port`);
    if (port !== undefined) o.port = parsePort(port, portWhere, { allowZero: true });
    const [address, addressWhere] = value(`${side}.address`);
    if (address !== undefined) {
      if (port === undefined) {
        throw new UsageError(addressWhere, `needs --${side}.port (the port to listen on)`);
      }
      // 0.0.0.0 is every interface, IPv6 too, as for `broker node` (listen_all.ts).
      const bind = parseBindAddress(address, addressWhere);
      if (bind !== "0.0.0.0") o.address = bind;
    }
    const [peers, peersWhere] = value(`${side}.peers`);
    if (peers !== undefined) o.peers = parseGatewayPeers(peers, peersWhere);
    if (flag(`${side}.disable-forwarding`)) o.disableForwarding = true;
    if (retryMs !== undefined) o.retryMs = retryMs;
    if (o.port === undefined && !o.peers?.length) {
      throw new UsageError(
        `--${side}.port`,
        `the ${side} side neither listens nor peers: give --${side}.port or --${side}.peers`,
      );
    }
    gateway[side] = o;
  }
  for (const dir of DIRECTIONS) {
    const p: TopicPolicyOptions = {};
    for (const k of POLICY_KEYS) {
      const [t, where] = value(`${dir}.${k}`);
      if (t !== undefined) p[k] = parseTopicList(t, where);
    }
    if (p.allow || p.deny) gateway[dir] = p;
  }
  const ssl: SslCliValues = { disableSsl: cli.disableSsl || flag("broker.disable-ssl") };
  for (const k of SSL_KEYS) {
    const [t] = value(`broker.ssl.${k}`);
    if (t !== undefined) ssl[`broker.ssl.${k}`] = t;
  }
  gateway.endpoint = endpointSslOptions(ssl);
  const [mPort, mPortWhere] = value("broker.metrics.port");
  const [mAddress, mAddressWhere] = value("broker.metrics.address");
  if (mAddress !== undefined && mPort === undefined) {
    throw new UsageError(mAddressWhere, "needs --broker.metrics.port (the port to serve on)");
  }
  const metrics = mPort === undefined ? undefined : {
    port: parsePort(mPort, mPortWhere, { allowZero: true }),
    address: mAddress === undefined ? "0.0.0.0" : parseBindAddress(mAddress, mAddressWhere),
  };
  // Two of our listeners on one port would fail at the second bind, after the first side is up.
  checkListenerPorts([
    ...SIDES.map((side) => ({
      where: `--${side}.port`,
      port: gateway[side]?.port,
      address: gateway[side]?.address,
    })),
    { where: "--broker.metrics.port", port: metrics?.port, address: metrics?.address },
  ]);
  return { gateway, verbose: !!cli.verbose, ...(metrics ? { metrics } : {}) };
}

/** Where `runGateway` writes, and how it learns it should stop. */
export type GatewayIo = SignalIo;

/** One status or error as `-v` prints it. */
export function formatGatewayEvent(e: GatewayEvent): string {
  const where = e.peer
    ? ` ${e.peer.id ?? "?"}${e.peer.host !== undefined ? ` ${e.peer.host}:${e.peer.port}` : ""}`
    : "";
  return `*** ${e.side}: ${e.kind === "error" ? "error " : ""}${e.codeName}${where}: ${e.message}`;
}

/** The counters as one line. */
export function formatGatewayStats(s: GatewayStats): string {
  const dir = (name: string, d: GatewayStats["inward"]) =>
    `${name} ${d.messages} messages, ${d.bytes} bytes, ${d.droppedByPolicy} dropped by policy`;
  return `*** ${dir("inward", s.inward)}; ${
    dir("outward", s.outward)
  }; ${s.loopsDropped} dropped by the loop guard`;
}

/**
 * Runs a gateway until `io.stop` resolves: prints its ID and ports, errors
 * always, and with `verbose` every status and what crosses; at the end the
 * counters. Returns the exit code.
 */
export async function runGateway(o: GatewayCommandOptions, io: GatewayIo): Promise<number> {
  const verbose = o.verbose;
  const gateway = new Gateway({
    ...o.gateway,
    onCross: verbose
      ? (direction: GatewayDirection, topic: string, payload: Uint8Array) => {
        let text: string;
        try {
          text = dataToString(decode(payload));
        } catch {
          text = `<${payload.length} bytes>`;
        }
        io.out(`${direction}: ${topic} ${text}`);
      }
      : undefined,
  });
  const events = gateway.statusSubscriber({ statuses: verbose, queueSize: 4096 });
  const printing = (async () => {
    for await (const e of events) io.err(formatGatewayEvent(e));
  })();
  try {
    let ports;
    try {
      ports = await gateway.start();
    } catch (e) {
      io.err(`broker gateway: ${e instanceof Error ? e.message : e}`);
      return 1;
    }
    io.out(`*** gateway ${gateway.id}`);
    for (const side of SIDES as readonly GatewaySide[]) {
      const s = o.gateway[side]!;
      if (ports[side] !== undefined) {
        io.out(`*** ${side}: listening on ${s.address ?? "0.0.0.0"}:${ports[side]}`);
      }
      for (const p of s.peers ?? []) io.out(`*** ${side}: peering with ${p.host}:${p.port}`);
    }
    if (o.metrics) {
      try {
        const port = await gateway.external.listenMetrics(o.metrics.address, o.metrics.port);
        io.out(`*** metrics: listening on ${o.metrics.address}:${port}`);
      } catch (e) {
        io.err(`broker gateway: cannot serve metrics: ${e instanceof Error ? e.message : e}`);
        return 1;
      }
    }
    await io.stop;
    return 0;
  } finally {
    await gateway.shutdown();
    await printing;
    io.err(formatGatewayStats(gateway.stats()));
  }
}

/**
 * Registers `broker gateway` on the program.
 *
 * @example
 * ```ts ignore
 * registerGatewayCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerGatewayCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("gateway")
    .description(
      "Broker's gateway: one endpoint ID in an external and an internal domain, joined by a shortcut",
    )
    .option("--config-file <path>", "CAF configuration file (default: ./broker.conf if it exists)");
  for (const side of SIDES) {
    command
      .option(`--${side}.port <port>`, `port to accept ${side} peers on (0: any free port)`)
      .option(`--${side}.address <addr>`, `address to listen on (default: 0.0.0.0)`)
      .option(
        `--${side}.peers <list>`,
        `${side} peers to dial: [tcp://h:p, ...], ["h:p", <tcp://h:p>] or h:p,h:p`,
      )
      .option(
        `--${side}.disable-forwarding`,
        `relay nothing between ${side} endpoints (each sees only the gateway)`,
      );
  }
  command
    .option("--inward.allow <topics>", "only these topic prefixes cross from external to internal")
    .option("--inward.deny <topics>", "these topic prefixes never cross from external to internal")
    .option("--outward.allow <topics>", "only these topic prefixes cross from internal to external")
    .option("--outward.deny <topics>", "these topic prefixes never cross from internal to external")
    .option("--retry <duration>", "pause between re-dials of lost peers (default: 10s; 0: never)")
    .option(
      "--broker.metrics.port <port>",
      "serve /metrics (the external side's, with the gateway's counters), /v1/status/json and a " +
        "status page on this port (0: any free port)",
    )
    .option(
      "--broker.metrics.address <addr>",
      "address the metrics port listens on (default: 0.0.0.0)",
    )
    .option("--disable-ssl", DISABLE_SSL_HELP)
    .option("-v, --verbose", "print what crosses (stdout) and every status change (stderr)");
  addSslOptions(command)
    .addHelpText(
      "after",
      `
Examples:
  broker gateway --internal.port=8080 --external.peers=[tcp://core:9090]
  broker gateway --external.port=9090 --internal.port=8080 --internal.disable-forwarding \\
                 --outward.allow='["/zeek/logs/"]' -v
  broker gateway --config-file=broker.conf   # internal { port = 8080 } external { peers = [...] }`,
    )
    .action(async (cli: GatewayCliValues) => {
      let config: CafConfig | undefined;
      let configPath = cli.configFile;
      if (configPath === undefined) {
        try {
          Deno.statSync("broker.conf");
          configPath = "broker.conf";
        } catch {
          // no default file
        }
      }
      try {
        if (configPath !== undefined) config = await loadCafConfigFile(configPath);
      } catch (e) {
        throw new UsageError("--config-file", e instanceof Error ? e.message : String(e));
      }
      let o: GatewayCommandOptions;
      try {
        o = resolveGatewayOptions(cli, config);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        // A config value of the wrong type (the parser names key, line and column).
        throw new UsageError("--config-file", e instanceof Error ? e.message : String(e));
      }
      await runUntilSignal((io) => runGateway(o, io), setExitCode);
    });
}
