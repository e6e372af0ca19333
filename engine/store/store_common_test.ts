import assert from "node:assert/strict";
import { count, Endpoint, str } from "../../mod.ts";
import { storeTopics } from "./store_common.ts";

Deno.test("store topics join the name as Broker's topic::operator/= does", () => {
  assert.deepEqual(storeTopics("kv"), { master: "kv/<$>/data/master", clone: "kv/<$>/data/clone" });
  // No separator after an empty name; a trailing one is kept and another added.
  assert.deepEqual(storeTopics(""), { master: "<$>/data/master", clone: "<$>/data/clone" });
  assert.equal(storeTopics("a/").master, "a//<$>/data/master");
});

// Broker's store::await_idle is true only when the running store answers that
// it is idle: a reset handle gives false, and so does a store actor the
// endpoint's shutdown killed (the request fails), before or during the wait.
Deno.test("awaitIdle is false on a closed handle, as Broker's on a reset store", async () => {
  const ep = new Endpoint({ warmUp: false });
  try {
    const kv = ep.attachMaster("kv");
    assert.equal(await kv.awaitIdle(1000), true);
    kv.close();
    assert.equal(await kv.awaitIdle(1000), false);
  } finally {
    await ep.shutdown();
  }
});

Deno.test("awaitIdle is false once the store's endpoint has shut down", async () => {
  const ep = new Endpoint({ warmUp: false });
  const kv = ep.attachMaster("kv");
  await kv.put(str("a"), count(1n));
  await ep.shutdown();
  assert.equal(await kv.awaitIdle(1000), false);
});

Deno.test("awaitIdle is false when the endpoint shuts down with a clone's write unsent", async () => {
  const ep = new Endpoint({ warmUp: false });
  // No master anywhere: the write waits in the clone, and the shutdown drops it.
  const clone = ep.attachClone("kv", { tickIntervalMs: 10 });
  await clone.put(str("a"), count(1n));
  const idle = clone.awaitIdle(60_000);
  await ep.shutdown();
  assert.equal(await idle, false);
});
