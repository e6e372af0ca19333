/**
 * What a second core buys a decoding subscriber: `event_2` messages (the
 * 236-byte conn.log-like event of `broker-throughput -t 2`, as in
 * `bench/peering.ts`) delivered over a real TCP peering to a subscriber
 * that decodes every message, three ways, in one run:
 *
 * - `main`: today's path, the subscriber decodes on the endpoint's thread
 *   (`get()` + `poll()`);
 * - `worker`: `WorkerSubscription`, the endpoint's thread batches the
 *   validated payloads into transferred ArrayBuffers and a Worker decodes
 *   and consumes them (`consumeInWorker`);
 * - `clone`: a Worker decodes and posts the values back (structured clone),
 *   the endpoint's thread consumes them: decoding moved, values cross back.
 *
 * The consumer is the same everywhere: it reads each value's type and
 * counts. The rate is messages consumed per second at the subscriber, after
 * a warm-up, from samples the receiver takes itself. Layouts: `2proc` (a
 * sender process publishing pre-encoded payloads with `publishEncoded`, so
 * it is cheaper than the receiver, and a receiver process) and `1proc`
 * (sender and receiver endpoints on one thread of one process, peered over
 * loopback TCP). Variants alternate within each round; ratios are within a
 * round, and each layout ends with the medians of the per-round ratios.
 * Beside each rate: the CPU time per message of each thread over the same
 * window (from /proc: the receiver's main thread, its Worker, its other
 * threads, and the sender process), and the rate those costs would allow
 * with two cores to itself ("2-core bound": no thread faster than its own
 * cost, all sharing two cores). That is a model, printed because on a
 * shared VM the rates swing with other jobs; the rates are the measurement.
 * A micro section times, on this thread, decoding a value against
 * structured cloning it (what `clone` adds to the endpoint's thread).
 *
 * Run: `deno run -A --lock=deno.lock bench/worker.ts [--rounds=3] [--seconds=4]
 * [--layouts=2proc,1proc] [--variants=main,worker,clone] [--in-flight=4]
 * [--batch-bytes=65536] [--consumer=text]`; `--consumer=text` makes the
 * consumer format each value with `dataToString` (work of its own, as a log
 * writer's), to show what moving a heavier consumer off the endpoint's
 * thread buys.
 *
 * @module
 */
import v8 from "node:v8";
import { setImmediate } from "node:timers";
import { type DataMessage, dataToString, encode, Endpoint } from "../mod.ts";
import { decodeValidated, validateForLater } from "../engine/data/mod.ts";
import {
  DEFAULT_BATCH_BYTES,
  DEFAULT_BATCHES_IN_FLIGHT,
  WorkerSubscription,
} from "../engine/worker/worker_subscription.ts";
import { BatchReader } from "../engine/worker/batch.ts";
import { consumeInWorker } from "../engine/worker/consume.ts";
import { CHANNEL_KEY, type FromWorker, type ToWorker } from "../engine/worker/protocol.ts";
import { CLK_TCK, statName, statTicks } from "./proc_stat.ts";
import { numberOption, stringOption } from "./args.ts";
import { connEvent } from "./throughput_events.ts";
import { formatRatio } from "./stats.ts";

const TOPIC = "/benchmark/events";
const POOL_SIZE = 4096;

// ------------------------------------------------------------------ workload

/** The consumer of every variant: reads the value, counts the message. */
let consumed = 0;
let textBytes = 0;
function consume(m: DataMessage): void {
  if (m.data.type === "vector" && m.topic.length > 0) consumed++;
  // `--consumer=text`: a consumer with work of its own, as a log writer's formatting.
  if (TEXT_CONSUMER) textBytes += dataToString(m.data).length;
}

// ------------------------------------------------------------------ worker roles

const ROLE = new URL(import.meta.url).searchParams.get("role");
/** The consumer formats each value as text (`--consumer=text`, handed to workers in the URL). */
const TEXT_CONSUMER = new URL(import.meta.url).searchParams.get("consumer") === "text" ||
  (ROLE === null && Deno.args.includes("--consumer=text"));
if (ROLE === "consume") consumeInWorker(consume);
if (ROLE === "clone") {
  // Decodes as `consumeInWorker` does, then posts the values back instead of consuming them.
  (self as unknown as EventTarget).addEventListener("message", (e) => {
    const p = ((e as MessageEvent).data as Record<string, unknown> | null)?.[CHANNEL_KEY];
    if (!(p instanceof MessagePort)) return;
    const reader = new BatchReader();
    p.onmessage = (ev: MessageEvent<ToWorker>) => {
      const m = ev.data;
      if (m.kind === "end") {
        p.postMessage({ kind: "ended" } satisfies FromWorker);
        return;
      }
      (self as unknown as Worker).postMessage(reader.read(m.batch));
      const ack: FromWorker = { kind: "ack", buffer: m.batch.buffer, count: m.batch.count };
      p.postMessage(ack, [m.batch.buffer]);
    };
  });
}

// ------------------------------------------------------------------ processes' roles

type Variant = "main" | "worker" | "clone";
/** `--in-flight=N` and `--batch-bytes=N`, handed on to the children. */
const WS_OPTIONS = {
  maxBatchesInFlight: numberOption("--in-flight", DEFAULT_BATCHES_IN_FLIGHT, { min: 1 }),
  batchBytes: numberOption("--batch-bytes", DEFAULT_BATCH_BYTES, { min: 1 }),
};
const turn = () => new Promise<void>((r) => setImmediate(r));
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const encoder = new TextEncoder();
function say(line: string): void {
  let bytes = encoder.encode(line + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

/** Publishes the pool's payloads flat out, within the peers' demand, until `stop()`. */
async function publishLoop(ep: Endpoint, stop: () => boolean): Promise<void> {
  const pool = Array.from({ length: POOL_SIZE }, () => encode(connEvent()));
  let i = 0, sinceTurn = 0;
  while (!stop()) {
    const room = Math.min(1024, ep.demand(TOPIC));
    if (room <= 0) {
      await ep.ready(TOPIC);
      continue;
    }
    for (let k = 0; k < room; k++) ep.publishEncoded(TOPIC, pool[i++ & (POOL_SIZE - 1)]);
    sinceTurn += room;
    if (sinceTurn >= 4096) {
      sinceTurn = 0;
      await turn();
    }
  }
}

/**
 * Subscribes `ep` with `variant`'s consumer; returns how to read the count
 * of consumed messages.
 */
function startConsumer(ep: Endpoint, variant: Variant): () => number {
  const sub = ep.subscribe(TOPIC, { queueSize: 4096 });
  if (variant === "main") {
    (async () => {
      for (;;) {
        const m = await sub.get();
        if (m === undefined) return;
        consume(m);
        for (const n of sub.poll()) consume(n);
      }
    })();
    return () => consumed;
  }
  const url = new URL(import.meta.url);
  url.searchParams.set("role", variant === "worker" ? "consume" : "clone");
  if (TEXT_CONSUMER) url.searchParams.set("consumer", "text");
  const worker = new Worker(url.href, { type: "module" });
  const ws = new WorkerSubscription(sub, worker, WS_OPTIONS);
  if (variant === "worker") return () => ws.consumed;
  worker.onmessage = (e: MessageEvent<DataMessage[]>) => {
    for (const m of e.data) consume(m);
  };
  return () => consumed;
}

/** CPU time (ms) of a process's threads, from /proc (clock ticks of 10 ms). */
function threadCpuMs(pid: number | "self"): { main: number; worker: number; other: number } {
  const out = { main: 0, worker: 0, other: 0 };
  const self = pid === "self" ? Deno.pid : pid;
  for (const e of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/task/${e.name}/stat`);
      const comm = statName(stat);
      const ms = statTicks(stat) * (1000 / CLK_TCK);
      if (Number(e.name) === self) out.main += ms;
      else if (comm.startsWith("worker-")) out.worker += ms;
      else out.other += ms;
    } catch {
      // the thread ended meanwhile
    }
  }
  return out;
}

/**
 * Waits for the first message, then samples the count for `warm + seconds`
 * and prints `RESULT <msgs/s> <main> <worker> <other>`: the rate over the
 * last `seconds`, and the CPU time per message (ns) over them of this
 * process's main thread, its Worker threads and its other threads (V8's
 * GC helpers, I/O). `WINDOW` marks the start of those seconds, so that the
 * bench can read the sender's CPU time over the same span.
 */
async function measure(read: () => number, warmSec: number, seconds: number): Promise<void> {
  const deadline = performance.now() + 20_000;
  while (read() === 0) {
    if (performance.now() > deadline) throw new Error("nothing arrived in 20 s");
    await sleep(5);
  }
  const t0 = performance.now();
  const samples: [number, number][] = [];
  let cpu0 = threadCpuMs("self");
  let windowOpen = false;
  for (;;) {
    await sleep(50);
    const t = performance.now() - t0;
    samples.push([t, read()]);
    if (!windowOpen && t >= warmSec * 1000) {
      windowOpen = true;
      cpu0 = threadCpuMs("self");
      say("WINDOW");
    }
    if (t >= (warmSec + seconds) * 1000) break;
  }
  const cpu1 = threadCpuMs("self");
  const from = samples.find(([t]) => t >= warmSec * 1000)!;
  const to = samples[samples.length - 1];
  const n = to[1] - from[1];
  // A window in which nothing was consumed (the machine's other jobs took the cores) reads 0.
  const per = (k: "main" | "worker" | "other") =>
    n > 0 ? ((cpu1[k] - cpu0[k]) * 1e6 / n).toFixed(0) : "0";
  say(
    `RESULT ${(n / ((to[0] - from[0]) / 1000)).toFixed(0)} ${per("main")} ${per("worker")} ${
      per("other")
    }`,
  );
}

async function runChild(args: string[]): Promise<void> {
  const get = (k: string) => args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
  const role = get("role")!;
  const seconds = Number(get("seconds") ?? 4), warm = Number(get("warm") ?? 1);
  if (role === "sender") {
    const ep = new Endpoint();
    await ep.peer("127.0.0.1", Number(get("port")), { retryMs: 0 });
    await ep.awaitPeerSubscription(TOPIC);
    await publishLoop(ep, () => false);
    return;
  }
  const variant = get("variant") as Variant;
  const rx = new Endpoint();
  const read = startConsumer(rx, variant);
  const p = await rx.listen("127.0.0.1", 0);
  if (role === "receiver") {
    say(`READY ${p}`);
    await measure(read, warm, seconds);
    return;
  }
  // role "both": the sender's endpoint on this same thread.
  const tx = new Endpoint();
  await tx.peer("127.0.0.1", p, { retryMs: 0 });
  await tx.awaitPeerSubscription(TOPIC);
  let stop = false;
  const pub = publishLoop(tx, () => stop);
  await measure(read, warm, seconds);
  stop = true;
  await pub;
}

// ------------------------------------------------------------------ orchestration

/** A child's stdout lines as they come. */
class Child {
  readonly lines: string[] = [];
  readonly #proc: Deno.ChildProcess;
  readonly #wait = new Map<RegExp, (m: RegExpMatchArray) => void>();
  readonly done: Promise<Deno.CommandStatus>;
  readonly stderr: Promise<string>;

  constructor(args: string[]) {
    const proc = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--lock=deno.lock", new URL(import.meta.url).pathname, ...args],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    this.#proc = proc;
    this.stderr = new Response(proc.stderr).text();
    this.done = (async () => {
      let rest = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const l of parts) {
          this.lines.push(l);
          for (const [re, f] of this.#wait) {
            const m = l.match(re);
            if (m) {
              this.#wait.delete(re);
              f(m);
            }
          }
        }
      }
      return await proc.status;
    })();
  }

  async line(re: RegExp): Promise<RegExpMatchArray> {
    const seen = this.lines.map((l) => l.match(re)).find((m) => m);
    if (seen) return seen;
    const got = new Promise<RegExpMatchArray>((r) => this.#wait.set(re, r));
    const failed = this.done.then(async () => {
      const status = await this.done;
      throw new Error(
        `child exited (${status.code}) without ${re}; stdout: ${
          this.lines.slice(-3).join(" | ")
        }; ` +
          `stderr: ${(await this.stderr).slice(-500)}`,
      );
    });
    return await Promise.race([got, failed]);
  }

  /** The child's process ID. */
  get pid(): number {
    return this.#proc.pid;
  }

  kill(): void {
    try {
      this.#proc.kill("SIGKILL");
    } catch {
      // gone
    }
  }
}

/** One run's figures: the rate, and CPU ns per message by thread. */
interface Run {
  rate: number;
  /** Receiver's main thread (in `1proc`, the sender's endpoint too). */
  main: number;
  /** Receiver's Worker thread. */
  worker: number;
  /** Receiver's other threads (GC helpers, I/O). */
  other: number;
  /** The sender process, all threads (`2proc` only). */
  sender: number;
  /**
   * The rate these CPU costs allow with two cores to itself: no thread can
   * go faster than its own cost, and all of them share two cores.
   */
  bound2: number;
}

function parseResult(m: RegExpMatchArray, sender: number): Run {
  const [rate, main, worker, other] = [1, 2, 3, 4].map((k) => Number(m[k]));
  const slowest = Math.max(main, worker, sender);
  const total = main + worker + other + sender;
  const bound2 = total > 0 ? Math.min(1e9 / slowest, 2e9 / total) : 0;
  return { rate, main, worker, other, sender, bound2 };
}

const RESULT = /^RESULT (\d+) (\d+) (\d+) (\d+)/;

async function runOne(layout: string, variant: Variant, seconds: number): Promise<Run> {
  const common = [
    `--variant=${variant}`,
    `--seconds=${seconds}`,
    `--in-flight=${WS_OPTIONS.maxBatchesInFlight}`,
    `--batch-bytes=${WS_OPTIONS.batchBytes}`,
    ...(TEXT_CONSUMER ? ["--consumer=text"] : []),
  ];
  if (layout === "1proc") {
    const c = new Child(["--role=both", ...common]);
    try {
      return parseResult(await c.line(RESULT), 0);
    } finally {
      c.kill();
      await c.done;
    }
  }
  const rx = new Child(["--role=receiver", ...common]);
  const ready = await rx.line(/^READY (\d+)/);
  const tx = new Child(["--role=sender", `--port=${ready[1]}`]);
  const cpu = () => {
    const t = threadCpuMs(tx.pid);
    return t.main + t.worker + t.other;
  };
  try {
    await rx.line(/^WINDOW/);
    const before = cpu();
    const m = await rx.line(RESULT);
    const n = Number(m[1]) * seconds;
    return parseResult(m, ((cpu() - before) * 1e6) / n);
  } finally {
    tx.kill();
    rx.kill();
    await Promise.all([tx.done, rx.done]);
  }
}

/** Per message, on this thread: building a value vs structured cloning it (whole and halves). */
function micro(): Record<string, number> {
  const payloads = Array.from({ length: POOL_SIZE }, () => encode(connEvent()));
  const flags = payloads.map((p) => validateForLater(p));
  // The best of many passes: the first ones run before the JIT, and other jobs preempt some.
  const time = (f: () => unknown, reps = 30) => {
    let best = Infinity;
    for (let r = 0; r < reps; r++) {
      const t = performance.now();
      f();
      best = Math.min(best, performance.now() - t);
    }
    return (best * 1e6) / POOL_SIZE; // ns per message
  };
  const decodeAll = () => payloads.map((p, k) => decodeValidated(p, flags[k]));
  const values = decodeAll();
  const ser = v8.serialize(values);
  return {
    decodeNs: time(decodeAll),
    structuredCloneNs: time(() => structuredClone(values)),
    serializeNs: time(() => v8.serialize(values)),
    deserializeNs: time(() => v8.deserialize(ser)),
  };
}

async function main(): Promise<void> {
  const rounds = numberOption("--rounds", 3, { min: 1 });
  const seconds = numberOption("--seconds", 4, { min: 1, fractions: true });
  const layouts = stringOption("--layouts", "2proc,1proc").split(",");
  const variants = stringOption("--variants", "main,worker,clone").split(",") as Variant[];
  console.log(`load average at start: ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  const m = micro();
  console.log(
    `micro, ns per event_2 on one thread: decode ${m.decodeNs.toFixed(0)}, structuredClone ${
      m.structuredCloneNs.toFixed(0)
    } (v8 serialize ${m.serializeNs.toFixed(0)} + deserialize ${m.deserializeNs.toFixed(0)})`,
  );
  const results: { layout: string; round: number; runs: Record<string, Run> }[] = [];
  const k = (x: number) => `${(x / 1000).toFixed(0)}k`;
  for (const layout of layouts) {
    for (let r = 1; r <= rounds; r++) {
      // Rotated so that no variant always runs first (or right after another).
      const order = variants.map((_, i) => variants[(i + r - 1) % variants.length]);
      const runs: Record<string, Run> = {};
      for (const v of order) runs[v] = await runOne(layout, v, seconds);
      results.push({ layout, round: r, runs });
      const base = runs.main;
      const ratio = (x: number, b: number | undefined) => b ? ` (${formatRatio(x / b)})` : "";
      console.log(`${layout} round ${r}:`);
      for (const v of variants) {
        const x = runs[v];
        console.log(
          `  ${v.padEnd(6)} ${k(x.rate)}/s${v === "main" ? "" : ratio(x.rate, base?.rate)}; ` +
            `CPU ns/msg: main ${x.main}, worker ${x.worker}, other ${x.other}` +
            (layout === "2proc" ? `, sender ${x.sender.toFixed(0)}` : "") +
            `; 2-core bound ${k(x.bound2)}/s${v === "main" ? "" : ratio(x.bound2, base?.bound2)}`,
        );
      }
    }
  }
  // Medians of the per-round ratios: one round's burst of other jobs moves one ratio, not the median.
  const median = (xs: number[]) => {
    const v = xs.filter(Number.isFinite).sort((x, y) => x - y);
    return v.length === 0 ? NaN : v[Math.floor((v.length - 1) / 2)];
  };
  for (const layout of layouts) {
    const rs = results.filter((x) => x.layout === layout);
    for (const v of variants.filter((v) => v !== "main")) {
      const rate = median(rs.map((x) => x.runs[v].rate / x.runs.main?.rate));
      const bound = median(rs.map((x) => x.runs[v].bound2 / x.runs.main?.bound2));
      console.log(
        `${layout}: ${v} / main, median of ${rs.length} rounds: rate ${formatRatio(rate)}, ` +
          `2-core bound ${formatRatio(bound)}`,
      );
    }
  }
  console.log(`load average at end: ${Deno.loadavg().map((x) => x.toFixed(1)).join(" ")}`);
  console.log(
    `JSON ${JSON.stringify({ micro: m, results, cores: navigator.hardwareConcurrency })}`,
  );
}

if (import.meta.main && ROLE === null) {
  if (Deno.args.some((a) => a.startsWith("--role="))) {
    await runChild(Deno.args);
    Deno.exit(0);
  }
  await main();
}
