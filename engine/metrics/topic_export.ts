/**
 * Metrics over Broker topics, in the data layout of Broker's exporter
 * (`metric_scraper` and `metric_collector` in zeek/broker before 2024's
 * prometheus-cpp switch), sans I/O.
 *
 * One export is one data message: a vector of rows. The first row is the
 * meta data, `[endpoint-name: string, scraped-at: timestamp]`; each further
 * row is one labelled metric,
 *
 * ```
 * [prefix: string, name: string, type: string, unit: string,
 *  help: string, is-sum: bool, labels: table<string, string>, value]
 * ```
 *
 * with CAF's naming (`broker`, `processed-messages`, unit `1`, is-sum for
 * counters: Prometheus' `broker_processed_messages_total`), `type` one of
 * `counter`, `gauge`, `histogram`, and `value` an `integer` (or a `real`
 * when not whole) for counters and gauges, and for histograms a vector of
 * `[upper-bound, count]` buckets (per bucket, not cumulative; the last
 * bound is +inf) followed by the sum. The endpoint name defaults to what
 * follows the export topic's last `/` (`/zeek/metrics/worker-1` →
 * `worker-1`, `/zeek/metrics/` → empty), as Broker's.
 *
 * A collector keeps the newest export of every endpoint (older timestamps
 * are ignored) and serves them with an `endpoint` label.
 *
 * @example
 * ```ts
 * import { exportRows, MetricsCollector } from "./topic_export.ts";
 * const rows = exportRows("n1", 1n, [
 *   { name: "broker_connections", help: "h", type: "gauge", samples: [{ labels: { type: "native" }, value: 2 }] },
 * ]);
 * const c = new MetricsCollector();
 * c.update(rows);
 * const f = c.families()[0];
 * if (f.samples[0].labels.endpoint !== "n1" || f.samples[0].value !== 2) throw new Error("imported");
 * ```
 *
 * @module
 */
import { bool, integer, real, str, table, timestamp, vector } from "../data/constructors.ts";
import type { Data } from "../data/types.ts";
import type { HistogramValue } from "../histogram.ts";
import type { MetricFamilySnapshot, MetricLabels, MetricSample, MetricType } from "./registry.ts";

/** CAF's parts of a Prometheus name. */
export interface CafMetricName {
  /** `broker`. */
  readonly prefix: string;
  /** `processed-messages`. */
  readonly name: string;
  /** `1` unless a unit ends the name (`seconds`, `bytes`). */
  readonly unit: string;
  /** Whether it is a counter (`_total`). */
  readonly isSum: boolean;
}

const UNITS = ["seconds", "bytes"];

/** Splits a Prometheus name as CAF builds it: prefix, dashed name, unit, `_total`. */
export function cafName(promName: string, type: MetricType): CafMetricName {
  const cut = promName.indexOf("_");
  const prefix = cut < 0 ? promName : promName.slice(0, cut);
  let rest = cut < 0 ? "" : promName.slice(cut + 1);
  const isSum = type === "counter" && rest.endsWith("_total");
  if (isSum) rest = rest.slice(0, -"_total".length);
  let unit = "1";
  for (const u of UNITS) {
    if (rest.endsWith(`_${u}`)) {
      unit = u;
      rest = rest.slice(0, -u.length - 1);
    }
  }
  return { prefix, name: rest.replace(/_/g, "-"), unit, isSum };
}

/** CAF's Prometheus collector writes `.` and `-` in prefixes, names and label names as `_`. */
function underscores(s: string): string {
  return s.replace(/[.-]/g, "_");
}

/** The Prometheus name of CAF's parts. */
export function promName(n: CafMetricName): string {
  const prefix = underscores(n.prefix);
  let s = n.name ? `${prefix}_${underscores(n.name)}` : prefix;
  if (n.unit && n.unit !== "1") s += `_${n.unit}`;
  if (n.isSum) s += "_total";
  return s;
}

function number(v: number): Data {
  return Number.isInteger(v) && Number.isSafeInteger(v) ? integer(v) : real(v);
}

function histogramData(h: HistogramValue): Data {
  const rows: Data[] = [];
  for (let i = 0; i <= h.bounds.length; i++) {
    rows.push(
      vector(real(i < h.bounds.length ? h.bounds[i] : Infinity), integer(h.counts[i] ?? 0)),
    );
  }
  rows.push(real(h.sum));
  return vector(...rows);
}

/**
 * One export: the meta row `[endpointName, scrapedAtNs]` and a row per
 * sample of the families whose CAF prefix is in `prefixes` (all when empty).
 */
export function exportRows(
  endpointName: string,
  scrapedAtNs: bigint,
  families: readonly MetricFamilySnapshot[],
  prefixes: readonly string[] = [],
): Data {
  const rows: Data[] = [vector(str(endpointName), timestamp(scrapedAtNs))];
  for (const f of families) {
    const n = cafName(f.name, f.type);
    if (prefixes.length > 0 && !prefixes.includes(n.prefix)) continue;
    for (const s of f.samples) {
      rows.push(vector(
        str(n.prefix),
        str(n.name),
        str(f.type),
        str(n.unit),
        str(f.help),
        bool(n.isSum),
        table(Object.entries(s.labels).map(([k, v]) => [str(k), str(v)] as const)),
        typeof s.value === "number" ? number(s.value) : histogramData(s.value),
      ));
    }
  }
  return vector(...rows);
}

/** An export read back: its endpoint, time and families. */
export interface ImportedMetrics {
  /** The exporting endpoint's name. */
  readonly endpoint: string;
  /** When it scraped, ns since the epoch. */
  readonly time: bigint;
  /** Its families (labels as sent). */
  readonly families: MetricFamilySnapshot[];
}

function num(d: Data | undefined): number | undefined {
  if (!d) return undefined;
  if (d.type === "integer" || d.type === "count") return Number(d.value);
  if (d.type === "real") return d.value;
  return undefined;
}

function parseHistogram(d: Data): HistogramValue | undefined {
  if (d.type !== "vector" || d.value.length < 2) return undefined;
  const bounds: number[] = [], counts: number[] = [];
  const items = d.value;
  for (let i = 0; i < items.length - 1; i++) {
    const b = items[i];
    if (b.type !== "vector" || b.value.length !== 2) return undefined;
    const ub = num(b.value[0]), c = num(b.value[1]);
    if (ub === undefined || c === undefined) return undefined;
    if (i < items.length - 2) bounds.push(ub);
    counts.push(c);
  }
  const sum = num(items[items.length - 1]);
  return sum === undefined ? undefined : { bounds, counts, sum };
}

/** Prometheus' metric and label names (its text format has no quoting for them). */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Reads one export (Broker's layout); undefined when it is not one. Names
 * and label names are written as CAF's collector writes them (`.` and `-`
 * as `_`); rows whose names Prometheus still could not read are left out.
 */
export function parseExport(d: Data): ImportedMetrics | undefined {
  if (d.type !== "vector" || d.value.length < 1) return undefined;
  const meta = d.value[0];
  if (
    meta.type !== "vector" || meta.value.length !== 2 || meta.value[0].type !== "string" ||
    meta.value[1].type !== "timestamp"
  ) return undefined;
  const byName = new Map<string, { f: MetricFamilySnapshot; samples: MetricSample[] }>();
  for (const row of d.value.slice(1)) {
    if (row.type !== "vector" || row.value.length !== 8) continue;
    const [prefix, name, type, unit, help, isSum, labels, value] = row.value;
    if (
      prefix.type !== "string" || name.type !== "string" || type.type !== "string" ||
      unit.type !== "string" || help.type !== "string" || isSum.type !== "boolean" ||
      labels.type !== "table"
    ) continue;
    const t = type.value;
    if (t !== "counter" && t !== "gauge" && t !== "histogram") continue;
    const v = t === "histogram" ? parseHistogram(value) : num(value);
    if (v === undefined) continue;
    const l: Record<string, string> = {};
    let readable = true;
    for (const [k, x] of labels.value) {
      // Broker's collector refuses a row with a label that is not a string.
      if (k.type !== "string" || x.type !== "string") readable = false;
      else {
        const key = underscores(k.value);
        // `le` is the histogram's own label (a second one makes the line unreadable).
        if (!LABEL_NAME.test(key) || (key === "le" && t === "histogram")) readable = false;
        l[key] = x.value;
      }
    }
    const full = promName({
      prefix: prefix.value,
      name: name.value,
      unit: unit.value,
      isSum: isSum.value,
    });
    // A name or label name Prometheus cannot read (a space, a newline, a
    // quote) would make the whole scrape fail, ours included: such a row of
    // a remote endpoint is left out.
    if (!readable || !METRIC_NAME.test(full)) continue;
    let have = byName.get(full);
    if (!have) {
      have = { f: { name: full, help: help.value, type: t, samples: [] }, samples: [] };
      byName.set(full, have);
    }
    if (have.f.type === t) have.samples.push({ labels: l, value: v });
  }
  return {
    endpoint: meta.value[0].value,
    time: meta.value[1].value,
    families: [...byName.values()].map(({ f, samples }) => ({ ...f, samples })),
  };
}

/** The newest export of every endpoint heard from, served with an `endpoint` label. */
export class MetricsCollector {
  readonly #latest = new Map<string, ImportedMetrics>();

  /** Takes an export; false when it is not one or older than what we have. */
  update(d: Data): boolean {
    const m = parseExport(d);
    if (!m) return false;
    const have = this.#latest.get(m.endpoint);
    if (have && have.time > m.time) return false;
    this.#latest.set(m.endpoint, m);
    return true;
  }

  /** The endpoints heard from, by name, with the time of their newest export (ns). */
  endpoints(): Map<string, bigint> {
    return new Map([...this.#latest].map(([k, v]) => [k, v.time]));
  }

  /**
   * Every imported family, samples labelled with their `endpoint` (which
   * replaces an `endpoint` label of the export). One sample per label set:
   * a later row of the same series replaces the earlier, as Broker's
   * collector updates the series' one instance (twice the same series would
   * make Prometheus refuse the scrape).
   */
  families(): MetricFamilySnapshot[] {
    const byName = new Map<
      string,
      { f: MetricFamilySnapshot; samples: Map<string, MetricSample> }
    >();
    for (const [endpoint, m] of this.#latest) {
      for (const f of m.families) {
        let have = byName.get(f.name);
        if (!have) byName.set(f.name, have = { f, samples: new Map() });
        if (have.f.type !== f.type) continue;
        for (const s of f.samples) {
          const { endpoint: _theirs, ...rest } = s.labels;
          const labels: MetricLabels = { ...rest, endpoint };
          const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => a < b ? -1 : 1));
          have.samples.set(key, { labels, value: s.value });
        }
      }
    }
    return [...byName.values()].map(({ f, samples }) => ({ ...f, samples: [...samples.values()] }));
  }
}
