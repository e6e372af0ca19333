import assert from "node:assert/strict";
import { Endpoint } from "./endpoint.ts";
import { count, str, vector } from "./data/constructors.ts";
import { memoryStreamPair, warmUp, warmUpOnce } from "./warm_up.ts";

const make = (id: string) => new Endpoint({ id, warmUp: false });

Deno.test("memory streams carry bytes in order, across reads smaller than the writes", async () => {
  const [a, b] = memoryStreamPair();
  const sent: number[] = [];
  for (let k = 0; k < 50; k++) {
    // Enough bytes to make the reader's buffer grow and compact several times.
    const chunk = Uint8Array.from({ length: 3000 + k }, (_, i) => (k * 7 + i) & 0xff);
    sent.push(...chunk);
    await a.write(chunk);
    chunk.fill(0); // the writer reuses its buffer, as TcpConnection does
  }
  const got: number[] = [];
  const buf = new Uint8Array(1000);
  while (got.length < sent.length) {
    const n = await b.read(buf);
    assert.ok(n !== null && n > 0);
    got.push(...buf.subarray(0, n));
  }
  assert.deepEqual(got, sent);
  // Both directions work independently.
  await b.write(new Uint8Array([9, 8]));
  assert.equal(await a.read(buf), 2);
  assert.deepEqual([...buf.subarray(0, 2)], [9, 8]);
});

Deno.test("a pending read ends with null when either end closes", async () => {
  const [a, b] = memoryStreamPair();
  const buf = new Uint8Array(8);
  const pending = b.read(buf);
  a.close();
  assert.equal(await pending, null);
  assert.equal(await a.read(buf), null);
  await assert.rejects(() => b.write(new Uint8Array([1])));
});

Deno.test("two endpoints peer over a memory stream and exchange messages both ways", async () => {
  const a = make(crypto.randomUUID()), b = make(crypto.randomUUID());
  const [sa, sb] = memoryStreamPair();
  const atB = b.subscribe("/to-b"), atA = a.subscribe("/to-a");
  b.adoptStream(sb, "acceptor");
  a.adoptStream(sa, "connector");
  await a.awaitPeerSubscription("/to-b", 5000);
  await b.awaitPeerSubscription("/to-a", 5000);
  assert.equal(a.peers().length, 1);
  assert.equal(a.peers()[0].status, "peered");
  a.publish("/to-b/x", vector(str("ping"), count(1n)));
  const m = await atB.get(5000);
  assert.equal(m?.topic, "/to-b/x");
  b.publish("/to-a/y", count(2n));
  assert.equal((await atA.get(5000))?.data.value, 2n);
  await a.shutdown();
  await b.shutdown();
});

Deno.test("warmUp makes the round trips it is asked for and shuts its endpoints down", async () => {
  let made = 0;
  const report = await warmUp((id) => {
    made++;
    return make(id);
  }, { messages: 40, budgetMs: 60_000 });
  assert.equal(made, 2);
  assert.equal(report.messages, 40);
  assert.ok(report.ms > 0);
  // The test's resource and op sanitizers check that nothing (socket, timer) is left open.
});

Deno.test("warmUp runs `then` on the peered pair and counts its round trips", async () => {
  const report = await warmUp(make, {
    messages: 8,
    budgetMs: 60_000, // only the count ends it, however busy the machine
    then: async (a, b) => {
      const sub = b.subscribe("/then");
      await a.awaitPeerSubscription("/then", 5000);
      a.publish("/then", str("hello"));
      assert.equal((await sub.get(5000))?.data.value, "hello");
      return 1;
    },
  });
  assert.equal(report.messages, 9);
});

Deno.test({
  name: "the warm-up needs neither the network nor the environment",
  permissions: { net: false, env: false, read: false, write: false, run: false },
  async fn() {
    const report = await warmUp(make, { messages: 16, budgetMs: 60_000 });
    assert.equal(report.messages, 16);
  },
});

Deno.test("a failed warm-up rejects in warmUp; warmUpOnce always resolves, once", async () => {
  const failing = () => {
    throw new Error("no endpoint here");
  };
  await assert.rejects(() => warmUp(failing), /no endpoint here/);
  // Whether this is the process's first warmUpOnce (then it fails and
  // resolves empty) or another test's ran first, it resolves, and stays put.
  const first = await warmUpOnce(failing);
  assert.ok(first.messages >= 0);
  assert.equal(await warmUpOnce(make), first);
});

Deno.test("an endpoint with its warm-up on listens and peers as before", async () => {
  const a = new Endpoint(), b = new Endpoint();
  const sub = a.subscribe("/w");
  const port = await a.listen("127.0.0.1", 0);
  await b.peer("127.0.0.1", port, { retryMs: 0 });
  await b.awaitPeerSubscription("/w", 5000);
  b.publish("/w", count(7n));
  assert.equal((await sub.get(5000))?.data.value, 7n);
  await b.shutdown();
  await a.shutdown();
});
