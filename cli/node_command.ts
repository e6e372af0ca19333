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
 * import { equal } from "node:assert/strict";
 * import { Command } from "@commander-js/extra-typings";
 * import { registerNodeCommand } from "./node_command.ts";
 * const program = new Command("broker");
 * let exitCode: number | undefined;
 * registerNodeCommand(program, (code) => exitCode = code);
 * const args = ["node", "--disable-ssl", "-m", "ping", "-t", '["/t"]', "-n", "0"];
 * await program.parseAsync(args, { from: "user" });
 * equal(exitCode, 0); // zero pings: nothing to wait for
 * ```
 *
 * @module
 */
import { keepAlive } from "./keep_alive.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { addCafOptions, showLongHelp } from "./broker_config.ts";
import { UsageError } from "./cli_values.ts";
import { Endpoint } from "../mod.ts";
import type { SslOptions } from "../engine/transport/tls.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import type { CafUri } from "./caf_config.ts";
import { stdioColors, writeToStdio } from "./stdio.ts";
import { checkTlsMaterial } from "./ssl_options.ts";
import { listenOnAll } from "./listen_all.ts";
import {
  loadNodeConfig,
  NODE_DEFAULTS,
  NODE_OPTIONS,
  type NodeCliValues,
  nodeDumpConfig,
  type NodeEnv,
  type NodeOptions,
  readNodeEnv,
  resolveNodeOptions,
} from "./node_options.ts";
import {
  formatStatusEvent,
  formatVariantHost,
  NodePrinter,
  type NodeWrite,
} from "./node_output.ts";
import {
  MODE_WARM_UP_ROUND_TRIPS,
  type NodeHost,
  type NodeStore,
  pingMode,
  pongMode,
  relayMode,
  warmUpModes,
  warmUpModesOverLoopback,
} from "./node_modes.ts";
import { warmUpOnce } from "../engine/warm_up.ts";
import { RecordingDirectory } from "./node_recording.ts";

// The names tests and the conformance suite import from this module.
export * from "./node_options.ts";
export * from "./node_output.ts";
export * from "./node_modes.ts";
export * from "./node_recording.ts";

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
      metricsEndpointName?: string;
      metricsExportTopic?: string;
      metricsExportIntervalMs?: number;
      metricsExportPrefixes?: string[];
      metricsImportTopics?: string[];
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
    ...(opts.metrics
      ? {
        metricsEndpointName: opts.metrics.endpointName,
        metricsExportTopic: opts.metrics.exportTopic,
        metricsExportIntervalMs: opts.metrics.exportIntervalMs,
        metricsExportPrefixes: opts.metrics.exportPrefixes,
        metricsImportTopics: opts.metrics.importTopics,
      }
      : {}),
  });
  let statusTask: Promise<void> | undefined;
  const stores: NodeStore[] = [];
  try {
    if (p.verboseEnabled) {
      const events = ep.statusSubscriber();
      statusTask = (async () => {
        for await (const ev of events) p.verbose(formatStatusEvent(ev));
      })();
    }
    // The engine warms its own paths before the first listen or peer; a
    // ping or pong node adds its loops to that one warm-up, in memory and
    // then over loopback TCP, with one pause for V8's compiler after both
    // (their latency is what those modes measure; a relay pays only the
    // engine's ~50 ms). A fake host in tests has nothing to warm.
    if (ep instanceof Endpoint && opts.mode !== "relay") {
      await warmUpOnce((id) => new Endpoint({ id, warmUp: false }), {
        then: (a, b) => warmUpModes(a, b, opts, MODE_WARM_UP_ROUND_TRIPS, 0),
      });
      await warmUpModesOverLoopback(() => new Endpoint({ warmUp: false }), opts);
    }
    // broker-node calls ep.forward(topics) first: its topics are in the filter of
    // every handshake, where a subscriber made by the mode later would send them
    // in a routing update after it (and miss what a peer published in between).
    ep.advertise?.(opts.topics);
    if (opts.port !== undefined) {
      p.verbose(`listen for peers on port ${opts.port}`);
      try {
        const port = opts.port;
        await listenOnAll(opts.address ?? NODE_DEFAULTS.address, (h) => ep.listen(h, port));
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
        const listen = ep.listenWebSocket.bind(ep);
        await listenOnAll(ws.address, (h) => listen(h, ws.port, { bufferSize: ws.bufferSize }));
      } catch (e) {
        p.err(
          `cannot listen for WebSocket clients on port ${ws.port}: ${
            e instanceof Error ? e.message : e
          }`,
        );
        return 1;
      }
    }
    // Broker's endpoint starts its Prometheus exposer when broker.metrics.port is set.
    if (opts.metrics?.port !== undefined) {
      const m = opts.metrics;
      try {
        if (!ep.listenMetrics) throw new Error("no metrics server here");
        await ep.listenMetrics(m.address, m.port!);
      } catch (e) {
        p.err(`cannot serve metrics on port ${m.port}: ${e instanceof Error ? e.message : e}`);
        return 1;
      }
    }
    // broker-node attaches its stores after listening and before it peers, so
    // a clone's first request goes out as soon as a peering with the master is up.
    if (!attachNodeStores(ep, opts, p, stores)) return 1;
    const peered: CafUri[] = [];
    // broker-node's source closes the two lines below with println(..., '>'); the reference
    // build prints that char as its code (`<tcp://10.0.0.1:162`), a port misread. We print
    // the '>' its source means, as `-v` prints the statuses its source means.
    for (const peer of opts.peers) {
      if (peer.scheme !== "tcp" || peer.host === undefined) {
        p.err(`unrecognized scheme (expected tcp) or no authority in: <${peer.text}>`);
        continue;
      }
      peered.push(peer);
      p.verbose(`connect to ${peer.host} on port ${peer.port ?? 0} ...`);
      try {
        await ep.peer(peer.host, peer.port ?? 0, { retryMs: 0 });
      } catch {
        p.err(`unable to connect to <${peer.text}>`);
      }
    }
    // Let the status task print what peering reported before the mode's first
    // line, which is the order broker-node's blocking peer() gives.
    if (statusTask) await new Promise((r) => setTimeout(r, 0));
    let code: number;
    const release = keepAlive();
    try {
      if (opts.mode === "ping") code = await pingMode(ep, opts.topics, opts, p);
      else if (opts.mode === "pong") code = await pongMode(ep, opts.topics, p);
      else code = await relayMode(ep, opts.topics, opts, p);
    } finally {
      release();
    }
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
 * const code = await nodeMain({ topics: '["/t"]', mode: "ping", numMessages: "0", disableSsl: true });
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
    // TLS files are checked as every subcommand checks them: a usage error before anything runs.
    if (!opts.disableSsl) checkTlsMaterial(opts.ssl);
    p = new NodePrinter({
      verbose: opts.verbose,
      data: opts.printData,
      write: output.write,
      color,
    });
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
