// broker node's `broker.metrics.*` settings: from the config file, the
// BROKER_METRICS_* variables and the command line, into the node's options.
import assert from "node:assert/strict";
import { parseCafConfig } from "./caf_config.ts";
import { resolveNodeOptions } from "./node_options.ts";

Deno.test("broker.metrics.* from a config file, the environment over it", () => {
  const cfg = parseCafConfig(`
broker {
  metrics {
    port = 9100
    address = "127.0.0.1"
    endpoint-name = "w1"
    export { topic = "/zeek/metrics/w1", interval = 250ms, prefixes = ["broker"] }
    import { topics = ["/zeek/metrics/"] }
  }
}`);
  assert.deepEqual(resolveNodeOptions({ topics: '["/t"]' }, cfg).metrics, {
    port: 9100,
    address: "127.0.0.1",
    endpointName: "w1",
    exportTopic: "/zeek/metrics/w1",
    exportIntervalMs: 250,
    exportPrefixes: ["broker"],
    importTopics: ["/zeek/metrics/"],
  });
  const env = resolveNodeOptions({ topics: '["/t"]' }, cfg, {
    BROKER_METRICS_PORT: "9200",
    BROKER_METRICS_EXPORT_TOPIC: "/m/x",
  }).metrics!;
  assert.equal(env.port, 9200);
  assert.equal(env.exportTopic, "/m/x");
});

Deno.test("without broker.metrics.* the node has no metrics options; a port alone binds 0.0.0.0", () => {
  assert.equal(resolveNodeOptions({ topics: '["/t"]' }).metrics, undefined);
  assert.deepEqual(
    resolveNodeOptions({ topics: '["/t"]' }, undefined, { BROKER_METRICS_PORT: "9300/tcp" })
      .metrics,
    { port: 9300, address: "0.0.0.0" },
  );
});
