/**
 * The soak's traffic: what publishers send and how subscribers count it.
 *
 * Every message names its publisher, a stream and a sequence number. A
 * stream is one incarnation of a publisher (a restarted process starts a new
 * stream at 0) or one quiet-phase burst. A subscriber records each delivery
 * in a {@link SeqTracker}, which finds duplicates (the same stream and number
 * twice) and gaps (numbers missing between the lowest and highest seen).
 *
 * Our publishers send Zeek events `Soak::tick(publisher, incarnation, seq)`
 * and `Soak::burst(publisher, burst, i)`; the C++ `broker-pipe` publisher can
 * only send lines, which it publishes as strings: `xp-tick INC SEQ` and
 * `xp-burst ID I`. Subscribers that print text (`broker-pipe`, our `broker
 * node -v --print-data`) are read back with {@link parseDeliveryLine}.
 *
 * @module
 */
import { count, type Data, Event, str } from "../mod.ts";

/** Topic prefix of all soak traffic; each publisher sends on `PREFIX + name`. */
export const SOAK_TOPIC_PREFIX = "zeek/event/soak/";

/** Topic prefix the WebSocket flood uses; no mesh subscriber listens to it. */
export const FLOOD_TOPIC_PREFIX = "soak-flood/";

/** The event our publishers send continuously. */
export const TICK_EVENT = "Soak::tick";

/** The event of the quiet-phase bursts. */
export const BURST_EVENT = "Soak::burst";

/** One delivery, as a subscriber sees it. */
export interface Delivery {
  /** The publisher's name (`n1`, `xp`, ...). */
  pub: string;
  /** Whether it belongs to a quiet-phase burst. */
  burst: boolean;
  /** The incarnation (ticks) or burst ID (bursts). */
  stream: number;
  /** Sequence number within the stream. */
  seq: number;
}

/** A tick of `pub`'s incarnation `inc`, as a Zeek event. */
export function tickMessage(pub: string, inc: number, seq: number): Data {
  return new Event(TICK_EVENT, [str(pub), count(BigInt(inc)), count(BigInt(seq))]).toData();
}

/** Message `i` of burst `id` from `pub`, as a Zeek event. */
export function burstMessage(pub: string, id: number, i: number): Data {
  return new Event(BURST_EVENT, [str(pub), count(BigInt(id)), count(BigInt(i))]).toData();
}

/**
 * The line the C++ publisher (`broker-pipe -m publish`) gets for a tick or a burst message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { cxxPublisherLine } from "./traffic.ts";
 * equal(cxxPublisherLine("burst", 3, 7), "xp-burst 3 7");
 * ```
 */
export function cxxPublisherLine(kind: "tick" | "burst", stream: number, seq: number): string {
  return `xp-${kind} ${stream} ${seq}`;
}

const CXX_LINE = /^xp-(tick|burst) (\d+) (\d+)$/;

/** Reads a delivered value: one of our events or a C++ publisher's string; else undefined. */
export function parseDelivery(data: Data): Delivery | undefined {
  if (data.type === "string") {
    const m = CXX_LINE.exec(data.value);
    return m ? { pub: "xp", burst: m[1] === "burst", stream: +m[2], seq: +m[3] } : undefined;
  }
  let ev: Event;
  try {
    ev = Event.from(data);
  } catch {
    return undefined;
  }
  if (ev.name !== TICK_EVENT && ev.name !== BURST_EVENT) return undefined;
  const [p, s, q] = ev.args;
  if (p?.type !== "string" || s?.type !== "count" || q?.type !== "count") return undefined;
  return {
    pub: p.value,
    burst: ev.name === BURST_EVENT,
    stream: Number(s.value),
    seq: Number(q.value),
  };
}

// Broker's text form of our events: `(1, 1, (Soak::tick, (n1, 0, 17)))`.
const EVENT_TEXT = /\(Soak::(tick|burst), \(([A-Za-z0-9_-]+), (\d+), (\d+)\)\)/;
// A C++ publisher's string, printed bare: `data(zeek/event/soak/xp, xp-tick 0 17)`.
const CXX_TEXT = /, xp-(tick|burst) (\d+) (\d+)\)$/;

/**
 * Reads a delivery from a printed line: `data(<topic>, <value>)` as
 * `broker-pipe -m subscribe` prints it, or the same after a time stamp as our
 * `broker node -v --print-data` does. Lines on other topics give undefined.
 */
export function parseDeliveryLine(line: string): Delivery | undefined {
  const at = line.indexOf(`data(${SOAK_TOPIC_PREFIX}`);
  if (at < 0) return undefined;
  const rest = line.slice(at);
  const e = EVENT_TEXT.exec(rest);
  if (e) return { pub: e[2], burst: e[1] === "burst", stream: +e[3], seq: +e[4] };
  const c = CXX_TEXT.exec(rest);
  if (c) return { pub: "xp", burst: c[1] === "burst", stream: +c[2], seq: +c[3] };
  return undefined;
}

/** A stream's key in tracker reports: `n1/3` (incarnation 3) or `n1/burst2`. */
export function streamKey(d: Pick<Delivery, "pub" | "burst" | "stream">): string {
  return `${d.pub}/${d.burst ? "burst" : ""}${d.stream}`;
}

/** What a tracker has counted. */
export interface TrackerStats {
  /** Deliveries recorded, duplicates included. */
  delivered: number;
  /** Deliveries of a (stream, seq) seen before. */
  duplicates: number;
  /** Numbers missing between the lowest and highest seen, over all tick streams. */
  gaps: number;
  /** Distinct messages per burst stream (`n1/burst2` -> 200). */
  bursts: Record<string, number>;
  /** The first few duplicates, as `stream#seq`, for the report. */
  dupSamples: string[];
}

/** Sequence numbers above this are not tracked (a corrupt value must not allocate gigabytes). */
const MAX_TRACKED_SEQ = 1 << 24;
const MAX_SAMPLES = 5;

/** One stream's record: a bitmap of the numbers seen. */
class Stream {
  bits = new Uint8Array(256);
  min = Infinity;
  max = -1;
  distinct = 0;

  /** Marks `seq`; false if it was already marked. */
  mark(seq: number): boolean {
    const byte = seq >>> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const bit = 1 << (seq & 7);
    if (this.bits[byte] & bit) return false;
    this.bits[byte] |= bit;
    this.distinct++;
    if (seq < this.min) this.min = seq;
    if (seq > this.max) this.max = seq;
    return true;
  }

  get gaps(): number {
    return this.max < 0 ? 0 : this.max - this.min + 1 - this.distinct;
  }
}

/**
 * Counts deliveries per stream and finds duplicates and gaps. Memory is a
 * bit per sequence number, so a run of minutes at hundreds of messages per
 * second costs kilobytes.
 *
 * @example
 * ```ts
 * import { SeqTracker } from "./traffic.ts";
 * const t = new SeqTracker();
 * t.record({ pub: "n1", burst: false, stream: 0, seq: 0 });
 * t.record({ pub: "n1", burst: false, stream: 0, seq: 2 });
 * t.record({ pub: "n1", burst: false, stream: 0, seq: 2 });
 * t.stats(); // delivered 3, duplicates 1, gaps 1
 * ```
 */
export class SeqTracker {
  readonly #streams = new Map<string, Stream>();
  #delivered = 0;
  #duplicates = 0;
  readonly #samples: string[] = [];

  /** Records one delivery; returns false for a duplicate (or an untrackable number). */
  record(d: Delivery): boolean {
    this.#delivered++;
    if (!Number.isSafeInteger(d.seq) || d.seq < 0 || d.seq > MAX_TRACKED_SEQ) return false;
    const key = streamKey(d);
    let s = this.#streams.get(key);
    if (!s) this.#streams.set(key, s = new Stream());
    if (s.mark(d.seq)) return true;
    this.#duplicates++;
    if (this.#samples.length < MAX_SAMPLES) this.#samples.push(`${key}#${d.seq}`);
    return false;
  }

  /** The counts so far. */
  stats(): TrackerStats {
    let gaps = 0;
    const bursts: Record<string, number> = {};
    for (const [key, s] of this.#streams) {
      if (key.includes("/burst")) bursts[key] = s.distinct;
      else gaps += s.gaps;
    }
    return {
      delivered: this.#delivered,
      duplicates: this.#duplicates,
      gaps,
      bursts,
      dupSamples: [...this.#samples],
    };
  }
}
