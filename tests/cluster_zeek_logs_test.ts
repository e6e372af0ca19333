// Our worker-1 writes a log to two real Zeek 8.2.2 loggers (Broker backend,
// Broker::disable_ssl = T) as a Zeek worker does, measured live: the
// log-create on zeek/logs/<stream> (every logger gets it), the records in turn
// to the loggers' node topics (Cluster::rr_log_topic), and the log-create again
// to a logger that joins later, before its node_up, addressed to it alone (the
// envelope's receiver, as Zeek's SendAllWritersTo): the Zeek logger takes it.
// Each Zeek logger writes the records it got to its own test.log.
import assert from "node:assert/strict";
import {
  bool,
  ClusterLayout,
  ClusterNode,
  count,
  LogCreate,
  LogWrite,
  none,
  real,
  str,
  table,
  vector,
} from "../mod.ts";
import { encodeLogRecord, ZeekType } from "../engine/zeromq/mod.ts";
import { freePort, waitForPort } from "./broker_ref.ts";
import { LineChild } from "./cluster_helpers.ts";
import { zeekBin } from "./zeek_tool.ts";

const LOGGER = `
@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/broker
redef exit_only_after_terminate = T;
redef Broker::disable_ssl = T;
redef Log::default_rotation_interval = 0secs;
module Test;
export {
	redef enum Log::ID += { LOG };
	type Info: record { n: count &log; };
	global done: event();
}
event zeek_init() { Log::create_stream(Test::LOG, [$columns=Info, $path="test"]); }
event Test::done() { terminate(); }
event do_exit() { terminate(); }
event zeek_init() { schedule 30sec { do_exit() }; }
`;

/** Test::LOG's writer as Zeek describes it: path, rotation base and interval, time, config, post-processor. */
const CREATE = new LogCreate(
  "Test::LOG",
  "Log::WRITER_ASCII",
  vector(str("test"), real(0), real(0), real(1700000000), table(), str("")),
  vector(vector(str("n"), none(), count(3n), count(0n), bool(false))),
);

/** One Test::LOG record. */
function record(n: number): LogWrite {
  const fields = encodeLogRecord([{ type: ZeekType.count, subtype: 0, value: BigInt(n) }]);
  return new LogWrite("Test::LOG", "Log::WRITER_ASCII", "test", fields);
}

/** The `n` column of a Zeek ASCII log. */
async function logged(path: string): Promise<number[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l && !l.startsWith("#")).map(Number);
}

Deno.test({
  name:
    "our worker's log reaches both Zeek loggers: log-create to zeek/logs/<stream>, records in turn, a late logger gets the log-create too",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const [p1, p2] = [freePort(), freePort()];
    const layout = ClusterLayout.fromObject({
      nodes: {
        "logger-1": { type: "logger", host: "127.0.0.1", port: p1 },
        "logger-2": { type: "logger", host: "127.0.0.1", port: p2 },
        "worker-1": { type: "worker", host: "127.0.0.1" },
      },
    });
    const zeeks: LineChild[] = [];
    let worker: ClusterNode | undefined;
    const startLogger = async (name: string, port: number) => {
      await Deno.mkdir(`${dir}/${name}`);
      await Deno.writeTextFile(
        `${dir}/${name}/cluster-layout.zeek`,
        `redef Cluster::nodes = {
	["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=${p1}/tcp],
	["logger-2"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=${p2}/tcp],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1],
};\n`,
      );
      await Deno.writeTextFile(`${dir}/${name}/logger.zeek`, LOGGER);
      const zeek = new LineChild(zeekBin(), ["-b", "logger.zeek"], {
        cwd: `${dir}/${name}`,
        env: { CLUSTER_NODE: name },
      });
      zeeks.push(zeek);
      await waitForPort(port, 15_000);
      return zeek;
    };
    try {
      const l1 = await startLogger("logger-1", p1);
      worker = await ClusterNode.join(layout, "worker-1");
      await worker.waitFor("logger-1");
      worker.publishLogCreate(CREATE);
      worker.publishLogWrite(record(1)); // logger-1 is the only one alive
      worker.publishLogWrite(record(2));
      const l2 = await startLogger("logger-2", p2);
      await worker.waitFor("logger-2");
      for (let n = 3; n <= 6; n++) worker.publishLogWrite(record(n)); // in turn
      // After the records on each peering: the loggers end, writing their files out.
      worker.publishToNode("logger-1", "Test::done");
      worker.publishToNode("logger-2", "Test::done");
      for (const z of [l1, l2]) assert.equal((await z.exited()).code, 0, z.stderr);
      const one = await logged(`${dir}/logger-1/test.log`);
      const two = await logged(`${dir}/logger-2/test.log`);
      assert.deepEqual(one.slice(0, 2), [1, 2], `logger-1: ${one}`);
      assert.equal(two.length, 2, `logger-2: ${two}`);
      assert.deepEqual(
        [...one, ...two].sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6],
        `${one} / ${two}`,
      );
    } finally {
      await worker?.close();
      for (const z of zeeks) await z.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
