/**
 * A registry of metrics and their Prometheus text form, sans I/O: counter,
 * gauge and histogram families, each either a plain object whose number is
 * changed in place (`Counter.value++`) or a collect function that reads
 * numbers someone else keeps (the endpoint's rooms keep plain integer
 * fields; the registry reads them only when scraped, so counting costs an
 * increment and nothing more).
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 * const reg = new MetricsRegistry();
 * const data = reg.counter("broker_processed_messages_total", "Total number of processed messages.", { type: "data" });
 * data.value += 3;
 * const text = reg.render();
 * if (!text.includes('broker_processed_messages_total{type="data"} 3')) throw new Error(text);
 * ```
 *
 * @module
 */

import { Histogram, type HistogramValue } from "../histogram.ts";

/** Prometheus' metric types this registry has. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names to values. */
export type MetricLabels = Readonly<Record<string, string>>;

/** One labelled value of a family. */
export interface MetricSample {
  /** Its labels. */
  readonly labels: MetricLabels;
  /** A number for counters and gauges, buckets for histograms. */
  readonly value: number | HistogramValue;
}

/** A family and its samples at one moment. */
export interface MetricFamilySnapshot {
  /** Prometheus name, e.g. `broker_processed_messages_total`. */
  readonly name: string;
  /** One line of help. */
  readonly help: string;
  /** Its type. */
  readonly type: MetricType;
  /** Its samples. */
  readonly samples: readonly MetricSample[];
}

/** A counter: only grows. Increment `value` in place. */
export class Counter {
  /** The count. */
  value = 0;
}

/** A gauge: goes up and down. Set or change `value` in place. */
export class Gauge {
  /** The value. */
  value = 0;
}

interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
  readonly sources: (() => readonly MetricSample[])[];
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** Families of metrics, rendered on demand. */
export class MetricsRegistry {
  readonly #families = new Map<string, Family>();

  /**
   * Adds a source of samples to family `name` (created on first use; a
   * second use must agree on the type). `collect` runs at every scrape.
   * Returns a function that removes this source (a family left without
   * sources disappears from scrapes), for owners that close before the
   * endpoint does.
   */
  add(
    name: string,
    help: string,
    type: MetricType,
    collect: () => readonly MetricSample[],
  ): () => void {
    if (!NAME_RE.test(name)) throw new Error(`bad metric name: ${name}`);
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, f = { name, help, type, sources: [] });
    else if (f.type !== type) throw new Error(`metric ${name} is a ${f.type}, not a ${type}`);
    const family = f;
    family.sources.push(collect);
    return () => {
      const i = family.sources.indexOf(collect);
      if (i >= 0) family.sources.splice(i, 1);
      if (family.sources.length === 0 && this.#families.get(name) === family) {
        this.#families.delete(name);
      }
    };
  }

  /** A counter in family `name` with these labels. */
  counter(name: string, help: string, labels: MetricLabels = {}): Counter {
    const c = new Counter();
    this.add(name, help, "counter", () => [{ labels, value: c.value }]);
    return c;
  }

  /** A gauge in family `name` with these labels. */
  gauge(name: string, help: string, labels: MetricLabels = {}): Gauge {
    const g = new Gauge();
    this.add(name, help, "gauge", () => [{ labels, value: g.value }]);
    return g;
  }

  /** A histogram in family `name` with these bucket bounds and labels. */
  histogram(
    name: string,
    help: string,
    bounds: readonly number[],
    labels: MetricLabels = {},
  ): Histogram {
    const h = new Histogram(bounds);
    this.add(name, help, "histogram", () => [{ labels, value: h }]);
    return h;
  }

  /** The families' names, in registration order. */
  get names(): string[] {
    return [...this.#families.keys()];
  }

  /** Every family with its samples now (families whose sources give none are left out). */
  collect(): MetricFamilySnapshot[] {
    const out: MetricFamilySnapshot[] = [];
    for (const f of this.#families.values()) {
      const samples: MetricSample[] = [];
      for (const s of f.sources) samples.push(...s());
      if (samples.length > 0) out.push({ name: f.name, help: f.help, type: f.type, samples });
    }
    return out;
  }

  /** The Prometheus text form of `collect()`, with `extra` families merged in. */
  render(extra: readonly MetricFamilySnapshot[] = []): string {
    return renderPrometheus(mergeFamilies(this.collect(), extra));
  }
}

/**
 * Joins family lists: samples of families with the same name go together
 * (the first list's help and type win; samples of another type are left out).
 */
export function mergeFamilies(
  ...lists: readonly (readonly MetricFamilySnapshot[])[]
): MetricFamilySnapshot[] {
  const byName = new Map<string, { f: MetricFamilySnapshot; samples: MetricSample[] }>();
  for (const list of lists) {
    for (const f of list) {
      const have = byName.get(f.name);
      if (!have) byName.set(f.name, { f, samples: [...f.samples] });
      else if (have.f.type === f.type) have.samples.push(...f.samples);
    }
  }
  return [...byName.values()].map(({ f, samples }) => ({ ...f, samples }));
}

/** Prometheus' text exposition format (version 0.0.4) of these families. */
export function renderPrometheus(families: readonly MetricFamilySnapshot[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      if (typeof s.value === "number") {
        out += `${f.name}${renderLabels(s.labels)} ${formatNumber(s.value)}\n`;
        continue;
      }
      const h = s.value;
      let cumulative = 0;
      for (let i = 0; i <= h.bounds.length; i++) {
        cumulative += h.counts[i] ?? 0;
        const le = i < h.bounds.length ? formatNumber(h.bounds[i]) : "+Inf";
        out += `${f.name}_bucket${renderLabels({ ...s.labels, le })} ${cumulative}\n`;
      }
      out += `${f.name}_sum${renderLabels(s.labels)} ${formatNumber(h.sum)}\n`;
      out += `${f.name}_count${renderLabels(s.labels)} ${cumulative}\n`;
    }
  }
  return out;
}

/** The content type of `renderPrometheus`' output. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function renderLabels(labels: MetricLabels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return "";
  return `{${keys.map((k) => `${k}="${escapeLabel(labels[k])}"`).join(",")}}`;
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

/**
 * Parses Prometheus' text format into `name{labels}` → value (histogram
 * lines under their own `_bucket`/`_sum`/`_count` names): enough to compare
 * scrapes in tests and to read a node's numbers in `broker top`.
 *
 * @example
 * ```ts
 * import { parsePrometheus } from "./registry.ts";
 * const m = parsePrometheus('# HELP x y\nx{type="data"} 3\n');
 * if (m.get('x{type="data"}') !== 3) throw new Error("parsed");
 * ```
 */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const v = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    out.set(`${m[1]}${m[2] ?? ""}`, v);
  }
  return out;
}
