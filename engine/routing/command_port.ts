/**
 * The endpoint's side of the stores' port ({@linkcode CommandBus}): store
 * topics join the advertised filter, commands go out to the peers that
 * announced their topic (or to one peer), and commands the router hands us
 * reach the stores that listen on their topic.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { type CommandPeer, CommandPort } from "./command_port.ts";
 * import { LocalSubscriptions } from "./local_subscriptions.ts";
 * import { PrefixTrie } from "./trie.ts";
 * import { OutgoingFrames } from "../wire/outgoing.ts";
 * import { newEndpointId } from "../wire/endpoint_id.ts";
 * const id = newEndpointId();
 * const local = new LocalSubscriptions(() => {});
 * const port = new CommandPort(id, new OutgoingFrames(id, 16, () => {}), local, {
 *   routes: new PrefixTrie<CommandPeer>(),
 *   peer: () => undefined,
 *   running: () => true,
 * });
 * const got: string[] = [];
 * port.onCommands("kv/<$>/data/master", (m) => got.push(m.topic));
 * port.dispatch("kv/<$>/data/master", id, id, new Uint8Array([1]));
 * deepEqual(got, ["kv/<$>/data/master"]); // reached the store's handler
 * deepEqual(local.filter, ["kv/<$>/data/master"]); // and joined the advertised filter
 * ```
 *
 * @module
 */
import type { Data } from "../data/mod.ts";
import { beginShared, finishShared } from "../data/slab.ts";
import { ENVELOPE_RECEIVER_OFFSET } from "../wire/envelope.ts";
import { FRAME_PREFIX_SIZE } from "../wire/framing.ts";
import type { CommandBus, CommandMessage } from "../store/command_bus.ts";
import type { EndpointId } from "../wire/endpoint_id.ts";
import type { OutgoingFrames } from "../wire/outgoing.ts";
import type { LocalSubscriptions } from "./local_subscriptions.ts";
import type { PrefixTrie } from "./trie.ts";

/** A peer a command can be written to (straight to its socket, as Broker's stores do). */
export interface CommandPeer {
  /** Only peered connections get commands. */
  readonly state: string;
  /**
   * The socket's send queue; `whenWritten` (optional) resolves once a frame
   * given to `send` is written, dropped, or the connection closed.
   */
  readonly tcp: { send(frame: Uint8Array): void; whenWritten?(frame: Uint8Array): Promise<void> };
  /** Its frame reader: `bufferedBytes` counts what arrived of a frame not yet complete. */
  readonly reader?: { readonly bufferedBytes: number };
}

/** What the command port needs of the endpoint's peers. */
export interface CommandPeers<P extends CommandPeer> {
  /** The peers by the prefixes they subscribed to. */
  readonly routes: PrefixTrie<P>;
  /** The direct peer with endpoint ID `id`. */
  peer(id: EndpointId): P | undefined;
  /** False once the endpoint shuts down: commands are no longer sent. */
  running(): boolean;
}

/** Store commands in and out of one endpoint. */
export class CommandPort<P extends CommandPeer> implements CommandBus {
  /** Our endpoint ID. */
  readonly idBytes: Uint8Array;
  readonly #frames: OutgoingFrames;
  readonly #local: LocalSubscriptions;
  readonly #peers: CommandPeers<P>;
  /** Handlers by topic, as arrays: dispatch walks one per command. */
  readonly #handlers = new Map<string, ((m: CommandMessage) => void)[]>();
  /** What `dispatch` hands the handlers. */
  readonly #message: CommandMessage = { sender: EMPTY, receiver: EMPTY, topic: "", payload: EMPTY };
  /** Frame heads by topic (see `#frameHead`), and the last one asked for. */
  readonly #heads = new Map<string, Uint8Array>();
  #lastTopic: string | undefined;
  #lastHead: Uint8Array = EMPTY;
  /** Commands our stores sent so far (Broker counts them as processed commands). */
  sent = 0;

  /** A port for the endpoint `id`. */
  constructor(
    id: EndpointId,
    frames: OutgoingFrames,
    local: LocalSubscriptions,
    peers: CommandPeers<P>,
  ) {
    this.idBytes = id;
    this.#frames = frames;
    this.#local = local;
    this.#peers = peers;
  }

  /** Receives the commands on `topic` and announces the topic to peers, as Broker's stores do. */
  onCommands(topic: string, handler: (m: CommandMessage) => void): () => void {
    // Copied on change, so that a handler removed or added during a dispatch does not upset it.
    const had = this.#handlers.get(topic) ?? [];
    if (!had.includes(handler)) this.#handlers.set(topic, [...had, handler]);
    this.#local.addToFilter([topic]);
    let removed = false;
    return () => {
      if (removed) return;
      removed = true;
      const left = (this.#handlers.get(topic) ?? []).filter((h) => h !== handler);
      if (left.length === 0) this.#handlers.delete(topic);
      else this.#handlers.set(topic, left);
    };
  }

  /** Sends a command to every peer subscribed to `topic`, or only to `receiver`. */
  sendCommand(topic: string, payload: Uint8Array, receiver?: EndpointId): void {
    this.sendCommandParts(topic, payload, EMPTY, 0, 0, receiver);
  }

  /**
   * `sendCommand` of the payload `head` + `src[from, to)`, written once,
   * straight behind the envelope header (kept per topic) in the output slab:
   * a store's broadcast is one short copy loop and one view, where building
   * the payload, then copying it behind a fresh header, cost ~0.5 µs a
   * command (profiled).
   */
  sendCommandParts(
    topic: string,
    head: Uint8Array,
    src: Uint8Array,
    from: number,
    to: number,
    receiver?: EndpointId,
  ): void {
    if (!this.#peers.running()) return;
    const frame = this.#frame(topic, head, src, from, to, receiver);
    if (receiver) {
      this.#peers.peer(receiver)?.tcp.send(frame);
      return;
    }
    const hits = this.#peers.routes.hits(topic);
    for (let i = 0; i < hits.length; i++) {
      const c = hits[i];
      if (c.state === "peered") c.tcp.send(frame);
    }
  }

  /**
   * `sendCommandParts` to the direct peer `receiver`, telling when the frame
   * is written (see `CommandBus.sendCommandTracked`).
   */
  sendCommandTracked(
    topic: string,
    head: Uint8Array,
    src: Uint8Array,
    from: number,
    to: number,
    receiver: EndpointId,
  ): Promise<void> | undefined {
    if (!this.#peers.running()) return undefined;
    const peer = this.#peers.peer(receiver);
    if (!peer) return undefined;
    const frame = this.#frame(topic, head, src, from, to, receiver);
    peer.tcp.send(frame);
    return peer.tcp.whenWritten?.(frame);
  }

  /** The frame of a command (counted as sent): header, `head`, then `src[from, to)`. */
  #frame(
    topic: string,
    head: Uint8Array,
    src: Uint8Array,
    from: number,
    to: number,
    receiver: EndpointId | undefined,
  ): Uint8Array {
    this.sent++;
    const frameHead = this.#frameHead(topic);
    const hl = frameHead.length, pl = head.length, n = hl + pl + (to - from);
    const w = beginShared();
    w.reserve(n);
    const buf = w.buf, at = w.pos;
    buf.set(frameHead, at);
    const len = n - FRAME_PREFIX_SIZE;
    buf[at] = len >>> 24;
    buf[at + 1] = len >>> 16;
    buf[at + 2] = len >>> 8;
    buf[at + 3] = len;
    if (receiver) {
      const r = at + FRAME_PREFIX_SIZE + ENVELOPE_RECEIVER_OFFSET;
      for (let i = 0; i < 16; i++) buf[r + i] = receiver[i];
    }
    const p = at + hl;
    buf.set(head, p);
    if (to - from > 256) buf.set(src.subarray(from, to), p + pl);
    else for (let i = from, q = p + pl - from; i < to; i++) buf[q + i] = src[i];
    w.pos = at + n;
    return finishShared(w);
  }

  /**
   * The length prefix (to be filled), the envelope header with a nil
   * receiver, and the topic, as `OutgoingFrames.command` writes them.
   */
  #frameHead(topic: string): Uint8Array {
    if (topic === this.#lastTopic) return this.#lastHead;
    let h = this.#heads.get(topic);
    if (!h) {
      h = this.#frames.command(topic, EMPTY).slice();
      if (this.#heads.size >= 1024) this.#heads.clear();
      this.#heads.set(topic, h);
    }
    this.#lastTopic = topic;
    return this.#lastHead = h;
  }

  /**
   * Bytes received of frames not yet complete from the peered peers that
   * announced `topic` (the frames read so far are handled at once, so
   * between reads this is the frame being received, if any).
   */
  incomingBytes(topic: string): number {
    const hits = this.#peers.routes.hits(topic);
    let n = 0;
    for (let i = 0; i < hits.length; i++) {
      const c = hits[i];
      if (c.state === "peered") n += c.reader?.bufferedBytes ?? 0;
    }
    return n;
  }

  /** Whether a peer announced `topic` (e.g. a master's topic). */
  hasPeerSubscriber(topic: string): boolean {
    return this.#peers.routes.matches(topic);
  }

  /** Whether one of this endpoint's own subscribers wants `topic` (e.g. store events). */
  hasLocalSubscriber(topic: string): boolean {
    return this.#local.local.matches(topic);
  }

  /** Hands a value to this endpoint's own subscribers of `topic`, never to peers. */
  deliverLocal(topic: string, data: Data): void {
    this.#local.deliverPublished(topic, data);
  }

  /**
   * A command for us arrived from the direct peer `sender`: the stores on
   * its topic get it. `receiver` and `payload` lie in the transport's reused
   * read buffer and are handed over as they are: a handler copies what it
   * keeps past its call (most of a put is copied once, into the store).
   */
  dispatch(topic: string, sender: EndpointId, receiver: EndpointId, payload: Uint8Array): void {
    const handlers = this.#handlers.get(topic);
    if (!handlers) return;
    // One message object, refilled per command: its bytes are only lent for the call anyway.
    const m = this.#message;
    m.sender = sender;
    m.receiver = receiver;
    m.topic = topic;
    m.payload = payload;
    for (let i = 0; i < handlers.length; i++) handlers[i](m);
    m.payload = m.receiver = EMPTY; // the read buffer is not kept alive by it
  }
}

const EMPTY = new Uint8Array(0);
