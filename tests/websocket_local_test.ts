// WebSocket clients and what the hosting endpoint's own code publishes. Broker's
// core hands a client every data message matching its filter, local publishes
// included (json_client.cc / core_actor.cc up to e8e641ea; a Zeek script's
// Broker::publish reaches WebSocket clients), so ours does too by default.
import assert from "node:assert/strict";
import { count, DataBuilder, dataToString, encode, Endpoint, str, vector } from "../mod.ts";
import { connectWebSocket, type WebSocketClient } from "../engine/websocket/client.ts";
import { tcpWebSocket } from "../engine/websocket/tcp_socket.ts";
import { freePort, RefProcess, waitForPort } from "./broker_ref.ts";

async function drain(c: WebSocketClient, firstMs = 2000): Promise<string[]> {
  const out: string[] = [];
  for (let m = await c.get(firstMs); m; m = await c.get(300)) {
    out.push(`${m.topic} ${dataToString(m.data)}`);
  }
  return out;
}

Deno.test("by default a client gets every local publish path on its topics, once", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const url = `ws://127.0.0.1:${server.port}`;
  const client = await connectWebSocket(url, ["/zeek/", "/zeek/events"], { reconnectMs: 0 });
  const other = await connectWebSocket(url, ["/other"], { reconnectMs: 0 });
  const plain = ep.subscribe("/zeek/");
  try {
    ep.publish("/zeek/events", count(1n));
    ep.publishEvent("/zeek/events", "ping", [str("x")]);
    ep.publishEncoded("/zeek/events", encode(count(3n)));
    ep.publishBatch("/zeek/events", [count(4n), count(5n)]);
    const pub = ep.publisher("/zeek/events");
    await pub.write(count(6n));
    await pub.flush();
    // Values published from a builder reach clients too (one builder, reset in between).
    const b = new DataBuilder();
    ep.publishBuilt("/zeek/events", b.reset().count(7));
    ep.publishBuilt("/zeek/events", b.reset().count(8));
    ep.publish("/elsewhere", count(9n));
    const got = await drain(client);
    assert.deepEqual(got, [
      "/zeek/events 1",
      "/zeek/events (1, 1, (ping, (x)))",
      "/zeek/events 3",
      "/zeek/events 4",
      "/zeek/events 5",
      "/zeek/events 6",
      "/zeek/events 7",
      "/zeek/events 8",
    ]);
    assert.deepEqual(await drain(other, 300), [], "a client gets only its topics");
    // An ordinary local subscriber does not get local publishes, as in Broker.
    assert.equal(plain.poll().length, 0);
  } finally {
    client.close();
    other.close();
    await ep.shutdown();
  }
});

Deno.test("localPublishes: false leaves clients only what peers and other clients send", async () => {
  const ep = new Endpoint();
  const peer = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0, { localPublishes: false });
  const url = `ws://127.0.0.1:${server.port}`;
  const a = await connectWebSocket(url, ["/t"], { reconnectMs: 0 });
  const b = await connectWebSocket(url, ["/t"], { reconnectMs: 0 });
  try {
    const port = await ep.listen();
    await peer.peer("127.0.0.1", port, { retryMs: 0 });
    await peer.awaitPeerSubscription("/t");
    ep.publish("/t/local", count(1n));
    ep.publishEncoded("/t/local", encode(count(2n)));
    peer.publish("/t/peer", count(3n));
    b.publish("/t/client", count(4n));
    assert.deepEqual((await drain(a)).sort(), ["/t/client 4", "/t/peer 3"]);
  } finally {
    a.close();
    b.close();
    await peer.shutdown();
    await ep.shutdown();
  }
});

Deno.test("a closed client no longer receives local publishes; peers still do", async () => {
  const ep = new Endpoint();
  const peer = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const url = `ws://127.0.0.1:${server.port}`;
  try {
    const port = await ep.listen();
    const fromEp = peer.subscribe("/t");
    await peer.peer("127.0.0.1", port, { retryMs: 0 });
    await ep.awaitPeerSubscription("/t");
    const a = await connectWebSocket(url, ["/t"], { reconnectMs: 0 });
    ep.publish("/t", vector(count(1n)));
    assert.equal(dataToString((await a.get(2000))!.data), "(1)");
    a.close();
    for (let i = 0; i < 50 && server.clientStats().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(server.clientStats().length, 0, "the session ended");
    ep.publish("/t", count(2n));
    assert.equal(dataToString((await fromEp.get(2000))!.data), "(1)");
    assert.equal((await fromEp.get(2000))?.data.value, 2n);
  } finally {
    await peer.shutdown();
    await ep.shutdown();
  }
});

Deno.test("control: the C++ broker-node's WebSocket clients get what the node publishes", {
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  // In ping mode broker-node publishes ping 0 on its topic until a pong comes;
  // nothing else is connected, so a client that sees it got a local publish.
  const wsPort = freePort();
  const node = new RefProcess(
    "broker-node",
    ["--disable-ssl", "-m", "ping", '--topics=["/bench/ping"]', "-n", "1"],
    false,
    { BROKER_WEB_SOCKET_PORT: String(wsPort) },
  );
  try {
    await waitForPort(wsPort);
    const opts = { reconnectMs: 0, createSocket: tcpWebSocket };
    const c = await connectWebSocket(`ws://127.0.0.1:${wsPort}`, ["/bench/"], opts);
    const m = await c.get(5000);
    assert.ok(m, "broker-node's own publish did not reach its WebSocket client");
    assert.equal(m.topic, "/bench/ping");
    assert.equal(dataToString(m.data), "(ping, 0, )");
    c.close();
  } finally {
    await node.stop();
  }
});

Deno.test("a full `block` subscriber holds a client's messages back: its socket waits, nothing piles up", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const slow = ep.subscribe("/t", { queueSize: 10, overflowPolicy: "block" });
  const watcher = ep.subscribe("/t", { queueSize: 100_000, overflowPolicy: "drop_newest" });
  const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/x"], {
    reconnectMs: 0,
  });
  try {
    const N = 2000;
    for (let i = 0; i < N; i++) client.publish("/t", count(BigInt(i)));
    await new Promise((r) => setTimeout(r, 500));
    // The slow queue's 10, the one it holds, and no more: the server read no further.
    const early = watcher.available();
    assert.ok(early <= 12, `${early} of ${N} messages taken while the slow subscriber was full`);
    // Read, the slow subscriber lets every message through, in order, to both.
    for (let i = 0; i < N; i++) {
      const m = await slow.get(5000);
      assert.equal(m?.data.value, BigInt(i));
    }
    let seen = 0;
    for (let m = await watcher.get(2000); m; m = seen < N ? await watcher.get(2000) : undefined) {
      assert.equal(m.data.value, BigInt(seen++));
    }
    assert.equal(seen, N);
  } finally {
    client.close();
    slow.close();
    watcher.close();
    await ep.shutdown();
  }
});
