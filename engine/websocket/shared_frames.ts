/**
 * One frame per message from a peer, however many WebSocket clients get it.
 * The endpoint hands a peer's message to every matching subscriber in one
 * synchronous loop, with the same payload view each time (a fresh view per
 * message), so the frame built for the first client is handed to the rest
 * by identity: no per-client copy of the payload, no hash of its bytes.
 *
 * @module
 */
import { dataMessageFrameOf } from "./json_direct.ts";
import { PackedCopies } from "../packed_copies.ts";

/** What a client remembers: the last shared frame it took (its generation). */
export interface FrameTaker {
  /** Generation of the shared frame this client took last (0: none). */
  lastShared: number;
}

/**
 * The frame of the message being delivered now.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { SharedFrames } from "./shared_frames.ts";
 * const frames = new SharedFrames();
 * const payload = encode(count(1n));
 * const a = { lastShared: 0 }, b = { lastShared: 0 };
 * const fa = frames.frame(a, "/t", payload, false);
 * equal(frames.frame(b, "/t", payload, false), fa); // built once for both
 * equal(frames.frame(a, "/t", payload, false) === fa, false); // a second delivery to a: built again
 * ```
 */
export class SharedFrames {
  #payload: Uint8Array | undefined;
  #topic = "";
  #frame: Uint8Array = new Uint8Array(0);
  #own: Uint8Array | undefined;
  /**
   * 32 KiB slabs: small, since a queued copy keeps its slab alive, and a
   * client whose queued frames lie among other clients' keeps at most one
   * slab per frame (README, "Memory budget"); 16 KiB ones cost ~0.6 µs a
   * copy against ~0.4 µs (the slabs' allocation, before they were filled
   * again). 128 kept (4 MiB): a socket's write frees up to 1 MiB of copies
   * at once, and with 32 kept a one-client fan-out still took ~2,400 fresh
   * slabs for ~3,000 filled again (25–28 page faults per 1,000 frames,
   * against 4–22 with 128).
   */
  readonly #copies = new PackedCopies(32 * 1024, 128);
  #generation = 0;
  #clearing = false;

  /**
   * The frame of `payload` on `topic` (validated on arrival; `unsorted` as
   * `validateForLater` said), shared with the clients that took the same
   * delivery. A client that already took this frame gets a new one: then it
   * is a new delivery of the same view, whose bytes may have changed.
   */
  frame(taker: FrameTaker, topic: string, payload: Uint8Array, unsorted: boolean): Uint8Array {
    if (
      payload === this.#payload && topic === this.#topic && taker.lastShared !== this.#generation
    ) {
      taker.lastShared = this.#generation;
      return this.#frame;
    }
    this.#frame = dataMessageFrameOf(topic, payload, unsorted);
    this.#own = undefined;
    this.#payload = payload;
    this.#topic = topic;
    taker.lastShared = ++this.#generation;
    // The payload views the transport's read buffer: let go of it once the
    // delivery loop is over.
    if (!this.#clearing) {
      this.#clearing = true;
      queueMicrotask(() => {
        this.#payload = undefined;
        this.#frame = new Uint8Array(0);
        this.#own = undefined;
        this.#clearing = false;
      });
    }
    return this.#frame;
  }

  /**
   * A copy of `frame` apart from the slab, for a client whose frame must
   * wait in its queue (a queued view would keep the whole 1 MiB slab
   * alive): one copy for all the clients of this delivery, since frames are
   * never changed, instead of one each. Copies are packed in small slabs
   * that are filled again once every copy in them is released
   * (`PackedCopies`): each call holds its copy once, for one `release`.
   *
   * @example
   * ```ts
   * import { equal, notEqual } from "node:assert/strict";
   * import { count, encode } from "../data/mod.ts";
   * import { SharedFrames } from "./shared_frames.ts";
   * const frames = new SharedFrames();
   * const payload = encode(count(1n));
   * const f = frames.frame({ lastShared: 0 }, "/t", payload, false);
   * const own = frames.own(f);
   * notEqual(own.buffer, f.buffer);
   * equal(frames.own(f), own); // the same copy for the next client
   * frames.release(own);
   * frames.release(own); // both clients' sockets wrote it
   * ```
   */
  own(frame: Uint8Array): Uint8Array {
    if (frame !== this.#frame) return this.#copies.copy(frame);
    if (this.#own === undefined) return this.#own = this.#copies.copy(frame);
    this.#copies.hold(this.#own);
    return this.#own;
  }

  /** One client is done with a copy `own` gave it: its socket wrote it, or it was dropped. */
  release(copy: Uint8Array): void {
    this.#copies.release(copy);
  }
}
