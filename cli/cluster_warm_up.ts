/**
 * The cluster benchmark's start-up warm-up: before a node comes up, its
 * process runs the benchmark's own traffic (its generator files' events,
 * made and received as the run will make and receive them) between the two
 * private endpoints of the process's warm-up (`warmUpOnce` in
 * `engine/warm_up.ts`), peered in memory. No socket is opened and no byte
 * leaves the process; the values come from a seed of their own, so the run's
 * values are the same with or without it.
 *
 * Why: the engine's own warm-up sends small events, and a generator file's
 * are other shapes (mars.dat's: 4 KB, a table of 31 sets of strings). V8
 * compiled the generator, the reader of large frames and the decoder of
 * those values while the clock ran: example.zip's 10,000 messages with
 * `--decode --generate-in-clock --processes` ran at 21k msgs/s, 40,000 at
 * 28k. With this warm-up (150 ms), 14 alternating runs of 10,000 gave a
 * median of 25.5k against 24.0k without, the fastest 34k against 30k
 * (2026-12-05; runs on this 2-core machine spread by ±25%).
 *
 * @module
 */
import type { Endpoint } from "../mod.ts";
import { generateEncodedTransient } from "../engine/recording/generate_encoded.ts";
import { seededRandom, type Shape } from "../engine/recording/generator_file.ts";

/** How the run will send and receive, and how long to warm. */
export interface ClusterWarmUpOptions {
  /** Receivers build every value (as the run's `decode` option). */
  decode?: boolean;
  /** Stop sending once this many ms have passed. @default 150 */
  budgetMs?: number;
}

/** The topic of the warm-up's events (no real node's: the endpoints are private). */
const TOPIC = "/warm-up/cluster";
/** Events in flight at once: the run's sender publishes many before its receiver reads. */
const BATCH = 64;
/** Seed of the warm-up's values: not the run's (whose default is 1). */
const SEED = 0x5eed;

/**
 * Sends events of `shapes` from `a` to `b` (made as `--generate-in-clock`
 * makes them: straight into their encoding) for `budgetMs`, `BATCH` at a
 * time, and reads them at `b` as a receiver of the run does: built with
 * `decode`, else counted still encoded. Resolves with the events sent.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "../mod.ts";
 * import { warmUp } from "../engine/warm_up.ts";
 * import { Tag } from "../engine/data/types.ts";
 * import { warmUpClusterTraffic } from "./cluster_warm_up.ts";
 * const shape = { tag: Tag.set, size: 3, children: Array(3).fill({ tag: Tag.string, size: 4 }) };
 * const report = await warmUp((id) => new Endpoint({ id, warmUp: false }), {
 *   messages: 0,
 *   then: (a, b) => warmUpClusterTraffic(a, b, [shape], { decode: true, budgetMs: 5 }),
 * });
 * equal(report.messages > 0, true);
 * ```
 */
export async function warmUpClusterTraffic(
  a: Endpoint,
  b: Endpoint,
  shapes: readonly Shape[],
  options: ClusterWarmUpOptions = {},
): Promise<number> {
  if (shapes.length === 0) return 0;
  const budgetMs = options.budgetMs ?? 150;
  const decode = !!options.decode;
  const sub = b.subscribe(TOPIC, { queueSize: 4 * BATCH });
  const rnd = seededRandom(SEED);
  let sent = 0, got = 0;
  try {
    await a.awaitPeerSubscription(TOPIC, 1000);
    const t0 = performance.now();
    while (performance.now() - t0 < budgetMs) {
      for (let k = 0; k < BATCH; k++, sent++) {
        if (a.demand(TOPIC) <= 0) await a.ready(TOPIC);
        a.publishOwnEncoding(TOPIC, generateEncodedTransient(shapes[sent % shapes.length], rnd));
      }
      while (got < sent) {
        const m = decode ? await sub.get(1000) : await sub.getEncoded(1000);
        if (!m) throw new Error("warm-up: an event was lost");
        got += 1 + (decode ? sub.poll() : sub.pollEncoded()).length;
      }
    }
  } finally {
    sub.close();
  }
  return sent;
}
