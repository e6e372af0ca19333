import assert from "node:assert/strict";
import { evalWithGc } from "../tests/gc_eval.ts";
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

Deno.test("a subscriber dropped without close leaves its endpoint once collected, as a destroyed Broker subscriber; one that is read from stays", async () => {
  // The endpoint held every subscriber until close(): one made and let go
  // (a request awaiting its reply, say) stayed for good, each message on its
  // topics copied into its queue until, full, its `block` policy stalled the
  // peers sending them. gc() needs --expose-gc, so this runs in a child process.
  const endpoint = new URL("./endpoint.ts", import.meta.url).href;
  const r = await evalWithGc<Record<string, unknown>>(
    `
      import { Endpoint } from ${JSON.stringify(endpoint)};
      const ep = new Endpoint({ warmUp: false });
      const subscribers = () => ep.status()["local-subscribers"];
      const one = { type: "count", value: 1n };
      const kept = ep.subscribe("/kept");
      // Not referenced, but in use: a pending get, a for-await loop, a callback.
      const pending = ep.subscribe("/pending").get();
      let looped = 0;
      const loop = (async () => {
        for await (const _ of ep.subscribe("/loop")) if (++looped === 2) return;
      })();
      let called = 0;
      ep.subscribeWith("/callback", () => void called++);
      // In a function of its own, so that no frame here holds the last one.
      const drop = () => {
        for (let i = 0; i < 100; i++) ep.subscribe("/dropped/" + i);
      };
      drop();
      const made = subscribers();
      await collectUntil(() => subscribers() === 4);
      const left = subscribers();
      ep.publish("/loop/a", one, { local: true });
      ep.publish("/pending/a", one, { local: true });
      ep.publish("/callback/a", one, { local: true });
      ep.publish("/loop/b", one, { local: true });
      const got = await pending;
      await loop;
      ep.publish("/dropped/7", one, { local: true }); // nobody: no queue takes it
      console.log(JSON.stringify({ made, left, pending: got?.topic, looped, called, kept: kept.topics }));
      await ep.shutdown();
      `,
  );
  assert.equal(r.made, 104);
  assert.equal(r.left, 4, "kept, pending, loop, callback");
  assert.equal(r.pending, "/pending/a");
  assert.equal(r.looped, 2);
  assert.equal(r.called, 1);
});
