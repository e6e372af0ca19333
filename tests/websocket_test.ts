// The WebSocket JSON API: our server on an endpoint, our client and Deno's WebSocket.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
  dataToString,
  Endpoint,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { connectWebSocket } from "../engine/websocket/client.ts";
import { tcpWebSocket } from "../engine/websocket/tcp_socket.ts";
import { freePort, RefProcess, waitForPort } from "./broker_ref.ts";

// Values Broker's JSON carries without loss (timestamps in whole ms, reals with 6 decimals).
const LOSSLESS: Data[] = [
  none(),
  bool(false),
  count(18446744073709551615n),
  integer(-9223372036854775808n),
  real(1.5),
  str('grüße ✓ "quoted"'),
  addr("10.0.0.1"),
  addr("2001:db8::1"),
  subnet("10.0.0.0/8"),
  port(53, "udp"),
  timestamp(1700000000123000000n),
  timespan(-1500000000n),
  enumValue("Conn::LOG"),
  set(str("b"), count(1n)),
  table([[str("k"), vector(count(1n), str("v"))]]),
  vector(vector(), set(), table()),
];

async function withServer(fn: (ep: Endpoint, url: string) => Promise<void>) {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  try {
    await fn(ep, `ws://127.0.0.1:${server.port}`);
  } finally {
    await ep.shutdown();
  }
}

Deno.test("clients subscribe, publish every type, and receive each other's messages", async () => {
  await withServer(async (ep, url) => {
    const a = await connectWebSocket(url, ["/ws/"], { reconnectMs: 0 });
    const b = await connectWebSocket(url, ["/ws/"], { reconnectMs: 0 });
    try {
      assert.equal(a.endpoint, ep.id);
      assert.equal(a.version, "2.8.0-dev");
      for (const v of LOSSLESS) a.publish("/ws/t", v);
      for (const v of LOSSLESS) {
        const m = await b.get(2000);
        assert.ok(m, `nothing for ${dataToString(v)}`);
        assert.equal(m.topic, "/ws/t");
        assert.equal(dataToString(m.data), dataToString(v));
      }
      assert.equal(await a.get(200), undefined, "a client does not get its own messages");
      assert.deepEqual(a.takeErrors(), []);
    } finally {
      a.close();
      b.close();
    }
  });
});

Deno.test("WebSocket clients and TCP peers exchange messages both ways", async () => {
  await withServer(async (ep, url) => {
    const peer = new Endpoint();
    const port = await ep.listen();
    const peerSub = peer.subscribe("/mixed");
    const local = ep.subscribe("/mixed");
    await peer.peer("127.0.0.1", port, { retryMs: 0 });
    const client = await connectWebSocket(url, ["/mixed"], { reconnectMs: 0 });
    try {
      await peer.awaitPeerSubscription("/mixed");
      client.publish("/mixed/in", count(1n));
      assert.equal((await peerSub.get(2000))?.data.value, 1n, "peer got the client's message");
      assert.equal((await local.get(2000))?.data.value, 1n, "the endpoint's own subscriber too");
      peer.publish("/mixed/out", str("to the client"));
      const m = await client.get(2000);
      assert.equal(m?.topic, "/mixed/out");
      assert.equal(m?.data.value, "to the client");
    } finally {
      client.close();
      await peer.shutdown();
    }
  });
});

Deno.test("a client's message reads the same in Broker's form, with spaces, or in another key order", async () => {
  await withServer(async (ep, url) => {
    const local = ep.subscribe("/forms");
    const c = await connectWebSocket(url, ["/other"], { reconnectMs: 0 });
    try {
      const value = '{"@data-type":"set","data":[{"@data-type":"port","data":"80/tcp"},' +
        '{"@data-type":"address","data":"10.0.0.1"}]}';
      // Broker's form and the spaced one go straight into binary, the third through the full reader.
      c.sendRaw(`{"type":"data-message","topic":"/forms",${value.slice(1)}`);
      c.sendRaw(
        `{"type": "data-message", "topic": "/forms", ${
          value.slice(1).replaceAll('":', '": ').replaceAll(',"', ', "')
        }`,
      );
      c.sendRaw(
        `{"data":${value.slice(value.indexOf("["), -1)},"@data-type":"set",` +
          '"topic":"/forms","type":"data-message"}',
      );
      const expected = dataToString(set(port(80, "tcp"), addr("10.0.0.1")));
      for (let i = 0; i < 3; i++) {
        const m = await local.get(2000);
        assert.equal(m && dataToString(m.data), expected, `message ${i + 1}`);
      }
      assert.deepEqual(c.takeErrors(), []);
    } finally {
      c.close();
    }
  });
});

Deno.test("bad input gets Broker's error messages and the session goes on", async () => {
  await withServer(async (_ep, url) => {
    const c = await connectWebSocket(url, ["/e"], { reconnectMs: 0 });
    const other = await connectWebSocket(url, ["/e"], { reconnectMs: 0 });
    try {
      c.sendRaw("{not json");
      c.sendRaw('{"type":"data-message","topic":"/e","@data-type":"bogus","data":1}');
      c.sendRaw('{"type":"data-message","topic":"/e","@data-type":"count","data":-1}');
      c.publish("/e/ok", count(7n));
      assert.equal((await other.get(2000))?.data.value, 7n, "the session went on");
      const errors = c.takeErrors();
      assert.equal(errors.length, 3);
      assert.ok(errors.every((e) => e.code === "deserialization_failed"));
      assert.match(errors[0].context, /^input #1 contained malformed JSON -> /);
      assert.equal(errors[1].context, "input #2 contained invalid data");
      assert.equal(errors[2].context, "input #3 contained invalid data");
    } finally {
      c.close();
      other.close();
    }
  });
});

Deno.test("a topic no envelope can carry is dropped as by Broker, with an error for the endpoint; the session goes on", async () => {
  await withServer(async (ep, url) => {
    const local = ep.subscribe("/long");
    const statuses = ep.statusSubscriber();
    const c = await connectWebSocket(url, ["/e"], { reconnectMs: 0 });
    try {
      // Broker's envelope holds a topic of at most 65,535 bytes; Broker's form, then another
      // order. The C++ broker-node drops such a message and answers nothing (checked by hand).
      const topic = JSON.stringify("/long/" + "x".repeat(70_000));
      c.sendRaw(`{"type":"data-message","topic":${topic},"@data-type":"count","data":1}`);
      c.sendRaw(`{"data":2,"@data-type":"count","type":"data-message","topic":${topic}}`);
      c.publish("/long/ok", count(3n));
      assert.equal((await local.get(2000))?.data.value, 3n, "the session went on");
      assert.equal(local.poll().length, 0, "nothing of the dropped messages was delivered");
      const refused = statuses.poll().filter((e) => e.kind === "error");
      assert.deepEqual(refused.map((e) => e.codeName), [
        "serialization_failed",
        "serialization_failed",
      ]);
      assert.match(refused[0].message, /^a WebSocket client's message was not published: topic/);
      c.publish("/long/ok", count(4n));
      assert.equal((await local.get(2000))?.data.value, 4n);
      // A message through the client's socket after them: any error would be read by now.
      ep.publish("/e/after", count(5n));
      assert.equal((await c.get(2000))?.data.value, 5n);
      assert.deepEqual(c.takeErrors(), [], "as Broker, no error message to the client");
    } finally {
      c.close();
    }
  });
});

Deno.test("a wrong first message and a wrong path are refused; others keep being served", async () => {
  await withServer(async (_ep, url) => {
    const res = await fetch(`${url.replace("ws:", "http:")}/nope`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /\/v1\/messages\/json/);
    const raw = new WebSocket(`${url}/v1/messages/json`);
    const reply = await new Promise<string>((resolve, reject) => {
      raw.onopen = () => raw.send('{"not":"an array"}');
      raw.onmessage = (ev) => resolve(String(ev.data));
      raw.onerror = () => reject(new Error("socket error"));
    });
    assert.equal(JSON.parse(reply).type, "error");
    await new Promise<void>((r) => {
      if (raw.readyState === WebSocket.CLOSED) r();
      else raw.onclose = () => r();
    });
    const ok = await connectWebSocket(url, ["/still"], { reconnectMs: 0 });
    ok.close();
  });
});

// Zeek's btest cluster/websocket/bad-subscriptions.zeek: Zeek's server answers a wrong first
// message in these words (Broker's says nothing), and ends the session.
Deno.test("a wrong first message is answered in Zeek's words", async () => {
  await withServer(async (_ep, url) => {
    const cases = [
      ['["broken", "brrr', "subscriptions not an array"],
      ['{"not":"an array"}', "subscriptions not an array"],
      ["[1, 2]", "individual subscription not a string"],
      ['[1, "/my_topic"]', "individual subscription not a string"],
    ];
    for (const [text, context] of cases) {
      const raw = new WebSocket(`${url}/v1/messages/json`);
      const reply = await new Promise<string>((resolve, reject) => {
        raw.onopen = () => raw.send(text);
        raw.onmessage = (ev) => resolve(String(ev.data));
        raw.onerror = () => reject(new Error("socket error"));
      });
      assert.deepEqual(JSON.parse(reply), {
        type: "error",
        code: "deserialization_failed",
        context,
      });
      await new Promise<void>((r) => {
        if (raw.readyState === WebSocket.CLOSED) r();
        else raw.onclose = () => r();
      });
    }
  });
});

Deno.test("the client re-connects and re-subscribes after the server restarts", async () => {
  const ep1 = new Endpoint();
  const server1 = await ep1.listenWebSocket("127.0.0.1", 0);
  const port = server1.port;
  const client = await connectWebSocket(`ws://127.0.0.1:${port}`, ["/again"], { reconnectMs: 100 });
  await ep1.shutdown();
  const ep2 = new Endpoint();
  try {
    await ep2.listenWebSocket("127.0.0.1", port);
    const deadline = Date.now() + 5000;
    while (client.sessions < 2 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(client.sessions, 2);
    assert.equal(client.endpoint, ep2.id);
    const publisher = await connectWebSocket(`ws://127.0.0.1:${port}`, [], { reconnectMs: 0 });
    publisher.publish("/again", count(2n));
    assert.equal((await client.get(2000))?.data.value, 2n);
    publisher.close();
  } finally {
    client.close();
    await ep2.shutdown();
  }
});

Deno.test("our client (TCP socket transport) against the C++ broker-node's WebSocket server", {
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const wsPort = freePort(), tcpPort = freePort();
  const node = new RefProcess(
    "broker-node",
    [
      "--disable-ssl",
      "-m",
      "relay",
      '--topics=["/ws"]',
      "-p",
      String(tcpPort),
    ],
    false,
    { BROKER_WEB_SOCKET_PORT: String(wsPort) },
  );
  const peer = new Endpoint();
  try {
    await waitForPort(wsPort);
    const opts = { reconnectMs: 0, createSocket: tcpWebSocket };
    const a = await connectWebSocket(`ws://127.0.0.1:${wsPort}`, ["/ws"], opts);
    const b = await connectWebSocket(`ws://127.0.0.1:${wsPort}`, ["/ws"], opts);
    assert.match(a.endpoint!, /^[0-9a-f-]{36}$/);
    assert.equal(a.version, "2.8.0-dev");
    for (const v of LOSSLESS) a.publish("/ws/json", v);
    for (const v of LOSSLESS) {
      const m = await b.get(5000);
      assert.ok(m, `the C++ server did not relay ${dataToString(v)}`);
      assert.equal(dataToString(m.data), dataToString(v));
    }
    // A TCP peer's message reaches the WebSocket client through the C++ node.
    await peer.peer("127.0.0.1", tcpPort, { retryMs: 0 });
    await peer.awaitPeerSubscription("/ws/tcp");
    peer.publish("/ws/tcp", count(99n));
    const seen: unknown[] = [];
    for (let m = await a.get(5000); m; m = await a.get(500)) seen.push(m.data.value);
    assert.ok(seen.includes(99n), `got ${seen.map(String)}`);
    a.close();
    b.close();
  } finally {
    await peer.shutdown();
    await node.stop();
  }
});

Deno.test("our client over its TCP socket transport works with our server too", async () => {
  await withServer(async (_ep, url) => {
    const opts = { reconnectMs: 0, createSocket: tcpWebSocket };
    const a = await connectWebSocket(url, ["/t"], opts);
    const b = await connectWebSocket(url, ["/t"], opts);
    a.publish("/t", str("x".repeat(70_000)));
    assert.equal(((await b.get(2000))?.data.value as string).length, 70_000);
    a.close();
    b.close();
  });
});

Deno.test("an oversized message gets an error; the session and the server go on", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0, { maxMessageSize: 1000 });
  const url = `ws://127.0.0.1:${server.port}`;
  try {
    const a = await connectWebSocket(url, ["/big"], { reconnectMs: 0 });
    const b = await connectWebSocket(url, ["/big"], { reconnectMs: 0 });
    a.publish("/big", str("x".repeat(5000)));
    a.publish("/big", str("small"));
    assert.equal((await b.get(2000))?.data.value, "small");
    const errors = a.takeErrors();
    assert.equal(errors.length, 1);
    assert.match(errors[0].context, /larger than 1000 bytes/);
    a.close();
    b.close();
  } finally {
    await ep.shutdown();
  }
});
