import assert from "node:assert/strict";
import { mergeFamilies, MetricsRegistry, parsePrometheus, renderPrometheus } from "./registry.ts";

Deno.test("the registry renders Prometheus text: help, type, labels escaped, histograms cumulative", () => {
  const reg = new MetricsRegistry();
  const d = reg.counter("broker_processed_messages_total", "Total number of processed messages.", {
    type: "data",
  });
  const c = reg.counter("broker_processed_messages_total", "ignored", { type: "command" });
  d.value += 7;
  c.value++;
  const g = reg.gauge("x_gauge", "a\nb", { name: 'q"\\\n' });
  g.value = -1.5;
  const h = reg.histogram("x_seconds", "lat", [0.001, 0.01]);
  h.observe(0.0005);
  h.observe(0.005);
  h.observe(1);
  assert.equal(
    reg.render(),
    [
      "# HELP broker_processed_messages_total Total number of processed messages.",
      "# TYPE broker_processed_messages_total counter",
      'broker_processed_messages_total{type="data"} 7',
      'broker_processed_messages_total{type="command"} 1',
      "# HELP x_gauge a\\nb",
      "# TYPE x_gauge gauge",
      'x_gauge{name="q\\"\\\\\\n"} -1.5',
      "# HELP x_seconds lat",
      "# TYPE x_seconds histogram",
      'x_seconds_bucket{le="0.001"} 1',
      'x_seconds_bucket{le="0.01"} 2',
      'x_seconds_bucket{le="+Inf"} 3',
      "x_seconds_sum 1.0055",
      "x_seconds_count 3",
      "",
    ].join("\n"),
  );
  assert.equal(
    parsePrometheus(reg.render()).get('broker_processed_messages_total{type="data"}'),
    7,
  );
});

Deno.test("the registry refuses bad names and a second type for a family", () => {
  const reg = new MetricsRegistry();
  assert.throws(() => reg.counter("bad-name", "h"));
  reg.gauge("g", "h");
  assert.throws(() => reg.counter("g", "h"));
});

Deno.test("families without samples are left out; merged lists join samples by name", () => {
  const reg = new MetricsRegistry();
  reg.add("empty", "h", "gauge", () => []);
  assert.equal(reg.render(), "");
  const merged = mergeFamilies(
    [{ name: "a", help: "h", type: "gauge", samples: [{ labels: {}, value: 1 }] }],
    [{ name: "a", help: "other", type: "gauge", samples: [{ labels: { e: "x" }, value: 2 }] }],
  );
  assert.equal(renderPrometheus(merged), '# HELP a h\n# TYPE a gauge\na 1\na{e="x"} 2\n');
});

Deno.test("a removed source leaves the family; the last one takes the family with it", () => {
  const reg = new MetricsRegistry();
  const removeA = reg.add("x_total", "x", "counter", () => [{ labels: { n: "a" }, value: 1 }]);
  const removeB = reg.add("x_total", "x", "counter", () => [{ labels: { n: "b" }, value: 2 }]);
  removeA();
  removeA(); // twice is harmless
  assert.deepEqual(parsePrometheus(reg.render()), new Map([['x_total{n="b"}', 2]]));
  removeB();
  assert.deepEqual(reg.names, []);
  // A family gone may come back with another type.
  reg.add("x_total", "x", "gauge", () => [{ labels: {}, value: 3 }]);
  assert.equal(reg.collect()[0].type, "gauge");
});
