/**
 * Data store throughput and latency, side by side in one run: `put`, `get`
 * and `putUnique` on a master and through a clone (two endpoints peered
 * over loopback in this process), with the memory backend and SQLite at
 * several durability settings.
 *
 * - throughput: master ops are issued in windows of `WINDOW` promises;
 *   clone puts count until the master holds the last key (the channel keeps
 *   order), clone putUniques keep `WINDOW` round trips in flight.
 * - latency: one op at a time; a clone put counts until the master reports
 *   it (a store event), so it is the write's real one-way delay.
 *
 * Targets: putUnique through a clone >= 50k/s; SQLite master puts >= 100k/s
 * with batched transactions.
 *
 * @example
 * ```sh
 * deno run -A bench/store_bench.ts --quick
 * ```
 *
 * @module
 */
import {
  count,
  type Data,
  Endpoint,
  MemoryBackend,
  SqliteBackend,
  type Store,
  str,
} from "../mod.ts";
import type { StoreBackend } from "../engine/store/backend.ts";
import type { SqliteBackendOptions } from "../engine/store/sqlite_backend.ts";
import { EventLoopTrips } from "../tests/event_loop_trips.ts";

const QUICK = Deno.args.includes("--quick");
/** Ops per throughput run (fast backends). */
const N = QUICK ? 5_000 : 50_000;
/** Ops per throughput run when every write is its own fsynced transaction. */
const N_SLOW = QUICK ? 200 : 1_000;
/** Sequential ops per latency run. */
const LAT_N = QUICK ? 200 : 2_000;
/** Promises in flight at once in throughput runs. */
const WINDOW = 500;

interface Config {
  name: string;
  /** Ops per throughput run. */
  n: number;
  backend(dir: string): StoreBackend;
}

/** Per-write commit: Broker's behavior with SQLite's default pragmas (full durability). */
const sqliteDefault: Omit<SqliteBackendOptions, "path"> = { batchSize: 1 };
/** Batched transactions with SQLite's default pragmas (our backend's default). */
const sqliteBatched: Omit<SqliteBackendOptions, "path"> = {};
/** Batched, and neither fsync nor a rollback journal on disk. */
const sqliteRelaxed: Omit<SqliteBackendOptions, "path"> = {
  synchronous: "off",
  journalMode: "memory",
  batchSize: 512,
};
/** Batched, WAL without fsync on commit. */
const sqliteWal: Omit<SqliteBackendOptions, "path"> = {
  synchronous: "off",
  journalMode: "wal",
  batchSize: 512,
};

let seq = 0;
const sqlite = (o: Omit<SqliteBackendOptions, "path">) => (dir: string) =>
  new SqliteBackend({ ...o, path: `${dir}/store-${seq++}.sqlite` });

const CONFIGS: Config[] = [
  { name: "memory", n: N, backend: () => new MemoryBackend() },
  { name: "sqlite commit/write", n: N_SLOW, backend: sqlite(sqliteDefault) },
  { name: "sqlite batch 512", n: N, backend: sqlite(sqliteBatched) },
  { name: "sqlite sync=off journal=memory", n: N, backend: sqlite(sqliteRelaxed) },
  { name: "sqlite sync=off wal", n: N, backend: sqlite(sqliteWal) },
];

interface Row {
  config: string;
  via: "master" | "clone";
  op: string;
  n: number;
  opsPerSec: number;
  p50us: number;
  p99us: number;
}

const keys = (prefix: string, n: number): Data[] =>
  Array.from({ length: n }, (_, i) => str(`${prefix}${i}`));

/**
 * Trips through the event loop without the 4 ms that nested `setTimeout(0)`
 * is clamped to (which capped a window of 500 at 125k/s).
 */
const trips = new EventLoopTrips();

/** Runs `op` over every key with at most WINDOW promises in flight; returns ops/s. */
async function windowed(ks: Data[], op: (k: Data, i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ks.length; i += WINDOW) {
    const batch: Promise<unknown>[] = [];
    for (let j = i; j < Math.min(i + WINDOW, ks.length); j++) batch.push(op(ks[j], j));
    await Promise.all(batch);
    // Master ops settle as microtasks: yield so that timers are not starved.
    await trips.next();
  }
  trips.close(); // an open channel would keep the process alive
  return ks.length / ((performance.now() - t0) / 1000);
}

/** p50 and p99 in microseconds of `op` run one at a time. */
async function latency(
  ks: Data[],
  op: (k: Data, i: number) => Promise<unknown>,
): Promise<[number, number]> {
  const ts: number[] = [];
  for (let i = 0; i < ks.length; i++) {
    const t0 = performance.now();
    await op(ks[i], i);
    ts.push((performance.now() - t0) * 1000);
  }
  ts.sort((a, b) => a - b);
  return [
    ts[Math.floor(ts.length * 0.5)],
    ts[Math.min(ts.length - 1, Math.floor(ts.length * 0.99))],
  ];
}

async function until(pred: () => Promise<boolean>, ms = 120_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("bench: condition not met in time");
    await new Promise((r) => setTimeout(r, 1));
  }
}

async function benchMaster(cfg: Config, s: Store, rows: Row[]): Promise<void> {
  const add = (op: string, n: number, opsPerSec: number, [p50us, p99us]: [number, number]) =>
    rows.push({ config: cfg.name, via: "master", op, n, opsPerSec, p50us, p99us });
  const put = keys("mp", cfg.n), putLat = keys("mpl", LAT_N);
  const uniq = keys("mu", cfg.n), uniqLat = keys("mul", LAT_N);
  const v = count(1n);
  add(
    "put",
    cfg.n,
    await windowed(put, (k) => s.put(k, v)),
    await latency(putLat, (k) => s.put(k, v)),
  );
  add(
    "get",
    cfg.n,
    await windowed(put, (k) => s.get(k)),
    await latency(putLat, (k) => s.get(k)),
  );
  add(
    "putUnique",
    cfg.n,
    await windowed(uniq, (k) => s.putUnique(k, v)),
    await latency(uniqLat, (k) => s.putUnique(k, v)),
  );
}

async function benchClone(cfg: Config, master: Store, clone: Store, rows: Row[]): Promise<void> {
  const add = (op: string, n: number, opsPerSec: number, [p50us, p99us]: [number, number]) =>
    rows.push({ config: cfg.name, via: "clone", op, n, opsPerSec, p50us, p99us });
  const put = keys("cp", cfg.n), putLat = keys("cpl", LAT_N);
  const uniq = keys("cu", cfg.n), uniqLat = keys("cul", LAT_N);
  const v = count(1n);

  // put: queued at once on the clone; done when the master holds the last key.
  const last = put[put.length - 1];
  const t0 = performance.now();
  for (const k of put) void clone.put(k, v);
  await until(() => master.exists(last));
  const putRate = put.length / ((performance.now() - t0) / 1000);
  const events = master.events({ capacity: 16 });
  const putLatency = await latency(putLat, async (k) => {
    await clone.put(k, v);
    await events.get(10_000);
  });
  events.close();
  add("put", cfg.n, putRate, putLatency);

  // get: local reads, once the clone has caught up.
  const lastLat = putLat[putLat.length - 1];
  await until(() => clone.exists(lastLat));
  add(
    "get",
    cfg.n,
    await windowed(put, (k) => clone.get(k)),
    await latency(putLat, (k) => clone.get(k)),
  );

  // putUnique: a round trip to the master each.
  add(
    "putUnique",
    cfg.n,
    await windowed(uniq, (k) => clone.putUnique(k, v)),
    await latency(uniqLat, (k) => clone.putUnique(k, v)),
  );
}

async function runConfig(cfg: Config, dir: string, rows: Row[]): Promise<void> {
  const a = new Endpoint(), b = new Endpoint();
  const port = await a.listen("127.0.0.1", 0);
  await b.peer("127.0.0.1", port, { retryMs: 0 });
  const m1 = a.attachMaster(`bench-m-${seq}`, cfg.backend(dir));
  const m2 = a.attachMaster(`bench-c-${seq}`, cfg.backend(dir));
  const clone = b.attachClone(m2.name);
  try {
    await until(() => Promise.resolve(clone.peers.length === 1), 10_000);
    await benchMaster(cfg, m1, rows);
    await benchClone(cfg, m2, clone, rows);
  } finally {
    clone.close();
    m1.close();
    m2.close();
    await b.shutdown();
    await a.shutdown();
  }
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    maximumFractionDigits: digits,
    minimumFractionDigits: digits,
  });
}

function printTable(rows: Row[]): void {
  const head = ["backend", "via", "op", "n", "ops/s", "p50 µs", "p99 µs"];
  const body = rows.map((r) => [
    r.config,
    r.via,
    r.op,
    fmt(r.n),
    fmt(r.opsPerSec),
    fmt(r.p50us, 1),
    fmt(r.p99us, 1),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ") +
    " |";
  console.log(line(head));
  console.log(
    "|" + widths.map((w, i) => (i >= 3 ? "-".repeat(w + 1) + ":" : "-".repeat(w + 2))).join("|") +
      "|",
  );
  for (const row of body) console.log(line(row));
}

function printTargets(rows: Row[]): void {
  const find = (config: string, via: string, op: string) =>
    rows.find((r) => r.config === config && r.via === via && r.op === op)?.opsPerSec ?? 0;
  const cloneUnique = Math.max(...CONFIGS.map((c) => find(c.name, "clone", "putUnique")));
  const sqlitePut = Math.max(
    ...CONFIGS.filter((c) => c.name.startsWith("sqlite")).map((c) => find(c.name, "master", "put")),
  );
  const verdict = (x: number, target: number) => (x >= target ? "met" : "MISSED");
  console.log(
    `\ntarget putUnique via clone >= 50,000/s: best ${fmt(cloneUnique)}/s (${
      verdict(cloneUnique, 50_000)
    })`,
  );
  console.log(
    `target SQLite master put >= 100,000/s (batched): best ${fmt(sqlitePut)}/s (${
      verdict(sqlitePut, 100_000)
    })`,
  );
}

if (import.meta.main) {
  const dir = await Deno.makeTempDir({ prefix: "store-bench-" });
  const rows: Row[] = [];
  try {
    console.log(
      `store bench${
        QUICK ? " (quick)" : ""
      }: n=${N} (commit/write: ${N_SLOW}), latency n=${LAT_N}, ` +
        `window=${WINDOW}, ${navigator.hardwareConcurrency} cores, deno ${Deno.version.deno}\n`,
    );
    for (const cfg of CONFIGS) await runConfig(cfg, dir, rows);
    printTable(rows);
    printTargets(rows);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
