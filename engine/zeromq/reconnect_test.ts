// Our node when its peers go away and come back on the same ports, over loopback TCP: as a
// Zeek node's libzmq sockets, it dials again every 100 to 199 ms (never faster), subscribes
// again, keeps what the proxy had subscribed and who is up (no node_down: Zeek's nodes raise
// none), and what it writes to a logger meanwhile is delivered once the logger is back.
import assert from "node:assert/strict";
import { str } from "../data/mod.ts";
import { ErrorCode } from "../errors.ts";
import { Event } from "../zeek/event.ts";
import { ZeekType, ZeekZmqNode, ZmqProxyServer } from "./mod.ts";
import type { ZeekZmqLinkStatus } from "./tcp_node.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { decodeLogWriteBatch } from "./log_batch.ts";
import { ReconnectInterval } from "./reconnect.ts";
import { freePort } from "../../tests/broker_ref.ts";

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 10));
}

async function statuses(node: ZeekZmqNode, n: number): Promise<ZeekZmqLinkStatus[]> {
  const got: ZeekZmqLinkStatus[] = [];
  while (got.length < n) {
    const s = await node.links.get(10_000);
    assert.ok(s, `${got.length} of ${n} link statuses: ${JSON.stringify(got)}`);
    got.push(s);
  }
  return got;
}

/** worker-1 through `proxy`, with a logger at `loggerPort` (ours answers there, or nobody). */
function workerWithLogger(
  proxy: ZmqProxyServer,
  loggerPort: number,
  connectTimeoutMs?: number,
): Promise<ZeekZmqNode> {
  return ZeekZmqNode.connect({
    name: "worker-1",
    nodeType: "worker",
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
    logger: { host: "127.0.0.1", port: loggerPort },
    connectTimeoutMs,
  });
}

/** A logger's PULL socket on `tcp`, putting each batch's first line into `lines`. */
function logPull(tcp: Deno.TcpConn, lines: string[]): ZmtpConnection {
  return new ZmtpConnection(tcp, "PULL", (e) => {
    if (e.type !== "message") return;
    lines.push(String(decodeLogWriteBatch(e.parts[3]).records[0][0].value));
  });
}

/** Writes one line, `msg`, to test.log through the node's logger (false: not queued). */
function writeLine(node: ZeekZmqNode, msg: string): boolean {
  return node.writeLogs({
    streamName: "Test::LOG",
    writerName: "Log::WRITER_ASCII",
    filterName: "default",
    path: "test",
    fields: [{ name: "msg", type: ZeekType.string, subtype: 0, optional: false }],
    records: [[{ type: ZeekType.string, subtype: 0, value: msg }]],
  });
}

Deno.test("libzmq's reconnect interval: 100 ms plus a random part of it, doubling only with a maximum above it", () => {
  const fixed = new ReconnectInterval({ random: () => 0.999 });
  assert.deepEqual([fixed.next(), fixed.next()], [199, 199]);
  const backoff = new ReconnectInterval({ ivlMs: 100, ivlMaxMs: 350, random: () => 0 });
  assert.deepEqual([1, 2, 3, 4].map(() => backoff.next()), [100, 200, 350, 350]);
  backoff.reset();
  assert.equal(backoff.next(), 100);
});

Deno.test("the proxy goes away and comes back on the same ports: the nodes dial again (never faster than every 100 ms), subscribe again, stay up, and events flow again", async () => {
  let proxy = ZmqProxyServer.listen();
  const ports = { xpubPort: proxy.xpubPort, xsubPort: proxy.xsubPort };
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
  const worker = await ZeekZmqNode.connect({ name: "worker-1", nodeType: "worker", ...at });
  try {
    assert.equal((await manager.statuses.get(5000))?.type, "node_up");
    assert.equal((await worker.statuses.get(5000))?.type, "node_up");
    worker.subscribe("app.");
    await until(() => manager.wants("app.x"));

    await proxy.close();
    for (const node of [manager, worker]) {
      const lost = await statuses(node, 2);
      assert.deepEqual(lost.map((s) => `${s.type} ${s.socket}`).sort(), [
        "disconnected XPUB",
        "disconnected XSUB",
      ]);
      assert.match(
        lost[0].message,
        /^lost the connection to the proxy's X(PUB|SUB) at 127\.0\.0\.1:\d+; dialling again every 100 to 199 ms$/,
      );
    }
    // What the proxy had subscribed stands while it is away (libzmq keeps the pipe), so an
    // event published meanwhile waits for the next connection.
    assert.ok(manager.publish("app.x", new Event("Test::meanwhile", [])));
    assert.equal(manager.xpubQueued, 1);
    const dials0 = manager.stats().dials, t0 = performance.now();
    await until(() => manager.stats().dials >= dials0 + 6);
    const elapsed = performance.now() - t0, dials = manager.stats().dials - dials0;
    // Two sockets, each waiting at least 100 ms between dials: no busy loop.
    assert.ok(dials <= 2 * (elapsed / 100 + 1), `${dials} dials in ${elapsed.toFixed(0)} ms`);

    proxy = ZmqProxyServer.listen(ports);
    for (const node of [manager, worker]) {
      const back = await statuses(node, 2);
      assert.deepEqual(back.map((s) => `${s.type} ${s.socket}`).sort(), [
        "reconnected XPUB",
        "reconnected XSUB",
      ]);
    }
    // A fence: the worker's XSUB subscribed app. again before this, on the same connection.
    worker.subscribe("fence.");
    await until(() => manager.wants("fence.x"));
    assert.ok(manager.publish("app.x", new Event("Test::after", [str("back")])));
    let got = await worker.events.get(5000);
    // The event published while away may have reached the new proxy before the worker did.
    if (got?.event.name === "Test::meanwhile") got = await worker.events.get(5000);
    assert.equal(got?.event.name, "Test::after");
    // And the other way, on the manager's own topic (subscribed again by its XSUB).
    assert.ok(worker.publish("zeek.cluster.manager", new Event("Test::ping", [])));
    assert.equal((await manager.events.get(5000))?.event.name, "Test::ping");
    // Nobody went down: Zeek's nodes raise no node_down for a proxy's absence either.
    assert.equal(manager.statuses.length + worker.statuses.length, 0);
    assert.deepEqual([...manager.up.values()], ["worker-1"]);
    assert.deepEqual([...worker.up.values()], ["manager"]);
    assert.deepEqual([manager.errors, worker.errors, proxy.errors], [[], [], []]);
  } finally {
    await worker.close();
    await manager.close();
    await proxy.close();
  }
});

Deno.test("the logger goes away: log batches written meanwhile wait and reach it when it is back on the same port", async () => {
  let listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const proxy = ZmqProxyServer.listen();
  const batches: string[] = [];
  let pull: ZmtpConnection | undefined;
  const accept = (l: Deno.TcpListener) => l.accept().then((tcp) => pull = logPull(tcp, batches));
  let accepted = accept(listener);
  const node = await workerWithLogger(proxy, port);
  const write = (msg: string) => writeLine(node, msg);
  try {
    await accepted;
    assert.ok(write("before"));
    await until(() => batches.length === 1);
    listener.close();
    pull!.close();
    const [lost] = await statuses(node, 1);
    assert.equal(`${lost.type} ${lost.socket}`, "disconnected PUSH");
    assert.ok(write("meanwhile 1"));
    assert.ok(write("meanwhile 2"));
    assert.equal(node.logQueued, 2);
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    accepted = accept(listener);
    const [back] = await statuses(node, 1);
    assert.equal(`${back.type} ${back.socket}`, "reconnected PUSH");
    assert.ok(write("after"));
    await until(() => batches.length === 4);
    assert.deepEqual(batches, ["before", "meanwhile 1", "meanwhile 2", "after"]);
  } finally {
    await node.close();
    pull?.close();
    listener.close();
    await proxy.close();
  }
});

Deno.test("a node starts without its logger, as a Zeek node does: connect does not wait for it, and log batches written meanwhile reach it when it comes up", async () => {
  const port = freePort(); // nothing listens there yet
  const proxy = ZmqProxyServer.listen();
  const node = await workerWithLogger(proxy, port, 1000);
  const batches: string[] = [];
  let listener: Deno.TcpListener | undefined;
  let pull: ZmtpConnection | undefined;
  try {
    for (const msg of ["early 1", "early 2"]) assert.ok(writeLine(node, msg));
    assert.equal(node.logQueued, 2);
    // Past connectTimeoutMs: the node is still up and still dialling the logger.
    await new Promise((r) => setTimeout(r, 1200));
    listener = Deno.listen({ hostname: "127.0.0.1", port });
    const tcp = await listener.accept();
    pull = logPull(tcp, batches);
    await until(() => batches.length === 2);
    assert.deepEqual(batches, ["early 1", "early 2"]);
    assert.equal(node.logQueued, 0);
  } finally {
    await node.close();
    pull?.close();
    listener?.close();
    await proxy.close();
  }
});

Deno.test("what answers in the proxy's place is not ZeroMQ: that socket gives up (libzmq's protocol error) and lost settles", async () => {
  const proxy = ZmqProxyServer.listen();
  const ports = { xpubPort: proxy.xpubPort, xsubPort: proxy.xsubPort };
  const node = await ZeekZmqNode.connect({
    name: "worker-1",
    nodeType: "worker",
    xpub: { host: "127.0.0.1", port: ports.xsubPort },
    xsub: { host: "127.0.0.1", port: ports.xpubPort },
  });
  let impostor: Deno.TcpListener | undefined;
  let answered: Promise<Deno.TcpConn> | undefined;
  try {
    await proxy.close();
    await statuses(node, 2);
    // An HTTP server where the proxy's XSUB was: it answers the greeting with its own bytes.
    impostor = Deno.listen({ hostname: "127.0.0.1", port: ports.xsubPort });
    answered = impostor.accept().then(async (tcp) => {
      await tcp.write(new TextEncoder().encode("HTTP/1.1 400 Bad Request\r\n\r\n"));
      return tcp;
    });
    const error = await node.lost;
    assert.equal(error.name, "BrokerError");
    assert.equal(error.code, ErrorCode.wrong_magic_number);
    assert.match(error.message, /^the proxy's XSUB at 127\.0\.0\.1:\d+: not a ZMTP greeting/);
    const [failed] = await statuses(node, 1);
    assert.equal(`${failed.type} ${failed.socket}`, "failed XPUB");
    assert.equal(failed.message, error.message);
  } finally {
    impostor?.close();
    (await answered)?.close();
    await node.close();
  }
});

Deno.test("connectTimeoutMs 0: a node started before its proxy keeps dialling and joins when the proxy comes up, as a Zeek node does", async () => {
  // Ports nothing listens on yet.
  const ports = { xpubPort: freePort(), xsubPort: freePort() };
  const at = {
    xpub: { host: "127.0.0.1", port: ports.xsubPort },
    xsub: { host: "127.0.0.1", port: ports.xpubPort },
  };
  const joining = ZeekZmqNode.connect({
    name: "worker-1",
    nodeType: "worker",
    ...at,
    connectTimeoutMs: 0,
  });
  let settled = false;
  joining.then(() => settled = true, () => settled = true);
  // Let it find nothing a few times first.
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(settled, false, "it gave up or connected to nothing");
  const proxy = ZmqProxyServer.listen(ports);
  const worker = await joining;
  const manager = await ZeekZmqNode.connect({ name: "manager", nodeType: "manager", ...at });
  try {
    assert.deepEqual(await worker.statuses.get(5000), {
      type: "node_up",
      name: "manager",
      id: manager.id,
    });
    assert.ok(worker.stats().dials > 2, `${worker.stats().dials} dials`);
  } finally {
    await manager.close();
    await worker.close();
    await proxy.close();
  }
});
