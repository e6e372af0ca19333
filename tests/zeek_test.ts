// Zeek messages (events, logs, identifier updates, batches) between endpoints,
// through the WebSocket API, and to the C++ Broker.
import assert from "node:assert/strict";
import {
  addr,
  Batch,
  connectWebSocket,
  count,
  dataToString,
  Endpoint,
  Event,
  IdentifierUpdate,
  LogCreate,
  LogWrite,
  parseZeekMessage,
  set,
  str,
  subnet,
  vector,
} from "../mod.ts";
import { freePort, RefProcess } from "./broker_ref.ts";

const MESSAGES = [
  new Event("connection_established", [vector(addr("10.0.0.1"), count(80n))], {
    timestamp: 1700000000123000000n,
  }),
  new LogCreate(
    "Conn::LOG",
    "Log::WRITER_ASCII",
    str("writer-info"),
    vector(str("ts"), str("uid")),
  ),
  new LogWrite("Conn::LOG", "Log::WRITER_ASCII", "conn", new Uint8Array([1, 2, 0xff, 0])),
  new IdentifierUpdate("Site::local_nets", set(subnet("10.0.0.0/8"))),
  new Batch([new Event("a", [count(1n)]), new Event("b", [str("two")])]),
];

Deno.test("every Zeek message kind round-trips between two endpoints", async () => {
  const a = new Endpoint(), b = new Endpoint();
  try {
    const port = await a.listen();
    const sub = a.subscribe("/zeek/");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/zeek/x");
    for (const m of MESSAGES) b.publish("/zeek/x", m.toData());
    b.publishEvent("/zeek/x", "ping", [count(7n)]);
    for (const m of MESSAGES) {
      const got = parseZeekMessage((await sub.get(2000))!.data);
      assert.equal(got.kind, m.kind);
      assert.equal(dataToString(got.toData()), dataToString(m.toData()));
    }
    const ping = Event.from((await sub.get(2000))!.data);
    assert.equal(ping.name, "ping");
    assert.equal(dataToString(vector(...ping.args)), "(7)");
  } finally {
    await a.shutdown();
    await b.shutdown();
  }
});

Deno.test("Zeek messages through the WebSocket API both ways", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const url = `ws://127.0.0.1:${server.port}`;
  try {
    const a = await connectWebSocket(url, ["/zeek/"], { reconnectMs: 0 });
    const b = await connectWebSocket(url, ["/zeek/"], { reconnectMs: 0 });
    // LogWrite carries bytes that are not UTF-8: JSON text cannot carry them exactly.
    const jsonSafe = MESSAGES.filter((m) => m.kind !== "log_write");
    for (const m of jsonSafe) a.publish("/zeek/ws", m.toData());
    for (const m of jsonSafe) {
      const got = parseZeekMessage((await b.get(2000))!.data);
      assert.equal(got.kind, m.kind);
      assert.equal(dataToString(got.toData()), dataToString(m.toData()));
    }
    a.close();
    b.close();
  } finally {
    await ep.shutdown();
  }
});

Deno.test("a Zeek event we publish reaches a C++ broker-pipe subscriber intact", {
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const ep = new Endpoint();
  const port = await ep.listen("127.0.0.1", freePort());
  const pipe = new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "subscribe",
    "-t",
    "/zeek/",
    "-p",
    `["127.0.0.1:${port}"]`,
  ]);
  try {
    await ep.awaitPeerSubscription("/zeek/events", 10_000);
    const ev = new Event("connection_established", [vector(addr("10.0.0.1"), count(80n))], {
      timestamp: 1700000000123000000n,
    });
    ep.publishEvent("/zeek/events", ev.name, ev.args, { timestamp: 1700000000123000000n });
    const [line] = await pipe.waitFor((l) => l.startsWith("data(/zeek/events,"));
    assert.equal(line, `data(/zeek/events, ${dataToString(ev.toData())})`);
  } finally {
    await ep.shutdown();
    await pipe.stop();
  }
});
