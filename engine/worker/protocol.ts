/**
 * The messages between an endpoint's thread and a subscriber's Worker, over
 * a MessageChannel of their own (so a worker may host several subscriptions
 * and keep its own `postMessage` for its own use).
 *
 * @example
 * ```ts
 * import { CHANNEL_KEY, type ToWorker } from "./protocol.ts";
 * const end: ToWorker = { kind: "end" };
 * if (CHANNEL_KEY !== "deno-broker:subscription" || end.kind !== "end") throw new Error();
 * ```
 *
 * @module
 */
import type { Batch } from "./batch.ts";

/** The key of the message that hands a worker its end of a subscription's channel. */
export const CHANNEL_KEY = "deno-broker:subscription";

/** From the endpoint's thread: a batch of payloads, or the end of the subscription. */
export type ToWorker =
  | { readonly kind: "batch"; readonly batch: Batch }
  | { readonly kind: "end" };

/**
 * From the worker: a batch consumed (its buffer handed back), the end
 * acknowledged, or the consumer's failure (the subscription then closes).
 */
export type FromWorker =
  | { readonly kind: "ack"; readonly buffer: ArrayBuffer; readonly count: number }
  | { readonly kind: "ended" }
  | { readonly kind: "error"; readonly message: string };
