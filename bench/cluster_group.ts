/**
 * Load-balanced group throughput beside a plain subscription, in one run (a
 * `deno run` script: `deno bench bench/` leaves it alone):
 * a publisher endpoint and three consumer endpoints peered over loopback in
 * this process. Plain: every consumer subscribes the topic and gets every
 * message (messages/s counts one delivery per message). Group: three
 * members share the messages, round-robin, without and with
 * acknowledgements (acknowledged: until the last acknowledgement is back).
 * Also `hrwTopic` calls/s for string keys.
 *
 * @example
 * ```sh
 * deno run -A bench/cluster_group.ts          # 200k messages per case
 * deno run -A bench/cluster_group.ts --quick  # 20k
 * ```
 *
 * @module
 */
import { count, Endpoint, GroupMember, GroupPublisher, Pool } from "../mod.ts";

const N = Deno.args.includes("--quick") ? 20_000 : 200_000;
const SLICE = 1000;

async function peered(): Promise<{ pub: Endpoint; consumers: Endpoint[] }> {
  const pub = new Endpoint();
  const port = await pub.listen("127.0.0.1", 0);
  const consumers = [new Endpoint(), new Endpoint(), new Endpoint()];
  return {
    pub,
    consumers: await Promise.all(consumers.map((c) => c.peer("127.0.0.1", port).then(() => c))),
  };
}

async function plain(): Promise<number> {
  const { pub, consumers } = await peered();
  const subs = consumers.map((c) => c.subscribe("bench/plain", { queueSize: 65536 }));
  await pub.awaitPeerSubscription("bench/plain");
  // Wait until all three consumers' filters are known.
  while (pub.peerSubscriptions().length === 0) await new Promise((r) => setTimeout(r, 5));
  const start = performance.now();
  // One of the three reads all N (the others read their copies too).
  const reading = subs.map(async (s) => {
    for (let got = 0; got < N; got++) {
      if (!(await s.get())) throw new Error("subscriber closed: a peering was lost");
    }
  });
  for (let i = 0; i < N;) {
    for (let j = 0; j < SLICE; j++) pub.publish("bench/plain", count(BigInt(++i)));
    // As GroupPublisher.ready: room for a whole slice, not just "below half".
    while (pub.demand("bench/plain") < SLICE) {
      await pub.ready("bench/plain");
      if (pub.demand("bench/plain") < SLICE) await new Promise((r) => setTimeout(r, 1));
    }
  }
  await Promise.all(reading);
  const s = (performance.now() - start) / 1000;
  for (const c of consumers) await c.shutdown();
  await pub.shutdown();
  return N / s;
}

async function group(acked: boolean): Promise<number> {
  const { pub, consumers } = await peered();
  const publisher = new GroupPublisher(pub, acked ? "bench-acked" : "bench", { acked });
  const members = consumers.map((c) => new GroupMember(c, acked ? "bench-acked" : "bench"));
  await publisher.waitForMembers(3);
  let got = 0;
  let done!: () => void;
  const all = new Promise<void>((r) => done = r);
  const reading = members.map(async (m) => {
    for await (const msg of m) {
      msg.ack();
      if (++got === N) done();
    }
  });
  const start = performance.now();
  for (let i = 0; i < N;) {
    for (let j = 0; j < SLICE; j++) publisher.publish(count(BigInt(++i)));
    await publisher.ready(SLICE);
  }
  await all;
  if (acked) await publisher.drained();
  const s = (performance.now() - start) / 1000;
  for (const m of members) m.close();
  await publisher.close();
  for (const c of consumers) await c.shutdown();
  await pub.shutdown();
  await Promise.all(reading);
  return N / s;
}

function hrw(): number {
  const pool = new Pool(["proxy-1", "proxy-2", "proxy-3"]);
  const keys = Array.from({ length: 1024 }, (_, i) => `10.${i >> 8}.${i & 255}.7`);
  let sink = 0;
  const start = performance.now();
  const rounds = 2000;
  for (let r = 0; r < rounds; r++) for (const k of keys) sink += pool.hrwTopic(k).length;
  const s = (performance.now() - start) / 1000;
  if (sink < 0) console.log(sink);
  return (rounds * keys.length) / s;
}

const fmt = (v: number) => Math.round(v).toLocaleString("en-US");
console.log(`hrwTopic, 3 proxies, string keys: ${fmt(hrw())} calls/s`);
console.log(`plain subscription, 3 subscribers:  ${fmt(await plain())} messages/s (each to all 3)`);
console.log(`group, 3 members, round-robin:      ${fmt(await group(false))} messages/s`);
console.log(`group, 3 members, acknowledged:     ${fmt(await group(true))} messages/s`);
