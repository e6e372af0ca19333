/**
 * JSON (WebSocket API) vs binary (peering) encoding of the same Zeek-shaped
 * events, side by side: what a message costs on each path.
 *
 * Run with `deno task bench` (or `deno bench -A bench/json_bench.ts`).
 *
 * @module
 */
import {
  addr,
  bool,
  count,
  dataFromJson,
  dataMessageToJson,
  dataToJson,
  decode,
  encode,
  enumValue,
  none,
  port,
  real,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";

const conn = vector(
  count(1n),
  count(1n),
  vector(
    str("connection_established"),
    vector(vector(
      timestamp(1700000000123000000n),
      str("CHhAvVGS1DHFjwGM9"),
      vector(addr("192.168.1.100"), port(49152, "tcp"), addr("93.184.216.34"), port(443, "tcp")),
      enumValue("tcp"),
      str("ssl"),
      timespan(2345678901n),
      count(1024n),
      count(65536n),
      str("SF"),
      bool(true),
      bool(false),
      count(0n),
      str("ShADadFf"),
      set(str("tunnel-a"), str("tunnel-b")),
      none(),
      real(1.5),
    )),
  ),
);
const binary = encode(conn).slice();
const json = dataToJson(conn);
const sink: { v: unknown } = { v: undefined };

Deno.bench(`binary encode (${binary.length} B)`, { group: "encode", baseline: true }, () => {
  sink.v = encode(conn);
});
Deno.bench(`JSON encode (${json.length} B)`, { group: "encode" }, () => {
  sink.v = dataToJson(conn);
});
Deno.bench(`JSON data-message encode`, { group: "encode" }, () => {
  sink.v = dataMessageToJson("/zeek/events", conn);
});
Deno.bench(`binary decode (${binary.length} B)`, { group: "decode", baseline: true }, () => {
  sink.v = decode(binary);
});
Deno.bench(`JSON decode (${json.length} B)`, { group: "decode" }, () => {
  sink.v = dataFromJson(json);
});
