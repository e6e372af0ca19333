/**
 * Zeek 8's messages on its ZeroMQ cluster backend (`src/cluster/backend/
 * zeromq/ZeroMQ.cc`): four parts — topic (dotted, e.g.
 * `zeek.cluster.nodeid.<id>.`), the sender's node ID, the payload's format
 * name, the payload. Events use `broker-bin-v1`, Broker's binary format of
 * a Zeek event (`(1, 1, (name, (args...), metadata))`), so our codec reads
 * them; log writes to the logger (`log-write` in the topic part) use
 * `zeek-bin-serializer`, Zeek's own format, and stay bytes here.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count } from "../data/mod.ts";
 * import { Event } from "../zeek/mod.ts";
 * import { eventMessage, parseZeekZmqMessage, zeekZmqMessageParts, zeekZmqEvent } from "./zeek_message.ts";
 * const m = eventMessage("zeek.cluster.manager", "worker-1-id", new Event("Test::ping", [count(1n)]));
 * const back = parseZeekZmqMessage(zeekZmqMessageParts(m));
 * equal(back.topic, "zeek.cluster.manager");
 * equal(zeekZmqEvent(back).name, "Test::ping");
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode, encode } from "../data/binary.ts";
import { Event } from "../zeek/event.ts";

/** Format name of Broker's binary format, Zeek's event serializer on ZeroMQ. */
export const BROKER_BIN_V1 = "broker-bin-v1";
/** Format name of Zeek's own binary serializer, used for log batches. */
export const ZEEK_BIN_SERIALIZER = "zeek-bin-serializer";
/** Topic part of log batches a node PUSHes to a logger. */
export const LOG_WRITE_TOPIC = "log-write";

/** One Zeek message as its four parts say. */
export interface ZeekZmqMessage {
  /** The topic (Zeek's ZeroMQ topics use dots). */
  topic: string;
  /** The sending node's ID (`Cluster::node_id()`). */
  sender: string;
  /** The payload's format: {@link BROKER_BIN_V1} for events, {@link ZEEK_BIN_SERIALIZER} for logs. */
  format: string;
  /** The serialized payload. */
  payload: Uint8Array;
}

const utf8 = new TextEncoder();
const text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function part(bytes: Uint8Array, what: string): string {
  // Topics, node IDs and formats are short ASCII: read them without a call into the runtime.
  if (bytes.length <= 128) {
    let ascii = true;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] >= 0x80) {
        ascii = false;
        break;
      }
    }
    if (ascii) return String.fromCharCode.apply(null, bytes as unknown as number[]);
  }
  try {
    return text.decode(bytes);
  } catch {
    throw new BrokerError(ErrorCode.invalid_message, `Zeek ZeroMQ message: ${what} is not UTF-8`);
  }
}

/**
 * Reads the four parts. Throws `invalid_message` for another number of
 * parts or text parts that are not UTF-8 (Zeek drops such messages too).
 */
export function parseZeekZmqMessage(parts: readonly Uint8Array[]): ZeekZmqMessage {
  if (parts.length !== 4) {
    throw new BrokerError(
      ErrorCode.invalid_message,
      `a Zeek ZeroMQ message has 4 parts (topic, sender, format, payload), not ${parts.length}`,
    );
  }
  return {
    topic: part(parts[0], "topic"),
    sender: part(parts[1], "sender"),
    format: part(parts[2], "format"),
    payload: parts[3],
  };
}

/** The four parts of a message, ready for `encodeMessage`. */
export function zeekZmqMessageParts(m: ZeekZmqMessage): Uint8Array[] {
  return [utf8.encode(m.topic), utf8.encode(m.sender), utf8.encode(m.format), m.payload];
}

/**
 * The event a `broker-bin-v1` message carries. Throws a {@link BrokerError}:
 * `invalid_message` for another format, and the codec's or
 * {@link Event.from}'s errors for a payload that is not a Zeek event.
 */
export function zeekZmqEvent(m: ZeekZmqMessage): Event {
  if (m.format !== BROKER_BIN_V1) {
    throw new BrokerError(
      ErrorCode.invalid_message,
      `Zeek ZeroMQ payload format ${m.format} is not ${BROKER_BIN_V1}`,
    );
  }
  return Event.from(decode(m.payload));
}

/** A message carrying `event` from node `sender` on `topic`, in `broker-bin-v1`. */
export function eventMessage(topic: string, sender: string, event: Event): ZeekZmqMessage {
  return { topic, sender, format: BROKER_BIN_V1, payload: encode(event.toData()) };
}
