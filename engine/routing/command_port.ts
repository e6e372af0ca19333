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
import type { CommandBus, CommandMessage } from "../store/command_bus.ts";
import type { EndpointId } from "../wire/endpoint_id.ts";
import type { OutgoingFrames } from "../wire/outgoing.ts";
import type { LocalSubscriptions } from "./local_subscriptions.ts";
import type { PrefixTrie } from "./trie.ts";

/** A peer a command can be written to (straight to its socket, as Broker's stores do). */
export interface CommandPeer {
  /** Only peered connections get commands. */
  readonly state: string;
  /** The socket's send queue. */
  readonly tcp: { send(frame: Uint8Array): void };
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
  readonly #handlers = new Map<string, Set<(m: CommandMessage) => void>>();
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
    let set = this.#handlers.get(topic);
    if (!set) this.#handlers.set(topic, set = new Set());
    set.add(handler);
    this.#local.addToFilter([topic]);
    return () => {
      set.delete(handler);
      if (set.size === 0) this.#handlers.delete(topic);
    };
  }

  /** Sends a command to every peer subscribed to `topic`, or only to `receiver`. */
  sendCommand(topic: string, payload: Uint8Array, receiver?: EndpointId): void {
    if (!this.#peers.running()) return;
    this.sent++;
    const frame = this.#frames.command(topic, payload, receiver);
    if (receiver) {
      this.#peers.peer(receiver)?.tcp.send(frame);
      return;
    }
    this.#peers.routes.forEachMatch(topic, (c) => {
      if (c.state === "peered") c.tcp.send(frame);
    });
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
    const m: CommandMessage = { sender, receiver, topic, payload };
    for (const h of handlers) h(m);
  }
}
