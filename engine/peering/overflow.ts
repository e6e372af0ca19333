/**
 * Per-peer overflow and demand: how much a peer's send queue may hold, what
 * happens when it is full (Broker's `overflowPolicy`), and the demand a
 * publisher reads before producing more. Sans-I/O: it sees a peer's queue
 * only through {@linkcode PeerQueue}, and reports a disconnect through a
 * callback, so the endpoint keeps its status events and the transport its
 * sockets.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { PeerOverflow, type PeerQueue } from "./overflow.ts";
 * const sent: Uint8Array[] = [];
 * const tcp: PeerQueue = {
 *   get queuedFrames() { return sent.length; },
 *   get queuedBytes() { return sent.reduce((n, f) => n + f.length, 0); },
 *   send: (f) => void sent.push(f),
 *   dropOldest: () => sent.shift() !== undefined,
 *   close: () => {},
 *   below: () => Promise.resolve(),
 * };
 * const overflow = new PeerOverflow(
 *   { peerBufferSize: 2, peerBufferBytes: 1024, overflowPolicy: "drop_newest" },
 *   () => {},
 * );
 * for (let i = 0; i < 3; i++) overflow.send({ tcp }, new Uint8Array([i]));
 * deepEqual(sent, [new Uint8Array([0]), new Uint8Array([1])]); // the third was dropped
 * ```
 *
 * @module
 */

/** What overflow needs of a peer's connection: its outgoing queue. */
export interface PeerQueue {
  /** Frames queued and not yet written to the socket. */
  readonly queuedFrames: number;
  /** Bytes of those frames. */
  readonly queuedBytes: number;
  /** Queues a frame; `droppable` frames may later go to `dropOldest`. */
  send(bytes: Uint8Array, droppable?: boolean): void;
  /** Drops the oldest droppable frame; false when there is none. */
  dropOldest(): boolean;
  /** Closes the connection. */
  close(): void;
  /** Resolves once at most `frames` frames, of at most `bytes` bytes (default: any), are queued. */
  below(frames: number, bytes?: number): Promise<void>;
  /**
   * Resolves once `bytes`, a frame passed to `send`, is written, dropped,
   * or the connection closed. Without it a message larger than the bytes
   * bound counts against the bound while queued, as any other.
   */
  whenWritten?(bytes: Uint8Array): Promise<void>;
}

/** A peer as overflow sees it (the endpoint's connections have more). */
export interface OverflowPeer {
  /** The peer's outgoing queue. */
  readonly tcp: PeerQueue;
}

/** The peers that match a topic, as the endpoint's routing trie lists them. */
export interface MatchingPeers<C> {
  /** Calls `fn` once for each peer whose filter matches `topic`. */
  forEachMatch(topic: string, fn: (peer: C) => void): void;
}

/** The endpoint options overflow obeys (read on every use, so they are the endpoint's own). */
export interface OverflowLimits {
  /** Messages queued per peer before the policy applies. */
  peerBufferSize: number;
  /** Bytes queued per peer before the policy applies. */
  peerBufferBytes: number;
  /** What a full queue does with one more message. */
  overflowPolicy: "disconnect" | "drop_newest" | "drop_oldest";
}

/**
 * Control messages (pongs, routing updates, BYE) a full peer buffer still
 * takes, so a burst of data does not cost a peering its pongs; past it they
 * obey the overflow policy like data.
 */
export const CONTROL_RESERVE = 64;

/**
 * Bytes per peer that demand lets a publisher queue, unless 1,024 of its
 * messages take more (then those). The policy's limits still apply above
 * it. A publisher that fills a deep queue keeps the event loop busy while
 * the socket, which Deno hears is writable again only between turns that
 * poll I/O, stops taking bytes: to a counting receiver, event_1 with a
 * 64 MiB queue moved 1.7-2.2M msgs/s, with 4 MiB 3.2M.
 */
export const DEMAND_BYTES = 4 * 1024 * 1024;
const DEMAND_MESSAGES = 1024;

/**
 * What the overflow policy did so far: `drop_newest` and `drop_oldest`
 * count dropped messages, `disconnect` the times it cut a peer.
 */
export interface OverflowDrops {
  /** Messages dropped by `drop_newest`. */
  drop_newest: number;
  /** Messages dropped by `drop_oldest`. */
  drop_oldest: number;
  /** Times `disconnect` cut a peer. */
  disconnect: number;
}

/**
 * Applies the overflow policy to the peers' send queues and computes demand.
 * One per endpoint; it keeps no state of its own beyond the limits.
 */
export class PeerOverflow<C extends OverflowPeer = OverflowPeer> {
  /** Messages the policy dropped, and times it cut a peer, so far (plain fields, by policy). */
  readonly drops: OverflowDrops = { drop_newest: 0, drop_oldest: 0, disconnect: 0 };
  readonly #limits: Readonly<OverflowLimits>;
  readonly #onDisconnect: (peer: C, message: string) => void;
  /** The last data frame's size: what demand expects of the next while a queue is empty. */
  #lastSize = 0;
  /** Per queue, the size of the one queued message larger than the bytes bound, until written. */
  readonly #giant = new WeakMap<PeerQueue, number>();

  /**
   * `onDisconnect` is told (before the connection is closed) when the
   * `disconnect` policy drops a peer.
   */
  constructor(limits: Readonly<OverflowLimits>, onDisconnect: (peer: C, message: string) => void) {
    this.#limits = limits;
    this.#onDisconnect = onDisconnect;
  }

  /** Queues a data frame for `peer`, as droppable, unless the policy refuses it. */
  send(peer: C, frame: Uint8Array): void {
    this.#lastSize = frame.length;
    if (this.full(peer, frame.length, 0) && !this.makeRoom(peer, frame.length, 0)) return;
    const tcp = peer.tcp;
    tcp.send(frame, true);
    if (frame.length > this.#limits.peerBufferBytes && tcp.whenWritten) {
      this.#giant.set(tcp, frame.length);
      tcp.whenWritten(frame).then(() => {
        if (this.#giant.get(tcp) === frame.length) this.#giant.delete(tcp);
      });
    }
  }

  /**
   * Queues a control frame for `peer` (never droppable). A pong counts
   * against the buffer with {@linkcode CONTROL_RESERVE} to spare, and past
   * that obeys the policy (a peer that pings and never reads cannot make us
   * hold its pongs); routing updates and BYE pings, which only we trigger,
   * are always queued.
   */
  sendControl(peer: C, frame: Uint8Array, pong: boolean): void {
    const size = frame.length;
    if (
      pong && this.full(peer, size, CONTROL_RESERVE) &&
      !this.makeRoom(peer, size, CONTROL_RESERVE)
    ) return;
    peer.tcp.send(frame);
  }

  /**
   * Whether a peer's queue has no room for a message of `size` bytes
   * (`reserve`: extra messages allowed). Broker bounds messages alone; the
   * bytes bound ours besides. A message larger than the whole bytes bound
   * still goes while less than the bound is queued and no other such
   * message is (a 70 MB value published right behind another message cut
   * the peer, where Broker sends it); while it is queued it does not count
   * against the bound, so smaller ones still go while they fit (they met
   * the policy behind it). The queue holds at most the bound plus one such
   * message.
   */
  full(peer: C, size: number, reserve: number): boolean {
    const tcp = peer.tcp, limit = this.#limits.peerBufferBytes;
    if (tcp.queuedFrames >= this.#limits.peerBufferSize + reserve) return true;
    if (tcp.queuedFrames === 0) return false;
    const bytes = tcp.queuedBytes;
    // The usual case, on every message: it fits (a queued large one would make `bytes` exceed the bound).
    if (bytes + size <= limit) return false;
    const giant = this.#giant.get(tcp) ?? 0;
    const queued = Math.max(0, bytes - giant);
    if (size > limit) return giant > 0 || queued >= limit;
    return queued + size > limit;
  }

  /**
   * A full peer buffer meets the overflow policy: true when the message may
   * still be queued (`drop_oldest` made room), false when it must go.
   */
  makeRoom(peer: C, size: number, reserve: number): boolean {
    switch (this.#limits.overflowPolicy) {
      case "drop_newest":
        this.drops.drop_newest++;
        return false;
      case "drop_oldest":
        // Only data goes: control messages already queued are kept.
        while (this.full(peer, size, reserve)) {
          if (!peer.tcp.dropOldest()) {
            this.drops.drop_oldest++; // nothing droppable: the new one goes instead
            return false;
          }
          this.drops.drop_oldest++;
        }
        return true;
      default:
        this.drops.disconnect++;
        this.#onDisconnect(
          peer,
          `peer buffer overflow (${this.#limits.peerBufferSize} messages or ` +
            `${this.#limits.peerBufferBytes} bytes): disconnecting`,
        );
        peer.tcp.close();
        return false;
    }
  }

  /**
   * How many more messages on `topic` every matching peer can take before
   * its buffer is full: the demand a publisher should respect. Both limits
   * count, the bytes as {@linkcode DEMAND_BYTES} caps them: the bytes left
   * are taken in messages of the queued ones' average size, so a publisher
   * that respects demand is never cut for bytes with a large
   * `peerBufferSize` (10,000,000 messages of a 300-byte event are far more
   * than 64 MiB).
   */
  demand(peers: MatchingPeers<C>, topic: string): number {
    let min = Infinity;
    peers.forEachMatch(topic, (c) => {
      min = Math.min(min, this.#room(c.tcp));
    });
    return min === Infinity ? this.#limits.peerBufferSize : Math.max(0, min);
  }

  /**
   * The most `demand(peers, topic)` can be: the room of every matching
   * peer's queue once it is empty, for messages of the size demand now
   * expects (with none, `peerBufferSize`). Waiting for more than this would
   * be waiting forever (large messages, or a small `peerBufferSize`).
   */
  demandLimit(peers: MatchingPeers<C>, topic: string): number {
    let min = Infinity;
    peers.forEachMatch(topic, (c) => {
      min = Math.min(min, this.#roomIn(this.#messageSize(c.tcp), 0, 0));
    });
    return min === Infinity ? this.#limits.peerBufferSize : min;
  }

  /**
   * Messages one peer's queue has room for (see `demand`). With nothing
   * queued (bytes may still be in flight), the size is the last data
   * frame's, and one message is always welcome: it goes, however large.
   */
  #room(tcp: PeerQueue): number {
    return this.#roomIn(this.#messageSize(tcp), tcp.queuedFrames, tcp.queuedBytes);
  }

  /** `#room` of a queue holding `frames` frames of `bytes` bytes, for messages of `size` bytes. */
  #roomIn(size: number, frames: number, bytes: number): number {
    const room = this.#limits.peerBufferSize - frames;
    if (size === 0) return room;
    const fit = Math.floor((this.#demandBytes(size) - bytes) / size);
    return Math.min(room, frames > 0 ? fit : Math.max(1, fit));
  }

  /** The size demand expects of a peer's next messages: the queued ones' average, or the last one's. */
  #messageSize(tcp: PeerQueue): number {
    return tcp.queuedFrames > 0 ? tcp.queuedBytes / tcp.queuedFrames : this.#lastSize;
  }

  /** The bytes demand lets a queue of messages of `size` bytes hold. */
  #demandBytes(size: number): number {
    return Math.min(this.#limits.peerBufferBytes, Math.max(DEMAND_BYTES, DEMAND_MESSAGES * size));
  }

  /**
   * Resolves when every peer matching `topic` has room in its buffer again
   * (its queue fell to half its messages and half the bytes demand allows,
   * so the producer refills while the socket drains).
   */
  async ready(peers: MatchingPeers<C>, topic: string): Promise<void> {
    const lowFrames = this.#limits.peerBufferSize >> 1;
    while (this.demand(peers, topic) <= 0) {
      let slow: PeerQueue | undefined;
      peers.forEachMatch(topic, (c) => {
        if (!slow && this.#room(c.tcp) <= 0) slow = c.tcp;
      });
      if (!slow) return;
      const lowBytes = Math.floor(this.#demandBytes(this.#messageSize(slow)) / 2);
      // At least one frame must go: frames larger than half the bytes leave no room until then.
      await slow.below(Math.min(lowFrames, slow.queuedFrames - 1), lowBytes);
    }
  }
}
