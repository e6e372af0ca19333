/**
 * `deno task soak -- --minutes N`: the soak and chaos suite.
 *
 * Starts a mesh of our endpoints, our CLI node and the C++ Broker tools on
 * 127.0.0.1 with steady traffic and a SQLite store pair (`topology.ts`),
 * injects faults for N minutes (`chaos.ts`), then heals the mesh, checks that
 * nothing is lost without faults, that the store kept every acknowledged
 * write and the clone converged, stops everything, and prints one summary
 * (`summary.ts`) of the faults, the traffic and the invariants
 * (`invariants.ts`). Exit code 0 only if every invariant held.
 *
 * Bounded: the run takes at most N minutes plus `FINAL_ALLOWANCE_MS`; a
 * watchdog stops it then. Every child is killed on every way out, Ctrl-C
 * included.
 *
 * @module
 */
import { ChaosLoop, FAULT_KINDS } from "./chaos.ts";
import { Collector } from "./collector.ts";
import { FINAL_ALLOWANCE_MS, parseOptions } from "./config.ts";
import { evaluate, type SoakFacts, type StoreDump } from "./invariants.ts";
import { Rng } from "./random.ts";
import { passed, renderJson, renderTable, type SoakReport } from "./summary.ts";
import { readRssMb, Supervisor } from "./supervisor.ts";
import { buildTopology } from "./topology.ts";
import { cxxPublisherLine } from "./traffic.ts";

const opts = parseOptions(Deno.args);
const t0 = Date.now();
const runEnd = t0 + opts.minutes * 60_000;
const boundMs = opts.minutes * 60_000 + FINAL_ALLOWANCE_MS;
const abort = new AbortController();
let interrupted: string | undefined;
/** Messages per quiet-phase burst and publisher. */
const BURST_SIZE = 200;

const log = (line: string) => {
  if (opts.verbose) console.error(`[soak ${((Date.now() - t0) / 1000).toFixed(1)}s] ${line}`);
};

/** Resolves after `ms`, or at once when the run is aborted. */
const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    abort.signal.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/** Polls `cond` every 250 ms until it holds (true) or `ms` pass or the run aborts (false). */
async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (!abort.signal.aborted) {
    if (cond()) return true;
    if (Date.now() >= until) return false;
    await sleep(250);
  }
  return false;
}

const dir = await Deno.makeTempDir({ prefix: "broker-soak-" });
const collector = new Collector((sub, what) => log(`DUPLICATE at ${sub}: ${what}`));
// The C++ tools' `timeout` fires a little after the watchdog, as a last resort.
const sup = new Supervisor(t0 + boundMs + 15_000);
const topo = buildTopology(opts, collector, dir, t0 + boundMs);
for (const spec of topo.specs) sup.add(spec);
for (const p of topo.proxies) void p.start();
const rng = new Rng(opts.seed);

const facts: SoakFacts = {
  rss: sup.rss,
  rssOver: [],
  problems: sup.problems,
  ours: new Set(topo.specs.filter((s) => s.kind === "ours").map((s) => s.name)),
  subscribers: [],
  bursts: { skipped: "the run ended before the quiet phase" },
  acked: collector.acked,
  existed: 0,
  lostWrites: [],
  masterRestarts: 0,
  probes: [],
  floods: [],
  elapsedMs: 0,
  boundMs,
  harnessErrors: [],
};

const chaos = new ChaosLoop(rng, sup, topo, collector, {
  probe: (r) => facts.probes.push(r),
  flood: (r) => {
    facts.floods.push(r);
    log(
      `flood on ${r.node}: ${r.outcome} after ${r.ms} ms, ${r.received} received` +
        (r.close ? `, close ${r.close.code}` : ""),
    );
  },
  lostWrites: (d) => facts.lostWrites.push(d),
  log,
}, {
  messages: opts.floodMessages,
  size: opts.floodBytes,
  closeWithinMs: opts.handshakeTimeoutMs + opts.slackMs,
});

// A harness bug must fail the run loudly, not kill it before the children are cleaned up.
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  facts.harnessErrors.push(`unhandled rejection: ${e.reason?.stack ?? e.reason}`);
});
globalThis.addEventListener("error", (e) => {
  e.preventDefault();
  facts.harnessErrors.push(`uncaught: ${e.error?.stack ?? e.message}`);
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(sig, () => {
    interrupted ??= sig;
    abort.abort();
    // Children die now; whatever waits on them (starts, stops) returns at once.
    void sup.killAll();
  });
}
const watchdog = setTimeout(() => {
  interrupted ??= `watchdog after ${boundMs / 1000} s`;
  abort.abort();
  // If even the orderly way out hangs, go the hard way.
  setTimeout(async () => {
    await sup.killAll();
    Deno.exit(3);
  }, 15_000);
}, boundMs);

const rssTimer = setInterval(async () => {
  const over = await sup.sampleRss();
  for (const o of over) if (facts.rssOver.length < 20) facts.rssOver.push(o);
}, 1000);

// The C++ publisher gets its ticks through stdin, at half our publishers' rate,
// from the end of the setup on (its sequence numbers must never restart).
let xpSent = 0;
let xpTimer: ReturnType<typeof setInterval> | undefined;
function feedCxxPublisher(): void {
  const base = Date.now();
  xpTimer = setInterval(() => {
    const due = Math.min(50, Math.floor(((Date.now() - base) * opts.rate) / 2000) - xpSent);
    if (due <= 0 || !sup.isRunning(topo.cxxPublisher)) return;
    const lines = [];
    for (let i = 0; i < due; i++) lines.push(cxxPublisherLine("tick", 0, xpSent++));
    void sup.send(topo.cxxPublisher, lines.join("\n"));
  }, 100);
}

async function setup(): Promise<void> {
  // C++ first (x1 dials xp and xs), then what the n-nodes dial, then the n-nodes.
  const groups = [["xp", "xs"], ["x1", "c1", "t1", "t2", "sm"], ["sc", "n1", "n2", "n3"]];
  for (const group of groups) {
    if (abort.signal.aborted) return;
    const ok = await Promise.all(group.map((n) => sup.start(n, 60_000)));
    log(`started ${group.map((n, i) => (ok[i] ? n : `${n}(FAILED)`)).join(" ")}`);
  }
  feedCxxPublisher();
}

async function dump(name: string): Promise<StoreDump | undefined> {
  const answer = collector.waitFor(name, (ev) => ev.ev === "dump", 20_000);
  if (!(await sup.send(name, "dump"))) return undefined;
  const ev = await answer;
  return ev?.ev === "dump" ? { keys: ev.keys, digest: ev.digest } : undefined;
}

/** Stops the clone's writes, restarts the master once more with SIGKILL, then compares. */
async function storeChecks(): Promise<void> {
  const { master, clone } = topo.store;
  const quiesced = collector.waitFor(clone, (ev) => ev.ev === "quiesced", 30_000);
  await sup.send(clone, "quiesce");
  const q = await quiesced;
  log(`clone quiesced: ${q ? JSON.stringify(q) : "no answer"}; ${collector.acked.size} acked`);
  await chaos.killMaster();
  facts.masterRestarts = chaos.faults["SIGKILL store master"];
  const until = Date.now() + 30_000;
  while (!abort.signal.aborted) {
    facts.finalMaster = await dump(master);
    facts.finalClone = await dump(clone);
    if (facts.finalMaster && facts.finalMaster.digest === facts.finalClone?.digest) return;
    if (Date.now() >= until) break;
    await sleep(1000);
  }
  if (!facts.finalMaster || !facts.finalClone) facts.storeError = "a store child gave no dump";
}

/** Every publisher sends one burst; every subscriber must get all of each other publisher's. */
async function bursts(): Promise<void> {
  const id = 1;
  const pubs = [...topo.publishers, topo.cxxPublisher];
  const expected: Record<string, string[]> = {};
  for (const s of topo.subscribers) {
    expected[s.name] = pubs.filter((p) => p !== s.name).map((p) => `${p}/burst${id}`);
  }
  for (const p of topo.publishers) await sup.send(p, `burst ${id} ${BURST_SIZE}`);
  for (let i = 0; i < BURST_SIZE; i += 50) {
    const lines = [];
    for (let j = i; j < Math.min(BURST_SIZE, i + 50); j++) {
      lines.push(cxxPublisherLine("burst", id, j));
    }
    await sup.send(topo.cxxPublisher, lines.join("\n"));
    await sleep(10);
  }
  facts.bursts = { expected, n: BURST_SIZE };
  const complete = () =>
    topo.subscribers.every((s) => {
      const got = collector.subscriber(s.name).bursts;
      return expected[s.name].every((k) => got[k] === BURST_SIZE);
    });
  // Reports come once a second; give the last one time to arrive.
  const ok = await waitUntil(complete, 20_000);
  if (ok) await sleep(1500);
  log(`bursts ${ok ? "complete" : "INCOMPLETE"}`);
}

async function finalPhase(): Promise<void> {
  log("chaos over: healing");
  const settling = chaos.settle();
  await Promise.all(sup.names.filter((n) => !sup.isRunning(n)).map((n) => sup.start(n, 30_000)));
  const whole = await waitUntil(
    () =>
      topo.publishers.every((n) =>
        (collector.latest(n, sup.incarnation(n))?.peers ?? 0) >= topo.expectedPeers[n]
      ),
    30_000,
  );
  log(whole ? "mesh whole" : "mesh NOT whole after 30 s");
  // Subscriptions travel after the handshakes; let them arrive before the bursts.
  await sleep(2000);
  await Promise.all([storeChecks(), bursts()]);
  await settling;
  log("stopping everything with SIGTERM");
  await sup.stopAll(10_000);
}

try {
  log(`seed ${opts.seed}; temp dir ${dir}`);
  await setup();
  log("chaos begins");
  await chaos.run(runEnd, abort.signal);
  if (!abort.signal.aborted) await finalPhase();
} catch (e) {
  facts.harnessErrors.push(`${(e as Error)?.stack ?? e}`);
} finally {
  clearInterval(rssTimer);
  clearInterval(xpTimer);
  await sup.killAll();
  for (const p of topo.proxies) p.close();
  await Deno.remove(dir, { recursive: true }).catch(() => {});
}

facts.elapsedMs = Date.now() - t0;
facts.subscribers = topo.subscribers.map((s) => ({ ...s, stats: collector.subscriber(s.name) }));
const clone = collector.cloneTotals();
facts.existed = clone.existed;
const report: SoakReport = {
  minutes: opts.minutes,
  seed: opts.seed,
  elapsedMs: facts.elapsedMs,
  interrupted,
  faults: Object.fromEntries(FAULT_KINDS.map((k) => [k, chaos.faults[k]])),
  traffic: {
    "ticks published (ours)": topo.publishers.reduce((n, p) => n + collector.published(p), 0),
    "ticks published (C++ broker-pipe)": xpSent,
    "deliveries counted": facts.subscribers.reduce((n, s) => n + s.stats.delivered, 0),
    "store putUnique calls": clone.issued,
    "store writes acknowledged": collector.acked.size,
    "store writes failed (timeouts)": Object.values(clone.failed).reduce((a, b) => a + b, 0),
    "store blind writes": clone.blind,
    "WebSocket flood messages": facts.floods.reduce((n, r) => n + r.sent, 0),
    "proxy bytes forwarded": topo.proxies.reduce((n, p) => n + p.stats.bytes, 0),
    "probe connections refused (target down)": chaos.refused,
  },
  invariants: evaluate(facts),
  processes: sup.names.map((name) => ({
    name,
    kind: sup.spec(name).kind,
    starts: sup.incarnation(name) + 1,
    maxRssMb: Math.round(sup.rss.get(name)!.maxMb),
    boundMb: sup.rss.get(name)!.boundMb,
  })),
};
const selfRss = await readRssMb("self");
log(`soak process RSS ${selfRss?.toFixed(0)} MiB`);
console.log(opts.json ? renderJson(report) : renderTable(report));
clearTimeout(watchdog);
Deno.exit(interrupted?.startsWith("SIG") ? 130 : passed(report) ? 0 : 1);
