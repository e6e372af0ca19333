/**
 * Helpers shared by the data store tests.
 *
 * @module
 */
import { Endpoint } from "../mod.ts";

/** Store tests leave timers to the stores' own close; do not sanitize them. */
export const opts = { sanitizeOps: false, sanitizeResources: false };

/** Short ticks, so the channel's heartbeats and nacks run quickly in tests. */
export const FAST = { tickIntervalMs: 20 };

/** Polls `pred` until it holds, failing after `ms`. */
export async function waitUntil(pred: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Two peered endpoints: `a` listens, `b` dials. */
export async function pair(): Promise<[Endpoint, Endpoint]> {
  const a = new Endpoint(), b = new Endpoint();
  const port = await a.listen("127.0.0.1", 0);
  await b.peer("127.0.0.1", port, { retryMs: 0 });
  return [a, b];
}

/**
 * `p`'s value, or `"unsettled"` when it has not settled after `ms`: a guard
 * for a wait that must end on an event, not on a timer of the store's.
 */
export async function settledWithin<T>(p: Promise<T>, ms: number): Promise<T | "unsettled"> {
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<"unsettled">((r) => guard = setTimeout(() => r("unsettled"), ms)),
    ]);
  } finally {
    clearTimeout(guard);
  }
}
