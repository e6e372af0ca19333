import assert from "node:assert/strict";
import { decode, encode } from "../data/mod.ts";
import { dataToString } from "../data/text.ts";
import { bool, integer, real, str, table, timestamp, vector } from "../data/constructors.ts";
import type { Data } from "../data/types.ts";
import { type MetricFamilySnapshot, renderPrometheus } from "./registry.ts";
import { cafName, exportRows, MetricsCollector, parseExport, promName } from "./topic_export.ts";

const FAMILIES: MetricFamilySnapshot[] = [
  {
    name: "broker_processed_messages_total",
    help: "Total number of processed messages.",
    type: "counter",
    samples: [{ labels: { type: "data" }, value: 3 }],
  },
  { name: "broker_connections", help: "c", type: "gauge", samples: [{ labels: {}, value: 1.5 }] },
  {
    name: "x_latency_seconds",
    help: "l",
    type: "histogram",
    samples: [{ labels: {}, value: { bounds: [0.1], counts: [2, 1], sum: 0.7 } }],
  },
];

Deno.test("CAF names: prefix, dashed name, unit and _total map to Prometheus and back", () => {
  const n = cafName("broker_processed_messages_total", "counter");
  assert.deepEqual(n, { prefix: "broker", name: "processed-messages", unit: "1", isSum: true });
  assert.equal(promName(n), "broker_processed_messages_total");
  const l = cafName("x_latency_seconds", "histogram");
  assert.deepEqual(l, { prefix: "x", name: "latency", unit: "seconds", isSum: false });
  assert.equal(promName(l), "x_latency_seconds");
});

Deno.test("an export is Broker's layout: meta row, then [prefix, name, type, unit, help, is-sum, labels, value]", () => {
  const rows = exportRows("w1", 5n, FAMILIES);
  assert.equal(
    dataToString(rows),
    "((w1, 5ns), " +
      "(broker, processed-messages, counter, 1, Total number of processed messages., T, {type -> data}, 3), " +
      "(broker, connections, gauge, 1, c, F, {}, 1.500000), " +
      "(x, latency, histogram, seconds, l, F, {}, ((0.100000, 2), (inf, 1), 0.700000)))",
  );
  // Through the wire and back.
  const back = parseExport(decode(encode(rows)))!;
  assert.equal(back.endpoint, "w1");
  assert.equal(back.time, 5n);
  assert.deepEqual(back.families, FAMILIES);
  // Prefix selection, as Broker's: by equality.
  const only = parseExport(exportRows("w1", 5n, FAMILIES, ["broker"]))!;
  assert.deepEqual(only.families.map((f) => f.name), [
    "broker_processed_messages_total",
    "broker_connections",
  ]);
});

Deno.test("the collector keeps each endpoint's newest export and labels it", () => {
  const c = new MetricsCollector();
  assert.equal(c.update(exportRows("a", 10n, FAMILIES.slice(0, 1))), true);
  assert.equal(c.update(exportRows("b", 10n, FAMILIES.slice(0, 1))), true);
  assert.equal(c.update(exportRows("a", 9n, [])), false, "older than what we have");
  assert.equal(c.update(decode(encode(exportRows("a", 11n, FAMILIES.slice(0, 1))))), true);
  assert.equal(
    c.update(exportRows("x", 1n, [])),
    true,
    "an export with no rows names its endpoint",
  );
  const f = c.families();
  assert.equal(f.length, 1);
  assert.deepEqual(f[0].samples.map((s) => s.labels), [
    { type: "data", endpoint: "a" },
    { type: "data", endpoint: "b" },
  ]);
  assert.deepEqual([...c.endpoints().keys()], ["a", "b", "x"]);
});

Deno.test("imported names and labels: CAF's separators become underscores; what Prometheus cannot read is left out", () => {
  const row = (prefix: string, name: string, labels: [string, string][], unit = "1") =>
    vector(
      str(prefix),
      str(name),
      str("gauge"),
      str(unit),
      str("h"),
      bool(false),
      table(labels.map(([k, v]) => [str(k), str(v)] as const)),
      integer(7),
    );
  const c = new MetricsCollector();
  c.update(vector(
    vector(str("w1"), timestamp(1n)),
    // CAF's own families, as a C++ endpoint exports them.
    row("caf.system", "running-actors", [["actor-name", "x.y"]]),
    // Rows no Prometheus name can be made of: they would end the scrape.
    row("ze ek", "bad", []),
    row("zeek", "bad\nfake_metric 999", []),
    row("zeek", "bad-label", [['a"b', "y"]]),
    row("9zeek", "digit-first", []),
    row("zeek", "bad-unit", [], "per second"),
  ));
  const text = renderPrometheus(c.families());
  assert.equal(
    text,
    "# HELP caf_system_running_actors h\n# TYPE caf_system_running_actors gauge\n" +
      'caf_system_running_actors{actor_name="x.y",endpoint="w1"} 7\n',
  );
});

Deno.test("imported rows: one sample per label set (the last wins, as Broker's collector updates it), a row with a label that is not a string is left out", () => {
  const row = (labels: [string, Data][], v: number, type = "gauge") =>
    vector(
      str("zeek"),
      str("x"),
      str(type),
      str("1"),
      str("h"),
      bool(false),
      table(labels.map(([k, v]) => [str(k), v] as const)),
      type === "histogram"
        ? vector(vector(real(1), integer(v)), vector(real(Infinity), integer(0)), real(v))
        : integer(v),
    );
  const c = new MetricsCollector();
  c.update(vector(
    vector(str("w1"), timestamp(1n)),
    row([["type", str("a")]], 1),
    row([["type", str("a")]], 2), // the same series again
    row([["type", str("a")], ["n", integer(5)]], 3), // Broker's collector refuses the row
    row([["type", str("b")], ["endpoint", str("other")]], 4), // our endpoint label wins...
    row([["type", str("b")], ["endpoint", str("again")]], 5), // ...so this is the same series
  ));
  const text = renderPrometheus(c.families());
  assert.equal(
    text,
    "# HELP zeek_x h\n# TYPE zeek_x gauge\n" +
      'zeek_x{type="a",endpoint="w1"} 2\n' +
      'zeek_x{type="b",endpoint="w1"} 5\n',
  );
});
