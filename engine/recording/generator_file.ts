/**
 * Broker's generator files (recordings written under
 * `BROKER_RECORDING_DIRECTORY`, read by `broker-cluster-benchmark`). They keep
 * the *shape* of each message, not its content; `generateFromShape` makes a
 * value of a recorded shape, as Broker's `data_generator` does.
 *
 * Format (spec section 11): magic 0x2EECC0DE in host order (little-endian on
 * x86), a version byte, then entries: 0 new_topic (varbyte length + bytes),
 * 1 data_message / 2 command_message (topic number u16 BE + shape).
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { Tag } from "../data/types.ts";
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

/** The shape of a recorded value: its wire tag, a size for text and containers, children. */
export interface Shape {
  /** Wire tag (section 1 numbering, whatever the file version). */
  readonly tag: Tag;
  /** Byte length of strings and enum values; element count of containers (pairs for tables). */
  readonly size?: number;
  /** Element shapes (tables: key, value, key, value ...). */
  readonly children?: readonly Shape[];
}

/** One recorded message. */
export interface GeneratorEntry {
  /** Data or store command. */
  readonly kind: "data" | "command";
  /** The message's topic. */
  readonly topic: string;
  /** The payload's shape (data messages). */
  readonly shape?: Shape;
  /** Command type (section 6 numbering) for commands. */
  readonly command?: number;
  /** Key and value shapes of a command, when it has them. */
  readonly commandShapes?: readonly Shape[];
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
    const v = new DataView(this.b.buffer, this.b.byteOffset + this.pos, 4).getUint32(0);
    this.pos += 4;
    return v;
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

function readShape(r: Reader, version: number, depth: number): Shape {
  if (depth > r.maxDepth) {
    throw new BrokerError(ErrorCode.invalid_data, `shape nested deeper than ${r.maxDepth}`);
  }
  const at = r.pos;
  const raw = r.u8();
  const tag = version === 1 ? V1_TAGS[raw] : raw <= Tag.vector ? raw as Tag : undefined;
  if (tag === undefined) {
    throw new BrokerError(ErrorCode.invalid_tag, `unknown shape tag ${raw} at byte ${at}`, {
      offset: at,
    });
  }
  if (tag === Tag.string || tag === Tag.enum) return { tag, size: r.u32() };
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

const KEY_VALUE_COMMANDS = new Set([0, 1, 5, 6]); // put, put_unique, add, subtract
const KEY_COMMANDS = new Set([3, 4]); // erase, expire
const NACK = 11;

/**
 * Parses a generator file. Throws a `BrokerError` on a wrong magic number
 * (`wrong_magic_number`), an unknown version or tag, or truncation (`end_of_file`).
 *
 * @example
 * ```ts ignore
 * import { readGeneratorFile } from "./generator_file.ts";
 * const file = readGeneratorFile(await Deno.readFile("mars.dat"));
 * console.log(file.topics, file.entries.length);
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
  const dec = new TextDecoder();
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
    if (kind === 1) {
      entries.push({ kind: "data", topic, shape: readShape(r, version, 0) });
      entryEnds.push(r.pos);
      continue;
    }
    const command = r.u8();
    const commandShapes: Shape[] = [];
    if (KEY_VALUE_COMMANDS.has(command)) {
      commandShapes.push(readShape(r, version, 0), readShape(r, version, 0));
    } else if (KEY_COMMANDS.has(command)) {
      commandShapes.push(readShape(r, version, 0));
    } else if (command === NACK) {
      r.u32();
    } else if (command > 13) {
      throw new BrokerError(ErrorCode.invalid_data, `unknown command type ${command} at ${at}`);
    }
    entries.push({ kind: "command", topic, command, commandShapes });
    entryEnds.push(r.pos);
  }
  return { version, topics, entries, entryEnds };
}

/** A source of pseudo-random numbers in [0, 1). */
export type Random = () => number;

/** A small deterministic PRNG (mulberry32), so generated traffic is repeatable. */
export function seededRandom(seed: number): Random {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomText(n: number, rnd: Random): string {
  let s = "";
  for (let i = 0; i < n; i++) s += String.fromCharCode(97 + Math.floor(rnd() * 26));
  return s;
}

/**
 * Makes a value of the given shape with random content. Sets and tables
 * whose random elements collide come out smaller, as Broker's do.
 *
 * @example
 * ```ts
 * import { generateFromShape, seededRandom } from "./generator_file.ts";
 * import { Tag } from "../data/types.ts";
 * const v = generateFromShape({ tag: Tag.string, size: 3 }, seededRandom(1));
 * console.log(v.type, (v.value as string).length); // "string" 3
 * ```
 */
export function generateFromShape(shape: Shape, rnd: Random): Data {
  const u32 = () => Math.floor(rnd() * 2 ** 32);
  const big = () => (BigInt(u32()) << 32n) | BigInt(u32());
  switch (shape.tag) {
    case Tag.none:
      return none();
    case Tag.boolean:
      return { type: "boolean", value: rnd() < 0.5 };
    case Tag.count:
      return count(big());
    case Tag.integer:
      return integer(BigInt.asIntN(64, big()));
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
      return subnet(Address.parse(`10.${u32() & 255}.0.0`), 16);
    case Tag.port:
      return port(new Port(u32() & 0xffff, "tcp"));
    case Tag.timestamp:
      return timestamp(BigInt.asIntN(63, big()));
    case Tag.timespan:
      return timespan(BigInt(u32()));
    case Tag.set:
      return set(...(shape.children ?? []).map((c) => generateFromShape(c, rnd)));
    case Tag.vector:
      return vector(...(shape.children ?? []).map((c) => generateFromShape(c, rnd)));
    case Tag.table: {
      const kids = shape.children ?? [];
      const entries: [Data, Data][] = [];
      for (let i = 0; i + 1 < kids.length; i += 2) {
        entries.push([generateFromShape(kids[i], rnd), generateFromShape(kids[i + 1], rnd)]);
      }
      return table(entries);
    }
  }
}

/**
 * The shape of a value, as a generator file records it.
 *
 * @example
 * ```ts
 * import { shapeOf } from "./generator_file.ts";
 * import { str } from "../data/mod.ts";
 * console.log(shapeOf(str("abc"))); // { tag: 5, size: 3 }
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
 * Writes a generator file (version 2, the format Broker's current reader
 * takes): topics as they first appear, then one entry per data message with
 * its shape. `cap` bounds the number of messages (Broker's
 * `BROKER_OUTPUT_GENERATOR_FILE_CAP`).
 *
 * @example
 * ```ts
 * import { GeneratorFileWriter, readGeneratorFile } from "./generator_file.ts";
 * import { count } from "../data/mod.ts";
 * const w = new GeneratorFileWriter();
 * w.addData("/t", count(1n));
 * console.log(readGeneratorFile(w.bytes()).entries.length); // 1
 * ```
 */
export class GeneratorFileWriter {
  #parts: number[] = [];
  #topics = new Map<string, number>();
  #messages = 0;
  /** Most messages recorded; later ones are dropped. */
  readonly cap: number;

  /** A writer recording at most `cap` messages. */
  constructor(cap = Infinity) {
    this.cap = cap;
    // Magic 0x2EECC0DE in host order (little-endian here, as Broker writes on x86), version 2.
    this.#parts.push(0xde, 0xc0, 0xec, 0x2e, 2);
  }

  /** Messages recorded so far. */
  get messages(): number {
    return this.#messages;
  }

  /** Records a data message's topic and shape; false once the cap is reached. */
  addData(topic: string, value: Data): boolean {
    if (this.#messages >= this.cap) return false;
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
    this.#parts.push(1, index >> 8, index & 0xff);
    this.#writeShape(shapeOf(value));
    this.#messages++;
    return true;
  }

  #writeShape(s: Shape): void {
    this.#parts.push(s.tag);
    if (s.size !== undefined) {
      const n = s.size;
      this.#parts.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
    }
    for (const c of s.children ?? []) this.#writeShape(c);
  }

  /** The file's bytes. */
  bytes(): Uint8Array {
    return new Uint8Array(this.#parts);
  }
}
