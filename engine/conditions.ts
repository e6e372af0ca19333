/**
 * Waiting for a state: promises that resolve once a condition over a live
 * view holds (a cluster node's or group's view, a warm-up's counts),
 * re-checked whenever the view changes, and reject with `request_timeout`
 * (or the code given) when it does not in time.
 *
 * @example
 * ```ts
 * import { Conditions } from "./conditions.ts";
 * let up = 0;
 * const conditions = new Conditions();
 * const twoUp = conditions.until(() => up >= 2, 1000, () => "2 nodes not up");
 * up = 2;
 * conditions.changed();
 * await twoUp;
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "./errors.ts";
import { timerDelay } from "./timer_delay.ts";

/** The conditions someone waits for, re-checked on every change. */
export class Conditions {
  readonly #waiters = new Set<() => void>();

  /**
   * Resolves once `done()` holds (checked now and on every `changed()`);
   * rejects with `code` (`request_timeout` unless given) and `failure()`'s
   * text after `timeoutMs`.
   */
  until(
    done: () => boolean,
    timeoutMs: number,
    failure: () => string,
    code: ErrorCode = ErrorCode.request_timeout,
  ): Promise<void> {
    if (done()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.#waiters.delete(check);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new BrokerError(code, failure()));
      }, timerDelay(timeoutMs));
      this.#waiters.add(check);
    });
  }

  /** The view changed: every waiting condition is checked again. */
  changed(): void {
    for (const w of [...this.#waiters]) w();
  }
}
