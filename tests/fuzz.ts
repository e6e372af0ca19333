/**
 * `deno task fuzz [-- --iterations N | --seconds S] [--seed N] [--target NAME]`:
 * mutation fuzzing of every parser that reads bytes from outside
 * (`fuzz_targets.ts`: Broker's data format, wire messages and framing,
 * store commands, Zeek messages, ZMTP, Zeek 8's messages and log batches,
 * the WebSocket JSON reader, recordings), seeded from the fixtures made
 * with the C++ Broker and Zeek; the targets take turns unless `--target`
 * names one. An input that raises anything but a `BrokerError`, or takes
 * over a second of CPU, is kept in `fixtures/fuzz/` as
 * `<target>-crash-<hex>.bin` (or `-slow-`), which
 * `tests/fuzz_regressions_test.ts` replays. CPU, not wall time: on a busy
 * machine a run kept inputs that took 0.1 ms when replayed, because the
 * fuzzer had waited over a second for a core.
 *
 * @module
 */
import process from "node:process";
import { hex } from "./fixtures.ts";
import { seededRandom } from "../engine/recording/generator_file.ts";
import { dataSeeds, exerciseData, FUZZ_TARGETS } from "./fuzz_targets.ts";

/** Runs every decoder entry point on one input; returns a problem, or undefined. */
export const exercise: (bytes: Uint8Array) => string | undefined = exerciseData;

/** The data target's seed corpus. */
export const seeds: () => Uint8Array[] = dataSeeds;

const INTERESTING = [0x00, 0x01, 0x0e, 0x0f, 0x7f, 0x80, 0xff];

function mutate(seed: Uint8Array, pool: Uint8Array[], rnd: () => number): Uint8Array {
  let b = Array.from(seed);
  const pick = (n: number) => Math.floor(rnd() * n);
  const rounds = 1 + pick(4);
  for (let r = 0; r < rounds; r++) {
    const at = b.length ? pick(b.length) : 0;
    switch (pick(7)) {
      case 0:
        b[at] ^= 1 << pick(8);
        break;
      case 1:
        b[at] = INTERESTING[pick(INTERESTING.length)];
        break;
      case 2:
        b.splice(at, 0, pick(256));
        break;
      case 3:
        b.splice(at, 1 + pick(4));
        break;
      case 4:
        b = b.slice(0, at);
        break;
      case 5: {
        // Splice in a chunk of another seed.
        const other = pool[pick(pool.length)];
        const s = pick(other.length + 1);
        b.splice(at, pick(8), ...other.subarray(s, s + pick(32)));
        break;
      }
      default:
        // A huge varbyte where a length might be.
        b.splice(at, 0, 0xff, 0xff, 0xff, 0xff, 0x0f);
    }
  }
  return new Uint8Array(b);
}

async function main() {
  const args = Deno.args;
  const opt = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : undefined;
  };
  const seconds = opt("seconds");
  const iterations = opt("iterations") ?? (seconds === undefined ? 100_000 : Infinity);
  const seed = opt("seed") ?? Date.now() % 2 ** 31;
  const ti = args.indexOf("--target");
  const only = ti >= 0 ? args[ti + 1] : undefined;
  const targets = FUZZ_TARGETS.filter((t) => only === undefined || t.name === only);
  if (targets.length === 0) {
    console.error(
      `fuzz: no target ${only}; targets: ${FUZZ_TARGETS.map((t) => t.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  const pools = targets.map((t) => t.seeds());
  const deadline = seconds === undefined ? Infinity : Date.now() + seconds * 1000;
  const rnd = seededRandom(seed);
  let n = 0, kept = 0;
  const started = Date.now();
  for (; n < iterations && Date.now() < deadline; n++) {
    const k = n % targets.length, pool = pools[k];
    const input = mutate(pool[Math.floor(rnd() * pool.length)], pool, rnd);
    const t0 = process.cpuUsage();
    const problem = targets[k].exercise(input);
    const used = process.cpuUsage(t0);
    const slow = used.user + used.system > 1_000_000;
    if (problem || slow) {
      kept++;
      const name = `fixtures/fuzz/${targets[k].name}-${problem ? "crash" : "slow"}-${
        hex(input).slice(0, 16)
      }.bin`;
      await Deno.writeFile(new URL(`../${name}`, import.meta.url), input);
      console.log(`${name}: ${problem ?? "over 1 s"}`);
    }
  }
  const secs = (Date.now() - started) / 1000;
  const seedCount = pools.reduce((sum, p) => sum + p.length, 0);
  console.log(
    `fuzz: ${n} inputs to ${targets.map((t) => t.name).join(", ")} from ${seedCount} seeds ` +
      `in ${secs.toFixed(1)} s (seed ${seed}), ${kept} kept in fixtures/fuzz/`,
  );
  if (kept > 0) Deno.exit(1);
}

if (import.meta.main) await main();
