/**
 * The XPUB/XSUB proxy at the centre of a Zeek 8 ZeroMQ cluster, sans-I/O:
 * what `zmq_proxy` does with the sockets Zeek's manager binds
 * (`ZeroMQ-Proxy.cc`: XPUB with `xpub_verboser`, XSUB). Nodes' XSUB sockets
 * connect to its XPUB side and send subscriptions; nodes' XPUB sockets
 * connect to its XSUB side and send messages. The proxy
 * - passes every subscription and cancellation from the XPUB side on to
 *   every XSUB-side peer (`xpub_verboser`: duplicates included), except
 *   that, as libzmq's XSUB, a cancellation goes on only when no
 *   subscription to that topic is left;
 * - sends a newly connected XSUB-side peer every live subscription once
 *   (libzmq's XSUB does so on attach), which is how a node learns the
 *   others' node-ID topics;
 * - cancels a departing XPUB-side peer's subscriptions (what tells the
 *   nodes that one went down);
 * - delivers each message from the XSUB side to every XPUB-side peer with a
 *   subscription that prefixes its first part, once per peer.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { ZmqProxy } from "./proxy.ts";
 * const te = new TextEncoder();
 * const proxy = new ZmqProxy();
 * proxy.connect(1, "xpub");
 * proxy.connect(2, "xsub");
 * proxy.subscription(1, { subscribe: true, topic: te.encode("zeek.") });
 * const out = proxy.message(2, [te.encode("zeek.cluster.manager"), te.encode("x")]);
 * deepEqual(out.map((o) => o.peer), [1]);
 * ```
 *
 * @module
 */
import type { Subscription } from "./subscription.ts";
import { latin1 } from "../bytes.ts";

/** Which socket of the proxy a peer is connected to. */
export type ProxySide = "xpub" | "xsub";

/** Something to send: a message (multipart) or a subscription, to one peer. */
export type ProxyOutput =
  | {
    /** The peer to send to. */
    peer: number;
    /** A message's parts. */
    parts: Uint8Array[];
    /** The message's frames as received, to send as they are (see the session's `raw`). */
    raw?: Uint8Array;
  }
  | {
    /** The peer to send to. */
    peer: number;
    /** A subscription or cancellation. */
    subscription: Subscription;
  };

// Topics as strings, one char per byte (`latin1`), so prefixes compare byte-wise.
const bytesOf = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** The proxy's routing state (see the module doc). Peers are numbered by the caller. */
export class ZmqProxy {
  // XPUB-side peers: their subscriptions, topic (bytes as latin1) to count.
  readonly #subscribers = new Map<number, Map<string, number>>();
  // XSUB-side peers, in connection order.
  readonly #publishers = new Set<number>();
  // What the XSUB side is subscribed to: topic to count over all XPUB-side peers.
  readonly #upstream = new Map<string, number>();
  // Who gets a topic, by the topic's bytes: a forwarder asks per message, and reading the
  // topic as a string each time cost more than the forwarding. Cleared when subscribers change.
  readonly #routes = new Map<number, Route>();
  #last?: Route;

  /** A peer connected to one side (call once its handshake is done). */
  connect(peer: number, side: ProxySide): ProxyOutput[] {
    if (side === "xpub") {
      this.#subscribers.set(peer, new Map());
      this.#forgetRoutes();
      return [];
    }
    this.#publishers.add(peer);
    return [...this.#upstream.keys()].map((t) => ({
      peer,
      subscription: { subscribe: true, topic: bytesOf(t) },
    }));
  }

  /** A peer went away; an XPUB-side peer's subscriptions are cancelled. */
  disconnect(peer: number): ProxyOutput[] {
    this.#publishers.delete(peer);
    const subs = this.#subscribers.get(peer);
    if (!subs) return [];
    this.#subscribers.delete(peer);
    this.#forgetRoutes();
    const out: ProxyOutput[] = [];
    for (const [topic, n] of subs) {
      for (let i = 0; i < n; i++) out.push(...this.#cancel(topic));
    }
    return out;
  }

  /** A subscription or cancellation from an XPUB-side peer. */
  subscription(peer: number, sub: Subscription): ProxyOutput[] {
    const subs = this.#subscribers.get(peer);
    if (!subs) return [];
    const topic = latin1(sub.topic);
    const n = subs.get(topic) ?? 0;
    this.#forgetRoutes();
    if (sub.subscribe) {
      subs.set(topic, n + 1);
      this.#upstream.set(topic, (this.#upstream.get(topic) ?? 0) + 1);
      return [...this.#publishers].map((p) => ({ peer: p, subscription: sub }));
    }
    if (n === 0) return []; // nothing to cancel: libzmq drops it
    if (n === 1) subs.delete(topic);
    else subs.set(topic, n - 1);
    return this.#cancel(topic);
  }

  #cancel(topic: string): ProxyOutput[] {
    const n = this.#upstream.get(topic) ?? 0;
    if (n > 1) {
      this.#upstream.set(topic, n - 1);
      return [];
    }
    this.#upstream.delete(topic);
    return [...this.#publishers].map((p) => ({
      peer: p,
      subscription: { subscribe: false, topic: bytesOf(topic) },
    }));
  }

  /** A message from an XSUB-side peer: to every XPUB-side peer subscribed to its topic. */
  message(peer: number, parts: Uint8Array[], raw?: Uint8Array): ProxyOutput[] {
    if (parts.length === 0) return [];
    const dests = this.subscribersOf(peer, parts[0], 0, parts[0].length);
    return dests.map((p) => raw ? { peer: p, parts, raw } : { peer: p, parts });
  }

  /**
   * The XPUB-side peers a message from `peer` whose first part is
   * `buf[start, end)` goes to, for a forwarder that scans received bytes
   * (see `scan.ts`): no string and no array per message, the same array
   * for the same topic until the subscribers change. Empty when `peer` is
   * not on the XSUB side.
   *
   * @example
   * ```ts
   * import { deepEqual } from "node:assert/strict";
   * import { ZmqProxy } from "./proxy.ts";
   * const te = new TextEncoder();
   * const proxy = new ZmqProxy();
   * proxy.connect(1, "xpub");
   * proxy.connect(2, "xsub");
   * proxy.subscription(1, { subscribe: true, topic: te.encode("zeek.") });
   * const topic = te.encode("zeek.cluster.manager");
   * deepEqual(proxy.subscribersOf(2, topic, 0, topic.length), [1]);
   * ```
   */
  subscribersOf(peer: number, buf: Uint8Array, start: number, end: number): readonly number[] {
    if (!this.#publishers.has(peer)) return NOBODY;
    const last = this.#last;
    if (last && sameBytes(last.topic, buf, start, end)) return last.peers;
    const hash = fnv1a(buf, start, end);
    let route = this.#routes.get(hash);
    if (!route || !sameBytes(route.topic, buf, start, end)) {
      // Unknown (or a hash collision, which just takes the place of the other topic).
      const topic = buf.slice(start, end);
      route = { topic, peers: this.#match(latin1(topic)) };
      if (this.#routes.size >= MAX_ROUTES) this.#routes.clear();
      this.#routes.set(hash, route);
    }
    this.#last = route;
    return route.peers;
  }

  #match(topic: string): number[] {
    const peers: number[] = [];
    for (const [p, subs] of this.#subscribers) {
      for (const prefix of subs.keys()) {
        if (topic.startsWith(prefix)) {
          peers.push(p);
          break;
        }
      }
    }
    return peers;
  }

  #forgetRoutes(): void {
    this.#routes.clear();
    this.#last = undefined;
  }
}

interface Route {
  topic: Uint8Array;
  peers: readonly number[];
}

const NOBODY: readonly number[] = Object.freeze([]);
// Topics remembered at most (a cluster has a few dozen; a flood of distinct ones must not grow it).
const MAX_ROUTES = 4096;

function sameBytes(a: Uint8Array, buf: Uint8Array, start: number, end: number): boolean {
  if (a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== buf[start + i]) return false;
  return true;
}

function fnv1a(buf: Uint8Array, start: number, end: number): number {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i], 0x01000193);
  return h >>> 0;
}
