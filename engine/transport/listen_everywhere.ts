/**
 * Listening on every interface as Broker binds it when no address is given
 * (`listen({}, port)` in broker-node and broker-pipe, Zeek's empty
 * `Broker::default_listen_address`): CAF binds IPv6's any address, which
 * takes IPv4 too (`*:port`; an IPv4 peer shows as `::ffff:127.0.0.1`), and
 * IPv4's when the machine has no IPv6.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listenEverywhere } from "./listen_everywhere.ts";
 * const hosts: string[] = [];
 * await listenEverywhere((host) => (hosts.push(host), Promise.resolve(1)));
 * equal(hosts[0], "::");
 * ```
 *
 * @module
 */

/**
 * Calls `listen` with `host`, or without one, everywhere (`listenEverywhere`):
 * how the listeners with an optional address (a gateway's sides, the
 * ZeroMQ bridge's Broker side) bind.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listenOn } from "./listen_everywhere.ts";
 * equal(await listenOn("127.0.0.1", (host) => Promise.resolve(host)), "127.0.0.1");
 * equal(await listenOn(undefined, (host) => Promise.resolve(host)), "::");
 * ```
 */
export function listenOn<T>(
  host: string | undefined,
  listen: (host: string) => Promise<T>,
): Promise<T> {
  return host === undefined ? listenEverywhere(listen) : listen(host);
}

/** Calls `listen` with `::` (IPv6 and IPv4) and, should that fail, with `0.0.0.0`. */
export async function listenEverywhere<T>(listen: (host: string) => Promise<T>): Promise<T> {
  try {
    return await listen("::");
  } catch {
    return await listen("0.0.0.0");
  }
}
