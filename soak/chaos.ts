/**
 * The chaos loop: until its end time, every one to three seconds it injects
 * one fault, drawn from a shuffled deck of all kinds so that even a
 * one-minute run sees each kind:
 *
 * - `SIGKILL node` / `SIGTERM node`: kill one of the mesh processes (ours or
 *   C++) and start it again after a short pause;
 * - `SIGKILL store master`: kill the SQLite master and start it again on the
 *   same file (its size must cover every write acknowledged before the kill);
 * - `cut mid-frame`: a proxy on a mesh link closes its connection after a
 *   random number of bytes;
 * - `idle` / `garbage random|http|length`: a connection of that kind to every
 *   listener (see `probes.ts`);
 * - `WebSocket flood`: a client that never reads, flooded (`websocket_flood.ts`).
 *
 * Kills and cuts run one at a time (the loop waits for the restart); probes
 * and floods run in the background and are awaited by `settle`. Every wait
 * is bounded, and so is the number of faults (one per second at most).
 *
 * @module
 */
import type { Collector } from "./collector.ts";
import { probe, type ProbeKind, type ProbeResult } from "./probes.ts";
import type { Rng } from "./random.ts";
import type { Supervisor } from "./supervisor.ts";
import type { Topology } from "./topology.ts";
import { type FloodOptions, type FloodResult, floodWebSocket } from "./websocket_flood.ts";

/** The faults, as the summary names them. */
export const FAULT_KINDS = [
  "SIGKILL node",
  "SIGTERM node",
  "SIGKILL store master",
  "cut mid-frame",
  "idle connections",
  "garbage random",
  "garbage http",
  "garbage length",
  "WebSocket flood",
] as const;

/** One kind of fault. */
export type FaultKind = typeof FAULT_KINDS[number];

/** Where the chaos loop reports. */
export interface ChaosSink {
  /** A probe ended. */
  probe(r: ProbeResult): void;
  /** A flood ended. */
  flood(r: FloodResult): void;
  /** The store master came back with fewer keys than were acknowledged before its kill. */
  lostWrites(detail: string): void;
  /** A progress line (printed with --verbose). */
  log(line: string): void;
}

const PROBE_FAULTS: Partial<Record<FaultKind, ProbeKind>> = {
  "idle connections": "idle",
  "garbage random": "random",
  "garbage http": "http",
  "garbage length": "length",
};

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });

/**
 * Injects faults into a running topology.
 *
 * @example
 * ```ts ignore
 * const chaos = new ChaosLoop(rng, supervisor, topology, collector, sink, floodOptions);
 * await chaos.run(Date.now() + 45_000, abort.signal);
 * await chaos.settle();
 * console.log(chaos.faults);
 * ```
 */
export class ChaosLoop {
  /** Faults injected, by kind (probe kinds count sockets opened). */
  readonly faults: Record<FaultKind, number> = Object.fromEntries(
    FAULT_KINDS.map((k) => [k, 0]),
  ) as Record<FaultKind, number>;
  /** Connections refused because their target was down at that moment. */
  refused = 0;
  readonly #pending = new Set<Promise<void>>();
  readonly #rng: Rng;
  readonly #sup: Supervisor;
  readonly #topo: Topology;
  readonly #collector: Collector;
  readonly #sink: ChaosSink;
  readonly #flood: FloodOptions;
  #deck: FaultKind[] = [];

  /** A loop over `topo`'s processes, reporting to `sink`. */
  constructor(
    rng: Rng,
    sup: Supervisor,
    topo: Topology,
    collector: Collector,
    sink: ChaosSink,
    flood: FloodOptions,
  ) {
    this.#rng = rng;
    this.#sup = sup;
    this.#topo = topo;
    this.#collector = collector;
    this.#sink = sink;
    this.#flood = flood;
  }

  /** Injects faults until `until` (epoch ms) or the signal aborts; one per second at most. */
  async run(until: number, signal: AbortSignal): Promise<void> {
    const maxFaults = Math.ceil((until - Date.now()) / 1000);
    for (let n = 0; n < maxFaults && Date.now() < until && !signal.aborted; n++) {
      await sleep(this.#rng.int(1000, 3000), signal);
      if (Date.now() >= until || signal.aborted) break;
      await this.inject(this.#draw());
    }
  }

  /** Injects one fault now. */
  async inject(kind: FaultKind): Promise<void> {
    const rng = this.#rng;
    const probeKind = PROBE_FAULTS[kind];
    if (probeKind) {
      for (const target of this.#topo.probeTargets) {
        this.#background(
          probe(target, probeKind, rng).then((r) => {
            if (r.outcome === "refused") this.refused++;
            else this.faults[kind]++;
            this.#sink.probe(r);
          }),
        );
      }
      this.#sink.log(`${kind} to ${this.#topo.probeTargets.length} listeners`);
      return;
    }
    switch (kind) {
      case "SIGKILL node":
      case "SIGTERM node": {
        const name = rng.pick(this.#topo.killable);
        const signal = kind === "SIGKILL node" ? "SIGKILL" : "SIGTERM";
        if (!this.#sup.isRunning(name)) return;
        this.faults[kind]++;
        this.#sink.log(`${signal} ${name}`);
        await this.#sup.stop(name, signal);
        await sleep(rng.int(200, 1500));
        await this.#sup.start(name);
        return;
      }
      case "SIGKILL store master":
        await this.killMaster();
        return;
      case "cut mid-frame": {
        const live = this.#topo.proxies.filter((p) => p.open > 0);
        if (live.length === 0) return;
        const proxy = rng.pick(live);
        const bytes = rng.int(1, 8192);
        if (await proxy.cut(bytes)) {
          this.faults[kind]++;
          this.#sink.log(`cut ${proxy.name} after ${bytes} bytes`);
        }
        return;
      }
      case "WebSocket flood": {
        const target = rng.pick(this.#topo.floodTargets);
        this.faults[kind]++;
        this.#sink.log(`WebSocket flood on ${target.process}`);
        const before = this.#sup.incarnation(target.process);
        this.#background(
          floodWebSocket(target.port, this.#flood).then((r) => {
            if (this.#restartedSince(target.process, before)) r.outcome = "restarted";
            this.#sink.flood({ ...r, node: target.process });
          }),
        );
        return;
      }
    }
  }

  /**
   * SIGKILL to the store master and a restart on the same file; its key
   * count must then cover every write acknowledged before the kill.
   */
  async killMaster(): Promise<void> {
    const { master } = this.#topo.store;
    if (!this.#sup.isRunning(master)) return;
    this.faults["SIGKILL store master"]++;
    const ackedBefore = this.#collector.acked.size;
    this.#sink.log(`SIGKILL ${master} (${ackedBefore} writes acknowledged)`);
    await this.#sup.stop(master, "SIGKILL");
    await sleep(this.#rng.int(200, 1500));
    await this.#sup.start(master);
    const last = this.#collector.masterStarts.at(-1);
    if (last && last.size < ackedBefore) {
      this.#sink.lostWrites(
        `master restart ${last.inc} opened ${last.size} keys, ${ackedBefore} had been acknowledged`,
      );
    }
  }

  /** Waits for the background probes and floods (each ends by its own bound). */
  async settle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
  }

  /** Whether `process` was stopped since it ran as incarnation `inc`. */
  #restartedSince(process: string, inc: number): boolean {
    return this.#sup.incarnation(process) !== inc || !this.#sup.isRunning(process);
  }

  #background(p: Promise<void>): void {
    const tracked = p.catch((e) => this.#sink.log(`background fault failed: ${e}`)).finally(() =>
      this.#pending.delete(tracked)
    );
    this.#pending.add(tracked);
  }

  #draw(): FaultKind {
    if (this.#deck.length === 0) {
      // Kills and cuts twice per deck: they are what the mesh must heal from.
      this.#deck = this.#rng.shuffle([
        ...FAULT_KINDS,
        "SIGKILL node",
        "SIGTERM node",
        "cut mid-frame",
      ]);
    }
    return this.#deck.pop()!;
  }
}
