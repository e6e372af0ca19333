/**
 * The messages of Broker's WebSocket JSON API (`/v1/messages/json`), shared by
 * our server and client. Plain data: no Deno APIs, so browsers can use it.
 *
 * @module
 */

import { BrokerError, ErrorCode } from "../errors.ts";
import type { DataBuilder } from "../data/builder.ts";
import { type JsonMessage, readJsonMessage } from "../data/json.ts";
import { transcodeDataMessage } from "../data/json_transcode.ts";
import type { Data } from "../data/types.ts";
import { isReservedTopic } from "../routing/filter.ts";

/** The path Broker serves the API on. */
export const WEB_SOCKET_PATH = "/v1/messages/json";

/** Version reported in the ack, Broker's format (we speak what 2.8.0-dev speaks). */
export const WEB_SOCKET_VERSION = "2.8.0-dev";

/** The server's answer to a client's subscription list. */
export interface AckMessage {
  /** Always "ack". */
  type: "ack";
  /** The server endpoint's ID. */
  endpoint: string;
  /** Broker's version string. */
  version: string;
}

/** An error the server reports; the session goes on unless it says otherwise. */
export interface ErrorMessage {
  /** Always "error". */
  type: "error";
  /** Broker's error code name. */
  code: string;
  /** What went wrong. */
  context: string;
}

/** Builds the ack text. */
export function ackText(endpoint: string): string {
  return JSON.stringify({ type: "ack", endpoint, version: WEB_SOCKET_VERSION });
}

/** Builds an error message text (Broker's form: `code` is the ec name). */
export function errorText(code: string, context: string): string {
  return JSON.stringify({ type: "error", code, context });
}

/**
 * Reads `{"type":"data-message","topic":...,"@data-type":...,"data":...}` in
 * one pass of our Broker-JSON reader (exact 64-bit integers, bare nan/inf as
 * Broker writes them), which yields type, topic and value alike.
 */
export function readDataMessage(text: string): { topic: string; data: Data } {
  return dataMessageOf(readJsonMessage(text));
}

/**
 * Writes a data message's value into `builder` and returns its topic, for
 * the texts `transcodeDataMessage` takes and `readDataMessage` accepts;
 * undefined for any other text (another form, an error, a reserved topic),
 * which `readDataMessage` then reads or refuses. The same bytes either way.
 *
 * @example
 * ```ts
 * import { DataBuilder } from "../data/builder.ts";
 * import { transcodeWebSocketMessage } from "./protocol.ts";
 * const b = new DataBuilder();
 * const message = (topic: string) =>
 *   `{"type":"data-message","topic":"${topic}","@data-type":"count","data":1}`;
 * if (transcodeWebSocketMessage(message("/t"), b) !== "/t") throw new Error("the topic");
 * // A reserved topic: readDataMessage refuses it.
 * if (transcodeWebSocketMessage(message("<$>/local/x"), b) !== undefined) throw new Error("declined");
 * ```
 */
export function transcodeWebSocketMessage(text: string, builder: DataBuilder): string | undefined {
  const topic = transcodeDataMessage(text, builder);
  return topic === undefined || isReservedTopic(topic) ? undefined : topic;
}

/**
 * What `dataMessageOf` throws for JSON that is no object: Broker's server
 * answers such an input `input #N expected a JSON object` (checked live with
 * broker-node), not `contained invalid data`.
 */
export const NOT_AN_OBJECT = "expected a JSON object";

/**
 * The topic and value of a parsed data message (see `readJsonMessage`).
 * As Broker's server (`json_client.cc`), it reads neither `type` nor a
 * `topic` that is no string: such a message is published on the topic ""
 * (which no envelope carries: the endpoint refuses it, and the client hears
 * nothing, as from Broker). Throws `deserialization_failed` for anything
 * but an object with a value, and for a reserved topic unless the message
 * comes `fromServer` (`<$>/local/data/statuses`, say).
 */
export function dataMessageOf(
  message: JsonMessage,
  fromServer = false,
): { topic: string; data: Data } {
  if (!message.fields) throw new BrokerError(ErrorCode.deserialization_failed, NOT_AN_OBJECT);
  const topic = typeof message.fields.topic === "string" ? message.fields.topic : "";
  // A client may not publish there; a server sends its statuses from there.
  if (!fromServer && isReservedTopic(topic)) {
    throw new BrokerError(ErrorCode.deserialization_failed, "reserved topic");
  }
  return { topic, data: message.data() };
}
