/**
 * `deno task demo`: builds a Zeek-shaped event, encodes it in Broker's binary
 * format, reads its name lazily, decodes it and prints Broker's text form.
 * (The peering demo replaces this when endpoints land.)
 *
 * @module
 */
import {
  addr,
  count,
  dataToString,
  decode,
  encode,
  EncodedData,
  enumValue,
  port,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";

const conn = vector(
  timestamp(1700000000123456789n),
  str("CHhAvVGS1DHFjwGM9"),
  vector(addr("192.168.1.100"), port(49152, "tcp"), addr("93.184.216.34"), port(443, "tcp")),
  enumValue("tcp"),
  timespan(2345678901n),
  count(1024n),
  set(str("tunnel-b"), str("tunnel-a")),
);
const event = vector(count(1n), count(1n), vector(str("connection_established"), vector(conn)));

const bytes = encode(event);
console.log(`encoded ${bytes.length} bytes:`);
console.log(Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join(""));
const view = EncodedData.from(bytes);
console.log(`validated in WASM; event name read in place: ${view.at(2).at(0).text()}`);
console.log(`decoded: ${dataToString(decode(bytes))}`);
