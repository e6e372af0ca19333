/**
 * A store master on a `CommandBus` (Broker's `master_actor`): owns the
 * backend, applies its own writes and those its clones send on their writer
 * channels, and broadcasts the results to all clones on its channel.
 *
 * Applications use it through `Store` (`Endpoint.attachMaster`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { Endpoint } from "../endpoint.ts";
 * import { count, str } from "../data/mod.ts";
 * const ep = new Endpoint();
 * const kv = ep.attachMaster("kv");
 * await kv.put(str("a"), count(1n));
 * deepEqual(await kv.get(str("a")), { type: "count", value: 1n });
 * kv.close();
 * await ep.shutdown();
 * ```
 *
 * @module
 */
import type { Data } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { BoundedQueue } from "../queue.ts";
import type { StatusEvent } from "../status.ts";
import type { StoreBackend } from "./backend.ts";
import { ChannelConsumer, ChannelProducer, consumerMessageToWire, seqFromWire } from "./channel.ts";
import {
  type ActionCommand,
  appendContent,
  type Command,
  decodeCommand,
  type InternalCommand,
  isAction,
} from "./commands.ts";
import { ContentLog } from "./content_log.ts";
import { MemoryBackend } from "./memory_backend.ts";
import {
  appendPutContent,
  appendUniqueResult,
  CONTENT_AT,
  entityAt,
  entityBytes,
  isRawWrite,
  ownedRawWrite,
  type RawWrite,
  RawWriteSlot,
  readSeq,
  readU64,
} from "./raw_write.ts";
import { dataKey, latin1Of } from "./data_key.ts";
import { type Entity, ENTITY_SIZE, entityKey, NIL_ENTITY } from "./entity.ts";
import { type StoreEvent, StoreEventHub, type StoreEventsOptions } from "./events.ts";
import {
  type Applied,
  type AppliedClear,
  applyCommand,
  applyExpire,
  getValue,
} from "./operations.ts";
import type { CommandMessage } from "./command_bus.ts";
import type { EndpointId } from "../wire/endpoint_id.ts";
import {
  newEntity,
  nowNs,
  sendAckClone,
  sendStoreCommand,
  sendStoreCommandTracked,
  sendStoreContent,
  type StoreActor,
  type StoreHost,
  type StoreMetrics,
  storeTopics,
  waitUntilIdle,
} from "./store_common.ts";
import { type StoreTimingOptions, tickIntervalOf } from "./options.ts";

/**
 * Master settings: the timing every store actor has (ticks as in Broker's
 * `lb/defaults.hh`; a master nacks its writers and drops silent clones).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { MasterOptions } from "./master.ts";
 * const options: MasterOptions = { tickIntervalMs: 20, heartbeatIntervalTicks: 5 };
 * equal(options.tickIntervalMs! * options.heartbeatIntervalTicks!, 100);
 * ```
 */
export type MasterOptions = StoreTimingOptions;

/** What a writer's channel carries: a decoded write, or one read in place. */
type WriterInput = ActionCommand | RawWrite;

interface Writer {
  readonly entity: Entity;
  readonly consumer: ChannelConsumer<Entity, WriterInput>;
}

/**
 * The master actor. Throws `BrokerError(master_exists)` from the
 * constructor when a peer already announces this store's master topic.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { StoreMaster } from "./master.ts";
 * import { MemoryBackend } from "./memory_backend.ts";
 * import { Endpoint } from "../endpoint.ts";
 * const ep = new Endpoint();
 * const m = new StoreMaster(ep, "kv", new MemoryBackend());
 * equal(m.isMaster, true);
 * m.close();
 * await ep.shutdown();
 * ```
 */
export class StoreMaster implements StoreActor {
  readonly name: string;
  readonly id: Entity;
  readonly isMaster = true;
  readonly #host: StoreHost;
  readonly #backend: StoreBackend;
  readonly #topics: { master: string; clone: string };
  readonly #opts: MasterOptions;
  /** Milliseconds per tick, checked. */
  readonly #tickMs: number;
  /** Its channel to the clones; an event's content is its position in `#log`. */
  readonly #producer: ChannelProducer<Entity, number>;
  /** The encoded contents of the events not yet acked by every clone. */
  readonly #log = new ContentLog();
  readonly #writers = new Map<string, Writer>();
  /**
   * The backend when it keeps encoded entries (the memory backend): plain
   * `put`s and `put_unique`s then skip decoding (`raw_write.ts`).
   */
  readonly #packed: MemoryBackend | undefined;
  /** `id` as encoded on the wire (a `put_unique_result`'s publisher). */
  readonly #selfBytes: Uint8Array;
  /** Where each received command is read in place (an early write is copied out of it). */
  readonly #slot = new RawWriteSlot();
  /** The sender bytes of the last write read in place, and its writer. */
  readonly #lastSender = new Uint8Array(ENTITY_SIZE);
  #lastWriter: Writer | undefined;
  /** Keys with an expiry, by `dataKey`: checked every tick (Broker arms a timer per key). */
  readonly #expiries = new Map<string, { key: Data; at: bigint }>();
  readonly #status: BoundedQueue<StatusEvent>;
  readonly #events: StoreEventHub;
  readonly #unsubscribe: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #processedUpdates = 0;
  /** Whether the last expiry failed (reported once until one succeeds). */
  #expireFailing = false;
  /**
   * The clones (by `entityKey`) whose `ack_clone` is on its way: the offset
   * it carries, the tick it was queued at, and once it left our queue (was
   * written, or the connection closed) the tick until which it is still
   * taken to be on its way (`#snapshotQueued`). Their asks for it again
   * (nack [0]) go unanswered meanwhile. Cleared when the clone acks, or is
   * dropped.
   */
  readonly #snapshotsSent = new Map<string, SnapshotSent>();

  /** Made by `Endpoint.attachMaster`. */
  constructor(host: StoreHost, name: string, backend: StoreBackend, options: MasterOptions = {}) {
    const bus = host.commandBus;
    this.#topics = storeTopics(name);
    if (bus.hasPeerSubscriber(this.#topics.master)) {
      throw new BrokerError(ErrorCode.master_exists, `a peer already has a master for ${name}`);
    }
    this.name = name;
    this.#host = host;
    this.#backend = backend;
    this.#opts = options;
    this.#tickMs = tickIntervalOf(options);
    this.id = newEntity(bus);
    this.#packed = backend instanceof MemoryBackend ? backend : undefined;
    this.#selfBytes = entityBytes(this.id);
    this.#events = new StoreEventHub(name, bus);
    // A restarted master re-arms the expiries its backend kept.
    for (const [key, at] of backend.expiries()) this.#expiries.set(dataKey(key), { key, at });
    this.#producer = new ChannelProducer<Entity, number>({
      send: (to, m) => {
        if (m.type === "handshake") {
          // A clone asks again (nack [0]) every 200 ms until its snapshot is
          // in, and Broker's master answers each ask with the whole table: an
          // 80 MB one still being written made the C++ master queue ten more
          // copies (1.6 GB). The copy queued for it is on its way: no other.
          const key = entityKey(to);
          if (this.#onItsWay(key, m.offset)) return;
          // Broker's ack_clone carries the offset as its seq and the whole table.
          const offset = BigInt(m.offset);
          let written;
          if (this.#packed) {
            // A memory store's entries go as the bytes it holds (any order is valid).
            written = sendAckClone(
              this.#host.commandBus,
              this.#topics.clone,
              offset,
              this.id,
              to,
              m.heartbeatInterval,
              this.#packed.stateBytes(),
              to.endpoint,
            );
          } else {
            let state;
            try {
              state = backend.snapshot();
            } catch (e) {
              // No ack_clone now: the clone asks again (nack [0]) until one goes out.
              this.#report(e, "cannot read the state for a clone");
              return;
            }
            written = sendStoreCommandTracked(
              this.#host.commandBus,
              this.#topics.clone,
              offset,
              this.id,
              to,
              {
                type: "ack_clone",
                offset,
                heartbeatInterval: m.heartbeatInterval,
                state,
              },
              to.endpoint,
            );
          }
          this.#snapshotQueued(key, m.offset, written);
        } else if (m.type === "event") {
          this.#sendLogged(m.seq, entityBytes(to), m.content, to.endpoint);
        } else {
          this.#send(0n, to, { type: "retransmit_failed", seq: BigInt(m.seq) }, to.endpoint);
        }
      },
      broadcast: (m) => {
        if (m.type === "event") this.#sendLogged(m.seq, NIL_BYTES, m.content);
        else this.#send(0n, NIL_ENTITY, { type: "keepalive", seq: BigInt(m.seq) });
      },
      // A clone dropped and added again starts over: its next ask is answered.
      drop: (clone) => void this.#snapshotsSent.delete(entityKey(clone)),
      // It has its snapshot: nothing is on its way any more.
      handshakeCompleted: (clone) => void this.#snapshotsSent.delete(entityKey(clone)),
    }, options);
    this.#status = host.statusSubscriber({ statuses: false, queueSize: 1 });
    this.#unsubscribe = bus.onCommands(this.#topics.master, (m) => this.#receive(m));
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
  }

  /** Whether close ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Clones that completed the handshake (acked their `ack_clone`). */
  get peers(): Entity[] {
    return this.#producer.paths.filter((p) => p.acked !== 0).map((p) => p.handle);
  }

  /** Writers whose channel is open (their `attach_writer` arrived). */
  get writers(): Entity[] {
    return [...this.#writers.values()].filter((w) => w.consumer.initialized).map((w) => w.entity);
  }

  /** Its numbers for the metrics (see `StoreMetrics`). */
  metrics(): StoreMetrics {
    let inputs = 0, outOfOrder = 0;
    for (const w of this.#writers.values()) {
      if (w.consumer.initialized) inputs++;
      outOfOrder += w.consumer.buffered;
    }
    return {
      role: "master",
      entries: this.#closed ? 0 : this.#backend.size(),
      outputChannels: this.#producer.paths.length,
      inputChannels: inputs,
      unacknowledgedUpdates: this.#producer.buffered,
      outOfOrderUpdates: outOfOrder,
      processedUpdates: this.#processedUpdates,
      pendingWrites: 0,
    };
  }

  /** Direct access to the backend (read-only use). */
  get backend(): StoreBackend {
    return this.#backend;
  }

  get(key: Data, aspect?: Data): Promise<Data> {
    this.#assertOpen();
    return Promise.resolve().then(() => getValue(this.#backend, key, aspect));
  }

  exists(key: Data): Promise<boolean> {
    this.#assertOpen();
    return Promise.resolve(this.#backend.exists(key));
  }

  keys(): Promise<Data[]> {
    this.#assertOpen();
    return Promise.resolve(this.#backend.keys());
  }

  write(cmd: ActionCommand): Promise<void> {
    this.#assertOpen();
    const error = this.#apply(cmd);
    return error ? Promise.reject(error) : Promise.resolve();
  }

  putUnique(key: Data, value: Data, expiry: bigint | null): Promise<boolean> {
    this.#assertOpen();
    let inserted = false;
    const error = this.#apply({
      type: "put_unique",
      key,
      value,
      expiry,
      who: this.id,
      reqId: 0n,
      publisher: this.id,
    }, (r) => inserted = "inserted" in r && r.inserted === true);
    return error ? Promise.reject(error) : Promise.resolve(inserted);
  }

  events(options?: StoreEventsOptions): BoundedQueue<StoreEvent> {
    this.#assertOpen();
    return this.#events.subscribe(options);
  }

  awaitIdle(timeoutMs: number): Promise<boolean> {
    return waitUntilIdle(
      () => this.#idle(),
      () => this.#closed,
      this.#tickMs,
      timeoutMs,
    );
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unsubscribe();
    this.#status.close();
    this.#events.close();
    try {
      this.#backend.close();
    } catch (e) {
      // Closing runs from a timer too (the endpoint shut down): nobody would catch it.
      this.#report(e, "closing the backend");
    }
  }

  /**
   * Notes the `ack_clone` at `offset` queued for a clone; `written` resolves
   * once it left our queue. Written, it still has to be read and taken in:
   * the C++ clone acked 9 ticks after an 80 MB one that had been queued for
   * 6 was written (25 MB: 5 after 3), asking again every 2 ticks meanwhile,
   * and each ask got another copy. So it counts as on its way for three
   * times as many ticks as it was queued, at least 2 (a clone's nack
   * timeout). A clone that lost it anyway (its peering broke: Broker's
   * endpoints redial after 10 s) is answered that much later; nothing is
   * sent that Broker would not send.
   */
  #snapshotQueued(key: string, offset: number, written: Promise<void> | undefined): void {
    if (!written) return; // the bus cannot tell: every ask is answered, as Broker's master does
    const queuedAt = this.#producer.tickTime;
    const sent: SnapshotSent = { offset, queuedAt, until: Infinity };
    this.#snapshotsSent.set(key, sent);
    written.then(() => {
      const now = this.#producer.tickTime;
      sent.until = now + Math.max(2, 3 * (now - queuedAt));
    });
  }

  /** Whether the `ack_clone` at `offset` for the clone `key` is on its way (see `#snapshotsSent`). */
  #onItsWay(key: string, offset: number): boolean {
    const sent = this.#snapshotsSent.get(key);
    if (sent === undefined) return false;
    if (sent.offset === offset && this.#producer.tickTime < sent.until) return true;
    this.#snapshotsSent.delete(key);
    return false;
  }

  #idle(): boolean {
    if (!this.#producer.idle) return false;
    for (const w of this.#writers.values()) if (!w.consumer.idle) return false;
    return true;
  }

  #assertOpen(): void {
    if (this.#closed) throw new BrokerError(ErrorCode.shutting_down, `store ${this.name} closed`);
  }

  /** Applies one write and broadcasts its results; returns the failure, if any. */
  #apply(cmd: ActionCommand, inspect?: (r: Applied) => void): BrokerError | undefined {
    const r = applyCommand(this.#backend, cmd, nowNs(), this.id, this.#events.active);
    this.#processedUpdates++;
    if (r.error) return r.error;
    inspect?.(r);
    if (cmd.type === "clear") this.#expiries.clear();
    else if ("key" in cmd && r.expiry !== undefined) {
      // Most writes have no expiry and nothing to cancel: spare them the key's encoding.
      if (r.expiry === null) {
        if (this.#expiries.size !== 0) this.#expiries.delete(dataKey(cmd.key));
      } else this.#expiries.set(dataKey(cmd.key), { key: cmd.key, at: r.expiry });
    }
    if (this.#events.active) emitApplied(this.#events, r);
    for (const b of r.broadcast) this.#broadcast(b);
    return undefined;
  }

  /**
   * Sends `content` for `to` (`NIL_ENTITY`: everyone) on the store's topic;
   * with `envelopeReceiver` the envelope is addressed to that endpoint only.
   */
  #send(
    seq: bigint,
    to: Entity,
    content: Command | Uint8Array,
    envelopeReceiver?: EndpointId,
  ): void {
    sendStoreCommand(
      this.#host.commandBus,
      this.#topics.clone,
      seq,
      this.id,
      to,
      content,
      envelopeReceiver,
    );
  }

  /** Sends the content at `pos` in the log, from us to `to` (its 24 wire bytes). */
  #sendLogged(seq: number, to: Uint8Array, pos: number, envelopeReceiver?: EndpointId): void {
    sendStoreContent(
      this.#host.commandBus,
      this.#topics.clone,
      seq,
      this.#selfBytes,
      to,
      this.#log,
      pos,
      envelopeReceiver,
    );
  }

  #writer(sender: Entity): Writer {
    const key = entityKey(sender);
    let w = this.#writers.get(key);
    if (w) return w;
    const consumer = new ChannelConsumer<Entity, WriterInput>({
      consume: (content) => {
        if (isRawWrite(content)) this.#applyRaw(content);
        else this.#apply(content);
      },
      // A lost write is lost for everyone; the master goes on, as Broker's does.
      consumeNil: () => undefined,
      // An early write waits for its turn: its bytes must outlive the read buffer.
      // (Decoded writes own their values already.)
      keep: (content) => isRawWrite(content) ? ownedRawWrite(content) : content,
      send: (m) => this.#send(0n, sender, consumerMessageToWire(m), sender.endpoint),
      close: () => {
        this.#writers.delete(key);
        this.#lastWriter = undefined;
      },
    }, this.#opts);
    w = { entity: sender, consumer };
    this.#writers.set(key, w);
    return w;
  }

  /**
   * Applies a write read in place: the key and value go to the backend as
   * the bytes it keeps, and the broadcasts are built from the received bytes.
   * Someone watching the store's events (they need values) or another
   * backend gets the write decoded.
   */
  #applyRaw(w: RawWrite): void {
    const backend = this.#packed;
    if (!backend || this.#events.active) {
      const { content } = decodeCommand(w.bytes);
      if (isAction(content)) this.#apply(content);
      return;
    }
    this.#processedUpdates++;
    const { bytes, keyAt, valueAt } = w;
    try {
      if (w.type === "raw_put_unique" && backend.hasSpan(bytes, keyAt, valueAt)) {
        if (this.#openLog()) {
          this.#producer.produce(appendUniqueResult(this.#log, w, false, this.#selfBytes));
        }
        return;
      }
      backend.putSpan(bytes, keyAt, valueAt, w.valueEnd);
    } catch {
      return; // a closed backend: nothing applied, nothing to broadcast
    }
    // No expiry any more (the key's bytes are its `dataKey`, which the timers use).
    if (this.#expiries.size !== 0) this.#expiries.delete(latin1Of(bytes, keyAt, valueAt));
    if (!this.#openLog()) return;
    this.#producer.produce(appendPutContent(this.#log, w));
    if (w.type === "raw_put_unique") {
      this.#producer.produce(appendUniqueResult(this.#log, w, true, this.#selfBytes));
    }
  }

  /** Sends a write's result to the clones (through the log, like every event). */
  #broadcast(b: ActionCommand): void {
    if (!this.#openLog()) return;
    this.#producer.produce(appendContent(this.#log, b));
  }

  /**
   * Drops the contents every clone acked from the log; false when there is
   * no clone (nothing is sent, and nothing kept).
   */
  #openLog(): boolean {
    const producer = this.#producer;
    if (!producer.hasConsumers) return false;
    this.#log.release(producer.oldest ?? this.#log.next);
    return true;
  }

  /**
   * The writer that sent `payload` (the last one again, mostly, without
   * decoding its entity); undefined when its channel is not open.
   */
  #writerOf(payload: Uint8Array): Writer | undefined {
    const last = this.#lastSender;
    const w = this.#lastWriter;
    if (w && entityAt(payload, 8, last)) return w;
    const found = this.#writers.get(entityKey({
      endpoint: payload.subarray(8, 24),
      object: readU64(payload, 24),
    }));
    if (!found) return undefined;
    last.set(payload.subarray(8, 8 + ENTITY_SIZE));
    return this.#lastWriter = found;
  }

  #receive(m: CommandMessage): void {
    if (this.#closed) return;
    const payload = m.payload;
    if (this.#packed && payload.length > CONTENT_AT && !this.#events.active) {
      const w = this.#slot;
      if (w.read(payload)) {
        // A seq past 2^53 - 1 is dropped, as an undecodable command (see MAX_SEQ).
        const seq = readSeq(payload, 0);
        if (seq >= 0) this.#writerOf(payload)?.consumer.handleEvent(seq, w);
        return;
      }
    }
    let cmd;
    try {
      // An ack_clone (no master's business) is validated, not built as values.
      cmd = decodeCommand(m.payload, { stateSpans: true });
    } catch {
      return; // Broker drops undecodable commands
    }
    try {
      this.#handle(cmd);
    } catch (e) {
      // A sequence number past MAX_SEQ: dropped, as an undecodable command.
      if (!(e instanceof BrokerError && e.code === ErrorCode.invalid_message)) throw e;
    }
  }

  /** A decoded command from a clone (its u64s converted by `seqFromWire`). */
  #handle(cmd: InternalCommand): void {
    const { sender, content } = cmd;
    switch (content.type) {
      case "nack":
        this.#producer.handleNack(sender, content.seqs.map(seqFromWire));
        return;
      case "cumulative_ack":
        this.#producer.handleAck(sender, seqFromWire(content.seq));
        return;
      case "attach_writer": {
        const offset = seqFromWire(content.offset);
        const w = this.#writer(sender);
        if (!w.consumer.handleHandshake(offset, content.heartbeatInterval, sender)) {
          // A writer that started over (new channel at a lower offset): begin again.
          if (offset + 1 !== w.consumer.nextSeq) {
            w.consumer.reset();
            w.consumer.handleHandshake(offset, content.heartbeatInterval, sender);
          }
        }
        return;
      }
      case "keepalive":
        this.#writers.get(entityKey(sender))?.consumer.handleHeartbeat(seqFromWire(content.seq));
        return;
      case "retransmit_failed":
        this.#writers.get(entityKey(sender))?.consumer.handleRetransmitFailed(
          seqFromWire(content.seq),
        );
        return;
      default:
        // Only on a writer channel that attach_writer opened, as Broker's master keeps
        // inputs: a write from another sender is dropped, and it is asked for nothing.
        if (isAction(content)) {
          this.#writers.get(entityKey(sender))?.consumer.handleEvent(seqFromWire(cmd.seq), content);
        }
    }
  }

  #tick(): void {
    if (this.#status.closed) return this.close(); // the endpoint shut down
    this.#status.poll();
    this.#producer.tick();
    for (const w of this.#writers.values()) w.consumer.tick();
    const lost = this.#backend.takeFailure?.();
    if (lost) this.#report(lost, "writes lost");
    if (this.#expiries.size === 0) return;
    const now = nowNs();
    for (const [k, { key, at }] of this.#expiries) {
      if (at > now) continue;
      let r;
      try {
        r = applyExpire(this.#backend, key, now, this.id);
      } catch (e) {
        // Kept for the next tick (Broker's master logs the failure and forgets the key's timer).
        if (!this.#expireFailing) this.#report(e, "cannot expire a key");
        this.#expireFailing = true;
        return;
      }
      this.#expireFailing = false;
      this.#expiries.delete(k);
      if (this.#events.active) emitApplied(this.#events, r);
      for (const b of r.broadcast) this.#broadcast(b);
    }
  }

  /** A failure no caller waits for, as an error event (Broker's master logs it). */
  #report(e: unknown, what: string): void {
    const code = e instanceof BrokerError ? e.code : ErrorCode.backend_failure;
    const why = e instanceof Error ? e.message : String(e);
    this.#host.reportError?.(code, `store ${this.name}: ${what}: ${why}`);
  }
}

/** An `ack_clone` on its way to a clone (see `StoreMaster.#snapshotsSent`). */
interface SnapshotSent {
  /** The offset it carries. */
  readonly offset: number;
  /** The producer's tick when it was queued. */
  readonly queuedAt: number;
  /** The tick from which the clone's asks are answered again (Infinity while queued). */
  until: number;
}

/** The nil entity on the wire (a broadcast's receiver). */
const NIL_BYTES = new Uint8Array(ENTITY_SIZE);

/**
 * Reports what one applied write did, derived from what the master
 * broadcasts (as Broker's master does: `add`/`subtract` report the
 * resulting `put` without expiry, `clear` one erase per removed key).
 */
function emitApplied(hub: StoreEventHub, r: Applied): void {
  for (const b of r.broadcast) {
    switch (b.type) {
      case "put":
        hub.put(b.key, b.value, r.old, b.expiry, b.publisher);
        break;
      case "erase":
        hub.erase(b.key, b.publisher);
        break;
      case "expire":
        hub.expire(b.key, b.publisher);
        break;
      case "clear":
        for (const k of (r as AppliedClear).erased ?? []) hub.erase(k, b.publisher);
        break;
    }
  }
}
