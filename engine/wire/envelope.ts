/**
 * Node messages (phase 3, `lb/envelope.cc`): every frame after the handshake.
 *
 * | offset | size | field |
 * |---|---|---|
 * | 0 | 16 | sender (last hop) |
 * | 16 | 16 | receiver (nil = by subscription) |
 * | 32 | 1 | type: 1 data, 2 command, 3 routing_update, 4 ping, 5 pong |
 * | 33 | 2 | TTL, u16 BE (Broker writes 16 and never reads it) |
 * | 35 | 2 | topic length T, u16 BE |
 * | 37 | T | topic |
 * | 37+T | rest | payload |
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeEnvelope, EnvelopeType, parseEnvelope } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const bytes = encodeEnvelope({
 *   sender: newEndpointId(),
 *   type: EnvelopeType.data,
 *   topic: "/bench/ping",
 *   payload: new Uint8Array([0x0e, 0x00]),
 * });
 * equal(parseEnvelope(bytes).topic, "/bench/ping");
 * ```
 *
 * @module
 */
import { ClearingCache } from "../clearing_cache.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { ENDPOINT_ID_SIZE, type EndpointId, NIL_ENDPOINT_ID } from "./endpoint_id.ts";
import { decodeFilter, encodeFilter } from "./handshake_messages.ts";
import { FRAME_PREFIX_SIZE, sealFrame } from "./framing.ts";

/**
 * Node message types (`envelope_type`), the byte at offset 32.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { EnvelopeType } from "./envelope.ts";
 * equal(EnvelopeType.pong, 5);
 * ```
 */
export enum EnvelopeType {
  data = 1,
  command = 2,
  routing_update = 3,
  ping = 4,
  pong = 5,
}

/**
 * Size of the fixed header before the topic.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ENVELOPE_HEADER_SIZE } from "./envelope.ts";
 * equal(ENVELOPE_HEADER_SIZE, 37);
 * ```
 */
export const ENVELOPE_HEADER_SIZE = 37;

/**
 * The TTL Broker writes into every envelope.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { DEFAULT_TTL } from "./envelope.ts";
 * equal(DEFAULT_TTL, 16);
 * ```
 */
export const DEFAULT_TTL = 16;

/**
 * Topic of routing updates, pings and pongs.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { RESERVED_TOPIC } from "./envelope.ts";
 * equal(RESERVED_TOPIC, "<$>");
 * ```
 */
export const RESERVED_TOPIC = "<$>";

/** Longest topic in bytes (its length field is a u16). */
const MAX_TOPIC_SIZE = 0xffff;

/**
 * Offset of the receiver field in an envelope: where our endpoints carry an
 * origin tag (see `routing/origin_tag.ts`) instead of Broker's nil.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ENVELOPE_RECEIVER_OFFSET } from "./envelope.ts";
 * equal(ENVELOPE_RECEIVER_OFFSET, 16);
 * ```
 */
export const ENVELOPE_RECEIVER_OFFSET = 16;

const OFF_RECEIVER = ENVELOPE_RECEIVER_OFFSET;
const OFF_TYPE = 32;
const OFF_TTL = 33;
const OFF_TOPIC_LEN = 35;

const utf8Enc = new TextEncoder();
// Broker topics are byte strings; a lossy decode keeps odd bytes from rejecting a message.
const utf8Dec = new TextDecoder("utf-8", { ignoreBOM: true });
const RESERVED_TOPIC_BYTES = utf8Enc.encode(RESERVED_TOPIC);

/**
 * A read-only view over one node message frame (without the length prefix).
 * Nothing is copied: the getters return subarrays of `frame`, so the frame
 * must stay unchanged while the view is in use. Build one with
 * {@linkcode parseEnvelope}, which validates the header.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { Envelope, EnvelopeType, encodeEnvelope, parseEnvelope } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const env: Envelope = parseEnvelope(encodeEnvelope({
 *   sender: newEndpointId(), type: EnvelopeType.ping, topic: "<$>", payload: new Uint8Array([1]),
 * }));
 * equal(env.type, EnvelopeType.ping);
 * deepEqual(env.payload, new Uint8Array([1]));
 * ```
 */
export class Envelope {
  /** The whole frame payload this view reads. */
  readonly frame: Uint8Array;
  readonly #topicEnd: number;
  #topic: string | undefined;

  /** Use {@linkcode parseEnvelope}: this constructor trusts `frame` to be valid. */
  constructor(frame: Uint8Array) {
    this.frame = frame;
    this.#topicEnd = ENVELOPE_HEADER_SIZE +
      ((frame[OFF_TOPIC_LEN] << 8) | frame[OFF_TOPIC_LEN + 1]);
  }

  /** The last hop's ID (a subarray). */
  get sender(): EndpointId {
    return this.frame.subarray(0, OFF_RECEIVER);
  }

  /** The receiver's ID, nil for messages routed by subscription (a subarray). */
  get receiver(): EndpointId {
    return this.frame.subarray(OFF_RECEIVER, OFF_TYPE);
  }

  /** The message type. */
  get type(): EnvelopeType {
    return this.frame[OFF_TYPE];
  }

  /** The TTL field as sent (Broker does not use it). */
  get ttl(): number {
    return (this.frame[OFF_TTL] << 8) | this.frame[OFF_TTL + 1];
  }

  /** The topic's raw bytes (a subarray). */
  get topicBytes(): Uint8Array {
    return this.frame.subarray(ENVELOPE_HEADER_SIZE, this.#topicEnd);
  }

  /** The topic as text, decoded on first use. */
  get topic(): string {
    return this.#topic ??= topicText(this.frame, ENVELOPE_HEADER_SIZE, this.#topicEnd);
  }

  /** Everything after the topic (a subarray). */
  get payload(): Uint8Array {
    return this.frame.subarray(this.#topicEnd);
  }
}

// Topics repeat from message to message, and a TextDecoder call costs more
// than hashing a short topic: recent topics are kept by a hash of their bytes.
const topicCache = new ClearingCache<number, { bytes: Uint8Array; text: string }>(4096);

// Most frames carry the previous frame's topic: compared byte by byte before any hashing.
let lastTopic: { bytes: Uint8Array; text: string } | undefined;

function topicText(frame: Uint8Array, start: number, end: number): string {
  const last = lastTopic;
  if (last !== undefined && last.bytes.length === end - start) {
    const b = last.bytes;
    let i = start, j = 0;
    while (i < end && b[j] === frame[i]) i++, j++;
    if (i === end) return last.text;
  }
  const entry = cachedTopic(frame, start, end);
  lastTopic = entry;
  return entry.text;
}

function cachedTopic(
  frame: Uint8Array,
  start: number,
  end: number,
): { bytes: Uint8Array; text: string } {
  let h = 0x811c9dc5;
  for (let i = start; i < end; i++) h = Math.imul(h ^ frame[i], 0x01000193);
  const hit = topicCache.get(h);
  if (hit && hit.bytes.length === end - start) {
    let same = true;
    for (let i = start, j = 0; i < end; i++, j++) {
      if (hit.bytes[j] !== frame[i]) {
        same = false;
        break;
      }
    }
    if (same) return hit;
  }
  const bytes = frame.slice(start, end);
  const entry = { bytes, text: utf8Dec.decode(bytes) };
  topicCache.set(h, entry);
  return entry;
}

/**
 * Where a node message's payload starts (the end of its topic), after the
 * checks {@linkcode parseEnvelope} makes; -1 where it would throw. With
 * {@linkcode envelopeTopic}, for the receive path that reads a data message's
 * fields in place instead of building a view per message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeEnvelope, envelopePayloadStart, envelopeTopic, EnvelopeType } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const f = encodeEnvelope({
 *   sender: newEndpointId(), type: EnvelopeType.data, topic: "/t", payload: new Uint8Array([9]),
 * });
 * const start = envelopePayloadStart(f);
 * equal(envelopeTopic(f, start), "/t");
 * equal(f[start], 9);
 * equal(envelopePayloadStart(new Uint8Array(10)), -1); // too short
 * ```
 */
export function envelopePayloadStart(frame: Uint8Array): number {
  if (frame.length < ENVELOPE_HEADER_SIZE) return -1;
  const type = frame[OFF_TYPE];
  if (type < EnvelopeType.data || type > EnvelopeType.pong) return -1;
  const topicLen = (frame[OFF_TOPIC_LEN] << 8) | frame[OFF_TOPIC_LEN + 1];
  if (topicLen > frame.length - ENVELOPE_HEADER_SIZE) return -1;
  return ENVELOPE_HEADER_SIZE + topicLen;
}

/**
 * The topic of a node message as text, given where its payload starts
 * ({@linkcode envelopePayloadStart}); the same cached text `Envelope.topic` gives.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeEnvelope, envelopePayloadStart, envelopeTopic, EnvelopeType } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const f = encodeEnvelope({
 *   sender: newEndpointId(), type: EnvelopeType.data, topic: "/a/b", payload: new Uint8Array([0]),
 * });
 * equal(envelopeTopic(f, envelopePayloadStart(f)), "/a/b");
 * ```
 */
export function envelopeTopic(frame: Uint8Array, payloadStart: number): string {
  return topicText(frame, ENVELOPE_HEADER_SIZE, payloadStart);
}

/**
 * The type byte of a node message, read without parsing or validating it, or
 * `undefined` when the frame is too short to have one. For tools that sort
 * captured frames by type; {@linkcode parseEnvelope} for everything else.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeEnvelope, EnvelopeType, peekEnvelopeType } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const f = encodeEnvelope({
 *   sender: newEndpointId(), type: EnvelopeType.command, topic: "t", payload: new Uint8Array([0]),
 * });
 * equal(peekEnvelopeType(f), EnvelopeType.command);
 * equal(peekEnvelopeType(new Uint8Array(3)), undefined); // too short to have a type
 * ```
 */
export function peekEnvelopeType(frame: Uint8Array): number | undefined {
  return frame.length > OFF_TYPE ? frame[OFF_TYPE] : undefined;
}

/**
 * Checks a node message's header and returns a view over it. Throws
 * `BrokerError(invalid_data)` for frames under 37 bytes, a topic running past
 * the end, or a type outside 1-5 (Broker drops such frames and keeps the
 * connection). The payload is not looked at.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { parseEnvelope } from "./envelope.ts";
 * throws(() => parseEnvelope(new Uint8Array(10)), /message too short/);
 * ```
 */
export function parseEnvelope(frame: Uint8Array): Envelope {
  if (frame.length < ENVELOPE_HEADER_SIZE) {
    throw new BrokerError(ErrorCode.invalid_data, "message too short");
  }
  const type = frame[OFF_TYPE];
  if (type < EnvelopeType.data || type > EnvelopeType.pong) {
    throw new BrokerError(ErrorCode.invalid_data, `invalid message type ${type}`, {
      offset: OFF_TYPE,
    });
  }
  const topicLen = (frame[OFF_TOPIC_LEN] << 8) | frame[OFF_TOPIC_LEN + 1];
  if (topicLen > frame.length - ENVELOPE_HEADER_SIZE) {
    throw new BrokerError(ErrorCode.invalid_data, "topic runs past the end of the message", {
      offset: OFF_TOPIC_LEN,
    });
  }
  return new Envelope(frame);
}

/** What {@linkcode encodeEnvelope} writes. */
export interface EnvelopeInit {
  /** Our own ID: Broker treats a nil sender as its own message. */
  sender: EndpointId;
  /** A direct peer, or nil (the default) to route by subscription. */
  receiver?: EndpointId;
  /** Data, command, routing update, ping or pong. */
  type: EnvelopeType;
  /** Default 16. */
  ttl?: number;
  /** As text or UTF-8 bytes. */
  topic: string | Uint8Array;
  /** The message body. */
  payload: Uint8Array;
}

/** Options of the envelope encoders. */
export interface EnvelopeEncodeOptions {
  /** Write the 4-byte length prefix into the same buffer (one write for the transport). */
  prefix?: boolean;
  /** The TTL field (an endpoint's `ttl` option); default 16. Ignored by `encodeEnvelope`, whose init has its own. */
  ttl?: number;
}

/**
 * Writes a node message in one allocation, optionally with its frame prefix.
 * Throws `BrokerError(serialization_failed)` for a topic over 65,535 bytes or
 * IDs that are not 16 bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeEnvelope, EnvelopeType } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const framed = encodeEnvelope(
 *   { sender: newEndpointId(), type: EnvelopeType.data, topic: "a", payload: new Uint8Array([0]) },
 *   { prefix: true },
 * );
 * equal(framed.length, 4 + 37 + 1 + 1); // prefix + header + topic + payload
 * ```
 */
export function encodeEnvelope(init: EnvelopeInit, options?: EnvelopeEncodeOptions): Uint8Array {
  const topic = typeof init.topic === "string" ? utf8Enc.encode(init.topic) : init.topic;
  if (topic.length > MAX_TOPIC_SIZE) {
    throw new BrokerError(
      ErrorCode.serialization_failed,
      "topic exceeds maximum size of 65,535 characters",
    );
  }
  const receiver = init.receiver ?? NIL_ENDPOINT_ID;
  checkId(init.sender, "sender");
  checkId(receiver, "receiver");
  const base = options?.prefix ? FRAME_PREFIX_SIZE : 0;
  const size = ENVELOPE_HEADER_SIZE + topic.length + init.payload.length;
  const out = new Uint8Array(base + size);
  if (base) sealFrame(out);
  const end = writeEnvelopeHeader(
    out,
    base,
    init.sender,
    receiver,
    init.type,
    init.ttl ?? DEFAULT_TTL,
    topic,
  );
  out.set(init.payload, end);
  return out;
}

/**
 * Bytes of a framed envelope before its payload: length prefix, header and
 * topic. Callers that build a frame in place reserve this much in front of
 * the payload, then fill it with {@linkcode writeEnvelopeHeader}.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { framedHeaderSize } from "./envelope.ts";
 * equal(framedHeaderSize(3), 4 + 37 + 3); // prefix + header + topic
 * ```
 */
export function framedHeaderSize(topicLength: number): number {
  return FRAME_PREFIX_SIZE + ENVELOPE_HEADER_SIZE + topicLength;
}

/**
 * Writes an envelope's header and topic into `out` at `at` and returns where
 * the payload starts. No allocation and no checks (the hot paths call it per
 * message): IDs must be 16 bytes and the topic at most 65,535 bytes, as
 * {@linkcode encodeEnvelope} checks. A `receiver` of `undefined` leaves the
 * field as it is (zeroed buffers make it nil).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { EnvelopeType, parseEnvelope, writeEnvelopeHeader } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const out = new Uint8Array(37 + 1 + 1); // header, topic "a", a 1-byte payload
 * const a = new Uint8Array([0x61]);
 * const end = writeEnvelopeHeader(out, 0, newEndpointId(), undefined, EnvelopeType.data, 16, a);
 * out[end] = 0;
 * equal(end, 38); // where the payload starts
 * equal(parseEnvelope(out).topic, "a");
 * ```
 */
export function writeEnvelopeHeader(
  out: Uint8Array,
  at: number,
  sender: EndpointId,
  receiver: EndpointId | undefined,
  type: EnvelopeType,
  ttl: number,
  topic: Uint8Array,
): number {
  out.set(sender, at);
  if (receiver) out.set(receiver, at + OFF_RECEIVER);
  out[at + OFF_TYPE] = type;
  out[at + OFF_TTL] = ttl >> 8;
  out[at + OFF_TTL + 1] = ttl & 0xff;
  out[at + OFF_TOPIC_LEN] = topic.length >> 8;
  out[at + OFF_TOPIC_LEN + 1] = topic.length & 0xff;
  out.set(topic, at + ENVELOPE_HEADER_SIZE);
  return at + ENVELOPE_HEADER_SIZE + topic.length;
}

function checkId(id: EndpointId, what: string): void {
  if (id.length !== ENDPOINT_ID_SIZE) {
    throw new BrokerError(ErrorCode.serialization_failed, `${what} ID of ${id.length} bytes`);
  }
}

/**
 * Rewrites, in place, the fields every hop changes before forwarding a node
 * message that starts at `at` in `frame`: the sender (Broker: the last hop)
 * and the TTL (Broker's relayed envelopes report its default rather than the
 * received one), and the receiver when one is given (nil for a broadcast to
 * a C++ peer). The caller owns the copy: forwarding writes into the output
 * slab, so nothing is allocated here.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { encodeEnvelope, EnvelopeType, parseEnvelope, rewriteForwarded } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const me = newEndpointId();
 * const copy = encodeEnvelope({
 *   sender: newEndpointId(),
 *   type: EnvelopeType.data,
 *   ttl: 3,
 *   topic: "t",
 *   payload: new Uint8Array([0]),
 * });
 * rewriteForwarded(copy, 0, me, 16);
 * const env = parseEnvelope(copy);
 * deepEqual(env.sender, me);
 * equal(env.ttl, 16);
 * ```
 */
export function rewriteForwarded(
  frame: Uint8Array,
  at: number,
  sender: EndpointId,
  ttl: number,
  receiver?: EndpointId,
): void {
  frame.set(sender, at);
  if (receiver) frame.set(receiver, at + OFF_RECEIVER);
  frame[at + OFF_TTL] = ttl >> 8;
  frame[at + OFF_TTL + 1] = ttl & 0xff;
}

/**
 * Whether the sender field of the envelope in `frame` is nil or `id`: Broker
 * counts such a message as local (spec §14.5). Reads the bytes in place.
 *
 * @example
 * ```ts
 * import { encodeEnvelope, EnvelopeType, hasLocalSender } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const [me, other] = [newEndpointId(), newEndpointId()];
 * const f = encodeEnvelope({
 *   sender: me, type: EnvelopeType.data, topic: "t", payload: new Uint8Array([0]),
 * });
 * if (!hasLocalSender(f, me) || hasLocalSender(f, other)) throw new Error("by sender ID");
 * ```
 */
export function hasLocalSender(frame: Uint8Array, id: EndpointId): boolean {
  let nil = true, own = true;
  for (let i = 0; i < ENDPOINT_ID_SIZE && (nil || own); i++) {
    if (frame[i] !== 0) nil = false;
    if (frame[i] !== id[i]) own = false;
  }
  return nil || own;
}

/**
 * The payload of a routing_update: the sender's whole filter.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeRoutingUpdate } from "./envelope.ts";
 * deepEqual(encodeRoutingUpdate(["/a"]), new Uint8Array([1, 2, 47, 97])); // count, length, "/a"
 * ```
 */
export function encodeRoutingUpdate(filter: readonly string[]): Uint8Array {
  return encodeFilter(filter);
}

/**
 * Reads a routing_update payload. Broker does not validate these (and can
 * crash on bad ones); we require exactly one well-formed filter and throw
 * `BrokerError(invalid_data)` otherwise.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { decodeRoutingUpdate } from "./envelope.ts";
 * deepEqual(decodeRoutingUpdate(new Uint8Array([1, 2, 47, 97])), ["/a"]);
 * ```
 */
export function decodeRoutingUpdate(payload: Uint8Array): string[] {
  return decodeFilter(payload);
}

/**
 * A routing_update frame for a direct peer.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeRoutingUpdateEnvelope } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const f = encodeRoutingUpdateEnvelope(newEndpointId(), newEndpointId(), ["/a"]);
 * equal(f.length, 37 + 3 + 4); // header + "<$>" + filter
 * ```
 */
export function encodeRoutingUpdateEnvelope(
  sender: EndpointId,
  receiver: EndpointId,
  filter: readonly string[],
  options?: EnvelopeEncodeOptions,
): Uint8Array {
  return encodeEnvelope({
    sender,
    receiver,
    type: EnvelopeType.routing_update,
    ttl: options?.ttl,
    topic: RESERVED_TOPIC_BYTES,
    payload: encodeFilter(filter),
  }, options);
}

/**
 * A ping frame (topic `<$>`, payload echoed back by the pong).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { EnvelopeType, encodePing } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const f = encodePing(newEndpointId(), newEndpointId(), new TextEncoder().encode("foo"));
 * equal(f[32], EnvelopeType.ping); // the type byte
 * ```
 */
export function encodePing(
  sender: EndpointId,
  receiver: EndpointId,
  payload: Uint8Array,
  options?: EnvelopeEncodeOptions,
): Uint8Array {
  return encodeEnvelope({
    sender,
    receiver,
    type: EnvelopeType.ping,
    ttl: options?.ttl,
    topic: RESERVED_TOPIC_BYTES,
    payload,
  }, options);
}

/**
 * The pong answering `ping`: addressed to its sender, same payload, on `<$>`
 * (Broker's pong_envelope has that fixed topic, whatever the ping's). The
 * sender is our own ID (Broker uses the ping's receiver, which is the same
 * for every well-formed ping; ours never goes out nil).
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { encodePing, encodePong, EnvelopeType, parseEnvelope } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const [a, b] = [newEndpointId(), newEndpointId()];
 * const pong = parseEnvelope(encodePong(parseEnvelope(encodePing(a, b, new Uint8Array([1]))), b));
 * equal(pong.type, EnvelopeType.pong);
 * deepEqual(pong.payload, new Uint8Array([1])); // the ping's payload
 * ```
 */
export function encodePong(
  ping: Envelope,
  ownId: EndpointId,
  options?: EnvelopeEncodeOptions,
): Uint8Array {
  return encodeEnvelope({
    sender: ownId,
    receiver: ping.sender,
    type: EnvelopeType.pong,
    ttl: options?.ttl,
    topic: RESERVED_TOPIC_BYTES,
    payload: ping.payload,
  }, options);
}

const BYE = [0x42, 0x59, 0x45]; // "BYE"

/** Size of a BYE token: "BYE" + an 8-byte ID. */
const BYE_PAYLOAD_SIZE = 11;

/**
 * The payload of Broker's unpeering ping: "BYE" + a u64 in host byte order.
 * Broker runs on little-endian hosts in practice, so we write little-endian;
 * the peer only echoes the bytes back.
 */
function byePayload(id: bigint): Uint8Array {
  const out = new Uint8Array(BYE_PAYLOAD_SIZE);
  out.set(BYE);
  new DataView(out.buffer).setBigUint64(3, BigInt.asUintN(64, id), true);
  return out;
}

/** Whether a payload has the shape of a BYE token ("BYE" + 8 bytes). */
function isByePayload(payload: Uint8Array): boolean {
  return payload.length === BYE_PAYLOAD_SIZE && payload[0] === BYE[0] &&
    payload[1] === BYE[1] && payload[2] === BYE[2];
}

/**
 * Source of fresh BYE tokens for unpeering: "BYE" + a u64 counter, written
 * little-endian (Broker writes host order and runs on little-endian hosts;
 * the peer only echoes the bytes back). Like Broker's per-actor
 * `new_u64_id()`, IDs only need to differ within this process, so a counter
 * does.
 *
 * @example
 * ```ts
 * import { equal, notDeepEqual } from "node:assert/strict";
 * import { ByeToken } from "./envelope.ts";
 * const [a, b] = [ByeToken.next(), ByeToken.next()];
 * equal(new TextDecoder().decode(a.subarray(0, 3)), "BYE");
 * equal(a.length, 11);
 * notDeepEqual(a, b);
 * ```
 */
export class ByeToken {
  static #last = 0n;

  /** A new BYE payload, different from every earlier one. */
  static next(): Uint8Array {
    ByeToken.#last = BigInt.asUintN(64, ByeToken.#last + 1n);
    return byePayload(ByeToken.#last);
  }
}

/**
 * Whether a node message is the pong answering a BYE ping (payload "BYE" +
 * 8 bytes): the unpeering side closes the connection when it arrives.
 *
 * @example
 * ```ts
 * import { ByeToken, encodePing, encodePong, isByePong, parseEnvelope } from "./envelope.ts";
 * import { newEndpointId } from "./endpoint_id.ts";
 * const [a, b] = [newEndpointId(), newEndpointId()];
 * const ping = parseEnvelope(encodePing(a, b, ByeToken.next()));
 * if (!isByePong(parseEnvelope(encodePong(ping, b)))) throw new Error("a BYE pong");
 * ```
 */
export function isByePong(envelope: Envelope): boolean {
  return envelope.type === EnvelopeType.pong && isByePayload(envelope.payload);
}
