import assert from "node:assert/strict";
import { count, dataToString, encode, str, validateForLater, vector } from "../data/mod.ts";
import { Endpoint } from "../endpoint.ts";
import { BatchReader, BatchWriter } from "./batch.ts";
import { WorkerSubscription } from "./worker_subscription.ts";

/** Count 5 then count 3 in a set: validates, but must be re-sorted when built. */
const UNSORTED_SET = new Uint8Array([12, 2, 2, 0, 0, 0, 0, 0, 0, 0, 5, 2, 0, 0, 0, 0, 0, 0, 0, 3]);

Deno.test("batches carry topics, flags and payloads of any size, in order", () => {
  const w = new BatchWriter(256);
  const r = new BatchReader();
  const got: string[] = [];
  const want: string[] = [];
  const drain = () => {
    for (const m of r.read(w.take())) got.push(`${m.topic} ${dataToString(m.data)}`);
  };
  const add = (topic: string, payload: Uint8Array, text: string) => {
    want.push(`${topic} ${text}`);
    const unsorted = validateForLater(payload);
    if (!w.add(topic, payload, unsorted)) {
      drain();
      assert.ok(w.add(topic, payload, unsorted), "an empty batch takes any payload");
    }
  };
  assert.equal(validateForLater(UNSORTED_SET), true);
  add("/s", UNSORTED_SET, "{3, 5}");
  // Past the topic table's 4,096 entries both sides start afresh, in step.
  for (let k = 0; k < 5000; k++) add(`/t/${k % 4500}`, encode(count(BigInt(k))), String(k));
  const big = "x".repeat(1000);
  add("/big", encode(vector(str(big))), `(${big})`);
  add("/t/1", encode(count(1n)), "1");
  drain();
  assert.equal(got.length, want.length);
  assert.deepEqual(got, want);
});

/** A test consumer in a real Worker; its lines arrive on `lines`. */
function consumerWorker(): {
  worker: Worker;
  lines: string[];
  waitFor: (n: number) => Promise<void>;
} {
  const worker = new Worker(new URL("./test_consumer.ts", import.meta.url), { type: "module" });
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  worker.onmessage = (e: MessageEvent<string>) => {
    lines.push(e.data);
    wake?.();
  };
  const waitFor = async (n: number) => {
    while (lines.length < n) await new Promise<void>((r) => wake = r);
  };
  return { worker, lines, waitFor };
}

Deno.test("a worker consumes what a peer sends over TCP, in order, with back-pressure", async () => {
  const a = new Endpoint(), b = new Endpoint();
  const { worker, lines } = consumerWorker();
  try {
    // Small batches, one in flight, a consumer that sometimes waits: the peer must be held back.
    const ws = new WorkerSubscription(b.subscribe("/w"), worker, {
      batchBytes: 512,
      maxBatchesInFlight: 1,
    });
    await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
    await a.awaitPeerSubscription("/w");
    const n = 3000;
    const want: string[] = [];
    for (let k = 0; k < n; k++) {
      const v = k % 500 === 0 ? str("slow") : vector(count(BigInt(k)), str(`e${k}`));
      want.push(`/w/${k % 3} ${dataToString(v)}`);
      while (a.demand("/w/x") <= 0) await a.ready("/w/x");
      a.publish(`/w/${k % 3}`, v);
    }
    while (ws.consumed < n) await new Promise((r) => setTimeout(r, 10));
    ws.close();
    await ws.done;
    assert.equal(ws.consumed, n);
    assert.deepEqual(lines, want);
  } finally {
    worker.terminate();
    await Promise.all([a.shutdown(), b.shutdown()]);
  }
});

Deno.test("local publishes reach the worker; shutdown ends the subscription after the rest", async () => {
  const ep = new Endpoint();
  const { worker, lines, waitFor } = consumerWorker();
  try {
    const sub = ep.subscribe("/l");
    ep.publish("/l/a", count(1n), { local: true }); // queued before the worker takes over
    const ws = new WorkerSubscription(sub, worker);
    ep.publish("/l/b", str("two"), { local: true });
    ep.publishEncoded("/x", encode(count(9n))); // no match: not delivered
    ep.publish("/l/c", vector(), { local: true });
    await ep.shutdown();
    await ws.done;
    await waitFor(3);
    assert.deepEqual(lines, ["/l/a 1", "/l/b two", "/l/c ()"]);
    assert.equal(ws.consumed, 3);
  } finally {
    worker.terminate();
  }
});

Deno.test("a consumer that throws ends its subscription and rejects done", async () => {
  const ep = new Endpoint();
  const { worker, lines, waitFor } = consumerWorker();
  try {
    const sub = ep.subscribe("/e");
    const ws = new WorkerSubscription(sub, worker);
    ep.publish("/e", count(1n), { local: true });
    ep.publish("/e", str("boom"), { local: true });
    ep.publish("/e", count(3n), { local: true });
    await assert.rejects(ws.done, /boom in the consumer/);
    assert.ok(sub.closed);
    await waitFor(1);
    assert.deepEqual(lines, ["/e 1"]);
  } finally {
    worker.terminate();
    await ep.shutdown();
  }
});

Deno.test("a worker whose module fails ends the subscription instead of holding the peers", async () => {
  const ep = new Endpoint();
  const worker = new Worker("data:application/javascript,throw new Error('no consumer here')", {
    type: "module",
  });
  // The test handles the worker's error itself, as an application would.
  worker.onerror = (e) => e.preventDefault();
  try {
    const sub = ep.subscribe("/f");
    const ws = new WorkerSubscription(sub, worker);
    ep.publish("/f", count(1n), { local: true });
    await assert.rejects(ws.done, /no consumer here/);
    assert.ok(sub.closed);
    assert.equal(ws.consumed, 0);
  } finally {
    worker.terminate();
    await ep.shutdown();
  }
});
