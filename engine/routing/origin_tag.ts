/**
 * Exactly-once flooding among our own endpoints, without changing what a C++
 * peer ever sees.
 *
 * Broker's envelopes do not name a message's origin (the sender field is the
 * last hop), so a cycle of peers circulates a broadcast forever. Between two
 * of *our* endpoints, which recognise each other by a ping (`OURS_HELLO`) that
 * a C++ peer only echoes, a broadcast carries an origin tag in its receiver
 * field (nil in Broker's broadcasts): magic `DBRK`, the first 8 bytes of the
 * origin's endpoint ID, and a per-origin sequence number. Each endpoint
 * handles every (origin, sequence) once, so rings and meshes of our endpoints
 * deliver each message once. Frames to C++ peers always carry a nil receiver.
 *
 * @module
 */

/** Ping payload by which our endpoints recognise each other (C++ just echoes it as a pong). */
export const OURS_HELLO: Uint8Array = new TextEncoder().encode("deno-broker/origin-tags/1");

const MAGIC = [0x44, 0x42, 0x52, 0x4b]; // "DBRK"

/** Offset of the receiver field in an envelope (no length prefix). */
const RECEIVER = 16;

/** Whether a payload is our hello ping. */
export function isOursHello(payload: Uint8Array): boolean {
  if (payload.length !== OURS_HELLO.length) return false;
  for (let i = 0; i < payload.length; i++) if (payload[i] !== OURS_HELLO[i]) return false;
  return true;
}

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
 * import { readOriginTag, writeOriginTag } from "./origin_tag.ts";
 * const env = new Uint8Array(40);
 * writeOriginTag(env, 0, new Uint8Array(16).fill(7), 5);
 * console.log(readOriginTag(env, 0)?.seq); // 5
 * ```
 */
export function readOriginTag(frame: Uint8Array, at: number): OriginTag | undefined {
  const r = at + RECEIVER;
  if (
    frame[r] !== MAGIC[0] || frame[r + 1] !== MAGIC[1] || frame[r + 2] !== MAGIC[2] ||
    frame[r + 3] !== MAGIC[3]
  ) return undefined;
  const word = (o: number) =>
    ((frame[o] << 24) | (frame[o + 1] << 16) | (frame[o + 2] << 8) | frame[o + 3]) >>> 0;
  return { hi: word(r + 4), lo: word(r + 8), seq: word(r + 12) };
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
  const r = at + RECEIVER;
  frame.set(MAGIC, r);
  const put = (o: number, w: number) => {
    frame[o] = w >>> 24;
    frame[o + 1] = (w >>> 16) & 0xff;
    frame[o + 2] = (w >>> 8) & 0xff;
    frame[o + 3] = w & 0xff;
  };
  put(r + 4, tag.hi);
  put(r + 8, tag.lo);
  put(r + 12, tag.seq);
}

/** Clears the receiver field (a Broker broadcast). */
export function clearReceiver(frame: Uint8Array, at: number): void {
  frame.fill(0, at + RECEIVER, at + RECEIVER + 16);
}

const WINDOW = 4096;

/**
 * Remembers which sequence numbers of each origin were seen, in a sliding
 * window of 4096 per origin (older ones count as seen: a copy that late is a
 * loop, not news).
 *
 * @example
 * ```ts
 * import { SeenOrigins } from "./origin_tag.ts";
 * const seen = new SeenOrigins();
 * console.log(seen.firstTime({ hi: 1, lo: 2, seq: 9 }), seen.firstTime({ hi: 1, lo: 2, seq: 9 })); // true false
 * ```
 */
export class SeenOrigins {
  #origins = new Map<string, { max: number; bits: Uint8Array }>();
  // Messages come in runs from one origin: the last one is checked without a key.
  #lastHi = -1;
  #lastLo = -1;
  #last?: { max: number; bits: Uint8Array };

  /** True the first time a tag is offered, false for every repeat. */
  firstTime(tag: OriginTag): boolean {
    let o = tag.hi === this.#lastHi && tag.lo === this.#lastLo ? this.#last : undefined;
    if (!o) {
      o = this.#origins.get(`${tag.hi}:${tag.lo}`);
      if (o) {
        this.#lastHi = tag.hi;
        this.#lastLo = tag.lo;
        this.#last = o;
      }
    }
    if (!o) {
      if (this.#origins.size > 65536) this.#origins.clear();
      o = { max: tag.seq, bits: new Uint8Array(WINDOW / 8) };
      this.#origins.set(`${tag.hi}:${tag.lo}`, o);
      o.bits[(tag.seq % WINDOW) >> 3] |= 1 << (tag.seq & 7);
      return true;
    }
    const ahead = (tag.seq - o.max) | 0; // wrap-around safe distance
    if (ahead > 0) {
      // Slide the window: clear the slots the new maximum passes over.
      const clear = Math.min(ahead, WINDOW);
      for (let i = 1; i <= clear; i++) {
        const s = (o.max + i) >>> 0;
        o.bits[(s % WINDOW) >> 3] &= ~(1 << (s & 7));
      }
      o.max = tag.seq;
    } else if (-ahead >= WINDOW) {
      return false;
    }
    const slot = (tag.seq % WINDOW) >> 3, bit = 1 << (tag.seq & 7);
    if (o.bits[slot] & bit) return false;
    o.bits[slot] |= bit;
    return true;
  }
}
