/**
 * The one place an endpoint's status and error events go out: every part
 * (listeners, dialer, connections, overflow, router) reports here, and each
 * status subscriber gets its own bounded queue.
 *
 * @example
 * ```ts
 * import { StatusHub } from "./status_hub.ts";
 * import { StatusCode, statusEvent } from "./status.ts";
 * const hub = new StatusHub();
 * const errorsOnly = hub.subscribe({ statuses: false });
 * const all = hub.subscribe();
 * hub.emit(statusEvent(StatusCode.peer_added, "handshake successful"));
 * if (errorsOnly.length !== 0 || all.length !== 1) throw new Error("statuses go to `all` only");
 * hub.close();
 * ```
 *
 * @module
 */
import { heldBy } from "./held.ts";
import { BoundedQueue } from "./queue.ts";
import type { StatusEvent } from "./status.ts";

/** Default of {@linkcode StatusSubscriberOptions.queueSize}. */
export const DEFAULT_STATUS_QUEUE_SIZE = 256;

/** Options of `Endpoint.statusSubscriber`. */
export interface StatusSubscriberOptions {
  /**
   * Whether status changes (peer_added, peer_lost, ...) come too; with
   * `false`, only errors.
   * @default {true}
   */
  statuses?: boolean;
  /**
   * Events held before the oldest is dropped (a status subscriber never
   * slows the endpoint down).
   * @default {256}
   */
  queueSize?: number;
}

/**
 * Fans status events out to the endpoint's status subscribers (or a
 * gateway's: `E` is the event type, a `StatusEvent` or one with more fields).
 */
export class StatusHub<E extends StatusEvent = StatusEvent> {
  readonly #queues = new Set<{ q: BoundedQueue<E>; statuses: boolean }>();
  readonly #forward?: (event: E) => void;

  /** A hub; `forward` also gets every event (an endpoint publishes them as data). */
  constructor(forward?: (event: E) => void) {
    this.#forward = forward;
  }

  /**
   * A new subscriber's queue; closing the queue unsubscribes it, and so
   * does dropping it unclosed, once it is collected (the hub holds the
   * queue behind the one handed out; a read waiting on it keeps it).
   */
  subscribe(options: StatusSubscriberOptions = {}): BoundedQueue<E> {
    const entry = {
      q: new BoundedQueue<E>(
        options.queueSize ?? DEFAULT_STATUS_QUEUE_SIZE,
        "drop_oldest",
      ),
      statuses: options.statuses ?? true,
    };
    this.#queues.add(entry);
    // Forgotten as it closes: a store handle opens one and closes it with
    // the handle, and on a quiet endpoint (no status to prune them at) the
    // closed ones piled up.
    entry.q.onClose(() => this.#queues.delete(entry));
    return new QueueHandle(entry.q);
  }

  /** Status subscribers now (open ones). */
  get size(): number {
    return this.#queues.size;
  }

  /** Hands `event` to every subscriber that wants its kind. */
  emit(event: E): void {
    for (const e of this.#queues) {
      if (event.kind === "status" && !e.statuses) continue;
      e.q.push(event);
    }
    this.#forward?.(event);
  }

  /** Ends every subscriber's queue (at shutdown). */
  close(): void {
    for (const e of this.#queues) e.q.close();
    this.#queues.clear();
  }
}

/** Closes the queue behind a handle that was collected unclosed. */
const collected = new FinalizationRegistry<{ close(): void }>((inner) => inner.close());

/**
 * What `StatusHub.subscribe` hands out: the hub's queue behind a handle
 * that closes it once the handle is collected unclosed. A read waiting on
 * the handle (`get`, iteration, `stream`) holds it, through the inner
 * queue that holds the read.
 */
class QueueHandle<T> extends BoundedQueue<T> {
  readonly #inner: BoundedQueue<T>;

  constructor(inner: BoundedQueue<T>) {
    super(inner.capacity, inner.policy);
    this.#inner = inner;
    // `dropped` is a field: the inner queue's, read and written through.
    Object.defineProperty(this, "dropped", {
      get: () => inner.dropped,
      set: (v: number) => void (inner.dropped = v),
      enumerable: true,
    });
    collected.register(this, inner, this);
  }

  override onTake(fn: (item: T) => void): void {
    this.#inner.onTake(fn);
  }

  override onClose(fn: () => void): void {
    this.#inner.onClose(fn);
  }

  override get length(): number {
    return this.#inner.length;
  }

  override get bytes(): number {
    return this.#inner.bytes;
  }

  override get closed(): boolean {
    return this.#inner.closed;
  }

  override push(item: T): void | Promise<void> {
    return this.#inner.push(item);
  }

  override shift(): T | undefined {
    return this.#inner.shift();
  }

  override poll(): T[] {
    return this.#inner.poll();
  }

  override get(timeoutMs?: number): Promise<T | undefined> {
    const inner = this.#inner;
    const got = inner.get(timeoutMs);
    return inner.length > 0 || inner.closed ? got : heldBy(this, got);
  }

  override close(): void {
    collected.unregister(this);
    this.#inner.close();
  }

  // Iteration and `stream()` are BoundedQueue's: they read through `get` and
  // `close` above, so they hold the handle too.
}
