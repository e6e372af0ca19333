/**
 * Data store masters side by side, in one run: our clone (in this process)
 * writing to a C++ `broker-node --master-stores='["kv"]'` and to our own
 * `broker node --master-stores='["kv"]'`, each master in its own process,
 * with the same clone code and workload; then the memory each master holds
 * for the same entries.
 *
 * - put: blind writes issued in batches of `BATCH`, at most `INFLIGHT`
 *   ahead of what came back (C++ Broker drops a peer whose queue passes
 *   2048 messages), each batch followed by a `putUnique` fence that changes
 *   nothing (see `putRange`); the rate counts until the clone's copy
 *   holds the last key, i.e. the master applied every write and broadcast it
 *   back (the channel keeps order).
 * - putUnique: `WINDOW` round trips in flight, each waiting for the
 *   master's `put_unique_result`.
 * - memory: the clone fills `--entries` count keys -> count values (and,
 *   with `--values=string`, 16-character string values); after the last key
 *   is back and `SETTLE_MS` of quiet, the master's `VmRSS` from
 *   `/proc/PID/status`, beside its `VmRSS` before the fill and its peak
 *   (`VmHWM`).
 *
 * The C++ master runs once per CAF scheduler setting (`caf_settings.ts`;
 * `--cxx-settings=default` for CAF's default only): with one worker thread
 * it put 75-86k ops/s here against 64-66k with the default.
 *
 * `--n` (default 200,000) operations per phase. The first ~25,000 puts cost
 * our side more (`--n 20000` put 192–213k ops/s here, at 4.0–5.0 µs of
 * master CPU per put, against 463–505k and 1.4–1.6 µs over 200,000): fresh
 * memory on both sides, and in a `--masters=ours` run a clone not yet
 * compiled, which then binds; the C++ master has no such start.
 *
 * Goals: put and putUnique with our master >= 10x the rate with the C++
 * master (its fastest setting in the run); our master's RSS for the entries
 * no more than C++'s (its smallest). With `--runs` above 1 a last line
 * divides our fastest rate over all runs by the C++ master's fastest (any
 * setting, any run).
 *
 * @example
 * ```sh
 * deno run -A bench/store_compare.ts --n 20000 --entries 1000000 --runs 3 # early puts
 * deno run -A bench/store_compare.ts --only=memory --values=string
 * # every process with glibc's huge pages for its heap (the header says which):
 * GLIBC_TUNABLES=glibc.malloc.hugetlb=1 deno run -A bench/store_compare.ts --only=rate
 * # 6,000 puts in flight, both masters with --peer-buffer-size=24000:
 * deno run -A bench/store_compare.ts --only=rate --put-only --inflight 6000
 * # profiles of both sides (our master ends by returning, so its profile is written):
 * deno run -A --cpu-prof bench/store_compare.ts --masters=ours \
 *   --bare-master --master-flags=--cpu-prof,--cpu-prof-dir=/tmp/m
 * ```
 *
 * @module
 */
import { count, type Data, DEFAULT_PEER_BUFFER_SIZE, Endpoint, type Store, str } from "../mod.ts";
import { brokerRefTool, freePort, storeTopicsAnnounced, waitForPort } from "../tests/broker_ref.ts";
import { type CafSetting, cafSettingsFor } from "./caf_settings.ts";
import { CLK_TCK, statMinorFaults, statTicks, statusBytes } from "./proc_stat.ts";
import { numberOption, stringOption } from "./args.ts";
import { formatRatio } from "./stats.ts";

/** Writes per batch of blind puts. */
const BATCH = 500;
/** Blind puts not yet back at the clone, at most, by default (see `INFLIGHT`). */
const DEFAULT_INFLIGHT = 1_500;
/**
 * `--inflight N`: blind puts not yet back at the clone, at most (default
 * 1,500, which a C++ master's default 2,048-message peer queue takes). Above
 * the default, both masters start with `--peer-buffer-size` at four times N,
 * as a C++ master needs to keep the clone.
 */
const INFLIGHT = numberOption("--inflight", DEFAULT_INFLIGHT, { min: BATCH });
if (INFLIGHT % BATCH !== 0) {
  throw new RangeError(`--inflight must be a multiple of ${BATCH} (a batch), not ${INFLIGHT}`);
}
/** The masters' `--peer-buffer-size`, when `--inflight` asks for more than the default. */
const PEER_BUFFER_ARGS = INFLIGHT > DEFAULT_INFLIGHT ? [`--peer-buffer-size=${4 * INFLIGHT}`] : [];
/** putUnique round trips in flight at once. */
const WINDOW = 500;
/**
 * Quiet time after a fill before reading RSS. V8's memory reducer collects
 * and releases pages only after several seconds of low allocation (12–25 s
 * after a fill here, and a second, releasing more, 10 s later), so a shorter
 * settle shows garbage awaiting collection. C++ waits as long.
 */
const SETTLE_MS = 45_000;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const SELF = new URL(import.meta.url).pathname;

/** Extra `deno run` flags for our master, e.g. `--master-flags=--cpu-prof,--cpu-prof-dir=/tmp/p`. */
const OUR_FLAGS = stringOption("--master-flags", "").split(",").filter((f) => f !== "");
/**
 * `--bare-master`: our master is this file run with `--as-master` (an
 * endpoint with the store, as `broker node` sets it up for the bench) instead
 * of the CLI, and ends on SIGTERM by returning, so that `--cpu-prof` in
 * `--master-flags` gets to write its profile (the CLI ends at once on a signal).
 */
const BARE_MASTER = Deno.args.includes("--bare-master");
/** Which masters to run: both (default), or `--masters=ours` / `--masters=cxx` for profiling. */
const ONLY_MASTERS = stringOption("--masters", "");

/**
 * `--warm-up N`: puts before the measured phases (default 5,000), the same
 * for both masters. V8 may still be compiling hot functions of our clone and
 * master (on background threads, whose CPU counts) after 5,000.
 */
const WARM_UP = numberOption("--warm-up", 5000);
/** `--verbose`: also print each phase's minor page faults per 1,000 operations, each side. */
const VERBOSE = Deno.args.includes("--verbose");
/** `--put-only`: skip the putUnique phase (e.g. for a profile of puts alone). */
const PUT_ONLY = Deno.args.includes("--put-only");

/** A master to measure: ours, or the C++ `broker-node` with one CAF scheduler setting. */
interface MasterKind {
  /** The tables' name for it. */
  label: string;
  /** The C++ master's CAF setting; absent for ours. */
  caf?: CafSetting;
}

/**
 * The C++ master once per CAF scheduler setting, then ours. Each phase's
 * ratio divides by the best C++ setting of its run.
 */
const ALL_KINDS: MasterKind[] = [
  // `--cxx-settings=default`: CAF's default only.
  ...cafSettingsFor(stringOption("--cxx-settings", "all"))
    .map((caf) => ({ label: `C++ broker-node [${caf.label}]`, caf })),
  { label: "ours (broker node)" },
];
const KINDS = ALL_KINDS.filter((k) =>
  ONLY_MASTERS === "" || (ONLY_MASTERS === "ours") === (k.caf === undefined)
);

/** One master in its own process. */
class MasterProcess {
  readonly port = freePort();
  readonly #child: Deno.ChildProcess;
  readonly #done: Promise<unknown>;

  constructor(readonly kind: MasterKind) {
    const args = [
      "--disable-ssl",
      "-p",
      String(this.port),
      '--topics=["/bench/none"]',
      '--master-stores=["kv"]',
      ...PEER_BUFFER_ARGS,
    ];
    const [cmd, argv] = kind.caf ? [brokerRefTool("broker-node"), [...args, ...kind.caf.args]] : [
      Deno.execPath(),
      BARE_MASTER
        ? ["run", "--lock=deno.lock", "-A", ...OUR_FLAGS, SELF, "--as-master", ...args]
        : ["run", "--lock=deno.lock", "-A", ...OUR_FLAGS, CLI, "node", ...args],
    ];
    this.#child = new Deno.Command(cmd, {
      args: argv,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#done = this.#child.status;
  }

  get pid(): number {
    return this.#child.pid;
  }

  /** VmRSS (or the peak, VmHWM) of the master process, in bytes. */
  async rss(field: "VmRSS" | "VmHWM" = "VmRSS"): Promise<number> {
    const bytes = statusBytes(await Deno.readTextFile(`/proc/${this.pid}/status`), field);
    if (bytes === undefined) {
      throw new Error(`no ${field} for ${this.kind.label} (pid ${this.pid})`);
    }
    return bytes;
  }

  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // gone already
    }
    await this.#done;
  }
}

/**
 * CPU time (user + system, ms, 10 ms resolution) and minor page faults of a
 * process so far, from one read of its `/proc/PID/stat`.
 */
async function usageOf(pid: number | "self"): Promise<{ cpuMs: number; faults: number }> {
  const line = await Deno.readTextFile(`/proc/${pid}/stat`);
  return { cpuMs: statTicks(line) * (1000 / CLK_TCK), faults: statMinorFaults(line) };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Waits for `pred`, checking every millisecond. (Trips through the event
 * loop between checks would not help: sockets are seldom read between them,
 * see `EventLoopTrips`.)
 */
async function until(pred: () => Promise<boolean>, what: string, ms = 60_000): Promise<void> {
  const start = performance.now();
  while (!(await pred())) {
    if (performance.now() - start > ms) throw new Error(`bench: ${what} not reached in ${ms} ms`);
    await sleep(1);
  }
}

/** A clone of `kv` on a fresh endpoint of ours, attached to the master at `port`. */
async function attachClone(port: number): Promise<{ ep: Endpoint; clone: Store }> {
  await waitForPort(port, 30_000);
  // A handshake while broker-node attaches its master would never learn the master's topic.
  await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
  const ep = new Endpoint();
  await ep.peer("127.0.0.1", port, { retryMs: 0 });
  const clone = ep.attachClone("kv");
  await until(() => Promise.resolve(clone.peers.length === 1), "clone attached", 30_000);
  return { ep, clone };
}

/**
 * Blind puts of keys [from, to) in batches, at most `INFLIGHT` not yet back
 * at the clone; resolves when the clone's copy has the last key.
 *
 * Each batch ends with a fence: a `putUnique` of the range's first key,
 * which the master already holds, so it changes nothing and is answered
 * `false`. The master answers through the same ordered channel that carries
 * its broadcasts of the puts before it, so once the answer is in, the
 * clone's copy holds the whole batch. Waiting on that promise lets the
 * clone's socket be read at once; polling `exists` between trips through
 * the event loop (`EventLoopTrips`) did not: Deno polls sockets only after
 * thousands of such trips (7,741 before a loopback reply here), so the
 * polls burnt 10-15% of this process's CPU while the broadcasts waited
 * unread until the 1 ms sleep after them.
 */
async function putRange(
  clone: Store,
  from: number,
  to: number,
  value: (i: number) => Data,
): Promise<number> {
  const fenceKey = count(BigInt(from)), fenceValue = value(from);
  const fences: Promise<boolean>[] = [];
  // C++ Broker drops a peer whose queue passes its peer buffer (2048 messages
  // by default): a master broadcasting every write back must not get more
  // than that ahead.
  const ahead = INFLIGHT / BATCH;
  const t0 = performance.now();
  for (let i = from; i < to; i += BATCH) {
    if (fences.length >= ahead) {
      const w0 = performance.now();
      await fences[fences.length - ahead];
      waits.push(performance.now() - w0);
    }
    const end = Math.min(i + BATCH, to);
    for (let j = i; j < end; j++) void clone.put(count(BigInt(j)), value(j));
    fences.push(clone.putUnique(fenceKey, fenceValue));
  }
  const inserted = (await Promise.all(fences)).filter((x) => x).length;
  const rate = (to - from) / ((performance.now() - t0) / 1000);
  // The fences' premise, checked each run: in order behind the puts, and inserting nothing.
  const last = count(BigInt(to - 1));
  if (inserted > 0 || !(await clone.exists(last))) {
    throw new Error(`bench: a fence inserted (${inserted}) or key ${to - 1} was not back`);
  }
  return rate;
}

/**
 * How long each `putRange` wait for the window to open took (ms), for
 * `--verbose`: with the master a few ms of work behind, a long wait is a
 * pause on one side (a collection, a table resize), not a lack of CPU.
 */
const waits: number[] = [];

/** `--verbose` line about the waits since the last call (which empties `waits`). */
function waitSummary(): string {
  const long = waits.filter((w) => w > 5);
  const line =
    `waits for the window: ${waits.length}, ${fmt(sum(waits))} ms in all; ${long.length} ` +
    `over 5 ms, ${fmt(sum(long))} ms in all (longest ${fmt(Math.max(0, ...waits), 1)} ms)`;
  waits.length = 0;
  return line;
}

const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);

/** putUnique of keys [from, to) with WINDOW in flight; returns ops/s. */
async function putUniqueRange(clone: Store, from: number, to: number): Promise<number> {
  const v = count(1n);
  const t0 = performance.now();
  let inserted = 0;
  for (let i = from; i < to; i += WINDOW) {
    const batch: Promise<boolean>[] = [];
    for (let j = i; j < Math.min(i + WINDOW, to); j++) {
      batch.push(clone.putUnique(count(BigInt(j)), v));
    }
    for (const ok of await Promise.all(batch)) if (ok) inserted++;
  }
  if (inserted !== to - from) throw new Error(`putUnique inserted ${inserted} of ${to - from}`);
  return (to - from) / ((performance.now() - t0) / 1000);
}

/** One phase's rate and the CPU each side spent per op. */
interface Phase {
  opsPerSec: number;
  /** Master process CPU per op, µs. */
  masterUs: number;
  /** Clone (this process) CPU per op, µs. */
  cloneUs: number;
}

/** What a skipped phase reports. */
const NO_PHASE: Phase = { opsPerSec: NaN, masterUs: NaN, cloneUs: NaN };

interface RateRow {
  master: MasterKind;
  put: Phase;
  putUnique: Phase;
}

async function phase(master: MasterProcess, n: number, run: () => Promise<number>): Promise<Phase> {
  const [m0, c0] = [await usageOf(master.pid), await usageOf("self")];
  waits.length = 0;
  const opsPerSec = await run();
  const [m1, c1] = [await usageOf(master.pid), await usageOf("self")];
  if (VERBOSE) {
    console.log(
      `  ${master.kind.label}: minor page faults per 1,000 ops: master ${
        fmt((m1.faults - m0.faults) * 1000 / n, 1)
      }, clone ${fmt((c1.faults - c0.faults) * 1000 / n, 1)}${
        waits.length ? `; ${waitSummary()}` : ""
      }`,
    );
  }
  return {
    opsPerSec,
    masterUs: (m1.cpuMs - m0.cpuMs) * 1000 / n,
    cloneUs: (c1.cpuMs - c0.cpuMs) * 1000 / n,
  };
}

async function rates(kind: MasterKind, n: number): Promise<RateRow> {
  const master = new MasterProcess(kind);
  try {
    const { ep, clone } = await attachClone(master.port);
    try {
      const v = count(1n);
      // Warm-up (JIT of the clone and of our master): the same for both masters.
      // (`--warm-up 0`: none, to see what the first puts cost.)
      if (WARM_UP > 0) {
        await putRange(clone, 10_000_000, 10_000_000 + WARM_UP, () => v);
        await putUniqueRange(clone, 20_000_000, 20_000_000 + 2_000);
      }
      const put = await phase(master, n, () => putRange(clone, 0, n, () => v));
      const putUnique = PUT_ONLY ? NO_PHASE : await phase(
        master,
        n,
        () => putUniqueRange(clone, 1_000_000_000, 1_000_000_000 + n),
      );
      return { master: kind, put, putUnique };
    } finally {
      clone.close();
      await ep.shutdown();
    }
  } finally {
    await master.stop();
  }
}

interface MemoryRow {
  master: MasterKind;
  entries: number;
  before: number;
  after: number;
  /** Peak RSS (VmHWM) over the whole life of the process. */
  peak: number;
  fillRate: number;
}

/** A run's row of our master and its rows of the C++ master (one per CAF setting); undefined without both. */
function oursAndCxx<R extends { master: MasterKind }>(rows: R[]): [R, R[]] | undefined {
  const ours = rows.find((row) => !row.master.caf);
  const cxx = rows.filter((row) => row.master.caf);
  return ours && cxx.length > 0 ? [ours, cxx] : undefined;
}

async function memory(
  kind: MasterKind,
  entries: number,
  value: (i: number) => Data,
): Promise<MemoryRow> {
  const master = new MasterProcess(kind);
  try {
    const { ep, clone } = await attachClone(master.port);
    try {
      await sleep(3_000); // started and attached: nothing more to settle
      const before = await master.rss();
      const fillRate = await putRange(clone, 0, entries, value);
      await sleep(SETTLE_MS);
      const after = await master.rss();
      const peak = await master.rss("VmHWM");
      return { master: kind, entries, before, after, peak, fillRate };
    } finally {
      clone.close();
      await ep.shutdown();
    }
  } finally {
    await master.stop();
  }
}

/**
 * The glibc allocator setting every process of the run inherits (the
 * clone's, ours and the C++ masters): with `GLIBC_TUNABLES=glibc.malloc.hugetlb=1`
 * their heaps take 2 MiB pages, and a store's growth faults in far fewer
 * pages (see docs/performance.md, twentieth round).
 */
function mallocSetting(): string {
  const t = Deno.env.get("GLIBC_TUNABLES");
  return t ? `GLIBC_TUNABLES=${t} (every process)` : "GLIBC_TUNABLES unset";
}

const fmt = (x: number, digits = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mib = (b: number) => fmt(b / 1048576, 1);

/** `--as-master -p PORT [--peer-buffer-size N]`: the bare master of `--bare-master`, until SIGTERM. */
async function bareMaster(): Promise<void> {
  const ep = new Endpoint({
    disableSsl: true,
    peerBufferSize: numberOption("--peer-buffer-size", DEFAULT_PEER_BUFFER_SIZE, { min: 1 }),
  });
  const kv = ep.attachMaster("kv");
  await ep.listen("127.0.0.1", numberOption("-p", 0));
  await new Promise<void>((resolve) => {
    const stop = () => (Deno.removeSignalListener("SIGTERM", stop), resolve());
    Deno.addSignalListener("SIGTERM", stop);
  });
  kv.close();
  await ep.shutdown();
}

if (import.meta.main && Deno.args.includes("--as-master")) {
  await bareMaster();
} else if (import.meta.main) {
  const n = numberOption("--n", 200_000, { min: 1 });
  const entries = numberOption("--entries", 1_000_000, { min: 1 });
  const runs = numberOption("--runs", 1, { min: 1 });
  const only = stringOption("--only", "");
  const values = stringOption("--values", "count");
  const value = values === "string"
    ? (i: number) => str(`value-${String(i).padStart(10, "0")}`)
    : () => count(1n);
  console.log(
    `store compare: n=${fmt(n)}, entries=${fmt(entries)} (count keys -> ${values} values), ` +
      `runs=${runs}, puts in flight ${fmt(INFLIGHT)}${
        PEER_BUFFER_ARGS.length ? ` (${PEER_BUFFER_ARGS[0]})` : ""
      }, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}, ` +
      `${mallocSetting()}, ${new Date().toISOString()}`,
  );
  if (only !== "memory") {
    console.log(
      "\n| run | master | put ops/s | put CPU µs/op master, clone | putUnique ops/s " +
        "| putUnique CPU µs/op master, clone |",
    );
    console.log("| ---: | --- | ---: | ---: | ---: | ---: |");
    // A phase not run (`--put-only`) shows as a dash, not NaN.
    const rate = (p: Phase) => p === NO_PHASE ? "–" : fmt(p.opsPerSec);
    const cpu = (p: Phase) => p === NO_PHASE ? "–" : `${fmt(p.masterUs, 1)}, ${fmt(p.cloneUs, 1)}`;
    const ratios: string[] = [];
    // Each run's own master and C++ masters, for the fastest over all runs.
    const allSides: [RateRow, RateRow[]][] = [];
    for (let r = 1; r <= runs; r++) {
      const rows: RateRow[] = [];
      for (const kind of KINDS) {
        const row = await rates(kind, n);
        rows.push(row);
        console.log(
          `| ${r} | ${kind.label} | ${rate(row.put)} | ${cpu(row.put)} | ` +
            `${rate(row.putUnique)} | ${cpu(row.putUnique)} |`,
        );
      }
      const sides = oursAndCxx(rows);
      if (!sides) continue;
      allSides.push(sides);
      const [ours, cxx] = sides;
      const x = (a: number, b: number) => formatRatio(a / b);
      // Per phase, against the fastest C++ setting of this run.
      const against = (pick: (row: RateRow) => Phase) => {
        const best = cxx.reduce((a, b) => pick(b).opsPerSec > pick(a).opsPerSec ? b : a);
        const [o, c] = [pick(ours), pick(best)];
        return `${x(o.opsPerSec, c.opsPerSec)} (master CPU/op ${x(c.masterUs, o.masterUs)} less; ` +
          `C++ ${best.master.caf!.label})`;
      };
      const unique = PUT_ONLY ? "" : `, putUnique ${against((row) => row.putUnique)}`;
      ratios.push(`run ${r}: put ${against((row) => row.put)}${unique}`);
    }
    console.log(
      `\nours/C++ master (its fastest CAF setting), same clone (goal >= 10x): ${
        ratios.length > 0 ? ratios.join("; ") : "no ratio (one kind of master in this run)"
      }`,
    );
    if (runs > 1 && allSides.length > 0) {
      const ours = allSides.map(([o]) => o), cxx = allSides.flatMap(([, c]) => c);
      // The same code runs up to ~1.7x slower in one process than in the
      // next here (docs/performance.md, twenty-fifth round): each side at its fastest.
      const over = (pick: (row: RateRow) => Phase) => {
        const fastest = (rows: RateRow[]) => Math.max(...rows.map((row) => pick(row).opsPerSec));
        return formatRatio(fastest(ours) / fastest(cxx));
      };
      console.log(
        `each side's fastest over the ${runs} runs (any C++ setting): put ${
          over((row) => row.put)
        }` +
          (PUT_ONLY ? "" : `, putUnique ${over((row) => row.putUnique)}`),
      );
    }
  }
  if (only !== "rate") {
    console.log(
      "\n| run | master | RSS before | RSS with entries | bytes/entry | peak RSS | fill puts/s |",
    );
    console.log("| ---: | --- | ---: | ---: | ---: | ---: | ---: |");
    const ratios: string[] = [];
    for (let r = 1; r <= runs; r++) {
      const rows: MemoryRow[] = [];
      for (const kind of KINDS) {
        const row = await memory(kind, entries, value);
        rows.push(row);
        console.log(
          `| ${r} | ${kind.label} | ${mib(row.before)} MiB | ${mib(row.after)} MiB | ${
            fmt((row.after - row.before) / entries)
          } | ${mib(row.peak)} MiB | ${fmt(row.fillRate)} |`,
        );
      }
      const sides = oursAndCxx(rows);
      if (!sides) continue;
      const [ours, cxx] = sides;
      // Against the C++ setting that held the entries in the least memory.
      const least = cxx.reduce((a, b) => b.after < a.after ? b : a);
      ratios.push(
        `run ${r}: ${fmt(ours.after / least.after, 2)}x (peak ${
          fmt(ours.peak / least.peak, 2)
        }x; C++ ${least.master.caf!.label})`,
      );
    }
    console.log(
      `\nours/C++ master RSS with entries (its smallest CAF setting; goal <= 1x): ${
        ratios.join("; ")
      }`,
    );
  }
}
