/**
 * What reading a whole SQLite store costs: `keys()` and `snapshot()` (what a
 * master sends a clone that attaches) of a `SqliteBackend` holding `--n`
 * string → count entries (default 200,000), each read in a fresh process
 * (`--runs` of each, default 2), with its time and how much the process's
 * resident memory grew (`VmRSS` before and after, and the peak, `VmHWM`).
 *
 * @example
 * ```sh
 * deno run -A bench/sqlite_reads.ts --n 200000 --runs 2
 * ```
 *
 * @module
 */
import { count, SqliteBackend, str } from "../mod.ts";
import { numberOption, stringOption } from "./args.ts";
import { statusBytes } from "./proc_stat.ts";

const N = numberOption("--n", 200_000, { min: 1 });
const RUNS = numberOption("--runs", 2, { min: 1 });
/** Internal: `--read keys|snapshot --path P` reads once and prints one JSON line. */
const READ = stringOption("--read", "");

/** `VmRSS` and `VmHWM` of this process, MiB. */
function memory(): { rss: number; peak: number } {
  const status = Deno.readTextFileSync("/proc/self/status");
  return {
    rss: statusBytes(status, "VmRSS")! / 1048576,
    peak: statusBytes(status, "VmHWM")! / 1048576,
  };
}

if (READ !== "") {
  if (READ !== "keys" && READ !== "snapshot") {
    throw new RangeError(`--read: keys or snapshot, not ${READ}`);
  }
  const b = new SqliteBackend({ path: stringOption("--path", "") });
  const before = memory();
  const t0 = performance.now();
  const rows = READ === "keys" ? b.keys().length : b.snapshot().length;
  const ms = performance.now() - t0;
  const after = memory();
  b.close();
  console.log(JSON.stringify({ rows, ms, before: before.rss, after: after.rss, peak: after.peak }));
} else {
  const dir = Deno.makeTempDirSync({ prefix: "sqlite-reads-" });
  const path = `${dir}/store.sqlite`;
  try {
    const fill = new SqliteBackend({ path });
    for (let i = 0; i < N; i++) fill.put(str(`key-${i}`), count(BigInt(i)));
    fill.close();
    const size = Deno.statSync(path).size / 1048576;
    console.log(
      `sqlite reads: ${N.toLocaleString("en-US")} entries, a ${size.toFixed(1)} MiB file`,
    );
    console.log("| read | run | rows | ms | RSS before → after, MiB | peak, MiB |");
    console.log("| --- | ---: | ---: | ---: | ---: | ---: |");
    for (let run = 1; run <= RUNS; run++) {
      for (const read of ["keys", "snapshot"]) {
        const out = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", import.meta.filename!, "--read", read, "--path", path],
          stderr: "inherit",
        }).outputSync();
        if (!out.success) throw new Error(`bench: the ${read} reader failed`);
        const r = JSON.parse(new TextDecoder().decode(out.stdout));
        console.log(
          `| ${read} | ${run} | ${r.rows} | ${r.ms.toFixed(0)} | ` +
            `${r.before.toFixed(1)} → ${r.after.toFixed(1)} | ${r.peak.toFixed(1)} |`,
        );
      }
    }
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
}
