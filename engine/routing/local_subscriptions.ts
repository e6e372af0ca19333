/**
 * An endpoint's own subscribers: the trie from their prefixes to them, the
 * filter the endpoint advertises to its peers (and its version, so a peer
 * that saw an older one gets an update), and delivery to them of what
 * arrives from peers or is published here. Sans-I/O: a grown filter is
 * announced through a callback.
 *
 * @example
 * ```ts
 * import { LocalSubscriptions } from "./local_subscriptions.ts";
 * import { Subscriber } from "../subscriber.ts";
 * import { count, encode } from "../data/mod.ts";
 * let announced = 0;
 * const local = new LocalSubscriptions(() => announced++);
 * const sub = new Subscriber(local, ["/a", "/a/b"]);
 * local.deliverReceived("/a/b/c", encode(count(1n)), false);
 * if (sub.available() !== 1) throw new Error("nested prefixes: delivered once");
 * if (local.filter.join() !== "/a" || announced !== 1) throw new Error("one filter change");
 * ```
 *
 * @module
 */
import { type Data, encode } from "../data/mod.ts";
import type { PendingMessage, Subscriber, SubscriptionHost } from "../subscriber.ts";
import { DeliveryLatency } from "../delivery_latency.ts";
import { insertIntoFilter } from "./filter.ts";
import { PrefixTrie } from "./trie.ts";

/** The local subscribers of one endpoint and the filter they add up to. */
export class LocalSubscriptions implements SubscriptionHost {
  /** Subscribers by prefix. */
  readonly local = new PrefixTrie<Subscriber>();
  /**
   * Subscribers that also get this endpoint's own publishes: WebSocket
   * clients, to which Broker's core hands every data message, local ones too.
   */
  readonly echo = new PrefixTrie<Subscriber>();
  readonly #subscribers = new Set<Subscriber>();
  /** Sampled waits of messages between arrival (or a local publish) and a reader. */
  readonly latency: DeliveryLatency = new DeliveryLatency();
  readonly #filter: string[] = [];
  #version = 0;
  readonly #grew: () => void;

  /** `grew` announces a grown filter to every peer. */
  constructor(grew: () => void) {
    this.#grew = grew;
  }

  /** The filter as Broker advertises it (sorted, prefix-minimal). */
  get filter(): readonly string[] {
    return this.#filter;
  }

  /** How many subscribers there are now. */
  get subscriberCount(): number {
    return this.#subscribers.size;
  }

  /** Bumped whenever the filter grows, so a connection can tell whether it saw the latest. */
  get version(): number {
    return this.#version;
  }

  /**
   * Adds topics to the advertised filter (subscriptions, store topics). When
   * it grows, the version goes up and the peers are told, once per call.
   */
  addToFilter(topics: Iterable<string>): void {
    let grew = false;
    for (const t of topics) if (insertIntoFilter(this.#filter, t)) grew = true;
    if (!grew) return;
    this.#version++;
    this.#grew();
  }

  /** Routes the topics to `sub` and grows the filter. */
  addSubscriptions(sub: Subscriber, topics: readonly string[]): void {
    this.#subscribers.add(sub);
    for (const t of topics) this.local.add(t, sub);
    this.addToFilter(topics);
  }

  /** Stops routing `topic` to `sub` (peers keep the filter, as with Broker). */
  removeSubscription(sub: Subscriber, topic: string): void {
    this.local.remove(topic, sub);
    this.echo.remove(topic, sub);
  }

  /** Forgets `sub`. */
  detach(sub: Subscriber): void {
    this.#subscribers.delete(sub);
    for (const t of sub.topics) {
      this.local.remove(t, sub);
      this.echo.remove(t, sub);
    }
  }

  /** Lets `sub` receive this endpoint's own publishes on its topics too. */
  echoTo(sub: Subscriber): void {
    for (const t of sub.topics) this.echo.add(t, sub);
  }

  /**
   * Hands a value published here to the subscribers of `topic` (all but
   * `except`), or only to those that want our own publishes. Returns a
   * promise when a full `block` queue took the message to hold until it
   * has room: it resolves then. A publisher with a socket behind it (a
   * WebSocket client) stops reading it meanwhile, as a peer's is; the
   * endpoint's own code has none to slow down, and does not wait.
   */
  deliverPublished(
    topic: string,
    data: Data | Uint8Array,
    except?: Subscriber,
    echoOnly = false,
  ): Promise<void> | undefined {
    let msg: PendingMessage | undefined;
    let waits: Promise<void>[] | undefined;
    (echoOnly ? this.echo : this.local).forEachMatch(topic, (sub) => {
      if (sub === except) return;
      msg ??= { topic, payload: data instanceof Uint8Array ? data : encode(data) };
      const wait = sub.deliver(msg);
      if (wait) (waits ??= []).push(wait);
    });
    if (waits === undefined) return undefined;
    return waits.length === 1 ? waits[0] : Promise.all(waits).then(() => {});
  }

  /**
   * Hands a message from a peer to the subscribers of `topic`. The payload
   * lies in the transport's reused read buffer: each subscriber copies it.
   * Returns a promise when a subscriber asks the peer to wait.
   */
  deliverReceived(topic: string, payload: Uint8Array, unsorted: boolean): void | Promise<void> {
    let wait: Promise<void>[] | undefined;
    // The trie's array, looped over in place: a closure per message was most of what this allocated.
    const subs = this.local.hits(topic);
    for (let i = 0; i < subs.length; i++) {
      const p = subs[i].deliverBytes(topic, payload, unsorted);
      if (p) (wait ??= []).push(p);
    }
    if (wait) return Promise.all(wait).then(() => {});
  }

  /** Ends every subscriber (at shutdown). */
  closeAll(): void {
    for (const sub of [...this.#subscribers]) sub.close();
  }
}
