// Three processes of ours (manager, proxy-1, worker-1) from one layout file:
// hellos, node_up on every side, node_down when a process is killed, and a
// proxy pool that follows (over Broker's anonymous TLS, the joins' default).
import assert from "node:assert/strict";
import { brokerRefTool, freePort, waitForPort } from "./broker_ref.ts";
import { joinChild, jsonLine, LineChild } from "./cluster_helpers.ts";

Deno.test({
  name: "three processes from one layout: node_up everywhere, node_down and pools on a kill",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const layout = `${dir}/layout.json`;
    await Deno.writeTextFile(
      layout,
      JSON.stringify({
        nodes: {
          manager: { type: "manager", host: "127.0.0.1", port: freePort() },
          "proxy-1": { type: "proxy", host: "127.0.0.1", port: freePort() },
          "worker-1": { type: "worker", host: "127.0.0.1" },
        },
      }),
    );
    const children: LineChild[] = [];
    try {
      const [manager, proxy, worker] = ["manager", "proxy-1", "worker-1"].map((n) => {
        const c = joinChild(layout, n);
        children.push(c);
        return c;
      });
      const upAt = (c: LineChild, names: string[]) =>
        c.waitLine(jsonLine((l) => l.kind === "node_up" && names.every((n) => l.up!.includes(n))));
      const [m, , w] = await Promise.all([
        upAt(manager, ["proxy-1", "worker-1"]),
        upAt(proxy, ["manager", "worker-1"]),
        upAt(worker, ["manager", "proxy-1"]),
      ]).then((ls) => ls.map((l) => JSON.parse(l)));
      assert.deepEqual(m.pools.proxy, ["proxy-1"]);
      assert.deepEqual(w.pools.proxy, ["proxy-1"]);
      assert.deepEqual(w.pools.worker, ["worker-1"]); // itself, alive for round-robin as in Zeek
      const from = [manager.lines.length, worker.lines.length];
      await proxy.kill("SIGKILL");
      const downOf = (c: LineChild, i: number) =>
        c.waitLine(jsonLine((l) => l.kind === "node_down" && l.name === "proxy-1"), 10_000, i);
      const [md, wd] = await Promise.all([downOf(manager, from[0]), downOf(worker, from[1])])
        .then((ls) => ls.map((l) => JSON.parse(l)));
      assert.deepEqual(md.up, ["worker-1"]);
      assert.deepEqual(md.pools.proxy, []);
      assert.deepEqual(wd.up, ["manager"]);
      assert.deepEqual(wd.pools.proxy, []);
    } finally {
      await Promise.all(children.map((c) => c.kill()));
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name: "a C++ broker-node relaying the worker's peering with the manager changes nothing",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    const layout = `${dir}/layout.json`;
    // The layout's manager port is the relay's; the manager listens behind it.
    const relayPort = freePort(), managerPort = freePort();
    await Deno.writeTextFile(
      layout,
      JSON.stringify({
        nodes: {
          manager: { type: "manager", host: "127.0.0.1", port: relayPort },
          "proxy-1": { type: "proxy", host: "127.0.0.1", port: freePort() },
          "worker-1": { type: "worker", host: "127.0.0.1" },
        },
      }),
    );
    const children: LineChild[] = [];
    try {
      // Through a broker-node on plain TCP: every join with --disable-ssl.
      const manager = joinChild(layout, "manager", [
        "--local-port",
        String(managerPort),
        "--disable-ssl",
      ]);
      children.push(manager);
      await manager.waitLine(jsonLine((l) => l.kind === "joined"));
      const relay = new LineChild(brokerRefTool("broker-node"), [
        "--disable-ssl",
        "-p",
        String(relayPort),
        `--peers=["tcp://127.0.0.1:${managerPort}"]`,
        "-t",
        '["zeek/cluster/"]',
      ]);
      children.push(relay);
      await waitForPort(relayPort);
      const proxy = joinChild(layout, "proxy-1", ["--disable-ssl"]);
      const worker = joinChild(layout, "worker-1", ["--disable-ssl"]);
      children.push(proxy, worker);
      const upAt = (c: LineChild, names: string[]) =>
        c.waitLine(jsonLine((l) => l.kind === "node_up" && names.every((n) => l.up!.includes(n))));
      await Promise.all([
        upAt(manager, ["proxy-1", "worker-1"]),
        upAt(proxy, ["manager", "worker-1"]),
        upAt(worker, ["manager", "proxy-1"]),
      ]);
      const from = [manager.lines.length, proxy.lines.length];
      await worker.kill("SIGKILL");
      const downOf = (c: LineChild, i: number) =>
        c.waitLine(jsonLine((l) => l.kind === "node_down" && l.name === "worker-1"), 10_000, i);
      const [md, pd] = await Promise.all([downOf(manager, from[0]), downOf(proxy, from[1])])
        .then((ls) => ls.map((l) => JSON.parse(l)));
      assert.deepEqual(md.up, ["proxy-1"]);
      assert.deepEqual(md.pools.worker, []);
      assert.deepEqual(pd.up, ["manager"]);
    } finally {
      await Promise.all(children.map((c) => c.kill()));
      await Deno.remove(dir, { recursive: true });
    }
  },
});
