/**
 * Callback subscriptions, Broker's `endpoint::subscribe(filter, on_next)`:
 * each message goes to a function as it arrives, with no queue, no copy of
 * its payload and no promise per message. For consumers that look at every
 * message at once and keep little of it (a relay watching for a stop, a
 * counter, a forwarder), where a subscriber's queue and its copies cost more
 * than the consumer (a relay passing WebSocket traffic spent a third of its
 * CPU there).
 *
 * @module
 */
import type { Subscriber } from "./subscriber.ts";

/**
 * Takes one message: its topic and its value in Broker's binary format. The
 * payload is a view of the endpoint's read buffer, valid only during the
 * call (copy it, e.g. with `slice()`, to keep it; `decode` it for its value).
 * A promise slows the peers down until it settles, as a full `block`
 * subscriber does.
 */
export type MessageCallback = (topic: string, payload: Uint8Array) => void | Promise<void>;

/**
 * A running callback subscription (`Endpoint.subscribeWith`). If the
 * callback throws (or its promise rejects), the subscription ends and
 * `error` holds what was thrown: the endpoint and its peerings go on.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, decode, dataToString, Endpoint } from "../mod.ts";
 * const endpoint = new Endpoint();
 * const seen: string[] = [];
 * const sub = endpoint.subscribeWith("/t", (topic, payload) => {
 *   seen.push(`${topic} ${dataToString(decode(payload))}`);
 * });
 * endpoint.publish("/t/a", count(1n), { local: true });
 * equal(seen.join(), "/t/a 1");
 * sub.close();
 * await endpoint.shutdown();
 * ```
 */
export class CallbackSubscription {
  readonly #sub: Subscriber;
  #error: unknown;
  #failed = false;
  readonly #done: Promise<void>;
  #ended!: () => void;

  /** Hands `sub`'s messages to `onMessage` from now on (see `Endpoint.subscribeWith`). */
  constructor(sub: Subscriber, onMessage: MessageCallback) {
    this.#sub = sub;
    this.#done = new Promise((resolve) => this.#ended = resolve);
    const fail = (e: unknown) => {
      if (this.#failed) return;
      this.#failed = true;
      this.#error = e;
      sub.close();
    };
    const accept = (topic: string, payload: Uint8Array): void | Promise<void> => {
      if (this.#failed) return;
      try {
        const pending = onMessage(topic, payload);
        if (pending !== undefined) return Promise.resolve(pending).catch(fail);
      } catch (e) {
        fail(e);
      }
    };
    // Made a moment ago: nothing has been queued to hand over.
    for (const m of sub.divert({ accept, closed: () => this.#ended() })) {
      accept(m.topic, m.payload);
    }
  }

  /** Resolves once it ended (see `closed`). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** The topic prefixes it receives. */
  get topics(): string[] {
    return this.#sub.topics;
  }

  /** Whether it ended: `close()`, the endpoint's shutdown, or a callback that threw. */
  get closed(): boolean {
    return this.#sub.closed;
  }

  /** What the callback threw, if it did (the subscription then ended). */
  get error(): unknown {
    return this.#error;
  }

  /** Stops the messages. */
  close(): void {
    this.#sub.close();
  }
}
