/**
 * Pieces shared by the store master and clone actors: topics, entity
 * numbering, clocks and sending one `internal_command` on a `CommandBus`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { storeTopics } from "./store_common.ts";
 * equal(storeTopics("kv").master, "kv/<$>/data/master");
 * ```
 *
 * @module
 */
import type { CommandBus } from "./command_bus.ts";
import type { EndpointId } from "../wire/endpoint_id.ts";
import { type Data, LIMITS } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { BoundedQueue } from "../queue.ts";
import type { StatusEvent } from "../status.ts";
import type { StatusSubscriberOptions } from "../status_hub.ts";
import {
  type ActionCommand,
  type Command,
  encodeAckCloneHeadTransient,
  encodeCommandTransient,
  encodeContentTransient,
} from "./commands.ts";
import type { StoreEvent, StoreEventsOptions } from "./events.ts";
import { type Entity, ENTITY_SIZE, NIL_ENTITY } from "./entity.ts";
import type { ContentLog } from "./content_log.ts";

/**
 * The two topics of store `name`: clones send to `master`, the master to `clone`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { storeTopics } from "./store_common.ts";
 * equal(storeTopics("kv").clone, "kv/<$>/data/clone");
 * ```
 */
export function storeTopics(name: string): { master: string; clone: string } {
  // Broker's topic join adds "/" only after a non-empty name (topic::operator/=).
  const prefix = name === "" ? "" : `${name}/`;
  return { master: `${prefix}<$>/data/master`, clone: `${prefix}<$>/data/clone` };
}

// Object IDs only need to be unique per endpoint; a counter per bus does that.
const objectIds = new WeakMap<CommandBus, bigint>();

/**
 * A fresh entity on this bus's endpoint.
 *
 * @example
 * ```ts
 * import { newEntity } from "./store_common.ts";
 * // const e = newEntity(endpoint.commandBus); // e.object is 1n, 2n, ...
 * ```
 */
export function newEntity(bus: CommandBus): Entity {
  const next = (objectIds.get(bus) ?? 0n) + 1n;
  objectIds.set(bus, next);
  return { endpoint: bus.idBytes, object: next };
}

/**
 * Wall-clock time in nanoseconds since the epoch (what expiries are measured in).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { nowNs } from "./store_common.ts";
 * equal(nowNs() > 0n, true);
 * ```
 */
export function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/**
 * Sends one command (its content as a `Command`, or already encoded: see
 * `encodeContentTransient`). `envelopeReceiver` set: unicast to that endpoint
 * (Broker addresses acks, nacks and `ack_clone` this way); unset: broadcast
 * to every peer subscribed to `topic`.
 *
 * @example
 * ```ts
 * import { sendStoreCommand } from "./store_common.ts";
 * // sendStoreCommand(bus, "kv/<$>/data/master", 0n, self, NIL_ENTITY, { type: "nack", seqs: [0n] });
 * ```
 */
export function sendStoreCommand(
  bus: CommandBus,
  topic: string,
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  content: Command | Uint8Array,
  envelopeReceiver?: EndpointId,
): void {
  // sendCommand copies the bytes into its frame before anything can encode again.
  bus.sendCommand(topic, encodeStoreCommand(seq, sender, receiver, content), envelopeReceiver);
}

/**
 * `sendStoreCommand` to the one endpoint `envelopeReceiver`, telling when
 * its frame left (see `CommandBus.sendCommandTracked`): the promise
 * resolves once it is written to that peer's socket or never will be;
 * undefined when the bus cannot tell or queued nothing.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { CommandBus } from "./command_bus.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { sendStoreCommandTracked } from "./store_common.ts";
 * const bus = { sendCommand: () => {} } as unknown as CommandBus; // cannot tell
 * const peer = new Uint8Array(16);
 * equal(sendStoreCommandTracked(bus, "kv/<$>/data/clone", 0n, NIL_ENTITY, NIL_ENTITY, { type: "keepalive", seq: 1n }, peer), undefined);
 * ```
 */
export function sendStoreCommandTracked(
  bus: CommandBus,
  topic: string,
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  content: Command | Uint8Array,
  envelopeReceiver: EndpointId,
): Promise<void> | undefined {
  const payload = encodeStoreCommand(seq, sender, receiver, content);
  return sendParts(bus, topic, payload, EMPTY, 0, 0, envelopeReceiver, true);
}

/** A command's encoding, valid until the next transient encoding. */
function encodeStoreCommand(
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  content: Command | Uint8Array,
): Uint8Array {
  return content instanceof Uint8Array
    ? encodeContentTransient(seq, sender, receiver ?? NIL_ENTITY, content)
    : encodeCommandTransient({ seq, sender, receiver: receiver ?? NIL_ENTITY, content });
}

const EMPTY = new Uint8Array(0);

/**
 * Sends a master's `ack_clone` whose state is `state.bytes`, the entries'
 * encodings back to back (`MemoryBackend.stateBytes`): the command's head,
 * then those bytes, written into the frame as they are when the bus can
 * (a million entries were copied into a command, then into the frame).
 * Unicast (`envelopeReceiver`), it returns what `sendStoreCommandTracked`
 * does: when the frame left, if the bus can tell.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { CommandBus } from "./command_bus.ts";
 * import { decodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * import { sendAckClone } from "./store_common.ts";
 * let sent: Uint8Array | undefined;
 * const bus = { sendCommand: (_t: string, p: Uint8Array) => void (sent = p.slice()) } as CommandBus;
 * const entry = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 7, 0]); // count 7 -> none
 * sendAckClone(bus, "kv/<$>/data/clone", 1n, NIL_ENTITY, NIL_ENTITY, 5, { bytes: entry, count: 1 });
 * const ack = decodeCommand(sent!).content;
 * equal(ack.type === "ack_clone" && ack.state.length, 1);
 * ```
 */
export function sendAckClone(
  bus: CommandBus,
  topic: string,
  offset: bigint,
  sender: Entity,
  receiver: Entity,
  heartbeatInterval: number,
  state: { bytes: Uint8Array; count: number },
  envelopeReceiver?: EndpointId,
): Promise<void> | undefined {
  // Broker's ack_clone carries the offset as its seq too.
  const head = encodeAckCloneHeadTransient(
    offset,
    sender,
    receiver,
    offset,
    heartbeatInterval,
    state.count,
  );
  return sendParts(bus, topic, head, state.bytes, 0, state.bytes.length, envelopeReceiver, true);
}

/**
 * Sends the command `head` + `src[from, to)`: written into the frame as
 * they are when the bus can (`sendCommandParts`), else assembled first.
 * With `track`, a unicast tells when its frame left, when the bus can
 * (`sendCommandTracked`); else the result is undefined.
 */
function sendParts(
  bus: CommandBus,
  topic: string,
  head: Uint8Array,
  src: Uint8Array,
  from: number,
  to: number,
  envelopeReceiver: EndpointId | undefined,
  track = false,
): Promise<void> | undefined {
  if (track && envelopeReceiver && bus.sendCommandTracked) {
    return bus.sendCommandTracked(topic, head, src, from, to, envelopeReceiver);
  }
  if (bus.sendCommandParts) {
    bus.sendCommandParts(topic, head, src, from, to, envelopeReceiver);
    return undefined;
  }
  const payload = new Uint8Array(head.length + to - from);
  payload.set(head);
  payload.set(src.subarray(from, to), head.length);
  bus.sendCommand(topic, payload, envelopeReceiver);
  return undefined;
}

/** A command's seq, sender and receiver, rewritten for each `sendStoreContent`. */
const HEAD = new Uint8Array(8 + 2 * ENTITY_SIZE);

/**
 * Sends the command of sequence number `seq` from `sender` to `receiver`
 * (both as their 24 wire bytes) whose content is the one logged at `pos` in
 * a store's `log` (already encoded): as `sendStoreCommand`, but the bus
 * writes header and content straight into the frame when it can.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { CommandBus } from "./command_bus.ts";
 * import { ContentLog } from "./content_log.ts";
 * import { sendStoreContent } from "./store_common.ts";
 * let sent: Uint8Array | undefined;
 * const bus = { sendCommand: (_t: string, p: Uint8Array) => void (sent = p.slice()) } as CommandBus;
 * const log = new ContentLog();
 * const keepalive = new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 1]);
 * const pos = log.append(keepalive, 0, 9);
 * sendStoreContent(bus, "kv/<$>/data/clone", 0, new Uint8Array(24), new Uint8Array(24), log, pos);
 * equal(sent!.length, 8 + 24 + 24 + 9);
 * ```
 */
export function sendStoreContent(
  bus: CommandBus,
  topic: string,
  seq: number,
  sender: Uint8Array,
  receiver: Uint8Array,
  log: ContentLog,
  pos: number,
  envelopeReceiver?: EndpointId,
): void {
  const n = log.locate(pos);
  const src = log.buf, from = log.at, to = from + n;
  const h = HEAD;
  // Sequence numbers are at most 2^53 - 1 (MAX_SEQ in channel.ts): exact as numbers.
  const hi = Math.floor(seq / 0x100000000), lo = seq >>> 0;
  h[0] = hi >>> 24;
  h[1] = hi >>> 16;
  h[2] = hi >>> 8;
  h[3] = hi;
  h[4] = lo >>> 24;
  h[5] = lo >>> 16;
  h[6] = lo >>> 8;
  h[7] = lo;
  for (let i = 0; i < ENTITY_SIZE; i++) h[8 + i] = sender[i];
  for (let i = 0; i < ENTITY_SIZE; i++) h[8 + ENTITY_SIZE + i] = receiver[i];
  sendParts(bus, topic, h, src, from, to, envelopeReceiver);
}

/**
 * Converts the public expiry form (number = milliseconds, bigint =
 * nanoseconds) into the wire's relative nanoseconds: a timespan, so a
 * signed 64-bit count. Anything else throws `BrokerError(invalid_data)`
 * before the write is applied anywhere: a master that stored such a write
 * could not tell its clones (the broadcast would not encode).
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { expiryNs } from "./store_common.ts";
 * equal(expiryNs(200), 200_000_000n);
 * equal(expiryNs(undefined), null);
 * throws(() => expiryNs(Infinity), /expiry/);
 * throws(() => expiryNs(2n ** 63n), /expiry/);
 * ```
 */
export function expiryNs(expiry: number | bigint | undefined): bigint | null {
  if (expiry === undefined) return null;
  const ns = typeof expiry === "bigint"
    ? expiry
    : typeof expiry === "number" && Number.isFinite(expiry)
    ? BigInt(Math.round(expiry * 1_000_000))
    : undefined;
  if (ns === undefined || ns < LIMITS.I64_MIN || ns > LIMITS.I64_MAX) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `expiry must be a timespan (milliseconds as a number, nanoseconds as a bigint, ` +
        `within a signed 64-bit count of nanoseconds), not ${String(expiry)}`,
    );
  }
  return ns;
}

/**
 * What the `Store` handle needs from a master or a clone. Writes carry
 * their publisher already; reads and `putUnique` answer asynchronously
 * because a clone may have to wait for its master.
 */
/**
 * A store actor's numbers, as Broker's `broker_store_*` families report
 * them (a master: entries, output channels, unacknowledged and processed
 * updates; a clone: input channels and out-of-order updates).
 */
export interface StoreMetrics {
  /** `master` or `clone`. */
  readonly role: "master" | "clone";
  /** Entries in the store. */
  readonly entries: number;
  /** A master's channels to its clones; a clone's channel to its master (0 or 1). */
  readonly outputChannels: number;
  /** A master's channels from writing clones; a clone's channel from its master (0 or 1). */
  readonly inputChannels: number;
  /** Updates sent and not yet acknowledged by every clone (a master), or a clone's writes. */
  readonly unacknowledgedUpdates: number;
  /** Updates received ahead of a gap, waiting for it to fill. */
  readonly outOfOrderUpdates: number;
  /** Updates applied to the store so far. */
  readonly processedUpdates: number;
  /** Writes waiting for a master (a clone). */
  readonly pendingWrites: number;
}

export interface StoreActor {
  /** The store's name. */
  readonly name: string;
  /** Its numbers for Broker's `broker_store_*` metrics and the status API. */
  metrics(): StoreMetrics;
  /** This actor's entity (the publisher of its writes). */
  readonly id: Entity;
  /** Whether this is the master. */
  readonly isMaster: boolean;
  /** The value under key (or one aspect of it); throws `no_such_key`. */
  get(key: Data, aspect?: Data): Promise<
    Data
  >;
  /** Whether key exists. */
  exists(key: Data): Promise<boolean>;
  /** All keys. */
  keys(): Promise<Data[]>;
  /** A write (`put`, `erase`, `add`, `subtract`, `clear`). */
  write(cmd: ActionCommand): Promise<void>;
  /** `put_unique`: whether the key was inserted. */
  putUnique(
    key: Data,
    value: Data,
    expiry: bigint | null,
  ): Promise<boolean>;
  /** A new bounded reader of this actor's store events. */
  events(options?: StoreEventsOptions): BoundedQueue<StoreEvent>;
  /** Resolves true once nothing is in flight; false after `timeoutMs` or once closed. */
  awaitIdle(timeoutMs: number): Promise<boolean>;
  /** Stops the actor (timers, subscriptions, backend). */
  close(): void;
  /** Whether close ran. */
  readonly closed: boolean;
  /** Master: clones that acked their `ack_clone`; clone: its master, once attached. */
  readonly peers: Entity[];
  /** Master: writers whose `attach_writer` arrived; clone: empty. */
  readonly writers: Entity[];
}

/**
 * What a store needs from its endpoint: the command bus, and a status
 * subscriber to notice peers going away and the endpoint shutting down
 * (its queues close then).
 */
export interface StoreHost {
  /** Store command traffic. */
  readonly commandBus: CommandBus;
  /** Status and error events; the queue closes when the endpoint shuts down. */
  statusSubscriber(options?: StatusSubscriberOptions): BoundedQueue<StatusEvent>;
  /**
   * Tells status subscribers of a failure no caller waits for (where
   * Broker's master logs one: a backend failing on an expiry or on a
   * clone's snapshot), as an error event.
   */
  reportError?(code: ErrorCode, message: string): void;
}

/**
 * Waits, a tick at a time, until `idle()` holds: true then, false when
 * `timeoutMs` ran out first or the store stopped (`stopped()`), before or
 * during the wait, as Broker's `store::await_idle` is false when its request
 * to a store actor the shutdown killed fails; what a stopped store still held
 * will not be delivered (masters and clones share this).
 */
export async function waitUntilIdle(
  idle: () => boolean,
  stopped: () => boolean,
  tickMs: number,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (stopped()) return false;
    if (idle()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, tickMs));
  }
}
