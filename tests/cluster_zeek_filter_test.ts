// What a node subscribes is on the wire: its filter goes to every peer in the
// handshake. A ClusterNode must announce what a Zeek 8.2.2 node of the same
// role announces on the Broker backend, read here from a plain endpoint of
// ours peered with each in turn (node IDs aside).
import assert from "node:assert/strict";
import { ClusterNode, Endpoint } from "../mod.ts";
import { freePort, waitForPort } from "./broker_ref.ts";
import {
  type LineChild,
  ZEEK_BROKER_CLUSTER,
  zeekClusterDir,
  zeekNode,
} from "./cluster_helpers.ts";

/** The peers' filter once it holds the node's ID topic, with that ID spelled `ID`. */
async function filterOf(observer: Endpoint): Promise<string[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const topics = observer.peerSubscriptions();
    if (topics.some((t) => t.startsWith("zeek/cluster/nodeid/"))) {
      return topics.map((t) => t.replace(/nodeid\/[0-9a-f-]{36}\//, "nodeid/ID/")).sort();
    }
    if (Date.now() > deadline) throw new Error(`no node's filter after 15 s: ${topics}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Waits until no peer is left (a killed Zeek's peering ended). */
async function noPeers(observer: Endpoint): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (observer.peers().length > 0) {
    if (Date.now() > deadline) throw new Error("a peer is still there after 15 s");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test({
  name:
    "a ClusterNode announces a Zeek node's filter: worker and manager, zeek/supervisor included",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const { dir, layout } = await zeekClusterDir(port, ["worker-1"]);
    const observer = new Endpoint();
    let zeek: LineChild | undefined, ours: ClusterNode | undefined;
    try {
      // Workers dial their manager: the observer listens on the manager's port.
      await observer.listen("127.0.0.1", port);
      zeek = await zeekNode(dir, "worker-1", ZEEK_BROKER_CLUSTER);
      const zeekWorker = await filterOf(observer);
      await zeek.kill();
      await noPeers(observer);
      ours = await ClusterNode.join(layout, "worker-1");
      assert.deepEqual(await filterOf(observer), zeekWorker);
      assert.ok(zeekWorker.includes("zeek/supervisor"), zeekWorker.join(" "));
      await ours.close();
      ours = undefined;
      await noPeers(observer);
      await observer.shutdown();

      // A manager listens: the observer dials it, Zeek's first, ours on the same port after.
      zeek = await zeekNode(dir, "manager", ZEEK_BROKER_CLUSTER);
      await waitForPort(port, 15_000);
      const dialZeek = new Endpoint();
      await dialZeek.peer("127.0.0.1", port, { retryMs: 0 });
      const zeekManager = await filterOf(dialZeek);
      await dialZeek.shutdown();
      await zeek.kill();
      ours = await ClusterNode.join(layout, "manager");
      const dialOurs = new Endpoint();
      await dialOurs.peer("127.0.0.1", port, { retryMs: 0 });
      const ourManager = await filterOf(dialOurs);
      await dialOurs.shutdown();
      assert.deepEqual(ourManager, zeekManager);
    } finally {
      await ours?.close();
      await observer.shutdown();
      await zeek?.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
