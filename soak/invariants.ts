/**
 * The soak's invariants, checked from what the run collected. Each is held
 * or violated, with details that say where and how much.
 *
 * 1. RSS of every process under its bound (sampled once a second, live).
 * 2. No acknowledged store write lost: every key whose `putUnique` the
 *    SQLite master answered is there after the master's SIGKILL restarts
 *    (live after each restart by count, and by key at the end).
 * 3. The clone converges to the master (same content digest at the end).
 * 4. No duplicate delivery: each (publisher, stream, seq) at most once per
 *    subscriber, over cycles of our endpoints and the C++ tree alike.
 * 5. No loss without faults: after the chaos stops and the mesh heals,
 *    every subscriber gets every message of every publisher's burst. (Gaps
 *    during the chaos are allowed: faults lose messages in flight.)
 * 6. Idle and garbage connections closed by our listeners within their
 *    deadline (handshake timeout + slack).
 * 7. Flooded WebSocket clients that never read are disconnected (the TCP
 *    connection closed) within the deadline.
 * 8. No uncaught error or unexplained exit in our processes. C++ exits
 *    nobody caused are listed but not judged: they would be Broker's crashes
 *    (or a sign of what our nodes sent it).
 * 9. The run ended within its time bound.
 *
 * @module
 */
import type { ProbeResult } from "./probes.ts";
import type { ProcessProblem, RssRecord } from "./supervisor.ts";
import type { TrackerStats } from "./traffic.ts";
import type { FloodResult } from "./websocket_flood.ts";

/** One invariant's verdict. */
export interface InvariantResult {
  /** What must hold. */
  name: string;
  /** Whether it did. */
  held: boolean;
  /** Figures and, when violated, where. */
  details: string[];
}

/** A store's content as a child dumped it. */
export interface StoreDump {
  /** Key texts. */
  keys: string[];
  /** SHA-256 over sorted `key\tvalue` lines. */
  digest: string;
}

/** Everything the checks look at. */
export interface SoakFacts {
  /** Memory per process. */
  rss: Map<string, RssRecord>;
  /** Samples over the bound, as seen live. */
  rssOver: string[];
  /** Problems the supervisor found. */
  problems: ProcessProblem[];
  /** Which processes are ours. */
  ours: Set<string>;
  /** Deliveries per subscriber (all incarnations). */
  subscribers: { name: string; ours: boolean; stats: TrackerStats }[];
  /** The quiet-phase bursts: streams expected at each subscriber, or why they did not run. */
  bursts: { expected: Record<string, string[]>; n: number } | { skipped: string };
  /** Keys the master acknowledged. */
  acked: Set<string>;
  /** Of the acknowledged `putUnique` calls, those answered "already there" (never expected: keys are new). */
  existed: number;
  /** Live findings of lost writes (master restarts with too few keys). */
  lostWrites: string[];
  /** Master restarts done (chaos and final). */
  masterRestarts: number;
  /** The master's content after its last restart, and the clone's. */
  finalMaster?: StoreDump;
  /** The clone's content at the end. */
  finalClone?: StoreDump;
  /** Why the store checks could not run, if so. */
  storeError?: string;
  /** Probe results. */
  probes: ProbeResult[];
  /** Flood results. */
  floods: FloodResult[];
  /** How long the run took and its bound, ms. */
  elapsedMs: number;
  /** The bound. */
  boundMs: number;
  /** Errors of the soak harness itself (they make the run fail, as a broken check would). */
  harnessErrors: string[];
}

const MAX_DETAILS = 8;

function limited(lines: string[]): string[] {
  return lines.length <= MAX_DETAILS
    ? lines
    : [...lines.slice(0, MAX_DETAILS), `... and ${lines.length - MAX_DETAILS} more`];
}

function rss(f: SoakFacts): InvariantResult {
  const over = [...f.rss].filter(([, r]) => r.maxMb > r.boundMb);
  const top = [...f.rss].sort((a, b) => b[1].maxMb - a[1].maxMb).slice(0, 4)
    .map(([n, r]) => `${n} ${r.maxMb.toFixed(0)}/${r.boundMb} MiB`);
  return {
    name: "RSS under bound",
    held: over.length === 0,
    details: over.length === 0 ? [`highest: ${top.join(", ")}`] : limited([
      ...over.map(([n, r]) => `${n}: ${r.maxMb.toFixed(0)} MiB > ${r.boundMb} MiB`),
      ...f.rssOver.slice(0, 3),
    ]),
  };
}

function durability(f: SoakFacts): InvariantResult {
  const name = "no acknowledged store write lost";
  if (!f.finalMaster) {
    return { name, held: false, details: [`no final dump of the master: ${f.storeError ?? "?"}`] };
  }
  const present = new Set(f.finalMaster.keys);
  const missing = [...f.acked].filter((k) => !present.has(k));
  const details = [
    `${f.acked.size} acknowledged writes, ${f.masterRestarts} master SIGKILL restarts, ` +
    `${f.finalMaster.keys.length} keys at the end`,
  ];
  if (missing.length > 0) {
    details.push(`missing ${missing.length}: ${missing.slice(0, 5).join(", ")}`);
  }
  details.push(...f.lostWrites);
  return {
    name,
    held: missing.length === 0 && f.lostWrites.length === 0,
    details: limited(details),
  };
}

function convergence(f: SoakFacts): InvariantResult {
  const name = "clone converges to master";
  if (!f.finalMaster || !f.finalClone) {
    return { name, held: false, details: [`no final dumps: ${f.storeError ?? "?"}`] };
  }
  const same = f.finalMaster.digest === f.finalClone.digest;
  const details = [`master ${f.finalMaster.keys.length} keys, clone ${f.finalClone.keys.length}`];
  if (!same) {
    const m = new Set(f.finalMaster.keys), c = new Set(f.finalClone.keys);
    const onlyM = f.finalMaster.keys.filter((k) => !c.has(k));
    const onlyC = f.finalClone.keys.filter((k) => !m.has(k));
    details.push(
      `digests differ; only on master: ${onlyM.length} (${onlyM.slice(0, 3).join(", ")}), ` +
        `only on clone: ${onlyC.length} (${onlyC.slice(0, 3).join(", ")})`,
    );
  }
  return { name, held: same, details };
}

function duplicates(f: SoakFacts): InvariantResult {
  const bad = f.subscribers.filter((s) => s.stats.duplicates > 0);
  const total = f.subscribers.reduce((n, s) => n + s.stats.delivered, 0);
  return {
    name: "no duplicate delivery",
    held: bad.length === 0,
    details: bad.length === 0
      ? [`${total} deliveries at ${f.subscribers.length} subscribers, none twice`]
      : limited(
        bad.map((s) =>
          `${s.name}${s.ours ? "" : " (C++)"}: ${s.stats.duplicates} duplicates, e.g. ` +
          s.stats.dupSamples.join(", ")
        ),
      ),
  };
}

function quietLoss(f: SoakFacts): InvariantResult {
  const name = "no loss without faults (quiet-phase bursts)";
  const gaps = f.subscribers.map((s) => `${s.name} ${s.stats.gaps}`).join(", ");
  if ("skipped" in f.bursts) {
    return { name, held: false, details: [`not run: ${f.bursts.skipped}`] };
  }
  const { expected, n } = f.bursts;
  const short: string[] = [];
  let streams = 0;
  for (const s of f.subscribers) {
    for (const stream of expected[s.name] ?? []) {
      streams++;
      const got = s.stats.bursts[stream] ?? 0;
      if (got !== n) short.push(`${s.name} got ${got}/${n} of ${stream}`);
    }
  }
  return {
    name,
    held: short.length === 0 && streams > 0,
    details: limited([
      `${streams} bursts of ${n} checked; gaps during chaos (allowed): ${gaps}`,
      ...short,
    ]),
  };
}

function sockets(f: SoakFacts): InvariantResult {
  const judged = f.probes.filter((p) => ["closed", "late", "open"].includes(p.outcome));
  const restarted = f.probes.filter((p) => p.outcome === "restarted").length;
  const bad = judged.filter((p) => p.outcome === "late" || p.outcome === "open");
  const byTarget = new Map<string, { n: number; kinds: Set<string>; worst: number }>();
  for (const p of bad) {
    const e = byTarget.get(p.target) ?? { n: 0, kinds: new Set(), worst: 0 };
    e.n++;
    e.kinds.add(p.kind);
    e.worst = Math.max(e.worst, p.ms);
    byTarget.set(p.target, e);
  }
  const held = f.probes.filter((p) => p.outcome === "held").length;
  const slowest = judged.filter((p) => p.outcome === "closed").reduce(
    (m, p) => Math.max(m, p.ms),
    0,
  );
  return {
    name: "idle/garbage sockets closed in time",
    held: bad.length === 0 && judged.length > 0,
    details: limited([
      `${judged.length} judged (slowest close ${slowest} ms), ${held} held against C++ ` +
      `(no timeout there), ${restarted} not judged (process stopped meanwhile)`,
      ...[...byTarget].map(([t, e]) =>
        `${t}: ${e.n} not closed in time (${[...e.kinds].join(", ")}; open ${e.worst} ms and more)`
      ),
    ]),
  };
}

function floods(f: SoakFacts): InvariantResult {
  const ran = f.floods.filter((r) => r.outcome === "disconnected" || r.outcome === "left-open");
  const open = ran.filter((r) => r.outcome === "left-open");
  const details = [
    `${ran.length} floods judged, ${f.floods.length - ran.length} not ` +
    `(node down or stopped meanwhile)`,
    ...open.map((r) =>
      `${r.node ?? `port ${r.port}`}: TCP still open ${r.ms} ms after the flood; ` +
      `${r.received} messages reached it; ` +
      (r.close ? `close frame ${r.close.code} "${r.close.reason}" sent` : "no close frame")
    ),
  ];
  return {
    name: "non-reading WebSocket clients disconnected",
    held: open.length === 0 && ran.length > 0,
    details: limited(details),
  };
}

function processes(f: SoakFacts): InvariantResult {
  const line = (p: ProcessProblem) => `${p.process}#${p.incarnation}: ${p.what}`;
  const ours = f.problems.filter((p) => f.ours.has(p.process)).map(line);
  ours.push(...f.harnessErrors.map((e) => `soak harness: ${e}`));
  // C++ crashes are Broker's (or a sign of what our nodes sent it): shown, not judged.
  const cxx = f.problems.filter((p) => !f.ours.has(p.process)).map((p) => `C++ ${line(p)}`);
  return {
    name: "no uncaught errors or unexplained exits",
    held: ours.length === 0,
    details: ours.length + cxx.length === 0
      ? ["every exit was one the chaos loop caused"]
      : limited([...ours, ...cxx]),
  };
}

function timeBound(f: SoakFacts): InvariantResult {
  return {
    name: "run time bounded",
    held: f.elapsedMs <= f.boundMs,
    details: [`${(f.elapsedMs / 1000).toFixed(0)} s of at most ${(f.boundMs / 1000).toFixed(0)} s`],
  };
}

/** Every invariant's verdict, in a fixed order. */
export function evaluate(f: SoakFacts): InvariantResult[] {
  return [
    rss(f),
    durability(f),
    convergence(f),
    duplicates(f),
    quietLoss(f),
    sockets(f),
    floods(f),
    processes(f),
    timeBound(f),
  ];
}
