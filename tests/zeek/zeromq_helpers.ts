/**
 * What the live ZeroMQ tests share: the ports a Zeek node of the cluster
 * reads from its environment when our XPUB/XSUB proxy hosts the cluster,
 * our node connected through that proxy, and the `Test::LOG` batch the
 * scripts' `Log::write` makes.
 *
 * @module
 */
import {
  type LogWriteBatch,
  ZeekType,
  ZeekZmqNode,
  type ZeekZmqNodeOptions,
  type ZmqProxyServer,
} from "../../engine/zeromq/mod.ts";
import { freePort } from "../broker_ref.ts";

/** A Zeek node's XPUB/XSUB/LOG_PULL environment behind `proxy` (a free log port unless given). */
export function zmqEnv(
  proxy: ZmqProxyServer,
  logPort: number = freePort(),
): Record<string, string> {
  return {
    XPUB_PORT: `${proxy.xpubPort}/tcp`,
    XSUB_PORT: `${proxy.xsubPort}/tcp`,
    LOG_PULL_PORT: `${logPort}/tcp`,
  };
}

/** Our node, connected as `name` through `proxy` (its XPUB to the proxy's XSUB, and back). */
export function connectThrough(
  proxy: ZmqProxyServer,
  name: string,
  nodeType: ZeekZmqNodeOptions["nodeType"],
  extra: Partial<ZeekZmqNodeOptions> = {},
): Promise<ZeekZmqNode> {
  return ZeekZmqNode.connect({
    name,
    nodeType,
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
    ...extra,
  });
}

/** A `Test::LOG` batch of one record (`ts`, `msg`, `n`), as the scripts' `Log::write` makes it. */
export function testLogBatch(msg: string, n: bigint): LogWriteBatch {
  return {
    streamName: "Test::LOG",
    writerName: "Log::WRITER_ASCII",
    filterName: "default",
    path: "test",
    fields: [
      { name: "ts", type: ZeekType.time, subtype: 0, optional: false },
      { name: "msg", type: ZeekType.string, subtype: 0, optional: false },
      { name: "n", type: ZeekType.count, subtype: 0, optional: false },
    ],
    records: [[
      { type: ZeekType.time, subtype: 0, value: 1700000001 },
      { type: ZeekType.string, subtype: 0, value: msg },
      { type: ZeekType.count, subtype: 0, value: n },
    ]],
  };
}
