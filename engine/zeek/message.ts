/**
 * Any Zeek message: the union of the five kinds, the parser that picks the
 * kind, and batches, whose elements are themselves any Zeek message (which is
 * why the batch lives here with the parser).
 *
 * @module
 */
import type { Data, VectorData } from "../data/types.ts";
import { Event } from "./event.ts";
import { IdentifierUpdate } from "./identifier_update.ts";
import { envelope, openAs, openEnvelope, ZeekMessageType } from "./layout.ts";
import { LogCreate } from "./log_create.ts";
import { LogWrite } from "./log_write.ts";

/** Any Zeek message; `kind` tells which. */
export type ZeekMessage = Event | LogCreate | LogWrite | IdentifierUpdate | Batch;

/**
 * A batch of Zeek messages: `(1, 5, (message, message, ...))`. Batches may
 * nest; one invalid element makes the whole batch invalid, as in Broker.
 *
 * @example
 * ```ts
 * import { Batch, count, Event, str } from "../../mod.ts";
 * const batch = new Batch([new Event("a", [count(1n)]), new Event("b", [str("two")])]);
 * Batch.from(batch.toData()).messages.length; // 2
 * ```
 */
export class Batch {
  /** Discriminates the {@link ZeekMessage} union. */
  readonly kind = "batch" as const;
  /** The messages, in order. */
  readonly messages: readonly ZeekMessage[];

  /** Builds a batch. */
  constructor(messages: readonly ZeekMessage[]) {
    this.messages = messages;
  }

  /**
   * Parses a batch and every message in it. Throws a {@link BrokerError}:
   * `invalid_message` or `type_clash`, for the batch or any element.
   */
  static from(data: Data): Batch {
    const content = openAs(data, ZeekMessageType.batch, 0);
    return new Batch(content.map(parseZeekMessage));
  }

  /** The message as Broker data, ready to publish. */
  toData(): VectorData {
    return envelope(ZeekMessageType.batch, this.messages.map((m) => m.toData()));
  }
}

/**
 * Parses any Zeek message into its class, checked as Broker's `valid()`
 * checks it. Throws a {@link BrokerError}: `invalid_message` when the value
 * is not a Zeek message (not a vector, too few fields, version other than 1,
 * unknown type), `type_clash` when a field has the wrong type.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, parseZeekMessage, str, vector } from "../../mod.ts";
 * const msg = parseZeekMessage(vector(count(1n), count(1n), vector(str("ping"), vector(count(1n)))));
 * if (msg.kind !== "event") throw new Error(`not an event: ${msg.kind}`);
 * equal(msg.name, "ping");
 * equal(msg.args.length, 1);
 * ```
 */
export function parseZeekMessage(data: Data): ZeekMessage {
  switch (openEnvelope(data).type) {
    case ZeekMessageType.event:
      return Event.from(data);
    case ZeekMessageType.log_create:
      return LogCreate.from(data);
    case ZeekMessageType.log_write:
      return LogWrite.from(data);
    case ZeekMessageType.identifier_update:
      return IdentifierUpdate.from(data);
    case ZeekMessageType.batch:
      return Batch.from(data);
  }
}

/**
 * The type a value claims as a Zeek message, read as cheaply as Broker's
 * `Message::type` (a vector of at least three with a count from 1 to 5 in
 * field 1), without validating anything else; undefined otherwise.
 *
 * @example
 * ```ts
 * import { count, str, vector, zeekMessageType } from "../../mod.ts";
 * zeekMessageType(vector(count(1n), count(4n), vector(str("x"), count(1n)))); // 4
 * zeekMessageType(str("hello")); // undefined
 * ```
 */
export function zeekMessageType(data: Data): ZeekMessageType | undefined {
  if (data.type !== "vector" || data.value.length < 3) return undefined;
  const t = data.value[1];
  return t.type === "count" && t.value >= 1n && t.value <= 5n
    ? Number(t.value) as ZeekMessageType
    : undefined;
}
