/**
 * A sender's values made on a Worker thread (`--generate-in-worker`): the
 * same values, in the same order, as `--generate-in-clock` makes on the
 * sender's own thread, so the thread that publishes does not also make
 * them. Broker's tool makes them in its publisher, which CAF runs on one of
 * its worker threads beside the ones that send and receive.
 *
 * The worker makes nothing until `start` is called, and then keeps
 * `AHEAD` batches asked for ahead of the one being published.
 *
 * @module
 */
import type { GeneratedBatch, GeneratorStart } from "./cluster_generator_worker.ts";
import { timerDelay } from "../engine/timer_delay.ts";

/** Messages per batch: about 270 KB of mars.dat's events. */
const BATCH = 64;
/** Batches asked for beyond the one being read. */
const AHEAD = 2;

/**
 * Payloads from a generator-file worker, read one at a time.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ClusterGenerator } from "./cluster_generator.ts";
 * const mars = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
 * const gen = await ClusterGenerator.open(await Deno.readFile(mars), 1);
 * gen.start();
 * const first = gen.next() ?? (await gen.wait(), gen.next());
 * equal(first!.length, 4198);
 * gen.close();
 * ```
 */
export class ClusterGenerator {
  readonly #worker: Worker;
  readonly #batches: GeneratedBatch[] = [];
  #asked = 0;
  #u8: Uint8Array = new Uint8Array(0);
  #ends: Int32Array<ArrayBuffer> = new Int32Array(0);
  #k = 0;
  #arrived?: () => void;
  #error?: Error;

  private constructor(worker: Worker) {
    this.#worker = worker;
  }

  /**
   * Starts a worker on the generator file's bytes; resolves once it is ready
   * (warmed up), rejects with the worker's reason, or after `timeoutMs`
   * without an answer.
   */
  static open(file: Uint8Array, seed: number, timeoutMs = 30_000): Promise<ClusterGenerator> {
    // From the sources, the worker's own module; the bundled CLI is one
    // file, which serves as the worker when started as one (`cli/main.ts`).
    const here = import.meta.url;
    const url = here.endsWith("/cli/cluster_generator.ts")
      ? new URL("./cluster_generator_worker.ts", here)
      : new URL(here);
    const worker = new Worker(url, { type: "module" });
    const gen = new ClusterGenerator(worker);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const opened = new Promise<ClusterGenerator>((resolve, reject) => {
      timer = setTimeout(() => {
        worker.terminate();
        reject(new Error(`generator worker: no answer within ${timeoutMs / 1000} s`));
      }, timerDelay(timeoutMs));
      worker.onerror = (e) => {
        e.preventDefault();
        gen.#error = new Error(`generator worker: ${e.message}`);
        gen.#arrived?.();
        reject(gen.#error);
      };
      worker.onmessage = (e: MessageEvent<GeneratedBatch | "ready" | { error: string }>) => {
        if (e.data === "ready") return resolve(gen);
        if ("error" in e.data) {
          worker.terminate();
          return reject(new Error(`generator worker: ${e.data.error}`));
        }
        gen.#batches.push(e.data);
        gen.#asked--;
        const wake = gen.#arrived;
        gen.#arrived = undefined;
        wake?.();
      };
      const start: GeneratorStart = { file, seed, batch: BATCH };
      worker.postMessage(start);
    });
    return opened.finally(() => clearTimeout(timer));
  }

  /** Asks for the first batches: nothing is made before this. */
  start(): void {
    this.#askMore();
  }

  #askMore(): void {
    while (this.#asked + this.#batches.length < AHEAD + 1) {
      this.#worker.postMessage("more");
      this.#asked++;
    }
  }

  /** The next payload, or undefined while the worker's next batch has not arrived. */
  next(): Uint8Array | undefined {
    if (this.#k >= this.#ends.length) {
      const b = this.#batches.shift();
      if (b === undefined) return undefined;
      this.#u8 = new Uint8Array(b.buffer);
      this.#ends = b.ends;
      this.#k = 0;
      this.#askMore();
    }
    const k = this.#k++;
    return this.#u8.subarray(k === 0 ? 0 : this.#ends[k - 1], this.#ends[k]);
  }

  /** Resolves when a batch has arrived (rejects if the worker failed). */
  wait(): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#batches.length > 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#arrived = () => this.#error ? reject(this.#error) : resolve();
    });
  }

  /** Stops the worker. */
  close(): void {
    this.#worker.terminate();
  }
}
