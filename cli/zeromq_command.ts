/**
 * `broker zeromq`: our process in a Zeek 8 cluster on the ZeroMQ backend,
 * with Zeek's option names. With `--zeromq.listen-xpub-endpoint` and
 * `--zeromq.listen-xsub-endpoint` it runs the XPUB/XSUB proxy (what Zeek's
 * manager does with `run_proxy_thread`); with
 * `--zeromq.connect-xpub-endpoint`, `--zeromq.connect-xsub-endpoint` and
 * `--cluster.node` it joins as a node, says hello (Zeek raises `node_up`),
 * subscribes `--topics` (dotted, as ZeroMQ spells them) and prints each
 * event it gets as `topic: event`; both at once is a manager that runs its
 * own proxy. Options are checked before anything listens (usage errors exit 2).
 * Like a Zeek node, the node dials until the proxy answers (no time limit),
 * keeps dialling a proxy (or logger) that went away and resumes when it is
 * back; each loss and return is a `*** zeromq:`
 * line on stderr. A peer that breaks the protocol ends it with 1 (libzmq
 * gives such an endpoint up, and Zeek exits on a failed handshake).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { resolveZeromqOptions } from "./zeromq_command.ts";
 * const o = resolveZeromqOptions({
 *   "zeromq.listenXpubEndpoint": "tcp://*:5555",
 *   "zeromq.listenXsubEndpoint": "tcp://*:5556",
 * });
 * equal(o.proxy?.hostname, "0.0.0.0");
 * equal(o.node, undefined);
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { dataToString } from "../engine/data/mod.ts";
import type { ZeekZmqNodeOptions, ZmqProxyServerOptions } from "../engine/zeromq/mod.ts";
import { ZeekZmqNode, ZmqProxyServer } from "../engine/zeromq/mod.ts";
import { runUntilSignal, type SignalIo, unlessStopped, untilStoppedOrLost } from "./stdio.ts";
import { parseTopicList, parseZmqEndpoint, UsageError } from "./cli_values.ts";
import {
  addZmqNodeOptions,
  attributeOf,
  resolveZmqNodeOptions,
  type ZmqCliValues,
} from "./zeromq_options.ts";

/** Parsed options of `broker zeromq`. */
export interface ZeromqCommandOptions {
  /** Run the proxy here. */
  proxy?: ZmqProxyServerOptions;
  /** Join as a node. */
  node?: Omit<ZeekZmqNodeOptions, "logger">;
  /** Extra prefixes the node subscribes (dotted). */
  topics: string[];
}

/**
 * Checks and converts the options. Throws a `UsageError` naming the option.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { resolveZeromqOptions } from "./zeromq_command.ts";
 * throws(() => resolveZeromqOptions({}), /give the listen endpoints/);
 * ```
 */
export function resolveZeromqOptions(cli: ZmqCliValues): ZeromqCommandOptions {
  const get = (option: string): string | undefined => {
    const v = cli[attributeOf(option)];
    return v === undefined ? undefined : String(v);
  };
  const pubText = get("zeromq.listen-xpub-endpoint");
  const subText = get("zeromq.listen-xsub-endpoint");
  let proxy: ZmqProxyServerOptions | undefined;
  if (pubText !== undefined || subText !== undefined) {
    if (pubText === undefined || subText === undefined) {
      throw new UsageError(
        `--zeromq.listen-${pubText === undefined ? "xpub" : "xsub"}-endpoint`,
        "the proxy needs both listen endpoints",
      );
    }
    const pub = parseZmqEndpoint(pubText, "--zeromq.listen-xpub-endpoint", { listen: true });
    const sub = parseZmqEndpoint(subText, "--zeromq.listen-xsub-endpoint", { listen: true });
    if (pub.host !== sub.host) {
      throw new UsageError(
        "--zeromq.listen-xsub-endpoint",
        `both listen endpoints take one address (${pub.host} and ${sub.host})`,
      );
    }
    // One port for both sockets would fail at the second bind, after the first is up.
    if (pub.port !== 0 && pub.port === sub.port) {
      throw new UsageError(
        "--zeromq.listen-xsub-endpoint",
        `port ${pub.port} is the XPUB's too: the proxy's sockets need a port each`,
      );
    }
    proxy = { hostname: pub.host, xpubPort: pub.port, xsubPort: sub.port };
  }
  const node = resolveZmqNodeOptions(cli);
  const topicsText = get("topics");
  const topics = topicsText === undefined ? [] : parseTopicList(topicsText, "--topics");
  if (topics.length && !node) {
    throw new UsageError("--topics", "only a node subscribes: give the connect endpoints");
  }
  if (!proxy && !node) {
    throw new UsageError(
      "--zeromq.listen-xpub-endpoint",
      "nothing to run: give the listen endpoints (the proxy) and/or the connect endpoints and --cluster.node (a node)",
    );
  }
  return { proxy, node, topics };
}

/**
 * Runs the proxy and/or the node until `io.stop` resolves. Prints the
 * proxy's ports, the node's ID, `node_up`/`node_down` and each loss and
 * return of a connection on stderr, and each event the node gets on
 * stdout. Returns the exit code: 1 when the node could not start or a
 * peer broke the protocol.
 */
export async function runZeromq(o: ZeromqCommandOptions, io: SignalIo): Promise<number> {
  let proxy: ZmqProxyServer | undefined;
  let node: ZeekZmqNode | undefined;
  try {
    if (o.proxy) {
      proxy = ZmqProxyServer.listen(o.proxy);
      io.out(
        `*** proxy: XPUB on ${o.proxy.hostname}:${proxy.xpubPort}, XSUB on ${o.proxy.hostname}:${proxy.xsubPort}`,
      );
    }
    if (o.node) {
      // As a Zeek node, it dials until the proxy answers (no time limit); ^C stops it there.
      node = await unlessStopped(
        ZeekZmqNode.connect({ connectTimeoutMs: 0, ...o.node }),
        io.stop,
      );
      if (!node) {
        await proxy?.close();
        return 0;
      }
      for (const t of o.topics) node.subscribe(t);
      io.out(`*** node ${node.name} ${node.id}`);
    }
  } catch (e) {
    io.err(`broker zeromq: ${e instanceof Error ? e.message : e}`);
    await proxy?.close();
    return 1;
  }
  const n = node;
  const loops = n
    ? [
      (async () => {
        for await (const s of n.statuses) io.err(`*** ${s.type} ${s.name} ${s.id}`);
      })(),
      (async () => {
        for await (const l of n.links) io.err(`*** zeromq: ${l.message}`);
      })(),
      (async () => {
        for await (const m of n.events) {
          io.out(`${m.topic}: ${dataToString(m.event.toData())}`);
        }
      })(),
    ]
    : [];
  try {
    // A peer that went away is dialled again; one that broke the protocol is given up.
    const lost = await untilStoppedOrLost(io.stop, n?.lost);
    if (lost) {
      io.err(`broker zeromq: ${lost.message}`);
      return 1;
    }
    return 0;
  } finally {
    await node?.close();
    await Promise.all(loops);
    await proxy?.close();
    const drops = node?.stats();
    // Zeek's drop metrics, said only when something was dropped (a healthy run prints nothing).
    if (drops && drops.xpubDrops + drops.logDrops > 0) {
      io.err(
        `*** dropped at the high-water marks: ${drops.xpubDrops} published events, ${drops.logDrops} log batches`,
      );
    }
  }
}

/**
 * Registers `broker zeromq` on the program.
 *
 * @example
 * ```ts ignore
 * registerZeromqCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerZeromqCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("zeromq")
    .description(
      "a Zeek 8 ZeroMQ cluster's XPUB/XSUB proxy and/or a node of it (Zeek's option names)",
    )
    .option(
      "--zeromq.listen-xpub-endpoint <uri>",
      "run the proxy: its XPUB, where nodes' XSUBs connect (Zeek's listen_xpub_endpoint), e.g. tcp://127.0.0.1:5555",
    )
    .option(
      "--zeromq.listen-xsub-endpoint <uri>",
      "the proxy's XSUB, where nodes' XPUBs connect (Zeek's listen_xsub_endpoint), e.g. tcp://127.0.0.1:5556",
    );
  addZmqNodeOptions(command);
  command
    .option(
      "-t, --topics <topics>",
      "more topic prefixes the node subscribes, dotted: zeek.cluster.worker,/app",
    )
    .addHelpText(
      "after",
      `
Examples:
  broker zeromq --zeromq.listen-xpub-endpoint=tcp://127.0.0.1:5555 \\
                --zeromq.listen-xsub-endpoint=tcp://127.0.0.1:5556
  broker zeromq --zeromq.connect-xpub-endpoint=tcp://127.0.0.1:5556 \\
                --zeromq.connect-xsub-endpoint=tcp://127.0.0.1:5555 --cluster.node=worker-1`,
    )
    .action(async (cli) => {
      const o = resolveZeromqOptions(cli as ZmqCliValues);
      await runUntilSignal((io) => runZeromq(o, io), setExitCode);
    });
}
