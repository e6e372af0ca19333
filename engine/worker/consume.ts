/**
 * The worker's side of a subscription whose consumer runs in a Worker: it
 * builds the values of each batch on the worker's thread and hands them to
 * the consumer, so decoding and consuming use a second core while the
 * endpoint's thread only reads, validates, routes and copies.
 *
 * @example
 * ```ts ignore
 * // consumer.ts, started as `new Worker(new URL("./consumer.ts", import.meta.url), { type: "module" })`
 * import { consumeInWorker } from "./consume.ts";
 * let n = 0;
 * consumeInWorker(({ topic, data }) => {
 *   if (data.type === "vector") n++;
 * });
 * ```
 *
 * @module
 */
import { BatchReader } from "./batch.ts";
import { CHANNEL_KEY, type FromWorker, type ToWorker } from "./protocol.ts";
import type { DataMessage } from "../subscriber.ts";

/**
 * What the worker does with each message; a promise makes the next message
 * wait (and, through the batches in flight, the peers feeding it).
 */
export type WorkerConsumer = (message: DataMessage) => void | Promise<void>;

/**
 * Serves every subscription the endpoint's thread hands this worker
 * (`subscribeInWorker`), calling `consumer` with each message in order.
 * Call it once, at the worker module's top level. A consumer that throws
 * ends its subscription; the endpoint's side reports the error.
 *
 * @example
 * ```ts ignore
 * import { consumeInWorker } from "./consume.ts";
 * consumeInWorker((m) => console.log(m.topic));
 * ```
 */
export function consumeInWorker(consumer: WorkerConsumer): void {
  // The main-thread typings describe `self` as a Window; in a worker it is a message target.
  (self as unknown as EventTarget).addEventListener("message", (e) => {
    const port = ((e as MessageEvent).data as Record<string, unknown> | null)?.[CHANNEL_KEY];
    if (port instanceof MessagePort) serve(port, consumer);
  });
}

function serve(port: MessagePort, consumer: WorkerConsumer): void {
  const reader = new BatchReader();
  const post = (m: FromWorker, transfer: Transferable[] = []) => port.postMessage(m, transfer);
  let failed = false;
  // Batches are handled one after the other even when the consumer awaits.
  let chain = Promise.resolve();
  const handle = async (m: ToWorker) => {
    if (failed) return;
    if (m.kind === "end") {
      post({ kind: "ended" });
      port.close();
      return;
    }
    try {
      for (const msg of reader.read(m.batch)) {
        const p = consumer(msg);
        if (p) await p;
      }
    } catch (e) {
      failed = true;
      post({ kind: "error", message: e instanceof Error ? e.message : String(e) });
      port.close();
      return;
    }
    post({ kind: "ack", buffer: m.batch.buffer, count: m.batch.count }, [m.batch.buffer]);
  };
  port.onmessage = (e: MessageEvent<ToWorker>) => {
    chain = chain.then(() => handle(e.data));
  };
}
