/**
 * Decode speed against msgpackr with the two interleaved: each round times
 * a batch of every case in turn, so a burst of other work on a shared
 * machine lands on all cases alike instead of on whichever `deno bench`
 * happened to be measuring. Reports, per case, the median batch (ns per
 * decode) and msgpackr's median over ours (higher is faster for us).
 *
 * Same content as `codec_bench.ts`'s decode groups: the Zeek conn event,
 * the conn event with 1,024 distinct uid sets, and small scalars; then
 * events of Broker's cluster benchmark (`mars.dat`: 4,198 bytes, a table of
 * 31 sets of ten random 10-letter strings), 256 distinct ones, where text
 * never repeats.
 *
 * Run with `deno run --lock=deno.lock --allow-read --allow-env --allow-sys
 * bench/codec_interleaved.ts [rounds]` (default 200 rounds).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Packr } from "msgpackr";
import { type Data, decode, encode } from "../mod.ts";
import { decodeValidated, validateForLater } from "../engine/data/mod.ts";
import { formatRatio, median } from "./stats.ts";
import {
  CONN_EVENT as CONN,
  connWithUids,
  SMALL_SCALARS as SMALL,
  toPlain,
} from "./codec_corpus.ts";
import {
  generateFromShape,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";

const FRESH = 1024;
const fresh = Array.from(
  { length: FRESH },
  (_, i) => connWithUids(i),
);

const packr = new Packr({ int64AsType: "bigint", useRecords: false, largeBigIntToFloat: false });
// Each message in its own buffer, as messages read from a socket are.
const ours = (d: Data) => new Uint8Array(encode(d));
const msgpack = (d: Data) => new Uint8Array(packr.pack(toPlain(d)));

type Case = { name: string; run: () => unknown };
const groups: { name: string; cases: Case[] }[] = [];
for (const [name, value] of [["conn event", CONN], ["small scalars", SMALL]] as const) {
  const o = ours(value), m = msgpack(value), unsorted = validateForLater(o);
  assert.deepStrictEqual(decode(o), value);
  assert.deepStrictEqual(decodeValidated(o, unsorted), value);
  groups.push({
    name,
    cases: [
      { name: "msgpackr unpack", run: () => packr.unpack(m) },
      { name: "ours decode", run: () => decode(o) },
      { name: "ours decodeValidated", run: () => decodeValidated(o, unsorted) },
      {
        name: "ours validateForLater + decodeValidated",
        run: () => decodeValidated(o, validateForLater(o)),
      },
    ],
  });
}
{
  const o = fresh.map(ours), m = fresh.map(msgpack);
  assert.deepStrictEqual(decode(o[7]), fresh[7]);
  let i = 0, j = 0;
  groups.push({
    name: `conn event, ${FRESH} distinct uid sets`,
    cases: [
      { name: "msgpackr unpack", run: () => packr.unpack(m[i++ & (FRESH - 1)]) },
      { name: "ours decode", run: () => decode(o[j++ & (FRESH - 1)]) },
    ],
  });
}

{
  const file = readGeneratorFile(
    Deno.readFileSync(new URL("../fixtures/broker/recordings/mars.dat", import.meta.url)),
  );
  const rnd = seededRandom(1);
  const values = Array.from(
    { length: 256 },
    (_, i) => generateFromShape(file.entries[i].shape!, rnd),
  );
  const o = values.map(ours), m = values.map(msgpack);
  assert.deepStrictEqual(decode(o[7]), values[7]);
  let i = 0, j = 0;
  groups.push({
    name: `mars.dat event (${o[0].length} B), 256 distinct`,
    cases: [
      { name: "msgpackr unpack", run: () => packr.unpack(m[i++ & 255]) },
      { name: "ours decode", run: () => decode(o[j++ & 255]) },
    ],
  });
}

const ROUNDS = Number(Deno.args[0] ?? 200), WARM_UP = 20, TARGET_NS = 500_000;
const sink: { value: unknown } = { value: undefined };
for (const g of groups) {
  // Optimised code first (the first calls run in the interpreter), then a
  // batch size that takes about TARGET_NS for msgpackr.
  for (const c of g.cases) for (let k = 0; k < 20_000; k++) sink.value = c.run();
  let n = 1, t = 0;
  while (t < TARGET_NS) {
    n *= 2;
    const t0 = performance.now();
    for (let k = 0; k < n; k++) sink.value = g.cases[0].run();
    t = (performance.now() - t0) * 1e6;
  }
  const times = g.cases.map(() => [] as number[]);
  for (let r = 0; r < ROUNDS + WARM_UP; r++) {
    g.cases.forEach((c, ci) => {
      const t0 = performance.now();
      for (let k = 0; k < n; k++) sink.value = c.run();
      if (r >= WARM_UP) times[ci].push((performance.now() - t0) * 1e6 / n);
    });
  }
  const base = median(times[0]);
  console.log(`${g.name} (${ROUNDS} rounds of ${n})`);
  g.cases.forEach((c, ci) => {
    const med = median(times[ci]), min = Math.min(...times[ci]);
    const ratio = ci === 0 ? "" : `  msgpackr/ours ${formatRatio(base / med)}`;
    console.log(
      `  ${c.name.padEnd(40)} median ${med.toFixed(0).padStart(6)} ns  min ${
        min.toFixed(0).padStart(6)
      } ns${ratio}`,
    );
  });
}
