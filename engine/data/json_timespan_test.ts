// Timespan text as broker-node's WebSocket API reads it: its number as
// CAF's read_floating_point reads one (no digit after a leading 0 but a
// point, blanks and tabs before it) into a double, then the unit (CAF's:
// no days), the two multiplied in doubles and truncated. Each case checked
// live: the bytes broker-node forwarded, or its `deserialization_failed`.
import assert from "node:assert/strict";
import { DataBuilder } from "./builder.ts";
import { transcodeDataMessage } from "./json_transcode.ts";
import { assertJsonReads, assertJsonRefused } from "../../tests/json_reads.ts";

const json = (s: string) => `{"@data-type":"timespan","data":${JSON.stringify(s)}}`;

Deno.test("JSON timespans: the number's forms CAF's reader takes and refuses", () => {
  const read: [string, string][] = [
    ["0.5e1s", "0a000000012a05f200"],
    ["\t1s", "0a000000003b9aca00"],
    [" 1s", "0a000000003b9aca00"],
    ["+.5s", "0a000000001dcd6500"],
    ["-.5e1ms", "0affffffffffb3b4c0"],
    ["5.s", "0a000000012a05f200"],
    ["0.0s", "0a0000000000000000"],
    ["-0s", "0a0000000000000000"],
    ["1.5e-7s", "0a0000000000000096"],
    ["2.675ms", "0a000000000028d138"],
    ["1e-9s", "0a0000000000000001"],
    ["2562047h", "0a7ffffd6b7e476000"],
    ["7ns", "0a0000000000000007"],
    // The double's rounding: a nanosecond short, 123456789123456800 ns.
    ["67292.89351862s", "0a00003d33d9039b1b"],
    ["123456789.123456789s", "0a01b69b4bacd05f20"],
    ["9007199254740993ns", "0a0020000000000000"],
    // Past int64 (INT64_MAX's double is 2^63): x86's conversion, INT64_MIN.
    ["9223372036854775807ns", "0a8000000000000000"],
    ["9300000000s", "0a8000000000000000"],
    ["1e19ns", "0a8000000000000000"],
    ["-1e19ns", "0a8000000000000000"],
    ["1e400s", "0a8000000000000000"],
    ["-9223372036.854775808s", "0a8000000000000000"],
  ];
  assertJsonReads(json, read);
  const refused = ["0e3s", "00s", "01s", "007ns", "\n1s", ".e1s", "1e3", "1 s", "1d", "2d"];
  assertJsonRefused(json, refused);
  for (const text of refused) {
    const b2 = new DataBuilder();
    assert.equal(
      transcodeDataMessage(`{"type":"data-message","topic":"/t",${json(text).slice(1)}`, b2),
      undefined,
      JSON.stringify(text),
    );
  }
});
