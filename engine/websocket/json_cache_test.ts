import { equal, notEqual } from "node:assert/strict";
import { connectWebSocket, count, Endpoint, str, vector } from "../../mod.ts";
import { encode } from "../data/mod.ts";
import { dataMessageUtf8, JsonMessageCache } from "./json_cache.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("JsonMessageCache gives each message its own JSON, however alike the payloads", () => {
  const cache = new JsonMessageCache();
  const values = [
    ...Array.from({ length: 2000 }, (_, i) => count(BigInt(i))),
    ...Array.from({ length: 200 }, (_, i) => vector(str(`x${i}`), count(1n))),
  ];
  for (const v of values) {
    // A fresh copy each time, as each client's subscriber has its own.
    for (const topic of ["/a", "/b"]) {
      const m = { topic, payload: encode(v).slice() };
      equal(text(cache.utf8(m)), text(dataMessageUtf8(m)));
    }
  }
  const one = cache.utf8({ topic: "/a", payload: encode(count(7n)).slice() });
  equal(cache.utf8({ topic: "/a", payload: encode(count(7n)).slice() }), one);
  notEqual(cache.utf8({ topic: "/b", payload: encode(count(7n)).slice() }), one);
});

Deno.test("every WebSocket client of a fan-out gets every message as JSON, in order", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const clients = await Promise.all(
    [0, 1, 2].map(() =>
      connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/f"], { reconnectMs: 0 })
    ),
  );
  try {
    for (let i = 0; i < 300; i++) ep.publish("/f/x", vector(count(BigInt(i)), str(`m${i % 7}`)));
    for (const c of clients) {
      for (let i = 0; i < 300; i++) {
        const m = await c.get(5000);
        equal(m?.topic, "/f/x");
        equal(
          JSON.stringify(m?.data, (_, v) => typeof v === "bigint" ? String(v) : v),
          JSON.stringify(
            vector(count(BigInt(i)), str(`m${i % 7}`)),
            (_, v) => typeof v === "bigint" ? String(v) : v,
          ),
        );
      }
    }
  } finally {
    for (const c of clients) c.close();
    await server.close();
    await ep.shutdown();
  }
});

Deno.test("JsonMessageCache.clear forgets the turn's entries at once", () => {
  let built = 0;
  const cache = new JsonMessageCache((m) => (built++, new TextEncoder().encode(m.topic)));
  const m = { topic: "/t", payload: encode(count(1n)) };
  const first = cache.utf8(m);
  equal(cache.utf8({ ...m, payload: m.payload.slice() }), first);
  cache.clear();
  notEqual(cache.utf8(m), first, "built again after clear()");
  equal(built, 2);
  cache.clear(); // also cancels the clearing the second build scheduled
});
