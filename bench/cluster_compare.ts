/**
 * Broker's cluster benchmark, ours beside the real one in one run:
 * Broker 2.2.0's `broker-cluster-benchmark` and `broker bench cluster` on the
 * same `setup.conf` and `mars.dat` (Broker's `example.zip`: mars publishes
 * 4,198-byte events with a 31-entry table of sets, earth receives them; both
 * nodes in one process, as the C++ tool runs them).
 *
 * The C++ tool generates each value from the file as it publishes (inside the
 * clock) and its receiver gets every message deserialized. Ours runs four
 * ways: values made before the clock (our default) or inside it
 * (`--generate-in-clock`), and receivers that count validated messages (our
 * default) or build every value (`--decode`, what the C++ receiver does).
 * Those four run both nodes on one thread. The C++ tool runs its nodes on
 * CAF's worker threads, one per core (`/usr/bin/time` gave 1.35 cores over a
 * run here), so the `--decode` cases also run with `--processes`, each node
 * in its own process: the two cores both tools then use. One more case
 * makes the values in the clock on a Worker thread beside the sender
 * (`--generate-in-worker`), both nodes in one process: the C++ tool's
 * publisher, too, runs on a thread of its own.
 * The C++ tool runs once per CAF scheduler setting (`caf_settings.ts`), and
 * the fastest of them is the run's C++ figure.
 * Each run alternates the order of the tools; ratios are ours over C++ of the
 * same run (system time: from the start of publishing to the last receive).
 *
 * Run: `deno task bench:cluster [--runs 3] [--messages 10000] [--zip PATH]`.
 *
 * `--generator` times only making the values, in this process: a mars.dat
 * event written straight into its encoding (`generateEncodedTransient`, what
 * `--generate-in-clock` uses), against `encode(generateFromShape(...))`, in
 * alternating rounds of 1,000 events (the first 10 rounds not counted).
 *
 * @module
 */

import { numberOption, stringOption } from "./args.ts";

const RUNS = numberOption("--runs", 3, { min: 1 });
const MESSAGES = stringOption("--messages", "");
const ZIP = stringOption(
  "--zip",
  Deno.env.get("BROKER_EXAMPLE_ZIP") ?? "/work/shared/fixtures/recordings/example.zip",
);
const CPP = Deno.env.get("BROKER_CLUSTER_BENCHMARK") ??
  "/work/shared/tools/broker-2.2.0/bin/broker-cluster-benchmark";
import { encode } from "../mod.ts";
import { CPP_CONFIGS } from "./caf_settings.ts";
import { formatRatio } from "./stats.ts";
import { generateEncodedTransient } from "../engine/recording/generate_encoded.ts";
import {
  generateFromShape,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;
const LOCK = new URL("../deno.lock", import.meta.url).pathname;

interface Case {
  name: string;
  flags?: string[];
}

const OURS: Case[] = [
  { name: "ours, count validated, values made before the clock", flags: [] },
  { name: "ours, count validated, values made in the clock", flags: ["--generate-in-clock"] },
  { name: "ours --decode, values made before the clock", flags: ["--decode"] },
  { name: "ours --decode, values made in the clock", flags: ["--decode", "--generate-in-clock"] },
  {
    name: "ours --decode, values made in the clock on a Worker",
    flags: ["--decode", "--generate-in-worker"],
  },
  {
    name: "ours --decode --processes, values made before the clock",
    flags: ["--decode", "--processes"],
  },
  {
    name: "ours --decode --processes, values made in the clock",
    flags: ["--decode", "--generate-in-clock", "--processes"],
  },
];
const CPP_NAME = "C++ broker-cluster-benchmark (values made in the clock, decoded)";

/** Unpacks example.zip; sets num-inputs/num-outputs when `--messages` is given. */
async function prepare(): Promise<{ dir: string; conf: string; messages: number }> {
  const dir = await Deno.makeTempDir({ prefix: "cluster-compare-" });
  const unzip = await new Deno.Command("unzip", { args: ["-q", "-o", ZIP, "-d", dir] }).output();
  if (!unzip.success) throw new Error(`unzip ${ZIP}: ${new TextDecoder().decode(unzip.stderr)}`);
  const conf = `${dir}/setup.conf`;
  let text = await Deno.readTextFile(conf);
  if (MESSAGES) {
    text = text.replace(/(num-(?:inputs|outputs)\s*=\s*)\d+/g, `$1${Number(MESSAGES)}`);
    await Deno.writeTextFile(conf, text);
  }
  const inputs = [...text.matchAll(/num-inputs\s*=\s*(\d+)/g)].map((m) => Number(m[1]));
  return { dir, conf, messages: inputs.reduce((a, b) => a + b, 0) };
}

/** "4.57848s", "850.2ms", "12us" as the C++ tool prints durations. */
function parseDuration(text: string): number {
  const m = /^([\d.]+)(ns|us|ms|s|min|h)$/.exec(text.trim());
  if (!m) throw new Error(`cannot read duration ${text}`);
  const scale: Record<string, number> = { ns: 1e-9, us: 1e-6, ms: 1e-3, s: 1, min: 60, h: 3600 };
  return Number(m[1]) * scale[m[2]];
}

async function runCpp(dir: string, conf: string, caf: string[]): Promise<number> {
  const out = await new Deno.Command(CPP, { args: ["-c", conf, ...caf], cwd: dir }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  const m = /^system: (\S+)$/m.exec(text);
  if (!out.success || !m) throw new Error(`broker-cluster-benchmark failed:\n${text}`);
  return parseDuration(m[1]);
}

async function runOurs(dir: string, conf: string, flags: string[]): Promise<number> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", `--lock=${LOCK}`, "-A", CLI, "bench", "cluster", "--json", ...flags, conf],
    cwd: dir,
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success) {
    throw new Error(`broker bench cluster failed:\n${text}${new TextDecoder().decode(out.stderr)}`);
  }
  const result = JSON.parse(text.trim().split("\n").at(-1)!);
  if (result.messagesReceived < result.messagesSent) {
    throw new Error(`ours lost messages: ${text}`);
  }
  return result.systemSeconds;
}

/** Microseconds per event making mars.dat's values both ways, alternating rounds. */
async function timeGenerators(dir: string): Promise<void> {
  const shapes = readGeneratorFile(await Deno.readFile(`${dir}/mars.dat`)).entries
    .filter((e) => e.kind === "data").map((e) => e.shape!);
  const ways: [string, (i: number, rnd: () => number) => unknown][] = [
    ["straight into the encoding", (i, rnd) => generateEncodedTransient(shapes[i], rnd)],
    ["Data, then encode", (i, rnd) => encode(generateFromShape(shapes[i], rnd))],
  ];
  const times = ways.map(() => [] as number[]);
  for (let round = 0; round < 40; round++) {
    ways.forEach(([, make], k) => {
      const rnd = seededRandom(round + 1);
      const t0 = performance.now();
      for (let i = 0; i < 1000; i++) make(i % shapes.length, rnd);
      if (round >= 10) times[k].push(performance.now() - t0);
    });
  }
  ways.forEach(([name], k) => {
    const t = times[k].sort((a, b) => a - b);
    console.log(
      `${name}: ${t[0].toFixed(1)} µs per event at best, ${t[t.length >> 1].toFixed(1)} median`,
    );
  });
}

const { dir, conf, messages } = await prepare();
if (Deno.args.includes("--generator")) {
  try {
    await timeGenerators(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  Deno.exit(0);
}
console.log(
  `cluster benchmark, ${
    ZIP.split("/").at(-1)
  }: ${messages} messages to receive per run, ${RUNS} run(s)`,
);
const rates = new Map<string, number[]>();
const add = (name: string, seconds: number) => {
  const r = messages / seconds;
  rates.set(name, [...(rates.get(name) ?? []), r]);
  return r;
};
try {
  for (let run = 0; run < RUNS; run++) {
    // C++ first on even runs, last on odd ones.
    const order: (Case | "C++")[] = run % 2 === 0 ? ["C++", ...OURS] : [...OURS, "C++"];
    const got = new Map<string, number>();
    for (const c of order) {
      if (c === "C++") {
        // Once per CAF scheduler setting; the fastest is this run's C++ figure.
        let fastest = Infinity;
        for (const caf of CPP_CONFIGS) {
          const name = `${CPP_NAME} [${caf.label}]`, seconds = await runCpp(dir, conf, caf.args);
          got.set(name, add(name, seconds));
          fastest = Math.min(fastest, seconds);
        }
        got.set(CPP_NAME, add(CPP_NAME, fastest));
      } else got.set(c.name, add(c.name, await runOurs(dir, conf, c.flags ?? [])));
    }
    const cpp = got.get(CPP_NAME)!;
    // The machine is shared: the load says how far this run's figures can be trusted.
    const load = Deno.loadavg()[0].toFixed(1);
    const settings = CPP_CONFIGS.map((caf) =>
      `${caf.label} ${Math.round(got.get(`${CPP_NAME} [${caf.label}]`)!)}`
    ).join(", ");
    console.log(
      `run ${run + 1}: C++ ${Math.round(cpp)} msgs/s, its fastest CAF setting (${settings}; ` +
        `load average ${load} at its end)`,
    );
    for (const c of OURS) {
      const r = got.get(c.name)!;
      console.log(`  ${c.name}: ${Math.round(r)} msgs/s, ${formatRatio(r / cpp)}`);
    }
  }
} finally {
  await Deno.remove(dir, { recursive: true });
}

const k = (x: number) => `${(x / 1000).toFixed(1)}k`;
const cpp = rates.get(CPP_NAME)!;
console.log("\n| case | msgs/s (each run) | vs C++ (same run) |");
console.log("| --- | --- | --- |");
for (const caf of CPP_CONFIGS) {
  const name = `${CPP_NAME} [${caf.label}]`;
  const r = rates.get(name)!;
  console.log(
    `| ${name} | ${r.map(k).join(", ")} | ${r.map((x, i) => formatRatio(x / cpp[i])).join(", ")} |`,
  );
}
console.log(`| ${CPP_NAME}, the fastest setting of each run | ${cpp.map(k).join(", ")} | 1.00x |`);
for (const c of OURS) {
  const r = rates.get(c.name)!;
  console.log(
    `| ${c.name} | ${r.map(k).join(", ")} | ${
      r.map((x, i) => formatRatio(x / cpp[i])).join(", ")
    } |`,
  );
}
