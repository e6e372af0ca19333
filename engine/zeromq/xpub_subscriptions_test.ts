// What our node's XPUB makes of the subscriptions the proxy hands it, over loopback TCP: as
// libzmq's XPUB, a prefix is there or not (one cancellation removes it however often it was
// subscribed; our proxy, as Zeek's, passes every subscription on but a cancellation only once
// the last subscriber is gone), and a prefix seen again is no news (Zeek raises its
// subscription event, and so says hello, once).
import assert from "node:assert/strict";
import { str } from "../data/mod.ts";
import { Event } from "../zeek/event.ts";
import { ZeekZmqNode, ZmqProxyServer } from "./mod.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { parseZeekZmqMessage, zeekZmqEvent } from "./zeek_message.ts";

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

Deno.test("a prefix two nodes subscribed is gone for our node once both left (one cancellation)", async () => {
  const proxy = ZmqProxyServer.listen();
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const node = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
  const others: ZeekZmqNode[] = [];
  try {
    for (const name of ["worker-1", "worker-2"]) {
      const w = await ZeekZmqNode.connect({ name, nodeType: "worker", ...at });
      w.subscribe("app.");
      others.push(w);
    }
    const ups = [await node.statuses.get(5000), await node.statuses.get(5000)];
    assert.deepEqual(ups.map((s) => s?.type), ["node_up", "node_up"]);
    await until(() => node.wants("app.x"));
    for (const w of others) await w.close();
    const downs = [await node.statuses.get(5000), await node.statuses.get(5000)];
    assert.deepEqual(downs.map((s) => s?.type), ["node_down", "node_down"]);
    // A fence: the proxy hands our node this subscription after the cancellations it sent
    // when the second worker left, on the same connection.
    const fence = await ZeekZmqNode.connect({ name: "worker-3", nodeType: "worker", ...at });
    others.push(fence);
    fence.subscribe("fence.");
    await until(() => node.wants("fence.x"));
    assert.equal(node.wants("app.x"), false, "both subscribers of app. left");
    assert.equal(node.publish("app.x", new Event("Test::lost", [str("x")])), false);
  } finally {
    for (const w of others) await w.close();
    await node.close();
    await proxy.close();
  }
});

Deno.test("a node-ID subscription seen twice gets one ZeroMQ hello, as Zeek's node sends", async () => {
  const proxy = ZmqProxyServer.listen();
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const node = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
  const got: string[] = [];
  const ready = Promise.withResolvers<void>();
  const fenced = Promise.withResolvers<void>();
  // A bare XSUB in place of another node: it subscribes its node-ID topic twice (what a proxy
  // that comes back, or a second path, hands our node), then a fence.
  const raw = await ZmtpConnection.dial(at.xsub, "XSUB", Date.now() + 5000, (e) => {
    if (e.type === "ready") ready.resolve();
    if (e.type !== "message") return;
    const name = zeekZmqEvent(parseZeekZmqMessage(e.parts)).name;
    got.push(name);
    if (name === "Test::fence") fenced.resolve();
  });
  try {
    await ready.promise;
    for (const t of ["zeek.cluster.nodeid.other.", "zeek.cluster.nodeid.other.", "fence."]) {
      raw.write(raw.session.subscribe(t));
    }
    await until(() => node.wants("fence.x"));
    assert.ok(node.publish("fence.x", new Event("Test::fence", [])));
    await fenced.promise;
    assert.deepEqual(got, ["Cluster::Backend::ZeroMQ::hello", "Test::fence"]);
  } finally {
    raw.close();
    await node.close();
    await proxy.close();
  }
});
