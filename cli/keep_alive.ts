/**
 * Keeping the process up while a command waits on a subscriber.
 *
 * @module
 */

/**
 * Keeps the process running until the returned function is called. A
 * subscriber awaited holds no timer or socket of its own, so a node or
 * pipe with nothing to listen on and no peer up ended at once with Deno's
 * "Top-level await promise never resolved", where broker-node and
 * broker-pipe block (and go on retrying their peers).
 *
 * @example
 * ```ts
 * import { keepAlive } from "./keep_alive.ts";
 * const release = keepAlive();
 * try {
 *   await Promise.resolve(); // ... wait for messages
 * } finally {
 *   release();
 * }
 * ```
 */
export function keepAlive(): () => void {
  const timer = setInterval(() => {}, 0x7fffffff);
  return () => clearInterval(timer);
}
