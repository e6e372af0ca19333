/**
 * The pauses a large in-memory store makes, one put at a time on this
 * thread, each timed: `--n` new count keys (default 2,000,000), which
 * grows the table's index many times, then every key again with a value of
 * another length, which leaves its old record dead and so starts
 * compactions. A master's event loop waits for each put, so its longest
 * put is the longest its peers and clones wait for anything.
 *
 * Prints, per phase, the time per put, the longest put and where it came,
 * and the puts that took over 1 ms.
 *
 * @example
 * ```sh
 * deno run -A bench/store_growth.ts --n 2000000
 * ```
 *
 * @module
 */
import { count, type Data, MemoryBackend, str } from "../mod.ts";
import { numberOption } from "./args.ts";

const N = numberOption("--n", 2_000_000, { min: 1 });

const backend = new MemoryBackend();

/** Puts every key with `value`, timing each; prints the phase's line. */
function phase(name: string, value: Data): void {
  const slow: string[] = [];
  let longest = 0, longestAt = 0;
  const t0 = performance.now();
  for (let k = 0; k < N; k++) {
    const key = count(BigInt(k));
    const s = performance.now();
    backend.put(key, value);
    const d = performance.now() - s;
    if (d > longest) [longest, longestAt] = [d, k];
    if (d > 1) slow.push(`${k}: ${d.toFixed(1)}`);
  }
  const total = performance.now() - t0;
  console.log(
    `${name}: ${N} puts in ${total.toFixed(0)} ms (${
      (total * 1000 / N).toFixed(2)
    } µs each, timing included); longest ${longest.toFixed(1)} ms at put ${longestAt}; ` +
      `over 1 ms: ${slow.length}${slow.length ? ` (put: ms) ${slow.join(", ")}` : ""}`,
  );
}

phase("new keys", count(1n));
phase("other-length values", str("xx"));
