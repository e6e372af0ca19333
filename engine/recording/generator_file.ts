/**
 * Broker's generator files (recordings written under
 * `BROKER_RECORDING_DIRECTORY`, read by `broker-cluster-benchmark`). They keep
 * the *shape* of each message, not its content; `generateFromShape` makes a
 * value of a recorded shape, as Broker's `data_generator` does, and
 * `commandFromEntry` a store command of a recorded command entry.
 *
 * Format (spec section 11): magic 0x2EECC0DE in host order (little-endian on
 * x86), a version byte, then entries: 0 new_topic (varbyte length + bytes),
 * 1 data_message / 2 command_message (topic number u16 BE + shape).
 *
 * Two versions exist. Version 1 is what every Broker that built the recorder
 * wrote (Broker 2.2.0 and before: `mars.dat`, `example.zip`, recordings of
 * Zeek clusters) and what the last runnable `broker-cluster-benchmark` (2.2.0)
 * reads: the old tag order for data, and Broker 2.2.0's `internal_command`
 * numbering for commands (0 none, 1 put, 2 put_unique, 3 erase, 4 expire,
 * 5 add, 6 subtract, 7 snapshot, 8 snapshot_sync, 9 set, 10 clear). Version 2
 * exists only in dead source (the recorder no longer built when it changed):
 * wire tags for data, section 6 numbering for commands.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { DEFAULT_MAX_FRAME_SIZE } from "../wire/framing.ts";
import { Tag, TYPE_NAMES } from "../data/types.ts";
import {
  Address,
  count,
  type Data,
  enumValue,
  integer,
  none,
  Port,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../data/mod.ts";
import { type Command, COMMAND_TYPES, type InternalCommand } from "../store/commands.ts";
import { NIL_ENTITY } from "../store/entity.ts";

/** The generator file magic, as the u32 Broker writes in host order. */
export const GENERATOR_MAGIC = 0x2eecc0de;

/** Version 1 used another tag order; index = v1 tag, value = wire tag. */
const V1_TAGS: readonly Tag[] = [
  Tag.address,
  Tag.boolean,
  Tag.count,
  Tag.enum,
  Tag.integer,
  Tag.none,
  Tag.port,
  Tag.real,
  Tag.set,
  Tag.string,
  Tag.subnet,
  Tag.table,
  Tag.timespan,
  Tag.timestamp,
  Tag.vector,
];

/** Index = wire tag, value = version 1 tag. */
const V1_BY_WIRE_TAG: readonly number[] = (() => {
  const out: number[] = [];
  V1_TAGS.forEach((wire, v1) => out[wire] = v1);
  return out;
})();

/** The shape of a recorded value: its wire tag, a size for text and containers, children. */
export interface Shape {
  /** Wire tag (section 1 numbering, whatever the file version). */
  readonly tag: Tag;
  /** Byte length of strings and enum values; element count of containers (pairs for tables). */
  readonly size?: number;
  /** Element shapes (tables: key, value, key, value ...). */
  readonly children?: readonly Shape[];
}

/**
 * What a command entry can be: Broker 2.2.0's command types (version 1)
 * and the store protocol's (section 6, version 2), by name.
 */
export type RecordedCommandName =
  | "none"
  | "snapshot"
  | "snapshot_sync"
  | "set"
  | Command["type"];

/**
 * Command types of version 1 files, in Broker 2.2.0's `internal_command::type`
 * order: the index is the recorded type byte.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { V1_COMMAND_TYPES } from "./generator_file.ts";
 * equal(V1_COMMAND_TYPES[7], "snapshot"); // what a clone sends for the master's state
 * ```
 */
export const V1_COMMAND_TYPES: readonly RecordedCommandName[] = [
  "none",
  "put",
  "put_unique",
  "erase",
  "expire",
  "add",
  "subtract",
  "snapshot",
  "snapshot_sync",
  "set",
  "clear",
];

/** One recorded message. */
export interface GeneratorEntry {
  /** Data or store command. */
  readonly kind: "data" | "command";
  /** The message's topic. */
  readonly topic: string;
  /** The payload's shape (data messages). */
  readonly shape?: Shape;
  /**
   * The command's type byte as recorded: Broker 2.2.0's numbering in version 1
   * files (`V1_COMMAND_TYPES`), section 6 numbering in version 2.
   */
  readonly command?: number;
  /** The command's type by name, whatever the file version. */
  readonly commandName?: RecordedCommandName;
  /** Key and value shapes of a command (a `set`: key, value, key, value ...). */
  readonly commandShapes?: readonly Shape[];
  /** An `add`'s init type (wire tag): what a missing key starts as. */
  readonly initType?: Tag;
  /** A version 2 `nack`'s number of sequence numbers. */
  readonly seqCount?: number;
}

/** A parsed generator file. */
export interface GeneratorFile {
  /** File format version (1 or 2). */
  readonly version: number;
  /** Topics in order of first appearance. */
  readonly topics: readonly string[];
  /** Messages in recorded order. */
  readonly entries: readonly GeneratorEntry[];
  /**
   * Byte offset just past each entry: the file cut there is a valid
   * generator file with the first entries (topic definitions precede their use).
   */
  readonly entryEnds: readonly number[];
}

class Reader {
  pos = 0;
  /** Bytes of text the shape being read would generate (see `readTopShape`). */
  text = 0;
  constructor(readonly b: Uint8Array, readonly maxDepth: number) {}

  need(n: number): void {
    if (this.pos + n > this.b.length) {
      throw new BrokerError(ErrorCode.end_of_file, `generator file truncated at byte ${this.pos}`, {
        offset: this.pos,
      });
    }
  }
  u8(): number {
    this.need(1);
    return this.b[this.pos++];
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.pos] << 8) | this.b[this.pos + 1];
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const b = this.b, at = this.pos;
    this.pos += 4;
    // Not a DataView per read: shapes are most of a file, and most carry a u32.
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }
  varbyte(): number {
    let v = 0;
    for (let shift = 0; shift <= 28; shift += 7) {
      const byte = this.u8();
      v += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return v;
    }
    throw new BrokerError(ErrorCode.invalid_data, `varbyte too long at byte ${this.pos}`);
  }
}

function wireTag(raw: number, version: number): Tag | undefined {
  return version === 1 ? V1_TAGS[raw] : raw <= Tag.vector ? raw as Tag : undefined;
}

/** One message's shape (its text budget starts anew). */
function readTopShape(r: Reader, version: number): Shape {
  r.text = 0;
  return readShape(r, version, 0);
}

function readShape(r: Reader, version: number, depth: number): Shape {
  if (depth > r.maxDepth) {
    throw new BrokerError(ErrorCode.invalid_data, `shape nested deeper than ${r.maxDepth}`);
  }
  const at = r.pos;
  const raw = r.u8();
  const tag = wireTag(raw, version);
  if (tag === undefined) {
    throw new BrokerError(ErrorCode.invalid_tag, `unknown shape tag ${raw} at byte ${at}`, {
      offset: at,
    });
  }
  if (tag === Tag.string || tag === Tag.enum) {
    const size = r.u32();
    // A size is a promise of that much text: one past a frame is a lie, not an allocation.
    if ((r.text += size) > DEFAULT_MAX_FRAME_SIZE) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `shape at byte ${at} would make more than ${DEFAULT_MAX_FRAME_SIZE} bytes of text, ` +
          `more than a frame holds`,
        { offset: at },
      );
    }
    return { tag, size };
  }
  if (tag === Tag.set || tag === Tag.table || tag === Tag.vector) {
    const size = r.u32();
    const n = tag === Tag.table ? 2 * size : size;
    // Each child takes at least a byte: a larger count is a lie, not an allocation.
    if (n > r.b.length - r.pos) {
      throw new BrokerError(ErrorCode.invalid_data, `container of ${size} at byte ${at} overruns`);
    }
    const children: Shape[] = [];
    for (let i = 0; i < n; i++) children.push(readShape(r, version, depth + 1));
    return { tag, size, children };
  }
  return { tag };
}

const KEY_VALUE_COMMANDS = new Set<RecordedCommandName>(["put", "put_unique", "add", "subtract"]);
const KEY_COMMANDS = new Set<RecordedCommandName>(["erase", "expire"]);

function commandName(type: number, version: number): RecordedCommandName | undefined {
  return version === 1 ? V1_COMMAND_TYPES[type] : COMMAND_TYPES[type];
}

/**
 * Reads what follows a command entry's type byte. Both versions' writers put
 * the key and value shapes of put, put_unique, add and subtract, then an
 * add's init type byte (in the file's tag order), the key shape of erase and
 * expire; version 1's `set` a u32 count of key/value shape pairs; version 2's
 * `nack` a u32 count; nothing for the rest.
 */
function readCommand(r: Reader, version: number, topic: string, at: number): GeneratorEntry {
  const command = r.u8();
  const name = commandName(command, version);
  if (name === undefined) {
    throw new BrokerError(ErrorCode.invalid_tag, `unknown command type ${command} at byte ${at}`, {
      offset: at,
    });
  }
  const commandShapes: Shape[] = [];
  let initType: Tag | undefined;
  let seqCount: number | undefined;
  if (KEY_VALUE_COMMANDS.has(name)) {
    commandShapes.push(readTopShape(r, version), readTopShape(r, version));
    if (name === "add") {
      const raw = r.u8();
      initType = wireTag(raw, version);
      if (initType === undefined) {
        throw new BrokerError(ErrorCode.invalid_tag, `unknown init type ${raw} at byte ${at}`);
      }
    }
  } else if (KEY_COMMANDS.has(name)) {
    commandShapes.push(readTopShape(r, version));
  } else if (name === "set") {
    const pairs = r.u32();
    if (2 * pairs > r.b.length - r.pos) {
      throw new BrokerError(ErrorCode.invalid_data, `set of ${pairs} at byte ${at} overruns`);
    }
    for (let i = 0; i < 2 * pairs; i++) commandShapes.push(readTopShape(r, version));
  } else if (name === "nack") {
    seqCount = r.u32();
  }
  return {
    kind: "command",
    topic,
    command,
    commandName: name,
    commandShapes,
    ...(initType !== undefined ? { initType } : {}),
    ...(seqCount !== undefined ? { seqCount } : {}),
  };
}

/**
 * Parses a generator file. Throws a `BrokerError` on a wrong magic number
 * (`wrong_magic_number`), an unknown version, tag or command type, or
 * truncation (`end_of_file`).
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { readGeneratorFile } from "./generator_file.ts";
 * const mars = new URL("../../fixtures/broker/recordings/mars.dat", import.meta.url);
 * const file = readGeneratorFile(await Deno.readFile(mars));
 * deepEqual(file.topics, ["/benchmark/events"]);
 * equal(file.entries.length, 1000);
 * ```
 */
export function readGeneratorFile(
  bytes: Uint8Array,
  options?: { maxDepth?: number },
): GeneratorFile {
  const r = new Reader(bytes, options?.maxDepth ?? 128);
  r.need(5);
  const magic = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  if (magic !== GENERATOR_MAGIC) {
    throw new BrokerError(
      ErrorCode.wrong_magic_number,
      `not a Broker generator file (magic 0x${magic.toString(16)})`,
    );
  }
  r.pos = 4;
  const version = r.u8();
  if (version !== 1 && version !== 2) {
    throw new BrokerError(ErrorCode.invalid_data, `unsupported generator file version ${version}`);
  }
  const topics: string[] = [];
  const entries: GeneratorEntry[] = [];
  const entryEnds: number[] = [];
  const dec = new TextDecoder("utf-8", { ignoreBOM: true });
  while (r.pos < bytes.length) {
    const at = r.pos;
    const kind = r.u8();
    if (kind === 0) {
      const len = r.varbyte();
      r.need(len);
      topics.push(dec.decode(bytes.subarray(r.pos, r.pos + len)));
      r.pos += len;
      continue;
    }
    if (kind !== 1 && kind !== 2) {
      throw new BrokerError(ErrorCode.invalid_data, `unknown entry type ${kind} at byte ${at}`);
    }
    const topicIndex = r.u16();
    const topic = topics[topicIndex];
    if (topic === undefined) {
      throw new BrokerError(
        ErrorCode.invalid_data,
        `entry at byte ${at} names topic ${topicIndex}`,
      );
    }
    if (kind === 1) entries.push({ kind: "data", topic, shape: readTopShape(r, version) });
    else entries.push(readCommand(r, version, topic, at));
    entryEnds.push(r.pos);
  }
  return { version, topics, entries, entryEnds };
}

/** A source of pseudo-random numbers in [0, 1). */
export type Random = () => number;

/** The state of a `seededRandom` source (see `seedStateOf`). */
export interface SeedState {
  /** mulberry32's state word. */
  s: number;
}

const seedStates = new WeakMap<Random, SeedState>();

/**
 * The state behind a `seededRandom` source, or undefined for any other
 * source: a generator that draws many numbers in a row can step it inline
 * (`mulberry32`) instead of calling the source per number, and the source
 * then goes on from there.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { mulberry32, seededRandom, seedStateOf } from "./generator_file.ts";
 * const rnd = seededRandom(3), again = seededRandom(3);
 * equal(mulberry32(seedStateOf(rnd)!) / 2 ** 32, again());
 * equal(rnd(), again());
 * ```
 */
export function seedStateOf(rnd: Random): SeedState | undefined {
  return seedStates.get(rnd);
}

/**
 * One step of mulberry32: the next number of a seeded source, as an
 * unsigned 32-bit integer (the source gives it divided by 2^32).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { mulberry32, seededRandom } from "./generator_file.ts";
 * equal(mulberry32({ s: 1 }) / 2 ** 32, seededRandom(1)());
 * ```
 */
export function mulberry32(state: SeedState): number {
  const s = state.s = (state.s + 0x6d2b79f5) >>> 0;
  let t = Math.imul(s ^ (s >>> 15), s | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return (t ^ (t >>> 14)) >>> 0;
}

/**
 * A small deterministic PRNG (mulberry32), so generated traffic is repeatable.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { seededRandom } from "./generator_file.ts";
 * const rnd = seededRandom(1);
 * equal(rnd() === seededRandom(1)(), true);
 * ```
 */
export function seededRandom(seed: number): Random {
  const state: SeedState = { s: seed >>> 0 };
  const rnd = () => mulberry32(state) / 4294967296;
  seedStates.set(rnd, state);
  return rnd;
}

/** Reused argument arrays for `String.fromCharCode.apply`, one per length. */
const CHAR_CODES: number[][] = [];

// One `String.fromCharCode` over an array instead of a concatenation per
// character: random text was 8% of generating mars.dat's values.
function randomText(n: number, rnd: Random): string {
  if (n > 64) {
    let s = "";
    for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(rnd() * 26));
    return s;
  }
  const args = CHAR_CODES[n] ??= new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) args[i] = 97 + Math.floor(rnd() * 26);
  return String.fromCharCode.apply(null, args);
}

const u32 = (rnd: Random) => Math.floor(rnd() * 2 ** 32);
const big = (rnd: Random) => (BigInt(u32(rnd)) << 32n) | BigInt(u32(rnd));

/**
 * Makes a value of the given shape with random content. Sets and tables
 * whose random elements collide come out smaller, as Broker's do.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { generateFromShape, seededRandom } from "./generator_file.ts";
 * import { Tag } from "../data/types.ts";
 * const v = generateFromShape({ tag: Tag.string, size: 3 }, seededRandom(1));
 * equal(v.type, "string");
 * equal((v.value as string).length, 3);
 * ```
 */
export function generateFromShape(shape: Shape, rnd: Random): Data {
  switch (shape.tag) {
    case Tag.none:
      return none();
    case Tag.boolean:
      return { type: "boolean", value: rnd() < 0.5 };
    case Tag.count:
      return count(big(rnd));
    case Tag.integer:
      return integer(BigInt.asIntN(64, big(rnd)));
    case Tag.real:
      return real(rnd() * 1e6);
    case Tag.string:
      return str(randomText(shape.size ?? 0, rnd));
    case Tag.enum:
      return enumValue(randomText(shape.size ?? 0, rnd));
    case Tag.address: {
      const b = new Uint8Array(16);
      for (let i = 0; i < 16; i++) b[i] = Math.floor(rnd() * 256);
      return { type: "address", value: new Address(b) };
    }
    case Tag.subnet:
      return subnet(Address.parse(`10.${u32(rnd) & 255}.0.0`), 16);
    case Tag.port:
      return port(new Port(u32(rnd) & 0xffff, "tcp"));
    case Tag.timestamp:
      return timestamp(BigInt.asIntN(63, big(rnd)));
    case Tag.timespan:
      return timespan(BigInt(u32(rnd)));
    case Tag.set: {
      const kids = shape.children ?? [];
      return textTag(kids, 1) !== undefined
        ? textSet(kids, rnd)
        : set(...kids.map((c) => generateFromShape(c, rnd)));
    }
    case Tag.vector:
      return vector(...(shape.children ?? []).map((c) => generateFromShape(c, rnd)));
    case Tag.table: {
      const kids = shape.children ?? [];
      return textTag(kids, 2) !== undefined
        ? textKeyTable(kids, rnd)
        : table(generatePairs(kids, rnd));
    }
  }
}

function generatePairs(kids: readonly Shape[], rnd: Random): [Data, Data][] {
  const entries: [Data, Data][] = [];
  for (let i = 0; i + 1 < kids.length; i += 2) {
    entries.push([generateFromShape(kids[i], rnd), generateFromShape(kids[i + 1], rnd)]);
  }
  return entries;
}

// Sets of text and tables keyed by text (mars.dat's 31-entry table of sets
// of strings) sort by plain string comparison instead of `set`/`table`'s
// general order, which was 14% of generating their values. Random text is
// a-z only, where comparing UTF-16 units is Broker's byte order, and the
// sort is stable, so the first of equal keys stays as in `table`: the values
// are the same as `set(...)`/`table(...)` of the same random draws.

/** `Tag.string` or `Tag.enum` when every `step`-th shape (from 0) is that tag. */
function textTag(kids: readonly Shape[], step: number): Tag | undefined {
  if (kids.length === 0) return undefined;
  const tag = kids[0].tag;
  if (tag !== Tag.string && tag !== Tag.enum) return undefined;
  for (let i = step; i < kids.length; i += step) if (kids[i].tag !== tag) return undefined;
  return tag;
}

const byText = (a: string, b: string) => a < b ? -1 : a > b ? 1 : 0;
const byKeyText = (a: [string, Data], b: [string, Data]) => byText(a[0], b[0]);

function textSet(kids: readonly Shape[], rnd: Random): Data {
  const make = kids[0].tag === Tag.string ? str : enumValue;
  const texts = kids.map((c) => randomText(c.size ?? 0, rnd)).sort(byText);
  const value: Data[] = [];
  for (let i = 0; i < texts.length; i++) {
    if (i === 0 || texts[i] !== texts[i - 1]) value.push(make(texts[i]));
  }
  return { type: "set", value };
}

function textKeyTable(kids: readonly Shape[], rnd: Random): Data {
  const make = kids[0].tag === Tag.string ? str : enumValue;
  const pairs: [string, Data][] = [];
  for (let i = 0; i + 1 < kids.length; i += 2) {
    const key = randomText(kids[i].size ?? 0, rnd);
    pairs.push([key, generateFromShape(kids[i + 1], rnd)]);
  }
  pairs.sort(byKeyText);
  const value: [Data, Data][] = [];
  for (let i = 0; i < pairs.length; i++) {
    if (i === 0 || pairs[i][0] !== pairs[i - 1][0]) value.push([make(pairs[i][0]), pairs[i][1]]);
  }
  return { type: "table", value };
}

/** The heartbeat interval (ticks) our stores announce; any value is valid on the wire. */
const HEARTBEAT_TICKS = 5;

/**
 * The store command a command entry stands for, with values of the recorded
 * shapes, as Broker's `data_generator` makes them (no expiry, nil publisher,
 * sequence number 0): ready for `encodeCommand` and a command envelope on
 * the entry's topic. Broker 2.2.0's commands that the store protocol no
 * longer has become their counterparts in it: `snapshot` (a clone asking for
 * the master's state) a `nack [0]`, `snapshot_sync` and `set` (the master's
 * answer) an `ack_clone`, with the recorded state for `set`; `none` a
 * `keepalive`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { commandFromEntry, seededRandom } from "./generator_file.ts";
 * import { Tag } from "../data/types.ts";
 * const cmd = commandFromEntry({
 *   kind: "command", topic: "kv/<$>/data/master", commandName: "put",
 *   commandShapes: [{ tag: Tag.string, size: 3 }, { tag: Tag.count }],
 * }, seededRandom(1));
 * equal(cmd.content.type, "put");
 * ```
 */
export function commandFromEntry(entry: GeneratorEntry, rnd: Random): InternalCommand {
  const shapes = entry.commandShapes ?? [];
  const key = () => generateFromShape(shapes[0] ?? { tag: Tag.none }, rnd);
  const value = () => generateFromShape(shapes[1] ?? { tag: Tag.none }, rnd);
  const publisher = NIL_ENTITY;
  let content: Command;
  switch (entry.commandName) {
    case undefined:
      throw new BrokerError(ErrorCode.invalid_data, "not a command entry");
    case "none":
      content = { type: "keepalive", seq: 0n };
      break;
    case "put":
    case "subtract":
      content = { type: entry.commandName, key: key(), value: value(), expiry: null, publisher };
      break;
    case "put_unique":
      content = {
        type: "put_unique",
        key: key(),
        value: value(),
        expiry: null,
        who: NIL_ENTITY,
        reqId: 0n,
        publisher,
      };
      break;
    case "put_unique_result":
      content = {
        type: "put_unique_result",
        inserted: false,
        who: NIL_ENTITY,
        reqId: 0n,
        publisher,
      };
      break;
    case "erase":
    case "expire":
      content = { type: entry.commandName, key: key(), publisher };
      break;
    case "add":
      content = {
        type: "add",
        key: key(),
        value: value(),
        initType: TYPE_NAMES[entry.initType ?? Tag.none],
        expiry: null,
        publisher,
      };
      break;
    case "clear":
      content = { type: "clear", publisher };
      break;
    case "snapshot":
      content = { type: "nack", seqs: [0n] };
      break;
    case "snapshot_sync":
    case "ack_clone":
      content = { type: "ack_clone", offset: 0n, heartbeatInterval: HEARTBEAT_TICKS, state: [] };
      break;
    case "set":
      content = {
        type: "ack_clone",
        offset: 0n,
        heartbeatInterval: HEARTBEAT_TICKS,
        // Through a table, so that colliding random keys merge (Broker's are unique).
        state: table(generatePairs(shapes, rnd)).value,
      };
      break;
    case "attach_writer":
      content = { type: "attach_writer", offset: 0n, heartbeatInterval: HEARTBEAT_TICKS };
      break;
    case "keepalive":
    case "cumulative_ack":
    case "retransmit_failed":
      content = { type: entry.commandName, seq: 0n };
      break;
    case "nack":
      content = { type: "nack", seqs: Array.from({ length: entry.seqCount ?? 1 }, () => 0n) };
      break;
  }
  return { seq: 0n, sender: NIL_ENTITY, receiver: NIL_ENTITY, content };
}

/**
 * The shape of a value, as a generator file records it.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { shapeOf } from "./generator_file.ts";
 * import { str } from "../data/mod.ts";
 * deepEqual(shapeOf(str("abc")), { tag: 5, size: 3 });
 * ```
 */
export function shapeOf(d: Data): Shape {
  switch (d.type) {
    case "string":
    case "enum":
      return {
        tag: d.type === "string" ? Tag.string : Tag.enum,
        size: d.bytes?.length ?? new TextEncoder().encode(d.value).length,
      };
    case "set":
    case "vector":
      return {
        tag: d.type === "set" ? Tag.set : Tag.vector,
        size: d.value.length,
        children: d.value.map(shapeOf),
      };
    case "table":
      return {
        tag: Tag.table,
        size: d.value.length,
        children: d.value.flatMap(([k, v]) => [shapeOf(k), shapeOf(v)]),
      };
    default:
      return { tag: TAG_BY_TYPE[d.type] };
  }
}

const TAG_BY_TYPE: Record<string, Tag> = {
  none: Tag.none,
  boolean: Tag.boolean,
  count: Tag.count,
  integer: Tag.integer,
  real: Tag.real,
  address: Tag.address,
  subnet: Tag.subnet,
  port: Tag.port,
  timestamp: Tag.timestamp,
  timespan: Tag.timespan,
};

/**
 * Writes a generator file as Broker's recorder did: the header, topics as
 * they first appear, then one entry per published message with its shape.
 * Version 1 (the default) is what Broker 2.2.0 and every earlier recorder
 * wrote and the only version a runnable `broker-cluster-benchmark` reads;
 * version 2 follows the dead source of later Brokers. `cap` bounds the
 * number of entries, data and commands together (Broker's
 * `BROKER_OUTPUT_GENERATOR_FILE_CAP`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { GeneratorFileWriter, readGeneratorFile } from "./generator_file.ts";
 * import { count } from "../data/mod.ts";
 * const w = new GeneratorFileWriter();
 * w.addData("/t", count(1n));
 * equal(readGeneratorFile(w.bytes()).entries.length, 1);
 * ```
 */
export class GeneratorFileWriter {
  #parts: number[] = [];
  #topics = new Map<string, number>();
  #messages = 0;
  /** Most entries recorded; later ones are dropped. */
  readonly cap: number;
  /** File format version written (1 or 2). */
  readonly version: 1 | 2;

  /** A writer recording at most `cap` entries in the given format version. */
  constructor(cap = Infinity, version: 1 | 2 = 1) {
    this.cap = cap;
    this.version = version;
    // Magic 0x2EECC0DE in host order (little-endian here, as Broker writes on x86), version.
    this.#parts.push(0xde, 0xc0, 0xec, 0x2e, version);
  }

  /** Entries recorded so far. */
  get messages(): number {
    return this.#messages;
  }

  #topicIndex(topic: string): number {
    let index = this.#topics.get(topic);
    if (index === undefined) {
      index = this.#topics.size;
      this.#topics.set(topic, index);
      const bytes = new TextEncoder().encode(topic);
      this.#parts.push(0);
      let n = bytes.length;
      while (n > 0x7f) {
        this.#parts.push((n & 0x7f) | 0x80);
        n >>>= 7;
      }
      this.#parts.push(n, ...bytes);
    }
    return index;
  }

  /** Records a data message's topic and shape; false once the cap is reached. */
  addData(topic: string, value: Data): boolean {
    if (this.#messages >= this.cap) return false;
    const index = this.#topicIndex(topic);
    this.#parts.push(1, index >> 8, index & 0xff);
    this.#writeShape(shapeOf(value));
    this.#messages++;
    return true;
  }

  /**
   * Records a store command published on `topic`; false once the cap is
   * reached or when the command has no entry in this version. Version 1
   * keeps what Broker 2.2.0's stores published, under its names: the
   * updates (put, put_unique, erase, expire, add, subtract, clear), a
   * clone's request for the state (`nack [0]`, 2.2.0's `snapshot`) and the
   * master's answer (`ack_clone`, 2.2.0's `snapshot_sync` on the clone
   * topic). The channel's bookkeeping (acks, keepalives, retransmissions,
   * `put_unique_result`) had no command in 2.2.0 and is left out.
   * Version 2 records every command under its section 6 number.
   */
  addCommand(topic: string, content: Command): boolean {
    if (this.#messages >= this.cap) return false;
    let name: RecordedCommandName = content.type;
    if (this.version === 1) {
      if (content.type === "nack") {
        if (content.seqs.length !== 1 || content.seqs[0] !== 0n) return false;
        name = "snapshot";
      } else if (content.type === "ack_clone") name = "snapshot_sync";
    }
    const type = this.version === 1
      ? V1_COMMAND_TYPES.indexOf(name)
      : COMMAND_TYPES.indexOf(content.type);
    if (type < 0) return false;
    const index = this.#topicIndex(topic);
    this.#parts.push(2, index >> 8, index & 0xff, type);
    switch (content.type) {
      case "put":
      case "put_unique":
      case "add":
      case "subtract":
        this.#writeShape(shapeOf(content.key));
        this.#writeShape(shapeOf(content.value));
        if (content.type === "add") {
          this.#parts.push(this.#tag(TYPE_NAMES.indexOf(content.initType)));
        }
        break;
      case "erase":
      case "expire":
        this.#writeShape(shapeOf(content.key));
        break;
      case "nack":
        if (this.version === 2) this.#u32(content.seqs.length);
        break;
    }
    this.#messages++;
    return true;
  }

  #tag(wire: Tag): number {
    return this.version === 1 ? V1_BY_WIRE_TAG[wire] : wire;
  }

  #u32(n: number): void {
    this.#parts.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }

  #writeShape(s: Shape): void {
    this.#parts.push(this.#tag(s.tag));
    if (s.size !== undefined) this.#u32(s.size);
    for (const c of s.children ?? []) this.#writeShape(c);
  }

  /** The file's bytes. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#parts);
  }
}
