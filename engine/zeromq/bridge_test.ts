// The bridge with our own nodes on both sides (no Zeek): a Broker endpoint peered with the
// bridge, our proxy and our ZeroMQ manager node; events both ways with the topic mapping,
// nothing coming back to its publisher, non-events counted. Real sockets on 127.0.0.1.
import assert from "node:assert/strict";
import { count, Endpoint, Event, str } from "../../mod.ts";
import { brokerToZeromqTopic, ZeromqBridge, zeromqToBrokerTopic } from "./bridge.ts";
import { ZeekZmqNode } from "./tcp_node.ts";
import { ZmqProxyServer } from "./tcp_proxy.ts";

Deno.test("topic mapping: Zeek 8's cluster topics both ways, other topics unchanged", () => {
  const pairs = [
    ["zeek/cluster/manager", "zeek.cluster.manager"],
    ["zeek/cluster/logger", "zeek.cluster.logger"],
    ["zeek/cluster/proxy", "zeek.cluster.proxy"],
    ["zeek/cluster/worker", "zeek.cluster.worker"],
    ["zeek/cluster/pool/worker", "zeek.cluster.pool.worker"],
    ["zeek/cluster/node/worker-1/", "zeek.cluster.node.worker-1."],
    [
      "zeek/cluster/nodeid/zeromq_w_host.example_1_N2/",
      "zeek.cluster.nodeid.zeromq_w_host.example_1_N2.",
    ],
    ["zeek/cluster/node/", "zeek.cluster.node."],
    ["zeek/cluster/", "zeek.cluster."],
    ["zeek/supervisor", "zeek/supervisor"],
    ["zeek/table/", "zeek/table/"],
    ["/my/app", "/my/app"],
  ];
  for (const [b, z] of pairs) {
    assert.equal(brokerToZeromqTopic(b), z, b);
    assert.equal(zeromqToBrokerTopic(z), b, z);
  }
});

Deno.test({
  name: "bridge between our Broker endpoint and our ZeroMQ node: both ways, no loops",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const timer = setTimeout(() => {
      console.error("bridge test: hard timeout");
      Deno.exit(1);
    }, 15_000);
    const proxy = ZmqProxyServer.listen();
    const at = {
      xpub: { host: "127.0.0.1", port: proxy.xsubPort },
      xsub: { host: "127.0.0.1", port: proxy.xpubPort },
    };
    const closers: (() => Promise<void>)[] = [() => proxy.close()];
    try {
      const topics = ["zeek/cluster/manager", "zeek/cluster/worker", "/app/"];
      const bridge = await ZeromqBridge.start({
        topics,
        listen: { host: "127.0.0.1", port: 0 },
        zeromq: { name: "worker-1", nodeType: "worker", ...at },
      });
      closers.unshift(() => bridge.close());
      const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
      closers.unshift(() => manager.close());
      manager.subscribe("/app/");
      const old = new Endpoint();
      closers.unshift(() => old.shutdown());
      // The Broker peer subscribes the same topics it publishes on: an echo would reach it.
      const sub = old.subscribe(topics);
      await old.peer("127.0.0.1", bridge.brokerPort!);
      await old.awaitPeerSubscription("zeek/cluster/manager");
      await bridge.awaitZeromqSubscription("zeek.cluster.manager");
      await bridge.awaitZeromqSubscription("/app/x");
      assert.equal((await manager.statuses.get(5000))?.name, "worker-1"); // node_up

      old.publishEvent("zeek/cluster/manager", "Test::ping", [str("hi"), count(1n)]);
      old.publishEvent("/app/x", "App::tick", [count(2n)]);
      old.publish("zeek/cluster/manager", str("not an event"));
      const ping = await manager.events.get(5000);
      assert.equal(ping?.topic, "zeek.cluster.manager");
      assert.equal(ping?.sender, bridge.node.id);
      assert.equal(ping?.event.name, "Test::ping");
      assert.deepEqual(ping?.event.args, [str("hi"), count(1n)]);
      const tick = await manager.events.get(5000);
      assert.equal(tick?.topic, "/app/x");

      manager.publish("zeek.cluster.worker", new Event("Test::pong", [str("hi")]));
      manager.publish("zeek.cluster.node.worker-1.", new Event("Test::direct", []));
      const pong = await sub.get(5000);
      assert.equal(pong?.topic, "zeek/cluster/worker");
      assert.equal(Event.from(pong!.data).name, "Test::pong");

      // Nothing else: not our own events back, not the node-topic event (not bridged).
      assert.equal(await sub.get(300), undefined);
      assert.equal(await manager.events.get(100), undefined);
      const stats = bridge.stats();
      assert.equal(stats.toZeromq, 2);
      assert.equal(stats.toBroker, 1);
      assert.equal(stats.notEvents, 1);
      assert.equal(stats.echoes, 2); // our two publications, sent back by the proxy
      assert.deepEqual(bridge.node.errors, []);
    } finally {
      for (const c of closers) await c();
      clearTimeout(timer);
    }
  },
});
