// A real Zeek 8.2.2 manager on the Broker cluster backend, and our process
// (`broker cluster join`) as worker-1 of the same layout: both say hello,
// Zeek raises node_up for us and counts us in its worker pool, and raises
// node_down when we are killed. What Zeek sends to our node ID's topic (as its
// manager does Broker::announce_masters, or a script with Cluster::nodeid_topic)
// reaches our messages, as a Zeek node subscribes that topic. Twice: on Zeek's
// default, Broker::disable_ssl = F, where both run Broker's anonymous TLS (the
// join's default too), and on plain TCP, as Zeek's cluster tests redef it.
import assert from "node:assert/strict";
import { freePort, waitForPort } from "./broker_ref.ts";
import { joinChild, jsonLine, LineChild } from "./cluster_helpers.ts";
import { zeekBin } from "./zeek_tool.ts";

/** The manager's script; `plain` redefs Broker::disable_ssl = T (Zeek's default is F). */
const manager = (plain: boolean) => `
@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/broker
redef exit_only_after_terminate = T;
${plain ? "redef Broker::disable_ssl = T;" : ""}
redef Log::default_rotation_interval = 0secs;
module Test;
export {
	global ack: event(alive: count, topic: string, rr: string);
	global direct: event(name: string);
}
event Cluster::node_up(name: string, id: string)
	{
	print "node_up", name, id, Cluster::worker_pool$alive_count;
	# Tell the worker what our pool says now: it counts it, and HRW maps to it.
	Cluster::publish(Cluster::node_topic(name), Test::ack, Cluster::worker_pool$alive_count,
	                 Cluster::hrw_topic(Cluster::worker_pool, "some key"),
	                 Cluster::rr_topic(Cluster::worker_pool, ""));
	# And to its node ID's topic, which every Zeek node subscribes.
	Cluster::publish(Cluster::nodeid_topic(id), Test::direct, name);
	}
event Cluster::node_down(name: string, id: string)
	{
	print "node_down", name, id, Cluster::worker_pool$alive_count,
	      Cluster::hrw_topic(Cluster::worker_pool, "some key") == "";
	terminate();
	}
event do_exit() { terminate(); }
event zeek_init() { schedule 40sec { do_exit() }; }
`;

for (
  const [how, plain] of [
    ["on Zeek's default, anonymous TLS", false],
    ["with Broker::disable_ssl = T and --disable-ssl", true],
  ] as const
) {
  Deno.test({
    name: `Zeek manager (Broker backend) and our worker-1 ${how}: hellos, node_up, pool, node_down`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const dir = await Deno.makeTempDir();
      const mgrPort = freePort();
      const nodes = {
        manager: { type: "manager", host: "127.0.0.1", port: mgrPort },
        "worker-1": { type: "worker", host: "127.0.0.1", manager: "manager" },
      };
      await Deno.writeTextFile(`${dir}/layout.json`, JSON.stringify({ nodes }));
      // The same layout for Zeek, as ZeekControl would write cluster-layout.zeek.
      await Deno.writeTextFile(
        `${dir}/cluster-layout.zeek`,
        `redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=${mgrPort}/tcp],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],
};\n`,
      );
      await Deno.writeTextFile(`${dir}/manager.zeek`, manager(plain));
      let zeek: LineChild | undefined, worker: LineChild | undefined;
      try {
        zeek = new LineChild(zeekBin(), ["-b", "manager.zeek"], {
          cwd: dir,
          env: { CLUSTER_NODE: "manager" },
        });
        await waitForPort(mgrPort, 15_000);
        worker = joinChild(`${dir}/layout.json`, "worker-1", [
          "--messages",
          ...(plain ? ["--disable-ssl"] : []),
        ]);
        const joined = JSON.parse(await worker.waitLine(jsonLine((l) => l.kind === "joined")));
        // Zeek's hello reached us: the manager is up, by its Broker node ID.
        const up = JSON.parse(
          await worker.waitLine(jsonLine((l) => l.kind === "node_up" && l.name === "manager")),
        );
        assert.match(up.id, /^[0-9a-f-]{36}$/);
        // Ours reached Zeek: node_up, worker pool counts us, HRW and RR pick us.
        const ack = await worker.waitLine(
          jsonLine((l) => l.kind === "message" && !!l.data?.includes("Test::ack")),
        );
        assert.ok(
          JSON.parse(ack).data.startsWith(
            "(1, 1, (Test::ack, (1, zeek/cluster/node/worker-1/, zeek/cluster/node/worker-1/)",
          ),
          ack,
        );
        const direct = JSON.parse(
          await worker.waitLine(
            jsonLine((l) => l.kind === "message" && !!l.data?.includes("Test::direct")),
          ),
        );
        assert.equal(direct.topic, `zeek/cluster/nodeid/${joined.id}/`);
        assert.ok(direct.data.startsWith("(1, 1, (Test::direct, (worker-1)"), direct.data);
        await worker.kill("SIGKILL");
        const status = await Promise.race([
          zeek.exited(),
          new Promise<never>((_, r) => setTimeout(() => r(new Error("zeek did not end")), 15_000)),
        ]);
        assert.equal(status.code, 0, zeek.stderr);
        const out = zeek.lines.join("\n");
        assert.ok(out.includes(`node_up, worker-1, ${joined.id}, 1`), out);
        assert.ok(out.includes(`node_down, worker-1, ${joined.id}, 0, T`), out);
        const log = await Deno.readTextFile(`${dir}/cluster.log`);
        // Exactly Zeek's protocol on a direct peering: one hello, no relay fallback.
        assert.equal(log.split(`got hello from worker-1 (${joined.id})`).length, 2, log);
        assert.ok(log.includes("node down: worker-1"), log);
      } finally {
        await worker?.kill();
        await zeek?.kill();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
