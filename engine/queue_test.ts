import assert from "node:assert/strict";
import { BoundedQueue } from "./queue.ts";
import { settledWithin } from "../tests/store_helpers.ts";

Deno.test("drop policies keep the bound and count drops", () => {
  const oldest = new BoundedQueue<number>(2, "drop_oldest");
  for (const i of [1, 2, 3, 4]) oldest.push(i);
  assert.deepEqual(oldest.poll(), [3, 4]);
  assert.equal(oldest.dropped, 2);
  const newest = new BoundedQueue<number>(2, "drop_newest");
  for (const i of [1, 2, 3, 4]) newest.push(i);
  assert.deepEqual(newest.poll(), [1, 2]);
  assert.equal(newest.dropped, 2);
});

Deno.test("block makes producers wait until a reader takes an item", async () => {
  const q = new BoundedQueue<number>(1, "block");
  assert.equal(q.push(1), undefined);
  const pending = q.push(2);
  assert.ok(pending instanceof Promise);
  let settled = false;
  pending.then(() => settled = true);
  await new Promise((r) => setTimeout(r, 10));
  assert.equal(settled, false);
  assert.equal(await q.get(), 1);
  await pending;
  assert.equal(await q.get(), 2);
});

Deno.test("get waits, times out, and ends on close", async () => {
  const q = new BoundedQueue<string>(4, "drop_oldest");
  assert.equal(await q.get(10), undefined);
  const later = q.get();
  q.push("x");
  assert.equal(await later, "x");
  q.push("y");
  q.close();
  assert.equal(await q.get(), "y");
  assert.equal(await q.get(), undefined);
  q.push("ignored");
  assert.equal(q.length, 0);
});

Deno.test("async iteration and the stream view", async () => {
  const q = new BoundedQueue<number>(8, "block");
  for (const i of [1, 2, 3]) q.push(i);
  q.close();
  const seen: number[] = [];
  for await (const v of q) seen.push(v);
  assert.deepEqual(seen, [1, 2, 3]);
  const q2 = new BoundedQueue<number>(8, "block");
  q2.push(5);
  q2.close();
  const reader = q2.stream().getReader();
  assert.deepEqual(await reader.read(), { done: false, value: 5 });
  assert.deepEqual(await reader.read(), { done: true, value: undefined });
});

Deno.test("block: a freed slot never wakes a reader with nothing to give", async () => {
  const q = new BoundedQueue<number>(1, "block");
  q.push(1);
  const pending = q.push(2);
  assert.deepEqual(q.poll(), [1, 2]);
  const next = q.get(); // registered before the producer's promise settles
  await pending;
  q.push(3);
  assert.equal(await next, 3, "get() waited for a real item");
  assert.equal(q.closed, false);
});

Deno.test("a byte bound: drop policies and block keep the queue within maxBytes", async () => {
  const sizeOf = (s: string) => s.length;
  const newest = new BoundedQueue<string>(100, "drop_newest", { maxBytes: 10, sizeOf });
  newest.push("aaaa");
  newest.push("bbbb");
  newest.push("cccc"); // 12 > 10: dropped
  assert.deepEqual(newest.poll(), ["aaaa", "bbbb"]);
  assert.equal(newest.dropped, 1);
  assert.equal(newest.bytes, 0);
  const big = new BoundedQueue<string>(100, "drop_newest", { maxBytes: 10, sizeOf });
  big.push("x".repeat(50)); // larger than the bound, but the queue is empty
  assert.equal(big.length, 1);

  const oldest = new BoundedQueue<string>(100, "drop_oldest", { maxBytes: 10, sizeOf });
  for (const s of ["aaa", "bbb", "ccc", "dddddd"]) oldest.push(s);
  assert.deepEqual(oldest.poll(), ["ccc", "dddddd"]);
  assert.equal(oldest.dropped, 2);

  const block = new BoundedQueue<string>(100, "block", { maxBytes: 10, sizeOf });
  block.push("aaaa");
  block.push("bbbb");
  let inside = false;
  const waiting = block.push("cccccc");
  assert.ok(waiting instanceof Promise);
  waiting.then(() => inside = true);
  assert.equal(await block.get(), "aaaa"); // 4 + 6 = 10: now it fits
  await waiting;
  assert.ok(inside);
  assert.deepEqual(block.poll(), ["bbbb", "cccccc"]);
});

Deno.test("onTake sees every read (get, a waiting get, shift, poll), never a drop", async () => {
  const q = new BoundedQueue<number>(2, "drop_oldest");
  const taken: number[] = [];
  q.onTake((n) => taken.push(n));
  const waiting = q.get(); // handed the next push directly
  q.push(1);
  assert.equal(await waiting, 1);
  q.push(2);
  q.push(3);
  q.push(4); // drops 2
  assert.equal(q.shift(), 3);
  q.push(5);
  assert.deepEqual(q.poll(), [4, 5]);
  q.push(6);
  assert.equal(await q.get(), 6);
  assert.deepEqual(taken, [1, 3, 4, 5, 6]);
});

Deno.test("a get whose timeout passes a timer's longest delay waits instead of ending at once", async () => {
  const q = new BoundedQueue<number>(4, "drop_oldest");
  for (const timeoutMs of [3_600_000_000, Infinity]) {
    const got = q.get(timeoutMs);
    assert.equal(await settledWithin(got, 50), "unsettled", `get(${timeoutMs})`);
    q.push(7);
    assert.equal(await got, 7);
  }
});
