// A Zeek node relays nothing (Broker::forward_messages = F, so Zeek's Broker
// manager sets disable_forwarding): a broadcast reaches each Zeek node once,
// over its own peering with the publisher. Our worker, peered with a Zeek
// manager and a Zeek proxy that also peer with each other, must not relay the
// manager's broadcast to the proxy, or the proxy raises it twice. Found with
// Zeek's btest cluster/broker/logging.zeek: our worker-2 relayed the manager's
// Cluster::Experimental::cluster_started to logger-1 and proxy-1, whose second
// tick() chain wrote 34 records instead of 33, and the manager waited for 165
// lines until the btest timed out.
import assert from "node:assert/strict";
import { ClusterLayout, ClusterNode, parseZeekMessage } from "../mod.ts";
import { freePort, waitForPort } from "./broker_ref.ts";
import { type LineChild, ZEEK_BROKER_CLUSTER, zeekNode } from "./cluster_helpers.ts";

Deno.test({
  name: "our worker relays no Zeek manager's broadcast to a Zeek proxy, as a Zeek worker does not",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const [mp, pp] = [freePort(), freePort()];
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(
      `${dir}/cluster-layout.zeek`,
      `redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=${mp}/tcp],
	["proxy-1"] = [$node_type=Cluster::PROXY, $ip=127.0.0.1, $p=${pp}/tcp, $manager="manager"],
	["worker-1"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],
};\n`,
    );
    const layout = ClusterLayout.fromObject({
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port: mp },
        "proxy-1": { type: "proxy", host: "127.0.0.1", port: pp, manager: "manager" },
        "worker-1": { type: "worker", host: "127.0.0.1", manager: "manager" },
      },
    });
    const zeeks: LineChild[] = [];
    let worker: ClusterNode | undefined;
    try {
      // On go: one broadcast on zeek/test/ (the proxy and our worker subscribe
      // it), then a mark to each on its node topic, ordered after the
      // broadcast on each peering.
      zeeks.push(
        await zeekNode(
          dir,
          "manager",
          `${ZEEK_BROKER_CLUSTER}
global ping: event() &is_used;
global mark: event() &is_used;
global go: event();
event go() {
	Broker::publish("zeek/test/ping", ping);
	Broker::publish(Cluster::node_topic("proxy-1"), mark);
	Broker::publish(Cluster::node_topic("worker-1"), mark);
}
event zeek_init() { Broker::subscribe("zeek/test/go"); }
`,
        ),
      );
      await waitForPort(mp, 15_000);
      // The proxy counts the pings once it has the manager's mark (every
      // direct ping came before it) and our worker's done (every relayed one).
      const proxy = await zeekNode(
        dir,
        "proxy-1",
        `${ZEEK_BROKER_CLUSTER}
global ping: event();
global mark: event();
global done: event();
global pings = 0;
global marks = 0;
event zeek_init() { Broker::subscribe("zeek/test/ping"); }
event ping() { ++pings; }
function check() { if ( ++marks == 2 ) { print fmt("pings %d", pings); terminate(); } }
event mark() { check(); }
event done() { check(); }
`,
      );
      zeeks.push(proxy);
      await waitForPort(pp, 15_000);
      worker = await ClusterNode.join(layout, "worker-1", { topics: ["zeek/test/ping"] });
      await worker.waitFor(["manager", "proxy-1"]);
      worker.endpoint.publishEvent("zeek/test/go", "go");
      const marked = (async () => {
        for await (const msg of worker.messages) {
          const ev = parseZeekMessage(msg.data);
          if (ev.kind === "event" && ev.name === "mark") return;
        }
      })();
      // The manager ends by itself after 30 s: no mark by then fails the test.
      const managerGone = zeeks[0].exited().then(() => {
        throw new Error(`the manager ended first: ${zeeks[0].stderr}`);
      });
      await Promise.race([marked, managerGone]);
      // After any ping we relayed, on the same peering.
      worker.publishToNode("proxy-1", "done");
      assert.equal((await proxy.exited()).code, 0, proxy.stderr);
      assert.deepEqual(proxy.lines, ["pings 1"]);
    } finally {
      await worker?.close();
      for (const z of zeeks) await z.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
