/**
 * ZeroMQ throughput: events/s from a publisher (worker-1) to a subscriber
 * (the manager) through a Zeek 8 cluster's XPUB/XSUB proxy, four ways in
 * the same run, alternating their order round by round (the machine is
 * shared: compare ratios within a run, not runs):
 *
 * - `zeek->zeek`: Zeek's worker to Zeek's manager, Zeek's proxy thread (the baseline);
 * - `ours->zeek`: our `ZeekZmqNode` as worker-1 to Zeek's manager, Zeek's proxy;
 * - `ours->ours`: our node to our node through our `ZmqProxyServer`, all in this process;
 * - `zeek via our proxy`: Zeek's worker to Zeek's manager through our proxy (in this
 *   process, which does nothing else then).
 *
 * Each run publishes N `Bench::ev(count, string)` events as fast as the
 * publisher goes, once the manager's `node_up` came; the rate is what
 * arrived divided by the time from the first to the last arrival, measured
 * by the receiver (Zeek's `current_time()`, or ours). With its defaults
 * Zeek sheds most of such a burst (XPUB/XSUB high-water marks of 1000
 * messages, 10000 events queued for its loop): the bench's Zeek scripts
 * lift those limits, so every case delivers all N and the rates compare
 * the same work.
 *
 * Run: `deno run -A bench/zeromq.ts [--events=N] [--rounds=R]` (default
 * 50000 events, 3 rounds, about 30 s). Output: a table, then `JSON {...}`.
 *
 * @module
 */
import { count, Event, str } from "../mod.ts";
import { ZeekZmqNode, ZmqProxyServer } from "../engine/zeromq/mod.ts";
import { freePort } from "../tests/broker_ref.ts";
import { SCRIPTS, ZeekProcess } from "../tests/zeek/zeek.ts";

const arg = (name: string, dflt: number) => {
  const a = Deno.args.find((x) => x.startsWith(`--${name}=`));
  return a ? Number(a.slice(name.length + 3)) : dflt;
};
const N = arg("events", 50_000);
const ROUNDS = arg("rounds", 3);
const HERE = new URL("./zeromq/", import.meta.url).pathname;
const PATH = [`${SCRIPTS}zeromq`];

interface Result {
  received: number;
  seconds: number;
}

function ports() {
  return { xpub: freePort(), xsub: freePort(), log: freePort() };
}

function env(p: { xpub: number; xsub: number; log: number }, node: string) {
  return {
    CLUSTER_NODE: node,
    XPUB_PORT: `${p.xpub}/tcp`,
    XSUB_PORT: `${p.xsub}/tcp`,
    LOG_PULL_PORT: `${p.log}/tcp`,
    BENCH_N: String(N),
  };
}

async function zeekDone(manager: ZeekProcess): Promise<Result> {
  const [line] = await manager.waitFor("done", { timeoutMs: 60_000 });
  const [, n, secs] = line.split(", ");
  return { received: Number(n), seconds: Number(secs) };
}

function ourPublish(node: ZeekZmqNode): void {
  for (let i = 0; i < N; i++) {
    node.publish(
      "zeek.cluster.manager",
      new Event("Bench::ev", [count(BigInt(i)), str("C1f7x9")]),
    );
  }
}

async function zeekToZeek(viaOurProxy: boolean): Promise<Result> {
  const p = ports();
  const proxy = viaOurProxy
    ? ZmqProxyServer.listen({ xpubPort: p.xpub, xsubPort: p.xsub })
    : undefined;
  const managerScripts = [`${HERE}manager.zeek`, ...(viaOurProxy ? ["zeromq/no-proxy.zeek"] : [])];
  const manager = await ZeekProcess.start(managerScripts, { path: PATH, env: env(p, "manager") });
  const worker = await ZeekProcess.start([`${HERE}worker.zeek`], {
    path: PATH,
    env: env(p, "worker-1"),
  });
  try {
    return await zeekDone(manager);
  } finally {
    await worker.stop();
    await manager.stop();
    await proxy?.close();
  }
}

async function oursToZeek(): Promise<Result> {
  const p = ports();
  const manager = await ZeekProcess.start([`${HERE}manager.zeek`], {
    path: PATH,
    env: env(p, "manager"),
  });
  let node: ZeekZmqNode | undefined;
  try {
    node = await ZeekZmqNode.connect({
      name: "worker-1",
      nodeType: "worker",
      xpub: { host: "127.0.0.1", port: p.xsub },
      xsub: { host: "127.0.0.1", port: p.xpub },
    });
    await node.statuses.get(10_000);
    ourPublish(node);
    return await zeekDone(manager);
  } finally {
    await node?.close();
    await manager.stop();
  }
}

async function oursToOurs(): Promise<Result> {
  const proxy = ZmqProxyServer.listen();
  const at = {
    xpub: { host: "127.0.0.1", port: proxy.xsubPort },
    xsub: { host: "127.0.0.1", port: proxy.xpubPort },
  };
  const manager = await ZeekZmqNode.connect({
    name: "manager",
    nodeType: "manager",
    queueSize: N + 16,
    ...at,
  });
  const worker = await ZeekZmqNode.connect({ name: "worker-1", nodeType: "worker", ...at });
  try {
    await worker.statuses.get(10_000);
    let received = 0, first = 0, last = 0;
    const counting = (async () => {
      while (received < N) {
        const m = await manager.events.get(1000);
        if (!m) break;
        if (received === 0) first = performance.now();
        received++;
        last = performance.now();
        for (const _ of manager.events.poll()) {
          received++;
          last = performance.now();
        }
      }
    })();
    ourPublish(worker);
    await counting;
    return { received, seconds: (last - first) / 1000 };
  } finally {
    await worker.close();
    await manager.close();
    await proxy.close();
  }
}

const CASES: [string, () => Promise<Result>][] = [
  ["zeek->zeek", () => zeekToZeek(false)],
  ["ours->zeek", oursToZeek],
  ["ours->ours", oursToOurs],
  ["zeek via our proxy", () => zeekToZeek(true)],
];

const results = new Map<string, Result[]>(CASES.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order: rotate by one each round.
  const order = CASES.map((_, i) => CASES[(i + round) % CASES.length]);
  for (const [name, run] of order) {
    const r = await run();
    results.get(name)!.push(r);
    console.error(
      `round ${round + 1}: ${name}: ${r.received}/${N} in ${r.seconds.toFixed(3)} s = ${
        Math.round(r.received / r.seconds)
      } ev/s`,
    );
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summary: Record<string, { evPerSec: number; received: number; ratio: number }> = {};
const baseline = median(results.get("zeek->zeek")!.map((r) => r.received / r.seconds));
console.log(`\n${N} events, ${ROUNDS} rounds, median of rates (events/s as received)`);
console.log("case                   ev/s      x zeek->zeek  min received");
for (const [name, rs] of results) {
  const rate = median(rs.map((r) => r.received / r.seconds));
  const received = Math.min(...rs.map((r) => r.received));
  summary[name] = { evPerSec: Math.round(rate), received, ratio: rate / baseline };
  console.log(
    `${name.padEnd(20)} ${String(Math.round(rate)).padStart(9)}  ${
      (rate / baseline).toFixed(2).padStart(12)
    }  ${received}`,
  );
}
console.log(`JSON ${JSON.stringify({ events: N, rounds: ROUNDS, summary })}`);
