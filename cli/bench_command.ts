/**
 * `broker bench`: throughput and latency between two endpoints, in one
 * process or across two, with the message shapes of Broker's
 * `broker-throughput` (1: a small event, 2: a conn.log-like event, 3: a
 * large table), flat out or at a fixed rate. Latency percentiles come from an
 * HDR histogram (`npm:hdr-histogram-js`); results print as a table or JSON.
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
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

/** What a run measured. */
export interface BenchResult {
  shape: number;
  messages: number;
  bytesPerMessage: number;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  latencyUs: { p50: number; p90: number; p99: number; max: number };
}

/** Receives `n` messages on /bench and measures rate and latency. */
export async function receive(
  ep: Endpoint,
  n: number,
  ready?: () => void,
): Promise<Omit<BenchResult, "shape" | "bytesPerMessage" | "megabytesPerSecond">> {
  const sub = ep.subscribe("/bench", { queueSize: 65536 });
  ready?.();
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let got = 0, start = 0;
  while (got < n) {
    const m = await sub.get(30_000);
    if (!m) break;
    if (got === 0) start = performance.now();
    for (const x of [m, ...sub.poll()]) {
      const sent = (x.data.value as Data[])[0].value as bigint;
      h.recordValue(Math.max(1, Number((nowNs() - sent) / 1000n)));
      got++;
    }
  }
  const seconds = (performance.now() - start) / 1000;
  sub.close();
  return {
    messages: got,
    seconds,
    messagesPerSecond: got / Math.max(seconds, 1e-9),
    latencyUs: {
      p50: h.getValueAtPercentile(50),
      p90: h.getValueAtPercentile(90),
      p99: h.getValueAtPercentile(99),
      max: h.maxValue,
    },
  };
}

/** Publishes `n` messages on /bench, flat out (with back-pressure) or at `rate` per second. */
export async function send(ep: Endpoint, shape: 1 | 2 | 3, n: number, rate = 0): Promise<void> {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (rate > 0) {
      const wait = start + (i / rate) * 1000 - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    if (ep.demand("/bench") <= 0) await ep.ready("/bench");
    ep.publish("/bench", benchMessage(shape, i));
  }
}

/** Runs one benchmark; with `twoProcesses`, the receiver is a child `broker bench --receive`. */
export async function runBench(
  shape: 1 | 2 | 3,
  n: number,
  options: { twoProcesses?: boolean; rate?: number } = {},
): Promise<BenchResult> {
  const bytesPerMessage = encode(benchMessage(shape, 0)).length;
  const sender = new Endpoint({ peerBufferSize: 8192 });
  try {
    let result: Omit<BenchResult, "shape" | "bytesPerMessage" | "megabytesPerSecond">;
    if (options.twoProcesses) {
      const child = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          new URL("./main.ts", import.meta.url).pathname,
          "bench",
          "--receive",
          String(n),
        ],
        stdout: "piped",
        stderr: "inherit",
      }).spawn();
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("receiver exited early");
        text += value;
      }
      const port = Number(/^PORT (\d+)/.exec(text)![1]);
      text = text.slice(text.indexOf("\n") + 1);
      await sender.peer("127.0.0.1", port, { retry: 0 });
      await sender.awaitPeerSubscription("/bench");
      await send(sender, shape, n, options.rate);
      for (;;) {
        const { value, done } = await reader.read();
        if (value) text += value;
        if (done) break;
      }
      await child.status;
      result = JSON.parse(text.trim().split("\n").pop()!);
    } else {
      const receiver = new Endpoint();
      const port = await receiver.listen();
      const receiving = receive(receiver, n);
      await sender.peer("127.0.0.1", port, { retry: 0 });
      await sender.awaitPeerSubscription("/bench");
      await send(sender, shape, n, options.rate);
      result = await receiving;
      await receiver.shutdown();
    }
    return {
      shape,
      bytesPerMessage,
      megabytesPerSecond: (result.messagesPerSecond * bytesPerMessage) / 1e6,
      ...result,
    };
  } finally {
    await sender.shutdown();
  }
}

/** The result as a one-row table. */
export function formatBench(r: BenchResult): string {
  const head = ["shape", "msgs", "B/msg", "msgs/s", "MB/s", "p50 µs", "p90 µs", "p99 µs", "max µs"];
  const row = [
    r.shape,
    r.messages,
    r.bytesPerMessage,
    Math.round(r.messagesPerSecond),
    r.megabytesPerSecond.toFixed(1),
    r.latencyUs.p50,
    r.latencyUs.p90,
    r.latencyUs.p99,
    r.latencyUs.max,
  ].map(String);
  const w = head.map((h, i) => Math.max(h.length, row[i].length));
  const line = (cells: string[]) => cells.map((c, i) => c.padStart(w[i])).join("  ");
  return `${line(head)}\n${line(row)}`;
}

/** Registers `broker bench`. */
export function registerBenchCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  program
    .command("bench")
    .description(
      "throughput and latency between two endpoints (broker-throughput's message shapes)",
    )
    .option("-t, --event-type <n>", "1 (small event), 2 (conn.log-like), 3 (large table)", "1")
    .option("-n, --num-messages <n>", "messages to send", "100000")
    .option("-r, --rate <n>", "messages per second (default: flat out)")
    .option("--two-processes", "run the receiver in a second process")
    .option("--json", "print the result as JSON")
    .option("--receive <n>", "(internal) be the receiver of a two-process run")
    .action(async (cli) => {
      if (cli.receive) {
        const ep = new Endpoint();
        const port = await ep.listen();
        const result = await receive(ep, Number(cli.receive), () => console.log(`PORT ${port}`));
        console.log(JSON.stringify(result));
        await ep.shutdown();
        return;
      }
      const shape = Number(cli.eventType);
      if (shape !== 1 && shape !== 2 && shape !== 3) {
        console.error("broker bench: the event type is 1, 2 or 3");
        setExitCode(1);
        return;
      }
      const r = await runBench(shape, Number(cli.numMessages), {
        twoProcesses: !!cli.twoProcesses,
        rate: cli.rate ? Number(cli.rate) : 0,
      });
      console.log(cli.json ? JSON.stringify(r) : formatBench(r));
      setExitCode(0);
    });
}
