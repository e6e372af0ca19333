/**
 * ZeroMQ throughput: events/s from a publisher (worker-1) to a subscriber
 * (the manager) through a Zeek 8 cluster's XPUB/XSUB proxy, four ways in
 * the same run, alternating their order round by round (the machine is
 * shared: compare ratios within a run, not runs):
 *
 * - `zeek->zeek`: Zeek's worker to Zeek's manager, Zeek's proxy thread (the baseline);
 * - `ours->zeek`: our `ZeekZmqNode` as worker-1 to Zeek's manager, Zeek's proxy;
 * - `ours->ours`: our node to our node through our proxy (`broker zeromq` in a process of
 *   its own, as Zeek's proxy has a thread of its own; the nodes share this process);
 * - `ours->ours, zeek proxy`: the same two nodes through a Zeek manager's proxy thread
 *   (the events are on a topic the manager does not subscribe: it only forwards), so
 *   beside `ours->ours` it compares the proxies with the same, fast, endpoints;
 * - `zeek via our proxy`: Zeek's worker to Zeek's manager through our proxy (`broker zeromq`);
 * - `raw->raw, our proxy` and `raw->raw, zeek proxy`: the proxies alone, between endpoints
 *   that cost next to nothing (`bench/zeromq/raw.ts`: a publisher that writes its
 *   pre-encoded messages at once, a receiver that counts messages without reading them), so
 *   the rate is what the proxy forwards; 10 N messages (`--raw-events`), as N take the
 *   proxies only tens of milliseconds;
 * - `raw->zeek`: that publisher to Zeek's manager through Zeek's proxy: how fast Zeek's
 *   manager takes events from the fastest possible sender.
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
 * Our proxy runs as `broker zeromq` in a process of its own, started per
 * run and warmed up with 3 bursts of N events (`--warm-up=B`) between two nodes of ours
 * before the measured one (its JIT would otherwise be measured; Zeek's
 * proxy is compiled ahead of time).
 *
 * Run: `deno run -A bench/zeromq.ts [--events=N] [--rounds=R] [--only="case;case"]`
 * (default 50000 events, 3 rounds, about 90 s). Output: a table, our proxy's
 * rate over Zeek's per round, then `JSON {...}`.
 *
 * @module
 */
import { count, Event, str } from "../mod.ts";
import { ZeekZmqNode } from "../engine/zeromq/mod.ts";
import { freePort, waitForPort } from "../tests/broker_ref.ts";
import { SCRIPTS, ZeekProcess } from "../tests/zeek/zeek.ts";
import { type ProxyAt, proxyAt, RawPublisher, RawReceiver } from "./zeromq/raw.ts";
import { numberOption } from "./args.ts";
import { median } from "./stats.ts";

const N = numberOption("--events", 50_000);
/** Messages of the raw cases: ten times as many, as the proxies alone go through N in tens of ms. */
const RAW_N = numberOption("--raw-events", 10 * N);
const ROUNDS = numberOption("--rounds", 3);
/** Bursts of N events through our proxy process before a measured run. */
const WARM_UP_BURSTS = numberOption("--warm-up", 3);
const HERE = new URL("./zeromq/", import.meta.url).pathname;
const PATH = [`${SCRIPTS}zeromq`];

interface Result {
  /** Events published (N, or RAW_N in the raw cases). */
  sent?: number;
  received: number;
  seconds: number;
  /** Seconds the publisher's loop took to hand all N events to its socket, when known. */
  publishSeconds?: number;
}

// The proxy's CLI: this checkout's, or another's to compare (BENCH_PROXY_MAIN); with
// BENCH_PROXY_PROF=dir the proxy writes a CPU profile there when it stops.
const MAIN = Deno.env.get("BENCH_PROXY_MAIN") ??
  new URL("../cli/main.ts", import.meta.url).pathname;
const PROF = Deno.env.get("BENCH_PROXY_PROF");

/** Our proxy in a process of its own (`broker zeromq`), as Zeek's runs in a thread of its own. */
async function ourProxyProcess(p: { xpub: number; xsub: number }): Promise<() => Promise<void>> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      ...(PROF ? ["--cpu-prof", `--cpu-prof-dir=${PROF}`] : []),
      MAIN,
      "zeromq",
      `--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:${p.xpub}`,
      `--zeromq.listen-xsub-endpoint=tcp://127.0.0.1:${p.xsub}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await waitForPort(p.xsub, 20_000);
  await waitForPort(p.xpub, 20_000);
  // Warm its JIT up first (Zeek's proxy is compiled ahead of time): events between two
  // nodes of ours on a topic of their own, until a burst as large as the run went through.
  const at = proxyAt(p);
  const a = await ZeekZmqNode.connect({
    name: "warm-a",
    nodeType: "worker",
    xpubSndhwm: 0, // the burst goes at once, as in the runs
    ...at,
  });
  const b = await ZeekZmqNode.connect({
    name: "warm-b",
    nodeType: "worker",
    queueSize: N + 16,
    ...at,
  });
  b.subscribe("/warm-up/");
  while (!a.wants("/warm-up/x")) await new Promise((r) => setTimeout(r, 10));
  for (let burst = 0; burst < WARM_UP_BURSTS; burst++) {
    ourPublish(a, "/warm-up/x");
    for (let got = 0; got < N;) {
      if (!await b.events.get(10_000)) throw new Error("the warm-up did not get through");
      got += 1 + b.events.poll().length;
    }
  }
  await a.close();
  await b.close();
  return async () => {
    child.kill("SIGTERM");
    await child.status;
  };
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

/** Publishes N events; returns the seconds the loop took. */
function ourPublish(node: ZeekZmqNode, topic = "zeek.cluster.manager"): number {
  const start = performance.now();
  for (let i = 0; i < N; i++) {
    node.publish(
      topic,
      new Event("Bench::ev", [count(BigInt(i)), str("C1f7x9")]),
    );
  }
  return (performance.now() - start) / 1000;
}

async function zeekToZeek(viaOurProxy: boolean): Promise<Result> {
  const p = ports();
  const stopProxy = viaOurProxy ? await ourProxyProcess(p) : undefined;
  const managerScripts = [`${HERE}manager.zeek`, ...(viaOurProxy ? ["zeromq/no-proxy.zeek"] : [])];
  const manager = await ZeekProcess.start(managerScripts, { path: PATH, env: env(p, "manager") });
  const worker = await ZeekProcess.start([`${HERE}worker.zeek`], {
    path: PATH,
    env: env(p, "worker-1"),
  });
  try {
    const result = await zeekDone(manager);
    const [line] = await worker.waitFor("published");
    return { ...result, publishSeconds: Number(line.split(", ")[2]) };
  } finally {
    await worker.stop();
    await manager.stop();
    await stopProxy?.();
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
      ...proxyAt(p),
      // As worker.zeek's redef: the burst is handed over at once, none dropped.
      xpubSndhwm: 0,
    });
    await node.statuses.get(10_000);
    const publishSeconds = ourPublish(node);
    return { ...(await zeekDone(manager)), publishSeconds };
  } finally {
    await node?.close();
    await manager.stop();
  }
}

// A proxy on fresh ports, ours or the proxy thread of a Zeek manager; `stop` ends it.
async function startProxy(
  viaZeekProxy: boolean,
): Promise<{ at: ProxyAt; stop: () => Promise<void> }> {
  const p = ports();
  if (!viaZeekProxy) return { at: proxyAt(p), stop: await ourProxyProcess(p) };
  const zeek = await ZeekProcess.start([`${HERE}manager.zeek`], {
    path: PATH,
    env: env(p, "manager"),
  });
  return {
    at: proxyAt(p),
    stop: async () => {
      await zeek.stop();
    },
  };
}

// Our worker-1 to our receiver node through a proxy: ours, or the proxy thread of a Zeek
// manager whose own topics are not the ones published on (so it only forwards).
async function oursToOurs(viaZeekProxy: boolean): Promise<Result> {
  const { at, stop } = await startProxy(viaZeekProxy);
  const receiver = await ZeekZmqNode.connect({
    name: "worker-2",
    nodeType: "worker",
    queueSize: N + 16,
    ...at,
  });
  // xpubSndhwm 0 as worker.zeek's redef: the burst is handed over at once, none dropped.
  const worker = await ZeekZmqNode.connect({
    name: "worker-1",
    nodeType: "worker",
    xpubSndhwm: 0,
    ...at,
  });
  try {
    receiver.subscribe("/bench/");
    const start = Date.now();
    while (!worker.wants("/bench/ev")) {
      if (Date.now() - start > 10_000) throw new Error("the receiver's subscription never came");
      await new Promise((r) => setTimeout(r, 10));
    }
    let received = 0, first = 0, last = 0;
    const counting = (async () => {
      while (received < N) {
        // Generous: on a loaded machine the first event can take over a second.
        const m = await receiver.events.get(5000);
        if (!m) break;
        if (received === 0) first = performance.now();
        received++;
        last = performance.now();
        for (const _ of receiver.events.poll()) {
          received++;
          last = performance.now();
        }
      }
    })();
    const publishSeconds = ourPublish(worker, "/bench/ev");
    await counting;
    return { received, seconds: (last - first) / 1000, publishSeconds };
  } finally {
    await worker.close();
    await receiver.close();
    await stop();
  }
}

// The proxies alone: raw endpoints (see the module doc), through our proxy or a Zeek
// manager's proxy thread (on a topic the manager does not subscribe).
async function rawToRaw(viaZeekProxy: boolean): Promise<Result> {
  const { at, stop } = await startProxy(viaZeekProxy);
  const receiver = await RawReceiver.connect(at, "/bench/", RAW_N);
  const publisher = await RawPublisher.connect(at, "/bench/ev", RAW_N);
  try {
    await publisher.subscribed;
    const publishSeconds = publisher.send();
    return { ...(await receiver.result), publishSeconds, sent: RAW_N };
  } finally {
    await publisher.close();
    await receiver.close();
    await stop();
  }
}

// The fastest possible publisher to Zeek's manager (through its own proxy thread).
async function rawToZeek(): Promise<Result> {
  const p = ports();
  const manager = await ZeekProcess.start([`${HERE}manager.zeek`], {
    path: PATH,
    env: env(p, "manager"),
  });
  const publisher = await RawPublisher.connect(
    proxyAt(p),
    "zeek.cluster.manager",
    N,
  );
  try {
    await publisher.subscribed;
    const publishSeconds = publisher.send();
    return { ...(await zeekDone(manager)), publishSeconds };
  } finally {
    await publisher.close();
    await manager.stop();
  }
}

const CASES: [string, () => Promise<Result>][] = [
  ["zeek->zeek", () => zeekToZeek(false)],
  ["ours->zeek", oursToZeek],
  ["ours->ours", () => oursToOurs(false)],
  ["ours->ours, zeek proxy", () => oursToOurs(true)],
  ["zeek via our proxy", () => zeekToZeek(true)],
  ["raw->raw, our proxy", () => rawToRaw(false)],
  ["raw->raw, zeek proxy", () => rawToRaw(true)],
  ["raw->zeek", rawToZeek],
];

const only = Deno.args.find((a) => a.startsWith("--only="))?.slice(7).split(";");
if (only) CASES.splice(0, CASES.length, ...CASES.filter(([name]) => only.includes(name)));
const results = new Map<string, Result[]>(CASES.map(([name]) => [name, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order: rotate by one each round.
  const order = CASES.map((_, i) => CASES[(i + round) % CASES.length]);
  for (const [name, run] of order) {
    const r = await run();
    results.get(name)!.push(r);
    console.error(
      `round ${round + 1}: ${name}: ${r.received}/${r.sent ?? N} in ${r.seconds.toFixed(3)} s = ${
        Math.round(r.received / r.seconds)
      } ev/s${
        r.publishSeconds
          ? `; publisher's loop ${Math.round((r.sent ?? N) / r.publishSeconds)} ev/s`
          : ""
      }`,
    );
  }
}

const summary: Record<
  string,
  { evPerSec: number; received: number; ratio: number; publisherLoopEvPerSec?: number }
> = {};
const rate = (r: Result) => r.received / r.seconds;
const baseline = median((results.get("zeek->zeek") ?? results.values().next().value!).map(rate));
console.log(`\n${N} events, ${ROUNDS} rounds, medians (events/s as the receiver got them)`);
console.log("case                        ev/s  x zeek->zeek  min received  publisher loop ev/s");
// (The raw cases send RAW_N; their publisher's loop is one write of pre-encoded bytes.)
for (const [name, rs] of results) {
  const rate = median(rs.map((r) => r.received / r.seconds));
  const received = Math.min(...rs.map((r) => r.received));
  const loops = rs.filter((r) => r.publishSeconds).map((r) => (r.sent ?? N) / r.publishSeconds!);
  const loop = loops.length ? Math.round(median(loops)) : undefined;
  summary[name] = {
    evPerSec: Math.round(rate),
    received,
    ratio: rate / baseline,
    ...(loop ? { publisherLoopEvPerSec: loop } : {}),
  };
  console.log(
    `${name.padEnd(24)} ${String(Math.round(rate)).padStart(9)}  ${
      (rate / baseline).toFixed(2).padStart(12)
    }  ${String(received).padStart(12)}  ${String(loop ?? "").padStart(19)}`,
  );
}
// The proxies compared round by round (the two ran within seconds of each other).
const pairs: [string, string, string][] = [
  ["our proxy / zeek proxy, raw endpoints", "raw->raw, our proxy", "raw->raw, zeek proxy"],
  ["our proxy / zeek proxy, our nodes", "ours->ours", "ours->ours, zeek proxy"],
  ["our proxy / zeek proxy, zeek nodes", "zeek via our proxy", "zeek->zeek"],
];
const proxyRatios: Record<string, number[]> = {};
for (const [label, ours, theirs] of pairs) {
  const a = results.get(ours), b = results.get(theirs);
  if (!a || !b) continue;
  proxyRatios[label] = a.map((r, i) => Number((rate(r) / rate(b[i])).toFixed(2)));
  console.log(`${label}, per round: ${proxyRatios[label].join(", ")}`);
}
console.log(`JSON ${JSON.stringify({ events: N, rounds: ROUNDS, summary, proxyRatios })}`);
