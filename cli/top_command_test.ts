import assert from "node:assert/strict";
import { count, Endpoint, str } from "../mod.ts";
import { parseTopTarget, runTop } from "./top_command.ts";
import { UsageError } from "./cli_values.ts";

const opts = { sanitizeResources: false, sanitizeOps: false };
const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("broker top's target: a port, host:port or a URL", () => {
  assert.equal(parseTopTarget("9100"), "http://127.0.0.1:9100");
  assert.equal(parseTopTarget(":9100"), "http://127.0.0.1:9100");
  assert.equal(parseTopTarget("10.0.0.1:9100"), "http://10.0.0.1:9100");
  assert.equal(parseTopTarget("[::1]:9100"), "http://[::1]:9100");
  assert.equal(parseTopTarget("http://h:1/"), "http://h:1");
  assert.throws(() => parseTopTarget("nope"), UsageError);
  assert.throws(() => parseTopTarget("70000"), UsageError);
  // URLs fetch refuses: usage errors before the first poll (they were errors of the first poll, exit 1).
  assert.throws(() => parseTopTarget("http://[::1"), UsageError);
  assert.throws(() => parseTopTarget("a b:9100"), UsageError);
});

Deno.test(
  "broker top shows a node's rates, peers and stores, and a collector's imported endpoints",
  opts,
  async () => {
    const node = new Endpoint({ metricsPort: 0, metricsImportTopics: ["/m/"] });
    const exporter = new Endpoint({
      metricsExportTopic: "/m/worker-1",
      metricsExportIntervalMs: 50,
    });
    const port = await node.listen("127.0.0.1", 0);
    const http = await node.metricsReady!;
    const sub = node.subscribe("/t");
    const kv = node.attachMaster("kv");
    await kv.put(str("a"), count(1n));
    await exporter.peer("127.0.0.1", port, { retryMs: 0 });
    await exporter.awaitPeerSubscription("/t");
    let i = 0;
    const traffic = setInterval(() => {
      for (let k = 0; k < 10; k++) exporter.publish("/t/x", count(BigInt(i++)));
      sub.poll();
    }, 10);
    try {
      // Until the collector has heard from the exporter.
      while (!(node.status()["imported-metrics"]["worker-1"])) {
        await new Promise((r) => setTimeout(r, 20));
      }
      let out = "";
      const code = await runTop({
        url: `http://127.0.0.1:${http}`,
        intervalMs: 200,
        iterations: 2,
        inPlace: false,
        write: (t) => out += t,
      });
      assert.equal(code, 0);
      const frames = out.split("\nbroker top: ");
      assert.equal(frames.length, 2, out);
      const last = frames[1];
      assert.match(last, new RegExp(`^node ${node.id}`));
      assert.match(last, new RegExp(`${exporter.id} +127\\.0\\.0\\.1:\\d+ +peered`));
      const data = /^data +(\S+) +(\d+)/m.exec(last);
      assert.ok(data && Number(data[1].replace(/,/g, "")) > 0, `a data rate: ${last}`);
      assert.match(last, /^kv +master +1 /m);
      assert.match(last, /^worker-1 +1 /m, "the imported endpoint and its one peering");
      // A node that is not there: exit code 1 and a message.
      let err = "";
      const dead = await runTop({
        url: "http://127.0.0.1:1",
        intervalMs: 10,
        iterations: 1,
        inPlace: false,
        write: (t) => err += t,
      });
      assert.equal(dead, 1);
      assert.match(err, /cannot read http:\/\/127\.0\.0\.1:1/);
    } finally {
      clearInterval(traffic);
      kv.close();
      await exporter.shutdown();
      await node.shutdown();
    }
  },
);

Deno.test(
  "broker top ends on SIGTERM as on ^C: exit code 0 after the frames it showed",
  opts,
  async () => {
    const node = new Endpoint({ metricsPort: 0 });
    const http = await node.metricsReady!;
    const results: [string, number][] = [];
    try {
      for (const sig of ["SIGINT", "SIGTERM"] as const) {
        const child = new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", MAIN, "top", String(http), "--interval", "100ms"],
          stdin: "null",
          stdout: "piped",
          stderr: "null",
        }).spawn();
        // The first frame shows that top is up and polling.
        const reader = child.stdout.getReader();
        let seen = "";
        while (!seen.includes(`node ${node.id}`)) {
          const { value, done } = await reader.read();
          if (done) break;
          seen += new TextDecoder().decode(value);
        }
        child.kill(sig);
        reader.releaseLock();
        await child.stdout.cancel();
        results.push([sig, (await child.status).code]);
      }
    } finally {
      await node.shutdown();
    }
    assert.deepEqual(results, [["SIGINT", 0], ["SIGTERM", 0]]);
  },
);

Deno.test(
  "broker top prints the line for a node it cannot read on stderr, as every subcommand's errors, with exit code 1",
  opts,
  async () => {
    // A port nothing listens on.
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "top", String(port), "--iterations", "1"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    assert.equal(out.code, 1);
    assert.equal(dec.decode(out.stdout), "");
    assert.match(
      dec.decode(out.stderr),
      new RegExp(`^broker top: cannot read http://127\\.0\\.0\\.1:${port}: [^\\n]+\\n$`),
    );
  },
);

Deno.test(
  "broker top reads a node whose metrics port is one fetch refuses (6000, 6665-6669, 10080: the ports browsers block)",
  opts,
  async () => {
    let node: Endpoint | undefined;
    let port = 0;
    for (const p of [6000, 6665, 6666, 6667, 6668, 6669, 10080]) {
      const ep = new Endpoint({ metricsPort: p, metricsAddress: "127.0.0.1" });
      try {
        port = await ep.metricsReady!;
        node = ep;
        break;
      } catch {
        await ep.shutdown(); // in use here: the next
      }
    }
    assert.ok(node, "one of the ports fetch blocks is free");
    try {
      let out = "", err = "";
      const code = await runTop({
        url: `http://127.0.0.1:${port}`,
        intervalMs: 10,
        iterations: 1,
        inPlace: false,
        write: (t) => out += t,
        error: (t) => err += t,
      });
      assert.equal(err, "");
      assert.equal(code, 0);
      assert.match(out, new RegExp(`^broker top: node ${node.id} `));
    } finally {
      await node.shutdown();
    }
  },
);
