/**
 * The envelope every Zeek message shares, `(version, type, content)`, and the
 * field checks the message kinds use (Broker's `zeek.hh`).
 *
 * Layout errors are {@link BrokerError}s with one of two codes:
 * `invalid_message` when the value is not shaped like a Zeek message at all
 * (not a vector, too few fields, wrong version, unknown type), `type_clash`
 * when a field is there but has the wrong type, or the message is of another
 * kind than the one asked for.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { count } from "../data/constructors.ts";
import type { Data, EnumData, StringData, VectorData } from "../data/types.ts";

/**
 * The only Zeek message format version (`broker::zeek::ProtocolVersion`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZEEK_PROTOCOL_VERSION } from "./layout.ts";
 * equal(ZEEK_PROTOCOL_VERSION, 1n);
 * ```
 */
export const ZEEK_PROTOCOL_VERSION = 1n;

/**
 * The message types (`broker::zeek::Message::Type`), as carried in field 1.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZeekMessageType } from "./layout.ts";
 * equal(ZeekMessageType.event, 1);
 * ```
 */
export enum ZeekMessageType {
  event = 1,
  log_create = 2,
  log_write = 3,
  identifier_update = 4,
  batch = 5,
}

/**
 * Event metadata keys (`broker::zeek::MetadataType`): 1..199 belong to Zeek,
 * 200 and up are free for users.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { MetadataType } from "./layout.ts";
 * equal(MetadataType.NetworkTimestamp, 1);
 * ```
 */
export enum MetadataType {
  NetworkTimestamp = 1,
  UserMetadataStart = 200,
}

/**
 * Our name of each type, the `kind` of the message classes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ZEEK_KIND_NAMES } from "./layout.ts";
 * equal(ZEEK_KIND_NAMES[3], "log_write");
 * ```
 */
export const ZEEK_KIND_NAMES = {
  1: "event",
  2: "log_create",
  3: "log_write",
  4: "identifier_update",
  5: "batch",
} as const;

/** The `kind` of a Zeek message: `"event"`, `"log_create"`, ... */
export type ZeekKind = (typeof ZEEK_KIND_NAMES)[ZeekMessageType];

/**
 * Throws an `invalid_message` error: the value is not a Zeek message.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { notAMessage } from "./layout.ts";
 * throws(() => notAMessage("too short"), { codeName: "invalid_message" });
 * ```
 */
export function notAMessage(what: string): never {
  throw new BrokerError(ErrorCode.invalid_message, what);
}

/**
 * Throws a `type_clash` error: a field of the message has the wrong type.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { wrongField } from "./layout.ts";
 * throws(() => wrongField("name must be a string"), { codeName: "type_clash" });
 * ```
 */
export function wrongField(what: string): never {
  throw new BrokerError(ErrorCode.type_clash, what);
}

/**
 * Reads the type of a Zeek message the way Broker's `Message::type` does, but
 * with the version and content checked too (Broker's `validate_outer_fields`).
 * Throws `invalid_message` or `type_clash`; returns the type and the content.
 *
 * @example
 * ```ts
 * import { count, str, vector } from "../data/constructors.ts";
 * import { openEnvelope } from "./layout.ts";
 * openEnvelope(vector(count(1n), count(4n), vector(str("x"), count(1n)))).type; // 4
 * ```
 */
export function openEnvelope(data: Data): { type: ZeekMessageType; content: readonly Data[] } {
  if (data.type !== "vector") {
    return notAMessage(`a Zeek message is a vector, not a ${data.type}`);
  }
  const outer = data.value;
  // Broker tolerates fields after the third; they carry nothing it reads.
  if (outer.length < 3) {
    return notAMessage(`a Zeek message has 3 fields (version, type, content), got ${outer.length}`);
  }
  const [version, type, content] = outer;
  if (version.type !== "count") {
    wrongField(`Zeek message version must be a count, not ${version.type}`);
  }
  if (version.value !== ZEEK_PROTOCOL_VERSION) {
    notAMessage(`unsupported Zeek message version ${version.value} (expected 1)`);
  }
  if (type.type !== "count") wrongField(`Zeek message type must be a count, not ${type.type}`);
  if (type.value < 1n || type.value > 5n) notAMessage(`unknown Zeek message type ${type.value}`);
  if (content.type !== "vector") {
    wrongField(`Zeek message content must be a vector, not ${content.type}`);
  }
  return { type: Number(type.value) as ZeekMessageType, content: content.value };
}

/**
 * Opens the envelope and checks it holds the expected type with enough
 * content fields; returns the content.
 *
 * @example
 * ```ts
 * import { count, str, vector } from "../data/constructors.ts";
 * import { openAs, ZeekMessageType } from "./layout.ts";
 * openAs(vector(count(1n), count(4n), vector(str("x"), count(1n))), ZeekMessageType.identifier_update, 2);
 * ```
 */
export function openAs(data: Data, expected: ZeekMessageType, minFields: number): readonly Data[] {
  const { type, content } = openEnvelope(data);
  const name = ZEEK_KIND_NAMES[expected];
  if (type !== expected) {
    wrongField(`expected a Zeek ${name} message, got ${ZEEK_KIND_NAMES[type]}`);
  }
  if (content.length < minFields) {
    notAMessage(`a Zeek ${name} has at least ${minFields} content fields, got ${content.length}`);
  }
  return content;
}

/**
 * Builds `(1, type, (content...))`.
 *
 * @example
 * ```ts
 * import { str } from "../data/constructors.ts";
 * import { envelope, ZeekMessageType } from "./layout.ts";
 * envelope(ZeekMessageType.identifier_update, [str("x"), str("y")]);
 * ```
 */
export function envelope(type: ZeekMessageType, content: readonly Data[]): VectorData {
  return {
    type: "vector",
    value: [count(ZEEK_PROTOCOL_VERSION), count(type), { type: "vector", value: content }],
  };
}

/**
 * Checks that a field is a string (else `type_clash`).
 *
 * @example
 * ```ts
 * import { str } from "../data/constructors.ts";
 * import { stringField } from "./layout.ts";
 * stringField(str("conn"), "path").value; // "conn"
 * ```
 */
export function stringField(d: Data, what: string): StringData {
  if (d.type !== "string") wrongField(`${what} must be a string, not ${d.type}`);
  return d;
}

/**
 * Checks that a field is an enum value (else `type_clash`).
 *
 * @example
 * ```ts
 * import { enumValue } from "../data/constructors.ts";
 * import { enumField } from "./layout.ts";
 * enumField(enumValue("Conn::LOG"), "stream id").value; // "Conn::LOG"
 * ```
 */
export function enumField(d: Data, what: string): EnumData {
  if (d.type !== "enum") wrongField(`${what} must be an enum value, not ${d.type}`);
  return d;
}

/**
 * Checks that a field is a vector (else `type_clash`); returns its elements.
 *
 * @example
 * ```ts
 * import { count, vector } from "../data/constructors.ts";
 * import { vectorField } from "./layout.ts";
 * vectorField(vector(count(1n)), "args").length; // 1
 * ```
 */
export function vectorField(d: Data, what: string): readonly Data[] {
  if (d.type !== "vector") wrongField(`${what} must be a vector, not ${d.type}`);
  return d.value;
}
