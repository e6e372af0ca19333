/**
 * Exactly-once flooding among our own endpoints, without changing what a C++
 * peer ever sees.
 *
 * Broker's envelopes do not name a message's origin (the sender field is the
 * last hop), so a cycle of peers circulates a broadcast forever. Between two
 * of *our* endpoints, a broadcast carries an origin tag in its receiver field
 * (nil in Broker's broadcasts): magic `DBRK`, the first 8 bytes of the
 * origin's endpoint ID, and a per-origin sequence number. Each endpoint
 * handles every (origin, sequence) once, so rings and meshes of our endpoints
 * deliver each message once. Frames to C++ peers always carry a nil receiver.
 *
 * Our endpoints recognise each other by their IDs alone, which the handshake
 * already carries, so nothing is ever sent that a C++ Broker would not send:
 * an ID we make (`newOwnEndpointId`) is a version-5 UUID like CAF's whose last
 * 6 bytes are a keyed hash of the first 10 (`isOwnEndpointId`). A peering is
 * tagged only when both IDs carry the mark, so both sides always agree.
 *
 * Failure modes: a C++ ID carries the mark by chance with probability 2^-48
 * (74 random bits hashed to 48); such a peer would get tagged broadcasts,
 * which it takes for unicasts to an unknown endpoint and drops. An endpoint
 * given an explicit unmarked ID (`Endpoint({ id })`) is treated as a C++ peer:
 * it gets plain Broker frames, and a cycle through it loops as in Broker.
 *
 * @module
 */
import { type EndpointId, newEndpointId } from "../wire/endpoint_id.ts";
import { ENVELOPE_RECEIVER_OFFSET } from "../wire/envelope.ts";

/** Bytes of an ID that carry entropy; the rest is the mark. */
const MARKED_PREFIX = 10;

/** FNV-1a over the first 10 bytes from a seed, finished with murmur3's avalanche. */
function markHash(id: Uint8Array, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < MARKED_PREFIX; i++) h = Math.imul(h ^ id[i], 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Arbitrary constants: only our own endpoints need to agree on them.
const SEED_A = 0x44425231; // "DBR1"
const SEED_B = 0x6f726967; // "orig"

function writeMark(id: Uint8Array): void {
  const a = markHash(id, SEED_A), b = markHash(id, SEED_B);
  id[10] = a >>> 24;
  id[11] = (a >>> 16) & 0xff;
  id[12] = (a >>> 8) & 0xff;
  id[13] = a & 0xff;
  id[14] = (b >>> 8) & 0xff;
  id[15] = b & 0xff;
}

/**
 * A fresh random endpoint ID that our endpoints recognise as one of theirs,
 * and that looks like any CAF UUID (version nibble 5, variant bits `10`).
 *
 * @example
 * ```ts
 * import { isOwnEndpointId, newOwnEndpointId } from "./origin_tag.ts";
 * const id = newOwnEndpointId();
 * if (!isOwnEndpointId(id) || id[6] >> 4 !== 5) throw new Error("unmarked");
 * ```
 */
export function newOwnEndpointId(): EndpointId {
  const id = newEndpointId();
  writeMark(id);
  return id;
}

/**
 * Whether an ID carries our mark (made by `newOwnEndpointId`).
 *
 * @example
 * ```ts
 * import { isOwnEndpointId } from "./origin_tag.ts";
 * const cpp = new Uint8Array(16).fill(0x11); // an ID from a C++ Broker
 * if (isOwnEndpointId(cpp)) throw new Error("a C++-style ID is not ours");
 * ```
 */
export function isOwnEndpointId(id: EndpointId): boolean {
  if (id.length !== 16) return false;
  // Checked once per peering: mark a copy and compare.
  const marked = id.slice();
  writeMark(marked);
  for (let i = MARKED_PREFIX; i < 16; i++) if (marked[i] !== id[i]) return false;
  return true;
}

const MAGIC = [0x44, 0x42, 0x52, 0x4b]; // "DBRK"

// The tag lives in the receiver field; wire/ owns where that field is.
const RECEIVER = ENVELOPE_RECEIVER_OFFSET;

/** An origin tag read from a receiver field. */
export interface OriginTag {
  /** First 8 bytes of the origin's endpoint ID, as two 32-bit words. */
  hi: number;
  /** Second of those two words. */
  lo: number;
  /** The origin's sequence number. */
  seq: number;
}

/**
 * Reads the origin tag from an envelope's receiver field (`at` is where the
 * envelope starts in `frame`), or undefined when the field is not a tag.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readOriginTag, writeOriginTag } from "./origin_tag.ts";
 * const env = new Uint8Array(40);
 * equal(readOriginTag(env, 0), undefined); // a nil receiver is no tag
 * writeOriginTag(env, 0, new Uint8Array(16).fill(7), 5);
 * equal(readOriginTag(env, 0)?.seq, 5);
 * ```
 */
export function readOriginTag(frame: Uint8Array, at: number): OriginTag | undefined {
  const r = at + RECEIVER;
  if (
    frame[r] !== MAGIC[0] || frame[r + 1] !== MAGIC[1] || frame[r + 2] !== MAGIC[2] ||
    frame[r + 3] !== MAGIC[3]
  ) return undefined;
  return { hi: word(frame, r + 4), lo: word(frame, r + 8), seq: word(frame, r + 12) };
}

/**
 * Like {@linkcode readOriginTag}, into a tag the caller reuses (no object
 * per message): true when the receiver field is a tag, and `into` holds it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readOriginTagInto, writeOriginWords } from "./origin_tag.ts";
 * const env = new Uint8Array(40), tag = { hi: 0, lo: 0, seq: 0 };
 * equal(readOriginTagInto(env, 0, tag), false); // a nil receiver is no tag
 * writeOriginWords(env, 0, 1, 2, 3);
 * equal(readOriginTagInto(env, 0, tag) && tag.seq, 3);
 * ```
 */
export function readOriginTagInto(frame: Uint8Array, at: number, into: OriginTag): boolean {
  const r = at + RECEIVER;
  if (
    frame[r] !== MAGIC[0] || frame[r + 1] !== MAGIC[1] || frame[r + 2] !== MAGIC[2] ||
    frame[r + 3] !== MAGIC[3]
  ) return false;
  into.hi = word(frame, r + 4);
  into.lo = word(frame, r + 8);
  into.seq = word(frame, r + 12);
  return true;
}

// Module-level rather than closures: these run once per tagged message.
function word(frame: Uint8Array, o: number): number {
  return ((frame[o] << 24) | (frame[o + 1] << 16) | (frame[o + 2] << 8) | frame[o + 3]) >>> 0;
}

function putWord(frame: Uint8Array, o: number, w: number): void {
  frame[o] = w >>> 24;
  frame[o + 1] = (w >>> 16) & 0xff;
  frame[o + 2] = (w >>> 8) & 0xff;
  frame[o + 3] = w & 0xff;
}

// A word of 2^30 or more is not one of V8's small integers: code optimised
// before the first such word (an endpoint ID drawn high) was thrown away by
// it, mid-peering. Both kinds pass through here before any is optimised, and
// often enough to be recorded: V8 gives a function its type feedback only
// after a few calls: one pass of each kind left it to the first peering's
// words, and when those were all small a later large one deoptimised both.
const scratch = new Uint8Array(4);
for (let i = 0; i < 64; i++) {
  for (const w of [1, 0xffffffff]) {
    putWord(scratch, 0, w);
    word(scratch, 0);
  }
}

/** Writes an origin tag into the receiver field of the envelope at `at`. */
export function writeOriginTag(
  frame: Uint8Array,
  at: number,
  origin: Uint8Array,
  seq: number,
): void {
  const r = at + RECEIVER;
  frame[r] = 0x44;
  frame[r + 1] = 0x42;
  frame[r + 2] = 0x52;
  frame[r + 3] = 0x4b;
  for (let i = 0; i < 8; i++) frame[r + 4 + i] = origin[i];
  frame[r + 12] = seq >>> 24;
  frame[r + 13] = (seq >>> 16) & 0xff;
  frame[r + 14] = (seq >>> 8) & 0xff;
  frame[r + 15] = seq & 0xff;
}

/** Writes a copied origin tag (as read by `readOriginTag`). */
export function copyOriginTag(frame: Uint8Array, at: number, tag: OriginTag): void {
  writeOriginWords(frame, at, tag.hi, tag.lo, tag.seq);
}

/**
 * Writes an origin tag from its three words, with no tag object to build
 * (our own broadcasts are tagged once per message).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readOriginTag, writeOriginWords } from "./origin_tag.ts";
 * const env = new Uint8Array(40);
 * writeOriginWords(env, 0, 1, 2, 3);
 * equal(readOriginTag(env, 0)?.seq, 3);
 * ```
 */
export function writeOriginWords(
  frame: Uint8Array,
  at: number,
  hi: number,
  lo: number,
  seq: number,
): void {
  const r = at + RECEIVER;
  frame[r] = MAGIC[0];
  frame[r + 1] = MAGIC[1];
  frame[r + 2] = MAGIC[2];
  frame[r + 3] = MAGIC[3];
  putWord(frame, r + 4, hi);
  putWord(frame, r + 8, lo);
  putWord(frame, r + 12, seq);
}

/** The window an origin starts with, in sequence numbers (a power of two). */
const FIRST_WINDOW = 4096;
/**
 * The widest window: 2^20 sequence numbers, 128 KiB per origin. A path may lag
 * another by what its queues and socket buffers hold (megabytes of small
 * messages); only a copy later than this counts as seen without being looked up.
 */
const MAX_WINDOW = 1 << 20;
/** Origins kept at most; past them (or `MAX_WINDOW_BYTES`) the least recently heard half go. */
const MAX_ORIGINS = 65537;
/** Bytes of windows kept in all: 512 origins at the widest. */
const MAX_WINDOW_BYTES = 64 << 20;

/** What one origin's sequence numbers look like from here. */
interface Seen {
  /** The newest sequence number seen. */
  max: number;
  /** The oldest one seen while the window still reaches back to it. */
  first: number;
  /** The window's width in sequence numbers (a power of two). */
  size: number;
  /** One bit per sequence number in the window, at `seq & (size - 1)`. */
  bits: Uint8Array;
  /** When it was last heard from, on the count of `SeenOrigins.#clock`. */
  heard: number;
}

/**
 * Remembers which sequence numbers of each origin were seen. Each origin's
 * window widens to cover every sequence number since its first one, up to
 * 2^20: a message another path brings thousands of sequence numbers late
 * (a path that carries only topics the faster one does not, while its
 * reader stalls) is news, not an old copy. Only one older than the widest
 * window counts as seen without being looked up (a copy that late is a loop).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { SeenOrigins } from "./origin_tag.ts";
 * const seen = new SeenOrigins();
 * equal(seen.firstTime({ hi: 1, lo: 2, seq: 9 }), true);
 * equal(seen.firstTime({ hi: 1, lo: 2, seq: 9 }), false); // a repeat
 * equal(seen.firstTime({ hi: 1, lo: 2, seq: 20_000 }), true);
 * equal(seen.firstTime({ hi: 1, lo: 2, seq: 10 }), true); // late, but never seen
 * ```
 */
export class SeenOrigins {
  // Bounded: a flood of invented origins costs the windows, not memory.
  readonly #origins = new Map<string, Seen>();
  #bytes = 0;
  #clock = 0;
  // Messages come in runs from one origin: the last one is checked without a key.
  #lastHi = -1;
  #lastLo = -1;
  #last?: Seen;

  /** True the first time a tag is offered, false for every repeat. */
  firstTime(tag: OriginTag): boolean {
    let o = tag.hi === this.#lastHi && tag.lo === this.#lastLo ? this.#last : undefined;
    if (!o) {
      const key = `${tag.hi}:${tag.lo}`;
      o = this.#origins.get(key);
      if (!o) {
        o = {
          max: tag.seq,
          first: tag.seq,
          size: FIRST_WINDOW,
          bits: new Uint8Array(0),
          heard: ++this.#clock,
        };
        this.#keep(key, o, FIRST_WINDOW);
        o.bits[(tag.seq & (FIRST_WINDOW - 1)) >> 3] |= 1 << (tag.seq & 7);
        return true;
      }
      this.#lastHi = tag.hi;
      this.#lastLo = tag.lo;
      this.#last = o;
    }
    o.heard = ++this.#clock;
    const seq = tag.seq;
    const ahead = (seq - o.max) | 0; // wrap-around safe distance
    if (ahead > 0) {
      // Widen first, so that nothing seen since the first is forgotten below 2^20.
      const span = ((seq - o.first) >>> 0) + 1;
      if (span > o.size && o.size < MAX_WINDOW) this.#widen(tag, o, span);
      clearAhead(o, ahead);
      o.max = seq;
    } else if (-ahead >= o.size) {
      // Older than the window. Below the widest, the window reaches back to
      // the first sequence number seen: this one is older, so never seen.
      if (o.size === MAX_WINDOW || -ahead >= MAX_WINDOW) return false;
      this.#widen(tag, o, 1 - ahead);
      o.first = seq;
    } else if (((o.first - seq) | 0) > 0) {
      o.first = seq;
    }
    // A mask, not `%`: a sequence number may be a double here (a word of 2^30
    // or more), and `%` of a double is a call to fmod.
    const slot = (seq & (o.size - 1)) >> 3, bit = 1 << (seq & 7);
    if (o.bits[slot] & bit) return false;
    o.bits[slot] |= bit;
    return true;
  }

  /** Gives `o` a window of at least `span` sequence numbers (at most 2^20), keeping what it saw. */
  #widen(tag: OriginTag, o: Seen, span: number): void {
    let size = o.size;
    while (size < span && size < MAX_WINDOW) size *= 2;
    const old = o.bits, oldSize = o.size, max = o.max;
    const bits = new Uint8Array(size >> 3);
    for (let byte = 0; byte < old.length; byte++) {
      const v = old[byte];
      if (v === 0) continue;
      for (let b = 0; b < 8; b++) {
        if (!(v & (1 << b))) continue;
        // The slot's sequence number: the one in (max - oldSize, max] that lands there.
        const s = (max - ((max - (byte * 8 + b)) & (oldSize - 1))) >>> 0;
        bits[(s & (size - 1)) >> 3] |= 1 << (s & 7);
      }
    }
    const key = `${tag.hi}:${tag.lo}`;
    if (this.#origins.get(key) === o) this.#bytes -= old.length;
    o.size = size;
    this.#keep(key, o, size, bits);
  }

  /** Keeps `o` (with `bits`, or new ones of `size` bits), first making room if over budget. */
  #keep(key: string, o: Seen, size: number, bits = new Uint8Array(size >> 3)): void {
    const known = this.#origins.get(key) === o;
    if (
      this.#bytes + bits.length > MAX_WINDOW_BYTES ||
      (!known && this.#origins.size >= MAX_ORIGINS)
    ) this.#forgetIdle(o);
    if (!known) this.#origins.set(key, o);
    o.bits = bits;
    this.#bytes += bits.length;
  }

  /**
   * Forgets the least recently heard origins (never `keep`) until half the
   * budget is free: those of endpoints gone (a restart takes a new ID), or
   * a flood of invented ones, go before those still publishing.
   */
  #forgetIdle(keep: Seen): void {
    const byAge = [...this.#origins].sort((x, y) => x[1].heard - y[1].heard);
    for (const [key, o] of byAge) {
      if (this.#bytes <= MAX_WINDOW_BYTES / 2 && this.#origins.size < MAX_ORIGINS / 2) break;
      if (o === keep) continue;
      this.#origins.delete(key);
      this.#bytes -= o.bits.length;
      if (o === this.#last) {
        this.#last = undefined;
        this.#lastHi = this.#lastLo = -1;
      }
    }
  }
}

/** Clears the slots of the `ahead` sequence numbers after `o.max`, which the window slides over. */
function clearAhead(o: Seen, ahead: number): void {
  const bits = o.bits, size = o.size;
  if (ahead >= size) {
    bits.fill(0);
    return;
  }
  let slot = (o.max + 1) & (size - 1), left = ahead;
  // Bit by bit up to a byte boundary, whole bytes, then bit by bit again; wrapping at the end.
  while (left > 0) {
    if ((slot & 7) === 0 && left >= 8) {
      const bytes = Math.min(left >> 3, (size - slot) >> 3);
      bits.fill(0, slot >> 3, (slot >> 3) + bytes);
      slot = (slot + bytes * 8) & (size - 1);
      left -= bytes * 8;
    } else {
      bits[slot >> 3] &= ~(1 << (slot & 7));
      slot = (slot + 1) & (size - 1);
      left--;
    }
  }
}
