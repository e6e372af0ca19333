/**
 * Gateways, as Broker's manual describes them: two endpoints in one process,
 * E (external) and I (internal), that share one endpoint ID and are joined
 * by a shortcut instead of a peering. Each side subscribes, on its own
 * domain, to what the other side's peers subscribed to, and re-publishes
 * what arrives for the other side as its own publish there. To either domain
 * the gateway is one ordinary endpoint; the endpoints behind it are never
 * seen (no `endpoint_discovered`, no IDs on the wire, no routing entries).
 *
 * Beyond Broker (whose `broker-gateway` is no longer built): a topic policy
 * per direction (allow and deny prefix lists), counters per direction, and
 * the manual's warning made a guard: traffic from the gateway's own ID that
 * arrives on either side (another path joins the domains) is dropped and
 * reported as an error, and so is an endpoint peered with both sides.
 *
 * @example
 * ```ts
 * import { Gateway } from "./gateway.ts";
 * import { Endpoint } from "../endpoint.ts";
 * import { count } from "../data/mod.ts";
 * const gw = new Gateway({ external: { port: 0 }, internal: { port: 0 } });
 * const ports = await gw.start();
 * const sensor = new Endpoint(), core = new Endpoint();
 * const sub = core.subscribe("/alerts");
 * await core.peer("127.0.0.1", ports.external!);
 * await sensor.peer("127.0.0.1", ports.internal!);
 * await sensor.awaitPeerSubscription("/alerts"); // the core's subscription, advertised inside
 * sensor.publish("/alerts/x", count(1n));
 * const got = await sub.get(5000);
 * if (got?.data.value !== 1n) throw new Error("crossed");
 * if (core.peers().some((p) => p.id === sensor.id)) throw new Error("opaque");
 * await sensor.shutdown();
 * await core.shutdown();
 * await gw.shutdown();
 * ```
 *
 * @module
 */
import { Endpoint } from "../endpoint.ts";
import type { EndpointOptions } from "../endpoint_options.ts";
import { DEFAULT_RETRY_MS } from "../endpoint_options.ts";
import { ErrorCode } from "../errors.ts";
import type { BoundedQueue } from "../queue.ts";
import { errorEvent, StatusCode, type StatusEvent } from "../status.ts";
import { StatusHub, type StatusSubscriberOptions } from "../status_hub.ts";
import { Crossing, type FarSide, type GatewayDirection } from "./crossing.ts";
import { type GatewayDirectionStats, TopicPolicy, type TopicPolicyOptions } from "./policy.ts";
import { listenOn } from "../transport/listen_everywhere.ts";

export { type GatewayDirectionStats, TopicPolicy, type TopicPolicyOptions } from "./policy.ts";
export type { GatewayDirection } from "./crossing.ts";

/** One of a gateway's two domains. */
export type GatewaySide = "external" | "internal";

/** A peer to dial. */
export interface GatewayPeer {
  /** Host name or address. */
  host: string;
  /** TCP port. */
  port: number;
}

/** How a gateway meets one of its domains. */
export interface GatewaySideOptions {
  /**
   * Port to accept that domain's peers on; 0 picks a free one (see
   * `start()`'s result). Absent: this side does not listen.
   */
  port?: number;
  /**
   * Address to listen on. Absent: every interface, as Broker's gateway
   * listens (`::`, which takes IPv4 too; `0.0.0.0` where the machine has no
   * IPv6).
   */
  address?: string;
  /** Peers of that domain to dial at `start()`. */
  peers?: readonly GatewayPeer[];
  /**
   * Broker's `disable-forwarding` on this side: the gateway relays nothing
   * between the endpoints of this domain, so each believes the gateway is
   * the only other endpoint.
   * @default {false}
   */
  disableForwarding?: boolean;
  /**
   * Pause between re-dials of a failed or lost peering (Broker's 10 s);
   * 0 dials once.
   * @default {10_000}
   */
  retryMs?: number;
}

/** Options of `new Gateway`. */
export interface GatewayOptions {
  /** The ID both sides share (UUID text); random when absent. */
  id?: string;
  /** The external domain: stable, well-connected endpoints. */
  external?: GatewaySideOptions;
  /** The internal domain: edge endpoints (sensors, agents). */
  internal?: GatewaySideOptions;
  /** What may cross from external to internal (messages), and so which internal subscriptions E advertises. */
  inward?: TopicPolicyOptions;
  /** What may cross from internal to external, and so which external subscriptions I advertises. */
  outward?: TopicPolicyOptions;
  /**
   * Endpoint options both sides share (TLS, buffer sizes, timeouts, ...);
   * `id`, `disableForwarding` and `sharedIdLane` are the gateway's.
   */
  endpoint?: Omit<EndpointOptions, "id" | "disableForwarding" | "sharedIdLane">;
  /**
   * Sees every message that crosses (e.g. to print it), after the policy;
   * `payload` is Broker's binary form, valid only during the call.
   */
  onCross?: (direction: GatewayDirection, topic: string, payload: Uint8Array) => void;
}

/** A status or error of either side, or of the gateway itself, with where it happened. */
export interface GatewayEvent extends StatusEvent {
  /** The side whose endpoint reported it (the loop guard reports on the side where it saw the loop). */
  side: GatewaySide;
}

/** Counters of both directions. */
export interface GatewayStats {
  /** External to internal. */
  inward: GatewayDirectionStats;
  /** Internal to external. */
  outward: GatewayDirectionStats;
  /** Messages from the gateway's own ID that arrived on a side and were dropped (the loop guard). */
  loopsDropped: number;
}

/** Ports a started gateway listens on. */
export interface GatewayPorts {
  /** The external side's port, when it listens. */
  external?: number;
  /** The internal side's port, when it listens. */
  internal?: number;
}

/** Message of the errors the engine reports for its own ID arriving (see `sharedIdLane`). */
const OWN_TRAFFIC = /another path joins the twin's network to ours/;

/**
 * A gateway between an external and an internal Broker domain (see the
 * module documentation). `start()` listens and dials; `statusSubscriber()`
 * reports both sides' statuses and the loop guard; `stats()` counts.
 */
export class Gateway {
  /** Removes the metric series registered at construction (run at close). */
  readonly #unmetrics: (() => void)[] = [];
  readonly #external: Endpoint;
  readonly #internal: Endpoint;
  readonly #options: GatewayOptions;
  readonly #hub = new StatusHub<GatewayEvent>();
  readonly #inward: Crossing;
  readonly #outward: Crossing;
  readonly #tasks: Promise<void>[] = [];
  readonly #unwatch: (() => void)[] = [];
  readonly #statusQueues: BoundedQueue<StatusEvent>[] = [];
  readonly #stopWatching: (() => void)[] = [];
  /**
   * When each (side, peer) last got a loop-guard report, to report floods
   * once a second; a peer's entry goes with its peering (see
   * `#watchStatuses`), so the map holds the current peers at most.
   */
  readonly #loopReported = new Map<string, number>();
  #loopsDropped = 0;
  #started = false;
  #closed = false;

  /** Builds both sides; nothing listens or dials until `start()`. */
  constructor(options: GatewayOptions = {}) {
    this.#options = options;
    const base = options.endpoint ?? {};
    this.#external = new Endpoint({
      ...base,
      id: options.id,
      disableForwarding: options.external?.disableForwarding ?? false,
      sharedIdLane: 0,
    });
    this.#internal = new Endpoint({
      ...base,
      id: this.#external.id,
      disableForwarding: options.internal?.disableForwarding ?? false,
      sharedIdLane: 1,
    });
    // Inward: E takes what internal peers want, I publishes it; outward the reverse.
    const onCross = options.onCross;
    this.#inward = new Crossing(
      "inward",
      new TopicPolicy(options.inward),
      farSide(this.#internal),
      onCross,
    );
    this.#outward = new Crossing(
      "outward",
      new TopicPolicy(options.outward),
      farSide(this.#external),
      onCross,
    );
    this.#registerMetrics();
  }

  /**
   * The gateway's counters as metrics, on both sides' endpoints (so either
   * side's metrics port serves them): `broker_gateway_messages_total`,
   * `broker_gateway_bytes_total`, `broker_gateway_dropped_by_policy_total`
   * and `broker_gateway_subscriptions_filtered` by `direction` (inward,
   * outward), and `broker_gateway_loops_dropped_total`.
   */
  #registerMetrics(): void {
    const both = (pick: (s: GatewayDirectionStats, c: Crossing) => number) => () =>
      [this.#inward, this.#outward].map((c) => ({
        labels: { direction: c.direction },
        value: pick(c.stats, c),
      }));
    for (const ep of [this.#external, this.#internal]) {
      this.#unmetrics.push(ep.addMetrics(
        "broker_gateway_messages_total",
        "Total number of messages the gateway passed from one side to the other.",
        "counter",
        both((s) => s.messages),
      ));
      this.#unmetrics.push(ep.addMetrics(
        "broker_gateway_bytes_total",
        "Total number of payload bytes the gateway passed from one side to the other.",
        "counter",
        both((s) => s.bytes),
      ));
      this.#unmetrics.push(ep.addMetrics(
        "broker_gateway_dropped_by_policy_total",
        "Total number of messages the gateway's topic policy kept from crossing.",
        "counter",
        both((s) => s.droppedByPolicy),
      ));
      this.#unmetrics.push(ep.addMetrics(
        "broker_gateway_subscriptions_filtered",
        "Number of subscriptions the gateway's topic policy keeps from crossing.",
        "gauge",
        both((_, c) => c.filtered.size),
      ));
      this.#unmetrics.push(ep.addMetrics(
        "broker_gateway_loops_dropped_total",
        "Total number of messages from the gateway's own ID dropped by its loop guard.",
        "counter",
        () => [{ labels: {}, value: this.#loopsDropped }],
      ));
    }
  }

  /** The endpoint ID both sides share (UUID text): the only one either domain sees. */
  get id(): string {
    return this.#external.id;
  }

  /**
   * The external side's endpoint: peer it, or publish and subscribe there
   * as the gateway itself. Its subscriptions are its own (they do not cross).
   */
  get external(): Endpoint {
    return this.#external;
  }

  /** The internal side's endpoint (see `external`). */
  get internal(): Endpoint {
    return this.#internal;
  }

  /**
   * Starts the shortcut, listens on the configured ports and dials the
   * configured peers (failures show up as statuses; dialling goes on in the
   * background every `retryMs`). Resolves with the ports it listens on.
   */
  async start(): Promise<GatewayPorts> {
    if (this.#started) throw new Error("gateway already started");
    this.#started = true;
    this.#watchStatuses("external", this.#external);
    this.#watchStatuses("internal", this.#internal);
    // E advertises what I's peers want (inward), I what E's peers want (outward).
    this.#unwatch.push(
      this.#internal.watchPeerSubscriptions((t) => this.#advertise(this.#inward, t)),
      this.#external.watchPeerSubscriptions((t) => this.#advertise(this.#outward, t)),
    );
    this.#external.tapReceived((topic, frame, payload) => this.#inward.take(topic, frame, payload));
    this.#internal.tapReceived((topic, frame, payload) =>
      this.#outward.take(topic, frame, payload)
    );
    const ports: GatewayPorts = {};
    for (const side of ["external", "internal"] as const) {
      const o = this.#options[side];
      const ep = this.#side(side);
      if (o?.port !== undefined) {
        const port = o.port;
        ports[side] = await listenOn(o.address, (host) => ep.listen(host, port));
      }
      for (const p of o?.peers ?? []) {
        ep.peerNoWait(p.host, p.port, { retryMs: o?.retryMs ?? DEFAULT_RETRY_MS });
      }
    }
    return ports;
  }

  /**
   * Both sides' statuses and errors (each with its `side`), and the loop
   * guard's errors (`logic_error`, a message saying the domains are joined).
   */
  statusSubscriber(options?: StatusSubscriberOptions): BoundedQueue<GatewayEvent> {
    return this.#hub.subscribe(options);
  }

  /** The counters of both directions (a copy). */
  stats(): GatewayStats {
    return {
      inward: { ...this.#inward.stats, subscriptionsFiltered: this.#inward.filtered.size },
      outward: { ...this.#outward.stats, subscriptionsFiltered: this.#outward.filtered.size },
      loopsDropped: this.#loopsDropped,
    };
  }

  /** Stops crossing, unpeers both sides (BYE) and closes their listeners. */
  async shutdown(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const stop of this.#unwatch.splice(0)) stop();
    this.#inward.close();
    for (const remove of this.#unmetrics.splice(0)) remove();
    this.#outward.close();
    await Promise.all([this.#external.shutdown(), this.#internal.shutdown()]);
    for (const q of this.#statusQueues) q.close();
    for (const stop of this.#stopWatching) stop();
    await Promise.all(this.#tasks);
    this.#hub.close();
  }

  #side(side: GatewaySide): Endpoint {
    return side === "external" ? this.#external : this.#internal;
  }

  /** Grows the near side's filter by what the far side's peers subscribed to (filters only grow). */
  #advertise(c: Crossing, peerTopics: readonly string[]): void {
    if (this.#closed) return;
    const near = c === this.#inward ? this.#external : this.#internal;
    near.advertise(c.advertise(peerTopics));
  }

  /** Relays one side's statuses with its name, and applies the loop guard. */
  #watchStatuses(side: GatewaySide, ep: Endpoint): void {
    const q = ep.statusSubscriber({ queueSize: 1024 });
    this.#statusQueues.push(q);
    const other = side === "external" ? this.#internal : this.#external;
    const otherSide: GatewaySide = side === "external" ? "internal" : "external";
    // A peer of the other side shows up here (peered, or refused as redundant: a failed
    // handshake, which is no status, so it is watched for apart).
    const namePeerOfBoth = (e: StatusEvent) => {
      const id = e.peer?.id;
      if (!id || !other.peers().some((p) => p.id === id)) return;
      this.#hub.emit({
        ...errorEvent(
          ErrorCode.logic_error,
          `loop guard: endpoint ${id} is peered with both sides of the gateway ` +
            `(${otherSide} and ${side}); the domains are joined by another path`,
          e.peer,
        ),
        side,
      });
    };
    this.#tasks.push((async () => {
      for await (const e of q) {
        if (e.kind === "error" && e.code === ErrorCode.logic_error && OWN_TRAFFIC.test(e.message)) {
          this.#loopsDropped++;
          const key = `${side} ${e.peer?.id ?? e.peer?.host}`;
          const now = Date.now();
          if (now - (this.#loopReported.get(key) ?? -Infinity) < 1000) continue;
          this.#loopReported.set(key, now);
          this.#hub.emit({
            ...errorEvent(
              ErrorCode.logic_error,
              `loop guard: traffic from the gateway's own ID arrived on the ${side} side ` +
                `(${e.message.replace(/ \(dropped\)$/, "")}); the internal and external domains ` +
                `are joined by another path: dropped, not crossed`,
              e.peer,
            ),
            side,
          });
          continue;
        }
        this.#hub.emit({ ...e, side });
        if (e.kind === "error" || e.code === StatusCode.peer_added) namePeerOfBoth(e);
        // A peering that ends takes its flood limit along: the same peer back and
        // looping again is a new joining of the domains, reported at once as the first
        // was (the map kept every (side, peer) that ever looped, and a peer back within
        // the second went unreported).
        if (
          e.kind === "status" &&
          (e.code === StatusCode.peer_lost || e.code === StatusCode.peer_removed)
        ) {
          this.#loopReported.delete(`${side} ${e.peer?.id ?? e.peer?.host}`);
        }
      }
    })());
    this.#stopWatching.push(ep.watchHandshakeFailures(namePeerOfBoth));
  }
}

/** An endpoint as the crossing towards it sees it. */
function farSide(ep: Endpoint): FarSide {
  return {
    demand: (topic) => ep.demand(topic),
    ready: (topic) => ep.ready(topic),
    relay: (topic, frame, payload) => ep.relayReceived(topic, frame, payload),
  };
}
