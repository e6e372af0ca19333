/**
 * A clone attaching to a master that already holds `--n` entries (default
 * 300,000 count keys): the master sends its whole table in the handshake's
 * `ack_clone`, and the clone reads it. Both endpoints run on this thread,
 * peered over loopback TCP; a 1 ms interval timer measures the longest the
 * event loop was kept from it meanwhile.
 *
 * Prints how long until the clone held the last key, and the longest gap.
 *
 * @example
 * ```sh
 * deno run -A bench/store_attach.ts --n 300000
 * ```
 *
 * @module
 */
import { count, Endpoint } from "../mod.ts";
import { numberOption } from "./args.ts";

const N = numberOption("--n", 300_000, { min: 1 });

const a = new Endpoint(), b = new Endpoint();
try {
  const port = await a.listen("127.0.0.1", 0);
  const master = a.attachMaster("kv");
  for (let k = 0; k < N; k++) void master.put(count(BigInt(k)), count(1n));
  if (!await master.exists(count(BigInt(N - 1)))) throw new Error("the master lacks its last key");

  let last = performance.now(), longest = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
  }, 1);
  await new Promise((r) => setTimeout(r, 50));
  longest = 0;
  const t0 = performance.now();
  await b.peer("127.0.0.1", port, { retryMs: 0 });
  const clone = b.attachClone("kv");
  while (!await clone.exists(count(BigInt(N - 1)))) await new Promise((r) => setTimeout(r, 5));
  const ready = performance.now() - t0;
  clearInterval(timer);
  console.log(
    `a clone of ${N} entries held the last one after ${ready.toFixed(0)} ms; ` +
      `longest event-loop gap ${longest.toFixed(0)} ms`,
  );
} finally {
  await b.shutdown();
  await a.shutdown();
}
