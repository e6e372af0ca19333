import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";
import { str } from "../data/mod.ts";
import { warmUp, warmUpPartOnce } from "../warm_up.ts";
import { peerRaw, SMALLER_ID } from "../../tests/raw_peer.ts";
import { warmUpStoreTraffic } from "./warm_up_store.ts";

const make = (id: string) => new Endpoint({ id, warmUp: false });

Deno.test("warmUpStoreTraffic: a master and a clone exchange the puts asked for, then close", async () => {
  const report = await warmUp(make, {
    messages: 0,
    // A generous time budget: only the count ends it, however busy the machine.
    then: (a, b) => warmUpStoreTraffic(a, b, { puts: 700, budgetMs: 60_000 }),
  });
  assert.equal(report.messages, 700);
  // The test's sanitizers check that nothing (timer, socket) is left open.
});

Deno.test("the store warm-up leaves no trace: no store, no topic in the filter, no frames", async () => {
  const ep = new Endpoint(); // warm-up on (the default)
  const kv = ep.attachMaster("kv"); // the first store starts the store warm-up
  try {
    const port = await ep.listen("127.0.0.1", 0); // waits for it
    // Once per process: this is the report of the warm-up that just ran.
    const report = await warmUpPartOnce(
      "store",
      make,
      () => Promise.reject(new Error("ran twice")),
    );
    assert.ok(report.messages > 0, "the store warm-up ran");
    const status = ep.status();
    assert.deepEqual(Object.keys(status.masters), ["kv"]);
    assert.deepEqual(Object.keys(status.clones), []);
    assert.ok(!ep.filter.some((t) => t.includes("warm-up")), `filter: ${ep.filter}`);
    // A peer subscribed to every "/" topic gets nothing but what we publish after.
    const c = await peerRaw(ep, port, SMALLER_ID, ["/"]);
    try {
      ep.publish("/marker", str("end"));
      const seen: string[] = [];
      for (;;) {
        const f = await c.frame(5000);
        assert.ok(f, "the connection stayed open");
        const text = new TextDecoder("latin1").decode(f);
        seen.push(text);
        if (text.includes("/marker")) break;
      }
      assert.ok(!seen.some((t) => t.includes("warm-up")), "no warm-up frame reached the peer");
    } finally {
      await c.close();
    }
  } finally {
    kv.close();
    await ep.shutdown();
  }
});
