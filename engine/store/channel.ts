/**
 * Broker's reliable channel (`lb/internal/channel.hh`): ordered, reliable
 * delivery from one producer to any number of consumers over a lossy,
 * reordering, duplicating transport. A store uses one per direction: the
 * master's channel to its clones, and each writing clone's channel to the
 * master.
 *
 * Sans-I/O: nothing here reads clocks or sockets. The owner feeds incoming
 * messages to the `handle*` methods, calls `tick()` every tick interval
 * (Broker: 100 ms), and the transport callbacks receive what to send.
 *
 * Sequence numbers are numbers, exact up to `MAX_SEQ` (2^53 - 1); the store
 * converts the wire's u64s at its edge (`seqFromWire`, `consumerMessageToWire`).
 *
 * Producer: sequence numbers start at 1, so the first event is 2 (an ack of
 * 0 means "never acked"). Events stay buffered until every consumer acked
 * them. A nack `[0]` from an unknown consumer adds it (handshake with the
 * current sequence number as offset); other nacks ack everything before
 * their first entry and get each listed event again, or `retransmit_failed`.
 * After `heartbeatIntervalTicks` ticks without a broadcast it broadcasts a
 * heartbeat with its latest sequence number; a consumer silent for
 * `heartbeatIntervalTicks × connectionTimeoutFactor` ticks is dropped.
 *
 * Consumer: asks for the handshake with nack `[0]` every `nackTimeoutTicks`
 * ticks until it has one; then delivers events in order, buffers early ones,
 * drops duplicates, learns the end of the stream from heartbeats, nacks the
 * gaps after `nackTimeoutTicks` ticks without progress, and acks every
 * `heartbeatIntervalTicks` ticks. The defaults are Broker's store settings
 * (`options.ts`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { ChannelConsumer, ChannelProducer } from "./channel.ts";
 * const got: string[] = [];
 * let consumer!: ChannelConsumer<string, string>;
 * const producer = new ChannelProducer<string, string>({
 *   send: (_to, m) => m.type === "handshake" ? consumer.handleHandshake(m.offset, m.heartbeatInterval, "p")
 *     : m.type === "event" ? consumer.handleEvent(m.seq, m.content) : undefined,
 *   broadcast: (m) => m.type === "event" ? consumer.handleEvent(m.seq, m.content) : consumer.handleHeartbeat(m.seq),
 *   drop: () => {},
 * });
 * consumer = new ChannelConsumer<string, string>({
 *   consume: (x) => void got.push(x),
 *   consumeNil: () => undefined,
 *   send: (m) => m.type === "nack" ? producer.handleNack("c", m.seqs) : producer.handleAck("c", m.seq),
 *   close: () => {},
 * });
 * consumer.tick(); consumer.tick(); // nack [0] after the nack timeout: the producer adds "c"
 * producer.produce("hello");
 * deepEqual(got, ["hello"]);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { type Entity, entityKey } from "./entity.ts";
import {
  DEFAULT_CONNECTION_TIMEOUT_FACTOR,
  DEFAULT_HEARTBEAT_INTERVAL_TICKS,
  DEFAULT_MAX_BUFFERED_EVENTS,
  DEFAULT_MAX_NACK_SEQS,
  DEFAULT_NACK_TIMEOUT_TICKS,
} from "./options.ts";

// ------------------------------------------------------------------ messages

/** Producer -> one consumer: the offset to start after, and the heartbeat cadence. */
export interface HandshakeMessage {
  /** Which channel message. */
  readonly type: "handshake";
  /** Sequence number the consumer starts after. */
  readonly offset: number;
  /** Ticks between heartbeats. */
  readonly heartbeatInterval: number;
}

/** Producer -> consumers: one event. */
export interface EventMessage<P> {
  /** Which channel message. */
  readonly type: "event";
  /** A sequence number. */
  readonly seq: number;
  /** The payload it carries. */
  readonly content: P;
}

/** Producer -> one consumer: event `seq` is gone. */
export interface RetransmitFailedMessage {
  /** Which channel message. */
  readonly type: "retransmit_failed";
  /** A sequence number. */
  readonly seq: number;
}

/** Producer -> consumers: still alive, latest sequence number `seq`. */
export interface HeartbeatMessage {
  /** Which channel message. */
  readonly type: "heartbeat";
  /** A sequence number. */
  readonly seq: number;
}

/** Consumer -> producer: everything up to and including `seq` arrived. */
export interface CumulativeAckMessage {
  /** Which channel message. */
  readonly type: "cumulative_ack";
  /** A sequence number. */
  readonly seq: number;
}

/** Consumer -> producer: send these again (`[0]`: send the handshake). */
export interface NackMessage {
  /** Which channel message. */
  readonly type: "nack";
  /** Sequence numbers to send again. */
  readonly seqs: readonly number[];
}

/** What a producer sends. */
export type ProducerMessage<P> =
  | HandshakeMessage
  | EventMessage<P>
  | RetransmitFailedMessage
  | HeartbeatMessage;

/** What a consumer sends. */
export type ConsumerMessage = CumulativeAckMessage | NackMessage;

// ------------------------------------------------------------ sequence numbers

/**
 * The largest sequence number a channel takes (2^53 - 1): sequence numbers
 * are numbers here, exact up to this, so that a message costs no BigInt.
 * Broker's is a u64, but its producers count from 0 by one per event: at a
 * million events a second, 2^53 is 285 years away. A number beyond this from
 * the wire is refused (`seqFromWire`), and a producer of ours stops with an
 * error rather than send one it cannot count exactly.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MAX_SEQ } from "./channel.ts";
 * equal(MAX_SEQ, Number.MAX_SAFE_INTEGER);
 * ```
 */
export const MAX_SEQ: number = Number.MAX_SAFE_INTEGER;

function seqOverflow(): BrokerError {
  return new BrokerError(
    ErrorCode.invalid_message,
    `channel sequence number beyond ${MAX_SEQ} (2^53 - 1), which a channel cannot count exactly`,
  );
}

/**
 * A sequence number (or offset) read from the wire, as the channel takes it;
 * throws `BrokerError(invalid_message)` past `MAX_SEQ`, and the store drops
 * that command as it drops an undecodable one.
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { seqFromWire } from "./channel.ts";
 * equal(seqFromWire(7n), 7);
 * throws(() => seqFromWire(2n ** 53n));
 * ```
 */
export function seqFromWire(x: bigint): number {
  if (x > 9007199254740991n || x < 0n) throw seqOverflow();
  return Number(x);
}

/**
 * What a consumer sends, as a store command's content (u64s as BigInts).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { consumerMessageToWire } from "./channel.ts";
 * deepEqual(consumerMessageToWire({ type: "nack", seqs: [0] }), { type: "nack", seqs: [0n] });
 * ```
 */
export function consumerMessageToWire(
  m: ConsumerMessage,
): { type: "cumulative_ack"; seq: bigint } | { type: "nack"; seqs: bigint[] } {
  return m.type === "nack"
    ? { type: "nack", seqs: m.seqs.map((x) => BigInt(x)) }
    : { type: "cumulative_ack", seq: BigInt(m.seq) };
}

// ------------------------------------------------------------------ defaults

function checkTicks(name: string, x: number, min: number): number {
  if (!Number.isInteger(x) || x < min || x > 0xffff) {
    throw new RangeError(`${name} must be an integer in [${min}, 65535], not ${x}`);
  }
  return x;
}

/** Handles are compared by key: entities by their bytes, anything else by `String`. */
function defaultKey(h: unknown): string {
  if (typeof h === "object" && h !== null && "endpoint" in h && "object" in h) {
    return entityKey(h as Entity);
  }
  return String(h);
}

// ------------------------------------------------------------------ producer

/** Where a producer's messages go; called synchronously from its methods. */
export interface ProducerTransport<H, P> {
  /** Unicast to one consumer: handshakes, retransmissions, `retransmit_failed`. */
  send(to: H, message: HandshakeMessage | EventMessage<P> | RetransmitFailedMessage): void;
  /** To every consumer: new events and heartbeats. */
  broadcast(message: EventMessage<P> | HeartbeatMessage): void;
  /** A consumer was removed (`connection_timeout`, `invalid_message`). */
  drop(consumer: H, reason: ErrorCode): void;
  /** A consumer acked for the first time. */
  handshakeCompleted?(consumer: H): void;
}

/** Producer settings. */
export interface ProducerOptions<H> {
  /**
   * Ticks between heartbeats; 0 disables heartbeats and timeouts.
   * @default 5 (`DEFAULT_HEARTBEAT_INTERVAL_TICKS`)
   */
  heartbeatIntervalTicks?: number;
  /**
   * Heartbeat intervals of silence before a consumer is dropped (Broker's
   * store setting; Broker's channel class alone defaults to 4).
   * @default 100 (`DEFAULT_CONNECTION_TIMEOUT_FACTOR`)
   */
  connectionTimeoutFactor?: number;
  /**
   * Identity of a handle.
   * @default entities by their bytes, others by `String`
   */
  keyOf?: (handle: H) => string;
}

/** A producer's bookkeeping for one consumer. */
export interface ChannelPath<H> {
  /** Who the consumer is. */
  readonly handle: H;
  /** Sequence number current when the consumer was added. */
  readonly offset: number;
  /** Last cumulative ack; 0 until the handshake completes. */
  readonly acked: number;
  /** Tick of the last message from this consumer. */
  readonly lastSeen: number;
}

interface MutablePath<H> {
  /** Who the consumer is. */
  handle: H;
  /** Sequence number the consumer starts after. */
  offset: number;
  acked: number;
  lastSeen: number;
}

/** Slots per block of a producer's kept contents (a power of two: 32 KiB of pointers, an ordinary heap object). */
const BLOCK_SHIFT = 12;
const BLOCK = 1 << BLOCK_SHIFT;
const BLOCK_MASK = BLOCK - 1;

/**
 * The sending side of a channel.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { ChannelProducer } from "./channel.ts";
 * const sent: string[] = [];
 * const p = new ChannelProducer<string, string>({
 *   send: (to, m) => void sent.push(`${to}:${m.type}`),
 *   broadcast: (m) => void sent.push(`*:${m.type}`),
 *   drop: () => {},
 * });
 * p.add("clone");
 * p.produce("x");
 * deepEqual(sent, ["clone:handshake", "*:event"]);
 * equal(p.seq, 2);
 * ```
 */
export class ChannelProducer<H, P> {
  readonly #out: ProducerTransport<H, P>;
  readonly #keyOf: (h: H) => string;
  #heartbeatInterval: number;
  #timeoutFactor: number;
  #seq = 1;
  // Ticks count from 1, as Broker's lamport_timestamp does.
  #tick = 1;
  #lastBroadcast = 1;
  /**
   * Contents of the unacked events, oldest first: `#count` of them from slot
   * `#head` of the first block; their sequence numbers are consecutive from
   * `#firstSeq`. Only the contents are kept: an event object and its
   * sequence number per entry would live as long (until every consumer
   * acks, ~500 ms at Broker's cadence) and cost the collector a copy each.
   * Blocks of a fixed size, not one ring that doubles: a doubling ring
   * moved every content at each growth and took its room from V8's
   * large-object space, fresh pages each time (6 ms for the step to 262,144
   * slots in a `bench/store_compare.ts` master; at two later steps the clone
   * waited 14 and 33 ms); a new block is a small allocation and nothing moves.
   * Blocks every consumer acked are kept for the next contents, so a busy
   * channel reuses its memory, as the ring did.
   */
  #blocks: (P | undefined)[][] = [];
  #spareBlocks: (P | undefined)[][] = [];
  #head = 0;
  #count = 0;
  /** Sequence number of the oldest content kept. */
  #firstSeq = 2;
  #paths = new Map<string, MutablePath<H>>();

  /** A channel end talking through `transport`. */
  constructor(transport: ProducerTransport<H, P>, options: ProducerOptions<H> = {}) {
    this.#out = transport;
    this.#keyOf = options.keyOf ?? defaultKey;
    this.#heartbeatInterval = checkTicks(
      "heartbeatIntervalTicks",
      options.heartbeatIntervalTicks ?? DEFAULT_HEARTBEAT_INTERVAL_TICKS,
      0,
    );
    this.#timeoutFactor = checkTicks(
      "connectionTimeoutFactor",
      options.connectionTimeoutFactor ?? DEFAULT_CONNECTION_TIMEOUT_FACTOR,
      1,
    );
  }

  /** Sequence number of the latest event (1 before the first). */
  get seq(): number {
    return this.#seq;
  }

  /** Sequence number the next event gets. */
  get nextSeq(): number {
    return this.#seq + 1;
  }

  /** Current tick (starts at 1). */
  get tickTime(): number {
    return this.#tick;
  }

  /** Ticks between heartbeats, as sent in handshakes. */
  get heartbeatInterval(): number {
    return this.#heartbeatInterval;
  }

  /** Ticks of silence after which a consumer is dropped. */
  get connectionTimeout(): number {
    return this.#heartbeatInterval * this.#timeoutFactor;
  }

  /** Events waiting for acks. */
  get buffered(): number {
    return this.#count;
  }

  /** The content of the oldest event waiting for acks, if any. */
  get oldest(): P | undefined {
    return this.#count > 0 ? this.#blocks[0][this.#head] : undefined;
  }

  /** Whether there is a consumer (else `produce` sends and keeps nothing). */
  get hasConsumers(): boolean {
    return this.#paths.size !== 0;
  }

  /** The consumers, in the order they were added. */
  get paths(): ChannelPath<H>[] {
    return Array.from(this.#paths.values(), (p) => ({ ...p }));
  }

  /** Whether every consumer acked everything. */
  get idle(): boolean {
    for (const p of this.#paths.values()) if (p.acked !== this.#seq) return false;
    return true;
  }

  /** Whether a consumer was added but has not acked yet. */
  get hasPendingPaths(): boolean {
    for (const p of this.#paths.values()) if (p.acked === 0) return true;
    return false;
  }

  /**
   * Sends an event to every consumer. Without consumers nothing is sent and
   * no sequence number is used (as in Broker); returns the event's sequence
   * number, or undefined then.
   */
  produce(content: P): number | undefined {
    if (this.#paths.size === 0) return undefined;
    if (this.#seq >= MAX_SEQ) throw seqOverflow();
    const seq = ++this.#seq;
    if (this.#count === 0) this.#firstSeq = seq;
    const slot = this.#head + this.#count++;
    const b = slot >>> BLOCK_SHIFT;
    if (b === this.#blocks.length) this.#blocks.push(this.#spareBlocks.pop() ?? new Array(BLOCK));
    this.#blocks[b][slot & BLOCK_MASK] = content;
    this.#lastBroadcast = this.#tick;
    this.#out.broadcast({ type: "event", seq, content });
    return seq;
  }

  /**
   * Adds a consumer and sends it the handshake (offset = current sequence
   * number). Throws `BrokerError(consumer_exists)` for a known handle.
   */
  add(handle: H): void {
    const key = this.#keyOf(handle);
    if (this.#paths.has(key)) {
      throw new BrokerError(ErrorCode.consumer_exists, "consumer already on this channel");
    }
    this.#paths.set(key, { handle, offset: this.#seq, acked: 0, lastSeen: this.#tick });
    this.#out.send(handle, {
      type: "handshake",
      offset: this.#seq,
      heartbeatInterval: this.#heartbeatInterval,
    });
  }

  /** Removes a consumer without telling it (e.g. its peer went away); returns whether it was known. */
  remove(handle: H): boolean {
    const removed = this.#paths.delete(this.#keyOf(handle));
    if (removed) this.#trim();
    return removed;
  }

  /** A `cumulative_ack{seq}` from a consumer. */
  handleAck(handle: H, seq: number): void {
    const path = this.#paths.get(this.#keyOf(handle));
    if (!path) return;
    if (path.acked > seq) return; // older than what we know: reordered
    path.lastSeen = this.#tick;
    if (path.acked === 0) this.#out.handshakeCompleted?.(path.handle);
    else if (path.acked === seq) return;
    path.acked = seq;
    this.#trim();
  }

  /** A `nack{seqs}` from a consumer (or a would-be consumer asking with `[0]`). */
  handleNack(handle: H, seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    const key = this.#keyOf(handle);
    const path = this.#paths.get(key);
    if (!path) {
      if (seqs.length === 1 && seqs[0] === 0) this.add(handle);
      return;
    }
    path.lastSeen = this.#tick;
    for (let i = 1; i < seqs.length; i++) {
      if (seqs[i - 1] > seqs[i]) {
        this.#paths.delete(key);
        this.#trim();
        this.#out.drop(path.handle, ErrorCode.invalid_message);
        return;
      }
    }
    const first = seqs[0];
    if (first === 0) {
      // Offset as first given: the consumer's view must not move.
      this.#out.send(path.handle, {
        type: "handshake",
        offset: path.offset,
        heartbeatInterval: this.#heartbeatInterval,
      });
      return;
    }
    this.handleAck(path.handle, first - 1);
    // Broker answers every number listed, so a nack of a million (8 MB) made
    // a million messages at once (4.4 s of the event loop, 389 MB queued).
    // A consumer nacks again what it still misses: one nack is answered for
    // as many numbers as events are held, at least DEFAULT_MAX_NACK_SEQS
    // (the most our consumer lists in one).
    const n = Math.min(seqs.length, Math.max(this.#count, DEFAULT_MAX_NACK_SEQS));
    for (let i = 0; i < n; i++) {
      const seq = seqs[i];
      const event = this.#find(seq);
      this.#out.send(path.handle, event ?? { type: "retransmit_failed", seq });
    }
  }

  /** One tick: heartbeat when due, drop consumers that went silent. */
  tick(): void {
    this.#tick++;
    if (this.#heartbeatInterval === 0) return;
    if (this.#lastBroadcast + this.#heartbeatInterval === this.#tick) {
      this.#lastBroadcast = this.#tick;
      this.#out.broadcast({ type: "heartbeat", seq: this.#seq });
    }
    const timeout = this.connectionTimeout;
    const gone: MutablePath<H>[] = [];
    for (const [key, p] of this.#paths) {
      if (this.#tick - p.lastSeen >= timeout) {
        this.#paths.delete(key);
        gone.push(p);
      }
    }
    if (gone.length === 0) return;
    this.#trim();
    for (const p of gone) this.#out.drop(p.handle, ErrorCode.connection_timeout);
  }

  #find(seq: number): EventMessage<P> | undefined {
    const i = seq - this.#firstSeq;
    if (i < 0 || i >= this.#count) return undefined;
    const slot = this.#head + i;
    return { type: "event", seq, content: this.#blocks[slot >>> BLOCK_SHIFT][slot & BLOCK_MASK]! };
  }

  /** Forgets events every consumer acked (all of them when there is no consumer). */
  #trim(): void {
    if (this.#paths.size === 0) {
      this.#blocks = [];
      this.#spareBlocks = [];
      this.#head = this.#count = 0;
      return;
    }
    let acked: number | undefined;
    for (const p of this.#paths.values()) {
      if (acked === undefined || p.acked < acked) acked = p.acked;
    }
    if (acked! < this.#firstSeq) return;
    const n = acked! - this.#firstSeq + 1;
    const gone = Math.min(n, this.#count), blocks = this.#blocks;
    // Released contents are let go of (a channel of objects holds none past their acks).
    for (let slot = this.#head, end = slot + gone; slot < end; slot++) {
      blocks[slot >>> BLOCK_SHIFT][slot & BLOCK_MASK] = undefined;
    }
    const head = this.#head + gone, emptied = head >>> BLOCK_SHIFT;
    for (let k = 0; k < emptied; k++) this.#spareBlocks.push(blocks[k]);
    if (emptied > 0) blocks.splice(0, emptied);
    this.#head = head & BLOCK_MASK;
    this.#count -= gone;
    this.#firstSeq += n;
  }
}

// ------------------------------------------------------------------ consumer

/** Where a consumer's results go; called synchronously from its methods. */
export interface ConsumerTransport<P> {
  /** The next event, in order, exactly once. */
  consume(content: P, seq: number): void;
  /**
   * Event `seq` is lost for good (`retransmit_failed`). Return an error to
   * close the channel (a clone does: `broken_clone`), undefined to go on
   * (a master reading a writer does).
   */
  consumeNil(seq: number): BrokerError | undefined;
  /** To the producer: acks and nacks. */
  send(message: ConsumerMessage): void;
  /** The channel closed; the consumer was reset and may receive a new handshake. */
  close(reason: BrokerError): void;
  /**
   * Asked on each tick before the handshake: true when it may be arriving
   * right now (the bytes of a large message keep coming in from where it
   * would come from). The request for it (nack [0]) then waits: a tick on
   * which this is true does not count towards `nackTimeoutTicks`, for at
   * most `MAX_HANDSHAKE_HOLD_TICKS` ticks between two requests. Without it,
   * nothing is ever arriving.
   */
  arriving?(): boolean;
  /**
   * An event arrived early and is held for its turn: returns what to hold.
   * Contents that view a reused buffer (a command in the transport's read
   * buffer) are copied here, so that only events that wait pay for a copy.
   * Without it, the content is held as given.
   */
  keep?(content: P): P;
}

/** Consumer settings. */
export interface ConsumerOptions {
  /**
   * Ack cadence in ticks until the handshake sets the producer's.
   * @default 5 (`DEFAULT_HEARTBEAT_INTERVAL_TICKS`)
   */
  heartbeatIntervalTicks?: number;
  /**
   * Ticks without progress before nacking.
   * @default 2 (`DEFAULT_NACK_TIMEOUT_TICKS`)
   */
  nackTimeoutTicks?: number;
  /**
   * Heartbeat intervals of silence before the producer counts as gone.
   * @default 100 (`DEFAULT_CONNECTION_TIMEOUT_FACTOR`)
   */
  connectionTimeoutFactor?: number;
  /**
   * Close with `connection_timeout` after `heartbeatIntervalTicks ×
   * connectionTimeoutFactor` ticks without any message from the producer.
   * Broker's consumer has the factor but never uses it.
   * @default true
   */
  producerTimeout?: boolean;
  /**
   * Most sequence numbers per nack.
   * @default 4096 (`DEFAULT_MAX_NACK_SEQS`)
   */
  maxNackSeqs?: number;
  /**
   * Events buffered ahead of the next expected one, at most.
   * @default 4096 (`DEFAULT_MAX_BUFFERED_EVENTS`)
   */
  maxBufferedEvents?: number;
}

/**
 * The most ticks a consumer waits, between two requests for the handshake,
 * because it may be arriving (`ConsumerTransport.arriving`): 50 (5 s at
 * Broker's 100 ms). An 80 MB snapshot took 2–5 s to arrive over loopback;
 * a clone whose request was lost while something else large kept arriving
 * from its master's peer asks again after this, not never.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MAX_HANDSHAKE_HOLD_TICKS } from "./channel.ts";
 * equal(MAX_HANDSHAKE_HOLD_TICKS * 100, 5000); // ms at the default tick
 * ```
 */
export const MAX_HANDSHAKE_HOLD_TICKS = 50;

interface Slot<P> {
  /** A sequence number. */
  seq: number;
  has: boolean;
  /** The payload it carries. */
  content: P | undefined;
}

/**
 * The receiving side of a channel.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { ChannelConsumer } from "./channel.ts";
 * const got: string[] = [];
 * const c = new ChannelConsumer<string, string>({
 *   consume: (x) => void got.push(x),
 *   consumeNil: () => undefined,
 *   send: () => {},
 *   close: () => {},
 * });
 * c.handleHandshake(1, 5, "master");
 * c.handleEvent(3, "b"); // early: buffered
 * c.handleEvent(2, "a");
 * deepEqual(got, ["a", "b"]);
 * ```
 */
export class ChannelConsumer<H, P> {
  readonly #out: ConsumerTransport<P>;
  readonly #defaultHeartbeat: number;
  readonly #nackTimeout: number;
  readonly #timeoutFactor: number;
  readonly #producerTimeout: boolean;
  readonly #maxNack: number;
  readonly #maxBuffered: number;
  #producer: H | undefined;
  #nextSeq = 0;
  #lastSeq = 0;
  #buf: Slot<P>[] = [];
  #ticks = 0;
  #lastTickSeq = 0;
  #idleTicks = 0;
  /** Ticks the handshake request waited for one arriving, since the last request. */
  #heldTicks = 0;
  #lastHeard = 0;
  #heartbeatInterval: number;

  /** A channel end talking through `transport`. */
  constructor(transport: ConsumerTransport<P>, options: ConsumerOptions = {}) {
    this.#out = transport;
    this.#defaultHeartbeat = checkTicks(
      "heartbeatIntervalTicks",
      options.heartbeatIntervalTicks ?? DEFAULT_HEARTBEAT_INTERVAL_TICKS,
      0,
    );
    this.#heartbeatInterval = this.#defaultHeartbeat;
    this.#nackTimeout = checkTicks(
      "nackTimeoutTicks",
      options.nackTimeoutTicks ?? DEFAULT_NACK_TIMEOUT_TICKS,
      1,
    );
    this.#timeoutFactor = checkTicks(
      "connectionTimeoutFactor",
      options.connectionTimeoutFactor ?? DEFAULT_CONNECTION_TIMEOUT_FACTOR,
      1,
    );
    this.#producerTimeout = options.producerTimeout ?? true;
    const maxNack = options.maxNackSeqs ?? DEFAULT_MAX_NACK_SEQS;
    if (!Number.isInteger(maxNack) || maxNack < 1) throw new RangeError("maxNackSeqs must be >= 1");
    this.#maxNack = maxNack;
    const maxBuffered = options.maxBufferedEvents ?? DEFAULT_MAX_BUFFERED_EVENTS;
    if (!Number.isInteger(maxBuffered) || maxBuffered < 1) {
      throw new RangeError("maxBufferedEvents must be >= 1");
    }
    this.#maxBuffered = maxBuffered;
  }

  /** The producer named in the handshake. */
  get producer(): H | undefined {
    return this.#producer;
  }

  /** Whether the handshake arrived. */
  get initialized(): boolean {
    return this.#nextSeq !== 0;
  }

  /** Sequence number expected next (0 before the handshake). */
  get nextSeq(): number {
    return this.#nextSeq;
  }

  /** Known end of the stream: one past the highest sequence number seen or announced. */
  get lastSeq(): number {
    return this.#lastSeq;
  }

  /** Events held back waiting for earlier ones. */
  get buffered(): number {
    return this.#buf.length;
  }

  /** Ticks since the last progress. */
  get idleTicks(): number {
    return this.#idleTicks;
  }

  /** Ticks since the start (or the last reset). */
  get numTicks(): number {
    return this.#ticks;
  }

  /** The producer's heartbeat interval (from the handshake). */
  get heartbeatInterval(): number {
    return this.#heartbeatInterval;
  }

  /** Whether everything known has been delivered. */
  get idle(): boolean {
    return this.initialized && this.#buf.length === 0 && this.#nextSeq === this.#lastSeq;
  }

  /**
   * The producer's handshake. Returns false (and changes nothing) when
   * already initialized: a repeated handshake.
   */
  handleHandshake(offset: number, heartbeatInterval: number, producer?: H): boolean {
    if (this.initialized) return false;
    if (producer !== undefined) this.#producer = producer;
    this.#lastHeard = this.#ticks;
    this.#nextSeq = offset + 1;
    this.#lastSeq = this.#nextSeq;
    this.#heartbeatInterval = heartbeatInterval;
    let n = 0;
    while (n < this.#buf.length && this.#buf[n].seq <= offset) n++;
    if (n > 0) this.#buf.splice(0, n);
    if (!this.#consumeBuffer()) return true;
    this.#sendAck();
    return true;
  }

  /** A heartbeat: the producer's latest sequence number reveals lost tail events. */
  handleHeartbeat(seq: number): void {
    this.#lastHeard = this.#ticks;
    if (this.#lastSeq === 0 || seq === 0) return;
    if (seq + 1 > this.#lastSeq) this.#lastSeq = seq + 1;
  }

  /** An event (new, retransmitted, early, or a duplicate). */
  handleEvent(seq: number, content: P): void {
    this.#lastHeard = this.#ticks;
    // Events are numbered from 2; a 0 would pass for "next" before the handshake.
    if (seq === 0) return;
    if (seq === this.#nextSeq) {
      this.#out.consume(content, seq);
      this.#bump();
      this.#consumeBuffer();
    } else if (seq > this.#nextSeq) {
      if (seq > this.#lastSeq) this.#lastSeq = seq;
      // Too far ahead to hold: the gap before it gets nacked, and it comes again.
      if (seq - this.#nextSeq > this.#maxBuffered) return;
      const at = this.#slot(seq);
      const slot = this.#buf[at];
      if (slot?.seq !== seq) {
        this.#buf.splice(at, 0, { seq, has: true, content: this.#held(content) });
      } else if (!slot.has) {
        // A retransmission beats an earlier "lost" notice.
        slot.has = true;
        slot.content = this.#held(content);
      }
    }
  }

  /** `retransmit_failed{seq}`: that event will never come. */
  handleRetransmitFailed(seq: number): void {
    this.#lastHeard = this.#ticks;
    if (seq === 0) return;
    if (seq === this.#nextSeq) {
      const err = this.#out.consumeNil(seq);
      if (err) {
        this.reset();
        this.#out.close(err);
        return;
      }
      this.#bump();
      this.#consumeBuffer();
    } else if (seq > this.#nextSeq) {
      const at = this.#slot(seq);
      if (this.#buf[at]?.seq !== seq) {
        this.#buf.splice(at, 0, { seq, has: false, content: undefined });
      }
    }
  }

  /** One tick: handshake requests, gap nacks, periodic acks, producer timeout. */
  tick(): void {
    this.#ticks++;
    if (!this.initialized) {
      // A handshake on its way (a snapshot of 80 MB took seconds) is not asked for again:
      // Broker's master answers each request with another copy.
      if (this.#heldTicks < MAX_HANDSHAKE_HOLD_TICKS && this.#out.arriving?.()) {
        this.#heldTicks++;
        return;
      }
      if (++this.#idleTicks >= this.#nackTimeout) {
        this.#idleTicks = 0;
        this.#heldTicks = 0;
        this.#out.send({ type: "nack", seqs: [0] });
      }
      return;
    }
    const timeout = this.#heartbeatInterval * this.#timeoutFactor;
    if (this.#producerTimeout && timeout > 0 && this.#ticks - this.#lastHeard >= timeout) {
      this.reset();
      this.#out.close(new BrokerError(ErrorCode.connection_timeout, "producer went silent"));
      return;
    }
    const progressed = this.#nextSeq > this.#lastTickSeq;
    this.#lastTickSeq = this.#nextSeq;
    if (progressed) {
      this.#idleTicks = 0;
      this.#periodicAck();
      return;
    }
    this.#idleTicks++;
    if (this.#nextSeq < this.#lastSeq && this.#idleTicks >= this.#nackTimeout) {
      this.#idleTicks = 0;
      this.#out.send({ type: "nack", seqs: this.#missing() });
      return;
    }
    this.#periodicAck();
  }

  /** Back to the state before the handshake (settings kept). */
  reset(): void {
    this.#producer = undefined;
    this.#nextSeq = 0;
    this.#lastSeq = 0;
    this.#buf = [];
    this.#ticks = 0;
    this.#lastTickSeq = 0;
    this.#idleTicks = 0;
    this.#heldTicks = 0;
    this.#lastHeard = 0;
    this.#heartbeatInterval = this.#defaultHeartbeat;
  }

  /** What to hold of an early event's content (see `ConsumerTransport.keep`). */
  #held(content: P): P {
    return this.#out.keep ? this.#out.keep(content) : content;
  }

  #periodicAck(): void {
    const hb = this.#heartbeatInterval;
    if (hb > 0 && this.#ticks % hb === 0) this.#sendAck();
  }

  #sendAck(): void {
    this.#out.send({
      type: "cumulative_ack",
      seq: this.#nextSeq > 0 ? this.#nextSeq - 1 : 0,
    });
  }

  #bump(): void {
    if (++this.#nextSeq > this.#lastSeq) this.#lastSeq = this.#nextSeq;
  }

  /** Where `seq` goes in the sorted buffer (index of the first slot >= seq). */
  #slot(seq: number): number {
    let lo = 0, hi = this.#buf.length;
    // Most arrivals belong at the end: check that before searching.
    if (hi > 0 && this.#buf[hi - 1].seq < seq) return hi;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#buf[mid].seq < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Delivers buffered events from the front while they are next; false if the channel closed. */
  #consumeBuffer(): boolean {
    let n = 0;
    while (n < this.#buf.length && this.#buf[n].seq === this.#nextSeq) {
      const slot = this.#buf[n];
      if (slot.has) {
        this.#out.consume(slot.content as P, slot.seq);
      } else {
        const err = this.#out.consumeNil(slot.seq);
        if (err) {
          this.reset();
          this.#out.close(err);
          return false;
        }
      }
      this.#bump();
      n++;
    }
    if (n > 0) this.#buf.splice(0, n);
    return true;
  }

  /** Sequence numbers from nextSeq up to lastSeq with nothing buffered, at most maxNackSeqs. */
  #missing(): number[] {
    const seqs: number[] = [];
    let i = this.#nextSeq;
    const upTo = (found: number) => {
      for (; i < found; i++) {
        if (seqs.length >= this.#maxNack) return;
        seqs.push(i);
      }
      i++;
    };
    for (const slot of this.#buf) upTo(slot.seq);
    upTo(this.#lastSeq);
    return seqs;
  }
}
