// Zeek's cluster-synced tables against a ClusterNode, with real Zeek 8.2.2
// nodes on the Broker backend (Broker::disable_ssl = T, our endpoint plain):
// - a Zeek manager's `&publish_on_change` table changes on zeek/table/<id>/,
//   which every Zeek node subscribes (publish-on-change.zeek): our worker-1
//   gets them in its messages;
// - our manager announces its Broker-backed tables (Broker::announce_masters
//   before the hello, as broker-stores.zeek's manager does), so a Zeek worker
//   clones `___sync_store_<id>` and its `&backend` table fills from our master;
// - our manager relays a Zeek worker's `&publish_on_change` change (which goes
//   to the manager as Cluster::forward_table_change_infos, as Zeek workers do
//   not hear each other) to the other Zeek worker, and sees it itself;
// - our worker clones the Broker-backed table a Zeek manager announces
//   (Broker::announce_masters), with no attach by hand, as Zeek's workers do.
import assert from "node:assert/strict";
import { count, dataToString, str } from "../mod.ts";
import { waitForPort } from "./broker_ref.ts";
import { ZEEK_BROKER_CLUSTER, zeekClusterTest } from "./cluster_helpers.ts";

/** Zeek's lines: prints the table's `k` once it holds it, then ends. */
const PRINT_K_ONCE_THERE = `
event check() {
	if ( "k" in shared ) { print "shared", shared["k"]; terminate(); }
	else schedule 50msec { check() };
}
event zeek_init() { event check(); }
`;

zeekClusterTest(
  "a Zeek manager's &publish_on_change table change reaches our worker on zeek/table/",
  ["worker-1"],
  async (t) => {
    const zeek = await t.zeek(
      "manager",
      `${ZEEK_BROKER_CLUSTER}
global shared: table[string] of count &publish_on_change=[$changes=set(TABLE_ELEMENT_NEW)];
event Cluster::node_up(name: string, id: string) { shared["k"] = 42; }
event Cluster::node_down(name: string, id: string) { terminate(); }
`,
    );
    await waitForPort(t.port, 15_000);
    const worker = await t.join("worker-1");
    for (;;) {
      const m = await worker.messages.get(15_000);
      assert.ok(m, `no table change on zeek/table/shared/; Zeek said:\n${zeek.stderr}`);
      if (m.topic !== "zeek/table/shared/") continue;
      const text = dataToString(m.data);
      assert.match(text, /^\(1, 1, \(Cluster::table_change_infos, \(\(shared, /, text);
      assert.ok(text.includes("((TABLE_ELEMENT_NEW, "), text);
      assert.ok(text.includes(", (k), 42, nil)"), text);
      break;
    }
  },
);

zeekClusterTest(
  "our manager announces its Broker-backed table before its hello; a Zeek worker clones it and its table fills",
  ["worker-1"],
  async (t) => {
    const manager = await t.join("manager");
    const table = manager.attachTableMaster("shared");
    await table.put(str("k"), count(42n));
    const zeek = await t.zeek(
      "worker-1",
      `${ZEEK_BROKER_CLUSTER}
global shared: table[string] of count &backend=Broker::MEMORY;
event Broker::announce_masters(masters: set[string]) { print "announce_masters", |masters|, "shared" in masters; }
event Cluster::node_up(name: string, id: string) { print "node_up", name; }
${PRINT_K_ONCE_THERE}`,
    );
    const status = await zeek.exited();
    assert.equal(status.code, 0, zeek.stderr);
    // Zeek's worker got the announcement, then our hello, then the clone's content.
    assert.deepEqual(
      zeek.lines,
      ["announce_masters, 1, T", "node_up, manager", "shared, 42"],
      zeek.stderr,
    );
    table.close();
  },
);

zeekClusterTest(
  "our manager relays a Zeek worker's &publish_on_change change to the other Zeek worker, and sees it",
  ["worker-1", "worker-2"],
  async (t) => {
    const table =
      `global shared: table[string] of count &publish_on_change=[$changes=set(TABLE_ELEMENT_NEW)];`;
    const scripts: Record<string, string> = {
      "worker-1": `${ZEEK_BROKER_CLUSTER}\n${table}
event Cluster::node_up(name: string, id: string) { shared["k"] = 42; }\n`,
      "worker-2": `${ZEEK_BROKER_CLUSTER}\n${table}\n${PRINT_K_ONCE_THERE}`,
    };
    const worker = (name: string) => t.zeek(name, scripts[name]);
    const manager = await t.join("manager");
    // worker-2 is peered (and subscribed) before worker-1 changes the table.
    const two = await worker("worker-2");
    await manager.waitFor("worker-2");
    await worker("worker-1");
    assert.equal((await two.exited()).code, 0, two.stderr);
    assert.deepEqual(two.lines, ["shared, 42"], two.stderr);
    // As Zeek's manager raises it when it subscribes the topic: in our messages.
    for (;;) {
      const m = await manager.messages.get(15_000);
      assert.ok(m, "no table_change_infos on zeek/table/shared/ in our messages");
      if (m.topic !== "zeek/table/shared/") continue;
      const text = dataToString(m.data);
      assert.match(text, /^\(1, 1, \(Cluster::table_change_infos, \(\(shared, /, text);
      assert.ok(text.includes(", (k), 42, nil)"), text);
      break;
    }
  },
);

zeekClusterTest(
  "our worker clones a Zeek manager's Broker-backed table on its Broker::announce_masters, and sees a later change",
  ["worker-1"],
  async (t) => {
    // Zeek's manager masters ___sync_store_Test::shared (the table's global
    // ID), filled before anyone peers; Test::bump, sent to its node topic,
    // changes the entry later.
    const zeek = await t.zeek(
      "manager",
      `${ZEEK_BROKER_CLUSTER}
module Test;
export {
	global shared: table[string] of count &backend=Broker::MEMORY;
	global bump: event();
}
event zeek_init() { shared["k"] = 42; }
event bump() { shared["k"] = 43; }
event Cluster::node_down(name: string, id: string) { terminate(); }
`,
    );
    await waitForPort(t.port, 15_000);
    // No attach by hand: the announcement brings the clone.
    const worker = await t.join("worker-1");
    const shared = await worker.waitForTableClone("Test::shared", 15_000);
    assert.equal(shared.name, "___sync_store_Test::shared");
    const changes = shared.events();
    assert.deepEqual(await shared.get(str("k")), count(42n), zeek.stderr);
    worker.publishToNode("manager", "Test::bump");
    for (;;) {
      const e = await changes.get(15_000);
      assert.ok(e, `no change of k in our clone; Zeek said:\n${zeek.stderr}`);
      if (e.type === "update" && dataToString(e.key) === "k") {
        assert.deepEqual(e.newValue, count(43n));
        break;
      }
    }
    assert.deepEqual(await shared.get(str("k")), count(43n));
    assert.equal(worker.tableClone("Test::shared"), shared);
  },
);
