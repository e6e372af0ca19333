// Who raises node_down when a peering is ended on purpose, with a real Zeek
// 8.2.2 on the Broker backend (Broker::disable_ssl = T, our endpoint plain).
// Zeek raises node_down on peer_lost only (policy/frameworks/cluster/backend/
// broker/main.zeek): the side that unpeers gets peer_removed and keeps the
// other node up (its ID, its pools), the other side gets peer_lost and
// node_down. A ClusterNode also raises node_down on its own unpeer (the node
// can no longer be reached: Broker's pub/sub goes to direct peers only), which
// these tests pin beside what Zeek does.
import assert from "node:assert/strict";
import type { BoundedQueue, ClusterEvent } from "../mod.ts";
import { waitForPort } from "./broker_ref.ts";
import { ZEEK_BROKER_CLUSTER, zeekClusterTest } from "./cluster_helpers.ts";

const PRELUDE = `${ZEEK_BROKER_CLUSTER}
event Broker::peer_lost(ep: Broker::EndpointInfo, msg: string) { print "peer_lost"; }
event Broker::peer_removed(ep: Broker::EndpointInfo, msg: string) { print "peer_removed"; }
`;

/** The events queued so far, by kind and name. */
function seen(q: BoundedQueue<ClusterEvent>): string[] {
  return q.poll().map((ev) =>
    ev.kind === "error" ? `error ${ev.message}` : `${ev.kind} ${ev.name}`
  );
}

zeekClusterTest(
  "our worker unpeers from a Zeek manager: we raise node_down on peer_removed, Zeek on its peer_lost",
  ["worker-1"],
  async (t) => {
    const zeek = await t.zeek(
      "manager",
      `${PRELUDE}
event Cluster::node_up(name: string, id: string) { print "node_up", name; flush_all(); }
event Cluster::node_down(name: string, id: string) { print "node_down", name; terminate(); }
`,
    );
    await waitForPort(t.port, 15_000);
    const worker = await t.join("worker-1");
    const events = worker.events();
    await worker.waitFor("manager");
    await zeek.waitLine((l) => l === "node_up, worker-1");
    await worker.endpoint.unpeer("127.0.0.1", t.port);
    await worker.waitFor("manager", { up: false });
    assert.equal((await zeek.exited()).code, 0, zeek.stderr);
    // Zeek: the loss, then node_down from its peer_lost handler.
    assert.deepEqual(zeek.lines, ["node_up, worker-1", "peer_lost", "node_down, worker-1"]);
    assert.deepEqual(seen(events), ["node_up manager", "node_down manager"]);
  },
);

zeekClusterTest(
  "a Zeek worker unpeers from our manager: Zeek gets peer_removed and keeps us up, we raise node_down on peer_lost",
  ["worker-1"],
  async (t) => {
    const manager = await t.join("manager");
    const events = manager.events();
    const zeek = await t.zeek(
      "worker-1",
      `${PRELUDE}
event Cluster::node_up(name: string, id: string) {
	print "node_up", name;
	Broker::unpeer("127.0.0.1", ${t.port}/tcp);
}
event Cluster::node_down(name: string, id: string) { print "node_down", name; }
# After peer_removed: is the manager still up in Zeek's view? Then end.
event Broker::peer_removed(ep: Broker::EndpointInfo, msg: string) &priority=-10 {
	print "manager has an id", Cluster::nodes["manager"]?$id;
	terminate();
}
`,
    );
    assert.equal((await zeek.exited()).code, 0, zeek.stderr);
    await manager.waitFor("worker-1", { up: false });
    // Zeek: no node_down for its own unpeer; the manager stays up.
    assert.deepEqual(zeek.lines, ["node_up, manager", "peer_removed", "manager has an id, T"]);
    assert.deepEqual(seen(events), ["node_up worker-1", "node_down worker-1"]);
  },
);
