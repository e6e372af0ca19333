/**
 * How fast each CPU of this machine runs the same code right now, to read a
 * bench run by. On the 2-vCPU VM the benches run on, one vCPU at a time has
 * run memory-touching code up to ~1.8x slower than the other for minutes
 * (then the other, or neither), while a chain of dependent multiplies ran
 * at one speed on both: a two-process bench whose busiest process lands on
 * the slow one is slow, whichever side it measures (docs/performance.md,
 * twenty-sixth round).
 *
 * Each CPU gets a child process pinned to it (`taskset -c N`), which times
 * building and framing broker-throughput's event_2 with a `DataBuilder`
 * (`connEventBuilt`, the code `bench/peering.ts` sends it with) and a chain
 * of dependent integer multiplies, after a warm-up, and prints one
 * JSON line. Needs `taskset` (util-linux).
 *
 * @example
 * ```sh
 * deno run -A bench/vcpu_probe.ts            # every CPU once
 * deno run -A bench/vcpu_probe.ts --rounds 3 # every CPU three times, in turn
 * ```
 *
 * @module
 */
import { DataBuilder } from "../mod.ts";
import { numberOption } from "./args.ts";
import { connEventBuilt } from "./throughput_events.ts";
import { median } from "./stats.ts";

/** One CPU's speeds: ns per event built and framed, and per dependent multiply. */
export interface CpuSpeed {
  cpu: number;
  buildNs: number;
  arithNs: number;
}

const SELF = new URL(import.meta.url).pathname;
/** Events per timed batch, and batches timed (after as many untimed). */
const BATCH = 20_000;
const BATCHES = 15;
const MULTIPLIES = 4_000_000;

/** The CPUs Linux has online (`/sys/devices/system/cpu/online`, e.g. "0-1"). */
function onlineCpus(): number[] {
  let text: string;
  try {
    text = Deno.readTextFileSync("/sys/devices/system/cpu/online").trim();
  } catch {
    return Array.from({ length: navigator.hardwareConcurrency }, (_, i) => i);
  }
  const cpus: number[] = [];
  for (const part of text.split(",")) {
    const [from, to = from] = part.split("-").map(Number);
    for (let c = from; c <= to; c++) cpus.push(c);
  }
  return cpus;
}

/**
 * Every online CPU's speeds, `rounds` times, the CPUs in turn (one child
 * process at a time, so they do not compete).
 *
 * @example
 * ```ts ignore
 * import { probeCpus } from "./vcpu_probe.ts";
 * for (const s of await probeCpus()) console.log(s.cpu, s.buildNs, s.arithNs);
 * ```
 */
export async function probeCpus(rounds = 1): Promise<CpuSpeed[]> {
  const out: CpuSpeed[] = [];
  const cpus = onlineCpus();
  for (let r = 0; r < rounds; r++) {
    for (const cpu of cpus) {
      let res: Deno.CommandOutput;
      try {
        res = await new Deno.Command("taskset", {
          args: ["-c", String(cpu), Deno.execPath(), "run", "--quiet", SELF, "--child"],
          stdout: "piped",
          stderr: "piped",
          env: { NO_COLOR: "1" },
        }).output();
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) {
          throw new Error("vcpu probe: taskset not found (Debian: apt-get install -y util-linux)");
        }
        throw e;
      }
      const text = new TextDecoder().decode(res.stdout).trim();
      if (!res.success || text === "") {
        throw new Error(`vcpu probe: cpu ${cpu}: ${new TextDecoder().decode(res.stderr).trim()}`);
      }
      out.push({ cpu, ...JSON.parse(text) });
    }
  }
  return out;
}

/** The child: times both loops on the CPU it was pinned to. */
function measureHere(): { buildNs: number; arithNs: number } {
  const header = new Uint8Array(45);
  const b = new DataBuilder();
  let sink = 0;
  const build = (n: number) => {
    for (let i = 0; i < n; i++) {
      connEventBuilt(b);
      sink += b.finishWithPrefix(header)?.length ?? 0;
    }
  };
  const arith = (n: number) => {
    let x = 1;
    for (let i = 0; i < n; i++) x = (Math.imul(x, 1103515245) + 12345) | 0;
    sink += x & 1;
  };
  const builds: number[] = [], multiplies: number[] = [];
  for (let r = 0; r < 2 * BATCHES; r++) {
    let t0 = performance.now();
    build(BATCH);
    const tb = (performance.now() - t0) * 1e6 / BATCH;
    t0 = performance.now();
    arith(MULTIPLIES);
    const ta = (performance.now() - t0) * 1e6 / MULTIPLIES;
    if (r >= BATCHES) builds.push(tb), multiplies.push(ta);
  }
  if (sink === -1) console.error("unreachable"); // keeps the loops' results alive
  return { buildNs: median(builds), arithNs: median(multiplies) };
}

if (import.meta.main) {
  if (Deno.args.includes("--child")) {
    console.log(JSON.stringify(measureHere()));
  } else {
    const rounds = numberOption("--rounds", 1, { min: 1 });
    const speeds = await probeCpus(rounds);
    for (const s of speeds) {
      console.log(
        `cpu ${s.cpu}: event_2 built and framed in ${s.buildNs.toFixed(0)} ns, ` +
          `a dependent multiply ${s.arithNs.toFixed(2)} ns`,
      );
    }
    const builds = speeds.map((s) => s.buildNs), ariths = speeds.map((s) => s.arithNs);
    const spread = (xs: number[]) => Math.max(...xs) / Math.min(...xs);
    console.log(
      `slowest / fastest: building ${spread(builds).toFixed(2)}x, multiplying ${
        spread(ariths).toFixed(2)
      }x (${new Date().toISOString()})`,
    );
  }
}
