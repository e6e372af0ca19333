// Our node as the worker of a Zeek 8 ZeroMQ cluster with two loggers (Zeek's btest
// cluster/generic/logging-rr.zeek): like a Zeek worker, whose log PUSH connects to every
// endpoint of connect_log_endpoints, it deals its log batches out to both loggers in turn.
// The XPUB/XSUB proxy is ours; the loggers are Zeek's.
import assert from "node:assert/strict";
import { ZmqProxyServer } from "../../engine/zeromq/mod.ts";
import { connectThrough, testLogBatch } from "./zeromq_helpers.ts";
import { freePort } from "../broker_ref.ts";
import { SCRIPTS, ZEEK_START_MS, zeekTest } from "./zeek.ts";

zeekTest(
  "our worker with two Zeek loggers: log batches go to logger-1 and logger-2 in turn",
  async (t) => {
    const proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
    t.defer(() => proxy.close());
    const pulls = [freePort(), freePort()];
    const env = {
      XPUB_PORT: `${proxy.xpubPort}/tcp`,
      XSUB_PORT: `${proxy.xsubPort}/tcp`,
      LOG_PULL_PORT_1: `${pulls[0]}/tcp`,
      LOG_PULL_PORT_2: `${pulls[1]}/tcp`,
    };
    const path = [`${SCRIPTS}zeromq-loggers`, `${SCRIPTS}zeromq`];
    const loggers = await Promise.all(
      ["logger-1", "logger-2"].map((name) =>
        t.zeek("zeromq-loggers/logger.zeek", { path, env: { ...env, CLUSTER_NODE: name } })
      ),
    );
    // Their PULL sockets bound before we dial: close() does not wait for a socket that is still
    // dialling, and would drop the batches it holds.
    await Promise.all(loggers.map((l, i) => l.listening(pulls[i])));
    const node = await connectThrough(proxy, "worker-1", "worker", {
      loggers: pulls.map((port) => ({ host: "127.0.0.1", port })),
    });
    t.defer(() => node.close());
    // Both loggers up: they then see us leave (node_down) and end.
    const up = new Set<string>();
    while (up.size < 2) {
      const s = await node.statuses.get(10_000);
      assert.ok(s, loggers.map((l) => l.transcript).join("\n"));
      if (s.type === "node_up") up.add(s.name);
    }
    for (let n = 0n; n < 4n; n++) {
      assert.ok(node.writeLogs(testLogBatch("line", n)));
    }
    await node.close();
    const lines: string[][] = [];
    for (const logger of loggers) {
      assert.equal((await logger.exited(10_000)).code, 0, logger.transcript);
      assert.deepEqual(logger.stdout, ["node_down, worker-1"]);
      const log = await Deno.readTextFile(`${logger.dir}/test.log`);
      lines.push(log.split("\n").filter((l) => l.startsWith("1700000001")));
    }
    // Batch by batch, one logger after the other, starting with the first endpoint.
    assert.deepEqual(lines, [
      ["1700000001.000000\tline\t0", "1700000001.000000\tline\t2"],
      ["1700000001.000000\tline\t1", "1700000001.000000\tline\t3"],
    ]);
    assert.deepEqual(node.errors, []);
  },
  { timeoutMs: 15_000 + ZEEK_START_MS },
);
