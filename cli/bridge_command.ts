/**
 * `broker bridge`: a {@link ZeromqBridge} from the command line. Its Broker
 * side listens (`--broker.port`, `--broker.address`) and/or peers
 * (`--broker.peers`); its ZeroMQ side joins a Zeek 8 cluster as a node
 * (`--zeromq.connect-xpub-endpoint`, `--zeromq.connect-xsub-endpoint`,
 * `--cluster.node`, as Zeek names them); Zeek events on `--topics` (Broker
 * spelling) cross both ways, on `--to-zeromq` and `--to-broker` one way.
 * `--loop-window` and `--carry-other-bridges` tune the loop guard between
 * bridges (see `engine/zeromq/bridge.ts`). Every option is checked before
 * anything listens or dials; a bad one is a usage error (exit 2). Like a
 * Zeek node, its ZeroMQ side dials until the proxy answers (no time limit),
 * keeps dialling a proxy that went away and resumes when it is back (a
 * `*** zeromq:` line on stderr for each loss and return); a peer that
 * breaks the protocol ends it with 1.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { resolveBridgeOptions } from "./bridge_command.ts";
 * const o = resolveBridgeOptions({
 *   topics: "zeek/cluster/manager,zeek/cluster/worker",
 *   "broker.port": "9999",
 *   "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
 *   "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
 *   "cluster.node": "worker-1",
 * });
 * equal(o.bridge.listen?.port, 9999);
 * equal(o.bridge.zeromq.xpub.port, 5556);
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { ZeromqBridge, type ZeromqBridgeOptions } from "../engine/zeromq/bridge.ts";
import {
  parseBindAddress,
  parseDuration,
  parsePeerList,
  parsePort,
  parseTopicList,
  UsageError,
} from "./cli_values.ts";
import { runUntilSignal, type SignalIo, unlessStopped, untilStoppedOrLost } from "./stdio.ts";
import {
  addSslOptions,
  DISABLE_SSL_HELP,
  endpointSslOptions,
  type SslCliValues,
} from "./ssl_options.ts";
import {
  addZmqNodeOptions,
  attributeOf,
  resolveZmqNodeOptions,
  type ZmqCliValues,
} from "./zeromq_options.ts";

/** Values of `broker bridge`'s options as commander hands them over. */
export type BridgeCliValues = ZmqCliValues & SslCliValues;

/** Parsed options. */
export interface BridgeCommandOptions {
  /** What `ZeromqBridge.start` takes. */
  bridge: ZeromqBridgeOptions;
  /** Print node_up/node_down of the cluster and Broker statuses. */
  verbose: boolean;
}

/**
 * Checks and converts the options; a bad or missing value throws a
 * `UsageError` naming the option.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { resolveBridgeOptions } from "./bridge_command.ts";
 * throws(() => resolveBridgeOptions({ topics: "/a", "broker.port": "0" }), /--zeromq.connect-xpub-endpoint/);
 * ```
 */
export function resolveBridgeOptions(cli: BridgeCliValues): BridgeCommandOptions {
  const get = (option: string): string | undefined => {
    const v = cli[attributeOf(option)];
    return v === undefined ? undefined : String(v);
  };
  const topicsText = get("topics");
  const toZeromqText = get("to-zeromq"), toBrokerText = get("to-broker");
  if (topicsText === undefined && toZeromqText === undefined && toBrokerText === undefined) {
    throw new UsageError(
      "--topics",
      `required (or --to-zeromq, --to-broker): the topic prefixes to bridge, as Broker spells them, e.g. '["zeek/cluster/manager"]'`,
    );
  }
  const topics = topicsText === undefined ? [] : parseTopicList(topicsText, "--topics");
  const portText = get("broker.port");
  const addressText = get("broker.address");
  const peersText = get("broker.peers");
  const retryText = get("retry");
  const bridge: Partial<ZeromqBridgeOptions> = { topics };
  if (toZeromqText !== undefined) {
    bridge.toZeromq = parseTopicList(toZeromqText, "--to-zeromq");
  }
  if (toBrokerText !== undefined) bridge.toBroker = parseTopicList(toBrokerText, "--to-broker");
  const loopText = get("loop-window");
  if (loopText !== undefined) bridge.loopWindowMs = parseDuration(loopText, "--loop-window");
  if (cli[attributeOf("carry-other-bridges")]) bridge.carryOtherBridges = true;
  if (portText !== undefined) {
    const port = parsePort(portText, "--broker.port", { allowZero: true });
    // 0.0.0.0 (the default) is every interface, IPv6 too, as for `broker node`.
    const host = addressText === undefined
      ? undefined
      : parseBindAddress(addressText, "--broker.address");
    bridge.listen = host === undefined || host === "0.0.0.0" ? { port } : { host, port };
  } else if (addressText !== undefined) {
    throw new UsageError("--broker.address", "needs --broker.port (the port to listen on)");
  }
  if (peersText !== undefined) bridge.peers = parsePeerList(peersText, "--broker.peers");
  if (retryText !== undefined) bridge.retryMs = parseDuration(retryText, "--retry");
  if (!bridge.listen && !bridge.peers?.length) {
    throw new UsageError(
      "--broker.port",
      "the Broker side neither listens nor peers: give --broker.port or --broker.peers",
    );
  }
  const zeromq = resolveZmqNodeOptions(cli);
  if (!zeromq) {
    throw new UsageError(
      "--zeromq.connect-xpub-endpoint",
      "required, with --zeromq.connect-xsub-endpoint: the ZeroMQ proxy to join",
    );
  }
  bridge.zeromq = zeromq;
  bridge.endpoint = endpointSslOptions(cli);
  return { bridge: bridge as ZeromqBridgeOptions, verbose: !!cli.verbose };
}

/** Where `runBridge` writes, and how it learns it should stop. */
export type BridgeIo = SignalIo;

/**
 * Runs a bridge until `io.stop` resolves: prints its endpoint ID, node ID
 * and Broker port; each loss and return of a ZeroMQ connection; with
 * `verbose` the cluster's node_up/node_down; at the end the counters.
 * Returns the exit code (1 when it could not start or a ZeroMQ peer broke
 * the protocol).
 */
export async function runBridge(o: BridgeCommandOptions, io: BridgeIo): Promise<number> {
  let bridge: ZeromqBridge | undefined;
  try {
    // As a Zeek node, it dials until the proxy answers (no time limit); ^C stops it there.
    bridge = await unlessStopped(
      ZeromqBridge.start({ ...o.bridge, zeromq: { connectTimeoutMs: 0, ...o.bridge.zeromq } }),
      io.stop,
    );
    if (!bridge) return 0;
  } catch (e) {
    io.err(`broker bridge: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const printing = Promise.all([
    (async () => {
      for await (const s of bridge.node.statuses) {
        if (o.verbose) io.err(`*** zeromq: ${s.type} ${s.name} ${s.id}`);
      }
    })(),
    (async () => {
      for await (const l of bridge.node.links) io.err(`*** zeromq: ${l.message}`);
    })(),
  ]);
  try {
    io.out(`*** bridge ${bridge.endpoint.id} as ZeroMQ node ${bridge.node.id}`);
    if (bridge.brokerPort !== undefined) {
      io.out(`*** broker: listening on ${o.bridge.listen!.host ?? "0.0.0.0"}:${bridge.brokerPort}`);
    }
    for (const p of o.bridge.peers ?? []) io.out(`*** broker: peering with ${p.host}:${p.port}`);
    // A ZeroMQ peer that went away is dialled again; one that broke the protocol is given up.
    const lost = await untilStoppedOrLost(io.stop, bridge.node.lost);
    if (lost) {
      io.err(`broker bridge: ${lost.message}`);
      return 1;
    }
    return 0;
  } finally {
    await bridge.close();
    await printing;
    const s = bridge.stats();
    io.err(
      `*** ${s.toZeromq} events to ZeroMQ, ${s.toBroker} to Broker; dropped: ${s.notEvents} not events, ${s.echoes} echoes, ${s.unsubscribed} without ZeroMQ subscriber, ${s.xpubDrops} at the XPUB's high-water mark, ${s.loops} other bridges' copies, ${s.refused} the Broker side refused`,
    );
  }
}

/**
 * Registers `broker bridge` on the program.
 *
 * @example
 * ```ts ignore
 * registerBridgeCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerBridgeCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("bridge")
    .description(
      "join a Broker-protocol world and a Zeek 8 ZeroMQ cluster: Zeek events cross both ways",
    )
    .option(
      "-t, --topics <topics>",
      `topic prefixes to bridge, as Broker spells them: '["zeek/cluster/manager", "/app"]' or a,b`,
    )
    .option("--broker.port <port>", "port to accept Broker peers on (0: any free port)")
    .option("--broker.address <addr>", "address to listen on (default: 0.0.0.0)")
    .option("--broker.peers <list>", "Broker peers to dial: h:p,h:p or '[<tcp://h:p>]'")
    .option("--retry <duration>", "pause between re-dials of lost Broker peers (default: 10s)")
    .option("--to-zeromq <topics>", "more topic prefixes carried from Broker to ZeroMQ only")
    .option("--to-broker <topics>", "more topic prefixes carried from ZeroMQ to Broker only")
    .option(
      "--loop-window <duration>",
      "drop an event arriving from a side the bridge published it on this recently (default: 1s; 0: off)",
    )
    .option(
      "--carry-other-bridges",
      "carry other bridges' ZeroMQ publications to Broker (bridges into different Broker worlds only)",
    );
  addZmqNodeOptions(command);
  command
    .option("--disable-ssl", DISABLE_SSL_HELP)
    .option("-v, --verbose", "print the cluster's node_up/node_down");
  addSslOptions(command)
    .addHelpText(
      "after",
      `
Topics: Zeek 8's ZeroMQ backend spells its cluster topics with dots (zeek/cluster/worker is
zeek.cluster.worker there, zeek/cluster/node/worker-1/ is zeek.cluster.node.worker-1.); other
topics are the same on both sides.

Example:
  broker bridge --broker.port=9999 --topics='["zeek/cluster/manager", "zeek/cluster/worker"]' \\
    --zeromq.connect-xpub-endpoint=tcp://127.0.0.1:5556 \\
    --zeromq.connect-xsub-endpoint=tcp://127.0.0.1:5555 --cluster.node=worker-1`,
    )
    .action(async (cli) => {
      const o = resolveBridgeOptions(cli as BridgeCliValues);
      await runUntilSignal((io) => runBridge(o, io), setExitCode);
    });
}
