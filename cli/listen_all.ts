/**
 * Listening as Broker's tools do when no address is given: `broker-node -p`
 * and `broker-pipe -l` call `listen({}, port)`, which CAF binds to IPv6's
 * any address taking IPv4 too (`*:port`; an IPv4 peer shows as
 * `::ffff:127.0.0.1`), and to IPv4's when the machine has no IPv6. Our
 * `0.0.0.0`, "every interface", means the same.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listenOnAll } from "./listen_all.ts";
 * const hosts: string[] = [];
 * await listenOnAll("0.0.0.0", (host) => (hosts.push(host), Promise.resolve(1)));
 * equal(hosts[0], "::");
 * ```
 *
 * @module
 */
import { listenOn } from "../engine/transport/listen_everywhere.ts";

/**
 * Calls `listen` with `host`, or, for `0.0.0.0`, with `::` (IPv6 and IPv4)
 * and, should that fail, with `0.0.0.0`.
 */
export function listenOnAll<T>(
  host: string,
  listen: (host: string) => Promise<T>,
): Promise<T> {
  return listenOn(host === "0.0.0.0" ? undefined : host, listen);
}
