import { deepEqual, equal, ok } from "node:assert/strict";
import { count, dataToString, decode, Endpoint, str } from "../mod.ts";
import { waitFor } from "../tests/raw_peer.ts";

function twoEndpoints(): { a: Endpoint; b: Endpoint; end(): Promise<void> } {
  const a = new Endpoint(), b = new Endpoint();
  return { a, b, end: () => Promise.all([a.shutdown(), b.shutdown()]).then(() => {}) };
}

Deno.test("subscribeWith: a peer's messages reach the callback in order, encoded", async () => {
  const { a, b, end } = twoEndpoints();
  try {
    const got: string[] = [];
    const sub = b.subscribeWith(["/x", "/y"], (topic, payload) => {
      got.push(`${topic} ${dataToString(decode(payload))}`);
    });
    await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
    await a.awaitPeerSubscription("/y");
    for (let i = 0; i < 1000; i++) a.publish(i % 2 ? "/y/1" : "/x", count(BigInt(i)));
    a.publish("/z", str("not subscribed"));
    await waitFor(() => got.length === 1000, "1000 messages", 5000);
    deepEqual(got, Array.from({ length: 1000 }, (_, i) => `${i % 2 ? "/y/1" : "/x"} ${i}`));
    deepEqual(sub.topics.sort(), ["/x", "/y"]);
    sub.close();
    await sub.done;
    equal(sub.closed, true);
  } finally {
    await end();
  }
});

Deno.test("subscribeWith: a callback that throws ends its subscription, not the peering", async () => {
  const { a, b, end } = twoEndpoints();
  try {
    let calls = 0;
    const failing = b.subscribeWith("/t", () => {
      calls++;
      throw new Error("boom");
    });
    const rejecting = b.subscribeWith("/t", () => Promise.reject(new Error("later")));
    const other = b.subscribe("/t");
    await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
    await a.awaitPeerSubscription("/t");
    a.publish("/t", count(1n));
    a.publish("/t", count(2n));
    equal(dataToString((await other.get(5000))!.data), "1");
    equal(dataToString((await other.get(5000))!.data), "2");
    await failing.done;
    await rejecting.done;
    equal(calls, 1);
    equal((failing.error as Error).message, "boom");
    equal((rejecting.error as Error).message, "later");
    a.publish("/t", count(3n)); // the peering goes on
    equal(dataToString((await other.get(5000))!.data), "3");
    equal(b.peers().length, 1);
  } finally {
    await end();
  }
});

Deno.test("subscribeWith: done resolves when the endpoint shuts down", async () => {
  const ep = new Endpoint();
  const sub = ep.subscribeWith("/t", () => {});
  await ep.shutdown();
  await sub.done;
  ok(sub.closed);
  equal(sub.error, undefined);
});
