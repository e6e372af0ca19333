// What our WebSocket server sends conforms to Broker's published message schema,
// except where Broker's own output does not (negative timespans, microseconds).
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
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
import { checkServerMessage } from "./ws_schema.ts";

const VALUES: Data[] = [
  none(),
  bool(true),
  count(42n),
  integer(-7n),
  real(2.5),
  str("text"),
  enumValue("Conn::LOG"),
  addr("10.0.0.1"),
  addr("2001:db8::1"),
  subnet("10.0.0.0/8"),
  port(80, "tcp"),
  port(0, "unknown"),
  timestamp(1700000000123000000n),
  timespan(1500000000n),
  set(count(1n), str("a")),
  table([[str("k"), vector(count(1n))]]),
  vector(vector(), set(), table()),
];

async function received(values: Data[]): Promise<string[]> {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const peer = new Endpoint();
  try {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/v1/messages/json`);
    const texts: string[] = [];
    let wanted = values.length + 2; // ack, values, one error
    const done = new Promise<void>((resolve) => {
      ws.onmessage = (e) => {
        texts.push(String(e.data));
        if (--wanted === 0) resolve();
      };
    });
    await new Promise((r) => ws.onopen = r);
    ws.send('["/s"]');
    const port = await ep.listen();
    await peer.peer("127.0.0.1", port, { retryMs: 0 });
    await peer.awaitPeerSubscription("/s");
    for (const v of values) peer.publish("/s", v);
    ws.send("not json");
    await done;
    ws.close();
    return texts;
  } finally {
    await peer.shutdown();
    await ep.shutdown();
  }
}

Deno.test("ack, data messages of every type and errors conform to Broker's schema", async () => {
  const texts = await received(VALUES);
  for (const t of texts) assert.deepEqual(checkServerMessage(JSON.parse(t)), [], t);
  assert.equal(JSON.parse(texts[0]).type, "ack");
  assert.ok(texts.some((t) => JSON.parse(t).type === "error"));
});

Deno.test("where Broker's own JSON breaks its schema, we write what Broker writes", async () => {
  // Broker prints negative timespans ("-1ns") and microseconds ("1500us"), which its
  // schema's timespan pattern does not allow; we stay byte-compatible with Broker.
  const texts = await received([timespan(-1n), timespan(1500000n)]);
  const data = texts.map((t) => JSON.parse(t)).filter((m) => m.type === "data-message");
  assert.deepEqual(data.map((m) => m.data), ["-1ns", "1500us"]);
  assert.ok(data.every((m) => checkServerMessage(m).length === 1));
});
