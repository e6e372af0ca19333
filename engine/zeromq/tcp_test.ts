// Our ZeroMQ node and proxy over loopback TCP, with no Zeek: two nodes through our proxy come
// up, exchange events, and see each other go down.
import assert from "node:assert/strict";
import { count, dataToString, str, vector } from "../data/mod.ts";
import { Event } from "../zeek/event.ts";
import { ZeekZmqNode, ZmqProxyServer } from "./mod.ts";
import { KEPT_ERRORS, ZmtpConnection } from "./tcp_connection.ts";
import { freePort } from "../../tests/broker_ref.ts";

Deno.test("two of our nodes through our proxy: node_up both ways, an event each way, node_down", async () => {
  const proxy = ZmqProxyServer.listen();
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
  const worker = await ZeekZmqNode.connect({ name: "worker-1", nodeType: "worker", ...at });
  try {
    const [mUp, wUp] = await Promise.all([manager.statuses.get(5000), worker.statuses.get(5000)]);
    assert.deepEqual(mUp, { type: "node_up", name: "worker-1", id: worker.id });
    assert.deepEqual(wUp, { type: "node_up", name: "manager", id: manager.id });

    assert.ok(worker.publish("zeek.cluster.manager", new Event("Test::ping", [str("hi")])));
    const ping = await manager.events.get(5000);
    assert.equal(ping?.sender, worker.id);
    assert.equal(ping?.event.name, "Test::ping");
    assert.ok(manager.publish("zeek.cluster.node.worker-1.", new Event("Test::pong", [count(1n)])));
    const pong = await worker.events.get(5000);
    assert.equal(dataToString(vector(...pong!.event.args)), "(1)");
    // Nobody subscribed this topic: an XPUB sends nothing.
    assert.equal(worker.publish("nobody.listens", new Event("Test::lost")), false);

    await worker.close();
    assert.deepEqual(await manager.statuses.get(5000), {
      type: "node_down",
      name: "worker-1",
      id: worker.id,
    });
    assert.deepEqual(proxy.errors, []);
  } finally {
    await worker.close();
    await manager.close();
    await proxy.close();
  }
});

Deno.test("a node that finds no proxy fails with peer_unavailable after its connect timeout", async () => {
  const port = freePort();
  await assert.rejects(
    ZeekZmqNode.connect({
      name: "worker-1",
      nodeType: "worker",
      xpub: { host: "127.0.0.1", port },
      xsub: { host: "127.0.0.1", port },
      connectTimeoutMs: 300,
    }),
    (e: Error) => e.name === "BrokerError" && /cannot reach/.test(e.message),
  );
});

Deno.test("a node keeps its latest 100 errors and counts them all: garbage from a peer grows nothing", async () => {
  const proxy = ZmqProxyServer.listen();
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const node = await ZeekZmqNode.connect({ name: "worker-1", nodeType: "worker", ...at });
  const ready = Promise.withResolvers<void>();
  const pub = await ZmtpConnection.dial(at.xpub, "XPUB", Date.now() + 5000, (e) => {
    if (e.type === "ready") ready.resolve();
  });
  try {
    await ready.promise;
    const te = new TextEncoder();
    // Four parts on the node's topic, the last not Broker's format: undecodable each.
    const msg = pub.session.send([
      te.encode("zeek.cluster.worker"),
      te.encode("x"),
      te.encode("broker-bin-v1"),
      new Uint8Array([0xff, 1, 2]),
    ]);
    const deadline = Date.now() + 10_000;
    for (let sent = 0; node.errorCount < 1000; sent++) {
      assert.ok(Date.now() < deadline, `${node.errorCount} errors counted after ${sent} sent`);
      pub.write(msg);
      if (sent % 100 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    assert.equal(node.errors.length, KEPT_ERRORS);
  } finally {
    pub.close();
    await node.close();
    await proxy.close();
  }
});
