// Reals in JSON whose exponent is beyond CAF's reader: broker-node's
// WebSocket API refuses them (checked live: `1.5e999` gives
// `caf::pec::exponent_overflow`), as CAF's read_floating_point refuses any
// exponent beyond ±511 once the fraction's digits are counted in, while
// `-1e400` (-inf) and `1e-400` (0) are in range and read.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { DataBuilder } from "./builder.ts";
import { dataFromJson } from "./json_read.ts";
import { assertJsonRefused } from "../../tests/json_reads.ts";
import { transcodeDataMessage } from "./json_transcode.ts";

const real = (x: string) => `{"@data-type":"real","data":${x}}`;

Deno.test("JSON reals with an exponent beyond ±511 (fraction digits counted) are malformed JSON, as CAF says", () => {
  const refused = [
    "1.5e999",
    "1e512",
    "-1e512",
    "1e-512",
    "1.5e-511",
    "1.5e513",
    "1e99999999999999999999",
    `0.${"0".repeat(511)}1`,
  ];
  for (const x of refused) {
    assert.throws(
      () => dataFromJson(real(x)),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_json,
      x,
    );
    const b = new DataBuilder();
    assert.equal(
      transcodeDataMessage(`{"type":"data-message","topic":"/t",${real(x).slice(1)}`, b),
      undefined,
      x,
    );
  }
  const read: [string, number][] = [
    ["1e511", Infinity],
    ["-1e400", -Infinity],
    ["1e-400", 0],
    ["1.5e-510", 0],
    ["10.0e511", Infinity],
    ["10.00e510", Infinity],
    [`0.${"0".repeat(509)}1`, 0],
    [`0.${"0".repeat(600)}1e600`, 0.1],
    ["1.5e300", 1.5e300],
  ];
  for (const [x, v] of read) assert.equal(dataFromJson(real(x)).value, v, x);
});

Deno.test("JSON timespans whose number's exponent is beyond ±511 are refused, as CAF's timespan reader refuses them", () => {
  const span = (x: string) => `{"@data-type":"timespan","data":"${x}"}`;
  // broker-node: `contained invalid data` for each (checked live).
  assertJsonRefused(span, ["1e-512s", "1e-600s", "1.5e-511s", "1.5e999s", "1e1000ns"]);
  // In range: 0 (below a nanosecond), as broker-node reads them.
  for (const x of ["1e-511s", "1e-400ns", "0.5ns", "1e-10s"]) {
    assert.equal(dataFromJson(span(x)).value, 0n, x);
  }
  assert.equal(dataFromJson(span("1.5e3us")).value, 1_500_000n);
});
