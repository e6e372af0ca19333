// Issue 11: a clone with no master must not buffer writes without bound.
// Writes beyond `mutationBufferSize` (or `mutationBufferBytes`) fail with
// `no_such_master`; the buffer stays at its bound; when a master appears,
// the buffered writes reach it in order.
import assert from "node:assert/strict";
import { BrokerError, count, dataToString, Endpoint, ErrorCode, Store, str } from "../mod.ts";
import { StoreClone } from "../engine/store/clone.ts";
import { DEFAULT_MUTATION_BUFFER_SIZE } from "../engine/store/options.ts";
import { FAST, opts, pair } from "./store_helpers.ts";

const isNoSuchMaster = (e: unknown) =>
  e instanceof BrokerError && e.code === ErrorCode.no_such_master;

/** Issues every write at once and sorts the outcomes by index. */
async function settle(writes: Promise<unknown>[]): Promise<{ ok: number[]; refused: number[] }> {
  const results = await Promise.allSettled(writes);
  const ok: number[] = [], refused: number[] = [];
  results.forEach((r, i) => {
    if (r.status === "fulfilled") ok.push(i);
    else if (isNoSuchMaster(r.reason)) refused.push(i);
    else throw r.reason;
  });
  return { ok, refused };
}

Deno.test(
  "a clone without master keeps N writes, refuses the rest, sends the N once a master comes",
  opts,
  async () => {
    const [a, b] = await pair();
    const N = 100;
    const actor = new StoreClone(b, "kv", { ...FAST, mutationBufferSize: N });
    const clone = new Store(actor);
    try {
      const { ok, refused } = await settle(
        Array.from({ length: N + 50 }, (_, i) => clone.put(count(BigInt(i)), str(`v${i}`))),
      );
      assert.deepEqual(ok, Array.from({ length: N }, (_, i) => i), "the first N are kept");
      assert.equal(refused.length, 50);
      assert.equal(actor.pendingWrites, N, "the buffer stays at its bound");
      await assert.rejects(clone.putUnique(str("u"), count(1n)), isNoSuchMaster);
      await assert.rejects(clone.increment(str("c")), isNoSuchMaster);
      await assert.rejects(clone.clear(), isNoSuchMaster);
      assert.equal(actor.pendingWrites, N);
      // The master appears: the N buffered writes reach it, and nothing else.
      const master = a.attachMaster("kv", undefined, FAST);
      try {
        assert.equal(await clone.awaitIdle(5000), true);
        assert.equal(actor.pendingWrites, 0);
        assert.equal(actor.pendingBytes, 0);
        assert.equal((await master.keys()).length, N);
        assert.equal(dataToString(await master.get(count(0n))), "v0");
        assert.equal(dataToString(await master.get(count(BigInt(N - 1)))), `v${N - 1}`);
        assert.equal(await master.exists(count(BigInt(N))), false, "a refused write stays refused");
        // With a master, writes are no longer bounded by the buffer.
        await settle(Array.from({ length: 2 * N }, (_, i) => clone.put(str(`w${i}`), count(1n))));
        assert.equal(await clone.awaitIdle(5000), true);
        assert.equal((await master.keys()).length, 3 * N);
      } finally {
        master.close();
      }
    } finally {
      clone.close();
      await b.shutdown();
      await a.shutdown();
    }
  },
);

Deno.test("a clone without master bounds its buffer in bytes too", opts, async () => {
  const ep = new Endpoint();
  const actor = new StoreClone(ep, "kv", { ...FAST, mutationBufferBytes: 10_000 });
  const clone = new Store(actor);
  try {
    const big = str("x".repeat(1000));
    const { ok, refused } = await settle(
      Array.from({ length: 30 }, (_, i) => clone.put(count(BigInt(i)), big)),
    );
    // Each put is about 1 KB (key and value): nine fit in 10 000 bytes.
    assert.ok(ok.length >= 9 && ok.length <= 10, `${ok.length} kept`);
    assert.equal(ok.length + refused.length, 30);
    assert.ok(actor.pendingBytes <= 10_000);
    // One write larger than the whole bound still fits an empty buffer.
    const lone = new StoreClone(ep, "other", { ...FAST, mutationBufferBytes: 100 });
    await new Store(lone).put(str("k"), big);
    assert.equal(lone.pendingWrites, 1);
    lone.close();
  } finally {
    clone.close();
    await ep.shutdown();
  }
});

Deno.test("the default bound: a clone without master keeps 8192 writes", opts, async () => {
  const ep = new Endpoint();
  const actor = new StoreClone(ep, "kv", FAST);
  const clone = new Store(actor);
  try {
    let refused = 0;
    for (let i = 0; i < 20_000;) {
      const batch = [];
      for (let k = 0; k < 1000; k++, i++) batch.push(clone.put(count(BigInt(i)), count(1n)));
      refused += (await settle(batch)).refused.length;
      assert.ok(actor.pendingWrites <= DEFAULT_MUTATION_BUFFER_SIZE);
    }
    // Unbounded, 400k such puts held ~81 MB and kept growing.
    assert.equal(actor.pendingWrites, DEFAULT_MUTATION_BUFFER_SIZE);
    assert.equal(refused, 20_000 - DEFAULT_MUTATION_BUFFER_SIZE);
  } finally {
    clone.close();
    await ep.shutdown();
  }
});
