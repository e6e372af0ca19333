/**
 * Helpers the soak's child scripts share: binding a fixed port that a killed
 * predecessor may still hold, and stopping exactly once.
 *
 * @module
 */

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Retries `bind` for up to 10 s while the port is still in use: a restarted
 * child reuses its predecessor's port so that peers re-dial the same place.
 */
export async function bindWithRetry<T>(bind: () => Promise<T>): Promise<T> {
  for (let attempt = 0;; attempt++) {
    try {
      return await bind();
    } catch (e) {
      // An endpoint's listen says it as a BrokerError caused by AddrInUse.
      const inUse = e instanceof Deno.errors.AddrInUse ||
        (e instanceof Error && e.cause instanceof Deno.errors.AddrInUse);
      if (!inUse || attempt >= 100) throw e;
      await sleep(100);
    }
  }
}

/**
 * Wires the ways a child ends to one `stop` that runs once: SIGTERM (the
 * chaos loop's graceful kill), the configured deadline (so no child outlives
 * the soak's time bound), and the end of stdin (the supervisor is gone).
 * `stop` should end with `Deno.exit`.
 */
export function stopOnce(deadline: number, stop: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  const once = () => running ??= stop();
  Deno.addSignalListener("SIGTERM", () => void once());
  setTimeout(() => void once(), Math.max(0, deadline - Date.now()));
  return once;
}
