/**
 * The store part of the start-up warm-up (`engine/warm_up.ts`): on the two
 * private endpoints the warm-up peers in memory, a master and a clone of a
 * private store exchange blind puts (and a few `putUnique`s) for ~150
 * milliseconds, so that the store path (command parse, the channel, the
 * byte table, the content log, the re-broadcast) is compiled before a
 * process's first real put. Nothing leaves the process; both stores are
 * closed before it resolves.
 *
 * Why: V8 interprets new code and compiles it only after it has run a
 * while, so without this a store's first tens of thousands of puts cost
 * more each than later ones (see `bench/store_compare.ts --warm-up`).
 *
 * @module
 */
import { count, type Data } from "../data/mod.ts";
import { storeTopics } from "./store_common.ts";

/** What the store warm-up needs of a store handle (a `Store`). */
export interface WarmUpStore {
  /** Blind write. */
  put(key: Data, value: Data): Promise<void>;
  /** Write unless the key exists; resolves with whether it was written. */
  putUnique(key: Data, value: Data): Promise<boolean>;
  /** Whether the key is in this copy. */
  exists(key: Data): Promise<boolean>;
  /** The peers this store talks to. */
  readonly peers: readonly unknown[];
  /** Lets the store go. */
  close(): void;
}

/** What the store warm-up needs of an endpoint (an `Endpoint`). */
export interface WarmUpStoreEndpoint {
  /** Attaches a master of `name`. */
  attachMaster(name: string): WarmUpStore;
  /** Attaches a clone of `name`. */
  attachClone(name: string): WarmUpStore;
  /** Resolves once a peer's filter matches `topic`. */
  awaitPeerSubscription(topic: string, timeoutMs?: number): Promise<void>;
}

/** How long the store warm-up runs. */
export interface StoreWarmUpOptions {
  /** Stop after this many puts (default `DEFAULT_STORE_WARM_UP_PUTS`). */
  puts?: number;
  /** Stop issuing puts once this many ms have passed (default `DEFAULT_STORE_WARM_UP_BUDGET_MS`). */
  budgetMs?: number;
}

/** Default bound on the store warm-up's puts. */
export const DEFAULT_STORE_WARM_UP_PUTS = 20_000;
/**
 * Default bound on the store warm-up's time, ms (attach and drain come on
 * top). Why 150: its first two batches take ~25 ms (interpreter and lazy
 * compilation), so 40 ms made ~2,000 puts, and a master then compiled its
 * per-put functions during its first real puts; 150 ms makes 13–18k, and
 * in `bench/store_compare.ts` (after the C++ rounds, our master's put
 * phase) it cut the master's CPU per put from 2.4–2.5 to 1.8–2.0 µs and
 * raised the put rate from 311–386k to 417–433k/s (three alternating runs
 * each). The cost: the first `listen` or `peer` after a process's first
 * store comes ~110 ms later (~0.15 s more CPU), once per process.
 */
export const DEFAULT_STORE_WARM_UP_BUDGET_MS = 150;

/** A store name no application uses: the endpoints are private anyway. */
const STORE = "/warm-up/store";
/** Puts in flight per batch, as a busy clone issues them. */
const BATCH = 250;
/** putUniques per batch, every eighth batch. */
const UNIQUE = 16;

/** Resolves once `f` holds, polling on the event loop; rejects after `ms`. */
async function until(f: () => Promise<boolean>, what: string, ms = 1000): Promise<void> {
  const t0 = performance.now();
  while (!(await f())) {
    if (performance.now() - t0 > ms) throw new Error(`store warm-up: ${what}`);
    await new Promise((r) => setTimeout(r, 0));
  }
}

/**
 * Runs store traffic between `a` (clone) and `b` (master), two endpoints
 * already peered (`warmUp`'s `then`). Resolves with the puts made.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "../endpoint.ts";
 * import { warmUp } from "../warm_up.ts";
 * import { warmUpStoreTraffic } from "./warm_up_store.ts";
 * const report = await warmUp((id) => new Endpoint({ id, warmUp: false }), {
 *   messages: 0,
 *   then: (a, b) => warmUpStoreTraffic(a, b, { puts: 500, budgetMs: 60_000 }),
 * });
 * equal(report.messages, 500);
 * ```
 */
export async function warmUpStoreTraffic(
  a: WarmUpStoreEndpoint,
  b: WarmUpStoreEndpoint,
  options: StoreWarmUpOptions = {},
): Promise<number> {
  const limit = options.puts ?? DEFAULT_STORE_WARM_UP_PUTS;
  const budgetMs = options.budgetMs ?? DEFAULT_STORE_WARM_UP_BUDGET_MS;
  const master = b.attachMaster(STORE);
  let clone: WarmUpStore | undefined;
  let done = 0;
  try {
    // A clone that asks before the master's topic reached it asks again only
    // at its next tick (100 ms): wait for the topic instead.
    await a.awaitPeerSubscription(storeTopics(STORE).master, 1000);
    clone = a.attachClone(STORE);
    const c = clone;
    await until(() => Promise.resolve(c.peers.length === 1), "the clone found no master");
    const t0 = performance.now();
    const one = count(1n);
    for (let batch = 0; done < limit && performance.now() - t0 < budgetMs; batch++) {
      const n = Math.min(BATCH, limit - done);
      for (let k = 0; k < n; k++, done++) void c.put(count(BigInt(done)), count(BigInt(done)));
      if ((batch & 7) === 7) {
        const us: Promise<boolean>[] = [];
        for (let k = 0; k < UNIQUE; k++) us.push(c.putUnique(count(BigInt(done - k - 1)), one));
        await Promise.all(us);
      }
      // Up to two batches in flight, as under load; the last one waited for:
      // the master applies and re-broadcasts each put, the clone applies it
      // (the path a real put takes end to end).
      if (done > 2 * BATCH) {
        const back = count(BigInt(done - 2 * BATCH - 1));
        await until(() => c.exists(back), "a put did not come back");
      } else await new Promise((r) => setTimeout(r, 0));
    }
    const last = count(BigInt(done - 1));
    if (done > 0) await until(() => c.exists(last), "a put did not come back");
  } finally {
    clone?.close();
    master.close();
  }
  return done;
}
