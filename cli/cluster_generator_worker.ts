/**
 * The Worker side of `ClusterGenerator` (`cluster_generator.ts`): makes a
 * generator file's values, message after message from one seed, exactly as
 * a sender makes them with `--generate-in-clock` (data straight into its
 * encoding, store commands encoded), in batches the main thread asks for.
 *
 * Protocol: `{ file, seed, batch }` starts it (the generator file's bytes);
 * it warms its generator on values of another seed, then answers `"ready"`
 * (or `{ error }` with the reason it cannot read the file).
 * Each `"more"` gets one batch back: `{ buffer, ends }`, the payloads one
 * after the other in `buffer` (transferred) and where each ends. Nothing is
 * made before a `"more"` asks for it.
 *
 * @module
 */
import {
  type GeneratorEntry,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { generateEntryTransient, prepareEncoded } from "../engine/recording/generate_encoded.ts";

/** What starts the worker. */
export interface GeneratorStart {
  /** The generator file's bytes. */
  file: Uint8Array;
  /** Seed of the values. */
  seed: number;
  /** Messages per batch. */
  batch: number;
}

/** One batch of payloads. */
export interface GeneratedBatch {
  /** The payloads, one after the other. */
  buffer: ArrayBuffer;
  /** Where each payload ends in `buffer`. */
  ends: Int32Array<ArrayBuffer>;
}

/** Events the worker makes of another seed before it answers `"ready"`. */
const WARM_UP_VALUES = 2000;

/** Makes message after message of `entries`, from `seed`, into batches. */
function batchMaker(entries: readonly GeneratorEntry[], seed: number) {
  const rnd = seededRandom(seed);
  let i = 0;
  let out = new Uint8Array(1 << 20);
  return {
    warm(n: number): void {
      const other = seededRandom(seed ^ 0x5eed5eed);
      for (let k = 0; k < n; k++) generateEntryTransient(entries[k % entries.length], other);
    },
    next(count: number): GeneratedBatch {
      const ends = new Int32Array(count);
      let at = 0;
      for (let k = 0; k < count; k++, i++) {
        const bytes = generateEntryTransient(entries[i % entries.length], rnd);
        if (at + bytes.length > out.length) {
          const grown = new Uint8Array(Math.max(out.length * 2, at + bytes.length));
          grown.set(out.subarray(0, at));
          out = grown;
        }
        out.set(bytes, at);
        at += bytes.length;
        ends[k] = at;
      }
      return { buffer: out.slice(0, at).buffer, ends };
    },
  };
}

/** Whether this code runs in a Worker (the global scope is a `WorkerGlobalScope`). */
export function inWorkerScope(): boolean {
  const scope = (globalThis as { WorkerGlobalScope?: abstract new () => unknown })
    .WorkerGlobalScope;
  return typeof scope === "function" && globalThis instanceof scope;
}

let served = false;

/**
 * Answers `ClusterGenerator`'s requests in this Worker: called when this
 * module is the worker's, or when the bundled CLI is (`cli/main.ts`), whose
 * one file holds this module too.
 *
 * @example
 * ```ts ignore
 * if (inWorkerScope()) serveGeneratorWorker();
 * ```
 */
export function serveGeneratorWorker(): void {
  if (served) return;
  served = true;
  // The main-thread typings describe `self` as a Window; here it is a worker's scope.
  const scope = self as unknown as Worker;
  let maker: ReturnType<typeof batchMaker> | undefined;
  let batchSize = 0;
  scope.onmessage = (e: MessageEvent<GeneratorStart | "more">) => {
    if (e.data === "more") {
      const b = maker!.next(batchSize);
      scope.postMessage(b, [b.buffer, b.ends.buffer]);
      return;
    }
    try {
      const start = e.data;
      const entries = readGeneratorFile(start.file).entries;
      if (entries.length === 0) throw new Error("the generator file holds no messages");
      for (const x of entries) if (x.kind === "data") prepareEncoded(x.shape!);
      maker = batchMaker(entries, start.seed);
      batchSize = start.batch;
      maker.warm(WARM_UP_VALUES);
      scope.postMessage("ready");
    } catch (err) {
      // Its reason goes back to the opener instead of an uncaught error here.
      scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
    }
  };
}

if (import.meta.main && inWorkerScope()) serveGeneratorWorker();
