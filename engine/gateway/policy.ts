/**
 * A gateway's topic policy for one direction, sans I/O: optional allow and
 * deny lists of topic prefixes (Broker's byte-string prefixes), what a
 * message topic may cross, and which subscriptions of one side the other
 * side may advertise. Counters per direction live here too.
 *
 * A topic crosses when some `allow` prefix matches it (or there is no
 * `allow` list) and no `deny` prefix does. A subscription is advertised
 * as it is when its topics could cross; one broader than the `allow` list
 * is narrowed to the allowed prefixes under it, and one under a `deny`
 * prefix is not advertised at all. Messages are checked one by one, so a
 * subscription that spans a denied prefix never carries what it denies.
 *
 * @example
 * ```ts
 * import { TopicPolicy } from "./policy.ts";
 * const p = new TopicPolicy({ allow: ["/zeek/logs/"], deny: ["/zeek/logs/secret"] });
 * if (!p.permits("/zeek/logs/conn") || p.permits("/zeek/logs/secret/x")) throw new Error("topics");
 * if (p.permits("/zeek/events")) throw new Error("outside allow");
 * const ads = p.advertised(["/zeek/", "/zeek/logs/secret/", "/other"]);
 * if (ads.join() !== "/zeek/logs/") throw new Error(`narrowed: ${ads}`);
 * ```
 *
 * @module
 */

/** Allow and deny lists of topic prefixes for one direction. */
export interface TopicPolicyOptions {
  /** Only topics under one of these prefixes cross (absent: every topic may). */
  allow?: readonly string[];
  /** Topics under one of these prefixes never cross (checked after `allow`). */
  deny?: readonly string[];
}

/** What crossed a gateway in one direction, and what its policy dropped. */
export interface GatewayDirectionStats {
  /** Messages re-published on the far side. */
  messages: number;
  /** Their payload bytes (Broker's binary form, topics not counted). */
  bytes: number;
  /** Messages the policy kept from crossing. */
  droppedByPolicy: number;
  /** Subscriptions the policy kept from being advertised (or narrowed). */
  subscriptionsFiltered: number;
}

/** One direction's policy. */
export class TopicPolicy {
  /** The allowed prefixes (undefined: every topic is allowed). */
  readonly allow?: readonly string[];
  /** The denied prefixes. */
  readonly deny: readonly string[];

  /** A policy from allow and deny lists (both optional: no lists, everything crosses). */
  constructor(options: TopicPolicyOptions = {}) {
    this.allow = options.allow ? [...options.allow] : undefined;
    this.deny = [...(options.deny ?? [])];
  }

  /** Whether there is anything to check (an `allow` or `deny` list). */
  get restricts(): boolean {
    return this.allow !== undefined || this.deny.length > 0;
  }

  /** Whether a message on `topic` may cross. */
  permits(topic: string): boolean {
    if (this.allow && !this.allow.some((a) => topic.startsWith(a))) return false;
    return !this.deny.some((d) => topic.startsWith(d));
  }

  /**
   * The prefixes to advertise for the far side's subscriptions `topics`:
   * each as it is, narrowed to the allowed prefixes it covers, or left out.
   */
  advertised(topics: Iterable<string>): string[] {
    const out = new Set<string>();
    for (const s of topics) {
      if (this.deny.some((d) => s.startsWith(d))) continue;
      if (!this.allow || this.allow.some((a) => s.startsWith(a))) {
        out.add(s);
        continue;
      }
      for (const a of this.allow) {
        if (a.startsWith(s) && !this.deny.some((d) => a.startsWith(d))) out.add(a);
      }
    }
    return [...out];
  }
}
