/**
 * broker-throughput's events as the benches send them: `event_2`, "resembles
 * a line in conn.log" (`broker-throughput -t 2`), as a `Data` value or
 * written field by field with a `DataBuilder` (the Zeek event layout around
 * it is `codec_corpus.ts`'s `zeekEvent`). Shared by `bench/peering.ts`,
 * which sends them, and `bench/vcpu_probe.ts`, which times building them on
 * each CPU.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { DataBuilder, encode } from "../mod.ts";
 * import { connEvent, connEventBuilt } from "./throughput_events.ts";
 * const b = new DataBuilder();
 * connEventBuilt(b);
 * equal(b.finish().length, encode(connEvent()).length); // 236 bytes either way
 * ```
 *
 * @module
 */
import {
  addr,
  bool,
  count,
  type Data,
  type DataBuilder,
  enumValue,
  port,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { zeekEvent } from "./codec_corpus.ts";

const CHARSET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/**
 * broker-throughput's random strings, drawn from a pool made up front: built
 * char by char per message they took ~40% of our publisher's CPU (profiled),
 * which would measure JS string building rather than the engine. The encoder
 * has no string cache, so each string is still encoded per message.
 */
const POOL: string[] = (() => {
  let rng = 31337;
  const out: string[] = [];
  for (let k = 0; k < 65536; k++) {
    let s = "";
    for (let i = 0; i < 10; i++) {
      rng = (rng * 48271) % 2147483647;
      s += CHARSET[rng % CHARSET.length];
    }
    out.push(s);
  }
  return out;
})();
const SHORT = POOL.map((s) => s.slice(0, 5));
let drawn = 0;
const randomString = (n: 5 | 10) => (n === 5 ? SHORT : POOL)[drawn++ & 65535];

let counter = 0;
const A1 = addr("1.2.3.4"), A2 = addr("3.4.5.6");

/**
 * broker-throughput's event type 2 as a `Data` value: fresh strings and
 * counts each call, the time now.
 *
 * @example
 * ```ts
 * import { encode } from "../mod.ts";
 * import { connEvent } from "./throughput_events.ts";
 * if (encode(connEvent()).length !== 236) throw new Error("event_2 is 236 bytes");
 * ```
 */
export function connEvent(): Data {
  return zeekEvent("event_2", [
    timestamp(BigInt(Date.now()) * 1_000_000n),
    str(randomString(10)),
    vector(A1, port(4567, "tcp"), A2, port(80, "tcp")),
    enumValue("tcp"),
    str(randomString(10)),
    timespan(3_140_000_000n),
    count(++counter),
    count(++counter),
    str(randomString(5)),
    bool(true),
    bool(false),
    count(++counter),
    str(randomString(10)),
    count(++counter),
    count(++counter),
    count(++counter),
    count(++counter),
    set(str(randomString(10)), str(randomString(10))),
  ]);
}

/**
 * `connEvent` written field by field into `b` (reset first; its set comes
 * out sorted, as `encode` writes it), as broker-throughput's client writes
 * it with Broker's `list_builder`.
 *
 * @example
 * ```ts
 * import { DataBuilder } from "../mod.ts";
 * import { connEventBuilt } from "./throughput_events.ts";
 * const b = new DataBuilder();
 * connEventBuilt(b);
 * if (b.finish().length !== 236) throw new Error("event_2 is 236 bytes");
 * ```
 */
export function connEventBuilt(b: DataBuilder): void {
  b.reset().beginVector().count(1).count(1).beginVector().str("event_2").beginVector()
    .timestampMs(Date.now())
    .str(randomString(10))
    .beginVector().addr(A1.value).port(4567, "tcp").addr(A2.value).port(80, "tcp").end()
    .enumValue("tcp")
    .str(randomString(10))
    .timespan(3_140_000_000)
    .count(++counter)
    .count(++counter)
    .str(randomString(5))
    .bool(true)
    .bool(false)
    .count(++counter)
    .str(randomString(10))
    .count(++counter)
    .count(++counter)
    .count(++counter)
    .count(++counter)
    .beginSet().str(randomString(10)).str(randomString(10)).end()
    .end().end().end();
}
