/**
 * Forwarding decisions, sans I/O: for a data or command message that
 * arrived from a peer or that we publish, which peers get it (by their
 * filters), tagged or plain (origin tags among our own endpoints, Broker's
 * nil receiver for C++ peers), whether it is ours to deliver locally or to
 * hand to a store, and when to drop it. It sends through its host's ports;
 * it owns no socket and no timer.
 *
 * @example
 * ```ts
 * import { Router, type RouterHost } from "./router.ts";
 * import { PrefixTrie } from "./trie.ts";
 * import { OutgoingFrames } from "../wire/outgoing.ts";
 * import { newEndpointId } from "../wire/endpoint_id.ts";
 * import { count, encode } from "../data/mod.ts";
 * type Peer = { name: string; state: "peered"; ours: boolean };
 * const id = newEndpointId();
 * const routes = new PrefixTrie<Peer>();
 * const sent: string[] = [];
 * const host: RouterHost<Peer> = {
 *   routes,
 *   peer: () => undefined,
 *   send: (to) => void sent.push(to.name),
 *   deliver: () => {},
 *   command: () => {},
 *   dropped: () => {},
 * };
 * const frames = new OutgoingFrames(id, 16, () => {});
 * const router = new Router(host, { id, frames, disableForwarding: false, decode: {} });
 * routes.add("/a", { name: "cpp", state: "peered", ours: false });
 * routes.add("/b", { name: "other", state: "peered", ours: false });
 * router.broadcast("/a/x", frames.data(frames.dataHeader("/a/x"), encode(count(1n))));
 * if (sent.join() !== "cpp") throw new Error("only the peer whose filter matches");
 * ```
 *
 * @module
 */
import { copyToSlab, type DecodeOptions, validateForLater } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { decodeCommand } from "../store/commands.ts";
import { stateRepeatsKey } from "../store/memory_backend.ts";
import { ENVELOPE_RECEIVER_OFFSET } from "../wire/envelope.ts";
import {
  ENDPOINT_ID_SIZE,
  type EndpointId,
  EnvelopeType,
  FRAME_PREFIX_SIZE,
  hasLocalSender,
  NIL_ENDPOINT_ID,
} from "../wire/mod.ts";
import type { OutgoingFrames } from "../wire/outgoing.ts";
import { isInternalTopic } from "./filter.ts";
import {
  copyOriginTag,
  type OriginTag,
  readOriginTagInto,
  SeenOrigins,
  writeOriginWords,
} from "./origin_tag.ts";
import type { PrefixTrie } from "./trie.ts";

/** A peer as the router sees it. */
export interface RoutedPeer {
  /** Only peered connections get messages. */
  readonly state: string;
  /** Whether it is one of our endpoints (broadcasts to it carry origin tags). */
  readonly ours?: boolean;
}

/** The router's ports: where its decisions go. */
export interface RouterHost<P extends RoutedPeer> {
  /** The peers by the prefixes they subscribed to. */
  readonly routes: PrefixTrie<P>;
  /** The direct peer with endpoint ID `id`. */
  peer(id: EndpointId): P | undefined;
  /** Queues a framed data or command message for a peer (the overflow policy applies). */
  send(to: P, frame: Uint8Array): void;
  /**
   * Hands a received data message (validated) to the local subscribers; a
   * promise when one of them asks the sender to wait. `frame` is its
   * envelope (`payload` is its tail), for a consumer that passes the whole
   * message on (a gateway's other side); like `payload`, it lies in the
   * transport's reused read buffer and is valid only during the call.
   */
  deliver(
    topic: string,
    payload: Uint8Array,
    unsorted: boolean,
    frame: Uint8Array,
  ): void | Promise<void>;
  /** Hands a command addressed to us (or broadcast) to the local stores; `receiver` is nil or our ID. */
  command(
    topic: string,
    sender: P,
    receiver: EndpointId,
    payload: Uint8Array,
  ): void;
  /** A data message from `from` was dropped (its payload does not decode, or is over budget). */
  dropped(from: P, error: BrokerError): void;
  /**
   * With `RouterOptions.lane` only: a message from our own ID arrived from
   * `from` and was dropped (the twin endpoint's tagged broadcast, or a frame
   * whose sender is our ID), so another path joins the twin's network to ours.
   */
  ownTraffic?(from: P, topic: string, why: "twin_broadcast" | "own_sender"): void;
}

/** How a router routes. */
export interface RouterOptions {
  /** Our endpoint ID. */
  readonly id: EndpointId;
  /** Builds the frames we send. */
  readonly frames: OutgoingFrames;
  /** Broker's `disable-forwarding`: never relay other endpoints' messages. */
  readonly disableForwarding: boolean;
  /** The budget a received data payload must fit. */
  readonly decode: DecodeOptions;
  /**
   * For two endpoints sharing one ID (a gateway's two sides): this one's
   * lane, 0 or 1, the twin's the other. Our broadcast sequence numbers are
   * then `lane` modulo 2, so an own-origin tag of the other lane is the
   * twin's broadcast; it and any frame whose sender is our ID are dropped
   * and reported to `RouterHost.ownTraffic`. Absent: sequence numbers count
   * by one and our own origin coming back is dropped silently (a cycle).
   */
  readonly lane?: 0 | 1;
}

/**
 * Messages processed per type, as Broker's `broker_processed_messages_total`
 * counts them: every message that passes the endpoint, received or our own.
 * Plain fields, incremented in place on the hot paths.
 */
export class ProcessedMessages {
  /** Data messages received. */
  data = 0;
  /** Data messages this endpoint published. */
  published = 0;
  /** Store commands. */
  command = 0;
  /** Routing updates (filters). */
  routingUpdate = 0;
  /** Pings. */
  ping = 0;
  /** Pongs. */
  pong = 0;
}

/** Routes the data and command messages of one endpoint. */
export class Router<P extends RoutedPeer> {
  /** Messages processed per type (the endpoint and its connections count here). */
  readonly processed: ProcessedMessages = new ProcessedMessages();
  readonly #host: RouterHost<P>;
  readonly #id: EndpointId;
  readonly #frames: OutgoingFrames;
  readonly #disableForwarding: boolean;
  readonly #decode: DecodeOptions;
  readonly #lane?: 0 | 1;
  readonly #seen = new SeenOrigins();
  /**
   * The origin our tags name, as two words: drawn for this router, so an
   * endpoint started again with the ID it had (its sequence numbers begin
   * again) is not taken for the earlier one; for twins (`lane`), their
   * shared ID's first 8 bytes, so each knows the other's broadcasts.
   */
  readonly #originHi: number;
  readonly #originLo: number;
  /**
   * Filled in per tagged message. Starts with words too large for V8's small
   * integers (2^30 or more), as three in four tags' words are: begun with
   * zeros, the first peer with such a word changed the object's layout and
   * threw away the code V8 had optimised for the old one.
   */
  readonly #tag: OriginTag = { hi: 0xffffffff, lo: 0xffffffff, seq: 0xffffffff };
  /** Sequence number of the broadcasts we tag as their origin. */
  #seq = 0;

  /** A router sending through `host`. */
  constructor(host: RouterHost<P>, options: RouterOptions) {
    this.#host = host;
    this.#id = options.id;
    this.#frames = options.frames;
    this.#disableForwarding = options.disableForwarding;
    this.#decode = options.decode;
    this.#lane = options.lane;
    if (options.lane !== undefined) this.#seq = options.lane;
    const id = options.lane === undefined ? crypto.getRandomValues(new Uint8Array(8)) : options.id;
    this.#originHi = ((id[0] << 24) | (id[1] << 16) | (id[2] << 8) | id[3]) >>> 0;
    this.#originLo = ((id[4] << 24) | (id[5] << 16) | (id[6] << 8) | id[7]) >>> 0;
  }

  /**
   * Routes a data or command message received from `from` (`frame` is the
   * envelope without its length prefix, lying in the transport's reused read
   * buffer): delivers it here if it is ours and forwards it to the peers that
   * want it. Returns a promise when a local subscriber asks us to wait. The
   * receiver is read in place: a view of it is made only for a message to
   * another peer.
   */
  route(
    from: P & { readonly peerId?: EndpointId },
    frame: Uint8Array,
    topic: string,
    payload: Uint8Array,
    type: EnvelopeType,
  ): void | Promise<void> {
    if (type === EnvelopeType.data) this.processed.data++;
    else this.processed.command++;
    if (isInternalTopic(topic)) return;
    // One reused tag: it is read, checked and copied within this call, never kept.
    const tag = from.ours && readOriginTagInto(frame, 0, this.#tag) ? this.#tag : undefined;
    if (tag) {
      // A tagged broadcast among our endpoints: handle each (origin, seq) once.
      if (tag.hi === this.#originHi && tag.lo === this.#originLo) {
        if (this.#lane !== undefined && (tag.seq & 1) !== this.#lane) {
          this.#host.ownTraffic?.(from, topic, "twin_broadcast");
        }
        return;
      }
      if (!this.#seen.firstTime(tag)) return;
    } else if (this.#lane !== undefined && idAt(frame, 0, this.#id)) {
      this.#host.ownTraffic?.(from, topic, "own_sender");
      return;
    }
    const broadcast = tag !== undefined || idAt(frame, RECEIVER, NIL_ENDPOINT_ID);
    const toUs = broadcast || idAt(frame, RECEIVER, this.#id);
    let unsorted = false;
    if (type === EnvelopeType.data) {
      try {
        unsorted = validateForLater(payload, this.#decode);
      } catch (e) {
        // Broker drops a data message whose payload does not parse, and keeps the peering.
        this.#host.dropped(
          from,
          new BrokerError(
            e instanceof BrokerError ? e.code : ErrorCode.deserialization_failed,
            `dropped a data message on ${topic}: ${(e as Error).message}`,
          ),
        );
        return;
      }
    }
    if (!this.#disableForwarding) {
      if (broadcast) {
        // A command is relayed only if it decodes (checked once, and only if relayed).
        this.#fanOut(topic, frame, from, tag, type === EnvelopeType.command ? payload : undefined);
      } else if (!toUs) {
        const to = this.#host.peer(receiverOf(frame));
        if (
          to && to !== from && to.state === "peered" &&
          (type !== EnvelopeType.command || isCommand(payload))
        ) this.#host.send(to, this.#frames.forward(frame));
      }
    }
    if (!toUs) return;
    if (type === EnvelopeType.command) {
      // Addressed to us, so the receiver is nil or our ID: no view of it per command.
      this.#host.command(topic, from, broadcast ? NIL_ENDPOINT_ID : this.#id, payload);
      return;
    }
    // Broker counts a message with a nil or our own sender as local: local
    // subscribers get it only when it is addressed to us (spec §14.5).
    if (!hasLocalSender(frame, this.#id) || idAt(frame, RECEIVER, this.#id)) {
      return this.#host.deliver(topic, payload, unsorted, frame);
    }
  }

  /**
   * Sends a framed broadcast of ours to every matching peer; our endpoints
   * get it with our origin tag. The frame may be changed in place.
   */
  broadcast(topic: string, frame: Uint8Array): void {
    this.#fanOut(topic, frame, undefined, undefined, undefined);
  }

  /**
   * One broadcast to every peer matching `topic` but `from`: one tagged
   * copy for our endpoints (tagged with `tag`, or with us as the origin when
   * it enters our endpoints here) and one plain copy for C++ peers (Broker's
   * broadcast: a nil receiver, never our tag). A received frame (`from`
   * set) is copied with us as the sender; our own is sent as it is, and
   * copied only when both kinds of peer want it. `command`: the payload of
   * a command, relayed only if it decodes.
   */
  #fanOut(
    topic: string,
    frame: Uint8Array,
    from: P | undefined,
    tag: OriginTag | undefined,
    command: Uint8Array | undefined,
  ): void {
    const forwarded = from !== undefined;
    let tagged: Uint8Array | undefined, plain: Uint8Array | undefined;
    let relayable: boolean | undefined = command === undefined ? true : undefined;
    let plainToo = false;
    // The trie's array, looped over in place: closures per message cost more than the loop.
    const peers = this.#host.routes.hits(topic);
    if (!forwarded) {
      for (let i = 0; i < peers.length; i++) if (!peers[i].ours) plainToo = true;
    }
    for (let i = 0; i < peers.length; i++) {
      const to = peers[i];
      if (to === from || to.state !== "peered") continue;
      if (!(relayable ??= isCommand(command!))) continue;
      if (to.ours) {
        if (!tagged) {
          tagged = forwarded ? this.#frames.forward(frame) : plainToo ? copyToSlab(frame) : frame;
          // A broadcast entering our endpoints here gets us as its origin (no tag object per message).
          if (tag) copyOriginTag(tagged, FRAME_PREFIX_SIZE, tag);
          else {
            writeOriginWords(
              tagged,
              FRAME_PREFIX_SIZE,
              this.#originHi,
              this.#originLo,
              this.#nextSeq(),
            );
          }
        }
        this.#host.send(to, tagged);
      } else {
        plain ??= forwarded ? this.#frames.forward(frame, NIL_ENDPOINT_ID) : frame;
        this.#host.send(to, plain);
      }
    }
  }

  #nextSeq(): number {
    return this.#seq = (this.#seq + (this.#lane === undefined ? 1 : 2)) >>> 0;
  }
}

/** Where an envelope's receiver begins. */
const RECEIVER = ENVELOPE_RECEIVER_OFFSET;

/** Whether the 16 bytes of `frame` at `at` are `id` (at 0 the sender, at `RECEIVER` the receiver). */
function idAt(frame: Uint8Array, at: number, id: EndpointId): boolean {
  for (let i = 0; i < ENDPOINT_ID_SIZE; i++) if (frame[at + i] !== id[i]) return false;
  return true;
}

/** An envelope's receiver, as a view. */
function receiverOf(frame: Uint8Array): EndpointId {
  return frame.subarray(RECEIVER, RECEIVER + ENDPOINT_ID_SIZE);
}

/**
 * Whether a command payload decodes. Broker parses commands on arrival and
 * drops those that do not (spec §13); our stores check what they receive,
 * so only relayed commands are checked here. An `ack_clone`'s state is
 * validated where it lies and its keys looked up as bytes, not built: a
 * relayed snapshot of 2M entries of 10 bytes took ~580 MB as values.
 */
function isCommand(payload: Uint8Array): boolean {
  try {
    const { content } = decodeCommand(payload, { stateSpans: true });
    return !(content.type === "ack_clone" && content.spans && stateRepeatsKey(content.spans));
  } catch {
    return false;
  }
}
