import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import { type Data, decode, encode } from "../mod.ts";
import {
  benchMessage,
  type BenchResult,
  formatBench,
  type ReceiverReport,
  runBench,
  summarize,
} from "./bench_run.ts";
import { main } from "./main.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("bench messages have broker-throughput's three shapes, stamped", () => {
  for (const shape of [1, 2, 3] as const) {
    const m = decode(encode(benchMessage(shape, 7)));
    assert.equal(m.type, "vector");
    const [stamp] = m.value as readonly Data[];
    assert.equal(stamp.type, "timestamp");
  }
  assert.ok(encode(benchMessage(3, 0)).length > encode(benchMessage(2, 0)).length);
});

/** A receiver report with `perMs` deliveries from `firstMs`, all with latency `us`. */
function report(firstMs: number, perMs: number[], us: number): ReceiverReport {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const messages = perMs.reduce((a, b) => a + b, 0);
  h.recordValueWithCount(us, messages);
  return {
    messages,
    firstMs,
    lastMs: firstMs + perMs.length - 1,
    perMs,
    histogram: hdr.encodeIntoCompressedBase64(h),
  };
}

Deno.test("summaries: totals across subscribers, aligned time series, merged latencies", () => {
  // Subscriber 1: 10 messages per ms for 300 ms; subscriber 2 starts 100 ms later, 5 per ms for 200 ms.
  const a = report(1000, new Array(300).fill(10), 100);
  const b = report(1100, new Array(200).fill(5), 1000);
  const s = summarize([a, b], 100);
  assert.equal(s.messages, 4000);
  assert.equal(s.perSubscriber.length, 2);
  assert.equal(s.perSubscriber[1].messages, 1000);
  assert.ok(Math.abs(s.perSubscriber[0].messagesPerSecond - 3000 / 0.299) < 1);
  assert.ok(Math.abs(s.seconds - 0.299) < 1e-9);
  // 299 ms: two whole intervals and a 99 ms tail of its own.
  assert.deepEqual(s.series.perSubscriber[0].map(Math.round), [10_000, 10_000, 10_101]);
  assert.deepEqual(s.series.perSubscriber[1].map(Math.round), [0, 5000, 5051]);
  assert.deepEqual(s.series.total.map(Math.round), [10_000, 15_000, 15_152]);
  assert.equal(s.latencyUs.p50, 100);
  assert.ok(s.latencyUs.max >= 999 && s.latencyUs.max <= 1001);
  assert.equal(s.perSubscriber[1].latencyUs.p50 >= 999, true);
  // A 20 ms tail is folded into the last whole interval instead of making a wild point.
  const short = summarize([report(0, new Array(221).fill(1), 5)], 100);
  assert.equal(short.series.total.length, 2);
  assert.ok(Math.abs(short.series.total[1] - 121_000 / 120) < 1e-6);
  // Nobody received anything: no series, no crash.
  const none = summarize([{ ...report(0, [], 1), messages: 0 }], 100);
  assert.equal(none.messages, 0);
  assert.deepEqual(none.series.total, []);
});

Deno.test("broker bench 1 → 1 in one process measures every message", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const r = await runBench(2, 2000, { rate: 20_000 });
  assert.equal(r.messages, 2000);
  assert.ok(r.messagesPerSecond > 0);
  assert.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.p99);
  assert.ok(r.latencyUs.p99 <= r.latencyUs.max);
  assert.match(formatBench(r), /msgs\/s/);
});

Deno.test("broker bench 1 → N in one process: every subscriber gets every message", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const r = await runBench(1, 2000, { subscribers: 3 });
  assert.equal(r.layout, "1-to-3");
  assert.equal(r.messages, 3 * 2000);
  assert.deepEqual(r.perSubscriber.map((s) => s.messages), [2000, 2000, 2000]);
  assert.equal(r.series.perSubscriber.length, 3);
  for (const s of r.perSubscriber) assert.ok(s.messagesPerSecond > 0 && s.latencyUs.p50 > 0);
  const table = formatBench(r);
  assert.match(table, /^1 publisher → 3 subscribers, one process: event_1/);
  assert.match(table, /^sub 3 /m);
});

/** Runs `broker bench` in this process and returns its exit code, stdout and stderr. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const log = console.log, error = console.error;
  console.log = (...a: unknown[]) => out += a.join(" ") + "\n";
  console.error = (...a: unknown[]) => err += a.join(" ") + "\n";
  try {
    const code = await main(["bench", ...args], {
      writeOut: (s) => out += s,
      writeErr: (s) => err += s,
      colorErr: false,
    });
    return { code, out, err };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("broker bench -P 3 --json --chart: N → 1, the JSON fields and an SVG chart", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const chart = await Deno.makeTempFile({ suffix: ".svg" });
  try {
    const { code, out, err } = await cli(["-P", "3", "-n", "2000", "--json", "--chart", chart]);
    assert.equal(code, 0, err);
    const r: BenchResult = JSON.parse(out);
    assert.equal(r.messages, 3 * 2000);
    assert.equal(r.publishers, 3);
    assert.equal(r.subscribers, 1);
    assert.equal(r.layout, "3-to-1");
    assert.equal(r.processes, false);
    assert.equal(r.messagesPerPublisher, 2000);
    assert.equal(r.perSubscriber[0].messages, 6000);
    for (
      const key of [
        "seconds",
        "messagesPerSecond",
        "megabytesPerSecond",
        "bytesPerMessage",
      ] as const
    ) assert.ok(r[key] > 0, key);
    for (const key of ["p50", "p90", "p99", "max"] as const) assert.ok(r.latencyUs[key] > 0);
    assert.equal(r.series.intervalMs, 100);
    assert.ok(r.series.total.length >= 1);
    assert.deepEqual(r.series.perSubscriber, [r.series.total]);
    const svg = await Deno.readTextFile(chart);
    assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>/);
    assert.match(svg, /<\/svg>\n$/);
    assert.match(svg, /3 publishers → 1 subscriber/);
    assert.equal(svg.match(/<polyline /g)!.length, 1);
    assert.equal(svg.match(/<svg/g)!.length, 1);
  } finally {
    await Deno.remove(chart);
  }
});

Deno.test("broker bench -P 2 --processes: each endpoint in its own process", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const r = await runBench(1, 2000, { publishers: 2, processes: true, rate: 20_000 });
  assert.equal(r.processes, true);
  assert.equal(r.messages, 2 * 2000);
  assert.equal(r.perSubscriber[0].messages, 4000);
  assert.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.max);
  // Two publishers at 20k/s each, started together, take about 0.1 s.
  assert.ok(r.seconds > 0.05, `${r.seconds} s`);
});

Deno.test("broker bench: bad arguments are one-line usage errors, exit code 2", async () => {
  const chartDir = await Deno.makeTempDir();
  try {
    for (
      const [args, want] of [
        [["-P", "0"], /^broker bench: --publishers: expected a whole number ≥ 1, got "0"$/],
        [["--subscribers", "-2"], /^broker bench: --subscribers: expected a whole number ≥ 1/],
        [["-n", "0"], /^broker bench: --num-messages: /],
        [["-n", "abc"], /^broker bench: --num-messages: /],
        [["-n", "1e999"], /^broker bench: --num-messages: /],
        [["-n", ""], /^broker bench: --num-messages: /],
        [["--event-type", "4"], /^broker bench: --event-type: expected one of 1, 2, 3; got "4"$/],
        [["--publish-rate", "-5"], /^broker bench: --publish-rate: expected messages per second/],
        [["--publish-rate", "abc"], /^broker bench: --publish-rate: /],
        [["--interval", "0"], /^broker bench: --interval: expected a positive duration/],
        [["--interval", "-1"], /^broker bench: --interval: /],
        [["-P", "2", "-S", "2"], /^broker bench: --publishers: .*one of --publishers and/],
        [["-t", "2"], /^broker bench: -t: unknown option/],
        [["--chart", `${chartDir}/no/such/dir/x.svg`], /^broker bench: --chart: cannot write /],
      ] as const
    ) {
      const { code, out, err } = await cli([...args]);
      assert.equal(code, 2, args.join(" "));
      assert.equal(out, "");
      assert.equal(err.trimEnd().split("\n").length, 1, err);
      assert.match(err.trimEnd(), want);
      assert.doesNotMatch(err, /NaN|BigInt|Warning/);
    }
  } finally {
    await Deno.remove(chartDir, { recursive: true });
  }
});

Deno.test("broker bench --chart says where it wrote", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  try {
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "bench", "-n", "500", "--chart", "x.svg", "--json"],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const err = new TextDecoder().decode(r.stderr);
    assert.equal(r.code, 0, err);
    assert.equal(err, `chart written to ${await Deno.realPath(dir)}/x.svg\n`);
    assert.equal(JSON.parse(new TextDecoder().decode(r.stdout)).messages, 500);
    assert.match(await Deno.readTextFile(`${dir}/x.svg`), /^<svg/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** What `ps` says of these processes: `pid stat` per line (`--ppid` with `children`). */
async function ps(args: string[]): Promise<string[]> {
  const out = await new Deno.Command("ps", { args, stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.trim()).filter(Boolean);
}

Deno.test(
  "broker bench --processes stopped by a signal takes its children along",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      const bench = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "bench", "--processes", "-n", "100000", "--publish-rate", "500"],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      // Until its children run (a publisher at 500 msgs/s takes minutes to end on its own).
      const children = async () =>
        (await ps(["-o", "pid=", "--ppid", String(bench.pid)])).map(Number);
      const deadline = Date.now() + 15_000;
      while ((await children()).length < 2) {
        assert.ok(Date.now() < deadline, "the children never started");
        await new Promise((r) => setTimeout(r, 100));
      }
      const kids = await children();
      await new Promise((r) => setTimeout(r, 500));
      bench.kill(signal);
      assert.equal((await bench.status).code, signal === "SIGINT" ? 130 : 143);
      await new Promise((r) => setTimeout(r, 500));
      // Still there, and not a zombie: left running.
      const alive = (await ps(["-o", "stat=", "-p", kids.join(",")])).filter((s) =>
        !s.startsWith("Z")
      );
      assert.deepEqual(alive, [], `${signal}: children left running`);
    }
  },
);
