/**
 * Broker's peer protocol on the wire: endpoint IDs, TCP framing, handshake
 * messages and node messages (envelopes). Pure functions over bytes; no I/O.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import {
 *   encodeEnvelope,
 *   EnvelopeType,
 *   FrameReader,
 *   newEndpointId,
 *   parseEnvelope,
 * } from "./mod.ts";
 * const reader = new FrameReader();
 * reader.push(encodeEnvelope(
 *   { sender: newEndpointId(), type: EnvelopeType.data, topic: "t", payload: new Uint8Array([0]) },
 *   { prefix: true },
 * ));
 * equal(parseEnvelope(reader.next()!).topic, "t");
 * ```
 *
 * @module
 */
export * from "./endpoint_id.ts";
export * from "./framing.ts";
export * from "./handshake_messages.ts";
export * from "./envelope.ts";
export * from "./outgoing.ts";
