/**
 * What `broker bench` runs: the benchmark's endpoints, its receivers'
 * latency histograms (`npm:hdr-histogram-js`), the summary, the table and
 * the chart. `bench_command.ts` loads it only when a benchmark runs, so that
 * every other `broker` command starts without the histogram package.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { runBench } from "./bench_run.ts";
 * const r = await runBench(1, 1_000);
 * equal(r.layout, "1-to-1");
 * ```
 *
 * @module
 */
import * as hdr from "hdr-histogram-js";
import {
  addr,
  bool,
  count,
  type Data,
  encode,
  Endpoint,
  enumValue,
  integer,
  port,
  set,
  str,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { throughputChartSvg, type ThroughputSeries } from "./throughput_chart.ts";
import { lines, selfCommandArgs } from "./self.ts";

/** Nanoseconds of wall-clock time with sub-millisecond resolution, comparable across processes. */
export function nowNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6));
}

/** One message of a broker-throughput shape, stamped with its send time. */
export function benchMessage(shape: 1 | 2 | 3, i: number): Data {
  const ev = (name: string, args: Data[]) =>
    vector(count(1n), count(1n), vector(str(name), vector(...args)));
  let body: Data;
  if (shape === 1) body = ev("event_1", [integer(42), str("test")]);
  else if (shape === 2) {
    body = ev("event_2", [
      timestamp(nowNs()),
      str("CHhAvVGS1DHFjwGM9"),
      vector(addr("1.2.3.4"), port(4567, "tcp"), addr("3.4.5.6"), port(80, "tcp")),
      enumValue("tcp"),
      str("http"),
      timespan(3_140_000_000n),
      count(BigInt(i)),
      count(BigInt(i) * 2n),
      str("SF"),
      bool(true),
      bool(false),
      count(0n),
      str("ShADadFf"),
      set(str("tunnel-a"), str("tunnel-b")),
    ]);
  } else {
    body = ev("event_3", [
      table(Array.from({ length: 100 }, (_, k) => [count(BigInt(k)), str(`value ${k}`)] as const)),
    ]);
  }
  return vector(timestamp(nowNs()), body);
}

/** Latency percentiles in microseconds. */
export interface LatencyUs {
  /** Median. */
  p50: number;
  /** 90th percentile. */
  p90: number;
  /** 99th percentile. */
  p99: number;
  /** Largest seen. */
  max: number;
}

/** What one subscriber measured. */
export interface SubscriberResult {
  /** Messages it received. */
  messages: number;
  /** From its first delivery to its last. */
  seconds: number;
  /** Its rate over `seconds`. */
  messagesPerSecond: number;
  /** Its latency percentiles. */
  latencyUs: LatencyUs;
}

/**
 * What a run measured. `messages`, `seconds`, `messagesPerSecond`,
 * `megabytesPerSecond` and `latencyUs` are totals across all subscribers
 * (from the first delivery anywhere to the last one anywhere; latencies of
 * every message delivered); `perSubscriber` has each subscriber's own.
 */
export interface BenchResult {
  /** broker-throughput's message shape (1, 2 or 3). */
  shape: number;
  /** "N-to-M": publishers to subscribers. */
  layout: string;
  /** How many publishers. */
  publishers: number;
  /** How many subscribers. */
  subscribers: number;
  /** Whether each endpoint ran in its own process. */
  processes: boolean;
  /** Messages each publisher sent. */
  messagesPerPublisher: number;
  /** Messages per second per publisher; 0 is flat out. */
  rate: number;
  /** Messages received, all subscribers together. */
  messages: number;
  /** Encoded size of one message. */
  bytesPerMessage: number;
  /** From the first delivery anywhere to the last. */
  seconds: number;
  /** `messages` over `seconds`. */
  messagesPerSecond: number;
  /** The same in MB/s of encoded values. */
  megabytesPerSecond: number;
  /** Latency percentiles of every delivery. */
  latencyUs: LatencyUs;
  /** Each subscriber's own figures. */
  perSubscriber: SubscriberResult[];
  /**
   * Messages per second delivered in consecutive intervals of `intervalMs`
   * from the first delivery, in total and per subscriber (all the same
   * length; a tail shorter than half an interval is folded into the last).
   */
  series: { intervalMs: number; total: number[]; perSubscriber: number[][] };
}

/** What a receiver reports (as JSON, when it runs in a child process). */
export interface ReceiverReport {
  /** Messages it received. */
  messages: number;
  /** Wall-clock milliseconds (comparable across processes) of the first and last delivery. */
  firstMs: number;
  /** Wall-clock milliseconds of the last delivery. */
  lastMs: number;
  /** Messages delivered in each millisecond since `firstMs`, for the time series. */
  perMs: number[];
  /** The HDR histogram of latencies in µs (hdr-histogram-js's compressed base64). */
  histogram: string;
}

const wallMs = () => performance.timeOrigin + performance.now();

const newHistogram = () =>
  hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });

const percentiles = (h: hdr.Histogram): LatencyUs => ({
  p50: h.getValueAtPercentile(50),
  p90: h.getValueAtPercentile(90),
  p99: h.getValueAtPercentile(99),
  max: h.maxValue,
});

/**
 * Receives `n` messages on /bench (or stops after 30 s of silence): latency
 * of each, and deliveries per millisecond. `ready` runs once the
 * subscription exists, so peers that connect afterwards learn it in the
 * handshake.
 *
 * @example
 * ```ts ignore
 * const port = await ep.listen();
 * const report = await receive(ep, 1000, () => console.log(`PORT ${port}`));
 * ```
 */
export async function receive(
  ep: Endpoint,
  n: number,
  ready?: () => void,
): Promise<ReceiverReport> {
  const sub = ep.subscribe("/bench", { queueSize: 65536 });
  ready?.();
  const h = newHistogram();
  const perMs: number[] = [];
  let got = 0, firstMs = 0, lastMs = 0;
  while (got < n) {
    const m = await sub.get(30_000);
    if (!m) break;
    const batch = [m, ...sub.poll()];
    const arrived = wallMs();
    if (got === 0) firstMs = arrived;
    for (const x of batch) {
      const sent = (x.data.value as Data[])[0].value as bigint;
      h.recordValue(Math.max(1, Number((nowNs() - sent) / 1000n)));
    }
    got += batch.length;
    // One sample per batch, not per message: the clock costs more than the count.
    const k = Math.floor(arrived - firstMs);
    while (perMs.length <= k) perMs.push(0);
    perMs[k] += batch.length;
    lastMs = wallMs();
  }
  sub.close();
  return { messages: got, firstMs, lastMs, perMs, histogram: hdr.encodeIntoCompressedBase64(h) };
}

/** Publishes `n` messages on /bench, flat out (with back-pressure) or at `rate` per second. */
export async function send(ep: Endpoint, shape: 1 | 2 | 3, n: number, rate = 0): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (rate > 0) {
      const wait = start + (i / rate) * 1000 - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    // demand() is the minimum over the matching peers: with several
    // subscribers the publisher goes at the pace of the slowest, as Broker's does.
    if (ep.demand("/bench") <= 0) await ep.ready("/bench");
    ep.publish("/bench", benchMessage(shape, i));
  }
}

/** Peers a publisher with every subscriber port and waits until they are subscribed. */
async function connectPublisher(ep: Endpoint, ports: readonly number[]): Promise<void> {
  // Subscribers subscribe before they listen, so each handshake carries the
  // filter and every peer is known to want /bench once `peer` resolves.
  for (const port of ports) await ep.peer("127.0.0.1", port, { retryMs: 0 });
  await ep.awaitPeerSubscription("/bench");
}

/**
 * Folds receiver reports into totals, per-subscriber figures and time
 * series of `intervalMs`.
 *
 * @example
 * ```ts ignore
 * const { messagesPerSecond, series } = summarize(reports, 100);
 * ```
 */
export function summarize(
  reports: readonly ReceiverReport[],
  intervalMs: number,
): Pick<
  BenchResult,
  "messages" | "seconds" | "messagesPerSecond" | "latencyUs" | "perSubscriber" | "series"
> {
  const all = newHistogram();
  const perSubscriber = reports.map((r) => {
    const h = hdr.decodeFromCompressedBase64(r.histogram);
    all.add(h);
    const seconds = (r.lastMs - r.firstMs) / 1000;
    return {
      messages: r.messages,
      seconds,
      messagesPerSecond: r.messages / Math.max(seconds, 1e-9),
      latencyUs: percentiles(h),
    };
  });
  const active = reports.filter((r) => r.messages > 0);
  const messages = reports.reduce((sum, r) => sum + r.messages, 0);
  const origin = Math.min(...active.map((r) => r.firstMs));
  const span = active.length ? Math.max(...active.map((r) => r.lastMs)) - origin : 0;
  // Whole intervals; a tail of at least half an interval is a shorter one of
  // its own, a shorter tail joins the last (a few ms would give wild rates).
  let intervals = Math.max(1, Math.floor(span / intervalMs));
  const tail = span - intervals * intervalMs;
  if (tail >= intervalMs / 2) intervals++;
  const lastLength = Math.max(1, span - (intervals - 1) * intervalMs);
  const counts = reports.map((r) => {
    const c = new Array<number>(active.length ? intervals : 0).fill(0);
    r.perMs.forEach((x, k) => {
      if (x) c[Math.min(intervals - 1, Math.floor((r.firstMs - origin + k) / intervalMs))] += x;
    });
    return c.map((x, i) => (x * 1000) / (i === intervals - 1 ? lastLength : intervalMs));
  });
  const total = counts.length
    ? counts[0].map((_, i) => counts.reduce((sum, c) => sum + c[i], 0))
    : [];
  return {
    messages,
    seconds: span / 1000,
    messagesPerSecond: messages / Math.max(span / 1000, 1e-9),
    latencyUs: percentiles(all),
    perSubscriber,
    series: { intervalMs, total, perSubscriber: counts },
  };
}

/** A child `broker bench --receive/--send` that talks in lines. */
class BenchChild {
  readonly #proc: Deno.ChildProcess;
  readonly #out: AsyncGenerator<string>;
  readonly #in?: WritableStreamDefaultWriter<Uint8Array>;
  exited = false;
  readonly status: Promise<Deno.CommandStatus>;

  /** Spawns the child; with `stdin` it gets a pipe to send on (`write`). */
  constructor(readonly role: string, args: string[], { stdin }: { stdin: boolean }) {
    this.#proc = new Deno.Command(Deno.execPath(), {
      args: [...selfCommandArgs(), "bench", ...args],
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#out = lines(this.#proc.stdout);
    if (stdin) this.#in = this.#proc.stdin.getWriter();
    this.status = this.#proc.status.then((s) => {
      this.exited = true;
      return s;
    });
  }

  async line(): Promise<string> {
    const r = await this.#out.next();
    if (r.done) throw new Error(`broker bench: the ${this.role} process exited early`);
    return r.value;
  }

  async write(line: string): Promise<void> {
    await this.#in!.write(new TextEncoder().encode(`${line}\n`));
  }

  async closeInput(): Promise<void> {
    await this.#in?.close().catch(() => {});
  }

  kill(): void {
    if (this.exited) return;
    try {
      this.#proc.kill();
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * Every endpoint in its own process: subscribers as `bench --receive`, then
 * publishers as `bench --send`, started together once all are peered.
 */
async function runInProcesses(
  shape: 1 | 2 | 3,
  n: number,
  publishers: number,
  subscribers: number,
  rate: number,
): Promise<ReceiverReport[]> {
  const children: BenchChild[] = [];
  // Stopped by a signal, the children go too (they outlived a killed parent by minutes).
  const stops = (["SIGINT", "SIGTERM"] as const).map((signal) => {
    const stop = () => {
      for (const c of children) c.kill();
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    };
    Deno.addSignalListener(signal, stop);
    return () => Deno.removeSignalListener(signal, stop);
  });
  try {
    const subs = Array.from({ length: subscribers }, (_, i) => {
      const c = new BenchChild(`subscriber ${i + 1}`, ["--receive", String(publishers * n)], {
        stdin: false,
      });
      children.push(c);
      return c;
    });
    const ports = await Promise.all(subs.map(async (c) => {
      const line = await c.line();
      const m = /^PORT (\d+)$/.exec(line);
      if (!m) throw new Error(`broker bench: unexpected line from the ${c.role}: ${line}`);
      return Number(m[1]);
    }));
    const args = ["--send", ports.join(","), "--event-type", String(shape), "-n", String(n)];
    if (rate > 0) args.push("--publish-rate", String(rate));
    const pubs = Array.from({ length: publishers }, (_, i) => {
      const c = new BenchChild(`publisher ${i + 1}`, args, { stdin: true });
      children.push(c);
      return c;
    });
    // Starting all publishers at once keeps slow process start-ups out of the figures.
    await Promise.all(pubs.map(async (c) => {
      const line = await c.line();
      if (line !== "READY") throw new Error(`broker bench: unexpected line from the ${c.role}`);
    }));
    await Promise.all(pubs.map((c) => c.write("GO")));
    const reports = await Promise.all(subs.map(async (c) => JSON.parse(await c.line())));
    // Closing stdin lets the publishers shut down, now that everything arrived.
    await Promise.all(pubs.map((c) => c.closeInput()));
    for (const c of children) {
      const s = await c.status;
      if (!s.success) throw new Error(`broker bench: the ${c.role} process failed (${s.code})`);
    }
    return reports;
  } finally {
    for (const c of children) {
      c.kill();
      await c.closeInput();
      await c.status;
    }
    for (const remove of stops) remove();
  }
}

/** All endpoints in this process. */
async function runInOneProcess(
  shape: 1 | 2 | 3,
  n: number,
  publishers: number,
  subscribers: number,
  rate: number,
): Promise<ReceiverReport[]> {
  const subs = Array.from({ length: subscribers }, () => new Endpoint());
  const pubs = Array.from({ length: publishers }, () => new Endpoint({ peerBufferSize: 8192 }));
  try {
    const ports = await Promise.all(subs.map((s) => s.listen()));
    const receiving = subs.map((s) => receive(s, publishers * n));
    await Promise.all(pubs.map((p) => connectPublisher(p, ports)));
    await Promise.all(pubs.map((p) => send(p, shape, n, rate)));
    return await Promise.all(receiving);
  } finally {
    await Promise.all([...subs, ...pubs].map((e) => e.shutdown()));
  }
}

/** How to run a benchmark. */
export interface BenchOptions {
  /**
   * Publishing endpoints; each sends `n` messages to every subscriber.
   * @default 1
   */
  publishers?: number;
  /**
   * Subscribing endpoints; one of `publishers` and `subscribers` is 1.
   * @default 1
   */
  subscribers?: number;
  /**
   * Each endpoint in its own child process (`deno run -A cli/main.ts bench ...`).
   * @default false
   */
  processes?: boolean;
  /**
   * Messages per second per publisher; 0 is flat out.
   * @default 0
   */
  rate?: number;
  /**
   * The time series' interval in ms (`--interval`).
   * @default 100 (`DEFAULT_BENCH_INTERVAL_MS`)
   */
  intervalMs?: number;
}

/** The time series' interval of `broker bench`, in ms (Broker's `--interval` default). */
export const DEFAULT_BENCH_INTERVAL_MS = 100;
/** Messages each publisher of `broker bench` sends (`--num-messages`). */
export const DEFAULT_BENCH_MESSAGES = 100_000;

/**
 * Runs one benchmark: `publishers` endpoints each publish `n` messages of
 * `shape` on /bench to `subscribers` endpoints (every publisher peers with
 * every subscriber), measured at the subscribers.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { runBench } from "./bench_run.ts";
 * const r = await runBench(1, 1_000, { publishers: 4 }); // 4 → 1, one process
 * equal(r.publishers, 4);
 * equal(r.subscribers, 1);
 * ```
 */
export async function runBench(
  shape: 1 | 2 | 3,
  n: number,
  options: BenchOptions = {},
): Promise<BenchResult> {
  const publishers = options.publishers ?? 1, subscribers = options.subscribers ?? 1;
  const rate = options.rate ?? 0, intervalMs = options.intervalMs ?? DEFAULT_BENCH_INTERVAL_MS;
  for (const [name, v] of [["publishers", publishers], ["subscribers", subscribers], ["n", n]]) {
    if (!Number.isSafeInteger(v) || (v as number) < 1) {
      throw new RangeError(`${name} must be a positive integer`);
    }
  }
  if (publishers > 1 && subscribers > 1) {
    throw new RangeError("N publishers → M subscribers is not supported: one side must be 1");
  }
  const run = options.processes ? runInProcesses : runInOneProcess;
  const reports = await run(shape, n, publishers, subscribers, rate);
  const summary = summarize(reports, intervalMs);
  const bytesPerMessage = encode(benchMessage(shape, 0)).length;
  return {
    shape,
    layout: `${publishers}-to-${subscribers}`,
    publishers,
    subscribers,
    processes: !!options.processes,
    messagesPerPublisher: n,
    rate,
    bytesPerMessage,
    megabytesPerSecond: (summary.messagesPerSecond * bytesPerMessage) / 1e6,
    ...summary,
  };
}

const thousands = (x: number) => x.toLocaleString("en-US");

const plural = (k: number, word: string) => `${k} ${word}${k === 1 ? "" : "s"}`;

/**
 * The workload in words, as the table heading and the chart title.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { describeBench, runBench } from "./bench_run.ts";
 * const r = await runBench(1, 1_000, { publishers: 4 });
 * equal(describeBench(r).title, "4 publishers → 1 subscriber, one process");
 * ```
 */
export function describeBench(r: BenchResult): { title: string; details: string } {
  return {
    title: `${plural(r.publishers, "publisher")} → ${plural(r.subscribers, "subscriber")}, ` +
      (r.processes ? "one process per endpoint" : "one process"),
    details: `event_${r.shape} (${r.bytesPerMessage} B), ${thousands(r.messagesPerPublisher)} ` +
      `msgs per publisher, ${r.rate > 0 ? `${thousands(r.rate)} msgs/s each` : "flat out"}`,
  };
}

/**
 * The result as a table: the total, then each subscriber when there are several.
 *
 * @example
 * ```ts
 * import { match } from "node:assert/strict";
 * import { formatBench, runBench } from "./bench_run.ts";
 * const table = formatBench(await runBench(1, 1_000, { subscribers: 2 }));
 * match(table, /^1 publisher → 2 subscribers, one process: event_1 \(59 B\)/);
 * match(table, /\nsub 2 +1000 /); // a row per subscriber after the total
 * ```
 */
export function formatBench(r: BenchResult): string {
  const head = ["", "msgs", "msgs/s", "MB/s", "p50 µs", "p90 µs", "p99 µs", "max µs"];
  const row = (name: string, s: SubscriberResult) =>
    [
      name,
      s.messages,
      Math.round(s.messagesPerSecond),
      ((s.messagesPerSecond * r.bytesPerMessage) / 1e6).toFixed(1),
      s.latencyUs.p50,
      s.latencyUs.p90,
      s.latencyUs.p99,
      s.latencyUs.max,
    ].map(String);
  const rows = [head, row("total", r)];
  if (r.subscribers > 1) r.perSubscriber.forEach((s, i) => rows.push(row(`sub ${i + 1}`, s)));
  const w = head.map((_, i) => Math.max(...rows.map((cells) => cells[i].length)));
  const line = (cells: string[]) =>
    cells.map((c, i) => i === 0 ? c.padEnd(w[i]) : c.padStart(w[i])).join("  ");
  const { title, details } = describeBench(r);
  return [`${title}: ${details}`, ...rows.map(line)].join("\n");
}

/**
 * The run's throughput over time as an SVG chart: the total in dark, and a
 * line per subscriber when there are several.
 *
 * @example
 * ```ts ignore
 * await Deno.writeTextFile("bench.svg", benchChart(await runBench(1, 100_000, { subscribers: 4 })));
 * ```
 */
export function benchChart(r: BenchResult): string {
  const { title, details } = describeBench(r);
  const series: ThroughputSeries[] = [
    { name: "total", values: r.series.total, color: "#222222", strokeWidth: 2.5 },
  ];
  if (r.subscribers > 1) {
    r.series.perSubscriber.forEach((values, i) =>
      series.push({ name: `subscriber ${i + 1}`, values })
    );
  }
  return throughputChartSvg({
    title: `broker bench: ${title}`,
    subtitle: `${details}; delivered per ${r.series.intervalMs} ms`,
    intervalMs: r.series.intervalMs,
    series,
  });
}

/**
 * The internal publisher of a multi-process run (`bench --send`): peer, say
 * READY, wait for GO, send, say DONE.
 *
 * @example
 * ```ts ignore
 * await publisherChild([29001], 1, 100_000, 0);
 * ```
 */
export async function publisherChild(ports: number[], shape: 1 | 2 | 3, n: number, rate: number) {
  const ep = new Endpoint({ peerBufferSize: 8192 });
  const input = lines(Deno.stdin.readable);
  try {
    await connectPublisher(ep, ports);
    console.log("READY");
    if ((await input.next()).done) throw new Error("no GO from the coordinator");
    await send(ep, shape, n, rate);
    console.log("DONE");
    // The coordinator closes our stdin once every subscriber has everything;
    // shutting down earlier could cut off frames still in our buffers.
    while (!(await input.next()).done) { /* wait for EOF */ }
  } finally {
    await ep.shutdown();
  }
}

/**
 * The internal subscriber of a multi-process run (`bench --receive`): listen,
 * say the port, receive `n` messages, print the report as JSON.
 *
 * @example
 * ```ts ignore
 * await receiverChild(100_000);
 * ```
 */
export async function receiverChild(n: number): Promise<void> {
  const ep = new Endpoint();
  const port = await ep.listen();
  const report = await receive(ep, n, () => console.log(`PORT ${port}`));
  console.log(JSON.stringify(report));
  await ep.shutdown();
}
