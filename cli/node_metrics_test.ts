// broker node's `broker.metrics.*` settings: from the config file, the
// BROKER_METRICS_* variables and the command line, into the node's options;
// and broker gateway's metrics port.
import assert from "node:assert/strict";
import { parseCafConfig } from "./caf_config.ts";
import { resolveNodeOptions } from "./node_options.ts";
import { resolveGatewayOptions, runGateway } from "./gateway_command.ts";
import { UsageError } from "./cli_values.ts";
import { Endpoint } from "../mod.ts";
import { spawnCli } from "../tests/cli_child.ts";

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

Deno.test("broker gateway: --broker.metrics.port serves the gateway's counters", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const o = resolveGatewayOptions({
    "external.port": "0",
    "external.address": "127.0.0.1",
    "internal.port": "0",
    "internal.address": "127.0.0.1",
    "broker.metrics.port": "0",
    "broker.metrics.address": "127.0.0.1",
  });
  assert.deepEqual(o.metrics, { port: 0, address: "127.0.0.1" });
  assert.throws(
    () =>
      resolveGatewayOptions({
        "external.port": "0",
        "internal.port": "0",
        "broker.metrics.address": "127.0.0.1",
      }),
    UsageError,
  );
  const out: string[] = [];
  const { promise: stop, resolve } = Promise.withResolvers<void>();
  const running = runGateway(o, { out: (l) => out.push(l), err: () => {}, stop });
  try {
    while (!out.some((l) => l.startsWith("*** metrics: listening on"))) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const port = Number(/:(\d+)$/.exec(out.find((l) => l.startsWith("*** metrics"))!)![1]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert.match(text, /broker_gateway_messages_total\{direction="inward"\} 0/);
    assert.match(text, /broker_connections\{type="native"\} 0/);
  } finally {
    resolve();
    assert.equal(await running, 0);
  }
});

Deno.test({
  name:
    "broker node: a metrics export interval of 0s is Broker's default (1 s), as metric_exporter_params::from makes it, not an error",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const o = resolveNodeOptions({ topics: '["/t"]', disableSsl: true }, undefined, {
      BROKER_METRICS_EXPORT_INTERVAL: "0s",
      BROKER_METRICS_EXPORT_TOPIC: "/m/n1",
    });
    assert.equal(o.metrics?.exportTopic, "/m/n1");
    assert.equal(o.metrics?.exportIntervalMs, undefined);
    // Live: the node runs and its exports reach a collector.
    const collector = new Endpoint({ metricsImportTopics: ["/m/"] });
    const port = await collector.listen("127.0.0.1", 0);
    const node = spawnCli([
      "node",
      "--disable-ssl",
      '--topics=["/t"]',
      `--peers=[<tcp://127.0.0.1:${port}>]`,
      "--broker.metrics.export.interval=0s",
      "--broker.metrics.export.topic=/m/n1",
    ]);
    let exited = false;
    node.child.status.then(() => exited = true);
    try {
      while (!("n1" in collector.status()["imported-metrics"])) {
        assert.equal(exited, false, `the node exited: ${node.err()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      await node.stop();
      await collector.shutdown();
    }
  },
});
