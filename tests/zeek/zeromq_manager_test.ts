// Our node as the manager of a Zeek 8 ZeroMQ cluster (our process also the XPUB/XSUB proxy, as
// Zeek's manager would be), with Zeek's worker of btest cluster/generic/publish-unspecified.zeek:
// the worker raises node_up for our manager, takes our empty table and set for its typed
// parameters, answers on the manager topic, and ends on our finish. Its output is the btest's
// baseline (Baseline/cluster.generic.publish-unspecified/..worker.out) after its node_up line.
import assert from "node:assert/strict";
import { count, Event, set, str, table } from "../../mod.ts";
import { Pool } from "../../engine/cluster/pool.ts";
import { nodeIdTopic, ZeekType, ZmqProxyServer } from "../../engine/zeromq/mod.ts";
import { connectThrough, zmqEnv } from "./zeromq_helpers.ts";
import { SCRIPTS, ZEEK_START_MS, zeekTest } from "./zeek.ts";

zeekTest(
  "our node as manager: Zeek's worker says node_up for it, takes our empty table and set as typed arguments, answers and ends on our finish",
  async (t) => {
    const proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
    t.defer(() => proxy.close());
    const worker = await t.zeek("zeromq/unspecified-worker.zeek", {
      path: [`${SCRIPTS}zeromq`],
      env: { ...zmqEnv(proxy), CLUSTER_NODE: "worker-1" },
    });
    const manager = await connectThrough(proxy, "manager", "manager");
    t.defer(() => manager.close());
    const up = await manager.statuses.get(10_000);
    assert.equal(up?.type, "node_up", worker.transcript);
    assert.equal(up.name, "worker-1");
    // publish-unspecified's manager: to the worker's node-ID topic, on its node_up.
    const to = nodeIdTopic(up.id);
    assert.ok(manager.publish(to, new Event("ping_table", [str("hello"), table([])])));
    assert.ok(manager.publish(to, new Event("ping_set", [str("hello"), set()])));
    const pongs = [];
    for (let i = 0; i < 2; i++) {
      const pong = await manager.events.get(10_000);
      assert.ok(pong, worker.transcript);
      assert.equal(pong.topic, "zeek.cluster.manager");
      assert.equal(pong.sender, up.id);
      pongs.push(pong.event);
    }
    assert.deepEqual(pongs, [
      new Event("pong_table", [str("hello"), table([])]),
      new Event("pong_set", [str("hello"), set()]),
    ]);
    assert.ok(manager.publish("zeek.cluster.worker", new Event("finish", [])));
    assert.equal((await worker.exited(10_000)).code, 0, worker.transcript);
    // node_up may print after the pings, as with Zeek's own manager: Zeek reads our
    // Cluster::hello and the pings behind it in one batch, and the hello's handler queues
    // node_up behind the pings (see zeromq_test.ts).
    assert.ok(worker.stdout.includes("node_up, manager"), worker.transcript);
    assert.deepEqual(worker.stdout.filter((l) => l !== "node_up, manager"), [
      "ping_table, hello, ResultTable, {\\x0a\\x0a}",
      "ping_set, hello, ResultSet, {\\x0a\\x0a}",
    ]);
    assert.deepEqual((await manager.statuses.get(10_000))?.type, "node_down");
    assert.deepEqual(manager.errors, []);
  },
  { timeoutMs: 15_000 + ZEEK_START_MS },
);

zeekTest(
  "our node as manager: publish_hrw over two Zeek workers picks the worker Zeek's manager picks (btest cluster/generic/publish-hrw.zeek's baseline)",
  async (t) => {
    const proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
    t.defer(() => proxy.close());
    const env = zmqEnv(proxy);
    const workers = await Promise.all(
      ["worker-1", "worker-2"].map((name) =>
        t.zeek("zeromq/hrw-worker.zeek", {
          path: [`${SCRIPTS}zeromq`],
          env: { ...env, CLUSTER_NODE: name },
        })
      ),
    );
    const transcripts = () => workers.map((w) => w.transcript).join("\n");
    const manager = await connectThrough(proxy, "manager", "manager");
    t.defer(() => manager.close());
    // Zeek's worker_pool on the manager: dead until node_up.
    const pool = new Pool(["worker-1", "worker-2"], {
      backend: "zeromq",
      alive: false,
      self: "manager",
    });
    for (let up = 0; up < 2; up++) {
      const s = await manager.statuses.get(10_000);
      assert.equal(s?.type, "node_up", transcripts());
      pool.markAlive(s.name);
    }
    // The btest's manager: Cluster::publish_hrw(Cluster::worker_pool, cat(i), ping, i, "args").
    for (let i = 0n; i < 10n; i++) {
      assert.ok(manager.publish(pool.hrwTopic(`${i}`), new Event("ping", [count(i), str("args")])));
    }
    const got = new Map<string, bigint[]>([["worker-1", []], ["worker-2", []]]);
    for (let n = 0; n < 20; n++) {
      const pong = await manager.events.get(10_000);
      assert.equal(pong?.event.name, "pong", transcripts());
      const [c, , from, fromHow] = pong.event.args;
      if (fromHow.value === "args") got.get(from.value as string)?.push(c.value as bigint);
    }
    for (const pings of got.values()) pings.sort((a, b) => Number(a - b));
    assert.deepEqual(Object.fromEntries(got), {
      "worker-1": [1n, 3n, 4n, 6n, 8n, 9n],
      "worker-2": [0n, 2n, 5n, 7n],
    });
    assert.ok(manager.publish("zeek.cluster.worker", new Event("finish", [])));
    for (const [i, w] of workers.entries()) {
      assert.equal((await w.exited(10_000)).code, 0, w.transcript);
      const pings = got.get(`worker-${i + 1}`)!.map((c) => `got ping, ${c}, args`);
      // The other worker's node_up is the two Zeeks' business, and not waited for here.
      const out = w.stdout.filter((l) => l !== `a node_up, worker-${2 - i}`).toSorted();
      assert.deepEqual(out, ["a node_up, manager", ...pings, "z got finish!"].toSorted());
    }
    assert.deepEqual(manager.errors, []);
  },
  { timeoutMs: 15_000 + ZEEK_START_MS },
);

zeekTest(
  "our node as the manager that is the logger: Zeek's worker PUSHes its log batch to our PULL socket (listen_log_endpoint)",
  async (t) => {
    const proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
    t.defer(() => proxy.close());
    const manager = await connectThrough(proxy, "manager", "manager", { listenLog: { port: 0 } });
    t.defer(() => manager.close());
    // scripts/zeromq/worker.zeek: on node_up for the manager, a ping and a Log::write; ends on
    // the pong. Its layout's manager is the logger, at LOG_PULL_PORT.
    const worker = await t.zeek("zeromq/worker.zeek", {
      path: [`${SCRIPTS}zeromq`],
      env: { ...zmqEnv(proxy, manager.logPort), CLUSTER_NODE: "worker-1" },
    });
    const up = await manager.statuses.get(10_000);
    assert.equal(up?.type, "node_up", worker.transcript);
    const ping = await manager.events.get(10_000);
    assert.equal(ping?.event.name, "Test::ping", worker.transcript);
    assert.ok(
      manager.publish(
        "zeek.cluster.node.worker-1.",
        new Event("Test::pong", [str("pong for hello"), count(43n)]),
      ),
    );
    assert.equal((await worker.exited(10_000)).code, 0, worker.transcript);
    assert.deepEqual(worker.stdout, ["node_up, manager", "pong, pong for hello, 43"]);
    // Zeek flushes its log buffer as it terminates, before its sockets close.
    // Its cluster.log lines (Cluster::LOG) come too.
    let log = await manager.logs.get(10_000);
    while (log?.batch.streamName === "Cluster::LOG") log = await manager.logs.get(10_000);
    assert.ok(log, worker.transcript);
    assert.equal(log.sender, up.id);
    assert.equal(log.batch.streamName, "Test::LOG");
    assert.equal(log.batch.path, "test");
    assert.deepEqual(log.batch.fields.map((f) => [f.name, f.type]), [
      ["ts", ZeekType.time],
      ["msg", ZeekType.string],
      ["n", ZeekType.count],
    ]);
    assert.deepEqual(log.batch.records.map((r) => r.map((v) => v.value)), [
      [1700000001, "a log line", 5n],
    ]);
    assert.equal((await manager.statuses.get(10_000))?.type, "node_down");
    assert.deepEqual(manager.errors, []);
  },
  { timeoutMs: 15_000 + ZEEK_START_MS },
);
