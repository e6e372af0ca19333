/**
 * A store clone on a `CommandBus` (Broker's `clone_actor`): keeps a local
 * copy of the master's table, answers reads from it, and forwards writes to
 * the master on its own writer channel.
 *
 * Start-up: subscribe `<name>/<$>/data/clone`, send `nack [0]` to the master
 * topic; the master's `ack_clone` brings the table and opens the master's
 * channel; the clone then opens its writer channel with `attach_writer`.
 * Writes issued before that, or after the master was lost, wait in a buffer
 * of at most `mutationBufferSize` writes and `mutationBufferBytes` bytes;
 * past it, writes fail with `no_such_master` instead of growing it (Broker's
 * clone buffers them without a bound, and gives up on the master after
 * 10 s).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { Endpoint } from "../endpoint.ts";
 * import { count, str } from "../data/mod.ts";
 * const a = new Endpoint(), b = new Endpoint();
 * const port = await a.listen("127.0.0.1", 0);
 * await b.peer("127.0.0.1", port);
 * const master = a.attachMaster("kv");
 * const clone = b.attachClone("kv");
 * await clone.put(str("k"), count(1n));
 * await clone.awaitIdle();
 * deepEqual(await master.get(str("k")), { type: "count", value: 1n });
 * clone.close();
 * master.close();
 * await b.shutdown();
 * await a.shutdown();
 * ```
 *
 * @module
 */
import { type Data, encode } from "../data/mod.ts";
import { Conditions } from "../conditions.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { CommandMessage } from "./command_bus.ts";
import type { BoundedQueue } from "../queue.ts";
import { StatusCode, type StatusEvent } from "../status.ts";
import { type EndpointId, endpointIdToString } from "../wire/endpoint_id.ts";
import { ChannelConsumer, ChannelProducer, consumerMessageToWire, seqFromWire } from "./channel.ts";
import {
  type AckCloneCommand,
  type ActionCommand,
  appendContent,
  type Command,
  decodeCommand,
  type InternalCommand,
  isAction,
} from "./commands.ts";
import { ContentLog } from "./content_log.ts";
import { type Entity, entityEquals, isNilEntity, NIL_ENTITY } from "./entity.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { type StoreEvent, StoreEventHub, type StoreEventsOptions } from "./events.ts";
import { addTo, getValue, initialValue, subtractFrom } from "./operations.ts";
import {
  CONTENT_AT,
  entityAt,
  entityBytes,
  isRawWrite,
  ownedRawWrite,
  PUT,
  PUT_UNIQUE_RESULT,
  type RawWrite,
  RawWriteSlot,
  readSeq,
  readU64,
} from "./raw_write.ts";
import {
  newEntity,
  sendStoreCommand,
  sendStoreContent,
  type StoreActor,
  type StoreHost,
  type StoreMetrics,
  storeTopics,
  waitUntilIdle,
} from "./store_common.ts";
import {
  DEFAULT_MAX_GET_DELAY_MS,
  DEFAULT_MUTATION_BUFFER_BYTES,
  DEFAULT_MUTATION_BUFFER_SIZE,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type StoreTimingOptions,
  tickIntervalOf,
} from "./options.ts";

/**
 * Clone settings: the timing every store actor has, plus how long the
 * clone waits for its master and how much it keeps while it has none.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import type { CloneOptions } from "./clone.ts";
 * const options: CloneOptions = { tickIntervalMs: 20, requestTimeoutMs: 1_000 };
 * equal(options.requestTimeoutMs! / options.tickIntervalMs!, 50);
 * ```
 */
export interface CloneOptions extends StoreTimingOptions {
  /**
   * How long (ms) `putUnique` waits for the master's `put_unique_result`.
   * Then `request_timeout`.
   * @default 10_000 (`DEFAULT_REQUEST_TIMEOUT_MS`)
   */
  requestTimeoutMs?: number;
  /**
   * How long (ms) reads (`get`, `exists`, `keys`) wait for the master's
   * first snapshot (`ack_clone`); then they fail with `stale_data`, as
   * Broker's clone does after `broker.store.max-get-delay`. 0: at once.
   * @default 5_000 (`DEFAULT_MAX_GET_DELAY_MS`)
   */
  maxGetDelayMs?: number;
  /**
   * How long (ms) after losing its master the clone still answers reads from
   * its copy; afterwards reads fail with `stale_data` until a master is back.
   * Unset: forever (Broker's `stale_interval` -1).
   * @default undefined
   */
  staleIntervalMs?: number;
  /**
   * Writes (`put`, `erase`, `add`, `subtract`, `clear`, `putUnique`) kept
   * while the clone has no master: before the first `ack_clone`, and after
   * losing its master. They go out in order once a master attaches; past
   * this many, writes are refused with `no_such_master`. Broker's clone
   * keeps them in an unbounded buffer (`clone_state::stalled`); the name
   * follows Broker's `attach_clone(..., mutation_buffer_interval)`, the time
   * such writes are meant to be kept.
   * @default 8192 (`DEFAULT_MUTATION_BUFFER_SIZE`)
   */
  mutationBufferSize?: number;
  /**
   * Bytes of those writes (the binary size of their keys and values) kept at
   * most; past it, writes are refused with `no_such_master` too (a single
   * larger write still fits an empty buffer).
   * @default 16 MiB (`DEFAULT_MUTATION_BUFFER_BYTES`)
   */
  mutationBufferBytes?: number;
}

interface PendingUnique {
  resolve(inserted: boolean): void;
  reject(e: BrokerError): void;
  /** `Date.now()` after which the request fails (checked every tick). */
  deadline: number;
}

/**
 * The clone actor.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { StoreClone } from "./clone.ts";
 * import { Endpoint } from "../endpoint.ts";
 * const ep = new Endpoint();
 * const c = new StoreClone(ep, "kv");
 * equal(c.hasMaster, false); // no master answered yet
 * c.close();
 * await ep.shutdown();
 * ```
 */
export class StoreClone implements StoreActor {
  readonly name: string;
  readonly id: Entity;
  readonly isMaster = false;
  readonly #host: StoreHost;
  readonly #topics: { master: string; clone: string };
  readonly #opts: CloneOptions;
  /** Milliseconds per tick, checked. */
  readonly #tickMs: number;
  readonly #state = new MemoryBackend();
  readonly #consumer: ChannelConsumer<Entity, ActionCommand | RawWrite>;
  /** The writer channel to the master; an event's content is its position in `#log`. */
  #producer?: ChannelProducer<Entity, number>;
  /** Encoded writes not yet acked by the master (see `ContentLog`). */
  readonly #log = new ContentLog();
  #master?: Entity;
  /** `#master` as encoded on the wire: echoed `put`s are matched against it in place. */
  #masterBytes?: Uint8Array;
  /** `id` as encoded on the wire. */
  readonly #selfBytes: Uint8Array;
  /** Where each echoed put is read in place (an early one is copied out of it). */
  readonly #slot = new RawWriteSlot();
  /** Writes waiting for the writer channel (bounded: see `mutationBufferSize`). */
  #pending: ActionCommand[] = [];
  /** Binary size of the keys and values in `#pending`. */
  #pendingBytes = 0;
  readonly #maxPending: number;
  readonly #maxPendingBytes: number;
  /** Waiting `putUnique`s by request number (a number: small-integer keys hash for free). */
  #unique = new Map<number, PendingUnique>();
  #nextReq = 1;
  /** When the master was lost (ms), or undefined while attached or before the first. */
  #lostAt?: number;
  /** Reads waiting for a snapshot: checked when one comes, the master is lost or the clone closes. */
  readonly #attached = new Conditions();
  readonly #status: BoundedQueue<StatusEvent>;
  readonly #events: StoreEventHub;
  readonly #unsubscribe: () => void;
  readonly #timer: ReturnType<typeof setInterval>;
  #closed = false;
  #processedUpdates = 0;
  /** `CommandBus.incomingBytes` of the master's topic at the last tick before the handshake. */
  #incoming = 0;

  /** Made by `Endpoint.attachClone`. */
  constructor(host: StoreHost, name: string, options: CloneOptions = {}) {
    const bus = host.commandBus;
    this.name = name;
    this.#host = host;
    this.#opts = options;
    this.#tickMs = tickIntervalOf(options);
    notNegative("maxGetDelayMs", options.maxGetDelayMs);
    notNegative("requestTimeoutMs", options.requestTimeoutMs);
    this.#maxPending = atLeastOne(
      "mutationBufferSize",
      options.mutationBufferSize ?? DEFAULT_MUTATION_BUFFER_SIZE,
    );
    this.#maxPendingBytes = atLeastOne(
      "mutationBufferBytes",
      options.mutationBufferBytes ?? DEFAULT_MUTATION_BUFFER_BYTES,
    );
    this.#topics = storeTopics(name);
    this.id = newEntity(bus);
    this.#selfBytes = entityBytes(this.id);
    this.#events = new StoreEventHub(name, bus);
    this.#consumer = new ChannelConsumer<Entity, ActionCommand | RawWrite>({
      consume: (content) => {
        if (isRawWrite(content)) this.#applyRaw(content);
        else this.#applyLocal(content);
      },
      // A hole in the master's stream means the copy is wrong: start over.
      consumeNil: () => new BrokerError(ErrorCode.broken_clone, "lost an update from the master"),
      // An early put waits for its turn: its bytes must outlive the read buffer.
      keep: (content) => isRawWrite(content) ? ownedRawWrite(content) : content,
      send: (m) => {
        if (m.type === "nack" && this.#master === undefined) {
          this.#send(0n, NIL_ENTITY, consumerMessageToWire(m));
        } else if (this.#master) {
          this.#send(0n, this.#master, consumerMessageToWire(m), this.#master.endpoint);
        }
      },
      close: () => this.#lostMaster(),
      // Bytes of a frame from a peer with the master's topic kept coming since the last tick:
      // the snapshot may be on its way (any master answers, so no one master is looked at).
      arriving: () => {
        const n = bus.incomingBytes?.(this.#topics.master) ?? 0;
        const grew = n > this.#incoming;
        this.#incoming = n;
        return grew;
      },
    }, options);
    this.#status = host.statusSubscriber({ queueSize: 64 });
    this.#unsubscribe = bus.onCommands(this.#topics.clone, (m) => this.#receive(m));
    this.#timer = setInterval(() => this.#tick(), this.#tickMs);
    // Broker's clone asks at once rather than after the first nack timeout.
    this.#send(0n, NIL_ENTITY, { type: "nack", seqs: [0n] });
  }

  /** Whether close ran. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Whether the clone has a master (got its `ack_clone` and did not lose it since). */
  get hasMaster(): boolean {
    return this.#consumer.initialized;
  }

  /** The master, once attached. */
  get peers(): Entity[] {
    return this.#master && this.#consumer.initialized ? [this.#master] : [];
  }

  /** Its numbers for the metrics (see `StoreMetrics`). */
  metrics(): StoreMetrics {
    return {
      role: "clone",
      entries: this.#state.size(),
      outputChannels: this.#producer ? 1 : 0,
      inputChannels: this.#consumer.initialized ? 1 : 0,
      unacknowledgedUpdates: this.#producer?.buffered ?? 0,
      outOfOrderUpdates: this.#consumer.buffered,
      processedUpdates: this.#processedUpdates,
      pendingWrites: this.#pending.length,
    };
  }

  /** Clones have no writers. */
  get writers(): Entity[] {
    return [];
  }

  /** Writes waiting for a master (at most `mutationBufferSize`). */
  get pendingWrites(): number {
    return this.#pending.length;
  }

  /** Binary size of the keys and values of those writes (at most `mutationBufferBytes`). */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  async get(key: Data, aspect?: Data): Promise<Data> {
    await this.#readable();
    return getValue(this.#state, key, aspect);
  }

  async exists(key: Data): Promise<boolean> {
    await this.#readable();
    return this.#state.exists(key);
  }

  async keys(): Promise<Data[]> {
    await this.#readable();
    return this.#state.keys();
  }

  write(cmd: ActionCommand): Promise<void> {
    this.#assertOpen();
    if (this.#producer) this.#produce(cmd);
    else {
      const refused = this.#buffer(cmd);
      if (refused) return Promise.reject(refused);
    }
    return RESOLVED;
  }

  putUnique(key: Data, value: Data, expiry: bigint | null): Promise<boolean> {
    this.#assertOpen();
    const cmd: ActionCommand = {
      type: "put_unique",
      key,
      value,
      expiry,
      who: this.id,
      reqId: BigInt(this.#nextReq++),
      publisher: this.id,
    };
    // A refused write registers no request: nothing would ever answer it.
    if (!this.#producer) {
      const refused = this.#buffer(cmd);
      if (refused) return Promise.reject(refused);
    }
    return new Promise<boolean>((resolve, reject) => {
      // The tick enforces the deadline: a timer per request cost more than the
      // request itself at high rates, and a tick's lateness is noise next to 10 s.
      const deadline = Date.now() + (this.#opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
      // A write that cannot be encoded throws here, before a request waits for it.
      if (this.#producer) this.#produce(cmd);
      this.#unique.set(Number(cmd.reqId), { resolve, reject, deadline });
    });
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
    for (const p of this.#unique.values()) {
      p.reject(new BrokerError(ErrorCode.shutting_down, `store ${this.name} closed`));
    }
    this.#unique.clear();
    this.#events.close();
    this.#state.close();
    this.#attached.changed(); // waiting reads fail with shutting_down
  }

  #idle(): boolean {
    return this.#consumer.idle && this.#pending.length === 0 &&
      (this.#producer === undefined || this.#producer.idle) && this.#unique.size === 0;
  }

  #assertOpen(): void {
    if (this.#closed) throw new BrokerError(ErrorCode.shutting_down, `store ${this.name} closed`);
  }

  /** Keeps a write for the next master; the error when the buffer is full. */
  #buffer(cmd: ActionCommand): BrokerError | undefined {
    const size = commandSize(cmd);
    if (this.#bufferFull(size)) return this.#refusal();
    this.#pending.push(cmd);
    this.#pendingBytes += size;
    return undefined;
  }

  #bufferFull(size: number): boolean {
    const n = this.#pending.length;
    return n >= this.#maxPending || (n > 0 && this.#pendingBytes + size > this.#maxPendingBytes);
  }

  #refusal(): BrokerError {
    return new BrokerError(
      ErrorCode.no_such_master,
      `store ${this.name} has no master and ${this.#pending.length} writes ` +
        `(${this.#pendingBytes} bytes) waiting for one already`,
    );
  }

  /**
   * Waits for the first snapshot; fails when it does not come or the copy is
   * stale. Answered as the snapshot arrives, as Broker's clone runs its
   * waiting reads from `set_store` (a wait by ticks made a fresh clone's
   * first read take a whole tick, 100 ms by default).
   */
  async #readable(): Promise<void> {
    this.#assertOpen();
    if (this.#consumer.initialized) return;
    if (this.#lostAt === undefined) {
      const delay = this.#opts.maxGetDelayMs ?? DEFAULT_MAX_GET_DELAY_MS;
      await this.#attached.until(
        () => this.#consumer.initialized || this.#lostAt !== undefined || this.#closed,
        delay,
        () => `no master for store ${this.name} after ${delay} ms`,
        ErrorCode.stale_data,
      );
      this.#assertOpen();
      if (this.#consumer.initialized) return;
    }
    // Lost its master: the copy answers until it is stale.
    const stale = this.#opts.staleIntervalMs;
    if (stale !== undefined && Date.now() - this.#lostAt! > stale) {
      throw new BrokerError(ErrorCode.stale_data, `store ${this.name} lost its master`);
    }
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
      this.#topics.master,
      seq,
      this.id,
      to,
      content,
      envelopeReceiver,
    );
  }

  /** Sends the write at `pos` in the log to the master (`to`: its 24 wire bytes). */
  #sendLogged(seq: number, to: Uint8Array, pos: number): void {
    sendStoreContent(
      this.#host.commandBus,
      this.#topics.master,
      seq,
      this.#selfBytes,
      to,
      this.#log,
      pos,
    );
  }

  /** Opens the writer channel to a (new) master and flushes buffered writes. */
  #attachWriter(master: Entity): void {
    const masterBytes = entityBytes(master);
    this.#producer = new ChannelProducer<Entity, number>({
      // Writer traffic names the master as receiver but is not unicast at envelope level.
      send: (to, m) => {
        if (m.type === "handshake") {
          this.#send(0n, to, {
            type: "attach_writer",
            offset: BigInt(m.offset),
            heartbeatInterval: m.heartbeatInterval,
          });
        } else if (m.type === "event") this.#sendLogged(m.seq, entityBytes(to), m.content);
        else this.#send(0n, to, { type: "retransmit_failed", seq: BigInt(m.seq) });
      },
      broadcast: (m) => {
        if (m.type === "event") return this.#sendLogged(m.seq, masterBytes, m.content);
        // As Broker's clone: until the master acks the channel, every keepalive
        // comes after the attach_writer again (the master ignores writes before it).
        const producer = this.#producer;
        for (const p of producer?.paths ?? []) {
          if (p.acked !== 0) continue;
          this.#send(0n, p.handle, {
            type: "attach_writer",
            offset: BigInt(p.offset),
            heartbeatInterval: producer!.heartbeatInterval,
          });
        }
        this.#send(0n, NIL_ENTITY, { type: "keepalive", seq: BigInt(m.seq) });
      },
      drop: () => {},
    }, this.#opts);
    this.#producer.add(master);
    this.#pendingBytes = 0;
    for (const cmd of this.#pending.splice(0)) {
      try {
        this.#produce(cmd);
      } catch {
        // Not encodable (its write already resolved): dropped, as the master would drop it.
      }
    }
  }

  /**
   * Encodes a write into the log and sends it on the writer channel; throws
   * `serialization_failed` (before using a sequence number) when it cannot
   * be encoded.
   */
  #produce(cmd: ActionCommand): void {
    const producer = this.#producer!;
    this.#log.release(producer.oldest ?? this.#log.next);
    producer.produce(appendContent(this.#log, cmd));
  }

  #lostMaster(): void {
    this.#lostAt = Date.now();
    this.#master = undefined;
    this.#masterBytes = undefined;
    this.#producer = undefined;
    this.#attached.changed();
  }

  /** A `put` from the master read in place: key and value go in as the bytes the copy keeps. */
  #applyRaw(w: RawWrite): void {
    if (this.#events.active) {
      // Events carry values: decode after all.
      const { content } = decodeCommand(w.bytes);
      if (isAction(content)) this.#applyLocal(content);
      return;
    }
    this.#processedUpdates++;
    this.#state.putSpan(w.bytes, w.keyAt, w.valueAt, w.valueEnd);
  }

  #applyLocal(cmd: ActionCommand): void {
    this.#processedUpdates++;
    const s = this.#state;
    // Events are built only when someone reads them: the write path stays lean.
    const ev = this.#events.active ? this.#events : undefined;
    switch (cmd.type) {
      case "put": {
        const old = ev && s.get(cmd.key);
        // Expiry is the master's job: it broadcasts `expire`.
        s.put(cmd.key, cmd.value, null);
        ev?.put(cmd.key, cmd.value, old, cmd.expiry, cmd.publisher);
        return;
      }
      case "erase":
        if (s.erase(cmd.key)) ev?.erase(cmd.key, cmd.publisher);
        return;
      case "expire":
        if (s.erase(cmd.key)) ev?.expire(cmd.key, cmd.publisher);
        return;
      case "clear":
        if (ev) { for (const k of s.keys()) ev.erase(k, cmd.publisher); }
        s.clear();
        return;
      case "add": {
        // Broker's master never forwards add/subtract (it sends the resulting put).
        const old = s.get(cmd.key);
        const value = addTo(old ?? initialValue(cmd.initType), cmd.value);
        s.put(cmd.key, value, null);
        ev?.put(cmd.key, value, old, cmd.expiry, cmd.publisher);
        return;
      }
      case "subtract": {
        const old = s.get(cmd.key);
        if (!old) return;
        const value = subtractFrom(old, cmd.value);
        s.put(cmd.key, value, null);
        ev?.put(cmd.key, value, old, cmd.expiry, cmd.publisher);
        return;
      }
      case "put_unique_result": {
        if (!entityEquals(cmd.who, this.id)) return;
        // A request number past 2^53 is none of ours (ours count from 1).
        const p = this.#unique.get(Number(cmd.reqId));
        if (!p) return;
        this.#unique.delete(Number(cmd.reqId));
        p.resolve(cmd.inserted);
        return;
      }
      case "put_unique":
        return; // masters answer with put + put_unique_result
    }
  }

  /**
   * Replaces the copy with the master's snapshot, reporting the difference
   * as Broker's `clone_state::set_store` does: an empty snapshot clears
   * (erase events from the master); otherwise keys gone get erase events
   * without publisher, kept keys an update (even when unchanged), new keys
   * an insert, all without expiry. The state is read as spans (`#receive`)
   * and copied as bytes; events decode one entry at a time (decoded whole,
   * 2M entries of 10 bytes took ~700 MB). False, and nothing changed, when
   * a key comes twice in it: Broker's reader drops such a command; ours
   * also reports a `deserialization_failed` error, as the master asked
   * again sends the same one, and the clone would wait with nothing said.
   */
  #setStore(ack: AckCloneCommand, master: Entity): boolean {
    const s = this.#state, spans = ack.spans;
    if (!spans) return false; // #receive always reads spans
    const ev = this.#events.active ? this.#events : undefined;
    const taken = ev
      ? s.replaceFromSpans(spans, {
        erase: (k) => ev.erase(k, spans.count === 0 ? master : NIL_ENTITY),
        update: (k, v, old) => ev.put(k, v, old, null, master),
        insert: (k, v) => ev.insert(k, v, null, master),
      })
      : s.replaceFromSpans(spans);
    if (!taken) {
      this.#host.reportError?.(
        ErrorCode.deserialization_failed,
        `store ${this.name}: the ack_clone from ${
          endpointIdToString(master.endpoint)
        } holds a key twice: dropped`,
      );
    }
    return taken;
  }

  #receive(m: CommandMessage): void {
    if (this.#closed) return;
    const payload = m.payload;
    const master = this.#masterBytes;
    // The master's echo of a plain put, for everyone or for us: no decoding.
    if (
      master && payload.length > CONTENT_AT && payload[CONTENT_AT] === PUT &&
      !this.#events.active && entityAt(payload, 8, master) &&
      (entityAt(payload, 32, NIL_BYTES) || entityAt(payload, 32, this.#selfBytes))
    ) {
      const w = this.#slot;
      // A seq past 2^53 - 1 is dropped, as an undecodable command (see MAX_SEQ).
      const seq = readSeq(payload, 0);
      if (seq >= 0 && w.read(payload)) return this.#consumer.handleEvent(seq, w);
    }
    // The master's answer to one of our putUniques: read in place, as it goes through the channel.
    if (
      master && payload.length >= UNIQUE_RESULT_END &&
      payload[CONTENT_AT] === PUT_UNIQUE_RESULT && payload[CONTENT_AT + 1] <= 1 &&
      entityAt(payload, 8, master) && entityAt(payload, CONTENT_AT + 2, this.#selfBytes) &&
      entityAt(payload, CONTENT_AT + 34, master) &&
      (entityAt(payload, 32, NIL_BYTES) || entityAt(payload, 32, this.#selfBytes))
    ) {
      const seq = readSeq(payload, 0);
      if (seq < 0) return;
      return this.#consumer.handleEvent(seq, {
        type: "put_unique_result",
        inserted: payload[CONTENT_AT + 1] === 1,
        who: this.id,
        reqId: readU64(payload, CONTENT_AT + 26),
        publisher: this.#master!,
      });
    }
    let cmd;
    try {
      // A handshake's table is copied as bytes, not built as values (see #setStore).
      cmd = decodeCommand(m.payload, { stateSpans: true });
    } catch {
      return;
    }
    try {
      this.#handle(cmd);
    } catch (e) {
      // A sequence number past MAX_SEQ: dropped, as an undecodable command.
      if (!(e instanceof BrokerError && e.code === ErrorCode.invalid_message)) throw e;
    }
  }

  /** A decoded command from the master (its u64s converted by `seqFromWire`). */
  #handle(cmd: InternalCommand): void {
    const { sender, receiver, content } = cmd;
    if (!isNilEntity(receiver) && !entityEquals(receiver, this.id)) return;
    if (content.type === "ack_clone") {
      if (this.#consumer.initialized) return; // a repeated handshake
      const offset = seqFromWire(content.offset); // before anything changes
      // The snapshot replaces the copy before the channel delivers anything newer;
      // one with a key twice is undecodable, and dropped as such.
      if (!this.#setStore(content, sender)) return;
      this.#master = sender;
      this.#masterBytes = entityBytes(sender);
      this.#lostAt = undefined;
      this.#consumer.handleHandshake(offset, content.heartbeatInterval, sender);
      this.#attachWriter(sender);
      this.#attached.changed();
      return;
    }
    // Everything else must come from our master.
    if (!this.#master || !entityEquals(sender, this.#master)) return;
    switch (content.type) {
      case "keepalive":
        this.#consumer.handleHeartbeat(seqFromWire(content.seq));
        return;
      case "retransmit_failed":
        this.#consumer.handleRetransmitFailed(seqFromWire(content.seq));
        return;
      case "cumulative_ack":
        this.#producer?.handleAck(sender, seqFromWire(content.seq));
        return;
      case "nack":
        this.#producer?.handleNack(sender, content.seqs.map(seqFromWire));
        return;
      default:
        if (isAction(content)) this.#consumer.handleEvent(seqFromWire(cmd.seq), content);
    }
  }

  #tick(): void {
    if (this.#status.closed) return this.close(); // the endpoint shut down
    for (const e of this.#status.poll()) {
      // A master whose endpoint went away is lost now, not after the channel timeout.
      if (
        e.kind === "status" &&
        (e.code === StatusCode.peer_lost || e.code === StatusCode.peer_removed) &&
        this.#master && e.peer?.id === endpointIdToString(this.#master.endpoint)
      ) {
        this.#consumer.reset();
        this.#lostMaster();
      }
    }
    this.#consumer.tick();
    this.#producer?.tick();
    this.#expireRequests();
  }

  /** Fails `putUnique` requests past their deadline. */
  #expireRequests(): void {
    if (this.#unique.size === 0) return;
    const now = Date.now();
    // Requests share one timeout, so insertion order is deadline order.
    for (const [reqId, p] of this.#unique) {
      if (p.deadline > now) break;
      this.#unique.delete(reqId);
      p.reject(new BrokerError(ErrorCode.request_timeout, "no put_unique_result from the master"));
    }
  }
}

/** The nil entity on the wire. */
const NIL_BYTES = new Uint8Array(24);

/** What every accepted write answers: one settled promise rather than one per write. */
const RESOLVED: Promise<void> = Promise.resolve();

/** End of a `put_unique_result` command: variant, flag, who, req_id, publisher. */
const UNIQUE_RESULT_END = CONTENT_AT + 2 + 24 + 8 + 24;

function notNegative(name: string, v: number | undefined): void {
  if (v !== undefined && !(v >= 0)) throw new RangeError(`${name} must be 0 or more, got ${v}`);
}

function atLeastOne(name: string, v: number): number {
  if (!(v >= 1)) throw new RangeError(`${name} must be at least 1, got ${v}`);
  return v;
}

/** Binary size of a write's key and value: what the buffer's byte bound counts. */
function writeSize(key: Data | undefined, value: Data | undefined): number {
  // encode's result is a view into a shared slab: only its length is kept.
  return (key ? encode(key).length : 0) + (value ? encode(value).length : 0);
}

function commandSize(cmd: ActionCommand): number {
  switch (cmd.type) {
    case "put":
    case "put_unique":
    case "add":
    case "subtract":
      return writeSize(cmd.key, cmd.value);
    case "erase":
    case "expire":
      return writeSize(cmd.key, undefined);
    default:
      return 0;
  }
}
