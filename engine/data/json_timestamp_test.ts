// Timestamp text as broker-node's WebSocket API reads it (CAF's
// read_timestamp; each case checked live: the bytes broker-node forwarded,
// or its `deserialization_failed`).
import assert from "node:assert/strict";
import { dataFromJson } from "./json_read.ts";
import { assertJsonRefused } from "../../tests/json_reads.ts";

const ts = (s: string) => `{"@data-type":"timestamp","data":"${s}"}`;

Deno.test("JSON timestamps: a year as CAF reads an integer (no sign, a leading 0 octal), a point without digits at the end, at most nine digits after it", () => {
  const read: [string, bigint][] = [
    ["2023-11-14T22:13:20", 1_700_000_000_000_000_000n],
    ["2023-11-14T22:13:20.", 1_700_000_000_000_000_000n],
    ["1970-01-01T00:00:00.", 0n],
    // 03747 is octal: the year 2023.
    ["03747-11-14T22:13:20", 1_700_000_000_000_000_000n],
    ["2023-11-14T22:13:20.123456789Z", 1_700_000_000_123_456_789n],
  ];
  for (const [text, ns] of read) assert.equal(dataFromJson(ts(text)).value, ns, text);
  assertJsonRefused(ts, [
    "+2023-11-14T22:13:20",
    "-0001-01-01T00:00:00",
    "02023-11-14T22:13:20", // octal 1043: out of range (Broker's wraps around)
    "0999-11-14T22:13:20", // 9 is no octal digit
    "2023-11-14T22:13:20.Z",
    "1970-01-01T00:00:00.+01",
    // CAF reads at most nine digits of a second's fraction: a tenth is trailing text.
    "2023-11-14T22:13:20.1234567891",
    "2023-11-14T22:13:20.0000000000Z",
    "2023-11-14T22:13:20.1234567891+01:00",
  ]);
});
