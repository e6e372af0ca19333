/**
 * Entity IDs (`broker::entity_id`): an endpoint ID plus an object ID, naming
 * one store actor (master, clone, writer) across the network.
 *
 * On the wire an entity is the 16 endpoint bytes followed by the object ID as
 * u64 BE; the nil entity is 24 zero bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entity, entityToString } from "./entity.ts";
 * const e = entity(new Uint8Array(16).fill(0x11), 6n);
 * equal(entityToString(e), "6@11111111-1111-1111-1111-111111111111");
 * ```
 *
 * @module
 */
import {
  ENDPOINT_ID_SIZE,
  type EndpointId,
  endpointIdToString,
  NIL_ENDPOINT_ID,
} from "../wire/endpoint_id.ts";

/** A store actor's identity: its endpoint and a per-endpoint object number. */
export interface Entity {
  /** 16-byte endpoint ID (shared, never mutated). */
  readonly endpoint: EndpointId;
  /** Object ID, u64. */
  readonly object: bigint;
}

/**
 * Size of an encoded entity: 16 + 8 bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ENTITY_SIZE } from "./entity.ts";
 * equal(ENTITY_SIZE, 24);
 * ```
 */
export const ENTITY_SIZE: number = ENDPOINT_ID_SIZE + 8;

/**
 * The nil entity (nil endpoint, object 0): "no receiver" in commands.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isNilEntity, NIL_ENTITY } from "./entity.ts";
 * equal(isNilEntity(NIL_ENTITY), true);
 * ```
 */
export const NIL_ENTITY: Entity = Object.freeze({ endpoint: NIL_ENDPOINT_ID, object: 0n });

/**
 * Builds an entity.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entity } from "./entity.ts";
 * equal(entity(new Uint8Array(16), 7n).object, 7n);
 * ```
 */
export function entity(endpoint: EndpointId, object: bigint): Entity {
  return { endpoint, object };
}

/**
 * Whether this is the nil entity. Broker's test (`entity_id::operator bool`)
 * looks at the endpoint only, so an object ID alone does not make it non-nil.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entity, isNilEntity } from "./entity.ts";
 * equal(isNilEntity(entity(new Uint8Array(16), 3n)), true);
 * ```
 */
export function isNilEntity(e: Entity): boolean {
  for (let i = 0; i < ENDPOINT_ID_SIZE; i++) if (e.endpoint[i] !== 0) return false;
  return true;
}

/**
 * Equality of endpoint and object.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entity, entityEquals } from "./entity.ts";
 * const id = new Uint8Array(16).fill(1);
 * equal(entityEquals(entity(id, 1n), entity(id.slice(), 1n)), true);
 * ```
 */
export function entityEquals(a: Entity, b: Entity): boolean {
  if (a.object !== b.object) return false;
  for (let i = 0; i < ENDPOINT_ID_SIZE; i++) if (a.endpoint[i] !== b.endpoint[i]) return false;
  return true;
}

/**
 * A string usable as a Map key (equal entities give equal keys).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entity, entityKey } from "./entity.ts";
 * equal(entityKey(entity(new Uint8Array(16), 2n)).length > 0, true);
 * ```
 */
export function entityKey(e: Entity): string {
  // Latin-1 characters of the bytes: cheaper than hex and still unique. The
  // decoder reuses one array per endpoint ID, so its part is computed once.
  let id = endpointKeys.get(e.endpoint);
  if (id === undefined) {
    id = String.fromCharCode(...e.endpoint);
    endpointKeys.set(e.endpoint, id);
  }
  const o = e.object;
  return id + (o <= 0xffffffffn ? Number(o) : o).toString(16);
}

const endpointKeys = new WeakMap<Uint8Array, string>();

/**
 * Broker's text form `object@endpoint-uuid`, or `none` for the nil entity.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { entityToString, NIL_ENTITY } from "./entity.ts";
 * equal(entityToString(NIL_ENTITY), "none");
 * ```
 */
export function entityToString(e: Entity): string {
  if (e.object === 0n && isNilEntity(e)) return "none";
  return `${e.object}@${endpointIdToString(e.endpoint)}`;
}
