import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";
import { count } from "../data/mod.ts";
import { connectWebSocket, type SocketLike } from "./client.ts";

Deno.test("a client whose server is gone re-connects one attempt at a time", async () => {
  // A failed attempt scheduled two re-connects (its rejected connect and its
  // socket's close each did), so attempts doubled every reconnectMs: with
  // 50 ms, 5,208 sockets within 1.4 s of the server going away.
  const ep = new Endpoint({ warmUp: false });
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const live = new Set<WebSocket>();
  let attempts = 0, overlapping = 0;
  const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/t"], {
    reconnectMs: 50,
    createSocket: (url) => {
      attempts++;
      if (live.size > 0) overlapping++;
      const ws = new WebSocket(url);
      live.add(ws);
      ws.addEventListener("close", () => live.delete(ws));
      return ws as unknown as SocketLike;
    },
  });
  try {
    await server.close();
    while (attempts < 8) await new Promise((r) => setTimeout(r, 10));
    assert.equal(overlapping, 0, `${overlapping} of ${attempts} attempts began beside another`);
  } finally {
    client.close();
    await ep.shutdown();
    while (live.size > 0) await new Promise((r) => setTimeout(r, 10));
  }
});

Deno.test("a client keeps the latest 1024 server errors only, however many come before takeErrors", async () => {
  // Every error message the server sent was kept until takeErrors(): a client
  // that never asked grew by one per bad message it sent.
  const ep = new Endpoint({ warmUp: false });
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const seen = ep.subscribe("/t");
  const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/t"], {
    reconnectMs: 0,
  });
  try {
    const n = 1524;
    for (let i = 0; i < n; i++) client.sendRaw("not json");
    // Inputs are answered in order: once the publish behind them arrived, so
    // had every error, and what the endpoint sends next comes after them.
    client.publish("/t/last", count(1n));
    assert.equal((await seen.get())?.topic, "/t/last");
    ep.publish("/t/done", count(2n));
    assert.equal((await client.get())?.topic, "/t/done");
    const errors = client.takeErrors();
    assert.equal(errors.length, 1024);
    assert.match(errors[0].context, new RegExp(`^input #${n - 1024 + 1} `));
    assert.match(errors[1023].context, new RegExp(`^input #${n} `));
  } finally {
    seen.close();
    client.close();
    await server.close();
    await ep.shutdown();
  }
});
