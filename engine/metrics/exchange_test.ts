import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";

Deno.test({
  name:
    "an export to a topic ending in / is named by Broker's topic suffix, the empty string, where a collector files it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const collector = new Endpoint({ metricsImportTopics: ["/zeek/metrics/"] });
    const exporter = new Endpoint({
      metricsExportTopic: "/zeek/metrics/",
      metricsExportIntervalMs: 50,
    });
    try {
      await exporter.peer("127.0.0.1", await collector.listen("127.0.0.1", 0), { retryMs: 0 });
      while (Object.keys(collector.status()["imported-metrics"]).length === 0) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.deepEqual(Object.keys(collector.status()["imported-metrics"]), [""]);
    } finally {
      await exporter.shutdown();
      await collector.shutdown();
    }
  },
});
