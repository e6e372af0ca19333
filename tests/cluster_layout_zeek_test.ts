// Zeek 8.2.2 prints its own cluster layout as JSON (to_json(Cluster::nodes)),
// its pools and whom it dials; ClusterLayout reads that JSON and must agree.
import assert from "node:assert/strict";
import { ClusterLayout } from "../mod.ts";
import { zeekBin } from "./zeek_tool.ts";

// Names out of order on purpose: Zeek sorts each type by name. ZeekControl
// writes a control node too: in no pool, dialled by no one.
const NODES = `redef Cluster::nodes = {
	["control"] = [$node_type=Cluster::CONTROL, $ip=127.0.0.1, $p=27760/tcp],
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=27761/tcp],
	["logger-2"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=27763/tcp],
	["logger-1"] = [$node_type=Cluster::LOGGER, $ip=127.0.0.1, $p=27762/tcp],
	["proxy-b"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=27764/tcp, $manager="manager"],
	["proxy-a"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=27765/tcp, $manager="manager"],
	["worker-10"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],
	["worker-9"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],
};`;

/** Runs Zeek as `node` (its pools fill and it dials, then it stops): stdout and cluster.log. */
async function zeekAs(dir: string, node: string): Promise<{ out: string[]; dials: string[] }> {
  await Deno.writeTextFile(
    `${dir}/layout.zeek`,
    `@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/broker
${NODES}
redef Cluster::node = "${node}";
redef Log::default_rotation_interval = 0secs;
event zeek_init() &priority=-20
	{
	print to_json(Cluster::nodes);
	for ( i in Cluster::proxy_pool$node_list ) print "proxy", Cluster::proxy_pool$node_list[i]$name;
	for ( i in Cluster::worker_pool$node_list ) print "worker", Cluster::worker_pool$node_list[i]$name;
	for ( i in Cluster::logger_pool$node_list ) print "logger", Cluster::logger_pool$node_list[i]$name;
	terminate();
	}
`,
  );
  await Deno.remove(`${dir}/cluster.log`).catch(() => {});
  const res = await new Deno.Command(zeekBin(), {
    args: ["-b", "layout.zeek"],
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const stderr = new TextDecoder().decode(res.stderr);
  assert.equal(res.code, 0, stderr);
  const log = await Deno.readTextFile(`${dir}/cluster.log`).catch(() => "");
  const dials = [...log.matchAll(/initiate peering with ([^,]+),/g)].map((m) => m[1]);
  return { out: new TextDecoder().decode(res.stdout).trimEnd().split("\n"), dials };
}

Deno.test({
  name: "Zeek's own JSON of Cluster::nodes is a layout: same pools, same peers dialled",
  sanitizeResources: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    try {
      for (const node of ["worker-9", "proxy-b", "manager", "logger-1"]) {
        const { out, dials } = await zeekAs(dir, node);
        // The line as Zeek prints it, as a layout file holds it; and under `nodes`.
        const layout = ClusterLayout.fromJson(out[0], "to_json");
        assert.deepEqual(
          ClusterLayout.fromObject({ nodes: JSON.parse(out[0]) }, "to_json").nodes,
          layout.nodes,
        );
        const pools = out.slice(1);
        const ours = (["proxy", "worker", "logger"] as const).flatMap((p) =>
          layout.poolMembers(p).map((n) => `${p}, ${n}`)
        );
        assert.deepEqual(ours, pools, `pools as ${node}`);
        assert.deepEqual(
          layout.connections(node).map((n) => `${n.host}:${n.port}/tcp`),
          dials,
          `peers ${node} dials`,
        );
        assert.equal(layout.node("worker-9").port, 0, "a port of 0/unknown: does not listen");
        assert.equal(layout.get("control"), undefined, "the control node is not a cluster member");
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
