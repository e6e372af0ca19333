import assert from "node:assert/strict";
import { resolveEndpointOptions } from "./endpoint_options.ts";
import { BrokerError, ErrorCode } from "./errors.ts";

const refused = (name: string) => (e: unknown) =>
  e instanceof BrokerError && e.code === ErrorCode.invalid_data && e.message.startsWith(name);

Deno.test("endpoint options: sizes, Broker's uint16 settings and the metrics options are checked at once", () => {
  for (const peerBufferSize of [0, -1, 1.5, 1e20]) {
    assert.throws(() => resolveEndpointOptions({ peerBufferSize }), refused("peerBufferSize"));
  }
  // A metrics port or export interval no listener or timer can take was found only later
  // (a RangeError from the exporter, or a failed listen); a ttl beyond uint16 was kept.
  for (const v of [-1, 65536, 1.5, NaN]) {
    assert.throws(() => resolveEndpointOptions({ ttl: v }), refused("ttl"));
    assert.throws(() => resolveEndpointOptions({ metricsPort: v }), refused("metricsPort"));
  }
  for (const v of [0, -5, NaN, Infinity]) {
    assert.throws(
      () => resolveEndpointOptions({ metricsExportTopic: "/m", metricsExportIntervalMs: v }),
      refused("metricsExportIntervalMs"),
    );
  }
  // The edges are taken.
  assert.equal(resolveEndpointOptions({ ttl: 0 }).ttl, 0);
  assert.equal(resolveEndpointOptions({ ttl: 65535 }).ttl, 65535);
  resolveEndpointOptions({ metricsPort: 0, metricsExportIntervalMs: 0.5 });
});
