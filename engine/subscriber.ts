/**
 * Subscribers: what an endpoint delivers for a set of topic prefixes, read
 * with `get(timeout)`, `poll()`, `for await`, or as a `ReadableStream`.
 * Payloads are decoded when read, not when they arrive.
 *
 * @module
 */
import { type Data, decode, decodeValidated } from "./data/mod.ts";
import { heldBy } from "./held.ts";
import { PackedCopies } from "./packed_copies.ts";
import { BoundedQueue, type OverflowPolicy } from "./queue.ts";
import type { DeliveryLatency } from "./delivery_latency.ts";

/** A data message as a subscriber sees it. */
export interface DataMessage {
  /** The topic it was published on. */
  readonly topic: string;
  /** Its value. */
  readonly data: Data;
}

/** A message as it waits in a subscriber's queue: still encoded. */
export interface PendingMessage {
  /** The topic it was published on. */
  readonly topic: string;
  /** Its value in Broker's binary format. */
  readonly payload: Uint8Array;
  /**
   * Set when the endpoint validated the payload on arrival (see
   * `validateForLater`): building the value then skips a second validation.
   */
  readonly unsorted?: boolean;
}

/**
 * Takes a subscriber's messages instead of its queue (see
 * `Subscriber.divert`): a worker subscription's batcher.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "./endpoint.ts";
 * import { count } from "./data/mod.ts";
 * import type { PayloadSink } from "./subscriber.ts";
 * const endpoint = new Endpoint();
 * const topics: string[] = [];
 * const sink: PayloadSink = { accept: (topic) => void topics.push(topic), closed: () => {} };
 * endpoint.subscribe("/t").divert(sink);
 * endpoint.publish("/t/a", count(1n), { local: true });
 * equal(topics.join(), "/t/a");
 * await endpoint.shutdown();
 * ```
 */
export interface PayloadSink {
  /** As `deliverBytes`: copy the payload before returning; a promise means "wait". */
  accept(topic: string, payload: Uint8Array, unsorted: boolean | undefined): void | Promise<void>;
  /** The subscriber closed: nothing more will come. */
  closed(): void;
}

/** What a subscriber needs from its endpoint. */
export interface SubscriptionHost {
  /** Routes the topics to the subscriber (and grows the filter). */
  addSubscriptions(sub: Subscriber, topics: readonly string[]): void;
  /** Stops routing one topic to it. */
  removeSubscription(sub: Subscriber, topic: string): void;
  /** Forgets the subscriber. */
  detach(sub: Subscriber): void;
  /** Where sampled delivery latencies go (the endpoint's metrics). */
  readonly latency?: DeliveryLatency;
}

/** A message in a subscriber's queue: its latency stamp beside it (0: not sampled). */
interface Queued extends PendingMessage {
  readonly at: number;
}

/** Options of `Endpoint.subscribe`. */
export interface SubscriberOptions {
  /** Messages held before the overflow policy applies. Default 1024. */
  queueSize?: number;
  /**
   * Payload bytes held before the overflow policy applies (a single larger
   * message still fits an empty queue). Default 64 MiB.
   */
  maxQueuedBytes?: number;
  /**
   * `block` (default) slows the peers that feed this subscriber down (TCP
   * back-pressure); `drop_oldest` / `drop_newest` keep the sender going and
   * count what was dropped.
   */
  overflowPolicy?: OverflowPolicy;
}

/**
 * Size of a subscriber's payload slabs. A subscriber keeps the payloads it
 * queues in slabs of its own, holding only its own messages, so a slow
 * subscriber keeps alive no more than what it queued plus one slab (shared
 * slabs would let one queued message pin a slab full of other traffic).
 */
const SLAB_SIZE = 256 * 1024;

/** Default of `SubscriberOptions.queueSize`. */
export const DEFAULT_SUBSCRIBER_QUEUE_SIZE = 1024;
/** Default of `SubscriberOptions.maxQueuedBytes`. */
export const DEFAULT_SUBSCRIBER_QUEUE_BYTES = 64 * 1024 * 1024;

function materialize(m: PendingMessage): DataMessage {
  const data = m.unsorted === undefined
    ? decode(m.payload)
    : decodeValidated(m.payload, m.unsorted);
  return { topic: m.topic, data };
}

/**
 * Receives data messages whose topics match its prefixes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { Endpoint } from "./endpoint.ts";
 * import { count, dataToString } from "./data/mod.ts";
 * const endpoint = new Endpoint();
 * const sub = endpoint.subscribe(["/zeek/"]);
 * // `local`: to our own subscribers too (Broker sends only to peers).
 * endpoint.publish("/zeek/a", count(1n), { local: true });
 * endpoint.publish("/other", count(2n), { local: true });
 * sub.close(); // the loop below reads what is queued, then ends
 * const got: string[] = [];
 * for await (const { topic, data } of sub) got.push(`${topic} ${dataToString(data)}`);
 * deepEqual(got, ["/zeek/a 1"]);
 * await endpoint.shutdown();
 * ```
 */
export class Subscriber implements AsyncIterable<DataMessage> {
  readonly #host: SubscriptionHost;
  readonly #queue: BoundedQueue<Queued>;
  readonly #latency?: DeliveryLatency;
  readonly #topics = new Set<string>();
  readonly #slab = new PackedCopies(SLAB_SIZE);
  #sink: PayloadSink | undefined;

  /** Made by `Endpoint.subscribe`, which passes itself as the host. */
  constructor(host: SubscriptionHost, topics: Iterable<string>, options?: SubscriberOptions) {
    this.#host = host;
    this.#latency = host.latency;
    this.#queue = new BoundedQueue(
      options?.queueSize ?? DEFAULT_SUBSCRIBER_QUEUE_SIZE,
      options?.overflowPolicy ?? "block",
      {
        maxBytes: options?.maxQueuedBytes ?? DEFAULT_SUBSCRIBER_QUEUE_BYTES,
        sizeOf: (m) => m.payload.length,
      },
    );
    const latency = this.#latency;
    // Sampled messages' waits end when a reader takes them, whichever way it reads.
    if (latency) this.#queue.onTake((m) => m.at !== 0 && latency.taken(m.at));
    // However the queue ends (`close`, or a reader cancelling `readable`), the
    // subscriber leaves its endpoint: a cancelled stream used to close the
    // queue alone, and the endpoint kept routing (and counting) it for good.
    this.#queue.onClose(() => this.#ended());
    const fresh = [...new Set(topics)];
    for (const t of fresh) this.#topics.add(t);
    // One filter change (and one routing update) for the whole list.
    if (fresh.length > 0) this.#host.addSubscriptions(this, fresh);
  }

  /** The prefixes this subscriber receives. */
  get topics(): string[] {
    return [...this.#topics];
  }

  /** Messages dropped by the overflow policy so far. */
  get dropped(): number {
    return this.#queue.dropped;
  }

  /**
   * Called by the endpoint; a promise means "wait before feeding more". The
   * payload is copied before this returns, so it may lie in a reused buffer.
   */
  deliver(message: PendingMessage): void | Promise<void> {
    return this.deliverBytes(message.topic, message.payload, message.unsorted);
  }

  /** `deliver` without a message object to build first (the endpoint's hot path). */
  deliverBytes(topic: string, payload: Uint8Array, unsorted?: boolean): void | Promise<void> {
    if (this.#sink !== undefined) return this.#sink.accept(topic, payload, unsorted);
    const at = this.#latency ? this.#latency.stamp() : 0;
    return this.#queue.push({ topic, payload: this.#slab.copy(payload), unsorted, at });
  }

  /**
   * From now on, hands every message to `sink` instead of the queue (and
   * returns what was queued): for a consumer elsewhere, such as a Worker
   * (`WorkerSubscription`). The queue's size and overflow policy no longer
   * apply; the sink's promises slow the peers down.
   * @internal
   */
  divert(sink: PayloadSink): PendingMessage[] {
    this.#sink = sink;
    return this.#queue.poll();
  }

  /** Waits for the next message (undefined after `timeoutMs` or once closed). */
  async get(timeoutMs?: number): Promise<DataMessage | undefined> {
    const m = await this.#queue.get(timeoutMs);
    return m && materialize(m);
  }

  /** Every message ready now, without waiting. */
  poll(): DataMessage[] {
    return this.#queue.poll().map(materialize);
  }

  /**
   * Like `get`, but hands over the message still encoded: its payload is the
   * validated Broker binary form, to count, forward (`publishEncoded`) or
   * read lazily (`EncodedData`) without building a value.
   *
   * @example
   * ```ts
   * import { deepEqual, equal } from "node:assert/strict";
   * import { Endpoint } from "./endpoint.ts";
   * import { count, encode } from "./data/mod.ts";
   * const endpoint = new Endpoint();
   * const sub = endpoint.subscribe("/in");
   * endpoint.publish("/in/x", count(7n), { local: true });
   * const m = await sub.getEncoded(1000);
   * if (!m) throw new Error("nothing within a second");
   * equal(m.topic, "/in/x");
   * deepEqual(m.payload, encode(count(7n))); // Broker's binary form
   * endpoint.publishEncoded("/out", m.payload); // forwarded to the peers of "/out" as it is
   * await endpoint.shutdown();
   * ```
   */
  getEncoded(timeoutMs?: number): Promise<PendingMessage | undefined> {
    return this.#queue.get(timeoutMs);
  }

  /** Like `poll`, with the messages still encoded (see `getEncoded`). */
  pollEncoded(): PendingMessage[] {
    return this.#queue.poll();
  }

  /** How many messages are ready. */
  available(): number {
    return this.#queue.length;
  }

  /** Payload bytes of the messages ready. */
  get queuedBytes(): number {
    return this.#queue.bytes;
  }

  /** Starts receiving a prefix. */
  addTopic(topic: string): void {
    if (this.#topics.has(topic) || this.#queue.closed) return;
    this.#topics.add(topic);
    this.#host.addSubscriptions(this, [topic]);
  }

  /** Stops receiving a prefix (peers keep their copy of the filter, as with Broker). */
  removeTopic(topic: string): void {
    if (!this.#topics.delete(topic)) return;
    this.#host.removeSubscription(this, topic);
  }

  /** Stops receiving; readers get what is queued, then the end. */
  close(): void {
    this.#queue.close();
  }

  /** The queue closed: nothing more is routed here. */
  #ended(): void {
    this.#host.detach(this);
    this.#topics.clear();
    this.#sink?.closed();
  }

  /** Whether `close()` was called (or the endpoint shut down). */
  get closed(): boolean {
    return this.#queue.closed;
  }

  /** Messages until closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<DataMessage> {
    for await (const m of this.#queue) yield materialize(m);
  }

  /** The messages as a ReadableStream. */
  get readable(): ReadableStream<DataMessage> {
    return this.#queue.stream().pipeThrough(
      new TransformStream<Queued, DataMessage>({
        transform: (m, controller) => controller.enqueue(materialize(m)),
      }),
    );
  }
}

/** Closes the subscriber behind a handle that was collected unclosed. */
const collected = new FinalizationRegistry<Subscriber>((inner) => inner.close());

/** The host of handles: a handle routes nothing itself (its subscriber does). */
const NO_HOST: SubscriptionHost = {
  addSubscriptions() {},
  removeSubscription() {},
  detach() {},
};

/**
 * What `Endpoint.subscribe` hands out: `inner`, the subscriber the endpoint
 * routes to, behind a handle that closes it once the handle is collected
 * unclosed, as a C++ Broker subscriber unsubscribes in its destructor. The
 * endpoint holds `inner` (every subscriber it routes to), never the handle;
 * a read waiting on the handle (`get`, iteration, `readable`) holds it, so
 * a subscriber nobody references but somebody reads from stays.
 * @internal
 */
export function subscriberHandle(inner: Subscriber): Subscriber {
  return new SubscriberHandle(inner);
}

/** The subscriber the endpoint routes to behind `sub` (itself when it is no handle). @internal */
export function routedSubscriber(sub: Subscriber): Subscriber {
  return SubscriberHandle.innerOf(sub);
}

/**
 * `routedSubscriber(sub)`, which then lives until closed, whatever becomes
 * of the handle (for owners that keep it elsewhere: a WebSocket session, a
 * callback subscription).
 * @internal
 */
export function unhandled(sub: Subscriber): Subscriber {
  collected.unregister(sub);
  return SubscriberHandle.innerOf(sub);
}

/** See `subscriberHandle`: every member is the inner subscriber's. */
class SubscriberHandle extends Subscriber {
  readonly #inner: Subscriber;

  constructor(inner: Subscriber) {
    super(NO_HOST, []);
    this.#inner = inner;
    collected.register(this, inner, this);
  }

  static innerOf(sub: Subscriber): Subscriber {
    return #inner in sub ? sub.#inner : sub;
  }

  override get topics(): string[] {
    return this.#inner.topics;
  }

  override get dropped(): number {
    return this.#inner.dropped;
  }

  override deliver(message: PendingMessage): void | Promise<void> {
    return this.#inner.deliver(message);
  }

  override deliverBytes(
    topic: string,
    payload: Uint8Array,
    unsorted?: boolean,
  ): void | Promise<void> {
    return this.#inner.deliverBytes(topic, payload, unsorted);
  }

  override divert(sink: PayloadSink): PendingMessage[] {
    return this.#inner.divert(sink);
  }

  override get(timeoutMs?: number): Promise<DataMessage | undefined> {
    const inner = this.#inner;
    const got = inner.get(timeoutMs);
    return inner.available() > 0 || inner.closed ? got : heldBy(this, got);
  }

  override poll(): DataMessage[] {
    return this.#inner.poll();
  }

  override getEncoded(timeoutMs?: number): Promise<PendingMessage | undefined> {
    const inner = this.#inner;
    const got = inner.getEncoded(timeoutMs);
    return inner.available() > 0 || inner.closed ? got : heldBy(this, got);
  }

  override pollEncoded(): PendingMessage[] {
    return this.#inner.pollEncoded();
  }

  override available(): number {
    return this.#inner.available();
  }

  override get queuedBytes(): number {
    return this.#inner.queuedBytes;
  }

  override addTopic(topic: string): void {
    this.#inner.addTopic(topic);
  }

  override removeTopic(topic: string): void {
    this.#inner.removeTopic(topic);
  }

  override close(): void {
    collected.unregister(this);
    this.#inner.close();
  }

  override get closed(): boolean {
    return this.#inner.closed;
  }

  override async *[Symbol.asyncIterator](): AsyncIterator<DataMessage> {
    while (true) {
      const m = await this.get();
      if (m === undefined) return;
      yield m;
    }
  }

  override get readable(): ReadableStream<DataMessage> {
    return new ReadableStream<DataMessage>({
      pull: async (controller) => {
        const m = await this.get();
        if (m === undefined) controller.close();
        else controller.enqueue(m);
      },
      cancel: () => this.close(),
    }, { highWaterMark: 0 });
  }
}
