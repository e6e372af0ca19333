/**
 * Publishers: one topic, a bounded buffer, and demand a producer can await,
 * so a fast producer slows down instead of filling memory or overrunning
 * its peers.
 *
 * @module
 */
import type { Data } from "./data/mod.ts";
import { BrokerError, ErrorCode } from "./errors.ts";

/** What a publisher needs from its endpoint. */
export interface PublishTarget {
  /** Room left in the buffers of the peers that want `topic`. */
  demand(topic: string): number;
  /** Resolves when those buffers have room again. */
  ready(topic: string): Promise<void>;
  /** Sends now. */
  publish(topic: string, data: Data): void;
}

/** Options of `Endpoint.publisher`. */
export interface PublisherOptions {
  /** Values held while the peers have no demand. Default 1024. */
  bufferSize?: number;
}

/**
 * Publishes on one topic with back-pressure: `publish` buffers (bounded)
 * while peers are saturated; `write` and `ready` let a producer wait.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "./endpoint.ts";
 * import { count } from "./data/mod.ts";
 * const a = new Endpoint(), b = new Endpoint();
 * const sub = b.subscribe("/zeek/events");
 * await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
 * await a.awaitPeerSubscription("/zeek/events");
 * const pub = a.publisher("/zeek/events");
 * for (const v of [1n, 2n, 3n]) await pub.write(count(v)); // waits whenever the buffer is full
 * await pub.flush();
 * for (const v of [1n, 2n, 3n]) equal((await sub.get(1000))?.data.value, v);
 * await a.shutdown();
 * await b.shutdown();
 * ```
 */
export class Publisher {
  /** The topic every value goes to. */
  readonly topic: string;
  readonly #target: PublishTarget;
  readonly #capacity: number;
  #buffer: Data[] = [];
  #pumping?: Promise<void>;
  #space: (() => void)[] = [];
  #closed = false;

  /** Made by `Endpoint.publisher`. */
  constructor(target: PublishTarget, topic: string, options?: PublisherOptions) {
    this.#target = target;
    this.topic = topic;
    this.#capacity = options?.bufferSize ?? 1024;
  }

  /** How many more values can be published right now without waiting. */
  get demand(): number {
    const room = this.#capacity - this.#buffer.length;
    return this.#buffer.length === 0 ? room + this.#target.demand(this.topic) : room;
  }

  /** Whether `close` ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Values waiting in the buffer. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Resolves when the buffer has room. */
  get ready(): Promise<void> {
    if (this.#buffer.length < this.#capacity) return Promise.resolve();
    return new Promise((resolve) => this.#space.push(resolve));
  }

  /**
   * Publishes a value, or buffers it while the peers are saturated. Returns
   * false (and drops nothing already accepted) when the buffer is full.
   */
  publish(data: Data): boolean {
    if (this.#closed) throw new BrokerError(ErrorCode.shutting_down, "publisher closed");
    if (this.#buffer.length === 0 && this.#target.demand(this.topic) > 0) {
      this.#target.publish(this.topic, data);
      return true;
    }
    if (this.#buffer.length >= this.#capacity) return false;
    this.#buffer.push(data);
    this.#pump();
    return true;
  }

  /** Publishes a value, waiting for room first. */
  async write(data: Data): Promise<void> {
    while (!this.publish(data)) await this.ready;
  }

  /** Publishes everything an (async) iterable yields, with back-pressure; returns the count. */
  async publishAll(values: AsyncIterable<Data> | Iterable<Data>): Promise<number> {
    let n = 0;
    for await (const v of values) {
      await this.write(v);
      n++;
    }
    return n;
  }

  /** Resolves once everything buffered has been handed to the peers. */
  async flush(): Promise<void> {
    while (this.#pumping) await this.#pumping;
  }

  /** A WritableStream view whose back-pressure is the publisher's. */
  get writable(): WritableStream<Data> {
    return new WritableStream<Data>({
      write: (v) => this.write(v),
      close: () => this.flush(),
    }, { highWaterMark: 1 });
  }

  /** Stops accepting values (what is buffered is still sent). */
  close(): void {
    this.#closed = true;
  }

  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = (async () => {
      try {
        while (this.#buffer.length > 0) {
          if (this.#target.demand(this.topic) <= 0) await this.#target.ready(this.topic);
          let n = Math.max(1, this.#target.demand(this.topic));
          while (n-- > 0 && this.#buffer.length > 0) {
            this.#target.publish(this.topic, this.#buffer.shift()!);
          }
          for (const r of this.#space.splice(0)) r();
        }
      } finally {
        this.#pumping = undefined;
      }
    })();
  }
}
