// Reals in JSON as broker-node's WebSocket API makes them doubles: CAF's
// read_number and read_floating_point, which gather the digits in a double
// and scale it by powers of ten, a rounding at each step, so a third of
// random decimals came out a unit in the last place off the nearest double.
// The bits here are what broker-node forwarded for each text (checked live).
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { dataFromJson } from "./json_read.ts";
import { assertJsonReads } from "../../tests/json_reads.ts";

const json = (x: string) => `{"@data-type":"real","data":${x}}`;

Deno.test("JSON reals come out bit for bit as CAF's reader makes them", () => {
  const read: [string, string][] = [
    ["-941989543.432770", "04c1cc12cf53b76501"],
    ["-501338571.114627", "04c1bde1d1cb1d5831"],
    ["0.21672980046384815", "043fcbbdcd5687c963"],
    ["1.5960421235803823e-228", "0410a35bc4bf6bfc66"],
    ["944.6745793730727", "04408d856589decf3b"],
    ["1.0805286906483291e+75", "044f831c75e53a4e87"],
    ["153e-27", "043ac7acf455ad8bca"],
    ["704505341.787486", "0441c4fef2fee4cc58"],
    ["666e-19", "043c9332366e586804"],
    ["0.34558183504512419", "043fd61e0345e71205"],
    ["1.7182675463542677e+293", "047cd137eec7d2a6d9"],
    ["-169.02045212194093", "04c06520a78b355bd7"],
    ["4.092427925243217e+276", "04795d8cee524c3937"],
    // DBL_MAX's text overflows; the smallest normal's comes out below it.
    ["1.7976931348623157e308", "04fff0000000000000"],
    ["2.2250738585072014e-308", "04000ffffffffffffe"],
    ["0.1", "043fb999999999999a"],
    ["-0.0", "048000000000000000"],
    ["1e400", "04fff0000000000000"],
    ["4.9e-324", "04fcd0000000000000"],
  ];
  assertJsonReads(json, read);
  // CAF reads the integer part as a 64-bit integer: past it, integer_overflow,
  // Broker's own %f of a real from 2^64 up included (checked live); that we
  // read, rounded once, as we read every form Broker writes.
  assert.equal(dataFromJson(json("18446744073709551616.5")).value, 18446744073709551616);
  assert.equal(dataFromJson(json("-1" + "0".repeat(300) + ".000000")).value, -1e300);
  assert.equal(dataFromJson(json("18446744073709551615.5")).value, 18446744073709551615.5);
  assert.equal(dataFromJson(json("-9223372036854775808.5")).value, -9223372036854775808.5);
  // Its exponent range still holds there.
  assert.throws(
    () => dataFromJson(json("18446744073709551616.5e999")),
    (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_json,
  );
});
