// The bridge with our own nodes on both sides (no Zeek): a Broker endpoint peered with the
// bridge, our proxy and our ZeroMQ manager node; events both ways with the topic mapping,
// nothing coming back to its publisher, non-events counted. Real sockets on 127.0.0.1.
import assert from "node:assert/strict";
import { count, Endpoint, Event, str } from "../../mod.ts";
import { brokerToZeromqTopic, ZeromqBridge, zeromqToBrokerTopic } from "./bridge.ts";
import { ZeekZmqNode } from "./tcp_node.ts";
import { ZmqProxyServer } from "./tcp_proxy.ts";

/** Where a node connects to reach the proxy (its XPUB dials the proxy's XSUB, and back). */
interface ProxyAt {
  xpub: { host: string; port: number };
  xsub: { host: string; port: number };
}

/**
 * A bridge test: our proxy listening, `at` pointing nodes at it; whatever
 * `fn` pushes on `closers` is closed afterwards, newest first, then the
 * proxy. A test still running after `limitMs` ends the process (a hung
 * socket would otherwise hold the suite).
 */
function bridgeTest(
  name: string,
  limitMs: number,
  fn: (at: ProxyAt, closers: (() => Promise<void>)[]) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const timer = setTimeout(() => {
        console.error(`${name}: hard timeout`);
        Deno.exit(1);
      }, limitMs);
      const proxy = ZmqProxyServer.listen();
      const at = {
        xpub: { host: "127.0.0.1", port: proxy.xsubPort },
        xsub: { host: "127.0.0.1", port: proxy.xpubPort },
      };
      const closers: (() => Promise<void>)[] = [() => proxy.close()];
      try {
        await fn(at, closers);
      } finally {
        for (const close of closers) await close();
        clearTimeout(timer);
      }
    },
  });
}

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

bridgeTest(
  "bridge between our Broker endpoint and our ZeroMQ node: both ways, no loops",
  15_000,
  async (at, closers) => {
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

    // A topic the Broker side cannot carry (over 65,535 bytes) is dropped and counted;
    // it took the bridge's process down before.
    manager.publish(`/app/${"x".repeat(70_000)}`, new Event("App::long", []));
    manager.publish("zeek.cluster.worker", new Event("Test::after", []));
    const after = await sub.get(5000);
    assert.equal(Event.from(after!.data).name, "Test::after");
    // (The manager subscribed /app/: the proxy hands its own event back to it.)
    assert.equal((await manager.events.get(5000))?.event.name, "App::long");

    // Nothing else: not our own events back, not the node-topic event (not bridged).
    assert.equal(await sub.get(300), undefined);
    assert.equal(await manager.events.get(100), undefined);
    const stats = bridge.stats();
    assert.equal(stats.refused, 1);
    assert.equal(stats.toZeromq, 2);
    assert.equal(stats.toBroker, 2);
    assert.equal(stats.notEvents, 1);
    assert.equal(stats.echoes, 2); // our two publications, sent back by the proxy
    assert.deepEqual(bridge.node.errors, []);
  },
);

bridgeTest(
  "two bridges between the same two worlds: no loop, at most one copy per bridge",
  30_000,
  async (at, closers) => {
    const settle = () => new Promise((r) => setTimeout(r, 800));
    const bridges: ZeromqBridge[] = [];
    for (const name of ["bridge-a", "bridge-b"]) {
      const b = await ZeromqBridge.start({
        topics: ["/app/"],
        listen: { host: "127.0.0.1", port: 0 },
        zeromq: { name, nodeType: "worker", ...at },
      });
      closers.unshift(() => b.close());
      bridges.push(b);
    }
    const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
    closers.unshift(() => manager.close());
    manager.subscribe("/app/");
    const old = new Endpoint();
    closers.unshift(() => old.shutdown());
    const sub = old.subscribe(["/app/"]);
    for (const b of bridges) {
      await old.peer("127.0.0.1", b.brokerPort!);
      await b.awaitZeromqSubscription("/app/x");
    }
    await old.awaitPeerSubscription("/app/x");
    await settle(); // both bridges' subscriptions in, on both sides
    const drain = <T>(q: { poll(): T[] }) => q.poll().length;
    const forwarded = () =>
      bridges.reduce((n, b) => n + b.stats().toZeromq + b.stats().toBroker, 0);

    // From the Broker side: each bridge carries it to ZeroMQ once, neither carries it back.
    old.publishEvent("/app/x", "App::tick", [count(1n)]);
    await settle();
    const atManager = drain(manager.events);
    assert.ok(atManager >= 1 && atManager <= 2, `the manager got ${atManager} copies`);
    assert.equal(drain(sub), 0, "nothing back to the Broker side");
    const after = forwarded();
    await settle();
    assert.equal(forwarded(), after, "no loop: nothing more crosses");
    assert.equal(drain(manager.events), 0);
    assert.ok(bridges.some((b) => b.stats().loops > 0), "the other bridge's copy was dropped");

    // From ZeroMQ: each bridge carries it to the Broker side once, nothing comes back.
    manager.publish("/app/y", new Event("App::tock", [str("z")]));
    await settle();
    const atOld = drain(sub);
    assert.ok(atOld >= 1 && atOld <= 2, `the Broker side got ${atOld} copies`);
    const after2 = forwarded();
    await settle();
    assert.equal(forwarded(), after2, "no loop: nothing more crosses");
    assert.ok(drain(manager.events) <= 2, "at most a copy per bridge back to ZeroMQ");
    for (const b of bridges) assert.deepEqual(b.node.errors, []);
  },
);

bridgeTest(
  "one-way topic lists: toZeromq and toBroker carry one way only",
  20_000,
  async (at, closers) => {
    const bridge = await ZeromqBridge.start({
      topics: [],
      toZeromq: ["/up/"],
      toBroker: ["/down/"],
      listen: { host: "127.0.0.1", port: 0 },
      zeromq: { name: "worker-1", nodeType: "worker", ...at },
    });
    closers.unshift(() => bridge.close());
    const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
    closers.unshift(() => manager.close());
    manager.subscribe("/up/");
    manager.subscribe("/down/");
    const old = new Endpoint();
    closers.unshift(() => old.shutdown());
    const sub = old.subscribe(["/up/", "/down/"]);
    await old.peer("127.0.0.1", bridge.brokerPort!);
    await old.awaitPeerSubscription("/up/a");
    await bridge.awaitZeromqSubscription("/up/a");
    await bridge.awaitZeromqSubscription("/down/c");
    old.publishEvent("/down/d", "App::no", []); // the bridge does not take /down/ from Broker
    old.publishEvent("/up/a", "App::up", []);
    const up = await manager.events.get(5000);
    assert.equal(up?.event.name, "App::up");
    manager.publish("/up/b", new Event("App::no", []));
    manager.publish("/down/c", new Event("App::down", []));
    const down = await sub.get(5000);
    assert.equal(down?.topic, "/down/c");
    assert.equal(await sub.get(300), undefined, "not /up/b");
    // (The manager gets its own two back from the proxy, as a Zeek node would.)
    const rest = [];
    for (let m = await manager.events.get(300); m; m = await manager.events.get(100)) {
      rest.push(m);
    }
    assert.deepEqual(rest.map((m) => m.topic).sort(), ["/down/c", "/up/b"], "not /down/d");
    assert.ok(rest.every((m) => m.sender === manager.id));
    assert.equal(bridge.stats().toZeromq, 1);
    assert.equal(bridge.stats().toBroker, 1);
  },
);

bridgeTest(
  "bridge: a burst from the Broker side larger than xpub_sndhwm crosses whole (the bridge waits, it does not drop)",
  30_000,
  async (at, closers) => {
    const bridge = await ZeromqBridge.start({
      topics: ["/burst/"],
      listen: { host: "127.0.0.1", port: 0 },
      // A small mark, so that the burst is many times over it.
      zeromq: { name: "worker-1", nodeType: "worker", xpubSndhwm: 50, ...at },
    });
    closers.unshift(() => bridge.close());
    const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
    closers.unshift(() => manager.close());
    manager.subscribe("/burst/");
    const old = new Endpoint();
    closers.unshift(() => old.shutdown());
    await old.peer("127.0.0.1", bridge.brokerPort!);
    await old.awaitPeerSubscription("/burst/");
    await bridge.awaitZeromqSubscription("/burst/x");
    const n = 2000;
    for (let i = 0; i < n; i++) old.publishEvent("/burst/x", "Burst::ev", [count(BigInt(i))]);
    for (let i = 0; i < n; i++) {
      const ev = await manager.events.get(10_000);
      assert.deepEqual(ev?.event.args, [count(BigInt(i))], `event ${i}`);
    }
    assert.equal(bridge.stats().xpubDrops, 0);
    assert.equal(bridge.stats().toZeromq, n);
  },
);

bridgeTest(
  "bridge: listening without a host takes peers on every interface, IPv6 too",
  15_000,
  async (at, closers) => {
    // Without a host it took the address as given; the CLI's default was 0.0.0.0, IPv4 alone.
    const bridge = await ZeromqBridge.start({
      topics: ["/app/"],
      listen: { port: 0 },
      zeromq: { name: "worker-1", nodeType: "worker", ...at },
    });
    closers.unshift(() => bridge.close());
    const v6 = new Endpoint(), v4 = new Endpoint();
    closers.unshift(() => v6.shutdown(), () => v4.shutdown());
    await v6.peer("::1", bridge.brokerPort!, { retryMs: 0 });
    await v4.peer("127.0.0.1", bridge.brokerPort!, { retryMs: 0 });
    assert.equal(v6.peers().length, 1);
    assert.equal(v4.peers().length, 1);
  },
);
