/**
 * The ZeroMQ options `broker zeromq` and `broker bridge` share, named after
 * Zeek's `Cluster::Backend::ZeroMQ` settings
 * (`policy/frameworks/cluster/backend/zeromq/main.zeek`):
 * `connect_xpub_endpoint` becomes `--zeromq.connect-xpub-endpoint`, and so
 * on; `Cluster::node` (Zeek's `CLUSTER_NODE`) becomes `--cluster.node`.
 * As in Zeek, a node's `connect_xpub_endpoint` is the proxy's
 * `listen_xsub_endpoint` and the other way round.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { resolveZmqNodeOptions } from "./zeromq_options.ts";
 * const o = resolveZmqNodeOptions({
 *   "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
 *   "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
 *   "cluster.node": "worker-1",
 * });
 * deepEqual(o, {
 *   name: "worker-1",
 *   nodeType: "worker",
 *   xpub: { host: "127.0.0.1", port: 5556 },
 *   xsub: { host: "127.0.0.1", port: 5555 },
 * });
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import type { ZeekNodeType, ZeekZmqNodeOptions } from "../engine/zeromq/mod.ts";
import { parseChoice, parseCount, parseZmqEndpoint, UsageError } from "./cli_values.ts";

/** Raw option values as commander hands them over (`zeromq.connectXpubEndpoint`, ...). */
export type ZmqCliValues = Record<string, string | boolean | undefined>;

const NODE_TYPES = ["manager", "logger", "proxy", "worker"] as const;

/** Commander's attribute name of a long option (`zeromq.connect-xpub-endpoint` -> `zeromq.connectXpubEndpoint`). */
export function attributeOf(option: string): string {
  return option.replace(/-([a-z])/g, (_, ch: string) => ch.toUpperCase());
}

function text(cli: ZmqCliValues, option: string): string | undefined {
  const v = cli[attributeOf(option)];
  return v === undefined ? undefined : String(v);
}

/**
 * Adds the node options: the two connect endpoints, `--cluster.node`,
 * `--cluster.node-type` and the send high-water marks.
 */
export function addZmqNodeOptions<C extends CommandUnknownOpts>(cmd: C): C {
  cmd
    .option(
      "--zeromq.connect-xpub-endpoint <uri>",
      "the proxy's XSUB, where our XPUB publishes (Zeek's connect_xpub_endpoint), e.g. tcp://127.0.0.1:5556",
    )
    .option(
      "--zeromq.connect-xsub-endpoint <uri>",
      "the proxy's XPUB, from which our XSUB receives (Zeek's connect_xsub_endpoint), e.g. tcp://127.0.0.1:5555",
    )
    .option("--cluster.node <name>", "our node's name in the cluster layout (Zeek's CLUSTER_NODE)")
    .option(
      "--cluster.node-type <type>",
      "our node's type: manager, logger, proxy or worker (default: worker)",
    )
    .option(
      "--zeromq.xpub-sndhwm <n>",
      "published events held for the proxy before more are dropped and counted, 0 for no limit (Zeek's xpub_sndhwm; default: 1000)",
    )
    .option(
      "--zeromq.log-sndhwm <n>",
      "log batches held for a logger before more are dropped and counted, 0 for no limit (Zeek's log_sndhwm; default: 1000)",
    );
  return cmd;
}

/**
 * The node options, or undefined when neither connect endpoint is given.
 * Throws a `UsageError` for a bad or missing value.
 */
export function resolveZmqNodeOptions(
  cli: ZmqCliValues,
): Omit<ZeekZmqNodeOptions, "logger"> | undefined {
  const xpubText = text(cli, "zeromq.connect-xpub-endpoint");
  const xsubText = text(cli, "zeromq.connect-xsub-endpoint");
  if (xpubText === undefined && xsubText === undefined) return undefined;
  if (xpubText === undefined || xsubText === undefined) {
    const missing = xpubText === undefined ? "xpub" : "xsub";
    throw new UsageError(
      `--zeromq.connect-${missing}-endpoint`,
      "a node needs both connect endpoints (the proxy's XSUB and XPUB)",
    );
  }
  const xpub = parseZmqEndpoint(xpubText, "--zeromq.connect-xpub-endpoint");
  const xsub = parseZmqEndpoint(xsubText, "--zeromq.connect-xsub-endpoint");
  const name = text(cli, "cluster.node");
  if (name === undefined || name.trim() === "") {
    throw new UsageError(
      "--cluster.node",
      "required with the connect endpoints: our node's name in Zeek's cluster layout, e.g. worker-1",
    );
  }
  const typeText = text(cli, "cluster.node-type");
  const nodeType: ZeekNodeType = typeText === undefined
    ? "worker"
    : parseChoice(typeText, "--cluster.node-type", NODE_TYPES);
  // Zeek's int options; libzmq takes an int.
  const hwm = (option: string) => {
    const t = text(cli, option);
    return t === undefined ? undefined : parseCount(t, `--${option}`, { max: 2 ** 31 - 1 });
  };
  const xpubSndhwm = hwm("zeromq.xpub-sndhwm"), logSndhwm = hwm("zeromq.log-sndhwm");
  return {
    name: name.trim(),
    nodeType,
    xpub,
    xsub,
    ...(xpubSndhwm === undefined ? {} : { xpubSndhwm }),
    ...(logSndhwm === undefined ? {} : { logSndhwm }),
  };
}
