/**
 * Endpoint IDs: the 16-byte UUIDs that name Broker endpoints on the wire.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { endpointIdToString, newEndpointId, parseEndpointId } from "./endpoint_id.ts";
 * const id = newEndpointId();
 * deepEqual(parseEndpointId(endpointIdToString(id)), id);
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";

/**
 * A 16-byte endpoint ID (`broker::endpoint_id`, a CAF UUID). Treated as
 * immutable everywhere: share it, never write into it.
 */
export type EndpointId = Uint8Array;

/** Size of an endpoint ID in bytes. */
export const ENDPOINT_ID_SIZE = 16;

/**
 * The nil ID (16 zero bytes): "no receiver" (broadcast) in node messages.
 * Typed arrays cannot be frozen, so this is shared by convention: do not modify it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { endpointIdToString, NIL_ENDPOINT_ID } from "./endpoint_id.ts";
 * equal(endpointIdToString(NIL_ENDPOINT_ID), "00000000-0000-0000-0000-000000000000");
 * ```
 */
export const NIL_ENDPOINT_ID: EndpointId = new Uint8Array(ENDPOINT_ID_SIZE);

/**
 * A fresh random ID, built like CAF's `uuid::random()` (version nibble 5,
 * variant bits `10`) so IDs look the same as the C++ side's. Peers never
 * check these bits.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { endpointIdToString, newEndpointId } from "./endpoint_id.ts";
 * equal(endpointIdToString(newEndpointId())[14], "5"); // the version nibble
 * ```
 */
export function newEndpointId(): EndpointId {
  const id = crypto.getRandomValues(new Uint8Array(ENDPOINT_ID_SIZE));
  id[6] = (id[6] & 0x0f) | 0x50;
  id[8] = (id[8] & 0x3f) | 0x80;
  return id;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * The UUID text form, lowercase `8-4-4-4-12`, as Broker prints IDs.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { endpointIdToString } from "./endpoint_id.ts";
 * equal(endpointIdToString(new Uint8Array(16).fill(0x11)), "11111111-1111-1111-1111-111111111111");
 * ```
 */
export function endpointIdToString(id: EndpointId): string {
  let s = "";
  for (let i = 0; i < ENDPOINT_ID_SIZE; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += "-";
    s += HEX[id[i]];
  }
  return s;
}

const UUID_TEXT = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * Parses the `8-4-4-4-12` text form (either case). Throws
 * `BrokerError(invalid_data)` for anything else.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseEndpointId } from "./endpoint_id.ts";
 * equal(parseEndpointId("22222222-2222-4222-8222-222222222222")[6], 0x42);
 * ```
 */
export function parseEndpointId(text: string): EndpointId {
  if (!UUID_TEXT.test(text)) {
    throw new BrokerError(ErrorCode.invalid_data, `not an endpoint ID: ${JSON.stringify(text)}`);
  }
  const digits = text.replaceAll("-", "");
  const id = new Uint8Array(ENDPOINT_ID_SIZE);
  for (let i = 0; i < ENDPOINT_ID_SIZE; i++) id[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16);
  return id;
}

/**
 * Broker's ID order (`memcmp`): negative, zero or positive. The smaller ID
 * becomes the handshake originator.
 *
 * @example
 * ```ts
 * import { compareEndpointIds, parseEndpointId } from "./endpoint_id.ts";
 * const a = parseEndpointId("11111111-1111-4111-8111-111111111111");
 * const b = parseEndpointId("22222222-2222-4222-8222-222222222222");
 * if (!(compareEndpointIds(a, b) < 0)) throw new Error("a sorts first");
 * ```
 */
export function compareEndpointIds(a: EndpointId, b: EndpointId): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i] - b[i];
  }
  return a.length - b.length;
}

/**
 * Whether two IDs hold the same bytes.
 *
 * @example
 * ```ts
 * import { endpointIdsEqual, NIL_ENDPOINT_ID } from "./endpoint_id.ts";
 * if (!endpointIdsEqual(new Uint8Array(16), NIL_ENDPOINT_ID)) throw new Error("same bytes");
 * ```
 */
export function endpointIdsEqual(a: EndpointId, b: EndpointId): boolean {
  return compareEndpointIds(a, b) === 0;
}

/**
 * Whether an ID is the nil ID (all zero).
 *
 * @example
 * ```ts
 * import { isNilEndpointId, NIL_ENDPOINT_ID, newEndpointId } from "./endpoint_id.ts";
 * if (!isNilEndpointId(NIL_ENDPOINT_ID)) throw new Error("all zero");
 * if (isNilEndpointId(newEndpointId())) throw new Error("a fresh ID is never nil");
 * ```
 */
export function isNilEndpointId(id: EndpointId): boolean {
  for (let i = 0; i < id.length; i++) if (id[i] !== 0) return false;
  return true;
}
