// The metrics port against the C++ Broker: our `broker node` and C++
// `broker-node` started the same way expose the same `broker_*` series
// (names and label sets), the counters move with traffic from a C++
// `broker-pipe` and with store writes, metrics travel over topics to a
// collector, and bad HTTP clients do not disturb the node. Real sockets on
// 127.0.0.1; nothing is left running.
import assert from "node:assert/strict";
import {
  ClusterLayout,
  ClusterNode,
  count,
  Endpoint,
  Gateway,
  GroupMember,
  GroupPublisher,
  str,
} from "../mod.ts";
import { freePort, RefProcess, storeTopicsAnnounced, waitForPort } from "./broker_ref.ts";
import { parsePrometheus } from "../engine/metrics/registry.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

async function scrape(port: number, path = "/metrics"): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  const body = await res.text();
  assert.equal(res.status, 200, `${path}: ${body}`);
  return body;
}

/** `name{label names}` of every `broker_*` series. */
function seriesShapes(text: string): Set<string> {
  const out = new Set<string>();
  for (const key of parsePrometheus(text).keys()) {
    if (!key.startsWith("broker_")) continue;
    const m = /^([^{]+)(?:\{(.*)\})?$/.exec(key)!;
    const labels = (m[2] ?? "").split(/,(?=[a-z_]+=")/).filter(Boolean)
      .map((kv) => {
        const [k, v] = kv.split("=");
        // Label values that name things (stores, peers) are compared as is; they are the same here.
        return `${k}=${v}`;
      }).sort();
    out.add(`${m[1]}{${labels.join(",")}}`);
  }
  return out;
}

/** Our CLI's `broker node`, as a process. */
class OurNode {
  readonly #child: Deno.ChildProcess;
  readonly done: Promise<Deno.CommandStatus>;
  constructor(args: string[]) {
    this.#child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", CLI, "node", ...args],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    this.done = this.#child.stderr.pipeTo(new WritableStream()).then(() => this.#child.status);
  }
  async stop(): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // gone already
    }
    await this.done;
  }
}

async function scrapeUntil(
  port: number,
  pred: (m: Map<string, number>) => boolean,
  timeoutMs = 10_000,
): Promise<Map<string, number>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const m = parsePrometheus(await scrape(port));
    if (pred(m)) return m;
    if (Date.now() > deadline) throw new Error(`metrics never matched:\n${[...m].join("\n")}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test(
  "our broker node and C++ broker-node started the same way: every C++ broker_* series and label set is ours too",
  opts,
  async () => {
    const [cm, cc, om, oc] = [0, 1, 2, 3].map(() => ({ port: freePort(), metrics: freePort() }));
    const args = (n: { port: number; metrics: number }, extra: string[]) => [
      "--disable-ssl",
      "-p",
      String(n.port),
      `--broker.metrics.port=${n.metrics}`,
      "--broker.metrics.address=127.0.0.1",
      '--topics=["/m"]',
      ...extra,
    ];
    const cxxMaster = new RefProcess("broker-node", args(cm, ['--master-stores=["kv"]']));
    const oursMaster = new OurNode(args(om, ['--master-stores=["kv"]']));
    const procs: { stop(): Promise<unknown> }[] = [cxxMaster, oursMaster];
    try {
      await Promise.all([waitForPort(cm.port), waitForPort(om.port)]);
      // The clones peer at start-up: only once each master's store is attached.
      await Promise.all(
        [cm.port, om.port].map((p) => storeTopicsAnnounced(p, ["kv/<$>/data/master"])),
      );
      const cxxClone = new RefProcess(
        "broker-node",
        args(cc, ['--clone-stores=["kv"]', `--peers=["tcp://127.0.0.1:${cm.port}"]`]),
      );
      const oursClone = new OurNode(
        args(oc, ['--clone-stores=["kv"]', `--peers=["tcp://127.0.0.1:${om.port}"]`]),
      );
      procs.push(cxxClone, oursClone);
      await Promise.all([cm, cc, om, oc].map((n) => waitForPort(n.metrics)));
      // Let the clones reach their masters.
      await new Promise((r) => setTimeout(r, 500));
      for (const [cxx, ours, what] of [[cm, om, "master"], [cc, oc, "clone"]] as const) {
        const want = seriesShapes(await scrape(cxx.metrics));
        const got = seriesShapes(await scrape(ours.metrics));
        assert.ok(want.size >= 8, `C++ ${what} exposes ${[...want]}`);
        const missing = [...want].filter((s) => !got.has(s));
        assert.deepEqual(missing, [], `${what}: series of broker-node missing from ours`);
      }
      // And the same help and type lines for Broker's families.
      const cxxText = await scrape(cm.metrics), ourText = await scrape(om.metrics);
      for (const line of cxxText.split("\n").filter((l) => /^# (HELP|TYPE) broker_/.test(l))) {
        assert.ok(ourText.includes(line + "\n"), `ours lacks "${line}"`);
      }
    } finally {
      await Promise.all(procs.map((p) => p.stop()));
    }
  },
);

Deno.test(
  "100 data messages from a C++ broker-pipe count as processed data; store metrics move with puts",
  opts,
  async () => {
    const ep = new Endpoint();
    const port = await ep.listen("127.0.0.1", 0);
    const metrics = await ep.listenMetrics("127.0.0.1", 0);
    const sub = ep.subscribe("/pipe");
    const kv = ep.attachMaster("kv");
    const pipe = new RefProcess("broker-pipe", [
      "--disable-ssl",
      "-m",
      "publish",
      "-t",
      "/pipe",
      "-p",
      `["127.0.0.1:${port}"]`,
    ], true);
    try {
      await scrapeUntil(metrics, (m) => m.get('broker_connections{type="native"}') === 1);
      for (let i = 0; i < 100; i++) await pipe.writeLine(`m${i}`);
      for (let i = 0; i < 100; i++) assert.ok(await sub.get(10_000), `message ${i} did not arrive`);
      const m = await scrapeUntil(
        metrics,
        (m) => (m.get('broker_processed_messages_total{type="data"}') ?? 0) >= 100,
      );
      assert.ok(m.get('broker_processed_messages_total{type="data"}')! >= 100);
      assert.equal(m.get("broker_handshake_duration_seconds_count"), 1, "one handshake timed");
      const peer = [...m.keys()].find((k) => k.startsWith("broker_peer_buffered_messages{"));
      assert.ok(peer, "the C++ peer has a buffered-messages series");
      const status = JSON.parse(await scrape(metrics, "/v1/status/json"));
      assert.ok(status["message-metrics"].data.processed >= 100);
      assert.equal(status["native-connections"], 1);
      const [peering] = Object.values(status.peerings) as { input: { delivered: number } }[];
      assert.ok(peering.input.delivered >= 100, JSON.stringify(status.peerings));

      const before = parsePrometheus(await scrape(metrics));
      assert.equal(before.get('broker_store_entries{name="kv"}'), 0);
      for (let i = 0; i < 5; i++) await kv.put(str(`k${i}`), count(BigInt(i)));
      await kv.erase(str("k0"));
      const after = parsePrometheus(await scrape(metrics));
      assert.equal(after.get('broker_store_entries{name="kv"}'), 4);
      assert.equal(after.get('broker_store_processed_updates_total{name="kv"}'), 6);
      const s2 = JSON.parse(await scrape(metrics, "/v1/status/json"));
      assert.equal(s2.masters.kv.entries, 4);
    } finally {
      await pipe.closeStdin().catch(() => {});
      await pipe.stop();
      kv.close();
      await ep.shutdown();
    }
  },
);

Deno.test(
  "metrics over topics: three nodes export, a collector serves all three with an endpoint label",
  opts,
  async () => {
    const collector = new Endpoint({ metricsImportTopics: ["/metrics/"] });
    const port = await collector.listen("127.0.0.1", 0);
    const http = await collector.listenMetrics("127.0.0.1", 0);
    const nodes = ["n1", "n2", "n3"].map((name, i) =>
      new Endpoint({
        metricsExportTopic: `/metrics/${name}`,
        metricsExportIntervalMs: 100,
        // n3 names itself; the others are named by their topic's last segment, as Broker does.
        ...(i === 2 ? { metricsEndpointName: "third" } : {}),
        metricsExportPrefixes: ["broker"],
      })
    );
    try {
      for (const n of nodes) await n.peer("127.0.0.1", port, { retryMs: 0 });
      nodes[0].publish("/somewhere", str("counted"));
      const m = await scrapeUntil(
        http,
        (m) =>
          ["n1", "n2", "third"].every((e) =>
            m.has(`broker_connections{type="native",endpoint="${e}"}`)
          ) &&
          (m.get('broker_processed_messages_total{type="data",endpoint="n1"}') ?? 0) >= 1,
      );
      assert.equal(m.get('broker_connections{type="native",endpoint="n2"}'), 1);
      // The collector's own series stay unlabelled beside them.
      assert.equal(m.get('broker_connections{type="native"}'), 3);
      assert.equal(m.get("broker_metrics_imported_endpoints"), 3);
      const status = JSON.parse(await scrape(http, "/v1/status/json"));
      assert.deepEqual(Object.keys(status["imported-metrics"]).sort(), ["n1", "n2", "third"]);
    } finally {
      await Promise.all(nodes.map((n) => n.shutdown()));
      await collector.shutdown();
    }
  },
);

Deno.test(
  "bad requests on the metrics port (unknown paths, other methods, huge headers, slow and broken clients) never disturb the node",
  opts,
  async () => {
    const a = new Endpoint({ metricsPort: 0 });
    const b = new Endpoint();
    const port = await a.listen("127.0.0.1", 0);
    const http = await a.metricsReady!;
    const sub = a.subscribe("/t");
    const slow: Deno.TcpConn[] = [];
    try {
      await b.peer("127.0.0.1", port, { retryMs: 0 });
      await b.awaitPeerSubscription("/t");
      const base = `http://127.0.0.1:${http}`;
      assert.equal(
        (await fetch(`${base}/nope`).then(async (r) => (await r.text(), r))).status,
        404,
      );
      assert.equal(
        (await fetch(`${base}/metrics`, { method: "POST", body: "x" }).then(async (r) => (
          await r.text(), r
        ))).status,
        405,
      );
      // Slow clients: a request line and no more, half a header, nothing at all.
      for (const part of ["GET /metrics HTTP/1.1\r\n", "GET /metr", ""]) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: http });
        if (part) await c.write(new TextEncoder().encode(part));
        slow.push(c);
      }
      // Huge headers: refused, or the connection is closed; either way the server goes on.
      const huge = await Deno.connect({ hostname: "127.0.0.1", port: http });
      const head = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(1 << 20)}\r\n\r\n`;
      await huge.write(new TextEncoder().encode(head)).catch(() => {});
      const buf = new Uint8Array(256);
      const n = await huge.read(buf).catch(() => null);
      if (n) assert.match(new TextDecoder().decode(buf.subarray(0, n)), /^HTTP\/1\.1 4\d\d/);
      huge.close();
      // Garbage instead of HTTP.
      const junk = await Deno.connect({ hostname: "127.0.0.1", port: http });
      await junk.write(new Uint8Array(4096).fill(0xff)).catch(() => {});
      await junk.read(buf).catch(() => null);
      junk.close();
      // Meanwhile the node peers and delivers, and the metrics are served.
      for (let i = 0; i < 50; i++) b.publish("/t/x", count(BigInt(i)));
      for (let i = 0; i < 50; i++) assert.ok(await sub.get(5000), `message ${i}`);
      const m = await scrapeUntil(
        http,
        (m) => (m.get('broker_processed_messages_total{type="data"}') ?? 0) >= 50,
      );
      assert.equal(m.get('broker_connections{type="native"}'), 1);
      const page = await scrape(http, "/");
      assert.match(page, /<!DOCTYPE html>/);
      assert.doesNotMatch(page, /https?:\/\/(?!127)/, "the page loads nothing from elsewhere");
      // Shutdown does not wait for the slow clients.
      const t0 = Date.now();
      await a.shutdown();
      assert.ok(Date.now() - t0 < 5000, `shutdown took ${Date.now() - t0} ms`);
    } finally {
      for (const c of slow) {
        try {
          c.close();
        } catch {
          // closed by the server
        }
      }
      await a.shutdown();
      await b.shutdown();
    }
  },
);

Deno.test(
  "a gateway's counters are metrics on both its sides; one side's metrics port serves them",
  opts,
  async () => {
    const gw = new Gateway({
      external: { port: 0, address: "127.0.0.1" },
      internal: { port: 0, address: "127.0.0.1" },
    });
    const ports = await gw.start();
    const http = await gw.external.listenMetrics("127.0.0.1", 0);
    const outside = new Endpoint(), inside = new Endpoint();
    try {
      const sub = outside.subscribe("/up");
      await outside.peer("127.0.0.1", ports.external!, { retryMs: 0 });
      await inside.peer("127.0.0.1", ports.internal!, { retryMs: 0 });
      await inside.awaitPeerSubscription("/up", 5000);
      for (let i = 0; i < 10; i++) inside.publish("/up/x", count(BigInt(i)));
      for (let i = 0; i < 10; i++) assert.ok(await sub.get(5000), `message ${i}`);
      const m = await scrapeUntil(
        http,
        (m) => m.get('broker_gateway_messages_total{direction="outward"}') === 10,
      );
      assert.equal(m.get('broker_gateway_messages_total{direction="inward"}'), 0);
      assert.ok(m.get('broker_gateway_bytes_total{direction="outward"}')! > 0);
      assert.equal(m.get("broker_gateway_loops_dropped_total"), 0);
      assert.match(
        gw.internal.metricsText(),
        /broker_gateway_messages_total\{direction="outward"\} 10/,
      );
    } finally {
      await outside.shutdown();
      await inside.shutdown();
      await gw.shutdown();
    }
  },
);

Deno.test("delivery latency: one data message in 16 is timed from arrival to its reader", async () => {
  const ep = new Endpoint();
  try {
    const sub = ep.subscribe("/lat");
    for (let i = 0; i < 64; i++) ep.publish("/lat/x", count(BigInt(i)), { local: true });
    let read = 0;
    while (read < 64 && await sub.get(1000)) read++;
    assert.equal(read, 64);
    const text = ep.metricsText();
    assert.match(text, /^# TYPE broker_delivery_latency_seconds histogram$/m);
    assert.match(text, /^broker_delivery_latency_seconds_count 4$/m, "64 messages, 4 sampled");
    assert.match(text, /^broker_delivery_latency_seconds_bucket\{le="\+Inf"\} 4$/m);
  } finally {
    await ep.shutdown();
  }
});

Deno.test({
  name:
    "cluster counters: nodes up, node events, hellos; a group's members, messages, gone at close",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const layout = (managerPort: number) =>
      ClusterLayout.fromObject({
        nodes: {
          manager: { type: "manager", host: "127.0.0.1", port: managerPort },
          "worker-1": { type: "worker", host: "127.0.0.1" },
        },
      });
    const manager = await ClusterNode.join(layout(1), "manager", { listenPort: 0 });
    const worker = await ClusterNode.join(layout(manager.port), "worker-1");
    const publisher = new GroupPublisher(worker.endpoint, "g");
    const member = new GroupMember(manager.endpoint, "g", { heartbeatMs: 50 });
    try {
      await Promise.all([manager.waitFor("worker-1"), worker.waitFor("manager")]);
      await publisher.waitForMembers(1);
      for (let i = 0; i < 10; i++) publisher.publish(count(BigInt(i)));
      // The sample of `name` whose labels include `labels`.
      const sample = (text: string, name: string, labels: Record<string, string>) => {
        for (const [key, v] of parsePrometheus(text)) {
          const [n, rest = ""] = key.split("{");
          if (n !== name) continue;
          if (Object.entries(labels).every(([k, l]) => rest.includes(`${k}="${l}"`))) return v;
        }
      };
      const mt = manager.endpoint.metricsText();
      const value = (name: string, labels: Record<string, string>) => sample(mt, name, labels);
      assert.equal(value("broker_cluster_nodes_up", { node: "manager" }), 1);
      assert.equal(value("broker_cluster_node_events_total", { event: "node_up" }), 1);
      assert.ok((value("broker_cluster_hellos_total", { direction: "received" }) ?? 0) >= 1);
      assert.ok((value("broker_cluster_hellos_total", { direction: "sent" }) ?? 0) >= 1);
      const wt = worker.endpoint.metricsText();
      const wv = (name: string) => sample(wt, name, { group: "g" });
      assert.equal(wv("broker_group_members"), 1);
      assert.equal(wv("broker_group_messages_total"), 10);
      assert.equal(wv("broker_group_handed_over_total"), 0);
      // A closed publisher's series leave its endpoint's metrics.
      await publisher.close();
      assert.doesNotMatch(worker.endpoint.metricsText(), /broker_group_/);
      assert.match(worker.endpoint.metricsText(), /broker_cluster_nodes_up/);
    } finally {
      member.close();
      await publisher.close();
      await worker.close();
      await manager.close();
    }
  },
});

Deno.test(
  "a metrics export interval past a timer's longest delay exports nothing soon, not every millisecond",
  opts,
  async () => {
    const collector = new Endpoint();
    const port = await collector.listen("127.0.0.1", 0);
    const sub = collector.subscribe("/metrics/");
    const node = new Endpoint({
      metricsExportTopic: "/metrics/slow",
      metricsExportIntervalMs: 3_600_000_000, // 1000 h
    });
    try {
      await node.peer("127.0.0.1", port, { retryMs: 0 });
      await node.awaitPeerSubscription("/metrics/slow");
      // setInterval fires every 1 ms past 2^31 - 1 ms: 300 ms would bring hundreds of exports.
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(sub.available(), 0);
    } finally {
      await node.shutdown();
      await collector.shutdown();
    }
  },
);

Deno.test(
  "a request with a Host header no URL can hold is the client's error (400), not the server's (500)",
  opts,
  async () => {
    const a = new Endpoint({ metricsPort: 0 });
    const http = await a.metricsReady!;
    try {
      for (const host of ["a b", "[::1", "x:99999", "%"]) {
        const c = await Deno.connect({ hostname: "127.0.0.1", port: http });
        await c.write(
          new TextEncoder().encode(
            `GET /metrics HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
          ),
        );
        let text = "";
        const buf = new Uint8Array(4096);
        for (let n; (n = await c.read(buf)) !== null;) {
          text += new TextDecoder().decode(buf.subarray(0, n));
        }
        c.close();
        assert.match(text, /^HTTP\/1\.1 400 /, `Host: ${host}: ${text.split("\r\n")[0]}`);
      }
      // And the server goes on.
      assert.match(await scrape(http), /broker_connections/);
    } finally {
      await a.shutdown();
    }
  },
);
