/**
 * Load-balanced groups, beyond Broker: "a topic distributed round-robin
 * between subscribers". Each message goes to exactly one live member, picked
 * round-robin or by HRW of a key, with failover when a member is lost. In
 * the acknowledged mode a message a member had not acknowledged when it was
 * lost is handed to another member (at least once; a message a live member
 * acknowledged is never sent again).
 *
 * Everything is plain Broker messages over the public `Endpoint` API, so
 * C++ peers forward them like any other (a relay must subscribe the group's
 * prefix, `deno-broker/group/<name>/`): the selection happens at our
 * endpoints. Topics under the prefix:
 *
 * - `members`: `("hb", member, interval_ms)` heartbeats, `("leave", member)`;
 * - `to/<member>/`: `(publisher, seq, value)`, one message for one member;
 * - `ack/<publisher>/`: `(member, (seq...))`, batched acknowledgements.
 *
 * A member is lost at once when its endpoint's direct peering is lost (a
 * member ID starts with its endpoint's ID); one behind a relay when its
 * heartbeats stop for `3 × heartbeatMs`. A member behind a relay that is
 * only slow, not lost, may then see a handed-over message again at another
 * member (at least once); direct peerings never time out this way.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { count, str, vector } from "../data/constructors.ts";
import type { Data } from "../data/types.ts";
import type { Endpoint } from "../endpoint.ts";
import { BoundedQueue } from "../queue.ts";
import type { Subscriber } from "../subscriber.ts";
import { StatusCode, type StatusEvent } from "../status.ts";
import { Conditions } from "../conditions.ts";
import { fnv1a32, fnv1a32String, type HrwKey, hrwWeight } from "./hash.ts";
import { timerDelay } from "../timer_delay.ts";

/**
 * The topic prefix of a group (a `invalid_topic_key` BrokerError for names
 * beyond letters, digits, `.`, `_` and `-`).
 *
 * @example
 * ```ts
 * import { groupPrefix } from "./group.ts";
 * groupPrefix("jobs"); // "deno-broker/group/jobs/"
 * ```
 */
export function groupPrefix(group: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(group)) {
    throw new BrokerError(ErrorCode.invalid_topic_key, `bad group name ${JSON.stringify(group)}`);
  }
  return `deno-broker/group/${group}/`;
}

let memberCounter = 0;

/** Options of a {@link GroupMember}. */
export interface GroupMemberOptions {
  /** Heartbeat period (default 100 ms); publishers count the member lost after three missed. */
  heartbeatMs?: number;
  /** Messages buffered for the reader before the peer is slowed down (default 65536). */
  queueSize?: number;
  /** Acknowledgements are sent in batches at most this often (default 5 ms). */
  ackDelayMs?: number;
}

/** One message a member received. */
export interface GroupMessage {
  /** The value published. */
  readonly data: Data;
  /** The publisher's ID. */
  readonly publisher: string;
  /** The publisher's sequence number of the message. */
  readonly seq: number;
  /** Acknowledges it (acknowledged mode; harmless otherwise): it will not be handed over. */
  ack(): void;
}

/**
 * A member of a load-balanced group: it receives its share of the messages.
 *
 * @example
 * ```ts ignore
 * const member = new GroupMember(endpoint, "jobs");
 * for await (const msg of member) {
 *   handle(msg.data);
 *   msg.ack();
 * }
 * ```
 */
export class GroupMember implements AsyncIterable<GroupMessage> {
  /** This member's ID (`<endpoint id>.<n>`). */
  readonly id: string;
  /** The group's name. */
  readonly group: string;
  readonly #endpoint: Endpoint;
  readonly #prefix: string;
  readonly #sub: Subscriber;
  readonly #heartbeat: ReturnType<typeof setInterval>;
  readonly #heartbeatMs: number;
  readonly #ackDelayMs: number;
  readonly #pendingAcks = new Map<string, number[]>();
  #ackTimer?: ReturnType<typeof setTimeout>;
  #closed = false;

  /** Joins `group` on `endpoint` and starts its heartbeats. */
  constructor(endpoint: Endpoint, group: string, options: GroupMemberOptions = {}) {
    this.#endpoint = endpoint;
    this.group = group;
    this.#prefix = groupPrefix(group);
    this.id = `${endpoint.id}.${++memberCounter}`;
    this.#heartbeatMs = options.heartbeatMs ?? 100;
    this.#ackDelayMs = options.ackDelayMs ?? 5;
    this.#sub = endpoint.subscribe(`${this.#prefix}to/${this.id}/`, {
      queueSize: options.queueSize ?? 65536,
    });
    this.#beat();
    this.#heartbeat = setInterval(() => this.#beat(), timerDelay(this.#heartbeatMs));
  }

  #beat(): void {
    if (this.#closed) return;
    try {
      this.#endpoint.publish(
        `${this.#prefix}members`,
        vector(str("hb"), str(this.id), count(BigInt(this.#heartbeatMs))),
      );
    } catch {
      // shutting down
    }
  }

  #ack(publisher: string, seq: number): void {
    let list = this.#pendingAcks.get(publisher);
    if (!list) this.#pendingAcks.set(publisher, list = []);
    list.push(seq);
    if (list.length >= 1024) this.#flushAcks();
    else this.#ackTimer ??= setTimeout(() => this.#flushAcks(), timerDelay(this.#ackDelayMs));
  }

  #flushAcks(): void {
    clearTimeout(this.#ackTimer);
    this.#ackTimer = undefined;
    for (const [publisher, seqs] of this.#pendingAcks) {
      try {
        this.#endpoint.publish(
          `${this.#prefix}ack/${publisher}/`,
          vector(str(this.id), vector(...seqs.map((s) => count(BigInt(s))))),
        );
      } catch {
        // shutting down
      }
    }
    this.#pendingAcks.clear();
  }

  /** The next message, or undefined after `timeoutMs` or once closed. */
  async get(timeoutMs?: number): Promise<GroupMessage | undefined> {
    for (;;) {
      const m = await this.#sub.get(timeoutMs);
      if (!m) return undefined;
      const msg = this.#parse(m.data);
      if (msg) return msg;
    }
  }

  #parse(d: Data): GroupMessage | undefined {
    if (d.type !== "vector" || d.value.length !== 3) return undefined;
    const [p, s, data] = d.value;
    if (p.type !== "string" || s.type !== "count") return undefined;
    const publisher = p.value, seq = Number(s.value);
    let acked = false;
    return {
      data,
      publisher,
      seq,
      ack: () => {
        if (acked || this.#closed) return;
        acked = true;
        this.#ack(publisher, seq);
      },
    };
  }

  /** Iterates the messages until closed. */
  async *[Symbol.asyncIterator](): AsyncIterator<GroupMessage> {
    for (;;) {
      const m = await this.get();
      if (!m) return;
      yield m;
    }
  }

  /** Leaves the group: sends pending acknowledgements and a leave, stops heartbeats. */
  close(): void {
    if (this.#closed) return;
    this.#flushAcks();
    this.#closed = true;
    clearInterval(this.#heartbeat);
    try {
      this.#endpoint.publish(`${this.#prefix}members`, vector(str("leave"), str(this.id)));
    } catch {
      // shutting down
    }
    this.#sub.close();
  }
}

/** How a {@link GroupPublisher} picks a member. */
export type GroupSelection = "round_robin" | "hrw";

/** Options of a {@link GroupPublisher}. */
export interface GroupPublisherOptions {
  /** `round_robin` (default) or `hrw` (by the key given to `publish`). */
  selection?: GroupSelection;
  /** Keep each message until a member acknowledges it, and hand it over if the member is lost. */
  acked?: boolean;
}

/** A member lost and what was handed over, as `events()` reports it. */
export interface GroupEvent {
  /** `member_up`, `member_down`. */
  kind: "member_up" | "member_down";
  /** The member's ID. */
  member: string;
  /** For `member_down` in acknowledged mode: messages handed to other members. */
  handedOver?: number;
  /** When it happened (`performance.now()`). */
  at: number;
}

interface Unacked {
  data: Data;
  key?: HrwKey;
}

interface MemberState {
  id: string;
  siteId: number;
  lastSeen: number;
  timeoutMs: number;
  unacked: Map<number, Unacked>;
}

/**
 * Publishes to a load-balanced group: each message goes to one live member.
 *
 * @example
 * ```ts ignore
 * const pub = new GroupPublisher(endpoint, "jobs", { acked: true });
 * await pub.waitForMembers(3);
 * for (const job of jobs) pub.publish(str(job));
 * await pub.drained();
 * ```
 */
export class GroupPublisher {
  /** Removes the metric series registered at construction (run at close). */
  readonly #unmetrics: (() => void)[] = [];
  /** The publisher's ID (its endpoint's ID): members acknowledge to it. */
  readonly id: string;
  /** The group's name. */
  readonly group: string;
  readonly #endpoint: Endpoint;
  readonly #prefix: string;
  readonly #selection: GroupSelection;
  readonly #acked: boolean;
  readonly #members = new Map<string, MemberState>();
  #live: MemberState[] = [];
  #rr = 0;
  #seq = 0;
  /** Messages waiting for any member (none alive). */
  readonly #waiting: { seq: number; data: Data; key?: HrwKey }[] = [];
  /** Messages of lost members, on their way to others. */
  readonly #handOver: { seq: number; data: Data; key?: HrwKey }[] = [];
  #pumping = false;
  readonly #subs: Subscriber[];
  readonly #status: BoundedQueue<StatusEvent>;
  readonly #loops: Promise<void>[];
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #queues = new Set<BoundedQueue<GroupEvent>>();
  readonly #conditions = new Conditions();
  #handedOver = 0;
  #closed = false;

  /** A publisher for `group` on `endpoint` (it learns the members from their heartbeats). */
  constructor(endpoint: Endpoint, group: string, options: GroupPublisherOptions = {}) {
    this.#endpoint = endpoint;
    this.group = group;
    this.#prefix = groupPrefix(group);
    this.id = endpoint.id;
    this.#selection = options.selection ?? "round_robin";
    this.#acked = options.acked ?? false;
    const members = endpoint.subscribe(`${this.#prefix}members`, { queueSize: 4096 });
    const acks = endpoint.subscribe(`${this.#prefix}ack/${this.id}/`, { queueSize: 65536 });
    this.#subs = [members, acks];
    this.#status = endpoint.statusSubscriber();
    this.#loops = [this.#membersLoop(members), this.#acksLoop(acks), this.#statusLoop()];
    this.#sweep = setInterval(() => this.#checkTimeouts(), 20);
    this.#registerMetrics();
  }

  /** IDs of the live members, in selection order. */
  get members(): string[] {
    return this.#live.map((m) => m.id);
  }

  /** Messages sent and not yet acknowledged (acknowledged mode), plus those waiting for a member. */
  get unacked(): number {
    let n = this.#waiting.length + this.#handOver.length;
    for (const m of this.#members.values()) n += m.unacked.size;
    return n;
  }

  /** A new queue of member events from now on. */
  events(size = 256): BoundedQueue<GroupEvent> {
    const q = new BoundedQueue<GroupEvent>(size, "drop_oldest");
    this.#queues.add(q);
    return q;
  }

  /** Resolves once at least `n` members are live; `request_timeout` after `timeoutMs`. */
  waitForMembers(n: number, timeoutMs = 10_000): Promise<void> {
    return this.#until(() => this.#live.length >= n, timeoutMs, `${n} members`);
  }

  /** Resolves once every message was acknowledged (acknowledged mode); `request_timeout` after `timeoutMs`. */
  drained(timeoutMs = 30_000): Promise<void> {
    return this.#until(() => this.unacked === 0, timeoutMs, "all acknowledgements");
  }

  #until(done: () => boolean, timeoutMs: number, what: string): Promise<void> {
    return this.#conditions.until(
      done,
      timeoutMs,
      () => `group ${this.group}: no ${what} after ${timeoutMs} ms`,
    );
  }

  #notify(): void {
    this.#conditions.changed();
  }

  #emit(ev: GroupEvent): void {
    for (const q of this.#queues) {
      if (q.closed) this.#queues.delete(q);
      else q.push(ev);
    }
  }

  /**
   * Sends `data` to one live member (round-robin, or by HRW of `key`), and
   * returns its ID; with no member alive the message waits for one, and
   * behind messages still on their way to a member (those that waited, or
   * a lost member's) it keeps its place: then `""` is returned.
   */
  publish(data: Data, key?: HrwKey): string {
    if (this.#closed) throw new BrokerError(ErrorCode.shutting_down, "group publisher closed");
    const seq = ++this.#seq;
    if (this.#handOver.length > 0) {
      this.#handOver.push({ seq, data, key });
      this.#pumpHandOver();
      return "";
    }
    return this.#send(seq, data, key);
  }

  /**
   * Resolves when every live member's route has room for `min` more
   * messages (the endpoint's `demand`), or for as many as its buffer holds
   * when that is fewer (`demandLimit`): await it between bursts so the
   * peers' buffers (Broker's overflow policy disconnects a full one) are
   * never overrun, as a relay reading slower than we write would be.
   */
  async ready(min = 256): Promise<void> {
    const ep = this.#endpoint;
    for (const m of this.#live) {
      const topic = `${this.#prefix}to/${m.id}/`;
      const enough = () => ep.demand(topic) >= Math.min(min, ep.demandLimit(topic));
      while (!this.#closed && !enough()) {
        await ep.ready(topic);
        // `ready` may resolve with the queue still above `min` (it did, at
        // 1499 of 2048 queued): give the sockets a turn, never spin.
        if (!enough()) await new Promise((r) => setTimeout(r, 1));
      }
    }
  }

  #pick(key: HrwKey | undefined): MemberState | undefined {
    const live = this.#live;
    if (live.length === 0) return undefined;
    if (this.#selection === "round_robin" || key === undefined) {
      if (this.#rr >= live.length) this.#rr = 0;
      return live[this.#rr++];
    }
    const d = typeof key === "string" ? fnv1a32String(key) : fnv1a32(key);
    let best = live[0], bestW = -1;
    for (const m of live) {
      const w = hrwWeight(d, m.siteId);
      if (w > bestW || (w === bestW && m.siteId > best.siteId)) {
        best = m;
        bestW = w;
      }
    }
    return best;
  }

  #send(seq: number, data: Data, key?: HrwKey): string {
    const m = this.#pick(key);
    if (!m) {
      this.#waiting.push({ seq, data, key });
      return "";
    }
    if (this.#acked) m.unacked.set(seq, { data, key });
    this.#endpoint.publish(
      `${this.#prefix}to/${m.id}/`,
      vector(str(this.id), count(BigInt(seq)), data),
    );
    return m.id;
  }

  async #pumpHandOver(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#handOver.length > 0 && !this.#closed) {
        const next = this.#handOver[0];
        const m = this.#pick(next.key);
        if (!m) {
          // Nobody alive: they wait for the next member with the rest.
          this.#waiting.push(...this.#handOver.splice(0));
          break;
        }
        const topic = `${this.#prefix}to/${m.id}/`;
        if (this.#endpoint.demand(topic) <= 0) {
          await this.#endpoint.ready(topic);
          if (this.#endpoint.demand(topic) <= 0) await new Promise((r) => setTimeout(r, 1));
          continue; // the member may have gone meanwhile: pick again
        }
        this.#handOver.shift();
        if (this.#acked) m.unacked.set(next.seq, { data: next.data, key: next.key });
        this.#endpoint.publish(topic, vector(str(this.id), count(BigInt(next.seq)), next.data));
      }
    } catch {
      // shutting down
    } finally {
      this.#pumping = false;
    }
  }

  #rebuild(): void {
    this.#live = [...this.#members.values()].sort((a, b) => a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  }

  #memberUp(id: string, timeoutMs: number): void {
    let m = this.#members.get(id);
    if (m) {
      m.lastSeen = performance.now();
      return;
    }
    m = {
      id,
      siteId: fnv1a32String(id),
      lastSeen: performance.now(),
      timeoutMs,
      unacked: new Map(),
    };
    this.#members.set(id, m);
    this.#rebuild();
    this.#emit({ kind: "member_up", member: id, at: performance.now() });
    // Messages that waited for a member go now, at the pace the routes take:
    // all at once, more than a peer's buffer holds cut the new member's
    // peering (overflow policy `disconnect`) and were lost with it.
    if (this.#waiting.length > 0) {
      this.#handOver.push(...this.#waiting.splice(0));
      this.#pumpHandOver();
    }
    this.#notify();
  }

  /**
   * The group's counters on the endpoint's metrics, by `group`:
   * `broker_group_members` (live now), `broker_group_messages_total` (published)
   * and `broker_group_handed_over_total` (a lost member's unacknowledged
   * messages given to another).
   */
  #registerMetrics(): void {
    const labels = { group: this.group };
    this.#unmetrics.push(this.#endpoint.addMetrics(
      "broker_group_members",
      "Number of live members of a load-balanced group.",
      "gauge",
      () => [{ labels, value: this.#live.length }],
    ));
    this.#unmetrics.push(this.#endpoint.addMetrics(
      "broker_group_messages_total",
      "Total number of messages published to a load-balanced group.",
      "counter",
      () => [{ labels, value: this.#seq }],
    ));
    this.#unmetrics.push(this.#endpoint.addMetrics(
      "broker_group_handed_over_total",
      "Total number of a lost member's unacknowledged messages handed to another member.",
      "counter",
      () => [{ labels, value: this.#handedOver }],
    ));
  }

  #memberDown(id: string): void {
    const m = this.#members.get(id);
    if (!m) return;
    this.#handedOver += m.unacked.size;
    this.#members.delete(id);
    this.#rebuild();
    // Hand over, in order, what it had not acknowledged, at the pace the
    // routes take (thousands at once would overrun a peer's buffer).
    const handed = [...m.unacked].sort((a, b) => a[0] - b[0]);
    for (const [seq, u] of handed) this.#handOver.push({ seq, data: u.data, key: u.key });
    if (handed.length > 0) this.#pumpHandOver();
    this.#emit({
      kind: "member_down",
      member: id,
      handedOver: this.#acked ? handed.length : undefined,
      at: performance.now(),
    });
    this.#notify();
  }

  #checkTimeouts(): void {
    const now = performance.now();
    let direct: Set<string> | undefined;
    for (const m of [...this.#members.values()]) {
      if (now - m.lastSeen <= 3 * m.timeoutMs) continue;
      // A direct peer's peering is the better witness: a busy member that
      // is still peered is alive (handing its messages over would duplicate
      // them); its loss comes as peer_lost. Only members behind relays
      // depend on heartbeats.
      direct ??= new Set(
        this.#endpoint.peers().filter((p) => p.status === "peered" && p.id).map((p) => p.id!),
      );
      if (direct.has(m.id.slice(0, m.id.lastIndexOf(".")))) m.lastSeen = now;
      else this.#memberDown(m.id);
    }
  }

  async #membersLoop(sub: Subscriber): Promise<void> {
    for await (const { data } of sub) {
      if (data.type !== "vector" || data.value.length < 2) continue;
      const [kind, id, interval] = data.value;
      if (kind.type !== "string" || id.type !== "string") continue;
      if (kind.value === "hb") {
        this.#memberUp(id.value, interval?.type === "count" ? Number(interval.value) : 100);
      } else if (kind.value === "leave") this.#memberDown(id.value);
    }
  }

  async #acksLoop(sub: Subscriber): Promise<void> {
    for await (const { data } of sub) {
      if (data.type !== "vector" || data.value.length !== 2) continue;
      const [id, seqs] = data.value;
      if (id.type !== "string" || seqs.type !== "vector") continue;
      const m = this.#members.get(id.value);
      // A late ack from a member already declared lost: its messages were handed over.
      if (!m) continue;
      for (const s of seqs.value) if (s.type === "count") m.unacked.delete(Number(s.value));
      this.#notify();
    }
  }

  async #statusLoop(): Promise<void> {
    for await (const ev of this.#status) {
      if (ev.kind !== "status" || !ev.peer?.id) continue;
      if (ev.code !== StatusCode.peer_lost && ev.code !== StatusCode.peer_removed) continue;
      // A member's ID starts with its endpoint's: a direct peer's loss is its members' loss.
      for (const id of [...this.#members.keys()]) {
        if (id.startsWith(`${ev.peer.id}.`)) this.#memberDown(id);
      }
    }
  }

  /** Stops the publisher (messages not acknowledged are dropped). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    for (const remove of this.#unmetrics.splice(0)) remove();
    for (const s of this.#subs) s.close();
    this.#status.close();
    await Promise.all(this.#loops);
    for (const q of this.#queues) q.close();
  }
}
