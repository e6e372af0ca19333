/**
 * The JSON form of data messages as UTF-8 (or, as the server uses it, their
 * whole frames), made once however many WebSocket clients a message goes to. Every client has its own subscriber, which keeps
 * its own copy of the payload, so the copies are matched by content: topic
 * and payload bytes, compared in full (the hash only finds candidates).
 * Entries live until the end of the current event-loop turn, in which the
 * endpoint hands one batch to every subscriber and their sessions flush it:
 * nothing is kept across turns, so memory stays bounded by one batch.
 *
 * @module
 */
import { decode, decodeValidated } from "../data/mod.ts";
import { dataMessageToJson } from "../data/json.ts";
import type { PendingMessage } from "../subscriber.ts";

interface Entry {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly utf8: Uint8Array;
  readonly next: Entry | undefined;
}

const enc = new TextEncoder();

/** The UTF-8 JSON text of one data message, built from its encoded form. */
export function dataMessageUtf8(m: PendingMessage): Uint8Array {
  const data = m.unsorted === undefined
    ? decode(m.payload)
    : decodeValidated(m.payload, m.unsorted);
  return enc.encode(dataMessageToJson(m.topic, data));
}

/**
 * Memoises `dataMessageUtf8` for the rest of the current turn.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { JsonMessageCache } from "./json_cache.ts";
 * const cache = new JsonMessageCache();
 * const a = cache.utf8({ topic: "/t", payload: encode(count(1n)) });
 * const b = cache.utf8({ topic: "/t", payload: encode(count(1n)) }); // another copy
 * equal(a, b); // the same bytes object: built once
 * equal(new TextDecoder().decode(a), '{"type":"data-message","topic":"/t","@data-type":"count","data":1}');
 * ```
 */
export class JsonMessageCache {
  #entries = new Map<number, Entry>();
  /** Clears the entries at the end of the turn. */
  #timer?: ReturnType<typeof setTimeout>;
  readonly #build: (m: PendingMessage) => Uint8Array;

  /** `build` makes the bytes of a message (its JSON text by default; the server caches whole frames). */
  constructor(build: (m: PendingMessage) => Uint8Array = dataMessageUtf8) {
    this.#build = build;
  }

  /** The message's bytes as `build` makes them (its UTF-8 JSON by default); callers must not change them. */
  utf8(m: PendingMessage): Uint8Array {
    const p = m.payload, topic = m.topic;
    const h = hashBytes(p);
    const first = this.#entries.get(h);
    for (let e = first; e !== undefined; e = e.next) {
      if (e.topic === topic && sameBytes(e.payload, p)) return e.utf8;
    }
    const utf8 = this.#build(m);
    this.#entries.set(h, { topic, payload: p, utf8, next: first });
    this.#timer ??= setTimeout(() => this.clear(), 0);
    return utf8;
  }

  /**
   * Forgets every entry now, and the clearing due at the end of the turn: a
   * server that closes leaves no timer behind (a test that ended within a
   * millisecond of a local publish to several clients saw it as a leak).
   */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#entries.clear();
  }
}

function hashBytes(b: Uint8Array): number {
  let h = 0x811c9dc5 ^ b.length;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193);
  return h;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
