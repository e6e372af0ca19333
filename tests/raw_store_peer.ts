/**
 * A raw peer's side of Broker's store channel, for tests that drive a store
 * with hand-made commands over real TCP (`tests/raw_peer.ts` has the peer).
 *
 * @module
 */
import { EnvelopeType, parseEndpointId } from "../engine/wire/mod.ts";
import { encodeEnvelope } from "../engine/wire/envelope.ts";
import type { Data } from "../engine/data/mod.ts";
import { type Command, decodeCommand, encodeCommand } from "../engine/store/commands.ts";
import type { Entity } from "../engine/store/entity.ts";
import { LARGER_ID, type RawConn } from "./raw_peer.ts";

/** The raw peer's endpoint ID (it peers as `LARGER_ID`). */
export const RAW = parseEndpointId(LARGER_ID);

/** The raw peer as a master: its entity in the store commands it sends. */
export const RAW_MASTER: Entity = { endpoint: RAW, object: 1n };

/**
 * The raw master's `ack_clone` to the clone `me` (on the clone topic
 * `topic`): the channel starts at `offset` with `state`.
 *
 * @example
 * ```ts ignore
 * await conn.send(ackCloneFrame(storeTopics("kv").clone, await cloneOf(conn), 1n, []));
 * ```
 */
export function ackCloneFrame(
  topic: string,
  me: Entity,
  offset: bigint,
  state: readonly (readonly [Data, Data])[],
): Uint8Array {
  return storeFrame(topic, offset, RAW_MASTER, me, {
    type: "ack_clone",
    offset,
    heartbeatInterval: 5,
    state,
  }, me.endpoint);
}

/**
 * One framed store command from the raw peer.
 *
 * @example
 * ```ts
 * import { storeFrame } from "./raw_store_peer.ts";
 * import { NIL_ENTITY } from "../engine/store/entity.ts";
 * storeFrame("kv/<$>/data/master", 1n, NIL_ENTITY, NIL_ENTITY, { type: "keepalive", seq: 1n });
 * ```
 */
export function storeFrame(
  topic: string,
  seq: bigint,
  sender: Entity,
  receiver: Entity,
  content: Command,
  envelopeReceiver?: Uint8Array,
): Uint8Array {
  return encodeEnvelope({
    sender: RAW,
    receiver: envelopeReceiver,
    type: EnvelopeType.command,
    topic,
    payload: encodeCommand({ seq, sender, receiver, content }),
  }, { prefix: true });
}

/**
 * Reads commands from `c` until a clone's nack (its request for the state)
 * arrives; returns the clone's entity, which the raw master answers.
 *
 * @example
 * ```ts ignore
 * const me = await cloneOf(conn); // after `new StoreClone(ep, "kv")`
 * ```
 */
export async function cloneOf(c: RawConn): Promise<Entity> {
  for (;;) {
    const env = await c.envelope((e) => e.type === EnvelopeType.command, 5_000);
    const cmd = decodeCommand(env.payload);
    if (cmd.content.type === "nack") return cmd.sender;
  }
}
