/**
 * `deno task fuzz [-- --iterations N | --seconds S] [--seed N]`: mutation
 * fuzzing of the decoder, seeded from Broker's golden vectors, the data
 * messages of its captures and values of every shape in its recordings.
 * An input that raises anything but a `BrokerError`, or takes over a second,
 * is kept in `fixtures/fuzz/` (replayed by `tests/fuzz_regressions_test.ts`).
 *
 * @module
 */
import { BrokerError, dataToString, decode, encode, EncodedData, validate } from "../mod.ts";
import {
  generateFromShape,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import {
  capturedDataPayloads,
  fixtureUrl,
  goldenData,
  goldenZeek,
  hex,
  unhex,
} from "./fixtures.ts";

/** Runs every decoder entry point on one input; returns a problem, or undefined. */
export function exercise(bytes: Uint8Array): string | undefined {
  try {
    const v = decode(bytes);
    dataToString(v);
    const again = encode(v);
    decode(again);
  } catch (e) {
    if (!(e instanceof BrokerError)) return `decode: ${e instanceof Error ? e.stack : e}`;
  }
  try {
    validate(bytes, { allowTrailing: true });
    const view = EncodedData.from(bytes, { allowTrailing: true });
    if (view.length > 0) view.at(view.length - 1).span();
  } catch (e) {
    if (!(e instanceof BrokerError)) return `validate: ${e instanceof Error ? e.stack : e}`;
  }
  return undefined;
}

/** The seed corpus. */
export function seeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const g of [...goldenData(), ...goldenZeek()]) out.push(unhex(g.hex));
  for (const p of capturedDataPayloads()) out.push(p.payload);
  const rec = readGeneratorFile(Deno.readFileSync(fixtureUrl("recordings/mars.dat")));
  const rnd = seededRandom(7);
  for (const e of rec.entries.slice(0, 200)) out.push(encode(generateFromShape(e.shape!, rnd)));
  return out;
}

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
  const deadline = seconds === undefined ? Infinity : Date.now() + seconds * 1000;
  const pool = seeds();
  const rnd = seededRandom(seed);
  let n = 0, kept = 0;
  const started = Date.now();
  for (; n < iterations && Date.now() < deadline; n++) {
    const input = mutate(pool[Math.floor(rnd() * pool.length)], pool, rnd);
    const t0 = performance.now();
    const problem = exercise(input);
    const slow = performance.now() - t0 > 1000;
    if (problem || slow) {
      kept++;
      const name = `fixtures/fuzz/${problem ? "crash" : "slow"}-${hex(input).slice(0, 16)}.bin`;
      await Deno.writeFile(new URL(`../${name}`, import.meta.url), input);
      console.log(`${name}: ${problem ?? "over 1 s"}`);
    }
  }
  const secs = (Date.now() - started) / 1000;
  console.log(
    `fuzz: ${n} inputs from ${pool.length} seeds in ${secs.toFixed(1)} s ` +
      `(seed ${seed}), ${kept} kept in fixtures/fuzz/`,
  );
  if (kept > 0) Deno.exit(1);
}

if (import.meta.main) await main();
