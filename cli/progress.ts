/**
 * The progress bar of long-running commands (`broker replay`): messages,
 * megabytes, rate and ETA on one line, redrawn in place on a TTY.
 *
 * @module
 */

/** Where a run stands. */
export interface Progress {
  /** Messages done. */
  readonly done: number;
  /** Messages in all. */
  readonly total: number;
  /** Payload bytes done. */
  readonly bytes: number;
  /** Seconds since the start. */
  readonly seconds: number;
}

/**
 * One line: a bar, the percentage, messages, MB, rate and ETA.
 *
 * @example
 * ```ts
 * import { formatProgress } from "./progress.ts";
 * console.log(formatProgress({ done: 500, total: 1000, bytes: 2_100_000, seconds: 0.5 }, 10));
 * // [#####-----]  50% 500/1000 msgs  2.1 MB  1000 msgs/s  ETA 0.5 s
 * ```
 */
export function formatProgress(p: Progress, width = 24): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  const rate = p.seconds > 0 ? p.done / p.seconds : 0;
  const eta = rate > 0 ? (p.total - p.done) / rate : undefined;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ` +
    `${String(Math.floor(fraction * 100)).padStart(3)}% ` +
    `${p.done}/${p.total} msgs  ${(p.bytes / 1e6).toFixed(1)} MB  ${Math.round(rate)} msgs/s  ` +
    `ETA ${eta === undefined ? "?" : `${eta.toFixed(1)} s`}`;
}

/**
 * Redraws `formatProgress` on one terminal line at most every `intervalMs`
 * (a replay calls it per message), and ends the line on `finish`.
 *
 * @example
 * ```ts ignore
 * const bar = new ProgressBar((s) => Deno.stderr.writeSync(new TextEncoder().encode(s)));
 * bar.update({ done: 1, total: 10, bytes: 100, seconds: 0.01 });
 * bar.finish();
 * ```
 */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #intervalMs: number;
  #last = -Infinity;
  #latest?: Progress;

  /** A bar drawn through `write`, at most once per `intervalMs`. */
  constructor(write: (text: string) => void, intervalMs = 100) {
    this.#write = write;
    this.#intervalMs = intervalMs;
  }

  /** Records the state; draws it if the last drawing is old enough. */
  update(p: Progress): void {
    this.#latest = p;
    const now = performance.now();
    if (now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#write(`\r${formatProgress(p)}\x1b[K`);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (this.#latest) this.#write(`\r${formatProgress(this.#latest)}\x1b[K\n`);
  }
}
