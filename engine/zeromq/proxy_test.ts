// The proxy's routing, as zmq_proxy with Zeek's XPUB (xpub_verboser) and an XSUB does it.
import assert from "node:assert/strict";
import { type ProxyOutput, ZmqProxy } from "./proxy.ts";

const te = new TextEncoder(), td = new TextDecoder();
const sub = (topic: string, subscribe = true) => ({ subscribe, topic: te.encode(topic) });
const show = (out: ProxyOutput[]) =>
  out.map((o) =>
    "parts" in o
      ? `${o.peer} msg ${td.decode(o.parts[0])}`
      : `${o.peer} ${o.subscription.subscribe ? "+" : "-"}${td.decode(o.subscription.topic)}`
  );

Deno.test("subscriptions go to every XSUB-side peer, duplicates too; a late one gets each live topic once", () => {
  const p = new ZmqProxy();
  p.connect(1, "xpub");
  p.connect(2, "xpub");
  p.connect(10, "xsub");
  assert.deepEqual(show(p.subscription(1, sub("zeek.cluster.nodeid.A."))), [
    "10 +zeek.cluster.nodeid.A.",
  ]);
  assert.deepEqual(show(p.subscription(2, sub("zeek/table/"))), ["10 +zeek/table/"]);
  assert.deepEqual(show(p.subscription(1, sub("zeek/table/"))), ["10 +zeek/table/"]);
  assert.deepEqual(show(p.connect(11, "xsub")), ["11 +zeek.cluster.nodeid.A.", "11 +zeek/table/"]);
  // A cancellation goes on only when nobody is left on the topic.
  assert.deepEqual(show(p.subscription(2, sub("zeek/table/", false))), []);
  assert.deepEqual(show(p.subscription(2, sub("zeek/table/", false))), [], "not 2's any more");
  // A departing XPUB-side peer's topics are cancelled: how nodes learn of node_down.
  assert.deepEqual(show(p.disconnect(1)), [
    "10 -zeek.cluster.nodeid.A.",
    "11 -zeek.cluster.nodeid.A.",
    "10 -zeek/table/",
    "11 -zeek/table/",
  ]);
});

Deno.test("messages from the XSUB side reach each subscribed XPUB-side peer once", () => {
  const p = new ZmqProxy();
  p.connect(1, "xpub");
  p.connect(2, "xpub");
  p.connect(3, "xpub");
  p.connect(10, "xsub");
  p.subscription(1, sub("zeek.cluster."));
  p.subscription(1, sub("zeek.cluster.manager"));
  p.subscription(2, sub("zeek.cluster.worker"));
  const msg = [
    te.encode("zeek.cluster.manager"),
    te.encode("id"),
    te.encode("f"),
    new Uint8Array(1),
  ];
  assert.deepEqual(show(p.message(10, msg)), ["1 msg zeek.cluster.manager"]);
  assert.deepEqual(show(p.message(10, [te.encode("other")])), []);
  // Only XSUB-side peers publish; an unknown or XPUB-side sender is ignored.
  assert.deepEqual(show(p.message(1, msg)), []);
  assert.deepEqual(show(p.message(99, msg)), []);
  p.disconnect(10);
  assert.deepEqual(show(p.message(10, msg)), []);
});
