/**
 * Peering benchmarks: how fast our endpoints move messages over real TCP
 * peerings, measured beside the reference C++ Broker on the same machine and
 * in the same run, so that the ratios hold for this machine's load.
 *
 * What is measured, and why:
 *
 * - Throughput (messages/s, and MB/s of encoded values; envelope and topic
 *   bytes not counted). In one process (two endpoints on one event loop) and
 *   across two processes (our publisher here, `bench/peering_receiver.ts` as
 *   the receiver), because Zeek nodes are separate processes. Workloads:
 *   `count` (one count, 9 B), `event_1` and `event_2`, which are exactly the
 *   Zeek events of `broker-throughput -t 1` (48 B) and `-t 2` (a conn.log-like
 *   entry of 18 fields, 236 B), so the same messages flow through C++ to C++,
 *   ours to C++, C++ to ours and ours to ours. The C++ receiver is
 *   `broker-throughput --server`, which prints its receive rate each second;
 *   the C++ publisher is its client with `-r 0` (flat out), which writes
 *   each event with Broker's `list_builder`, straight into the encoding.
 *   Our publisher runs both ways: "ours -> ours" builds each event as
 *   `Data` and publishes it (`publish` encodes it), "ours -> ours, builder"
 *   writes it with a `DataBuilder` and calls `publishBuilt`, as the C++
 *   client does. Our receiver reads every message as a value through a
 *   subscriber, except in "ours -> ours, as broker-throughput": there it
 *   counts each one in a callback subscription (`subscribeWith`) without
 *   reading it, as `broker-throughput --server` counts in its `on_next`
 *   (so that row does what the C++ -> C++ row does on both sides).
 *   Our publisher respects back-pressure (`demand` / `ready`), so it is
 *   lossless; C++'s flat-out client is not (its peer buffer overflows and it
 *   disconnects, see "overload"), so the C++ publisher runs with
 *   `--peer-buffer-size=10000000`, which keeps it lossless for a run of a few
 *   seconds while the receiver sets the pace. Our publisher keeps Broker's
 *   default of 2048 messages, except in "ours -> ours, as broker-throughput",
 *   which has the C++ client's setting too (`peerBufferSize`, also bounded
 *   by `peerBufferBytes`, 64 MiB): to a counting receiver, with 2048 ours
 *   waited for demand a third of the time (event_2: 500k msgs/s, 2.0 µs of
 *   sender CPU per message, against 680-770k and 1.35-1.51 µs with 65,536),
 *   while to a decoding receiver, slower than the sender, a large buffer
 *   only lets the sender run ahead and take the receiver's CPU (event_2:
 *   1.0M msgs/s sent, 48k read in 4 s).
 *   C++ -> C++ runs once per CAF
 *   scheduler setting in `CPP_CONFIGS` (default, one worker thread, one
 *   worker thread with the sharing policy); each is reported, and the best
 *   of them is the "C++ -> C++" row every ratio divides by; the mixed rows
 *   (ours -> C++, C++ -> ours) run their C++ process with that best setting.
 * - Ping-pong round trips (p50/p99/max) with the same count and payload size:
 *   our `cli/main.ts node` ping and pong against `broker-node` ping and pong,
 *   and the two mixed pairs. Samples are sorted (exact percentiles). The
 *   C++ -> C++ pair runs once per CAF setting; its row is the one with the
 *   lowest p99, and the mixed pairs of the run use that setting. A last
 *   pair, "Deno echo, no Broker (runtime floor)", sends the same pings
 *   through a bare Deno echo (`bench/runtime_floor.ts`): what this machine
 *   and the runtime take with no Broker code on either side. Both pings
 *   write a line per round trip; they go to a file, read once the ping
 *   exits (`--ping-output=pipe`: line by line through a pipe, as before
 *   2026-12-07), so this process sleeps while the pings run. With
 *   `--placement`, our pairs' "same vCPU" says how often ping's and pong's
 *   main threads had last run on one vCPU (sampled every 10 ms; it slows
 *   ours, see `PLACEMENT`): here a wake-up across vCPUs adds ~45 µs each
 *   way, so a split pair shows a higher p50.
 * - Routing cost against the number of subscriptions on the receiving
 *   endpoint (in one process, so only the engine is measured). Messages go to
 *   one topic that matches one subscription; the others are distinct prefixes
 *   that do not match. "distinct" prefixes each enter the filter the peers
 *   see; "covered" prefixes sit under one subscribed prefix, so the local trie
 *   holds them all while the filter holds one entry.
 * - Overload: a publisher that never waits for demand, small messages, for a
 *   few seconds, with each peer overflow policy; delivered messages per
 *   second show whether throughput holds, drops or the peering is cut. The
 *   C++ client with `-r 0` is the same kind of publisher.
 *
 * Rates are taken after a warm-up (JIT, slow start) and the receiver's first
 * message, from counts the receiver samples in its read loop. The machine is
 * shared, so runs differ by 10-30%; compare rows of one run.
 *
 * Output: one table per section, then one line `JSON {...}` with every number.
 * Run: `deno task bench:peering` (about 2 minutes) or with `--quick`
 * (about 40 s: shorter windows, fewer pings, fewer workloads and policies,
 * no 10k "distinct" row).
 * `--repeat=N` measures each throughput row N times, in turn with the other
 * rows of its workload, and reports its best run (every run's rate in the
 * row's note).
 * `--only=tput,tls,tls-anon,latency,routing,overload,inproc` picks sections
 * (`tls-anon`: the TLS rows in Broker's anonymous mode, no certificates). The C++
 * tools are looked up in `$BROKER_REF_BIN`, `../shared/tools/broker-ref/bin`
 * and `/work/shared/tools/broker-ref/bin`; without them, C++ rows say so.
 * `--metrics` adds "ours -> ours, metrics" rows beside each "ours -> ours"
 * row (alternating, same workloads): both endpoints serve `/metrics` and
 * the bench scrapes both every 100 ms, so the cost of metrics shows as
 * the difference between the two rows.
 *
 * @module
 */
import { type CafSetting, CPP_CONFIGS } from "./caf_settings.ts";
import { tlsOptions } from "./peering_receiver.ts";
import {
  count,
  type Data,
  DataBuilder,
  encode,
  Endpoint,
  integer,
  str,
  type Subscriber,
} from "../mod.ts";
import process from "node:process";
import { setImmediate } from "node:timers";
import { procCpuMs, statProcessor } from "./proc_stat.ts";
import { echoArgs } from "./runtime_floor.ts";
import { numberOption, stringOption } from "./args.ts";
import { formatRatio } from "./stats.ts";
import { zeekEvent } from "./codec_corpus.ts";
import { connEvent, connEventBuilt } from "./throughput_events.ts";

// ------------------------------------------------------------------ settings

const ARGS = Deno.args;
const QUICK = ARGS.includes("--quick");
const METRICS = ARGS.includes("--metrics");
/** The sections `--only` may pick. */
const SECTIONS = ["tput", "tls", "tls-anon", "latency", "routing", "overload", "inproc"];
const ONLY = ARGS.find((a) => a.startsWith("--only="))?.slice(7).split(",");
// A misspelt section would otherwise run nothing and print empty tables.
for (const section of ONLY ?? []) {
  if (!SECTIONS.includes(section)) {
    throw new RangeError(`--only: ${section} is not one of ${SECTIONS.join(", ")}`);
  }
}
/**
 * `--repeat=N`: every throughput row measured N times, a workload's rows in
 * turn (ours, each C++ setting, then again), and reported by its best run,
 * with all the runs' rates in its note. On this VM the same code runs up
 * to ~1.7x slower in one process than in the next, on either side (see the
 * twenty-fifth round in docs/performance.md): with one run per row, a ratio is one draw
 * of both sides' speeds. Default 1: each row once, as before.
 */
const REPEAT = numberOption("--repeat", 1, { min: 1 });
const wants = (section: string) => !ONLY || ONLY.includes(section);
/**
 * `--ping-output=file` (the default): each ping's round trips go to a file,
 * read when it exits; `pipe`: to this process, line by line as they come,
 * as before 2026-12-07. Both pings write a line per round trip; read from a
 * pipe, each line woke this process too, a third one on the two vCPUs,
 * which put both sides' tails higher (ours more: see docs/performance.md).
 */
const PING_OUTPUT = stringOption("--ping-output", "file");
if (PING_OUTPUT !== "file" && PING_OUTPUT !== "pipe") {
  throw new RangeError(`--ping-output: ${PING_OUTPUT} is not file or pipe`);
}
/**
 * `--placement`: for our ping-pong pairs, sample every 10 ms which vCPU
 * ping's and pong's main threads last ran on ("same vCPU"). Off by default:
 * the sampling wakes this process 100 times a second, and in alternating
 * invocations it put ours' cold p99 at 203–351 µs against 148–237 without.
 */
const PLACEMENT = ARGS.includes("--placement");

/** Durations and counts; `--quick` trades precision for time. */
const CFG = QUICK
  ? { inprocSec: 1, tputSec: 1.5, warmSec: 0.5, pings: 500, routeSec: 1, overloadSec: 2 }
  : { inprocSec: 3, tputSec: 4, warmSec: 1, pings: 2000, routeSec: 2, overloadSec: 4 };
/** Extra bytes of each ping (broker-node's `-s`): about a Zeek event's size. */
const PING_SIZE = 300;
const BT_TOPIC = "/benchmark/events";
const DENO = Deno.execPath();
const HERE = new URL(".", import.meta.url).pathname;
const RECEIVER = `${HERE}peering_receiver.ts`;
/** The row whose two sides do what broker-throughput's client and server do. */
const AS_BT = "ours -> ours, as broker-throughput";
/** `AS_BT` over TLS. */
const AS_BT_TLS = "ours -> ours, TLS, as broker-throughput";
/**
 * How a run's peering is protected: plain TCP, TLS with fixtures/tls's
 * certificates, or Broker's anonymous mode (SSL on, no certificates).
 */
type TlsMode = false | true | "anon";
/** The TLS rows' sections, path suffix and table caption, per mode. */
const TLS_SECTIONS = [
  { section: "tls", mode: true, label: "TLS", caption: "same workload, same certificates" },
  {
    section: "tls-anon",
    mode: "anon",
    label: "anonymous TLS",
    caption: "same workload, Broker's anonymous mode: AECDH-AES256-SHA, no certificates",
  },
] as const;
/** The C++ publisher's peer buffer (`--peer-buffer-size`), and ours in the `AS_BT` row. */
const PUBLISHER_BUFFER = 10_000_000;
/** What the `AS_BT` rows' two sides do differently: a counting receiver, the C++ client's peer buffer. */
const AS_BT_OPTIONS = { consumer: "count", peerBufferSize: PUBLISHER_BUFFER } as const;
const TLS_DIR = new URL("../fixtures/tls", import.meta.url).pathname;
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

// ------------------------------------------------------------------ workloads

/** A message shape, and how `broker-throughput` names it (`-t`), if it has it. */
interface Workload {
  name: string;
  make: (i: number) => Data;
  /**
   * The same event written with a `DataBuilder` (published with
   * `publishBuilt`), as broker-throughput's client writes it with Broker's
   * `list_builder`; without it, each value is built as `Data` and encoded.
   * It leaves the value in `b` (`publishBuilt` takes it from there).
   */
  build?: (b: DataBuilder, i: number) => void;
  /** Encoded size of one value in bytes. */
  bytes: number;
  btType?: number;
}

function workload(name: string, make: (i: number) => Data, btType?: number): Workload {
  return { name, make, bytes: encode(make(1)).length, btType };
}

const W_COUNT = workload("count", (i) => count(i));
const W_EV1 = workload("event_1", () => zeekEvent("event_1", [integer(42), str("test")]), 1);
const W_EV2 = workload("event_2", connEvent, 2);
const W_EV1_BUILT: Workload = {
  ...W_EV1,
  build: (b) => {
    b.reset().beginVector().count(1).count(1).beginVector().str("event_1")
      .beginVector().integer(42).str("test").end().end().end();
  },
};
const W_EV2_BUILT: Workload = { ...W_EV2, build: connEventBuilt };
/** Each event written with a `DataBuilder`, as broker-throughput's client writes it with `list_builder`. */
const BUILT = new Map([[W_EV1, W_EV1_BUILT], [W_EV2, W_EV2_BUILT]]);

// ------------------------------------------------------------------ processes

const live = new Set<Proc>();

/** A child process whose stdout and stderr lines are collected as they come. */
class Proc {
  readonly lines: string[] = [];
  readonly errLines: string[] = [];
  readonly status: Promise<Deno.CommandStatus>;
  readonly #child: Deno.ChildProcess;
  /** The child's process ID. */
  get pid(): number {
    return this.#child.pid;
  }
  #listeners: ((line: string) => void)[] = [];
  #exited = false;

  /**
   * Runs `cmd`. With `stdoutFile`, its stdout goes to that file (through the
   * shell's redirection, `exec`ed, so the pid is the command's) and `lines`
   * get the file's lines once it exits: no `onLine`, and nothing in this
   * process wakes per line while it runs.
   */
  constructor(
    readonly label: string,
    cmd: string,
    args: string[],
    { stdoutFile }: { stdoutFile?: string } = {},
  ) {
    this.#child = new Deno.Command(stdoutFile ? "sh" : cmd, {
      args: stdoutFile ? ["-c", 'exec "$0" "$@" > "$PROC_STDOUT"', cmd, ...args] : args,
      stdin: "null",
      stdout: stdoutFile ? "null" : "piped",
      stderr: "piped",
      env: stdoutFile ? { NO_COLOR: "1", PROC_STDOUT: stdoutFile } : { NO_COLOR: "1" },
    }).spawn();
    live.add(this);
    // Both pipes are drained all the time: a child blocked on a full pipe would stall the run.
    const out = stdoutFile
      ? Promise.resolve()
      : this.#collect(this.#child.stdout, this.lines, { notify: true });
    const err = this.#collect(this.#child.stderr, this.errLines, { notify: false });
    this.status = Promise.all([out, err]).then(() => this.#child.status).then((s) => {
      if (stdoutFile) this.lines.push(...readLinesIfThere(stdoutFile));
      this.#exited = true;
      live.delete(this);
      return s;
    });
  }

  /** Keeps every line of `s` in `into`; with `notify`, also hands each to the `onLine` listeners. */
  async #collect(
    s: ReadableStream<Uint8Array>,
    into: string[],
    { notify }: { notify: boolean },
  ): Promise<void> {
    let rest = "";
    for await (const chunk of s.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      for (const p of parts) {
        into.push(p);
        if (notify) { for (const l of this.#listeners) l(p); }
      }
    }
    if (rest) into.push(rest);
  }

  /** Calls `fn` with every stdout line from now on. */
  onLine(fn: (line: string) => void): void {
    this.#listeners.push(fn);
  }

  /** The first stdout line (seen or future) matching `re`; rejects after `timeoutMs` or on exit. */
  waitLine(re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
    for (const l of this.lines) {
      const m = l.match(re);
      if (m) return Promise.resolve(m);
    }
    return new Promise((resolve, reject) => {
      const fail = (why: string) =>
        reject(
          new Error(
            `${this.label}: ${why} waiting for ${re}; stdout: ${
              this.lines.slice(-5).join(" | ")
            }; stderr: ${this.errLines.slice(-5).join(" | ")}`,
          ),
        );
      const timer = setTimeout(() => fail("timed out"), timeoutMs);
      this.status.then(() => {
        clearTimeout(timer);
        fail("exited");
      });
      this.onLine((l) => {
        const m = l.match(re);
        if (m) {
          clearTimeout(timer);
          resolve(m);
        }
      });
    });
  }

  /** Waits for the exit, up to `timeoutMs`; false if still running. */
  async exited(timeoutMs: number): Promise<boolean> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const t = new Promise<false>((r) => timer = setTimeout(() => r(false), timeoutMs));
    const ok = await Promise.race([this.status.then(() => true), t]);
    clearTimeout(timer);
    return ok;
  }

  /** SIGTERM, then SIGKILL if it does not go within a second. */
  async stop(): Promise<void> {
    if (this.#exited) return;
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // gone already
    }
    if (await this.exited(1000)) return;
    try {
      this.#child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await this.exited(2000);
  }
}

/** A file's lines; none once it is gone (removed after a run that timed out, before its process ended). */
function readLinesIfThere(path: string): string[] {
  try {
    return Deno.readTextFileSync(path).split("\n");
  } catch {
    return [];
  }
}

async function stopAll(): Promise<void> {
  await Promise.all([...live].map((p) => p.stop()));
}

function refBin(): string | undefined {
  const env = Deno.env.get("BROKER_REF_BIN");
  for (
    const dir of [
      ...(env ? [env] : []),
      new URL("../../shared/tools/broker-ref/bin/", import.meta.url).pathname,
      "/work/shared/tools/broker-ref/bin/",
    ]
  ) {
    try {
      Deno.statSync(`${dir.replace(/\/$/, "")}/broker-throughput`);
      return dir.replace(/\/$/, "");
    } catch {
      // next
    }
  }
  return undefined;
}

const REF = refBin();

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function waitForPort(p: number, timeoutMs = 10_000, pollMs = 30): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: p })).close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`nothing listens on ${p}`);
      await sleep(pollMs);
    }
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
/** A macrotask turn: lets socket reads and writes run. setTimeout(0) costs ~2 ms here (clamped). */
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Endpoint shutdown without waiting for BYE answers from peers that are gone. */
async function quietShutdown(...eps: Endpoint[]): Promise<void> {
  await Promise.race([Promise.all(eps.map((e) => e.shutdown())), sleep(1500)]);
}

// ------------------------------------------------------------------ measuring

/**
 * Publishes until `stop()`; with `backpressure`, never more than the peers'
 * demand. Yields a macrotask turn every `turnEvery` messages so that socket
 * writes (and reads, in one process) make progress.
 */
async function publishLoop(
  ep: Endpoint,
  topic: string,
  w: Workload,
  stop: () => boolean,
  backpressure = true,
  turnEvery = 4096,
): Promise<number> {
  let i = 0, sinceTurn = 0;
  const b = w.build ? new DataBuilder() : undefined;
  while (!stop()) {
    let room = Math.min(1024, turnEvery);
    if (backpressure) {
      room = Math.min(room, ep.demand(topic));
      if (room <= 0) {
        await ep.ready(topic);
        continue;
      }
    }
    if (b) {
      for (let k = 0; k < room; k++) {
        w.build!(b, i++);
        ep.publishBuilt(topic, b);
      }
    } else for (let k = 0; k < room; k++) ep.publish(topic, w.make(i++));
    sinceTurn += room;
    if (sinceTurn >= turnEvery) {
      sinceTurn = 0;
      await turn();
    }
  }
  return i;
}

/**
 * Reads a subscriber until it closes, reporting how many messages each read
 * took. `get()` can resolve `undefined` while the subscriber is open (a queue
 * bug, see the report), so only `closed` ends the loop; such spurious wake-ups
 * are counted in `spurious`.
 */
async function drain(sub: Subscriber, took: (k: number) => void): Promise<void> {
  for (;;) {
    const m = await sub.get();
    if (m === undefined) {
      if (sub.closed) return;
      spurious++;
      continue;
    }
    took(1 + sub.poll().length);
  }
}

let spurious = 0;

/** Counter samples `[ms, total]` from the receiver's TICK lines. */
type Samples = [number, number][];

/** Messages/s between the first sample at or after `warmMs` and the last one. */
function steadyRate(s: Samples, warmMs: number): number {
  const from = s.find(([t]) => t >= warmMs) ?? s[0];
  const to = s[s.length - 1];
  if (!from || !to || to[0] <= from[0]) return 0;
  return (to[1] - from[1]) / ((to[0] - from[0]) / 1000);
}

/** Messages per whole second, from cumulative samples. */
function perSecond(s: Samples, seconds: number): number[] {
  const at = (ms: number) => {
    let v = 0;
    for (const [t, n] of s) if (t <= ms) v = n;
    return v;
  };
  const out: number[] = [];
  for (let k = 1; k <= seconds; k++) out.push(at(k * 1000) - at((k - 1) * 1000));
  return out;
}

/** The counter lines of a receiver child (TICKs, then DONE: its last message). */
function tickSamples(p: Proc): Samples {
  const s: Samples = [[0, 1]];
  for (const l of p.lines) {
    const t = l.match(/^TICK (\S+) (\d+)/), d = l.match(/^DONE (\d+) (\S+)/);
    const [ms, n] = t ? [Number(t[1]), Number(t[2])] : d ? [Number(d[2]), Number(d[1])] : [];
    if (ms !== undefined && ms >= s[s.length - 1][0]) s.push([ms, n!]);
  }
  return s;
}

/** `rate: N events/s` lines of broker-throughput --server, from the first non-zero one. */
function btRates(p: Proc): number[] {
  const r = p.lines.map((l) => l.match(/^rate: (\d+) events\/s/)).filter((m) => m !== null)
    .map((m) => Number(m![1]));
  const first = r.findIndex((x) => x > 0);
  return first < 0 ? [] : r.slice(first);
}

/** Steady C++ server rate: drops the first (partial) second and the trailing zeros. */
function btSteady(rates: number[], seconds: number): number {
  const w = rates.slice(1, 1 + Math.max(1, Math.ceil(seconds))).filter((x) => x > 0);
  return w.length ? w.reduce((a, b) => a + b, 0) / w.length : 0;
}

function spawnReceiver(label: string, extra: string[]): Proc {
  return new Proc(label, DENO, ["run", "-A", RECEIVER, ...extra]);
}

/** broker-throughput's TLS flags: the test certificates, none (anonymous), or `--disable-ssl`. */
function btSsl(tls: TlsMode): string[] {
  if (tls === "anon") return [];
  return tls
    ? [
      `--broker.ssl.certificate=${TLS_DIR}/node.pem`,
      `--broker.ssl.key=${TLS_DIR}/node.key`,
      `--broker.ssl.cafile=${TLS_DIR}/ca.pem`,
    ]
    : ["--disable-ssl"];
}

function btServer(p: number, tls: TlsMode = false, extra: string[] = []): Proc {
  return new Proc("broker-throughput --server", `${REF}/broker-throughput`, [
    ...btSsl(tls),
    ...extra,
    "--verbose",
    "--server",
    `127.0.0.1:${p}`,
  ]);
}

function btClient(p: number, type: number, extra: string[] = [], tls: TlsMode = false): Proc {
  return new Proc("broker-throughput client", `${REF}/broker-throughput`, [
    ...btSsl(tls),
    ...extra,
    "-t",
    String(type),
    "-r",
    "0",
    `127.0.0.1:${p}`,
  ]);
}

// ------------------------------------------------------------------ results

interface TputRow {
  path: string;
  workload: string;
  bytes: number;
  msgsPerSec: number | null;
  /** The receiving process's CPU time per message received, µs (where measured). */
  rxCpuUs?: number;
  /** The sending process's CPU time per message, µs (where measured). */
  txCpuUs?: number;
  note?: string;
  /** With `--repeat`: every run's rate, in order (null: the run failed). */
  runs?: (number | null)[];
}

interface LatencyRow {
  pair: string;
  /** 1-based run of the latency section (`--latency-runs`). */
  run: number;
  n: number;
  p50us: number | null;
  p99us: number | null;
  maxus: number | null;
  /** p50 and p99 of each consecutive segment of `segment` pings, in send order: cold to warm. */
  segments: { p50us: number; p99us: number }[];
  segment: number;
  /** Spawn of the pong process to its port accepting connections, ms. */
  pongStartMs: number | null;
  /** Spawn of the ping process to its exit (start-up, peering, every ping, shutdown), ms. */
  pingWallMs: number | null;
  /**
   * Of the samples taken while ping ran (every `PLACEMENT_MS`), the share in
   * which ping's and pong's main threads had last run on the same vCPU, and
   * how many samples. Only with `--placement`, and only for our pairs: a C++
   * side works on CAF's threads, not its main one.
   */
  sameCpu?: { share: number; samples: number };
  note?: string;
}

interface RoutingRow {
  layout: string;
  subscriptions: number;
  filterEntries: number;
  setupMs: number | null;
  msgsPerSec: number | null;
  note?: string;
}

interface OverloadRow {
  who: string;
  policy: string;
  offeredPerSec: number | null;
  deliveredPerSecond: number[];
  delivered: number;
  outcome: string;
}

const results = {
  machine: {
    cores: navigator.hardwareConcurrency,
    deno: Deno.version.deno,
    quick: QUICK,
    note: "loopback TCP; all processes share the machine's cores",
  },
  throughput: [] as TputRow[],
  latency: [] as LatencyRow[],
  routing: [] as RoutingRow[],
  overload: [] as OverloadRow[],
  /** Times `Subscriber.get()` resolved undefined on an open subscriber (in-process readers). */
  spuriousUndefinedGets: 0,
};

function progress(text: string): void {
  console.error(`  .. ${text}`);
}

async function attempt<T>(what: string, fn: () => Promise<T>): Promise<T | Error> {
  try {
    return await fn();
  } catch (e) {
    progress(`${what} failed: ${e instanceof Error ? e.message : e}`);
    return e instanceof Error ? e : new Error(String(e));
  } finally {
    await stopAll();
  }
}

// ------------------------------------------------------------------ throughput

async function inProcess(w: Workload, seconds = CFG.inprocSec): Promise<number> {
  const topic = "/bench/inproc";
  const a = new Endpoint(), b = new Endpoint();
  const sub = b.subscribe(topic, { queueSize: 4096 });
  const p = await b.listen("127.0.0.1", 0);
  await a.peer("127.0.0.1", p, { retryMs: 0 });
  await a.awaitPeerSubscription(topic);
  let n = 0;
  const consumer = drain(sub, (k) => n += k);
  const t0 = performance.now();
  let warm: [number, number] | undefined, last: [number, number] = [t0, 0];
  await publishLoop(a, topic, w, () => {
    const now = performance.now();
    if (!warm && now - t0 >= CFG.warmSec * 1000) warm = [now, n];
    last = [now, n];
    return now - t0 >= (seconds + CFG.warmSec) * 1000;
  });
  await quietShutdown(a, b);
  await consumer;
  return warm ? (last[1] - warm[1]) / ((last[0] - warm[0]) / 1000) : 0;
}

/** Our receiver in its own process, listening for one throughput run; resolves once it is ready. */
async function listeningReceiver(
  tls: TlsMode,
  metrics = false,
  consumer: Consumer = "decode",
): Promise<{ rx: Proc; port: number; seconds: number; metricsPort?: number }> {
  const seconds = CFG.tputSec + CFG.warmSec;
  const rx = spawnReceiver("receiver", [
    ...(metrics ? ["--metrics-port", "0"] : []),
    "--consumer",
    consumer,
    "--listen",
    "0",
    "--topic",
    BT_TOPIC,
    "--seconds",
    String(seconds),
    ...(tls === "anon" ? ["--anon-tls", "1"] : tls ? ["--ssl-dir", TLS_DIR] : []),
  ]);
  const metricsPort = metrics ? Number((await rx.waitLine(/^METRICS (\d+)/))[1]) : undefined;
  const port = Number((await rx.waitLine(/^READY (\d+)/))[1]);
  return { rx, port, seconds, metricsPort };
}

/** Scrapes these metrics ports every 100 ms until stopped; resolves with the scrape count. */
function scrapeEvery100ms(ports: number[]): { stop(): Promise<number> } {
  let n = 0, stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await Promise.all(ports.map(async (p) => {
        const res = await fetch(`http://127.0.0.1:${p}/metrics`).catch(() => undefined);
        if (res) {
          await res.text();
          n++;
        }
      }));
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return n;
    },
  };
}

/**
 * What our receiver does with each message: `decode` reads it as a value
 * through a subscriber; `count` only counts it in a callback subscription,
 * as `broker-throughput --server` does.
 */
type Consumer = "decode" | "count";

/** How an ours -> ours run differs from the plain one. */
interface OursOptions {
  tls?: TlsMode;
  /** Both endpoints serve /metrics, scraped every 100 ms. */
  metrics?: boolean;
  consumer?: Consumer;
  /** The publisher's peer buffer (default Broker's, 2048). */
  peerBufferSize?: number;
}

async function oursToOurs(
  w: Workload,
  { tls = false, metrics = false, consumer = "decode", peerBufferSize = 2048 }: OursOptions = {},
): Promise<Measured> {
  const { rx, port: p, seconds, metricsPort } = await listeningReceiver(tls, metrics, consumer);
  const ep = new Endpoint({
    peerBufferSize,
    ...(tls === "anon" ? { disableSsl: false } : tls ? tlsOptions(TLS_DIR) : {}),
    ...(metrics ? { metricsPort: 0 } : {}),
  });
  const scraper = metrics ? scrapeEvery100ms([await ep.metricsReady!, metricsPort!]) : undefined;
  await ep.peer("127.0.0.1", p, { retryMs: 0 });
  await ep.awaitPeerSubscription(BT_TOPIC);
  let done = false;
  rx.onLine((l) => done ||= l.startsWith("DONE"));
  const stopAt = Date.now() + (seconds + 10) * 1000;
  // The sender is this process: its CPU over the whole loop, per message sent.
  const tx0 = process.cpuUsage();
  const sent = await publishLoop(ep, BT_TOPIC, w, () => done || Date.now() > stopAt);
  const tx = process.cpuUsage(tx0);
  await rx.exited(3000);
  const scrapes = await scraper?.stop();
  if (scraper && !scrapes) throw new Error("no scrape succeeded");
  await quietShutdown(ep);
  const txCpuUs = sent > 0 ? (tx.user + tx.system) / sent : undefined;
  return withCpu(steadyRate(tickSamples(rx), CFG.warmSec * 1000), rxCpu(rx), txCpuUs);
}

async function oursToCpp(w: Workload, caf: string[] = []): Promise<number> {
  const p = freePort();
  const srv = btServer(p, false, caf);
  await srv.waitLine(/listening on/);
  const ep = new Endpoint();
  await ep.peer("127.0.0.1", p, { retryMs: 0 });
  await ep.awaitPeerSubscription(BT_TOPIC);
  const until = Date.now() + (CFG.tputSec + 2.2) * 1000;
  await publishLoop(ep, BT_TOPIC, w, () => Date.now() > until);
  await quietShutdown(ep);
  return btSteady(btRates(srv), CFG.tputSec);
}

async function cppToCpp(w: Workload, tls: TlsMode = false, caf: string[] = []): Promise<Measured> {
  const p = freePort();
  const srv = btServer(p, tls, caf);
  await srv.waitLine(/listening on/);
  const cli = btClient(p, w.btType!, [...caf, `--peer-buffer-size=${PUBLISHER_BUFFER}`], tls);
  await srv.waitLine(/^rate: [1-9]/);
  // CPU of both processes over a window of the steady phase. Their stdout is
  // block-buffered in a pipe, so rate lines arrive late: messages in the
  // window are taken as the steady rate times its length.
  const t0 = performance.now();
  const rx0 = cpuMsIfReadable(srv.pid), tx0 = cpuMsIfReadable(cli.pid);
  await sleep((CFG.tputSec + 1.2) * 1000);
  const rx1 = cpuMsIfReadable(srv.pid), tx1 = cpuMsIfReadable(cli.pid);
  const windowS = (performance.now() - t0) / 1000;
  await cli.stop();
  await srv.stop();
  const rate = btSteady(btRates(srv), CFG.tputSec);
  const per = (a?: number, b?: number) =>
    a !== undefined && b !== undefined && rate > 0 ? (b - a) * 1000 / (rate * windowS) : undefined;
  return withCpu(rate, per(rx0, rx1), per(tx0, tx1));
}

/** A rate with the receiver's and the sender's CPU µs per message beside it. */
type Measured = number | { rate: number; rxCpuUs?: number; txCpuUs?: number };

function withCpu(rate: number, rxCpuUs: number | undefined, txCpuUs?: number): Measured {
  return rxCpuUs === undefined && txCpuUs === undefined ? rate : { rate, rxCpuUs, txCpuUs };
}

/** Our receiver's CPU µs per message, from its `CPU` and `DONE` lines. */
function rxCpu(rx: Proc): number | undefined {
  const cpu = rx.lines.map((l) => l.match(/^CPU (\S+)/)).find((m) => m);
  const done = rx.lines.map((l) => l.match(/^DONE (\d+)/)).find((m) => m);
  const n = done ? Number(done[1]) - 1 : 0;
  return cpu && n > 0 ? Number(cpu[1]) * 1000 / n : undefined;
}

/** A process's CPU time (user + system) from /proc, in ms; undefined where /proc is missing. */
function cpuMsIfReadable(pid: number): number | undefined {
  try {
    return procCpuMs(pid);
  } catch {
    return undefined;
  }
}

async function cppToOurs(w: Workload, caf: string[] = []): Promise<Measured> {
  const { rx, port: p, seconds } = await listeningReceiver(false);
  btClient(p, w.btType!, [...caf, `--peer-buffer-size=${PUBLISHER_BUFFER}`]);
  await rx.waitLine(/^DONE/, (seconds + 15) * 1000);
  return withCpu(steadyRate(tickSamples(rx), CFG.warmSec * 1000), rxCpu(rx));
}

/** A throughput row to measure: its path, workload and run. */
interface RowSpec {
  path: string;
  w: Workload;
  fn: () => Promise<Measured>;
  /** A row with a C++ side: reported as missing without the C++ tools. */
  needsRef?: boolean;
}

/**
 * Measures `specs` `REPEAT` times, one row after the other and then again
 * (so that a slow stretch of the machine falls on all of them), and adds a
 * row for each: its best run, with every run's rate in the note when there
 * were several.
 */
async function measureRows(specs: RowSpec[]): Promise<void> {
  const runs = specs.map(() => [] as (Measured | Error)[]);
  for (let rep = 0; rep < REPEAT; rep++) {
    for (const [i, s] of specs.entries()) {
      if (s.needsRef && !REF) continue;
      const of = REPEAT > 1 ? ` (run ${rep + 1} of ${REPEAT})` : "";
      progress(`throughput ${s.path} ${s.w.name}${of}`);
      runs[i].push(await attempt(`${s.path} ${s.w.name}`, s.fn));
    }
  }
  specs.forEach((s, i) => results.throughput.push(bestRow(s, runs[i])));
}

/** The row of a spec from its runs: the fastest, and the rates of all when there were several. */
function bestRow(s: RowSpec, runs: (Measured | Error)[]): TputRow {
  const row = { path: s.path, workload: s.w.name, bytes: s.w.bytes };
  if (s.needsRef && !REF) return { ...row, msgsPerSec: null, note: "C++ tools not found" };
  // Each run as { rate, CPU } (null: it failed), read once for the best run and the rates.
  const measured = runs.map((r) =>
    r instanceof Error ? null : typeof r === "number" ? { rate: r } as Exclude<Measured, number> : r
  );
  const done = measured.filter((m) => m !== null);
  if (done.length === 0) {
    // Every run failed: the first one's error.
    return { ...row, msgsPerSec: null, note: (runs[0] as Error).message.slice(0, 80) };
  }
  const best = done.reduce((a, b) => (b.rate > a.rate ? b : a));
  const notes = [
    ...(runs.length > 1
      ? [`best of ${runs.length}: ${done.map((r) => fmt(r.rate)).join(", ")}`]
      : []),
    ...(done.length < runs.length ? [`${runs.length - done.length} failed`] : []),
  ];
  return {
    ...row,
    msgsPerSec: best.rate,
    ...(best.rxCpuUs !== undefined ? { rxCpuUs: best.rxCpuUs } : {}),
    ...(best.txCpuUs !== undefined ? { txCpuUs: best.txCpuUs } : {}),
    ...(notes.length ? { note: notes.join("; ") } : {}),
    ...(runs.length > 1 ? { runs: measured.map((m) => m?.rate ?? null) } : {}),
  };
}

/**
 * With `--repeat`: `path`'s ratio to `base` run by run, each against the
 * fastest C++ setting of that run (what a ratio was with one run per row).
 */
function perRunRatios(path: string, base: string, w: string): string {
  const ours = rowOf(path, w)?.runs ?? [];
  const cxx = CPP_CONFIGS.map((c) => rowOf(settingPath(base, c), w)?.runs ?? []);
  return ours.map((o, k) => {
    const c = Math.max(...cxx.map((runs) => runs[k] ?? 0));
    return o === null || c === 0 ? "n/a" : formatRatio(o / c);
  }).join(", ");
}

async function throughputSection(): Promise<void> {
  if (wants("inproc")) {
    await measureRows([W_COUNT, W_EV2].map((w) => ({
      path: "ours in one process",
      w,
      fn: () => inProcess(w),
    })));
  }
  /** One C++ -> C++ row per CAF scheduler setting. */
  const cppRows = (path: string, w: Workload, tls: TlsMode): RowSpec[] =>
    CPP_CONFIGS.map((config) => ({
      path: settingPath(path, config),
      w,
      fn: () => cppToCpp(w, tls, config.args),
      needsRef: true,
    }));
  /**
   * After `cppRows` were measured: a `path` row holding the best of them
   * (the ratios' base); returns that setting's arguments, which the
   * mixed directions then give their C++ process, so that every C++ side of
   * a workload runs the same, best, setting.
   */
  const cppBest = (path: string, w: Workload): string[] => {
    const runs = CPP_CONFIGS.map((config) => ({
      config,
      row: rowOf(settingPath(path, config), w.name)!,
    }));
    const best = runs.filter((r) => r.row.msgsPerSec != null)
      .sort((a, b) => b.row.msgsPerSec! - a.row.msgsPerSec!)[0];
    results.throughput.push({
      path,
      workload: w.name,
      bytes: w.bytes,
      msgsPerSec: best?.row.msgsPerSec ?? null,
      rxCpuUs: best?.row.rxCpuUs,
      txCpuUs: best?.row.txCpuUs,
      note: best ? `best C++ setting: ${best.config.label}` : "no C++ run",
    });
    return best?.config.args ?? [];
  };
  if (wants("tput")) {
    // --quick keeps both of broker-throughput's events (the ratio goals), and
    // the mixed directions for the conn-sized one only.
    // Each event also written with a DataBuilder, right after its Data row (the
    // machine's load drifts), as broker-throughput's client writes it with list_builder.
    const caf = new Map<Workload, string[]>();
    for (const w of [W_COUNT, W_EV1, W_EV2]) {
      const rows: RowSpec[] = [{ path: "ours -> ours", w, fn: () => oursToOurs(w) }];
      if (METRICS) {
        rows.push({ path: "ours -> ours, metrics", w, fn: () => oursToOurs(w, { metrics: true }) });
      }
      const b = BUILT.get(w);
      if (b) {
        rows.push({ path: "ours -> ours, builder", w: b, fn: () => oursToOurs(b) });
        // Both sides as broker-throughput's: the builder's events to a receiver that only counts.
        rows.push({ path: AS_BT, w: b, fn: () => oursToOurs(b, AS_BT_OPTIONS) });
        rows.push(...cppRows("C++ -> C++", w, false));
      }
      await measureRows(rows);
      if (b) caf.set(w, cppBest("C++ -> C++", w));
    }
    await measureRows((QUICK ? [W_EV2] : [W_EV1, W_EV2]).flatMap((w) => [
      { path: "ours -> C++", w, fn: () => oursToCpp(w, caf.get(w)), needsRef: true },
      { path: "C++ -> ours", w, fn: () => cppToOurs(w, caf.get(w)), needsRef: true },
    ]));
  }
  for (const t of TLS_SECTIONS) {
    if (!wants(t.section)) continue;
    // The same runs over TLS: fixtures/tls's certificates on both sides, or none (anonymous).
    for (const w of [W_EV1, W_EV2]) {
      const b = BUILT.get(w)!;
      await measureRows([
        { path: `ours -> ours, ${t.label}`, w, fn: () => oursToOurs(w, { tls: t.mode }) },
        {
          path: `ours -> ours, ${t.label}, as broker-throughput`,
          w: b,
          fn: () => oursToOurs(b, { ...AS_BT_OPTIONS, tls: t.mode }),
        },
        ...cppRows(`C++ -> C++, ${t.label}`, w, t.mode),
      ]);
      cppBest(`C++ -> C++, ${t.label}`, w);
    }
  }
}

// ------------------------------------------------------------------ latency

function pingArgs(p: number, warmUp = 0): string[] {
  return [
    ...(warmUp ? ["--warm-up", String(warmUp)] : []),
    "--disable-ssl",
    "-m",
    "ping",
    '--topics=["/bench/ping"]',
    "-n",
    String(CFG.pings),
    "-s",
    String(PING_SIZE),
    `--peers=[<tcp://127.0.0.1:${p}>]`,
  ];
}

function pongArgs(p: number): string[] {
  return ["--disable-ssl", "-m", "pong", '--topics=["/bench/ping"]', "-p", String(p)];
}

/** Our node or broker-node with `args`; `caf`: the C++ tool's CAF setting; `stdoutFile` as `Proc`'s. */
function tool(
  kind: "ours" | "C++",
  args: string[],
  label: string,
  caf: string[] = [],
  stdoutFile?: string,
): Proc {
  return kind === "ours"
    ? new Proc(label, DENO, ["run", "-A", CLI, "node", ...args], { stdoutFile })
    : new Proc(label, `${REF}/broker-node`, [...args, ...caf], { stdoutFile });
}

/** Who runs a side of a ping-pong: our node, broker-node, or the bare Deno echo (the floor). */
type LatencyKind = "ours" | "C++" | "floor";

/** The row of the bare Deno echo pair (`bench/runtime_floor.ts`): no Broker code on either side. */
const FLOOR_PAIR = "Deno echo, no Broker (runtime floor)";

/**
 * The ping or pong side of a ping-pong on port `p`. Our ping and
 * broker-node's write a line per round trip (a `write` each: broker-node's
 * too, measured with strace); given `stdoutFile`, those go to the file.
 */
function latencyTool(
  kind: LatencyKind,
  role: "ping" | "pong",
  p: number,
  warmUp: number,
  caf: CafSetting,
  stdoutFile?: string,
): Proc {
  const label = `${kind} ${role}`;
  if (kind === "floor") {
    return new Proc(
      label,
      DENO,
      echoArgs(role === "ping" ? "ping" : "echo", p, CFG.pings, PING_SIZE),
    );
  }
  return tool(
    kind,
    role === "ping" ? pingArgs(p, warmUp) : pongArgs(p),
    label,
    caf.args,
    stdoutFile,
  );
}

/** Nearest-rank percentile of sorted samples. */
function percentile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** p50 and p99 of each run of `size` consecutive samples (the last one may be shorter). */
function segmentStats(rtts: number[], size: number): { p50us: number; p99us: number }[] {
  const out: { p50us: number; p99us: number }[] = [];
  for (let i = 0; i < rtts.length; i += size) {
    const seg = rtts.slice(i, i + size).sort((a, b) => a - b);
    out.push({ p50us: percentile(seg, 0.5) / 1000, p99us: percentile(seg, 0.99) / 1000 });
  }
  return out;
}

/** A ping's output line for one round trip: its time in ns. */
const RTT_LINE = /^\d+$/;

/** One ping-pong run, reported as the row `pair`. */
async function pingPong(
  pair: string,
  pinger: LatencyKind,
  ponger: LatencyKind,
  warmUp: number,
  run: number,
  caf: CafSetting,
): Promise<LatencyRow> {
  const p = freePort();
  const t0 = performance.now();
  const pong = latencyTool(ponger, "pong", p, warmUp, caf);
  // The echo server takes one connection, which a probe would use up: its
  // client retries until it listens instead.
  if (ponger !== "floor") await waitForPort(p, 10_000, 5);
  const pongStartMs = ponger === "floor" ? null : performance.now() - t0;
  const t1 = performance.now();
  // The bare echo's ping prints once, at its end: a pipe wakes no one meanwhile.
  const file = pinger !== "floor" && PING_OUTPUT === "file"
    ? Deno.makeTempFileSync({ prefix: "ping-rtts-" })
    : undefined;
  try {
    const ping = latencyTool(pinger, "ping", p, warmUp, caf, file);
    const placement = PLACEMENT && pinger === "ours" && ponger === "ours"
      ? samplePlacement(ping.pid, pong.pid, pingsStarted(ping, file))
      : undefined;
    const finished = await ping.exited(60_000);
    const sameCpu = placement?.stop();
    if (!finished) throw new Error(`${pair}: ping did not finish`);
    const pingWallMs = performance.now() - t1;
    await pong.stop();
    return pingPongRow(pair, run, ping, pongStartMs, pingWallMs, sameCpu);
  } finally {
    if (file) Deno.removeSync(file);
  }
}

/**
 * Whether `ping` has printed its first round trip (to `file`, or through
 * its pipe): placement is sampled from then to its exit, not in start-up.
 * Only a sampler asks, so only then does a piped ping's every line reach a
 * listener.
 */
function pingsStarted(ping: Proc, file: string | undefined): () => boolean {
  if (file) return () => Deno.statSync(file).size > 0;
  let printed = false;
  ping.onLine((l) => {
    if (RTT_LINE.test(l)) printed = true;
  });
  return () => printed;
}

/** The row of a finished ping-pong: `ping`'s round trips, cold to warm. */
function pingPongRow(
  pair: string,
  run: number,
  ping: Proc,
  pongStartMs: number | null,
  pingWallMs: number,
  sameCpu: LatencyRow["sameCpu"],
): LatencyRow {
  // Send order is kept for the segments: the first ones show the cold start.
  const inOrder = ping.lines.filter((l) => RTT_LINE.test(l)).map(Number);
  if (inOrder.length !== CFG.pings) {
    throw new Error(`${pair}: ${inOrder.length} of ${CFG.pings} pongs; ${ping.errLines.join(" ")}`);
  }
  const rtts = inOrder.slice().sort((a, b) => a - b);
  const us = (ns: number) => ns / 1000;
  const segment = CFG.pings / 4;
  return {
    pair,
    run,
    n: rtts.length,
    p50us: us(percentile(rtts, 0.5)),
    p99us: us(percentile(rtts, 0.99)),
    maxus: us(rtts[rtts.length - 1]),
    segments: segmentStats(inOrder, segment),
    segment,
    pongStartMs,
    pingWallMs,
    sameCpu,
  };
}

/** A share (0 to 1) as a whole percentage. */
const percent = (share: number) => `${Math.round(share * 100)}%`;

/** How often `samplePlacement` looks: 15-40 samples over a run of 2,000 pings here. */
const PLACEMENT_MS = 10;

/**
 * Samples, until `stop` and while `during()` holds, whether the main threads
 * of processes `a` and `b` last ran on the same vCPU. On this kind of VM a
 * wake-up across vCPUs adds tens of µs to a round trip, so this tells a slow
 * run from a split one.
 */
function samplePlacement(
  a: number,
  b: number,
  during: () => boolean,
): { stop(): { share: number; samples: number } | undefined } {
  let samples = 0, same = 0;
  const timer = setInterval(() => {
    if (!during()) return;
    try {
      const ca = statProcessor(Deno.readTextFileSync(`/proc/${a}/stat`));
      const cb = statProcessor(Deno.readTextFileSync(`/proc/${b}/stat`));
      samples++;
      if (ca === cb) same++;
    } catch {
      // one has exited: the sample is skipped
    }
  }, PLACEMENT_MS);
  return {
    stop() {
      clearInterval(timer);
      return samples === 0 ? undefined : { share: same / samples, samples };
    },
  };
}

/** `--latency-runs=N`: the cold pairs N times, to see how a tail figure varies between runs. */
const LATENCY_RUNS = numberOption("--latency-runs", 1, { min: 1 });

async function latencySection(): Promise<void> {
  // Cold runs measure from the first ping, as broker-node does; warm runs
  // first make CFG.pings unmeasured round trips, so both JITs have compiled
  // their hot paths (C++ needs none: its cold run is its warm run). Our
  // processes still warm up in memory at start-up (engine/warm_up.ts): that
  // is part of their start-up, which the pong start and ping wall columns show.
  // The floor pair (a bare Deno echo, `bench/runtime_floor.ts`) runs cold too:
  // what the runtime and this machine take without any Broker code.
  const cold: [LatencyKind, LatencyKind, number][] = [
    ["ours", "ours", 0],
    ["C++", "C++", 0],
    ["ours", "C++", 0],
    ["C++", "ours", 0],
    ["floor", "floor", 0],
  ];
  const warm: [LatencyKind, LatencyKind, number][] = [
    ["ours", "ours", CFG.pings],
    ["ours", "C++", CFG.pings],
  ];
  const runs: [number, typeof cold][] = [];
  for (let r = 1; r <= LATENCY_RUNS; r++) runs.push([r, r === 1 ? [...cold, ...warm] : cold]);
  for (const [run, pairs] of runs) {
    // The C++ tools' CAF setting for the mixed pairs: the C++ -> C++ pair's
    // best (lowest p99) of this run, which runs first, once per setting.
    let best: CafSetting = CPP_CONFIGS[0];
    for (const [a, b, warmUp] of pairs) {
      const pair = a === "floor"
        ? FLOOR_PAIR
        : `${a} ping${warmUp ? ` (warm-up ${warmUp})` : ""} -> ${b} pong`;
      const none = {
        pair,
        run,
        n: 0,
        p50us: null,
        p99us: null,
        maxus: null,
        segments: [],
        segment: 0,
        pongStartMs: null,
        pingWallMs: null,
      };
      if ((a === "C++" || b === "C++") && !REF) {
        results.latency.push({ ...none, note: "C++ tools not found" });
        continue;
      }
      progress(`latency ${pair}${LATENCY_RUNS > 1 ? `, run ${run}` : ""}`);
      if (a === "C++" && b === "C++") {
        // Every CAF setting, then the pair's own row: the one with the lowest p99.
        const tried: [CafSetting, LatencyRow][] = [];
        for (const caf of CPP_CONFIGS) {
          const row = settingPath(pair, caf);
          const r = await attempt(row, () => pingPong(row, a, b, warmUp, run, caf));
          if (r instanceof Error) {
            results.latency.push({ ...none, pair: row, note: r.message.slice(0, 80) });
          } else {
            results.latency.push(r);
            tried.push([caf, r]);
          }
        }
        const lowest = tried.sort((x, y) => x[1].p99us! - y[1].p99us!)[0];
        if (!lowest) results.latency.push({ ...none, note: "no C++ run" });
        else {
          best = lowest[0];
          results.latency.push({
            ...lowest[1],
            pair,
            note: `lowest p99 of the C++ settings: ${best.label}`,
          });
        }
        continue;
      }
      const r = await attempt(pair, () => pingPong(pair, a, b, warmUp, run, best));
      results.latency.push(r instanceof Error ? { ...none, note: r.message.slice(0, 80) } : r);
    }
  }
}

// ------------------------------------------------------------------ routing

async function routing(k: number, layout: "distinct" | "covered"): Promise<RoutingRow> {
  const topic = "/route/hit";
  const a = new Endpoint(), b = new Endpoint();
  const t0 = performance.now();
  // The counting subscription matches the topic; the others are distinct prefixes that do not.
  const sub = b.subscribe(layout === "distinct" ? topic : "/route/", { queueSize: 4096 });
  const others = Array.from({ length: k - 1 }, (_, i) => `/route/p${i}/`);
  const sink = b.subscribe(others, { queueSize: 1, overflowPolicy: "drop_newest" });
  const p = await b.listen("127.0.0.1", 0);
  await a.peer("127.0.0.1", p, { retryMs: 0 });
  await a.awaitPeerSubscription(topic, 600_000);
  const setupMs = performance.now() - t0;
  let n = 0;
  const consumer = drain(sub, (k) => n += k);
  const w: Workload = { name: "count", make: W_COUNT.make, bytes: W_COUNT.bytes };
  const start = performance.now();
  let warm: [number, number] | undefined, last: [number, number] = [start, 0];
  await publishLoop(a, topic, w, () => {
    const now = performance.now();
    if (!warm && now - start >= 500) warm = [now, n];
    last = [now, n];
    return now - start >= 500 + CFG.routeSec * 1000;
  });
  const filterEntries = b.filter.length;
  sink.close();
  await quietShutdown(a, b);
  await consumer;
  return {
    layout,
    subscriptions: k,
    filterEntries,
    setupMs,
    msgsPerSec: warm ? (last[1] - warm[1]) / ((last[0] - warm[0]) / 1000) : 0,
  };
}

async function routingSection(): Promise<void> {
  const cases: [number, "distinct" | "covered"][] = [
    [10, "distinct"],
    [1000, "distinct"],
    [10_000, "distinct"],
    [100_000, "distinct"],
    [100_000, "covered"],
  ];
  for (const [k, layout] of cases) {
    progress(`routing ${k} ${layout}`);
    const r = await attempt(`routing ${k}`, () => routing(k, layout));
    results.routing.push(
      r instanceof Error
        ? {
          layout,
          subscriptions: k,
          filterEntries: 0,
          setupMs: null,
          msgsPerSec: null,
          note: r.message.slice(0, 80),
        }
        : r,
    );
  }
}

// ------------------------------------------------------------------ overload

async function oursOverload(
  policy: "disconnect" | "drop_newest" | "drop_oldest",
): Promise<OverloadRow> {
  const seconds = CFG.overloadSec;
  const rx = spawnReceiver("receiver", [
    "--listen",
    "0",
    "--topic",
    BT_TOPIC,
    "--seconds",
    String(seconds),
    "--idle-ms",
    "1500",
    "--tick-ms",
    "100",
  ]);
  const p = Number((await rx.waitLine(/^READY (\d+)/))[1]);
  const ep = new Endpoint({ overflowPolicy: policy });
  const errors = ep.statusSubscriber({ statuses: false });
  await ep.peer("127.0.0.1", p, { retryMs: 0 });
  await ep.awaitPeerSubscription(BT_TOPIC);
  let done = false, cut = "";
  rx.onLine((l) => done ||= l.startsWith("DONE"));
  (async () => {
    for await (const e of errors) cut ||= `${e.codeName}: ${e.message}`;
  })();
  const t0 = performance.now();
  // Flat out: no demand checks, a turn per 1024 messages (fewer would starve the writer).
  const offered = await publishLoop(
    ep,
    BT_TOPIC,
    W_COUNT,
    () => done || !!cut || performance.now() - t0 > (seconds + 5) * 1000,
    false,
    1024,
  );
  const elapsed = (performance.now() - t0) / 1000;
  await rx.exited(3000);
  await quietShutdown(ep);
  const s = tickSamples(rx);
  const delivered = s[s.length - 1][1];
  return {
    who: "ours -> ours",
    policy,
    offeredPerSec: offered / elapsed,
    deliveredPerSecond: perSecond(s, seconds),
    delivered,
    outcome: cut
      ? `cut after ${elapsed.toFixed(2)} s, ${offered} published (${cut.split(":")[0]})`
      : `held; ${Math.max(0, offered - delivered)} of ${offered} dropped`,
  };
}

async function cppOverload(policy: "disconnect" | "drop_newest"): Promise<OverloadRow> {
  const p = freePort();
  const srv = btServer(p);
  await srv.waitLine(/listening on/);
  const extra: string[] = [];
  if (policy !== "disconnect") {
    const dir = await Deno.makeTempDir({ prefix: "bench_peering_" });
    const file = `${dir}/broker.cfg`;
    await Deno.writeTextFile(file, `broker {\n  peer-overflow-policy = "${policy}"\n}\n`);
    extra.push(`--config-file=${file}`);
    setTimeout(() => Deno.remove(dir, { recursive: true }).catch(() => {}), 3000);
  }
  btClient(p, 1, extra);
  await srv.waitLine(/^rate: [1-9]/);
  await sleep((CFG.overloadSec + 1.2) * 1000);
  // The first second is partial (the server's clock, not the first message's).
  const rates = btRates(srv).slice(0, Math.ceil(CFG.overloadSec));
  const lostAt = srv.lines.findIndex((l) => l.startsWith("peer_lost"));
  const ratesBeforeLost = srv.lines.slice(0, lostAt).filter((l) => /^rate: [1-9]/.test(l)).length;
  return {
    who: "C++ -> C++",
    policy,
    offeredPerSec: null,
    deliveredPerSecond: rates,
    delivered: rates.reduce((a, b) => a + b, 0),
    outcome: lostAt >= 0
      ? `peering cut within ${ratesBeforeLost} s of traffic (peer_lost at the receiver)`
      : "held",
  };
}

async function overloadSection(): Promise<void> {
  const policies = QUICK ? ["disconnect", "drop_newest"] as const : [
    "disconnect",
    "drop_newest",
    "drop_oldest",
  ] as const;
  for (const policy of policies) {
    progress(`overload ours ${policy}`);
    const r = await attempt(`overload ${policy}`, () => oursOverload(policy));
    if (!(r instanceof Error)) results.overload.push(r);
  }
  if (!REF) return;
  for (const policy of QUICK ? ["disconnect"] as const : ["disconnect", "drop_newest"] as const) {
    progress(`overload C++ ${policy}`);
    const r = await attempt(`overload C++ ${policy}`, () => cppOverload(policy));
    if (!(r instanceof Error)) results.overload.push(r);
  }
}

// ------------------------------------------------------------------ report

const fmt = (x: number | null, digits = 0) =>
  x === null ? "n/a" : x.toLocaleString("en-US", { maximumFractionDigits: digits });

function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/**
 * The name of one C++ scheduler setting's row, throughput and latency
 * alike: e.g. "C++ -> C++ [1 thread]".
 */
function settingPath(base: string, setting: CafSetting): string {
  return `${base} [${setting.label}]`;
}

/** The throughput row of `path` for workload `w`, once measured. */
function rowOf(path: string, w: string): TputRow | undefined {
  return results.throughput.find((r) => r.path === path && r.workload === w);
}

/** Sender plus receiver CPU per message, µs, where both were measured. */
function bothCpu(path: string, w: string): number | undefined {
  const r = rowOf(path, w);
  return r?.rxCpuUs !== undefined && r.txCpuUs !== undefined ? r.rxCpuUs + r.txCpuUs : undefined;
}

function report(): void {
  const out: string[] = [];
  // A row's rate and receiver CPU, and a ratio of two figures ("n/a" when one is missing).
  const get = (path: string, w: string) => rowOf(path, w)?.msgsPerSec ?? null;
  const cpuOf = (path: string, w: string) => rowOf(path, w)?.rxCpuUs;
  const ratio = (a: number | null | undefined, b: number | null | undefined) =>
    a == null || b == null || b === 0 ? "n/a" : formatRatio(a / b);
  out.push(
    `deno-broker peering bench (${QUICK ? "quick" : "full"}), ${results.machine.cores} cores, ` +
      `Deno ${results.machine.deno}; loopback TCP, all processes share these cores`,
  );
  if (results.throughput.length) {
    out.push("", "Throughput (MB/s counts encoded values only):");
    out.push(table(
      ["path", "workload", "bytes", "msgs/s", "MB/s", "rx CPU µs/msg", "tx CPU µs/msg", "note"],
      results.throughput.map((r) => [
        r.path,
        r.workload,
        String(r.bytes),
        fmt(r.msgsPerSec),
        r.msgsPerSec === null ? "n/a" : fmt(r.msgsPerSec * r.bytes / 1e6, 1),
        r.rxCpuUs === undefined ? "" : fmt(r.rxCpuUs, 2),
        r.txCpuUs === undefined ? "" : fmt(r.txCpuUs, 2),
        r.note ?? "",
      ]),
    ));
    const ws = ["event_1", "event_2"].filter((w) => get("C++ -> C++", w) !== null);
    if (ws.length) {
      out.push("", "Throughput ratios, ours / C++ (same workload, C++ -> C++ as the base):");
      out.push(table(
        [
          "workload",
          "C++ -> C++",
          "ours -> ours",
          "ours -> ours, builder",
          AS_BT,
          "ours -> C++",
          "C++ -> ours",
          "rx CPU/msg, C++ / ours",
          "tx + rx CPU/msg, C++ / ours",
          "tx + rx, C++ / ours, builder",
        ],
        ws.map((w) => {
          const base = get("C++ -> C++", w);
          return [
            w,
            fmt(base),
            ratio(get("ours -> ours", w), base),
            ratio(get("ours -> ours, builder", w), base),
            ratio(get(AS_BT, w), base),
            ratio(get("ours -> C++", w), base),
            ratio(get("C++ -> ours", w), base),
            ratio(cpuOf("C++ -> C++", w), cpuOf("ours -> ours", w)),
            ratio(bothCpu("C++ -> C++", w), bothCpu("ours -> ours", w)),
            ratio(bothCpu("C++ -> C++", w), bothCpu("ours -> ours, builder", w)),
          ];
        }),
      ));
    }
  }
  for (const t of TLS_SECTIONS) {
    const cpp = `C++ -> C++, ${t.label}`, ours = `ours -> ours, ${t.label}`;
    const asBtPath = `${ours}, as broker-throughput`;
    const tlsRows = ["event_1", "event_2"].filter((w) => rowOf(cpp, w) !== undefined);
    if (!tlsRows.length) continue;
    out.push("", `Over ${t.label}, ours / C++ (${t.caption}):`);
    out.push(table(
      [
        "workload",
        cpp,
        ours,
        "ratio",
        asBtPath,
        "ratio",
        "rx CPU/msg, C++ / ours",
        "tx + rx CPU/msg, C++ / ours",
      ],
      tlsRows.map((w) => {
        const base = get(cpp, w), mine = get(ours, w);
        const asBt = get(asBtPath, w);
        return [
          w,
          fmt(base),
          fmt(mine),
          ratio(mine, base),
          fmt(asBt),
          ratio(asBt, base),
          ratio(cpuOf(cpp, w), cpuOf(ours, w)),
          ratio(bothCpu(cpp, w), bothCpu(ours, w)),
        ];
      }),
    ));
  }
  if (REPEAT > 1) {
    const lines = [
      ...["event_1", "event_2"].map((w) => [AS_BT, "C++ -> C++", w]),
      ...["event_1", "event_2"].map((w) => [AS_BT_TLS, "C++ -> C++, TLS", w]),
      ...["event_1", "event_2"].map((w) => [
        "ours -> ours, anonymous TLS, as broker-throughput",
        "C++ -> C++, anonymous TLS",
        w,
      ]),
    ].filter(([path, , w]) => rowOf(path, w) !== undefined)
      .map(([path, base, w]) => `  ${path} ${w}: ${perRunRatios(path, base, w)}`);
    if (lines.length) {
      out.push("", "Run by run, against the fastest C++ setting of the same run:", ...lines);
    }
  }
  if (results.latency.length) {
    const seg = results.latency.find((r) => r.segment)?.segment ?? CFG.pings / 4;
    out.push(
      "",
      `Ping-pong round trips (${CFG.pings} pings, ${PING_SIZE}-byte payload), µs; ` +
        `p50/p99 per ${seg} pings in send order (cold -> warm); start-up and wall time, ms:`,
    );
    const multi = LATENCY_RUNS > 1;
    out.push(table(
      [
        ...(multi ? ["run"] : []),
        "pair",
        "n",
        "p50",
        "p99",
        "max",
        `p50/p99 per ${seg}`,
        "pong start",
        "ping wall",
        "same vCPU",
        "note",
      ],
      results.latency.map((r) => [
        ...(multi ? [String(r.run)] : []),
        r.pair,
        String(r.n),
        fmt(r.p50us, 1),
        fmt(r.p99us, 1),
        fmt(r.maxus, 1),
        r.segments.map((s) => `${fmt(s.p50us)}/${fmt(s.p99us)}`).join("  "),
        fmt(r.pongStartMs),
        fmt(r.pingWallMs),
        r.sameCpu ? `${percent(r.sameCpu.share)} of ${r.sameCpu.samples}` : "-",
        r.note ?? "",
      ]),
    ));
    // The cold tail against C++'s, run by run (the goal: ours no worse in every run).
    const byRun = (pair: string) => results.latency.filter((r) => r.pair === pair);
    const ours = byRun("ours ping -> ours pong"), cpp = byRun("C++ ping -> C++ pong");
    let met = 0;
    const verdicts = ours.map((o, i) => {
      const c = cpp[i];
      if (o.p99us === null || !c || c.p99us === null) return "n/a";
      const ok = o.p99us <= c.p99us;
      if (ok) met++;
      const placed = o.sameCpu ? `, ours on one vCPU ${percent(o.sameCpu.share)}` : "";
      return `${fmt(o.p99us)} vs ${fmt(c.p99us)} (${ok ? "met" : "not met"}${placed})`;
    });
    const floors = byRun(FLOOR_PAIR).map((f) => fmt(f.p99us));
    out.push(
      `Cold p99, ours -> ours vs C++ -> C++, per run: ${verdicts.join("; ")}; ` +
        `met in ${met} of ${verdicts.length}` +
        (floors.length ? `; the runtime floor's (bare Deno echo): ${floors.join(", ")}.` : "."),
    );
  }
  if (results.routing.length) {
    out.push("", "Routing cost vs subscriptions on the receiver (one process, count messages):");
    out.push(table(
      ["layout", "subscriptions", "filter", "setup ms", "msgs/s", "note"],
      results.routing.map((r) => [
        r.layout,
        fmt(r.subscriptions),
        fmt(r.filterEntries),
        fmt(r.setupMs),
        fmt(r.msgsPerSec),
        r.note ?? "",
      ]),
    ));
  }
  if (results.overload.length) {
    out.push("", "Overload: publisher never waits for demand (count messages; C++: -t 1 -r 0):");
    out.push(table(
      ["who", "policy", "offered/s", "delivered per second", "outcome"],
      results.overload.map((r) => [
        r.who,
        r.policy,
        fmt(r.offeredPerSec),
        r.deliveredPerSecond.map((x) => fmt(x)).join(" "),
        r.outcome,
      ]),
    ));
  }
  results.spuriousUndefinedGets = spurious;
  if (spurious) {
    out.push(
      "",
      `Subscriber.get() resolved undefined ${spurious} times on open subscribers (queue bug).`,
    );
  }
  console.log(out.join("\n"));
  console.log(`JSON ${JSON.stringify(results)}`);
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const onSignal = () => {
    stopAll().finally(() => Deno.exit(130));
  };
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const t0 = performance.now();
  try {
    if (wants("inproc") || wants("tput") || wants("tls") || wants("tls-anon")) {
      // JIT warm-up of this process's publish path; not measured.
      progress("warm-up");
      for (const w of [W_COUNT, W_EV2]) await inProcess(w, 0.5);
    }
    await throughputSection();
    if (wants("latency")) await latencySection();
    if (wants("routing")) await routingSection();
    if (wants("overload")) await overloadSection();
  } finally {
    await stopAll();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
  progress(`total ${((performance.now() - t0) / 1000).toFixed(0)} s`);
  report();
}

if (import.meta.main) {
  await main();
  // Endpoints of failed cases may hold timers; the run is over.
  Deno.exit(0);
}
