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
