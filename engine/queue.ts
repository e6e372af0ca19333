/**
 * A bounded queue with awaitable reads, shared by subscribers and status
 * subscribers. What happens when it is full is a stated policy, never
 * unbounded growth.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "./errors.ts";
import { objectArray } from "./object_array.ts";
import { timerDelay } from "./timer_delay.ts";

/** What a full queue does with a new item. */
export type OverflowPolicy = "drop_oldest" | "drop_newest" | "block";

/**
 * Bounded FIFO with `get(timeout)`, `poll()`, async iteration and a
 * `ReadableStream` view. With policy `block`, `push` returns a promise that
 * settles when there is room, which producers await to apply back-pressure.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { BoundedQueue } from "./queue.ts";
 * const q = new BoundedQueue<number>(2, "drop_oldest");
 * q.push(1);
 * q.push(2);
 * q.push(3); // full: 1 is dropped
 * deepEqual(q.poll(), [2, 3]);
 * equal(q.dropped, 1);
 * ```
 */
export class BoundedQueue<T> {
  #items: T[] = objectArray();
  #head = 0;
  #waiters: ((v: T | undefined) => void)[] = objectArray();
  #space: { size: number; run: () => void }[] = objectArray();
  #closed = false;
  #bytes = 0;
  readonly #maxBytes: number;
  readonly #sizeOf?: (item: T) => number;
  /** Items dropped by the overflow policy. */
  dropped = 0;
  #onTake?: (item: T) => void;
  #onClose?: (() => void)[];

  /**
   * A queue of at most `capacity` items (and, with `sizeOf`, at most
   * `maxBytes` bytes, though one item larger than that still fits an empty
   * queue), full queues handled by `policy`.
   */
  constructor(
    readonly capacity: number,
    readonly policy: OverflowPolicy,
    bytes?: { maxBytes: number; sizeOf: (item: T) => number },
  ) {
    // Options a caller typed: Broker's error type, and named as they were given.
    if (!(Number.isSafeInteger(capacity) && capacity >= 1)) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `queueSize must be a positive integer, got ${capacity}`,
      );
    }
    if (policy !== "drop_oldest" && policy !== "drop_newest" && policy !== "block") {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `overflowPolicy must be drop_oldest, drop_newest or block, got ${String(policy)}`,
      );
    }
    if (bytes && !(bytes.maxBytes >= 1)) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `maxQueuedBytes must be at least 1, got ${bytes.maxBytes}`,
      );
    }
    this.#maxBytes = bytes?.maxBytes ?? Infinity;
    this.#sizeOf = bytes?.sizeOf;
  }

  /**
   * Calls `fn` with each item as a reader takes it (`get`, `shift`, `poll`,
   * iteration), synchronously: a watcher of reads without a promise of its
   * own per item. Items the overflow policy drops are not reads.
   */
  onTake(fn: (item: T) => void): void {
    this.#onTake = fn;
  }

  /**
   * Calls `fn` once, when the queue closes (each function given, in order):
   * the owner of a set of queues forgets one as its reader closes it, not
   * at the next item it would have pushed.
   */
  onClose(fn: () => void): void {
    (this.#onClose ??= []).push(fn);
  }

  /** Items ready to be read. */
  get length(): number {
    return this.#items.length - this.#head;
  }

  /** Bytes of the items ready to be read (0 without `sizeOf`). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Whether an item of `size` bytes must wait (or be dropped). */
  #full(size: number): boolean {
    const n = this.length;
    return n >= this.capacity || (n > 0 && this.#bytes + size > this.#maxBytes);
  }

  #append(item: T, size: number): void {
    this.#items.push(item);
    this.#bytes += size;
  }

  /** Whether `close()` was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Adds an item. Returns a promise only when the policy is `block` and the
   * queue is full; it settles once the item is in.
   */
  push(item: T): void | Promise<void> {
    if (this.#closed) return;
    const w = this.#waiters.shift();
    if (w) return w(item);
    const size = this.#sizeOf ? this.#sizeOf(item) : 0;
    if (!this.#full(size)) {
      this.#append(item, size);
      return;
    }
    if (this.policy === "drop_newest") {
      this.dropped++;
      return;
    }
    if (this.policy === "drop_oldest") {
      while (this.#full(size)) {
        this.#take();
        this.dropped++;
      }
      this.#append(item, size);
      return;
    }
    return new Promise<void>((resolve) => {
      this.#space.push({
        size,
        run: () => {
          // A reader waiting right now takes the item; otherwise it joins the queue.
          const w2 = this.#waiters.shift();
          if (w2) w2(item);
          else this.#append(item, size);
          resolve();
        },
      });
    });
  }

  #take(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined as T;
    if (this.#sizeOf) this.#bytes -= this.#sizeOf(item);
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const s = this.#space[0];
    if (s && !this.#full(s.size)) {
      this.#space.shift();
      s.run();
    }
    return item;
  }

  /** Takes the next ready item without waiting (undefined when there is none). */
  shift(): T | undefined {
    const item = this.#take();
    if (item !== undefined) this.#onTake?.(item);
    return item;
  }

  /** Takes every ready item without waiting. */
  poll(): T[] {
    const out: T[] = [];
    while (this.length > 0) out.push(this.#take()!);
    if (this.#onTake) { for (const item of out) this.#onTake(item); }
    return out;
  }

  /** Waits for the next item; undefined on timeout (ms) or when closed. */
  get(timeoutMs?: number): Promise<T | undefined> {
    if (this.length > 0) return Promise.resolve(this.shift());
    if (this.#closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = (v: T | undefined) => {
        clearTimeout(timer);
        if (v !== undefined) this.#onTake?.(v);
        resolve(v);
      };
      this.#waiters.push(waiter);
      if (timeoutMs !== undefined) {
        timer = setTimeout(() => {
          const i = this.#waiters.indexOf(waiter);
          if (i >= 0) this.#waiters.splice(i, 1);
          resolve(undefined);
        }, timerDelay(timeoutMs));
      }
    });
  }

  /** Ends the queue: readers get what is left, then undefined. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(undefined);
    for (const s of this.#space.splice(0)) s.run();
    if (this.#onClose) { for (const fn of this.#onClose) fn(); }
  }

  /** Reads until closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      const v = await this.get();
      if (v === undefined) return;
      yield v;
    }
  }

  /** A ReadableStream of the items (pull-based, so the queue's bound still holds). */
  stream(): ReadableStream<T> {
    return new ReadableStream<T>({
      pull: async (controller) => {
        const v = await this.get();
        if (v === undefined) controller.close();
        else controller.enqueue(v);
      },
      cancel: () => this.close(),
    });
  }
}
