/**
 * Gateway throughput: messages/s from an external publisher to an internal
 * subscriber through a `Gateway`, beside a direct peering of the same two
 * endpoints and beside a C++ `broker-node` relay between them, in the same
 * run (the machine is shared: compare rows of one run, not runs).
 *
 * Publisher and subscriber run in this process over real TCP on 127.0.0.1:
 * the publisher respects back-pressure (`demand` / `ready`), so nothing is
 * lost, and the subscriber counts validated messages without building
 * values. The gateway runs twice: in this process (its two endpoints share
 * the event loop with publisher and subscriber, so it can at best halve the
 * rate) and as `broker gateway` in its own process, which is the fair
 * comparison with the C++ relay (in its own process too) and the one the
 * targets are about.
 *
 * Run: `deno task bench:gateway` (about 20 s) or with `--quick` (about 8 s).
 * Output: a table, then one line `JSON {...}`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { count, encode, Endpoint, Gateway, str, type Subscriber, vector } from "../mod.ts";
import { brokerRefTool, freePort, RefProcess, waitForPort } from "../tests/broker_ref.ts";

const QUICK = Deno.args.includes("--quick");
const WARM_MS = QUICK ? 500 : 1000;
const RUN_MS = QUICK ? 1500 : 4000;
const TOPIC = "/bench/gw";

/** A small Zeek-like event: (name, (uid, count, host)). */
const PAYLOAD = encode(
  vector(count(1n), count(1n), vector(str("conn"), vector(str("C1f7x9"), count(42n), str("h1")))),
);

/** Publishes flat out, within the peers' demand, until `stop()`. */
async function publishFlatOut(pub: Endpoint, stop: () => boolean): Promise<void> {
  while (!stop()) {
    const d = pub.demand(TOPIC);
    if (d <= 0) {
      await pub.ready(TOPIC);
      continue;
    }
    for (let i = 0; i < Math.min(d, 512); i++) pub.publishEncoded(TOPIC, PAYLOAD);
    await new Promise((r) => setImmediate(r));
  }
}

/** Counts what `sub` receives until `stop()`; `at(t)` reads the count at a time. */
function counter(sub: Subscriber, stop: () => boolean) {
  let n = 0;
  const done = (async () => {
    while (!stop()) {
      const m = await sub.getEncoded(100);
      if (m) n += 1 + sub.pollEncoded().length;
    }
  })();
  return { get: () => n, done };
}

/** Messages/s between the end of the warm-up and the end of the run. */
async function measure(pub: Endpoint, sub: Subscriber): Promise<number> {
  let stopped = false;
  const stop = () => stopped;
  const c = counter(sub, stop);
  const publishing = publishFlatOut(pub, stop);
  await new Promise((r) => setTimeout(r, WARM_MS));
  const n0 = c.get(), t0 = performance.now();
  await new Promise((r) => setTimeout(r, RUN_MS));
  const n1 = c.get(), t1 = performance.now();
  stopped = true;
  await publishing;
  await c.done;
  return (n1 - n0) / ((t1 - t0) / 1000);
}

async function direct(): Promise<number> {
  const pub = new Endpoint(), recv = new Endpoint();
  try {
    const sub = recv.subscribe(TOPIC);
    await pub.peer("127.0.0.1", await recv.listen("127.0.0.1", 0), { retryMs: 0 });
    await pub.awaitPeerSubscription(TOPIC);
    return await measure(pub, sub);
  } finally {
    await Promise.all([pub.shutdown(), recv.shutdown()]);
  }
}

async function throughGateway(): Promise<number> {
  const gw = new Gateway({ external: { port: 0 }, internal: { port: 0 } });
  const ports = await gw.start();
  const pub = new Endpoint(), recv = new Endpoint();
  try {
    const sub = recv.subscribe(TOPIC);
    await recv.peer("127.0.0.1", ports.internal!, { retryMs: 0 });
    await pub.peer("127.0.0.1", ports.external!, { retryMs: 0 });
    await pub.awaitPeerSubscription(TOPIC);
    return await measure(pub, sub);
  } finally {
    await Promise.all([pub.shutdown(), recv.shutdown()]);
    await gw.shutdown();
  }
}

async function throughGatewayProcess(): Promise<number> {
  const ext = freePort(), int = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/main.ts", import.meta.url).pathname,
      "gateway",
      "--disable-ssl",
      "--external.address=127.0.0.1",
      `--external.port=${ext}`,
      "--internal.address=127.0.0.1",
      `--internal.port=${int}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const pub = new Endpoint(), recv = new Endpoint();
  try {
    await waitForPort(ext, 20_000);
    await waitForPort(int);
    const sub = recv.subscribe(TOPIC);
    await recv.peer("127.0.0.1", int, { retryMs: 0 });
    await pub.peer("127.0.0.1", ext, { retryMs: 0 });
    await pub.awaitPeerSubscription(TOPIC);
    return await measure(pub, sub);
  } finally {
    await Promise.all([pub.shutdown(), recv.shutdown()]);
    child.kill("SIGTERM");
    await child.status;
  }
}

async function throughCppRelay(): Promise<number | string> {
  try {
    brokerRefTool("broker-node");
  } catch (e) {
    return (e as Error).message;
  }
  const p = freePort();
  const relay = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    // Broker cuts a peer whose buffer overflows (2048 messages); flat out, the
    // subscriber's would, so the buffer is large enough for a run, as bench/peering.ts does.
    "--peer-buffer-size=10000000",
    `--topics=["${TOPIC}"]`,
    "-p",
    String(p),
  ]);
  const pub = new Endpoint(), recv = new Endpoint();
  try {
    await waitForPort(p);
    const sub = recv.subscribe(TOPIC);
    await recv.peer("127.0.0.1", p, { retryMs: 0 });
    await pub.peer("127.0.0.1", p, { retryMs: 0 });
    await pub.awaitPeerSubscription(TOPIC);
    return await measure(pub, sub);
  } finally {
    await Promise.all([pub.shutdown(), recv.shutdown()]);
    await relay.stop();
  }
}

const rows: [string, number | string][] = [];
for (
  const [name, run] of [
    ["direct peering", direct],
    ["through a Gateway in this process", throughGateway],
    ["through broker gateway (own process)", throughGatewayProcess],
    ["through a C++ broker-node relay", throughCppRelay],
  ] as const
) {
  Deno.stderr.writeSync(new TextEncoder().encode(`${name} ...\n`));
  rows.push([name, await run()]);
}
const rate = (r: number | string) => typeof r === "number" ? r : NaN;
const [d, g, gp, c] = rows.map(([, r]) => rate(r));
console.log(`payload ${PAYLOAD.length} B, ${RUN_MS / 1000} s after ${WARM_MS / 1000} s warm-up`);
for (const [name, r] of rows) {
  console.log(
    `${name.padEnd(40)} ${
      typeof r === "number" ? `${Math.round(r).toLocaleString("en")} msg/s` : r
    }`,
  );
}
// The fair pair for the targets: the gateway in its own process, as the C++ relay runs in its own.
const cost = 1 - gp / d, vsCpp = gp / c;
console.log(`broker gateway's cost vs direct: ${(cost * 100).toFixed(0)} % (target < 30 %)`);
console.log(`broker gateway vs C++ relay: ${vsCpp.toFixed(1)}x (target > 3x)`);
console.log(
  `JSON ${
    JSON.stringify({
      direct: d,
      gatewayInProcess: g,
      gatewayProcess: gp,
      cppRelay: c,
      cost,
      vsCpp,
      quick: QUICK,
    })
  }`,
);
