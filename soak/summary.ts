/**
 * The soak's one summary: faults injected by kind, messages moved, and each
 * invariant held or violated with its details; as a text table or as JSON.
 *
 * @module
 */
import type { InvariantResult } from "./invariants.ts";

/** Everything the summary shows. */
export interface SoakReport {
  /** Minutes asked for. */
  minutes: number;
  /** The chaos loop's seed. */
  seed: number;
  /** Wall time of the whole run, ms. */
  elapsedMs: number;
  /** Whether the run was cut short (Ctrl-C, watchdog). */
  interrupted?: string;
  /** Faults injected, by kind. */
  faults: Record<string, number>;
  /** Traffic figures, by name. */
  traffic: Record<string, number>;
  /** Verdicts. */
  invariants: InvariantResult[];
  /** Per process: kind, starts, highest RSS. */
  processes: { name: string; kind: string; starts: number; maxRssMb: number; boundMb: number }[];
}

/** Whether every invariant held (and the run was not interrupted). */
export function passed(r: SoakReport): boolean {
  return !r.interrupted && r.invariants.every((i) => i.held);
}

/** The report as JSON text (with `passed`). */
export function renderJson(r: SoakReport): string {
  return JSON.stringify({ ...r, passed: passed(r) }, null, 2);
}

const fmt = (n: number) => n.toLocaleString("en-US");

/**
 * The report as one table: section, item, value, details.
 *
 * @example
 * ```ts
 * import { match } from "node:assert/strict";
 * import { renderTable } from "./summary.ts";
 * const table = renderTable({
 *   minutes: 1, seed: 7, elapsedMs: 61_000, faults: { "SIGKILL node": 2 },
 *   traffic: { "ticks published": 100 }, processes: [],
 *   invariants: [{ name: "RSS under bound", held: true, details: ["n1 60/512 MiB"] }],
 * });
 * match(table, /^soak: 1 min, seed 7, 0 processes, 61 s\n/);
 * match(table, /\| invariant \| RSS under bound \|  held \| n1 60\/512 MiB\n/);
 * match(table, /PASS: every invariant held$/);
 * ```
 */
export function renderTable(r: SoakReport): string {
  const rows: [string, string, string, string][] = [];
  for (const [k, v] of Object.entries(r.faults)) rows.push(["fault", k, fmt(v), ""]);
  for (const [k, v] of Object.entries(r.traffic)) rows.push(["traffic", k, fmt(v), ""]);
  for (const inv of r.invariants) {
    const [first = "", ...rest] = inv.details;
    rows.push(["invariant", inv.name, inv.held ? "held" : "VIOLATED", first]);
    for (const d of rest) rows.push(["", "", "", d]);
  }
  const head: [string, string, string, string] = ["section", "item", "value", "details"];
  const width = [0, 1, 2].map((i) => Math.max(head[i].length, ...rows.map((row) => row[i].length)));
  const line = (c: [string, string, string, string]) =>
    `| ${c[0].padEnd(width[0])} | ${c[1].padEnd(width[1])} | ${c[2].padStart(width[2])} | ${c[3]}`;
  const rule = `|-${"-".repeat(width[0])}-|-${"-".repeat(width[1])}-|-${"-".repeat(width[2])}-|-`;
  const title = `soak: ${r.minutes} min, seed ${r.seed}, ${r.processes.length} processes, ` +
    `${(r.elapsedMs / 1000).toFixed(0)} s` +
    (r.interrupted ? `, INTERRUPTED (${r.interrupted})` : "");
  const verdict = passed(r)
    ? "PASS: every invariant held"
    : `FAIL: ${r.invariants.filter((i) => !i.held).length} invariant(s) violated` +
      (r.interrupted ? " or run interrupted" : "");
  return [title, line(head), rule, ...rows.map(line), verdict].join("\n");
}
