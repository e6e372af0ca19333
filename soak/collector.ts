/**
 * What the supervisor learns from its children's output: the latest report
 * of every incarnation of every node, deliveries read from the text of the
 * subscribers that print them (our `broker node -v --print-data`, C++ `broker-pipe`), the
 * store writes the master acknowledged, and waiters for one-off answers
 * (`dump`, `quiesced`, `burst-sent`).
 *
 * @module
 */
import {
  type ChildEvent,
  type CloneStatsEvent,
  type NodeStatsEvent,
  parseEvent,
} from "./protocol.ts";
import { parseDeliveryLine, SeqTracker, type TrackerStats } from "./traffic.ts";

interface Waiter {
  name: string;
  pred: (ev: ChildEvent) => boolean;
  resolve: (ev: ChildEvent | undefined) => void;
}

/** Sums tracker reports (of several incarnations). */
export function sumStats(all: readonly TrackerStats[]): TrackerStats {
  const out: TrackerStats = { delivered: 0, duplicates: 0, gaps: 0, bursts: {}, dupSamples: [] };
  for (const s of all) {
    out.delivered += s.delivered;
    out.duplicates += s.duplicates;
    out.gaps += s.gaps;
    for (const [k, v] of Object.entries(s.bursts)) out.bursts[k] = (out.bursts[k] ?? 0) + v;
    for (const d of s.dupSamples) if (out.dupSamples.length < 5) out.dupSamples.push(d);
  }
  return out;
}

/**
 * Collects the children's reports.
 *
 * @example
 * ```ts ignore
 * const c = new Collector();
 * const spec = { ..., onLine: c.nodeLine("n1") };
 * const totals = c.subscriber("n1"); // delivered, duplicates, gaps over all incarnations
 * ```
 */
export class Collector {
  /** Latest `stats` per `name#inc` of our node children. */
  readonly #nodeStats = new Map<string, NodeStatsEvent>();
  /** Trackers per `name#inc` of text-printing subscribers. */
  readonly #textTrackers = new Map<string, SeqTracker>();
  /** Latest clone report per incarnation. */
  readonly #cloneStats = new Map<number, CloneStatsEvent>();
  readonly #waiters: Waiter[] = [];
  /** Store keys the master acknowledged to the clone. */
  readonly acked = new Set<string>();
  /** Each master start's key count, in order: `{ inc, size }`. */
  readonly masterStarts: { inc: number; size: number }[] = [];
  readonly #onDuplicate: (subscriber: string, what: string) => void;

  /** `onDuplicate` hears of each duplicate as it is found (for the progress log). */
  constructor(onDuplicate: (subscriber: string, what: string) => void = () => {}) {
    this.#onDuplicate = onDuplicate;
  }

  /** The stdout handler of a node child. */
  nodeLine(name: string): (line: string, inc: number) => void {
    return (line, inc) => {
      const ev = parseEvent(line);
      if (!ev) return;
      if (ev.ev === "stats") {
        const before = this.#nodeStats.get(`${name}#${inc}`)?.tracker.duplicates ?? 0;
        if (ev.tracker.duplicates > before) {
          this.#onDuplicate(
            name,
            `${ev.tracker.duplicates - before} more (${ev.tracker.dupSamples.join(", ")})`,
          );
        }
        this.#nodeStats.set(`${name}#${inc}`, ev);
      }
      this.#dispatch(name, ev);
    };
  }

  /** The stdout handler of a subscriber that prints `data(topic, value)` lines. */
  textSubscriberLine(name: string): (line: string, inc: number) => void {
    return (line, inc) => {
      const d = parseDeliveryLine(line);
      if (!d) return;
      const key = `${name}#${inc}`;
      let t = this.#textTrackers.get(key);
      if (!t) this.#textTrackers.set(key, t = new SeqTracker());
      if (!t.record(d)) this.#onDuplicate(name, line);
    };
  }

  /** The stdout handler of a store child. */
  storeLine(name: string): (line: string, inc: number) => void {
    return (line, inc) => {
      const ev = parseEvent(line);
      if (!ev) return;
      if (ev.ev === "acked") { for (const k of ev.keys) this.acked.add(k); }
      else if (ev.ev === "clone-stats") this.#cloneStats.set(inc, ev);
      else if (ev.ev === "ready" && ev.size !== undefined) {
        this.masterStarts.push({ inc, size: ev.size });
      }
      this.#dispatch(name, ev);
    };
  }

  /** The next event of `name` that satisfies `pred`, or undefined after `timeoutMs`. */
  waitFor(
    name: string,
    pred: (ev: ChildEvent) => boolean,
    timeoutMs: number,
  ): Promise<ChildEvent | undefined> {
    return new Promise((resolve) => {
      const w: Waiter = {
        name,
        pred,
        resolve: (ev) => {
          clearTimeout(timer);
          const i = this.#waiters.indexOf(w);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(ev);
        },
      };
      const timer = setTimeout(() => w.resolve(undefined), timeoutMs);
      this.#waiters.push(w);
    });
  }

  /** Deliveries counted by subscriber `name`, summed over its incarnations. */
  subscriber(name: string): TrackerStats {
    const all: TrackerStats[] = [];
    for (const [k, s] of this.#nodeStats) if (k.startsWith(`${name}#`)) all.push(s.tracker);
    for (const [k, t] of this.#textTrackers) if (k.startsWith(`${name}#`)) all.push(t.stats());
    return sumStats(all);
  }

  /** The latest report of the current incarnation of node `name`. */
  latest(name: string, inc: number): NodeStatsEvent | undefined {
    return this.#nodeStats.get(`${name}#${inc}`);
  }

  /** Ticks published by node `name`, summed over its incarnations. */
  published(name: string): number {
    let n = 0;
    for (const [k, s] of this.#nodeStats) if (k.startsWith(`${name}#`)) n += s.published;
    return n;
  }

  /** The clone's reports, summed over its incarnations. */
  cloneTotals(): CloneStatsEvent {
    const out: CloneStatsEvent = {
      ev: "clone-stats",
      issued: 0,
      acked: 0,
      existed: 0,
      failed: {},
      blind: 0,
    };
    for (const s of this.#cloneStats.values()) {
      out.issued += s.issued;
      out.acked += s.acked;
      out.existed += s.existed;
      out.blind += s.blind;
      for (const [k, v] of Object.entries(s.failed)) out.failed[k] = (out.failed[k] ?? 0) + v;
    }
    return out;
  }

  #dispatch(name: string, ev: ChildEvent): void {
    for (const w of [...this.#waiters]) if (w.name === name && w.pred(ev)) w.resolve(ev);
  }
}
