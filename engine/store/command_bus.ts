/**
 * The port through which the data stores talk to the network: what a store
 * needs from an endpoint, and nothing more. The endpoint implements it; the
 * stores depend on this file, not on the endpoint.
 *
 * @example
 * ```ts
 * import type { CommandBus } from "./command_bus.ts";
 * const quiet: Pick<CommandBus, "hasPeerSubscriber"> = { hasPeerSubscriber: () => false };
 * if (quiet.hasPeerSubscriber("kv/<$>/data/master")) throw new Error("no peers here");
 * ```
 *
 * @module
 */
import type { Data } from "../data/types.ts";
import type { EndpointId } from "../wire/endpoint_id.ts";

/**
 * A store command as it arrives (the payload is an encoded
 * `internal_command`). `receiver` and `payload` are views of the transport's
 * read buffer, valid only during the handler's call: the next read
 * overwrites them. A handler that keeps bytes (an early write held for its
 * turn, say) copies them. The message object itself is reused for the next
 * command.
 */
export interface CommandMessage {
  /** The direct peer it came from. */
  sender: EndpointId;
  /** Nil for broadcasts, else us (valid during the call only). */
  receiver: EndpointId;
  /** The store topic (`<name>/<$>/data/master` or `.../clone`). */
  topic: string;
  /** The encoded command (valid during the call only). */
  payload: Uint8Array;
}

/** What the data store layer needs from an endpoint: command messages in and out. */
export interface CommandBus {
  /** Our endpoint ID. */
  readonly idBytes: Uint8Array;
  /**
   * Receives the commands on `topic` (and announces the topic to peers, as
   * Broker's stores do). The message's bytes are valid during the call only.
   */
  onCommands(topic: string, handler: (m: CommandMessage) => void): () => void;
  /**
   * Sends a command: to every peer subscribed to `topic`, or only to
   * `receiver`. The payload is copied before the call returns.
   */
  sendCommand(topic: string, payload: Uint8Array, receiver?: EndpointId): void;
  /**
   * Sends, as `sendCommand` would, the command whose payload is `head`
   * followed by `src[from, to)` (say the seq, sender and receiver, then a
   * content the store keeps in its log), written straight into the frame
   * rather than assembled first. Optional: stores use `sendCommand` on a bus
   * without it.
   */
  sendCommandParts?(
    topic: string,
    head: Uint8Array,
    src: Uint8Array,
    from: number,
    to: number,
    receiver?: EndpointId,
  ): void;
  /**
   * Sends, as `sendCommandParts` would, the command to the one direct peer
   * `receiver`, and tells when its frame left this endpoint: the promise
   * resolves once the frame is written to that peer's socket, or never will
   * be (the connection closed). Undefined when nothing was queued (no such
   * peer, the endpoint stopping) or the peer's queue cannot tell. A master
   * uses it to know that the `ack_clone` it queued for a clone is still on
   * its way. Optional: stores use `sendCommandParts` on a bus without it.
   */
  sendCommandTracked?(
    topic: string,
    head: Uint8Array,
    src: Uint8Array,
    from: number,
    to: number,
    receiver: EndpointId,
  ): Promise<void> | undefined;
  /**
   * Bytes received of frames not yet complete from the peers that announced
   * `topic`: while it grows, a large message from one of them (a master's
   * snapshot, for a clone on the master's topic) is arriving. Optional: a
   * store on a bus without it sees nothing arriving.
   */
  incomingBytes?(topic: string): number;
  /** Whether a peer announced `topic` (e.g. a master's topic). */
  hasPeerSubscriber(topic: string): boolean;
  /** Whether one of this endpoint's own subscribers wants `topic` (e.g. store events). */
  hasLocalSubscriber(topic: string): boolean;
  /** Hands a value to this endpoint's own subscribers of `topic`, never to peers. */
  deliverLocal(topic: string, data: Data): void;
}
