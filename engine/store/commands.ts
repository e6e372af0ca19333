/**
 * The store protocol's `internal_command` (`lb/internal_command.hh`): the
 * payload of every command node message (type 2).
 *
 * Layout: `seq u64 · sender entity · receiver entity · variant index u8 ·
 * fields`, all big-endian; data fields in binary format v1; an optional is a
 * flag byte and, when the flag is set, the value; lists are a varbyte count
 * and their elements.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeCommand, encodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * const bytes = encodeCommand({
 *   seq: 0n,
 *   sender: NIL_ENTITY,
 *   receiver: NIL_ENTITY,
 *   content: { type: "nack", seqs: [0n] },
 * });
 * equal(decodeCommand(bytes).content.type, "nack");
 * ```
 *
 * @module
 */
import {
  type Data,
  type DataType,
  decodeValidated,
  encode,
  TYPE_NAMES,
  validatePrefix,
} from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { ENDPOINT_ID_SIZE } from "../wire/endpoint_id.ts";
import { hashKey } from "./data_key.ts";
import type { Entity } from "./entity.ts";
import type { ContentLog } from "./content_log.ts";
import { plainScalarEnd } from "./raw_write.ts";

/** `put`: set key to value (expiry is relative, in ns). */
export interface PutCommand {
  /** Which command (Broker's variant name). */
  readonly type: "put";
  /** The key. */
  readonly key: Data;
  /** The value (for add/subtract: the operand). */
  readonly value: Data;
  /** Time to live in nanoseconds, or null for none. */
  readonly expiry: bigint | null;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `put_unique`: set key only if absent; `who` and `reqId` route the answer. */
export interface PutUniqueCommand {
  /** Which command (Broker's variant name). */
  readonly type: "put_unique";
  /** The key. */
  readonly key: Data;
  /** The value (for add/subtract: the operand). */
  readonly value: Data;
  /** Relative expiry in ns, or null. */
  readonly expiry: bigint | null;
  /** Who asked (the reply goes there). */
  readonly who: Entity;
  /** The request's number, echoed in the reply. */
  readonly reqId: bigint;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `put_unique_result`: the master's answer to a `put_unique`. */
export interface PutUniqueResultCommand {
  /** Which command (Broker's variant name). */
  readonly type: "put_unique_result";
  /** Whether the key was absent and got the value. */
  readonly inserted: boolean;
  /** Who asked (the reply goes there). */
  readonly who: Entity;
  /** The request's number, echoed in the reply. */
  readonly reqId: bigint;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `erase`: remove a key. */
export interface EraseCommand {
  /** Which command (Broker's variant name). */
  readonly type: "erase";
  /** The key. */
  readonly key: Data;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `expire`: the master dropped a key whose expiry passed. */
export interface ExpireCommand {
  /** Which command (Broker's variant name). */
  readonly type: "expire";
  /** The key. */
  readonly key: Data;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `add`: increment, insert or append; `initType` is used when the key is missing. */
export interface AddCommand {
  /** Which command (Broker's variant name). */
  readonly type: "add";
  /** The key. */
  readonly key: Data;
  /** The value (for add/subtract: the operand). */
  readonly value: Data;
  /** The type a missing key starts as. */
  readonly initType: DataType;
  /** Relative expiry in ns, or null. */
  readonly expiry: bigint | null;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `subtract`: decrement, remove or pop. */
export interface SubtractCommand {
  /** Which command (Broker's variant name). */
  readonly type: "subtract";
  /** The key. */
  readonly key: Data;
  /** The value (for add/subtract: the operand). */
  readonly value: Data;
  /** Relative expiry in ns, or null. */
  readonly expiry: bigint | null;
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `clear`: remove every key. */
export interface ClearCommand {
  /** Which command (Broker's variant name). */
  readonly type: "clear";
  /** Who made the change. */
  readonly publisher: Entity;
}

/** `attach_writer`: a writer's channel handshake (producer control). */
export interface AttachWriterCommand {
  /** Which command (Broker's variant name). */
  readonly type: "attach_writer";
  /** Sequence number the channel starts from. */
  readonly offset: bigint;
  /** Ticks, u16. */
  readonly heartbeatInterval: number;
}

/** `keepalive`: a producer's heartbeat with its latest sequence number. */
export interface KeepaliveCommand {
  /** Which command (Broker's variant name). */
  readonly type: "keepalive";
  /** A sequence number. */
  readonly seq: bigint;
}

/** `cumulative_ack`: the consumer has everything up to and including `seq`. */
export interface CumulativeAckCommand {
  /** Which command (Broker's variant name). */
  readonly type: "cumulative_ack";
  /** A sequence number. */
  readonly seq: bigint;
}

/**
 * The most sequence numbers of one nack that are read: 2^20, as many as the
 * data decoder's value budget (`DEFAULT_MAX_VALUES`). No producer answers
 * more at once than it holds events, and Broker's consumers list missing
 * ones only.
 */
export const MAX_NACK_SEQS_READ = 1 << 20;

/** `nack`: resend these; `[0]` asks for the handshake. */
export interface NackCommand {
  /** Which command (Broker's variant name). */
  readonly type: "nack";
  /** The sequence numbers asked for again. */
  readonly seqs: readonly bigint[];
}

/** `ack_clone`: the master's channel handshake with the whole store. */
export interface AckCloneCommand {
  /** Which command (Broker's variant name). */
  readonly type: "ack_clone";
  /** Sequence number the channel starts from. */
  readonly offset: bigint;
  /** Ticks between heartbeats. */
  readonly heartbeatInterval: number;
  /** Key/value pairs in wire order (Broker sends hash order: any order is valid). */
  readonly state: readonly (readonly [Data, Data])[];
  /** The pairs as their encodings instead (`StateSpans`); `state` is empty then. */
  readonly spans?: StateSpans;
}

/**
 * An `ack_clone` state as the encodings of its keys and values: what a
 * memory store holds, sent without decoding it, and what a clone reads
 * without decoding it (`decodeCommand`'s `stateSpans`). With many entries
 * the values cost seconds to build and collect (1M: ~5 s in all, the
 * clone's event loop stopped ~2.6 s of them), and far more memory than
 * their bytes (2M entries of 10 bytes: ~700 MB as values, for 20 MB):
 * readers walk the entries one by one (`eachStateEntry`) instead. Only
 * where they lie is kept, not where each one starts: a table of those
 * (12 bytes an entry) was itself six times a state of 2-byte entries.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeCommand, encodeCommand, type StateSpans } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * // count 7 -> none
 * const spans: StateSpans = {
 *   bytes: new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 7, 0]),
 *   from: 0,
 *   to: 10,
 *   count: 1,
 * };
 * const bytes = encodeCommand({
 *   seq: 1n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "ack_clone", offset: 1n, heartbeatInterval: 5, state: [], spans },
 * });
 * const c = decodeCommand(bytes).content;
 * equal(c.type === "ack_clone" && c.state[0][0].value, 7n);
 * ```
 */
export interface StateSpans {
  /** Where the encodings lie. */
  readonly bytes: Uint8Array;
  /** Where the first key starts. */
  readonly from: number;
  /** Where the last value ends. */
  readonly to: number;
  /** How many key/value pairs lie back to back in `bytes[from, to)`, all valid. */
  readonly count: number;
}

/**
 * Calls `f` with where each entry of a valid state (`StateSpans`) lies, in
 * order: its key is `bytes[keyAt, valueAt)`, its value `bytes[valueAt,
 * end)`. Stops at the first call that returns false, and returns false then.
 * Nothing is built: a plain scalar's end is read off its tag, anything else
 * is validated again to find its end.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { eachStateEntry } from "./commands.ts";
 * const bytes = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 7, 0]); // count 7 -> none
 * const seen: number[][] = [];
 * eachStateEntry({ bytes, from: 0, to: 10, count: 1 }, (k, v, end) => void seen.push([k, v, end]));
 * deepEqual(seen, [[0, 9, 10]]);
 * ```
 */
export function eachStateEntry(
  state: StateSpans,
  f: (keyAt: number, valueAt: number, end: number) => boolean | void,
): boolean {
  const b = state.bytes;
  let p = state.from;
  for (let i = 0; i < state.count; i++) {
    const k = p;
    const v = dataEnd(b, k);
    p = dataEnd(b, v);
    if (f(k, v, p) === false) return false;
  }
  return true;
}

/** End of the value at `p`: a plain scalar's read off its tag, anything else validated. */
function dataEnd(b: Uint8Array, p: number): number {
  const end = plainScalarEnd(b, p);
  return end >= 0 ? end : p + validatePrefix(b.subarray(p)).length;
}

/** How `decodeCommand` reads. */
export interface DecodeCommandOptions {
  /**
   * An `ack_clone`'s state as `spans` into the input (`state` empty):
   * every key and value validated, none decoded, nothing allocated per
   * entry, and duplicate keys left to the reader to refuse (they are
   * refused otherwise).
   */
  stateSpans?: boolean;
}

/** `retransmit_failed`: the producer no longer holds event `seq`. */
export interface RetransmitFailedCommand {
  /** Which command (Broker's variant name). */
  readonly type: "retransmit_failed";
  /** A sequence number. */
  readonly seq: bigint;
}

/** The 14 variants of `internal_command_variant`. */
export type Command =
  | PutCommand
  | PutUniqueCommand
  | PutUniqueResultCommand
  | EraseCommand
  | ExpireCommand
  | AddCommand
  | SubtractCommand
  | ClearCommand
  | AttachWriterCommand
  | KeepaliveCommand
  | CumulativeAckCommand
  | NackCommand
  | AckCloneCommand
  | RetransmitFailedCommand;

/** The variants that change the store (Broker's `command_tag::action`). */
export type ActionCommand =
  | PutCommand
  | PutUniqueCommand
  | PutUniqueResultCommand
  | EraseCommand
  | ExpireCommand
  | AddCommand
  | SubtractCommand
  | ClearCommand;

/** One command as it travels: channel sequence number, addressing, content. */
export interface InternalCommand {
  /** Channel sequence number; 0 for control messages. */
  readonly seq: bigint;
  /** The entity that sent it. */
  readonly sender: Entity;
  /** Destination, or the nil entity for broadcasts. */
  readonly receiver: Entity;
  /** The command itself. */
  readonly content: Command;
}

/**
 * Variant names in wire order: the index is the variant byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { COMMAND_TYPES } from "./commands.ts";
 * equal(COMMAND_TYPES.indexOf("ack_clone"), 12);
 * ```
 */
export const COMMAND_TYPES = [
  "put",
  "put_unique",
  "put_unique_result",
  "erase",
  "expire",
  "add",
  "subtract",
  "clear",
  "attach_writer",
  "keepalive",
  "cumulative_ack",
  "nack",
  "ack_clone",
  "retransmit_failed",
] as const satisfies readonly Command["type"][];

/** Broker's grouping of commands: who sends them and who handles them. */
export type CommandTag = "action" | "producer_control" | "consumer_control";

const TAGS: Record<Command["type"], CommandTag> = {
  put: "action",
  put_unique: "action",
  put_unique_result: "action",
  erase: "action",
  expire: "action",
  add: "action",
  subtract: "action",
  clear: "action",
  attach_writer: "producer_control",
  keepalive: "producer_control",
  cumulative_ack: "consumer_control",
  nack: "consumer_control",
  ack_clone: "producer_control",
  retransmit_failed: "producer_control",
};

/**
 * Broker's `command_tag` of a command.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { commandTag } from "./commands.ts";
 * equal(commandTag({ type: "keepalive", seq: 1n }), "producer_control");
 * ```
 */
export function commandTag(content: Command): CommandTag {
  return TAGS[content.type];
}

/**
 * Whether a command changes the store (an event on a channel).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isAction } from "./commands.ts";
 * equal(isAction({ type: "nack", seqs: [0n] }), false);
 * ```
 */
export function isAction(content: Command): content is ActionCommand {
  return TAGS[content.type] === "action";
}

// ------------------------------------------------------------------ encoding

const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

function encodeFail(message: string): never {
  throw new BrokerError(ErrorCode.serialization_failed, message);
}

/** How many of the last entities encoded are remembered, with their bytes. */
const RECENT_ENTITIES = 4;
const recentEntities: (Entity | undefined)[] = new Array(RECENT_ENTITIES).fill(undefined);
const recentEntityBytes: Uint8Array[] = new Array(RECENT_ENTITIES).fill(new Uint8Array(0));
let recentNext = 0;

/** Growable big-endian writer, private to this module. */
class Writer {
  buf = new Uint8Array(128);
  dv = new DataView(this.buf.buffer);
  pos = 0;

  reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  u8(x: number): void {
    this.reserve(1);
    this.buf[this.pos++] = x;
  }

  u16(x: number, what: string): void {
    if (!Number.isInteger(x) || x < 0 || x > 0xffff) encodeFail(`${what} is not a u16: ${x}`);
    this.reserve(2);
    this.dv.setUint16(this.pos, x);
    this.pos += 2;
  }

  u64(x: bigint, what: string): void {
    if (typeof x !== "bigint" || x < 0n || x > U64_MAX) encodeFail(`${what} is not a u64: ${x}`);
    this.reserve(8);
    this.dv.setBigUint64(this.pos, x);
    this.pos += 8;
  }

  i64(x: bigint, what: string): void {
    if (typeof x !== "bigint" || x < I64_MIN || x > I64_MAX) {
      encodeFail(`${what} is not an i64: ${x}`);
    }
    this.reserve(8);
    this.dv.setBigInt64(this.pos, x);
    this.pos += 8;
  }

  varbyte(n: number): void {
    if (n > 0xffffffff) encodeFail(`list of ${n} elements is too long`);
    do {
      const low = n & 0x7f;
      n = Math.floor(n / 128);
      this.u8(n > 0 ? low | 0x80 : low);
    } while (n > 0);
  }

  bytes(b: Uint8Array): void {
    this.span(b, 0, b.length);
  }

  /** Writes `b[from, to)`. */
  span(b: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.reserve(n);
    // A short copy by hand: `set` costs a call into the runtime, longer than copying an entity.
    if (n > 64) this.buf.set(b.subarray(from, to), this.pos);
    else for (let i = 0, buf = this.buf, p = this.pos; i < n; i++) buf[p + i] = b[from + i];
    this.pos += n;
  }

  data(d: Data): void {
    // Counts and integers, the usual keys and values of a busy store, are
    // written here as `encode` writes them; anything else (or out of range,
    // for `encode` to refuse) goes through `encode`.
    const t = d?.type;
    if (t === "count" || t === "integer") {
      const x = (d as { value?: unknown }).value;
      if (
        typeof x === "bigint" &&
        (t === "count" ? x >= 0n && x <= U64_MAX : x >= I64_MIN && x <= I64_MAX)
      ) {
        this.reserve(9);
        this.buf[this.pos] = t === "count" ? 2 : 3;
        if (t === "count") this.dv.setBigUint64(this.pos + 1, x);
        else this.dv.setBigInt64(this.pos + 1, x);
        this.pos += 9;
        return;
      }
    }
    // encode() hands out a slice of its shared slab; copying it here right away is safe.
    this.bytes(encode(d));
  }

  entity(e: Entity, what: string): void {
    // A store sends its own entity and its peer's in every command: the
    // bytes of the last few are kept (entities are never mutated).
    for (let i = 0; i < RECENT_ENTITIES; i++) {
      if (recentEntities[i] === e) return this.bytes(recentEntityBytes[i]);
    }
    if (!(e?.endpoint instanceof Uint8Array) || e.endpoint.length !== ENDPOINT_ID_SIZE) {
      encodeFail(`${what} needs a 16-byte endpoint ID`);
    }
    const start = this.pos;
    this.bytes(e.endpoint);
    this.u64(e.object, `${what} object ID`);
    recentEntities[recentNext] = e;
    recentEntityBytes[recentNext] = this.buf.slice(start, this.pos);
    recentNext = (recentNext + 1) % RECENT_ENTITIES;
  }

  expiry(x: bigint | null | undefined): void {
    if (x === null || x === undefined) return this.u8(0);
    this.u8(1);
    this.i64(x, "expiry");
  }
}

function writeContent(w: Writer, c: Command): void {
  const index = COMMAND_TYPES.indexOf(c?.type);
  if (index < 0) encodeFail(`not a store command: ${String(c?.type)}`);
  w.u8(index);
  switch (c.type) {
    case "put":
    case "subtract":
      // Same layout on the wire: key, value, expiry, publisher.
      w.data(c.key);
      w.data(c.value);
      w.expiry(c.expiry);
      w.entity(c.publisher, "publisher");
      return;
    case "put_unique":
      w.data(c.key);
      w.data(c.value);
      w.expiry(c.expiry);
      w.entity(c.who, "who");
      w.u64(c.reqId, "req_id");
      w.entity(c.publisher, "publisher");
      return;
    case "put_unique_result":
      w.u8(c.inserted ? 1 : 0);
      w.entity(c.who, "who");
      w.u64(c.reqId, "req_id");
      w.entity(c.publisher, "publisher");
      return;
    case "erase":
    case "expire":
      w.data(c.key);
      w.entity(c.publisher, "publisher");
      return;
    case "add": {
      const tag = TYPE_NAMES.indexOf(c.initType);
      if (tag < 0) encodeFail(`init_type is not a data type: ${c.initType}`);
      w.data(c.key);
      w.data(c.value);
      w.u8(tag);
      w.expiry(c.expiry);
      w.entity(c.publisher, "publisher");
      return;
    }
    case "clear":
      w.entity(c.publisher, "publisher");
      return;
    case "attach_writer":
      w.u64(c.offset, "offset");
      w.u16(c.heartbeatInterval, "heartbeat_interval");
      return;
    case "keepalive":
    case "cumulative_ack":
    case "retransmit_failed":
      w.u64(c.seq, "seq");
      return;
    case "nack":
      w.varbyte(c.seqs.length);
      for (const s of c.seqs) w.u64(s, "nack seq");
      return;
    case "ack_clone": {
      if (c.spans) {
        const { bytes, from, to, count } = c.spans;
        writeAckCloneFields(w, c.offset, c.heartbeatInterval, count);
        w.span(bytes, from, to);
        return;
      }
      writeAckCloneFields(w, c.offset, c.heartbeatInterval, c.state.length);
      for (const [k, v] of c.state) {
        w.data(k);
        w.data(v);
      }
      return;
    }
  }
}

/**
 * Encodes a command payload exactly as Broker does. Throws
 * `BrokerError(serialization_failed)` for out-of-range fields or values
 * that are not Broker data.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * const b = encodeCommand({
 *   seq: 0n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "keepalive", seq: 1n },
 * });
 * equal(b.length, 8 + 24 + 24 + 1 + 8);
 * ```
 */
export function encodeCommand(command: InternalCommand): Uint8Array {
  return encodeCommandTransient(command).slice();
}

/**
 * Like `encodeCommand`, but the bytes lie in a scratch buffer that the next
 * call overwrites: for a caller that copies them at once (into a frame), so
 * no command costs an ArrayBuffer of its own.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommandTransient } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * const view = encodeCommandTransient({
 *   seq: 0n, sender: NIL_ENTITY, receiver: NIL_ENTITY,
 *   content: { type: "keepalive", seq: 1n },
 * });
 * equal(view.length, 65); // valid until the next call
 * ```
 */
export function encodeCommandTransient(command: InternalCommand): Uint8Array {
  const w = headerWriter(command.seq, command.sender, command.receiver);
  writeContent(w, command.content);
  return w.buf.subarray(0, w.pos);
}

/**
 * The scratch writer, emptied, with a command's header written: one writer
 * for every call (encoding never re-enters itself, and a fresh buffer plus
 * DataView per command was a visible share of store traffic).
 */
function headerWriter(seq: bigint, sender: Entity, receiver: Entity): Writer {
  if (scratch.buf.length > SCRATCH_MAX) scratch = new Writer(); // a large snapshot grew it
  const w = scratch;
  w.pos = 0;
  w.u64(seq, "seq");
  w.entity(sender, "sender");
  w.entity(receiver, "receiver");
  return w;
}

/** An `ack_clone`'s fields up to its state's entries: offset, heartbeat interval, entry count. */
function writeAckCloneFields(
  w: Writer,
  offset: bigint,
  heartbeatInterval: number,
  entries: number,
) {
  w.u64(offset, "offset");
  w.u16(heartbeatInterval, "heartbeat_interval");
  w.varbyte(entries);
}

/**
 * An `ack_clone` command up to its state's entries (header, variant,
 * offset, heartbeat interval, entry count), in the scratch buffer as
 * `encodeCommandTransient` leaves it: the entries' encodings, back to back,
 * follow it on the wire, so a master sends its table's bytes behind this
 * without copying them into a command first.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeCommand, encodeAckCloneHeadTransient } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * const head = encodeAckCloneHeadTransient(1n, NIL_ENTITY, NIL_ENTITY, 1n, 5, 1);
 * const entry = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 7, 0]); // count 7 -> none
 * const ack = decodeCommand(new Uint8Array([...head, ...entry])).content;
 * equal(ack.type === "ack_clone" && ack.state.length, 1);
 * ```
 */
export function encodeAckCloneHeadTransient(
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  offset: bigint,
  heartbeatInterval: number,
  entries: number,
): Uint8Array {
  const w = headerWriter(seq, sender, receiver);
  w.u8(COMMAND_TYPES.indexOf("ack_clone"));
  writeAckCloneFields(w, offset, heartbeatInterval, entries);
  return w.buf.subarray(0, w.pos);
}

/**
 * Like `encodeCommandTransient`, for content already encoded (variant byte
 * and fields, as `raw_write.ts` takes them from received commands): the
 * header, then those bytes as they are.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeCommand, encodeContentTransient } from "./commands.ts";
 * import { NIL_ENTITY } from "./entity.ts";
 * const content = new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 1]); // keepalive 1
 * const view = encodeContentTransient(0n, NIL_ENTITY, NIL_ENTITY, content);
 * equal(decodeCommand(view).content.type, "keepalive");
 * ```
 */
export function encodeContentTransient(
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  content: Uint8Array,
): Uint8Array {
  const w = headerWriter(seq, sender, receiver);
  w.bytes(content);
  return w.buf.subarray(0, w.pos);
}

/**
 * Encodes a command's content alone (variant byte and fields, as Broker
 * encodes it) straight into `log`;
 * returns its position there. Throws `serialization_failed`, leaving the
 * log as it was, when the content cannot be encoded.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { appendContent } from "./commands.ts";
 * import { ContentLog } from "./content_log.ts";
 * const log = new ContentLog();
 * const at = appendContent(log, { type: "keepalive", seq: 1n });
 * deepEqual(Array.from(log.get(at)), [9, 0, 0, 0, 0, 0, 0, 0, 1]);
 * ```
 */
export function appendContent(log: ContentLog, content: Command): number {
  if (scratch.buf.length > SCRATCH_MAX) scratch = new Writer();
  const w = scratch;
  w.pos = 0;
  writeContent(w, content);
  return log.append(w.buf, 0, w.pos);
}

/** Largest scratch buffer kept between calls. */
const SCRATCH_MAX = 64 * 1024;
let scratch = new Writer();

// ------------------------------------------------------------------ decoding

let dvBuffer: ArrayBufferLike | undefined;
let dvWhole: DataView = new DataView(new ArrayBuffer(0));

function decodeFail(message: string, offset: number, cause?: unknown): never {
  throw new BrokerError(ErrorCode.deserialization_failed, message, { offset, cause });
}

/** Bounds-checked big-endian reader, private to this module. */
class Reader {
  readonly dv: DataView;
  /** Where `buf` starts in its ArrayBuffer: the DataView spans the whole buffer. */
  readonly base: number;
  pos = 0;

  constructor(readonly buf: Uint8Array) {
    // Commands arrive as views into shared slabs: one DataView per slab, not per command.
    if (buf.buffer !== dvBuffer) {
      dvBuffer = buf.buffer;
      dvWhole = new DataView(buf.buffer);
    }
    this.dv = dvWhole;
    this.base = buf.byteOffset;
  }

  need(n: number, what: string): void {
    if (this.pos + n > this.buf.length) decodeFail(`truncated ${what}`, this.pos);
  }

  u8(what: string): number {
    this.need(1, what);
    return this.buf[this.pos++];
  }

  u16(what: string): number {
    this.need(2, what);
    const x = this.dv.getUint16(this.base + this.pos);
    this.pos += 2;
    return x;
  }

  u64(what: string): bigint {
    this.need(8, what);
    const x = this.dv.getBigUint64(this.base + this.pos);
    this.pos += 8;
    return x;
  }

  i64(what: string): bigint {
    this.need(8, what);
    const x = this.dv.getBigInt64(this.base + this.pos);
    this.pos += 8;
    return x;
  }

  /** Any non-zero byte is true, as CAF reads a bool. */
  bool(what: string): boolean {
    return this.u8(what) !== 0;
  }

  /** A list length: at most 5 bytes and 2^32-1, unlike Broker's unchecked reader. */
  varbyte(what: string): number {
    const start = this.pos;
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8(what);
      n += (b & 0x7f) * 2 ** (7 * i);
      if (b < 0x80) {
        if (n > 0xffffffff) decodeFail(`${what} overflows 32 bits`, start);
        return n;
      }
    }
    return decodeFail(`${what} is longer than 5 bytes`, start);
  }

  data(what: string): Data {
    const start = this.pos;
    try {
      const rest = this.buf.subarray(start);
      // One validation, then the value built from the bytes where they lie.
      const { length, unsorted } = validatePrefix(rest);
      const value = decodeValidated(rest.subarray(0, length), unsorted);
      this.pos += length;
      return value;
    } catch (e) {
      // The data codec also reports invalid_tag; this decoder promises one code.
      return decodeFail(`bad ${what}: ${(e as Error)?.message ?? e}`, start, e);
    }
  }

  /** Validates the value here and steps over it, without building it. */
  skipData(what: string): void {
    const start = this.pos;
    try {
      this.pos = dataEnd(this.buf, start);
    } catch (e) {
      decodeFail(`bad ${what}: ${(e as Error)?.message ?? e}`, start, e);
    }
  }

  entity(what: string): Entity {
    this.need(ENDPOINT_ID_SIZE + 8, what);
    const endpoint = internEndpoint(this.buf, this.pos);
    this.pos += ENDPOINT_ID_SIZE;
    return { endpoint, object: this.u64(what) };
  }

  expiry(): bigint | null {
    return this.bool("expiry flag") ? this.i64("expiry") : null;
  }
}

/**
 * Endpoint IDs seen lately. A store talks to a handful of endpoints, and
 * each command carries two or three entities, so reusing one (never mutated)
 * array per ID spares an allocation per entity on the hot path.
 */
const recentEndpoints: Uint8Array[] = [];
const RECENT_ENDPOINTS = 8;

function internEndpoint(buf: Uint8Array, at: number): Uint8Array {
  outer: for (const id of recentEndpoints) {
    for (let i = 0; i < ENDPOINT_ID_SIZE; i++) if (id[i] !== buf[at + i]) continue outer;
    return id;
  }
  const id = buf.slice(at, at + ENDPOINT_ID_SIZE);
  if (recentEndpoints.length >= RECENT_ENDPOINTS) recentEndpoints.shift();
  recentEndpoints.push(id);
  return id;
}

function readContent(r: Reader, options?: DecodeCommandOptions): Command {
  const at = r.pos;
  const index = r.u8("variant index");
  const type = COMMAND_TYPES[index];
  switch (type) {
    case "put":
    case "subtract":
      return {
        type,
        key: r.data("key"),
        value: r.data("value"),
        expiry: r.expiry(),
        publisher: r.entity("publisher"),
      };
    case "put_unique":
      return {
        type,
        key: r.data("key"),
        value: r.data("value"),
        expiry: r.expiry(),
        who: r.entity("who"),
        reqId: r.u64("req_id"),
        publisher: r.entity("publisher"),
      };
    case "put_unique_result":
      return {
        type,
        inserted: r.bool("inserted"),
        who: r.entity("who"),
        reqId: r.u64("req_id"),
        publisher: r.entity("publisher"),
      };
    case "erase":
    case "expire":
      return { type, key: r.data("key"), publisher: r.entity("publisher") };
    case "add": {
      const key = r.data("key");
      const value = r.data("value");
      const tagAt = r.pos;
      const initType = TYPE_NAMES[r.u8("init_type")];
      if (initType === undefined) decodeFail("init_type is not a data tag", tagAt);
      return { type, key, value, initType, expiry: r.expiry(), publisher: r.entity("publisher") };
    }
    case "clear":
      return { type, publisher: r.entity("publisher") };
    case "attach_writer":
      return { type, offset: r.u64("offset"), heartbeatInterval: r.u16("heartbeat_interval") };
    case "keepalive":
    case "cumulative_ack":
    case "retransmit_failed":
      return { type, seq: r.u64("seq") };
    case "nack": {
      const n = r.varbyte("nack length");
      // Check the length against the input before allocating for it.
      r.need(8 * n, "nack list");
      // A producer answers the first numbers of a nack only (channel.ts), and a
      // frame may list 268 million: the rest is skipped, not made bigints.
      const keep = Math.min(n, MAX_NACK_SEQS_READ);
      const seqs = new Array<bigint>(keep);
      for (let i = 0; i < keep; i++) seqs[i] = r.u64("nack seq");
      r.pos += 8 * (n - keep);
      return { type, seqs };
    }
    case "ack_clone": {
      const offset = r.u64("offset");
      const heartbeatInterval = r.u16("heartbeat_interval");
      const n = r.varbyte("state size");
      r.need(2 * n, "state"); // every key and value takes at least one byte
      if (options?.stateSpans) {
        const from = r.pos;
        for (let i = 0; i < n; i++) {
          r.skipData("state key");
          r.skipData("state value");
        }
        const spans = { bytes: r.buf, from, to: r.pos, count: n };
        return { type, offset, heartbeatInterval, state: [], spans };
      }
      const state = new Array<readonly [Data, Data]>(n);
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const keyAt = r.pos;
        const key = r.data("state key");
        // Broker's reader refuses a key twice; -0.0 beside 0.0 is two keys to it.
        const id = hashKey(key);
        if (seen.has(id)) decodeFail("duplicate key in ack_clone state", keyAt);
        seen.add(id);
        state[i] = [key, r.data("state value")];
      }
      return { type, offset, heartbeatInterval, state };
    }
    default:
      return decodeFail(`unknown command variant ${index}`, at);
  }
}

/**
 * Decodes a command payload. Accepts any non-zero bool or optional flag byte
 * and ignores bytes after the command, as Broker does. Throws
 * `BrokerError(deserialization_failed)` on bad input, never anything else.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { decodeCommand } from "./commands.ts";
 * const bytes = new Uint8Array(8 + 24 + 24 + 1 + 8);
 * bytes[56] = 10; // cumulative_ack
 * bytes[64] = 1;
 * deepEqual(decodeCommand(bytes).content, { type: "cumulative_ack", seq: 1n });
 * ```
 */
export function decodeCommand(
  bytes: Uint8Array,
  options?: DecodeCommandOptions,
): InternalCommand {
  if (!(bytes instanceof Uint8Array)) decodeFail("input is not a Uint8Array", 0);
  const r = new Reader(bytes);
  const seq = r.u64("seq");
  const sender = r.entity("sender");
  const receiver = r.entity("receiver");
  const content = readContent(r, options);
  return { seq, sender, receiver, content };
}
