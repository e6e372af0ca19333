/**
 * The progress bar of long-running commands (`broker replay`): messages,
 * megabytes, rate and ETA on one line, redrawn in place on a TTY. The line
 * always fits the terminal: the bar shrinks, then the figures are cut at
 * the edge, because a line that wraps cannot be redrawn in place.
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
 * import { equal } from "node:assert/strict";
 * import { formatProgress } from "./progress.ts";
 * equal(
 *   formatProgress({ done: 500, total: 1000, bytes: 2_100_000, seconds: 0.5 }, 10),
 *   "[#####-----]  50% 500/1000 msgs  2.1 MB  1000 msgs/s  ETA 0.5 s",
 * );
 * ```
 */
export function formatProgress(p: Progress, width = 24): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const filled = Math.round(fraction * width);
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${progressFields(p).join("  ")}`;
}

/** The figures of a progress line: percentage and messages, MB, rate, ETA. */
function progressFields(p: Progress): string[] {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const rate = p.seconds > 0 ? p.done / p.seconds : 0;
  const eta = rate > 0 ? (p.total - p.done) / rate : undefined;
  return [
    `${String(Math.floor(fraction * 100)).padStart(3)}% ${p.done}/${p.total} msgs`,
    `${(p.bytes / 1e6).toFixed(1)} MB`,
    `${Math.round(rate)} msgs/s`,
    `ETA ${eta === undefined ? "?" : `${eta.toFixed(1)} s`}`,
  ];
}

/**
 * `formatProgress` cut to fit `columns`: a shorter bar, then no bar, then
 * the figures cut at the edge; never longer than `columns - 1` characters
 * (a character in the last column makes some terminals wrap).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { fitProgress } from "./progress.ts";
 * equal(fitProgress({ done: 5, total: 10, bytes: 0, seconds: 1 }, 30), "50% 5/10 msgs  0.0 MB");
 * ```
 */
export function fitProgress(p: Progress, columns: number): string {
  const max = Math.max(1, Math.floor(columns) - 1);
  const full = formatProgress(p);
  if (full.length <= max) return full;
  // A narrower bar, down to 5 cells; then no bar and fewer figures (the ETA
  // goes first, the percentage last); then the percentage cut at the edge.
  const fields = progressFields(p);
  const figures = fields.join("  ");
  const bar = max - figures.length - 3;
  if (bar >= 5) return formatProgress(p, bar);
  for (let n = fields.length; n > 0; n--) {
    const text = fields.slice(0, n).join("  ").trimStart();
    if (text.length <= max) return text;
  }
  return fields[0].trimStart().slice(0, max);
}

/** The terminal's width, or 80 when there is no terminal to ask. */
export function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/**
 * Redraws `fitProgress` on one terminal line at most every `intervalMs`
 * (a replay calls it per message), and ends the line on `finish`.
 *
 * @example
 * ```ts
 * import { match } from "node:assert/strict";
 * import { ProgressBar } from "./progress.ts";
 * let screen = "";
 * const bar = new ProgressBar((s) => screen += s); // a terminal: Deno.stderr.writeSync
 * bar.update({ done: 1, total: 10, bytes: 100, seconds: 0.01 });
 * bar.finish();
 * match(screen, /10% 1\/10 msgs/);
 * match(screen, /\n$/); // finish ends the line
 * ```
 */
export class ProgressBar {
  readonly #write: (text: string) => void;
  readonly #intervalMs: number;
  readonly #columns: () => number;
  #last = -Infinity;
  #latest?: Progress;

  /**
   * A bar drawn through `write`, at most once per `intervalMs`, fitted to
   * `columns()` (the terminal's width, asked at each drawing: it may change).
   */
  constructor(
    write: (text: string) => void,
    intervalMs = 100,
    columns: () => number = terminalColumns,
  ) {
    this.#write = write;
    this.#intervalMs = intervalMs;
    this.#columns = columns;
  }

  /** Records the state; draws it if the last drawing is old enough. */
  update(p: Progress): void {
    this.#latest = p;
    const now = performance.now();
    if (now - this.#last < this.#intervalMs) return;
    this.#last = now;
    this.#write(`\r${fitProgress(p, this.#columns())}\x1b[K`);
  }

  /** Draws the final state and ends the line. */
  finish(): void {
    if (this.#latest) this.#write(`\r${fitProgress(this.#latest, this.#columns())}\x1b[K\n`);
  }
}
