import assert from "node:assert/strict";
import { Endpoint } from "./endpoint.ts";
import { count } from "./data/mod.ts";

Deno.test("a subscriber whose readable is cancelled leaves the endpoint, and close() after it still works", async () => {
  // Cancelling the stream closed the subscriber's queue only: the endpoint
  // kept routing its topics to it (copying each message, to drop it) and
  // counting it, and close() then did nothing, as the queue was closed.
  const ep = new Endpoint({ warmUp: false });
  try {
    const subs = [];
    for (let i = 0; i < 100; i++) {
      const sub = ep.subscribe(`/t/${i}`);
      await sub.readable.getReader().cancel();
      subs.push(sub);
    }
    // The cancel reaches the subscriber through the stream's pipe, in later tasks.
    for (let i = 0; i < 100 && !subs.every((s) => s.closed); i++) {
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.ok(subs.every((s) => s.closed));
    for (const s of subs) s.close();
    assert.equal(ep.status()["local-subscribers"], 0);
    // Their topics no longer reach them.
    ep.publish("/t/1", count(1n), { local: true });
    assert.equal(subs[1].available(), 0);
  } finally {
    await ep.shutdown();
  }
});

Deno.test("a subscriber's readable delivers, and ends when the subscriber closes", async () => {
  const ep = new Endpoint({ warmUp: false });
  try {
    const sub = ep.subscribe("/r");
    const reader = sub.readable.getReader();
    ep.publish("/r/x", count(7n), { local: true });
    assert.equal((await reader.read()).value?.data.value, 7n);
    sub.close();
    assert.equal((await reader.read()).done, true);
    assert.equal(ep.status()["local-subscribers"], 0);
  } finally {
    await ep.shutdown();
  }
});
