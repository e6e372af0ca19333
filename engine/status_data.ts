/**
 * Status and error events as Broker publishes them to the endpoint's own
 * subscribers and WebSocket clients: data messages on
 * `<$>/local/data/statuses` and `<$>/local/data/errors`, laid out as
 * Broker's `convert(status, data)` and `convert(error, data)` write them
 * (`status.cc`, `error.cc`, `endpoint_info.cc`).
 *
 * @module
 */
import { count, type Data, enumValue, none, port, str, vector } from "./data/mod.ts";
import type { PeerInfo, StatusEvent } from "./status.ts";

/** Where Broker publishes status changes inside an endpoint. */
export const STATUS_TOPIC = "<$>/local/data/statuses";

/** Where Broker publishes errors inside an endpoint. */
export const ERROR_TOPIC = "<$>/local/data/errors";

/**
 * The topic `event` goes out on.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statusTopicOf } from "./status_data.ts";
 * import { statusEvent, StatusCode } from "./status.ts";
 * equal(statusTopicOf(statusEvent(StatusCode.peer_added, "x")), "<$>/local/data/statuses");
 * ```
 */
export function statusTopicOf(event: Pick<StatusEvent, "kind">): string {
  return event.kind === "status" ? STATUS_TOPIC : ERROR_TOPIC;
}

/**
 * `event` as Broker's data: `["status", code, endpoint_info, message]`, or
 * `["error", code, [endpoint_info, message]]` (`[message]` without a peer).
 * An `endpoint_info` is `[id, address, port/tcp, retry]`, its last three
 * none without an address (and, as Broker has them, for
 * `endpoint_discovered` and `endpoint_unreachable`), the ID none without
 * one; the retry is the peering's in seconds (`PeerInfo.retry`), 0 without
 * one, as for an accepted peering and Broker's WebSocket clients.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { statusToData } from "./status_data.ts";
 * import { statusEvent, StatusCode } from "./status.ts";
 * import { dataToString } from "./data/mod.ts";
 * const e = statusEvent(StatusCode.peer_lost, "lost connection to client", {
 *   id: "a9857a2d-5c4e-55f0-b514-01bc1c2a3f3a", host: "127.0.0.1", port: 40856,
 * });
 * equal(
 *   dataToString(statusToData(e)),
 *   "(status, peer_lost, (a9857a2d-5c4e-55f0-b514-01bc1c2a3f3a, 127.0.0.1, 40856/tcp, 0), lost connection to client)",
 * );
 * ```
 */
export function statusToData(
  event: Pick<StatusEvent, "kind" | "codeName" | "message" | "peer">,
): Data {
  const code = enumValue(event.codeName);
  if (event.kind === "status") {
    // Broker names the node alone when it finds or loses one (core_actor.cc).
    const alone = event.codeName === "endpoint_discovered" ||
      event.codeName === "endpoint_unreachable";
    const peer = alone ? { id: event.peer?.id } : event.peer ?? {};
    return vector(str("status"), code, endpointInfo(peer), str(event.message));
  }
  const context = event.peer
    ? vector(endpointInfo(event.peer), str(event.message))
    : vector(str(event.message));
  return vector(str("error"), code, context);
}

function endpointInfo(peer: PeerInfo): Data {
  const id = peer.id === undefined ? none() : str(peer.id);
  const p = peer.port;
  // A port no TCP peer can have (a caller's typo) has no network part: never a throw here.
  if (
    peer.host === undefined || p === undefined || !(Number.isInteger(p) && p >= 0 && p <= 65535)
  ) {
    return vector(id, none(), none(), none());
  }
  return vector(id, str(peer.host), port(p, "tcp"), count(BigInt(peer.retry ?? 0)));
}
