// The ZeroMQ cluster hello exchange (Zeek's policy/frameworks/cluster/backend/zeromq/main.zeek),
// two ZeekClusterNodes wired to each other in both orders of arrival.
import assert from "node:assert/strict";
import { dataToString, str, vector } from "../data/mod.ts";
import { Event } from "../zeek/event.ts";
import {
  CLUSTER_HELLO,
  type NodeActions,
  nodeIdTopic,
  ZeekClusterNode,
  ZEROMQ_HELLO,
} from "./cluster_node.ts";

const text = (a: NodeActions) =>
  a.publish.map((p) => `${p.topic} ${p.event.name}${dataToString(vector(...p.event.args))}`);

Deno.test("a worker subscribes what Zeek's worker-1 subscribes, in the same order", () => {
  const w = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "W" });
  // As worker-1's XSUB sent them in the capture (fixtures/zeek8/zeromq-two-nodes.pcap).
  assert.deepEqual(w.subscriptions(), [
    "zeek/supervisor",
    "zeek/table/",
    "zeek.cluster.pool.worker",
    "zeek.cluster.worker",
    "zeek.cluster.nodeid.W.",
    "zeek.cluster.node.worker-1.",
  ]);
  const m = new ZeekClusterNode({ name: "manager", nodeType: "manager", id: "M" });
  assert.ok(!m.subscriptions().some((s) => s.includes("pool")));
});

Deno.test("hello exchange: subscription first, then ZeroMQ hello, gives Cluster::hello and node_up", () => {
  const w = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "W" });
  // Our own node-ID subscription, echoed by the proxy, is no one else's.
  assert.deepEqual(text(w.onSubscription(nodeIdTopic("W"), true)), []);
  // Other subscriptions are not node IDs.
  assert.deepEqual(text(w.onSubscription("zeek.cluster.manager", true)), []);
  assert.deepEqual(text(w.onSubscription(nodeIdTopic("M"), true)), [
    `zeek.cluster.nodeid.M. ${ZEROMQ_HELLO}(worker-1, W)`,
  ]);
  const hello = w.onEvent(new Event(ZEROMQ_HELLO, [str("manager"), str("M")]));
  assert.ok(hello.internal);
  assert.deepEqual(text(hello), [`zeek.cluster.nodeid.M. ${CLUSTER_HELLO}(worker-1, W)`]);
  const up = w.onEvent(new Event(CLUSTER_HELLO, [str("manager"), str("M")]));
  assert.deepEqual(up.up, [{ name: "manager", id: "M" }]);
  // A second Cluster::hello is not a second node_up.
  assert.deepEqual(w.onEvent(new Event(CLUSTER_HELLO, [str("manager"), str("M")])).up, []);
  assert.deepEqual(w.onSubscription(nodeIdTopic("M"), false).down, [{ name: "manager", id: "M" }]);
  assert.equal(w.up.size, 0);
});

Deno.test("node_up waits until our Cluster::hello went out, even when theirs came first", () => {
  const w = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "W" });
  // The manager's Cluster::hello overtook its node-ID subscription (another socket).
  assert.deepEqual(w.onEvent(new Event(ZEROMQ_HELLO, [str("manager"), str("M")])).up, []);
  assert.deepEqual(w.onEvent(new Event(CLUSTER_HELLO, [str("manager"), str("M")])).up, []);
  const sub = w.onSubscription(nodeIdTopic("M"), true);
  // Our hello is published before the application hears node_up.
  assert.deepEqual(text(sub), [
    `zeek.cluster.nodeid.M. ${ZEROMQ_HELLO}(worker-1, W)`,
    `zeek.cluster.nodeid.M. ${CLUSTER_HELLO}(worker-1, W)`,
  ]);
  assert.deepEqual(sub.up, [{ name: "manager", id: "M" }]);
});

Deno.test("hello exchange: ZeroMQ hello before the subscription waits for it", () => {
  const w = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "W" });
  assert.deepEqual(text(w.onEvent(new Event(ZEROMQ_HELLO, [str("manager"), str("M")]))), []);
  assert.deepEqual(text(w.onSubscription(nodeIdTopic("M"), true)), [
    `zeek.cluster.nodeid.M. ${ZEROMQ_HELLO}(worker-1, W)`,
    `zeek.cluster.nodeid.M. ${CLUSTER_HELLO}(worker-1, W)`,
  ]);
});

Deno.test("two nodes wired together both come up; application events are not internal", () => {
  const a = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "A" });
  const b = new ZeekClusterNode({ name: "manager", nodeType: "manager", id: "B" });
  const nodes = new Map([["A", a], ["B", b]]);
  const ups: string[] = [];
  // Deliver each publication to the node whose ID topic it is on, as the proxy would.
  const run = (actions: NodeActions) => {
    const queue = [...actions.publish];
    for (let p = queue.shift(); p; p = queue.shift()) {
      const to = nodes.get(p.topic.split(".")[3])!;
      const got = to.onEvent(p.event);
      ups.push(...got.up.map((u) => `${to.name} sees ${u.name}`));
      queue.push(...got.publish);
    }
  };
  run(b.onSubscription(nodeIdTopic("A"), true));
  run(a.onSubscription(nodeIdTopic("B"), true));
  assert.deepEqual(ups.sort(), ["manager sees worker-1", "worker-1 sees manager"]);
  assert.equal(a.onEvent(new Event("Test::ping", [])).internal, false);
});

Deno.test("a name that is up says ZeroMQ hello under a new ID: node_down for the old ID first (Zeek's 'never said goodbye'); the same ID again is ignored", () => {
  const w = new ZeekClusterNode({ name: "worker-1", nodeType: "worker", id: "W" });
  const hello = (kind: string, id: string) => new Event(kind, [str("manager"), str(id)]);
  w.onSubscription(nodeIdTopic("M1"), true);
  w.onEvent(hello(ZEROMQ_HELLO, "M1"));
  assert.deepEqual(w.onEvent(hello(CLUSTER_HELLO, "M1")).up, [{ name: "manager", id: "M1" }]);
  // Zeek's node ignores a second ZeroMQ hello of a node that is up ("sends ZeroMQ::hello twice").
  assert.deepEqual(text(w.onEvent(hello(ZEROMQ_HELLO, "M1"))), []);
  // The manager came back under a new ID while the proxy was away: its old node-ID
  // subscription was never cancelled, so its new hello is what ends the old one.
  assert.deepEqual(text(w.onSubscription(nodeIdTopic("M2"), true)), [
    `zeek.cluster.nodeid.M2. ${ZEROMQ_HELLO}(worker-1, W)`,
  ]);
  const a = w.onEvent(hello(ZEROMQ_HELLO, "M2"));
  assert.deepEqual(a.down, [{ name: "manager", id: "M1" }]);
  assert.deepEqual(text(a), [`zeek.cluster.nodeid.M2. ${CLUSTER_HELLO}(worker-1, W)`]);
  assert.deepEqual(w.onEvent(hello(CLUSTER_HELLO, "M2")).up, [{ name: "manager", id: "M2" }]);
  assert.deepEqual([...w.up], [["M2", "manager"]]);
});
