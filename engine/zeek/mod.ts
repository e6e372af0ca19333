/**
 * Zeek's message layouts on top of Broker data (protocol version 1): events,
 * log-create, log-write, identifier updates and batches. Each class builds
 * the data (`toData()`) and parses it (`from()`), checked as Broker's
 * `valid()` checks it; {@link parseZeekMessage} picks the kind.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, decode, encode } from "../../mod.ts";
 * import { Event, parseZeekMessage } from "./mod.ts";
 * const bytes = encode(new Event("ping", [count(1n)]).toData());
 * const msg = parseZeekMessage(decode(bytes));
 * equal(msg.kind === "event" && msg.name, "ping");
 * ```
 *
 * @module
 */
export {
  MetadataType,
  ZEEK_KIND_NAMES,
  ZEEK_PROTOCOL_VERSION,
  type ZeekKind,
  ZeekMessageType,
} from "./layout.ts";
export { Event, type EventOptions, type MetadataEntry } from "./event.ts";
export { LogCreate, type LogCreateOptions } from "./log_create.ts";
export { LogWrite, type LogWriteOptions } from "./log_write.ts";
export { IdentifierUpdate, type IdentifierUpdateOptions } from "./identifier_update.ts";
export { Batch, parseZeekMessage, type ZeekMessage, zeekMessageType } from "./message.ts";
