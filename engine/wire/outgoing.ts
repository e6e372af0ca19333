/**
 * The frames an endpoint sends, built where the wire format lives: data
 * and command messages written into the shared output slab behind cached
 * per-topic headers (no allocation per message), forwarded copies with the
 * fields a hop rewrites, and the control messages for one direct peer.
 *
 * @example
 * ```ts
 * import { OutgoingFrames } from "./outgoing.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * import { parseEnvelope } from "./envelope.ts";
 * import { count, decode, encode } from "../data/mod.ts";
 * const me = newEndpointId();
 * const frames = new OutgoingFrames(me, 16, () => {});
 * const framed = frames.data(frames.dataHeader("/demo"), encode(count(7n)));
 * const env = parseEnvelope(framed.subarray(4)); // after the 4-byte length prefix
 * if (env.topic !== "/demo" || decode(env.payload).value !== 7n) throw new Error("round trip");
 * ```
 *
 * @module
 */
import { concatToSlab, copyToSlab, type Data, type DataBuilder, encodeAfter } from "../data/mod.ts";
import { ClearingCache } from "../clearing_cache.ts";
import type { EndpointId } from "./endpoint_id.ts";
import {
  encodeEnvelope,
  encodePing,
  encodePong,
  encodeRoutingUpdateEnvelope,
  type Envelope,
  ENVELOPE_RECEIVER_OFFSET,
  type EnvelopeEncodeOptions,
  EnvelopeType,
  framedHeaderSize,
  rewriteForwarded,
  writeEnvelopeHeader,
} from "./envelope.ts";
import { FRAME_PREFIX_SIZE, sealFrame } from "./framing.ts";

/** Topics whose headers and bytes are kept; past it the caches start over. */
const TOPIC_CACHE_SIZE = 4096;

/** Builds one endpoint's outgoing frames (each with its 4-byte length prefix). */
export class OutgoingFrames {
  readonly #id: EndpointId;
  readonly #ttl: number;
  readonly #checkTopic: (topic: string) => void;
  readonly #control: EnvelopeEncodeOptions;
  readonly #headers = new ClearingCache<string, Uint8Array>(TOPIC_CACHE_SIZE);
  readonly #topicBytes = new ClearingCache<string, Uint8Array>(TOPIC_CACHE_SIZE);
  readonly #utf8 = new TextEncoder();
  #lastTopic = "";
  #lastHeader: Uint8Array | undefined;

  /**
   * Frames sent as `id` with TTL `ttl`. `checkTopic` vets a data topic the
   * first time it is seen (it throws to refuse one); a cached topic passed.
   */
  constructor(id: EndpointId, ttl: number, checkTopic: (topic: string) => void) {
    this.#id = id;
    this.#ttl = ttl;
    this.#checkTopic = checkTopic;
    this.#control = { prefix: true, ttl };
  }

  /**
   * The framed envelope header of a data message on `topic`, cached per
   * topic; checks the topic on first use.
   */
  dataHeader(topic: string): Uint8Array {
    // A publisher's next topic is mostly its last: one comparison, no lookup.
    if (topic === this.#lastTopic && this.#lastHeader !== undefined) return this.#lastHeader;
    let h = this.#headers.get(topic);
    if (h) return this.#remember(topic, h);
    this.#checkTopic(topic);
    h = encodeEnvelope({
      sender: this.#id,
      type: EnvelopeType.data,
      ttl: this.#ttl,
      topic,
      payload: new Uint8Array(0),
    }, { prefix: true });
    this.#headers.set(topic, h);
    return this.#remember(topic, h);
  }

  #remember(topic: string, header: Uint8Array): Uint8Array {
    this.#lastTopic = topic;
    return this.#lastHeader = header;
  }

  /**
   * A data frame carrying an encoded value (copied into the output slab)
   * behind `header`, a {@linkcode dataHeader}.
   */
  data(header: Uint8Array, payload: Uint8Array): Uint8Array {
    return sealFrame(concatToSlab(header, payload));
  }

  /**
   * A data frame carrying a builder's value behind `header`: written in
   * place in the builder's buffer when it kept room for the header (no copy
   * of the value), else copied as by {@linkcode data}.
   */
  built(header: Uint8Array, builder: DataBuilder): Uint8Array {
    const framed = builder.finishWithPrefix(header);
    return framed ? sealFrame(framed) : this.data(header, builder.finish());
  }

  /** A data frame carrying `value`, encoded once straight behind `header`. */
  dataOf(header: Uint8Array, value: Data): Uint8Array {
    return sealFrame(encodeAfter(header, value));
  }

  /**
   * A data frame carrying `value` to the endpoint `receiver` alone (Broker's
   * `endpoint::publish(dst, topic, data)`): {@linkcode dataOf}'s frame with
   * the envelope's receiver set, which a nil receiver leaves to routing by
   * subscription.
   */
  dataTo(header: Uint8Array, value: Data, receiver: EndpointId): Uint8Array {
    const frame = this.dataOf(header, value);
    frame.set(receiver, FRAME_PREFIX_SIZE + ENVELOPE_RECEIVER_OFFSET);
    return frame;
  }

  /**
   * A command frame: to `receiver`, or with Broker's nil receiver (routed by
   * subscription) when it is absent.
   */
  command(topic: string, payload: Uint8Array, receiver?: EndpointId): Uint8Array {
    let topicBytes = this.#topicBytes.get(topic);
    if (!topicBytes) this.#topicBytes.set(topic, topicBytes = this.#utf8.encode(topic));
    const frame = sealFrame(copyToSlab(payload, framedHeaderSize(topicBytes.length)));
    // The slab's headroom is zeroed: no receiver leaves Broker's nil.
    writeEnvelopeHeader(
      frame,
      FRAME_PREFIX_SIZE,
      this.#id,
      receiver,
      EnvelopeType.command,
      this.#ttl,
      topicBytes,
    );
    return frame;
  }

  /**
   * A framed copy of a received envelope (`frame` without its prefix) in the
   * output slab, with us as the sender (Broker: sender = last hop), our TTL
   * (Broker's relayed envelopes do not carry the received TTL: they report
   * its default, 16), and `receiver` when given.
   */
  forward(frame: Uint8Array, receiver?: EndpointId): Uint8Array {
    const out = sealFrame(copyToSlab(frame, FRAME_PREFIX_SIZE));
    rewriteForwarded(out, FRAME_PREFIX_SIZE, this.#id, this.#ttl, receiver);
    return out;
  }

  /** Our filter, for one direct peer (Broker announces it unicast, never forwarded). */
  routingUpdate(peer: EndpointId, filter: readonly string[]): Uint8Array {
    return encodeRoutingUpdateEnvelope(this.#id, peer, filter, this.#control);
  }

  /** A ping to a direct peer carrying `payload` (a BYE token when unpeering). */
  ping(peer: EndpointId, payload: Uint8Array): Uint8Array {
    return encodePing(this.#id, peer, payload, this.#control);
  }

  /** The pong answering `ping`. */
  pong(ping: Envelope): Uint8Array {
    return encodePong(ping, this.#id, this.#control);
  }
}
