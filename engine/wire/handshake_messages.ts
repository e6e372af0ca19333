/**
 * The handshake messages of Broker's peer protocol (phases 1 and 2,
 * `lb/internal/wire_format.hh`): one frame each, its first byte the message
 * type. Magic number and version checks are left to the handshake state
 * machine, because Broker answers them with specific `drop_conn` codes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import {
 *   decodeHandshakeMessage,
 *   encodeHandshakeMessage,
 *   type HandshakeMessage,
 *   MessageType,
 * } from "./handshake_messages.ts";
 * const syn: HandshakeMessage = { type: MessageType.originator_syn, filter: ["/bench/ping"] };
 * deepEqual(decodeHandshakeMessage(encodeHandshakeMessage(syn)), syn);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { ENDPOINT_ID_SIZE, type EndpointId } from "./endpoint_id.ts";

/**
 * Broker's `p2p_message_type`: the first byte of a handshake frame (6-12).
 * 1-5 name the node message types, which sit at offset 32 of phase-3 frames.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MessageType } from "./handshake_messages.ts";
 * equal(MessageType.originator_ack, 12);
 * ```
 */
export enum MessageType {
  data = 1,
  command = 2,
  routing_update = 3,
  ping = 4,
  pong = 5,
  hello = 6,
  probe = 7,
  version_select = 8,
  drop_conn = 9,
  originator_syn = 10,
  responder_syn_ack = 11,
  originator_ack = 12,
}

/**
 * The magic number opening hello, probe, version_select and drop_conn ("ZEEK").
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MAGIC } from "./handshake_messages.ts";
 * equal(MAGIC.toString(16), "5a45454b");
 * ```
 */
export const MAGIC = 0x5a45454b;

/**
 * The only protocol version Broker speaks.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { PROTOCOL_VERSION } from "./handshake_messages.ts";
 * equal(PROTOCOL_VERSION, 1);
 * ```
 */
export const PROTOCOL_VERSION = 1;

/** `hello`: the sender's ID and the version range it speaks. */
export interface HelloMessage {
  /** Which handshake message. */
  type: MessageType.hello;
  /** Broker's magic number (0x5A45454B, "ZEEK"). */
  magic: number;
  /** The sender's endpoint ID. */
  senderId: EndpointId;
  /** Lowest protocol version the sender speaks. */
  minVersion: number;
  /** Highest protocol version the sender speaks. */
  maxVersion: number;
}

/** `probe`: sent by the accepting side right after accept. */
export interface ProbeMessage {
  /** Which handshake message. */
  type: MessageType.probe;
  /** Broker's magic number (0x5A45454B, "ZEEK"). */
  magic: number;
}

/** `version_select`: the originator's ID and the version it chose. */
export interface VersionSelectMessage {
  /** Which handshake message. */
  type: MessageType.version_select;
  /** Broker's magic number (0x5A45454B, "ZEEK"). */
  magic: number;
  /** The sender's endpoint ID. */
  senderId: EndpointId;
  /** The version both sides use. */
  selectedVersion: number;
}

/** `drop_conn`: why the sender closes the connection (`code` is an `ec` value). */
export interface DropConnMessage {
  /** Which handshake message. */
  type: MessageType.drop_conn;
  /** Broker's magic number (0x5A45454B, "ZEEK"). */
  magic: number;
  /** The sender's endpoint ID. */
  senderId: EndpointId;
  /** Broker's ec code of the refusal. */
  code: number;
  /** Why, in words. */
  description: string;
}

/** `originator_syn`: the originator's filter. */
export interface OriginatorSynMessage {
  /** Which handshake message. */
  type: MessageType.originator_syn;
  /** The sender's subscriptions. */
  filter: string[];
}

/** `responder_syn_ack`: the responder's filter. */
export interface ResponderSynAckMessage {
  /** Which handshake message. */
  type: MessageType.responder_syn_ack;
  /** The sender's subscriptions. */
  filter: string[];
}

/** `originator_ack`: the handshake's last message. */
export interface OriginatorAckMessage {
  /** Which handshake message. */
  type: MessageType.originator_ack;
}

/** Any handshake message, tagged by `type`. */
export type HandshakeMessage =
  | HelloMessage
  | ProbeMessage
  | VersionSelectMessage
  | DropConnMessage
  | OriginatorSynMessage
  | ResponderSynAckMessage
  | OriginatorAckMessage;

/** Options for encoders that can reserve the frame's length prefix. */
export interface EncodeOptions {
  /** Write the 4-byte length prefix into the same buffer. Default false. */
  prefix?: boolean;
}

const utf8Enc = new TextEncoder();
// Topics and descriptions are byte strings in Broker; invalid UTF-8 must not abort a handshake.
const utf8Dec = new TextDecoder("utf-8", { ignoreBOM: true });

// C++ type names as they appear in Broker's "failed to parse ..." drop_conn descriptions.
const CPP_NAMES: Record<number, string> = {
  [MessageType.hello]: "hello_msg",
  [MessageType.probe]: "probe_msg",
  [MessageType.version_select]: "version_select_msg",
  [MessageType.drop_conn]: "drop_conn_msg",
  [MessageType.originator_syn]: "v1::originator_syn_msg",
  [MessageType.responder_syn_ack]: "v1::responder_syn_ack_msg",
  [MessageType.originator_ack]: "v1::originator_ack_msg",
};

function varbyteSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarbyte(out: Uint8Array, pos: number, n: number): number {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[pos++] = n;
  return pos;
}

/** Thrown inside the reader; callers turn it into the right BrokerError. */
class Truncated extends Error {}

/** Cursor over a frame; every read checks the bounds. */
class Reader {
  pos: number;
  constructor(readonly bytes: Uint8Array, pos = 0) {
    this.pos = pos;
  }
  u8(): number {
    if (this.pos >= this.bytes.length) throw new Truncated();
    return this.bytes[this.pos++];
  }
  u32(): number {
    const b = this.take(4);
    return ((b[0] << 24) | (b[1] << 16) | (b[2] << 8) | b[3]) >>> 0;
  }
  take(n: number): Uint8Array {
    if (n > this.bytes.length - this.pos) throw new Truncated();
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  id(): EndpointId {
    // A copy: IDs outlive the frame (peer tables, established connections).
    return this.take(ENDPOINT_ID_SIZE).slice();
  }
  varbyte(): number {
    // Broker writes sizes as u32, so at most 5 bytes; longer runs are rejected.
    let n = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      n += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) {
        if (n > 0xffffffff) throw new Truncated();
        return n;
      }
    }
    throw new Truncated();
  }
  string(): string {
    return utf8Dec.decode(this.take(this.varbyte()));
  }
  filter(): string[] {
    const count = this.varbyte();
    // No preallocation: the count is the peer's claim, each entry needs at least one byte.
    const out: string[] = [];
    for (let i = 0; i < count; i++) out.push(this.string());
    return out;
  }
}

/**
 * Encodes a filter (a topic list): varbyte count, then each topic as varbyte
 * length + bytes. The same bytes are the payload of a routing_update.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeFilter } from "./handshake_messages.ts";
 * deepEqual(encodeFilter(["/a"]), new Uint8Array([1, 2, 47, 97])); // count, length, "/a"
 * ```
 */
export function encodeFilter(filter: readonly string[]): Uint8Array {
  const topics = filter.map((t) => utf8Enc.encode(t));
  const out = new Uint8Array(filterSize(topics));
  writeFilter(out, 0, topics);
  return out;
}

function filterSize(topics: Uint8Array[]): number {
  let size = varbyteSize(topics.length);
  for (const t of topics) size += varbyteSize(t.length) + t.length;
  return size;
}

function writeFilter(out: Uint8Array, pos: number, topics: Uint8Array[]): number {
  pos = writeVarbyte(out, pos, topics.length);
  for (const t of topics) {
    pos = writeVarbyte(out, pos, t.length);
    out.set(t, pos);
    pos += t.length;
  }
  return pos;
}

/**
 * Decodes a filter that must fill `bytes` exactly (a routing_update payload).
 * Throws `BrokerError(invalid_data)` when truncated or followed by extra bytes.
 *
 * @example
 * ```ts
 * import { deepEqual, throws } from "node:assert/strict";
 * import { decodeFilter } from "./handshake_messages.ts";
 * deepEqual(decodeFilter(new Uint8Array([1, 2, 47, 97])), ["/a"]);
 * throws(() => decodeFilter(new Uint8Array([1, 2, 47])), /truncated filter/);
 * ```
 */
export function decodeFilter(bytes: Uint8Array): string[] {
  const r = new Reader(bytes);
  let filter: string[];
  try {
    filter = r.filter();
  } catch (e) {
    if (e instanceof Truncated) throw new BrokerError(ErrorCode.invalid_data, "truncated filter");
    throw e;
  }
  if (r.pos !== bytes.length) {
    throw new BrokerError(ErrorCode.invalid_data, "trailing bytes after the filter");
  }
  return filter;
}

/**
 * Encodes one handshake message as a frame payload, or with `prefix` as a
 * complete frame ready to write.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeHandshakeMessage, MAGIC, MessageType } from "./handshake_messages.ts";
 * const probe = { type: MessageType.probe, magic: MAGIC } as const;
 * const framed = encodeHandshakeMessage(probe, { prefix: true });
 * // The length, the type, then "ZEEK".
 * deepEqual(framed, new Uint8Array([0, 0, 0, 5, 7, 0x5a, 0x45, 0x45, 0x4b]));
 * ```
 */
export function encodeHandshakeMessage(msg: HandshakeMessage, options?: EncodeOptions): Uint8Array {
  const base = options?.prefix ? 4 : 0;
  let out: Uint8Array;
  let view: DataView;
  const alloc = (size: number) => {
    out = new Uint8Array(base + size);
    view = new DataView(out.buffer);
    if (base) view.setUint32(0, size);
    out[base] = msg.type;
  };
  switch (msg.type) {
    case MessageType.hello:
      alloc(23);
      view!.setUint32(base + 1, msg.magic);
      out!.set(checkedId(msg.senderId), base + 5);
      out![base + 21] = msg.minVersion;
      out![base + 22] = msg.maxVersion;
      break;
    case MessageType.probe:
      alloc(5);
      view!.setUint32(base + 1, msg.magic);
      break;
    case MessageType.version_select:
      alloc(22);
      view!.setUint32(base + 1, msg.magic);
      out!.set(checkedId(msg.senderId), base + 5);
      out![base + 21] = msg.selectedVersion;
      break;
    case MessageType.drop_conn: {
      const text = utf8Enc.encode(msg.description);
      alloc(22 + varbyteSize(text.length) + text.length);
      view!.setUint32(base + 1, msg.magic);
      out!.set(checkedId(msg.senderId), base + 5);
      out![base + 21] = msg.code;
      out!.set(text, writeVarbyte(out!, base + 22, text.length));
      break;
    }
    case MessageType.originator_syn:
    case MessageType.responder_syn_ack: {
      const topics = msg.filter.map((t) => utf8Enc.encode(t));
      alloc(1 + filterSize(topics));
      writeFilter(out!, base + 1, topics);
      break;
    }
    case MessageType.originator_ack:
      alloc(1);
      break;
    default:
      throw new BrokerError(
        ErrorCode.serialization_failed,
        `not a handshake message type: ${(msg as { type: unknown }).type}`,
      );
  }
  return out!;
}

function checkedId(id: EndpointId): EndpointId {
  if (id.length !== ENDPOINT_ID_SIZE) {
    throw new BrokerError(ErrorCode.serialization_failed, `endpoint ID of ${id.length} bytes`);
  }
  return id;
}

/**
 * Decodes one handshake frame payload. Throws `BrokerError(invalid_message)`
 * with Broker's own description ("invalid message type tag", "failed to
 * parse hello_msg", ...), which the handshake sends back in `drop_conn`.
 * Bytes after the message are ignored, as Broker does. Magic, versions and
 * drop_conn codes are not checked here.
 *
 * @example
 * ```ts
 * import { deepEqual, throws } from "node:assert/strict";
 * import { decodeHandshakeMessage, MessageType } from "./handshake_messages.ts";
 * deepEqual(decodeHandshakeMessage(new Uint8Array([0x0c])), { type: MessageType.originator_ack });
 * throws(() => decodeHandshakeMessage(new Uint8Array([0x0a])), /failed to parse/);
 * ```
 */
export function decodeHandshakeMessage(payload: Uint8Array): HandshakeMessage {
  const type = payload[0];
  if (payload.length === 0 || CPP_NAMES[type] === undefined) {
    throw new BrokerError(ErrorCode.invalid_message, "invalid message type tag");
  }
  const r = new Reader(payload, 1);
  try {
    switch (type) {
      case MessageType.hello:
        return {
          type: MessageType.hello,
          magic: r.u32(),
          senderId: r.id(),
          minVersion: r.u8(),
          maxVersion: r.u8(),
        };
      case MessageType.probe:
        return { type: MessageType.probe, magic: r.u32() };
      case MessageType.version_select:
        return {
          type: MessageType.version_select,
          magic: r.u32(),
          senderId: r.id(),
          selectedVersion: r.u8(),
        };
      case MessageType.drop_conn:
        return {
          type: MessageType.drop_conn,
          magic: r.u32(),
          senderId: r.id(),
          code: r.u8(),
          description: r.string(),
        };
      case MessageType.originator_syn:
        return { type: MessageType.originator_syn, filter: r.filter() };
      case MessageType.responder_syn_ack:
        return { type: MessageType.responder_syn_ack, filter: r.filter() };
      default:
        return { type: MessageType.originator_ack };
    }
  } catch (e) {
    if (e instanceof Truncated) {
      throw new BrokerError(ErrorCode.invalid_message, `failed to parse ${CPP_NAMES[type]}`, {
        offset: r.pos,
      });
    }
    throw e;
  }
}

/**
 * Broker's name of a message type, for logs and errors.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MessageType, messageTypeName } from "./handshake_messages.ts";
 * equal(messageTypeName(MessageType.drop_conn), "drop_conn");
 * ```
 */
export function messageTypeName(type: number): string {
  return MessageType[type] ?? `p2p_message_type(${type})`;
}
