/**
 * One direction of a gateway, sans I/O: which data messages a side received
 * from its peers cross to the other side (those on the topics the far side's
 * peers subscribed to, as the near side advertises them, and that the topic
 * policy lets through), the counters, and back-pressure (a message waits
 * while the far side's peers have no room, and the near side's reading
 * connection waits with it). The endpoints are reached through
 * {@linkcode FarSide}; the near side hands each message to
 * {@linkcode Crossing.take} straight from its router, frame and all, so a
 * message crosses as one copy of its frame.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Crossing } from "./crossing.ts";
 * import { TopicPolicy } from "./policy.ts";
 * const sent: string[] = [];
 * const crossing = new Crossing("inward", new TopicPolicy({ deny: ["/t/secret"] }), {
 *   demand: () => 10,
 *   ready: () => Promise.resolve(),
 *   relay: (topic) => void sent.push(topic),
 * });
 * equal(crossing.advertise(["/t", "<$>/local"]).join(), "/t"); // Broker's own topics stay
 * const frame = new Uint8Array(8), payload = frame.subarray(6);
 * crossing.take("/t/x", frame, payload);
 * crossing.take("/t/secret/y", frame, payload);
 * crossing.take("/other", frame, payload); // nobody on the far side asked for it
 * equal(sent.join(), "/t/x");
 * equal(crossing.stats.messages, 1);
 * equal(crossing.stats.bytes, 2);
 * equal(crossing.stats.droppedByPolicy, 1);
 * ```
 *
 * @module
 */
import { PrefixTrie } from "../routing/trie.ts";
import type { GatewayDirectionStats, TopicPolicy } from "./policy.ts";

/** Which way a message crosses: `inward` from external to internal, `outward` the reverse. */
export type GatewayDirection = "inward" | "outward";

/** The side a crossing sends to, as the crossing sees it. */
export interface FarSide {
  /** How many more messages on `topic` every one of its matching peers can take now. */
  demand(topic: string): number;
  /** Resolves once its peers matching `topic` have room again. */
  ready(topic: string): Promise<void>;
  /**
   * Sends a received data message as its own publish: `frame` is the
   * envelope (without its length prefix) whose payload is `payload`, both
   * valid only during the call. Throws when it refuses the message.
   */
  relay(topic: string, frame: Uint8Array, payload: Uint8Array): void;
}

/** Sees a message that crossed; `payload` is valid only during the call. */
export type CrossListener = (
  direction: GatewayDirection,
  topic: string,
  payload: Uint8Array,
) => void;

/** One direction of a gateway (see the module documentation). */
export class Crossing {
  /** Which way it crosses. */
  readonly direction: GatewayDirection;
  /** What may cross. */
  readonly policy: TopicPolicy;
  /** What crossed and what the policy dropped (`subscriptionsFiltered` is `filtered.size`). */
  readonly stats: GatewayDirectionStats = {
    messages: 0,
    bytes: 0,
    droppedByPolicy: 0,
    subscriptionsFiltered: 0,
  };
  /** Far peers' subscriptions now that the policy kept from being advertised (or narrowed). */
  readonly filtered: Set<string> = new Set();
  /** The topics that cross: the prefixes advertised so far (they only grow). */
  readonly #topics = new PrefixTrie<true>();
  readonly #far: FarSide;
  readonly #onCross?: CrossListener;
  readonly #restricts: boolean;
  #closed = false;
  /** Settles at `close()`, so a message waiting for room does not hold the near side up. */
  #closing?: { promise: Promise<void>; resolve: () => void };

  /** A crossing sending to `far`; `onCross` sees every message that crossed. */
  constructor(
    direction: GatewayDirection,
    policy: TopicPolicy,
    far: FarSide,
    onCross?: CrossListener,
  ) {
    this.direction = direction;
    this.policy = policy;
    this.#far = far;
    this.#onCross = onCross;
    this.#restricts = policy.restricts;
  }

  /**
   * Takes the far side's peers' subscriptions (all of them, as they are
   * now) and returns the prefixes the near side should advertise for them:
   * Broker's own topics (`<$>`, data stores' channels) stay on their side,
   * and the policy narrows or drops the rest. What it returns also crosses
   * from now on (filters only grow).
   */
  advertise(peerTopics: readonly string[]): string[] {
    if (this.#closed) return [];
    const data = peerTopics.filter((t) => !t.includes("<$>"));
    const allowed = this.policy.advertised(data);
    // What the far side's peers have now: a peer gone takes its filtered subscriptions along
    // (kept, they grew the set, and the gauge, by one per departed peer's topic).
    this.filtered.clear();
    for (const t of data) if (!allowed.includes(t)) this.filtered.add(t);
    for (const t of allowed) this.#topics.add(t, true);
    return allowed;
  }

  /**
   * Offers a data message the near side received from a peer (validated;
   * `frame` and `payload` as in {@linkcode FarSide.relay}, valid only during
   * the call). It crosses when its topic was advertised and the policy
   * permits it. Returns a promise when the far side has no room: the near
   * side should read nothing more from that peer until it settles.
   */
  take(topic: string, frame: Uint8Array, payload: Uint8Array): void | Promise<void> {
    if (this.#closed || !this.#topics.matches(topic)) return;
    if (this.#restricts && !this.policy.permits(topic)) {
      this.stats.droppedByPolicy++;
      return;
    }
    // Asked for every message, as Endpoint.publishAll asks: the crossing is
    // not the far peers' only sender (the far endpoint forwards its own
    // peers' messages and publishes its own), and room they took since, used
    // again, cut those peers (overflow policy `disconnect`).
    if (this.#far.demand(topic) <= 0) return this.#later(topic, frame.slice(), payload.length);
    this.#send(topic, frame, payload);
  }

  /** Stops crossing: messages offered from now on, and those waiting for room, are dropped. */
  close(): void {
    this.#closed = true;
    this.#closing?.resolve();
  }

  /** Sends `frame` (our copy, its payload its last `size` bytes) once the far side has room. */
  async #later(topic: string, frame: Uint8Array, size: number): Promise<void> {
    this.#closing ??= Promise.withResolvers<void>();
    await Promise.race([this.#far.ready(topic), this.#closing.promise]);
    if (this.#closed) return;
    this.#send(topic, frame, frame.subarray(frame.length - size));
  }

  #send(topic: string, frame: Uint8Array, payload: Uint8Array): void {
    try {
      this.#far.relay(topic, frame, payload);
    } catch {
      return; // the far side refuses it (a reserved topic, or it shut down)
    }
    this.stats.messages++;
    this.stats.bytes += payload.length;
    this.#onCross?.(this.direction, topic, payload);
  }
}
