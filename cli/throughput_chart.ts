/**
 * Throughput-over-time charts as SVG text: one polyline per series (messages
 * per second in consecutive intervals of equal length), with axes, tick
 * labels, a title and a legend. Pure: no I/O, no DOM, so `broker bench
 * --chart` and the tests call it alike.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { throughputChartSvg } from "./throughput_chart.ts";
 * const svg = throughputChartSvg({
 *   title: "4 publishers → 1 subscriber",
 *   intervalMs: 100,
 *   series: [{ name: "total", values: [380_000, 410_000, 395_000] }],
 * });
 * equal(svg.startsWith("<svg"), true); // write it to a .svg file to view it
 * ```
 *
 * @module
 */

/** One line of the chart: messages per second in consecutive intervals. */
export interface ThroughputSeries {
  /** The legend label. */
  name: string;
  /** Messages per second in interval 0, 1, 2, ... (non-finite and negative values count as 0). */
  values: readonly number[];
  /**
   * A CSS colour.
   * @default the next one of a ten-colour palette
   */
  color?: string;
  /**
   * Line width in px.
   * @default 1.5
   */
  strokeWidth?: number;
}

/** What to draw. */
export interface ThroughputChartOptions {
  /** The workload, as the heading. */
  title: string;
  /** A smaller second heading line (message shape, counts, rate, ...). */
  subtitle?: string;
  /** The length of one interval, in milliseconds (the x axis is in seconds). */
  intervalMs: number;
  /** The lines to draw (a total, then one per subscriber, say). */
  series: readonly ThroughputSeries[];
  /**
   * Width of the whole picture in px.
   * @default 800
   */
  width?: number;
  /**
   * Its height in px.
   * @default 450
   */
  height?: number;
  /**
   * The y axis title.
   * @default "messages/s"
   */
  yLabel?: string;
}

// Tableau's ten colours: distinct enough for up to ten lines on white.
const PALETTE = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * Ticks from 0 to a "nice" top at or above `max`: steps of 1, 2, 2.5 or 5
 * times a power of ten, about `count` of them (between half and one and a
 * half times), picking the top closest to `max` so no axis is a fifth empty.
 * `max` ≤ 0 gives [0, 1].
 *
 * @example
 * ```ts
 * import { niceTicks } from "./throughput_chart.ts";
 * niceTicks(1000); // [0, 200, 400, 600, 800, 1000]
 * niceTicks(1234); // [0, 250, 500, 750, 1000, 1250]
 * ```
 */
export function niceTicks(max: number, count = 5): number[] {
  if (!(max > 0) || !Number.isFinite(max)) return [0, 1];
  const fewest = Math.max(1, Math.floor(count / 2)), most = Math.ceil(count * 1.5);
  const power = 10 ** Math.floor(Math.log10(max / count));
  let best = { step: 0, steps: 0, over: Infinity };
  for (const p of [power / 10, power, power * 10]) {
    for (const m of [1, 2, 2.5, 5]) {
      const step = m * p, steps = Math.ceil(max / step - 1e-9);
      if (steps < fewest || steps > most) continue;
      const over = steps * step - max, tie = Math.abs(over - best.over) <= max * 1e-9;
      // The tightest top wins; between equally tight ones, the tick count nearest `count`.
      if (
        (!tie && over < best.over) ||
        (tie && Math.abs(steps - count) < Math.abs(best.steps - count))
      ) best = { step, steps, over };
    }
  }
  if (best.steps === 0) return [0, max]; // unreachable for count ≥ 1; kept finite anyway
  // i * step rather than a running sum, and rounded, so 0.1-steps print as 0.3 and not 0.30000000000000004.
  return Array.from(
    { length: best.steps + 1 },
    (_, i) => Number((i * best.step).toPrecision(12)),
  );
}

/**
 * A tick label: 0, 250, 2.5k, 1.2M, 0.5 (up to three significant digits).
 *
 * @example
 * ```ts
 * import { formatTick } from "./throughput_chart.ts";
 * formatTick(1_250_000); // "1.25M"
 * ```
 */
export function formatTick(v: number): string {
  const short = (x: number) => String(Number(x.toPrecision(3)));
  if (Math.abs(v) >= 1e6) return `${short(v / 1e6)}M`;
  if (Math.abs(v) >= 1e3) return `${short(v / 1e3)}k`;
  return short(v);
}

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const f = (v: number) => String(Math.round(v * 10) / 10);

/**
 * The chart as a standalone SVG document. Each value is drawn at the middle
 * of its interval; the y axis runs from 0 to the nice tick at or above the
 * largest value, so the largest value lies on or below the top tick. A
 * series without values gets a legend entry but no line; no series at all
 * gives the axes and "no data".
 *
 * @example
 * ```ts
 * import { throughputChartSvg } from "./throughput_chart.ts";
 * const svg = throughputChartSvg({
 *   title: "1 publisher → 2 subscribers",
 *   intervalMs: 100,
 *   series: [
 *     { name: "total", values: [200_000, 210_000], color: "#222", strokeWidth: 2.5 },
 *     { name: "subscriber 1", values: [100_000, 105_000] },
 *     { name: "subscriber 2", values: [100_000, 105_000] },
 *   ],
 * });
 * ```
 */
export function throughputChartSvg(options: ThroughputChartOptions): string {
  const width = options.width ?? 800, height = options.height ?? 450;
  const legendWidth = 170;
  const left = 72, right = width - legendWidth, top = options.subtitle ? 64 : 48;
  const bottom = height - 48;
  const clean = options.series.map((s) => ({
    ...s,
    values: s.values.map((v) => Number.isFinite(v) && v > 0 ? v : 0),
  }));
  const intervals = Math.max(0, ...clean.map((s) => s.values.length));
  const intervalS = options.intervalMs / 1000;
  const yTicks = niceTicks(Math.max(0, ...clean.flatMap((s) => s.values)));
  const xTicks = niceTicks(intervals * intervalS, 8);
  const yTop = yTicks[yTicks.length - 1], xEnd = xTicks[xTicks.length - 1];
  const xOf = (seconds: number) => left + (seconds / xEnd) * (right - left);
  const yOf = (v: number) => bottom - (v / yTop) * (bottom - top);

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" ` +
      `viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
  );
  out.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  out.push(
    `<text class="title" x="${f(width / 2)}" y="22" text-anchor="middle" font-size="15" ` +
      `font-weight="bold">${escapeXml(options.title)}</text>`,
  );
  if (options.subtitle) {
    out.push(
      `<text class="subtitle" x="${f(width / 2)}" y="42" text-anchor="middle" fill="#444">` +
        `${escapeXml(options.subtitle)}</text>`,
    );
  }
  for (const t of yTicks) {
    const y = f(yOf(t));
    out.push(
      `<line class="y-grid" x1="${left}" y1="${y}" x2="${right}" y2="${y}" stroke="#e4e4e4"/>`,
    );
    out.push(
      `<text class="y-tick" x="${left - 6}" y="${y}" dy="4" text-anchor="end">` +
        `${formatTick(t)}</text>`,
    );
  }
  for (const t of xTicks) {
    const x = f(xOf(t));
    out.push(
      `<line class="x-tick" x1="${x}" y1="${bottom}" x2="${x}" y2="${bottom + 5}" stroke="#333"/>`,
    );
    out.push(
      `<text class="x-tick" x="${x}" y="${bottom + 18}" text-anchor="middle">` +
        `${formatTick(t)}</text>`,
    );
  }
  out.push(
    `<path class="axes" d="M${left} ${top}V${bottom}H${right}" fill="none" stroke="#333"/>`,
  );
  out.push(
    `<text class="x-label" x="${f((left + right) / 2)}" y="${height - 10}" ` +
      `text-anchor="middle">time (s)</text>`,
  );
  out.push(
    `<text class="y-label" transform="translate(16 ${f((top + bottom) / 2)}) rotate(-90)" ` +
      `text-anchor="middle">${escapeXml(options.yLabel ?? "messages/s")}</text>`,
  );
  if (intervals === 0) {
    out.push(
      `<text class="no-data" x="${f((left + right) / 2)}" y="${f((top + bottom) / 2)}" ` +
        `text-anchor="middle" fill="#888">no data</text>`,
    );
  }
  clean.forEach((s, i) => {
    const color = escapeXml(s.color ?? PALETTE[i % PALETTE.length]);
    const stroke = s.strokeWidth ?? 1.5;
    if (s.values.length > 0) {
      const points = s.values.map((v, k) => `${f(xOf((k + 0.5) * intervalS))},${f(yOf(v))}`);
      out.push(
        `<polyline class="series" points="${points.join(" ")}" fill="none" ` +
          `stroke="${color}" stroke-width="${stroke}" stroke-linejoin="round"/>`,
      );
      // A line through one point draws nothing; a dot shows it.
      if (s.values.length === 1) {
        out.push(
          `<circle class="point" cx="${f(xOf(0.5 * intervalS))}" cy="${f(yOf(s.values[0]))}" ` +
            `r="3" fill="${color}"/>`,
        );
      }
    }
    const ly = top + 8 + i * 20;
    out.push(
      `<line class="legend" x1="${right + 16}" y1="${ly}" x2="${right + 40}" y2="${ly}" ` +
        `stroke="${color}" stroke-width="${stroke}"/>`,
    );
    out.push(
      `<text class="legend" x="${right + 46}" y="${ly}" dy="4">${escapeXml(s.name)}</text>`,
    );
  });
  out.push(`</svg>`);
  return out.join("\n") + "\n";
}
