/**
 * The endpoint's side of a subscription whose consumer runs in a Worker
 * (see `consume.ts` for the worker's side): what the subscriber receives
 * is taken still encoded, packed into batches, and transferred to the
 * worker, which builds the values and consumes them on its own thread.
 * Values never cross threads (structured cloning a decoded value costs
 * more than decoding it, and loses its classes); only bytes do, without
 * a copy.
 *
 * @example
 * ```ts ignore
 * import { Endpoint } from "../endpoint.ts";
 * import { WorkerSubscription } from "./worker_subscription.ts";
 * const ep = new Endpoint();
 * const worker = new Worker(new URL("./consumer.ts", import.meta.url), { type: "module" });
 * const ws = new WorkerSubscription(ep.subscribe("/zeek/"), worker);
 * // ... later
 * ws.close();
 * await ws.done; // the worker consumed everything that was queued
 * ```
 *
 * @module
 */
import type { PayloadSink, Subscriber } from "../subscriber.ts";
import { type DecodeOptions, validateForLater } from "../data/mod.ts";
import { type Batch, BatchWriter } from "./batch.ts";
import { CHANNEL_KEY, type FromWorker, type ToWorker } from "./protocol.ts";

/** Options of `WorkerSubscription`. */
export interface WorkerSubscriptionOptions {
  /**
   * Bytes per batch (a larger payload gets a batch of its own).
   * @default {65_536}
   */
  batchBytes?: number;
  /**
   * Batches handed to the worker and not yet consumed. Beyond it one more
   * fills, then the peers feeding the subscriber wait (the subscriber's
   * own queue size and overflow policy do not apply).
   * @default {4}
   */
  maxBatchesInFlight?: number;
}

/** A local publish was validated without a budget, so it is decoded without one. */
const LOCAL: DecodeOptions = { maxValues: Number.MAX_SAFE_INTEGER };

/** Default of `WorkerSubscriptionOptions.batchBytes`. */
export const DEFAULT_BATCH_BYTES = 64 * 1024;
/** Default of `WorkerSubscriptionOptions.maxBatchesInFlight`. */
export const DEFAULT_BATCHES_IN_FLIGHT = 4;

/**
 * Feeds a subscriber's messages to a consumer in a Worker, in order, until
 * the subscriber closes (`close()` here, or the endpoint's shutdown). The
 * subscriber is diverted (`Subscriber.divert`): each payload is copied
 * straight into the open batch, with no queue in between; a batch goes to
 * the worker when the endpoint's current turn ends (or when it is full),
 * and when `maxBatchesInFlight` are unconsumed the peers feeding the
 * subscriber wait, as with the `block` policy.
 *
 * @example
 * ```ts ignore
 * const ws = new WorkerSubscription(endpoint.subscribe("/t"), worker, { maxBatchesInFlight: 2 });
 * ws.close();
 * await ws.done;
 * console.log(ws.consumed);
 * ```
 */
export class WorkerSubscription {
  readonly #sub: Subscriber;
  readonly #port: MessagePort;
  readonly #writer: BatchWriter;
  readonly #maxInFlight: number;
  /** Full batches waiting for the worker to hand one back. */
  readonly #ready: Batch[] = [];
  #inFlight = 0;
  #consumed = 0;
  #flushQueued = false;
  #closed = false;
  #settled = false;
  #room: { promise: Promise<void>; resolve: () => void } | undefined;
  #settle!: (error?: Error) => void;
  /**
   * Settles once the worker consumed every message the subscriber received
   * before it closed; rejects when the worker's consumer threw.
   */
  readonly done: Promise<void>;

  /** Starts feeding `worker` (which must call `consumeInWorker`) from `subscriber`. */
  constructor(subscriber: Subscriber, worker: Worker, options?: WorkerSubscriptionOptions) {
    const batchBytes = options?.batchBytes ?? DEFAULT_BATCH_BYTES;
    const maxInFlight = options?.maxBatchesInFlight ?? DEFAULT_BATCHES_IN_FLIGHT;
    if (!(Number.isSafeInteger(batchBytes) && batchBytes >= 64)) {
      throw new RangeError("batchBytes must be an integer of at least 64");
    }
    if (!(Number.isSafeInteger(maxInFlight) && maxInFlight >= 1)) {
      throw new RangeError("maxBatchesInFlight must be a positive integer");
    }
    this.#sub = subscriber;
    this.#writer = new BatchWriter(batchBytes);
    this.#maxInFlight = maxInFlight;
    this.done = new Promise<void>((resolve, reject) => {
      this.#settle = (e) => e ? reject(e) : resolve();
    });
    const channel = new MessageChannel();
    this.#port = channel.port1;
    this.#port.onmessage = (e: MessageEvent<FromWorker>) => this.#onReply(e.data);
    worker.postMessage({ [CHANNEL_KEY]: channel.port2 }, [channel.port2]);
    // A worker that fails (its module throws) never acknowledges: end here
    // rather than hold the peers back for good. Its error still goes on to
    // whoever else handles it.
    worker.addEventListener("error", (e) => this.#fail(e.message), { once: true });
    const sink: PayloadSink = {
      accept: (topic, payload, unsorted) => this.#accept(topic, payload, unsorted),
      closed: () => this.#onClosed(),
    };
    for (const m of subscriber.divert(sink)) this.#accept(m.topic, m.payload, m.unsorted);
    if (subscriber.closed) this.#onClosed();
  }

  /** Messages the worker's consumer has handled so far. */
  get consumed(): number {
    return this.#consumed;
  }

  /** Closes the subscriber; `done` settles once the worker consumed what was queued. */
  close(): void {
    this.#sub.close();
  }

  #accept(topic: string, payload: Uint8Array, unsorted: boolean | undefined): void | Promise<void> {
    if (this.#closed) return;
    // Received payloads carry the flag from their validation on arrival; a
    // local publish's payload is validated here, as `Subscriber.get` would.
    const flag = unsorted ?? validateForLater(payload, LOCAL);
    if (!this.#writer.add(topic, payload, flag)) {
      this.#seal();
      this.#writer.add(topic, payload, flag);
    }
    if (!this.#flushQueued) {
      // One batch per turn of the endpoint (a read of many frames), not per message.
      this.#flushQueued = true;
      queueMicrotask(() => {
        this.#flushQueued = false;
        if (this.#inFlight < this.#maxInFlight && this.#ready.length === 0) this.#seal();
      });
    }
    if (this.#ready.length === 0) return;
    this.#room ??= Promise.withResolvers<void>();
    return this.#room.promise;
  }

  /** Closes the open batch: to the worker if it may take one more, else to `#ready`. */
  #seal(): void {
    if (this.#writer.count === 0) return;
    const batch = this.#writer.take();
    if (this.#inFlight < this.#maxInFlight && this.#ready.length === 0) this.#post(batch);
    else this.#ready.push(batch);
  }

  #post(batch: Batch): void {
    this.#inFlight++;
    this.#send({ kind: "batch", batch }, [batch.buffer]);
  }

  #onReply(m: FromWorker): void {
    if (m.kind === "ack") {
      this.#inFlight--;
      this.#consumed += m.count;
      this.#writer.recycle(m.buffer);
      const next = this.#ready.shift();
      if (next) this.#post(next);
      else if (!this.#flushQueued) this.#seal();
      if (this.#ready.length === 0) this.#release();
      if (this.#closed) this.#endWhenDrained();
    } else if (m.kind === "ended") {
      this.#settled = true; // a later worker error changes nothing
      this.#port.close();
      this.#settle();
    } else {
      this.#fail(m.message);
    }
  }

  #fail(message: string): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#closed = true;
    this.#ready.length = 0;
    this.#release();
    this.#port.close();
    this.#sub.close();
    this.#settle(new Error(`worker consumer failed: ${message}`));
  }

  #release(): void {
    const room = this.#room;
    this.#room = undefined;
    room?.resolve();
  }

  #onClosed(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#seal();
    this.#endWhenDrained();
  }

  /** After the close: the end goes once every batch is with the worker. */
  #endWhenDrained(): void {
    if (this.#ready.length > 0 || this.#writer.count > 0) return;
    if (this.#inFlight === 0) this.#send({ kind: "end" });
  }

  #send(m: ToWorker, transfer: Transferable[] = []): void {
    this.#port.postMessage(m, transfer);
  }
}
