/**
 * The values the codec benches decode and encode (`codec_bench.ts`,
 * `codec_interleaved.ts`): a Zeek `connection_state_remove` event with a
 * conn record, the same event with distinct uids, and a small vector of
 * scalars; and `toPlain`, the same content as plain JS for msgpackr, cbor-x
 * and JSON (64-bit integers stay bigints, addresses are their 16 bytes).
 *
 * @module
 */
import {
  addr,
  bool,
  count,
  type Data,
  enumValue,
  none,
  port,
  PROTOCOLS,
  real,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";

/** The event's name. */
export const EVENT_NAME = "connection_state_remove";

/**
 * A Zeek event message (version 1, type 1) as Broker encodes it:
 * [1, 1, [name, args]].
 *
 * @example
 * ```ts
 * import { integer, str } from "../mod.ts";
 * import { zeekEvent } from "./codec_corpus.ts";
 * const ev = zeekEvent("event_1", [integer(42), str("test")]); // broker-throughput -t 1
 * ```
 */
export function zeekEvent(name: string, args: Data[]): Data {
  return vector(count(1), count(1), vector(str(name), vector(...args)));
}

/** A conn record with this uid and set of tunnel parent uids. */
export function connRecord(
  uid = "CHhAvVGS1DHFjwGM9",
  uids = ["CjhGID4nQcgTWjvg4c", "Cx7Hg81kqGmrZ2w9Ae"],
): Data {
  return vector(
    timestamp(1700000000123456789n),
    str(uid),
    vector(addr("192.168.1.102"), port(49152, "tcp"), addr("93.184.216.34"), port(443, "tcp")),
    enumValue("tcp"),
    str("ssl"),
    timespan(1234567890n),
    count(5123n),
    count(987654n),
    str("SF"),
    bool(true),
    bool(false),
    count(0n),
    str("ShADadFf"),
    count(42n),
    count(7311n),
    count(712n),
    count(1024512n),
    set(...uids.map(str)),
    none(),
    real(0.25),
  );
}

/** The conn event (275 bytes encoded). */
export const CONN_EVENT: Data = zeekEvent(EVENT_NAME, [connRecord()]);

/** A small vector of scalars (27 bytes encoded). */
export const SMALL_SCALARS: Data = vector(count(42n), str("hello"), real(1.5));

/** A Zeek-like uid ("C" and 17 base-62 digits), distinct for each i. */
export function uid(i: number, salt: number): string {
  const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  let x = (i + 1) * 2654435761 + salt, s = "C";
  for (let k = 0; k < 17; k++) {
    s += digits[x % 62];
    x = Math.floor(x / 62) + k * 7919;
  }
  return s;
}

/**
 * The conn event with fresh uids: its three uids differ for every i, as they
 * do between connections in a real stream, so a cache of repeated text
 * cannot serve them.
 */
export function connWithUids(i: number): Data {
  return zeekEvent(EVENT_NAME, [connRecord(uid(i, 0), [uid(i, 1), uid(i, 2)].sort())]);
}

/** The same logical content as a plain JS structure (see the module doc). */
export function toPlain(d: Data): unknown {
  switch (d.type) {
    case "none":
      return null;
    case "boolean":
    case "real":
    case "string":
    case "enum":
      return d.value;
    case "count":
    case "integer":
    case "timestamp":
    case "timespan":
      return d.value;
    case "address":
      return d.value.bytes.slice();
    case "subnet":
      return [d.value.address.bytes.slice(), d.value.rawLength];
    case "port":
      return [d.value.number, PROTOCOLS.indexOf(d.value.protocol)];
    case "set":
    case "vector":
      return d.value.map(toPlain);
    case "table":
      return d.value.map(([k, v]) => [toPlain(k), toPlain(v)]);
  }
}
