/**
 * Random values of a generator file's shapes made straight into Broker's
 * binary encoding, without building `Data`: for senders that make a fresh
 * value per message inside a benchmark's clock, as Broker's
 * `broker-cluster-benchmark` does. `generateEncoded(shape, rnd)` gives byte
 * for byte `encode(generateFromShape(shape, rnd))` and leaves `rnd` where
 * that would: the same draws, in the same order, with the same
 * consequences (set elements and table keys sorted into Broker's order,
 * repeats dropped, the first of equal table keys kept).
 *
 * Sets of text and tables keyed by text (mars.dat's 31-entry table of sets
 * of strings) are sorted on their draws: random text is a–z, where byte
 * order is Broker's order. Sets and tables of other elements go through
 * `generateFromShape` and `encode`: Broker's order for them is not the
 * order of their bytes, and no recording seen has them.
 *
 * A mars.dat event (341 texts of ten letters: 3,410 draws) takes about
 * 20 µs here against about 75 µs through `Data` and `encode`; a third of
 * it is the draws themselves.
 *
 * @module
 */
import { encode } from "../data/binary.ts";
import { beginShared, copyToSlab, finishShared } from "../data/slab.ts";
import { Tag } from "../data/types.ts";
import {
  commandFromEntry,
  generateFromShape,
  type GeneratorEntry,
  type Random,
  type SeedState,
  seedStateOf,
  type Shape,
} from "./generator_file.ts";
import { encodeCommandTransient } from "../store/commands.ts";

/** How a plan is written. */
const enum Mode {
  scalar,
  vector,
  textSet,
  textKeyTable,
  viaData,
}

/**
 * A shape made ready to write: its mode, its children's plans, and the most
 * bytes its encoding takes (no repeats dropped). A class, so that every
 * plan has one hidden class: with plans from several object literals (and
 * children arrays of two elements kinds) the writers' optimized code was
 * thrown away on "wrong map" and rebuilt, again and again while it warmed
 * up.
 */
class Plan {
  constructor(
    /** Its number among the plans made. */
    readonly id: number,
    readonly tag: Tag,
    /** Text length (strings, enums). */
    readonly size: number,
    readonly mode: Mode,
    readonly kids: readonly Plan[],
    readonly bound: number,
    /**
     * The most bytes writing it touches from where it starts: its encoding
     * and the draws of its sets and tables (see `textContainer`).
     */
    readonly workspace: number,
    /** Whether it or a descendant goes through `Data` (and so `encode`'s shared slab). */
    readonly viaData: boolean,
    /** For `viaData`: a shape of this structure. */
    readonly shape: Shape,
  ) {}
}

/** Plans of whole entries' shapes, made on first use. */
const plans = new WeakMap<Shape, Plan>();
/**
 * Plans by structure (tag, size, the children's plans), shared by all
 * shapes alike: mars.dat's 1,000 entries are one shape, so its events are
 * written from one small tree of plans that stays in the cache, instead of
 * 1,000 trees of 33 plans each.
 */
const interned = new Map<string, Plan>();
/** Plans of childless shapes, by size and tag. */
const leaves = new Map<number, Plan>();
let nextId = 0;

function varbyteLength(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function scalarBound(tag: Tag, size: number): number {
  switch (tag) {
    case Tag.none:
      return 1;
    case Tag.boolean:
      return 2;
    case Tag.port:
      return 4;
    case Tag.address:
      return 17;
    case Tag.subnet:
      return 18;
    case Tag.string:
    case Tag.enum:
      return 1 + varbyteLength(size) + size;
    default: // count, integer, real, timestamp, timespan
      return 9;
  }
}

/** Whether every `step`-th shape (from 0) is text of one tag, as `generator_file.ts` asks. */
function textTag(kids: readonly Shape[], step: number): boolean {
  if (kids.length === 0) return false;
  const tag = kids[0].tag;
  if (tag !== Tag.string && tag !== Tag.enum) return false;
  for (let i = step; i < kids.length; i += step) if (kids[i].tag !== tag) return false;
  return true;
}

const NO_KIDS: readonly Plan[] = [];

function planOf(s: Shape): Plan {
  if (s.tag !== Tag.set && s.tag !== Tag.table && s.tag !== Tag.vector) {
    const size = s.size ?? 0;
    const id = size * 16 + s.tag; // no string per leaf: they are most of a shape
    let leaf = leaves.get(id);
    if (!leaf) {
      const bound = scalarBound(s.tag, size);
      leaf = new Plan(nextId++, s.tag, size, Mode.scalar, NO_KIDS, bound, bound, false, s);
      leaves.set(id, leaf);
    }
    return leaf;
  }
  const shapes = s.children ?? [];
  // Built by push, not `map`: every array of children then has one elements
  // kind (`map` made some of them holey, and reading children from both
  // kinds sent the writers' optimized code back to the interpreter).
  const kids: Plan[] = [];
  for (const c of shapes) kids.push(planOf(c));
  const id = `${s.tag}[${kids.map((k) => k.id).join(",")}]`;
  const known = interned.get(id);
  if (known) return known;
  const mode = s.tag === Tag.vector
    ? Mode.vector
    : s.tag === Tag.set
    ? (textTag(shapes, 1) ? Mode.textSet : Mode.viaData)
    : (textTag(shapes, 2) ? Mode.textKeyTable : Mode.viaData);
  // Tag and the element count (a varbyte of at most 5 bytes), then every child.
  let bound = 6, inner = 0, viaData = mode === Mode.viaData;
  for (const c of kids) {
    bound += c.bound;
    inner += c.workspace;
    viaData ||= c.viaData;
  }
  // A vector writes each child after the ones before it; a set or table
  // draws its children one `bound` past its start; through `Data`, the
  // encoding is all.
  const workspace = mode === Mode.viaData
    ? bound
    : mode === Mode.vector
    ? 6 + inner
    : bound + inner;
  const plan = new Plan(nextId++, s.tag, 0, mode, kids, bound, workspace, viaData, s);
  interned.set(id, plan);
  return plan;
}

// `generateEncoded` writes a message straight into the shared output slab
// (where `encode` writes), after room for its whole workspace is reserved;
// `generateEncodedTransient`, and any message with a part made through
// `Data` (`encode` writes into the slab too), into a private buffer. A set
// or table draws its elements in order one `bound` past its start, then
// writes them sorted from its start: its encoding never takes more than
// `bound`, so it never overwrites draws it has yet to copy, and the draws
// left past the message's end are overwritten by the next one. The elements
// of the containers being built are slots of a stack (`sp` the first free
// one): where the text starts, its length, where the element (a table's
// pair) ends, its sort key; `perm` holds the sorted order. Nothing is
// allocated per message.
let buf = new Uint8Array(0);
let dv = new DataView(buf.buffer);
let privateBuf = new Uint8Array(64 * 1024);
let privateDv = new DataView(privateBuf.buffer);
let slotStart = new Int32Array(1024);
let slotLength = new Int32Array(1024);
let slotEnd = new Int32Array(1024);
let slotKey = new Float64Array(1024);
let perm = new Int32Array(1024);
let sp = 0;
let p = 0;
/** `sortSlots`' keys of up to 32 slots, each times 32 plus its index. */
const PACKED = new Float64Array(32);

function reserveSlots(n: number): void {
  if (sp + n <= perm.length) return;
  let size = perm.length * 2;
  while (size < sp + n) size *= 2;
  const grow = <T extends Int32Array | Float64Array>(old: T, make: (n: number) => T): T => {
    const next = make(size);
    next.set(old.subarray(0, sp));
    return next;
  };
  slotStart = grow(slotStart, (n) => new Int32Array(n));
  slotLength = grow(slotLength, (n) => new Int32Array(n));
  slotEnd = grow(slotEnd, (n) => new Int32Array(n));
  slotKey = grow(slotKey, (n) => new Float64Array(n));
  perm = grow(perm, (n) => new Int32Array(n));
}

function varbyte(out: Uint8Array, at: number, v: number): number {
  while (v > 0x7f) {
    out[at++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  out[at++] = v;
  return at;
}

// As `generator_file.ts` draws them: u32 is floor(rnd() * 2^32), a count
// the high word then the low one.
const u32 = (rnd: Random) => Math.floor(rnd() * 4294967296);

/** The state of the source being drawn from, when it is a `seededRandom` one. */
let seed: SeedState | undefined;

/**
 * Draws `n` characters a–z into `buf` at `p`, as `randomText` draws them:
 * 97 + floor(rnd() * 26), where rnd() is a u32 / 2^32 (u * 26 / 2^32 is
 * exact in a double, as the original product is, and `| 0` is floor for a
 * number from 0 to 26).
 *
 * A seeded source is stepped inline (mulberry32, as `seededRandom` steps
 * it), its state in a local: random text is nearly all of mars.dat's draws,
 * and a call per character, or the state kept in an object field, costs
 * 3–5 times as much.
 */
function drawText(n: number, rnd: Random): void {
  const b = buf;
  let at = p;
  const end = at + n;
  p = end;
  const st = seed;
  if (st !== undefined) {
    let s = st.s | 0;
    while (at < end) {
      s = (s + 0x6d2b79f5) | 0;
      let t = Math.imul(s ^ (s >>> 15), s | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      b[at++] = 97 + ((((t ^ (t >>> 14)) >>> 0) * 26 / 4294967296) | 0);
    }
    st.s = s >>> 0;
  } else {
    while (at < end) b[at++] = 97 + Math.floor(rnd() * 26);
  }
}

/** Sort keys take a text's first 6 letters: 27^6 < 2^30, a small integer. */
const KEY_LETTERS = 6;
const KEY_SCALE: readonly number[] = Array.from(
  { length: KEY_LETTERS + 1 },
  (_, n) => 27 ** (KEY_LETTERS - n),
);

/**
 * A text's sort key: its first letters (1–26) as base-27 digits, padded,
 * so that keys order as the texts do (a prefix first); texts with equal
 * keys are compared by their bytes. Made apart from the draws: in their loop
 * it would lengthen each character's chain of dependent operations.
 */
function textKey(at: number, n: number): number {
  const b = buf;
  const m = n < KEY_LETTERS ? n : KEY_LETTERS;
  let key = 0;
  for (let k = 0; k < m; k++) key = key * 27 + b[at + k] - 96;
  return key * KEY_SCALE[m];
}

function write(plan: Plan, rnd: Random): void {
  const b = buf;
  switch (plan.mode) {
    case Mode.vector: {
      const kids = plan.kids;
      b[p] = Tag.vector;
      p = varbyte(b, p + 1, kids.length);
      for (let i = 0; i < kids.length; i++) write(kids[i], rnd);
      return;
    }
    case Mode.textSet:
      return textContainer(plan, false, rnd);
    case Mode.textKeyTable:
      return textContainer(plan, true, rnd);
    case Mode.viaData: {
      const bytes = encode(generateFromShape(plan.shape, rnd));
      b.set(bytes, p);
      p += bytes.length;
      return;
    }
  }
  switch (plan.tag) {
    case Tag.none:
      b[p++] = Tag.none;
      return;
    case Tag.boolean:
      b[p] = Tag.boolean;
      b[p + 1] = rnd() < 0.5 ? 1 : 0;
      p += 2;
      return;
    case Tag.count:
    case Tag.integer: {
      // integer: BigInt.asIntN(64, ...) of the same draws keeps all 64 bits.
      b[p] = plan.tag;
      const hi = u32(rnd);
      dv.setUint32(p + 1, hi);
      dv.setUint32(p + 5, u32(rnd));
      p += 9;
      return;
    }
    case Tag.timestamp: {
      // BigInt.asIntN(63, ...): the low 63 bits, bit 62 as the sign, so in
      // 64 bits the top bit repeats bit 62.
      b[p] = Tag.timestamp;
      const hi = u32(rnd);
      dv.setUint32(p + 1, ((hi & 0x7fffffff) | ((hi & 0x40000000) << 1)) >>> 0);
      dv.setUint32(p + 5, u32(rnd));
      p += 9;
      return;
    }
    case Tag.timespan:
      b[p] = Tag.timespan;
      dv.setUint32(p + 1, 0);
      dv.setUint32(p + 5, u32(rnd));
      p += 9;
      return;
    case Tag.real:
      // rnd() * 1e6 is 0 or at least 2^-32 * 1e6: never subnormal, infinite or NaN.
      b[p] = Tag.real;
      dv.setFloat64(p + 1, rnd() * 1e6);
      p += 9;
      return;
    case Tag.string:
    case Tag.enum:
      b[p] = plan.tag;
      p = varbyte(b, p + 1, plan.size);
      drawText(plan.size, rnd);
      return;
    case Tag.address:
      b[p++] = Tag.address;
      for (let i = 0; i < 16; i++) b[p++] = Math.floor(rnd() * 256);
      return;
    case Tag.subnet:
      // 10.x.0.0/16 as Broker keeps it: IPv4-mapped, prefix length 96 + 16.
      b[p] = Tag.subnet;
      b.fill(0, p + 1, p + 11);
      b[p + 11] = 0xff;
      b[p + 12] = 0xff;
      b[p + 13] = 10;
      b[p + 14] = u32(rnd) & 255;
      b[p + 15] = 0;
      b[p + 16] = 0;
      b[p + 17] = 112;
      p += 18;
      return;
    case Tag.port:
      b[p] = Tag.port;
      dv.setUint16(p + 1, u32(rnd) & 0xffff);
      b[p + 3] = 1; // tcp
      p += 4;
      return;
  }
}

/** Byte order of the texts of slots `a` and `b`: a–z, so Broker's order. */
function compareBytes(a: number, b: number): number {
  const bb = buf;
  const ca = slotStart[a], la = slotLength[a], cb = slotStart[b], lb = slotLength[b];
  const n = la < lb ? la : lb;
  for (let k = 0; k < n; k++) {
    const d = bb[ca + k] - bb[cb + k];
    if (d !== 0) return d;
  }
  return la - lb;
}

/** Slots in their texts' order: by key, then by bytes. */
function compareSlots(a: number, b: number): number {
  const d = slotKey[a] - slotKey[b];
  return d !== 0 ? d : compareBytes(a, b);
}

/**
 * Puts the `n` slots from `base` in `perm[base...]` in their texts' order,
 * stably (equal texts keep their draw order). Returns whether all keys
 * differ (so do the texts: there is nothing to drop).
 *
 * Up to 32 elements, each one's place is the number of keys below its own:
 * comparisons added up, not branched on (an insertion sort of random keys
 * mispredicts about every other comparison, and took twice as long). Each
 * key carries its index in its low 5 bits (`PACKED`, exact in a double), so
 * all differ and one comparison per pair places equal keys in draw order:
 * mars.dat's events took ~20.3 µs instead of ~21.4 with a loop that also
 * counted ties. Equal keys (repeated texts, or longer ones with the same
 * first letters), found next to each other afterwards, go to an insertion
 * sort that compares their bytes.
 */
function sortSlots(base: number, n: number): boolean {
  const order = perm, key = slotKey;
  if (n <= 32) {
    const packed = PACKED;
    for (let i = 0; i < n; i++) packed[i] = key[base + i] * 32 + i;
    for (let i = 0; i < n; i++) {
      const k = packed[i];
      let below = 0;
      for (let j = 0; j < n; j++) below += +(packed[j] < k);
      order[base + below] = base + i;
    }
    let ties = 0;
    for (let i = 1; i < n; i++) ties += +(key[order[base + i - 1]] === key[order[base + i]]);
    if (ties === 0) return true;
    for (let i = 0; i < n; i++) {
      const slot = base + i, k = key[slot];
      let j = slot;
      for (; j > base; j--) {
        const prev = order[j - 1], d = key[prev] - k;
        if (d < 0 || (d === 0 && compareBytes(prev, slot) <= 0)) break;
        order[j] = prev;
      }
      order[j] = slot;
    }
    return false;
  }
  const sorted = Array.from({ length: n }, (_, i) => base + i).sort(compareSlots);
  for (let i = 0; i < n; i++) order[base + i] = sorted[i];
  return false;
}

function same(a: number, b: number): boolean {
  return slotKey[a] === slotKey[b] && compareBytes(a, b) === 0;
}

/**
 * A set of text (`pairs` false) or a table keyed by text (`pairs` true,
 * kids key, value, key, value ...): each text's characters drawn in order
 * (bare, no tag or length), a table's value written right behind its key,
 * one `bound` past the start; then the elements written sorted, without
 * repeats (the first of equal keys stays), from the start.
 */
function textContainer(plan: Plan, pairs: boolean, rnd: Random): void {
  const kids = plan.kids;
  const step = pairs ? 2 : 1;
  const n = pairs ? kids.length >> 1 : kids.length, tag = kids[0].tag;
  reserveSlots(n);
  const base = sp;
  sp += n;
  const start = p;
  p += plan.bound;
  for (let i = 0; i < n; i++) {
    const slot = base + i;
    const len = kids[step * i].size, at = p;
    slotStart[slot] = at;
    slotLength[slot] = len;
    drawText(len, rnd);
    slotKey[slot] = textKey(at, len);
    if (pairs) write(kids[2 * i + 1], rnd); // may grow the slots: no aliases across it
    slotEnd[slot] = p;
  }
  const distinct = sortSlots(base, n);
  // Repeats are rare: count the distinct elements first, so the count's varbyte has its place.
  const order = perm;
  let kept = n;
  if (!distinct) {
    for (let i = 1; i < n; i++) if (same(order[base + i - 1], order[base + i])) kept--;
  }
  const b = buf, starts = slotStart, lengths = slotLength, ends = slotEnd;
  b[start] = pairs ? Tag.table : Tag.set;
  let q = varbyte(b, start + 1, kept);
  for (let i = 0; i < n; i++) {
    const slot = order[base + i];
    if (!distinct && i > 0 && same(order[base + i - 1], slot)) continue;
    const c = starts[slot], end = ends[slot];
    b[q++] = tag;
    q = varbyte(b, q, lengths[slot]);
    if (end - c <= 32) {
      // Four bytes a move through the DataView: mars.dat's 10-letter texts
      // made events ~0.8 µs faster than a move per byte.
      const d = dv;
      let k = c;
      for (; k + 4 <= end; k += 4, q += 4) d.setUint32(q, d.getUint32(k));
      for (; k < end; k++) b[q++] = b[k];
    } else {
      b.copyWithin(q, c, end);
      q += end - c;
    }
  }
  p = q;
  sp = base;
}

/**
 * Readies `shape` for `generateEncoded` (sorts out once how each part is
 * written, and how many bytes it may take), as the first `generateEncoded`
 * of it would: for callers that read a generator file before a clock starts.
 *
 * @example
 * ```ts
 * import { prepareEncoded } from "./generate_encoded.ts";
 * import { Tag } from "../data/types.ts";
 * prepareEncoded({ tag: Tag.vector, size: 1, children: [{ tag: Tag.count }] });
 * ```
 */
export function prepareEncoded(shape: Shape): void {
  if (!plans.has(shape)) plans.set(shape, planOf(shape));
}

/**
 * Encodes a random value of `shape` without building it: byte for byte
 * `encode(generateFromShape(shape, rnd))`, with the same draws from `rnd`.
 * The bytes are in the shared output slab, valid as long as `encode`'s are.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { generateEncoded } from "./generate_encoded.ts";
 * import { generateFromShape, readGeneratorFile, seededRandom } from "./generator_file.ts";
 * import { encode } from "../data/binary.ts";
 * const mars = new URL("../../fixtures/broker/recordings/mars.dat", import.meta.url);
 * const shape = readGeneratorFile(await Deno.readFile(mars)).entries[0].shape!;
 * deepEqual(
 *   generateEncoded(shape, seededRandom(7)),
 *   encode(generateFromShape(shape, seededRandom(7))),
 * );
 * ```
 */
export function generateEncoded(shape: Shape, rnd: Random): Uint8Array {
  const plan = begin(shape, rnd);
  if (plan.viaData) return copyToSlab(writePrivate(plan, rnd));
  const w = beginShared();
  w.reserve(plan.workspace);
  buf = w.buf;
  dv = w.dv;
  p = w.start;
  write(plan, rnd);
  w.pos = p;
  return finishShared(w);
}

/**
 * `generateEncoded` into a buffer of this module's that the next call
 * overwrites: for a caller that copies the bytes at once, as
 * `Endpoint.publishEncoded` does into its frame (unless a subscriber of the
 * endpoint's own messages keeps them). Nothing of the slab is used: in this
 * VM each first write to a fresh 4 KiB page cost a few microseconds, as
 * much as a tenth of making a mars.dat event, and the slab is fresh memory.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { generateEncoded, generateEncodedTransient } from "./generate_encoded.ts";
 * import { seededRandom } from "./generator_file.ts";
 * import { Tag } from "../data/types.ts";
 * const shape = { tag: Tag.set, size: 3, children: Array(3).fill({ tag: Tag.string, size: 4 }) };
 * const once = generateEncodedTransient(shape, seededRandom(1)).slice();
 * deepEqual(once, generateEncoded(shape, seededRandom(1)));
 * ```
 */
export function generateEncodedTransient(shape: Shape, rnd: Random): Uint8Array {
  return writePrivate(begin(shape, rnd), rnd);
}

/**
 * The payload of a generator file's entry made from `rnd`, as Broker's
 * cluster benchmark sends it: a data entry's value written straight into
 * its encoding (`generateEncodedTransient`), a store command encoded. The
 * bytes lie in a buffer that the next call of either kind overwrites: copy
 * them at once (publishing and sending a command do).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { generateEncoded, generateEntryTransient } from "./generate_encoded.ts";
 * import { readGeneratorFile, seededRandom } from "./generator_file.ts";
 * const mars = new URL("../../fixtures/broker/recordings/mars.dat", import.meta.url);
 * const entry = readGeneratorFile(await Deno.readFile(mars)).entries[0];
 * deepEqual(generateEntryTransient(entry, seededRandom(2)).slice(), generateEncoded(entry.shape!, seededRandom(2)));
 * ```
 */
export function generateEntryTransient(entry: GeneratorEntry, rnd: Random): Uint8Array {
  return entry.kind === "data"
    ? generateEncodedTransient(entry.shape!, rnd)
    : encodeCommandTransient(commandFromEntry(entry, rnd));
}

function begin(shape: Shape, rnd: Random): Plan {
  let plan = plans.get(shape);
  if (!plan) plans.set(shape, plan = planOf(shape));
  sp = 0;
  seed = seedStateOf(rnd);
  return plan;
}

function writePrivate(plan: Plan, rnd: Random): Uint8Array {
  if (privateBuf.length < plan.workspace) {
    let size = privateBuf.length * 2;
    while (size < plan.workspace) size *= 2;
    privateBuf = new Uint8Array(size);
    privateDv = new DataView(privateBuf.buffer);
  }
  buf = privateBuf;
  dv = privateDv;
  p = 0;
  write(plan, rnd);
  return buf.subarray(0, p);
}
