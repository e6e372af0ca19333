import assert from "node:assert/strict";
import { ClusterLayout } from "./layout.ts";
import { type ClusterEvent, ClusterNode } from "./node.ts";
import type { BoundedQueue } from "../queue.ts";
import { Endpoint } from "../endpoint.ts";
import { StatusCode } from "../status.ts";
import { ErrorCode } from "../errors.ts";
import { bool, count, dataToString, none, real, str, table, vector } from "../data/mod.ts";
import { LogCreate } from "../zeek/log_create.ts";

/** A port nothing listens on now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** The next event that is not an error, with the errors seen before it. */
async function nextNonError(q: BoundedQueue<ClusterEvent>, errors: string[]) {
  for (;;) {
    const ev = await q.get(10_000);
    if (!ev) throw new Error("no cluster event in 10 s");
    if (ev.kind === "error") errors.push(ev.message);
    else return ev;
  }
}

Deno.test({
  name:
    "a node restarted under a new ID while its old peering lingers stays up when the old one goes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const port = freePort();
    const layout = ClusterLayout.fromObject({
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port },
        "worker-1": { type: "worker", host: "127.0.0.1", manager: "manager" },
      },
    });
    const mgr = await ClusterNode.join(layout, "manager");
    const events = mgr.events();
    const errors: string[] = [];
    let old: ClusterNode | undefined, fresh: ClusterNode | undefined;
    try {
      old = await ClusterNode.join(layout, "worker-1", { retryMs: 100 });
      const up = await nextNonError(events, errors);
      assert.deepEqual(up, { kind: "node_up", name: "worker-1", id: old.id });
      // The same node comes back (a restart) before its old peering is gone.
      fresh = await ClusterNode.join(layout, "worker-1", { retryMs: 100 });
      await fresh.waitFor("manager");
      // Zeek's hello handler reports the duplicate and takes the new ID.
      while (!errors.some((e) => e.includes("duplicate node:worker-1"))) {
        const ev = await events.get(10_000);
        if (!ev) throw new Error("no duplicate-hello error");
        if (ev.kind === "error") errors.push(ev.message);
        else assert.fail(`unexpected ${JSON.stringify(ev)}`);
      }
      assert.equal(mgr.up().get("worker-1"), fresh.id);
      // The old peering ends: Zeek raises no node_down (no node has its ID).
      const oldId = old.id;
      await old.close();
      old = undefined;
      while (mgr.endpoint.peers().some((p) => p.id === oldId)) {
        await new Promise((r) => setTimeout(r, 20));
      }
      // The fresh instance's loss is the next node event, and the first node_down.
      await fresh.close();
      const down = await nextNonError(events, errors);
      assert.deepEqual(down, { kind: "node_down", name: "worker-1", id: fresh.id });
      fresh = undefined;
      assert.equal(mgr.pool("worker").aliveCount, 0);
    } finally {
      await old?.close();
      await fresh?.close();
      await mgr.close();
    }
  },
});

/** Whether a TCP connection to `host:port` is accepted. */
async function accepts(host: string, port: number): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: host, port })).close();
    return true;
  } catch {
    return false;
  }
}

/** Whether this machine has IPv6's loopback. */
const hasIpv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name:
    "a node listens where Zeek's Broker backend does: every interface, whatever its layout host",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // 192.0.2.7 (TEST-NET-1) is no address of this machine: Zeek lists it in
    // Cluster::nodes and still binds Broker::default_listen_address ("").
    const layout = ClusterLayout.fromObject({
      nodes: { manager: { type: "manager", host: "192.0.2.7", port: freePort() } },
    });
    const saved = Deno.env.get("ZEEK_DEFAULT_LISTEN_ADDRESS");
    Deno.env.delete("ZEEK_DEFAULT_LISTEN_ADDRESS");
    try {
      const mgr = await ClusterNode.join(layout, "manager");
      try {
        assert.equal(mgr.port, layout.node("manager").port);
        assert.equal(await accepts("127.0.0.1", mgr.port), true);
        if (hasIpv6) assert.equal(await accepts("::1", mgr.port), true);
      } finally {
        await mgr.close();
      }
    } finally {
      if (saved !== undefined) Deno.env.set("ZEEK_DEFAULT_LISTEN_ADDRESS", saved);
    }
  },
});

Deno.test({
  name: "ZEEK_DEFAULT_LISTEN_ADDRESS picks the address a node listens on, as in Zeek",
  ignore: !hasIpv6,
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const layout = ClusterLayout.fromObject({
      nodes: { manager: { type: "manager", host: "127.0.0.1", port: freePort() } },
    });
    const saved = Deno.env.get("ZEEK_DEFAULT_LISTEN_ADDRESS");
    Deno.env.set("ZEEK_DEFAULT_LISTEN_ADDRESS", "::1");
    try {
      const mgr = await ClusterNode.join(layout, "manager");
      try {
        assert.equal(await accepts("::1", mgr.port), true);
        assert.equal(await accepts("127.0.0.1", mgr.port), false);
      } finally {
        await mgr.close();
      }
    } finally {
      if (saved === undefined) Deno.env.delete("ZEEK_DEFAULT_LISTEN_ADDRESS");
      else Deno.env.set("ZEEK_DEFAULT_LISTEN_ADDRESS", saved);
    }
  },
});

Deno.test({
  name:
    "ZEEK_DEFAULT_CONNECT_RETRY sets the re-dial a node peers with, whole seconds as Zeek's atoi reads it",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const saved = Deno.env.get("ZEEK_DEFAULT_CONNECT_RETRY");
    const retryOf = async (env: string | undefined): Promise<number | undefined> => {
      if (env === undefined) Deno.env.delete("ZEEK_DEFAULT_CONNECT_RETRY");
      else Deno.env.set("ZEEK_DEFAULT_CONNECT_RETRY", env);
      const layout = (port: number) =>
        ClusterLayout.fromObject({
          nodes: {
            manager: { type: "manager", host: "127.0.0.1", port },
            "worker-1": { type: "worker", host: "127.0.0.1", manager: "manager" },
          },
        });
      const mgr = await ClusterNode.join(layout(1), "manager", { listenPort: 0 });
      // Our own endpoint, so that its statuses are read from before the first dial.
      const endpoint = new Endpoint();
      const statuses = endpoint.statusSubscriber();
      const worker = await ClusterNode.join(layout(mgr.port), "worker-1", { endpoint });
      try {
        for await (const ev of statuses) {
          if (ev.kind === "status" && ev.code === StatusCode.peer_added) return ev.peer?.retry;
        }
      } finally {
        await worker.close();
        await endpoint.shutdown();
        await mgr.close();
      }
    };
    try {
      assert.equal(await retryOf(undefined), 1, "Cluster::retry_interval");
      assert.equal(await retryOf("7"), 7);
      assert.equal(await retryOf("2.5"), 2);
    } finally {
      if (saved === undefined) Deno.env.delete("ZEEK_DEFAULT_CONNECT_RETRY");
      else Deno.env.set("ZEEK_DEFAULT_CONNECT_RETRY", saved);
    }
  },
});

Deno.test({
  name: "close() ends a waitFor still waiting: shutting_down, not a timeout long after",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const layout = ClusterLayout.fromObject({
      nodes: {
        manager: { type: "manager", host: "127.0.0.1", port: freePort() },
        "worker-1": { type: "worker", host: "127.0.0.1", manager: "manager" },
      },
    });
    const worker = await ClusterNode.join(layout, "worker-1", { retryMs: 60_000 });
    // Nothing listens for the manager: neither wait can be met.
    const up = worker.waitFor("manager", { timeoutMs: 120_000 });
    const upErr = up.then(() => undefined, (e) => e);
    await worker.close();
    const e = await upErr;
    assert.equal(e?.code, ErrorCode.shutting_down, String(e));
    await assert.rejects(worker.waitFor("manager"), { code: ErrorCode.shutting_down });
  },
});

Deno.test("a log-create goes on its topic to the loggers up, and to a logger that joins later alone, as Zeek's", async () => {
  const [p1, p2] = [freePort(), freePort()];
  const layout = ClusterLayout.fromObject({
    nodes: {
      "logger-1": { type: "logger", host: "127.0.0.1", port: p1 },
      "logger-2": { type: "logger", host: "127.0.0.1", port: p2 },
      "worker-1": { type: "worker", host: "127.0.0.1" },
    },
  });
  const create = new LogCreate(
    "Test::LOG",
    "Log::WRITER_ASCII",
    vector(str("test"), real(0), real(0), real(0), table(), str("")),
    vector(vector(str("n"), none(), count(3n), count(0n), bool(false))),
  );
  /** The next message on `zeek/logs/` a node gets. */
  const nextLog = async (n: ClusterNode) => {
    for (;;) {
      const m = await n.messages.get(10_000);
      assert.ok(m, `${n.name}: nothing on zeek/logs/ in 10 s`);
      if (m.topic.startsWith("zeek/logs/")) return { topic: m.topic, text: dataToString(m.data) };
    }
  };
  const created = { topic: "zeek/logs/Test::LOG", text: dataToString(create.toData()) };
  const l1 = await ClusterNode.join(layout, "logger-1");
  // logger-2 is not there yet: re-dialled until it is.
  const worker = await ClusterNode.join(layout, "worker-1", { retryMs: 100 });
  let l2: ClusterNode | undefined;
  try {
    await worker.waitFor("logger-1");
    worker.publishLogCreate(create);
    assert.deepEqual(await nextLog(l1), created);
    l2 = await ClusterNode.join(layout, "logger-2");
    await worker.waitFor("logger-2");
    assert.deepEqual(await nextLog(l2), created);
    // On logger-1's peering a mark follows where the repeat would be: none came.
    worker.endpoint.publish("zeek/logs/mark", str("mark"));
    assert.deepEqual(await nextLog(l1), { topic: "zeek/logs/mark", text: "mark" });
  } finally {
    await worker.close();
    await l2?.close();
    await l1.close();
  }
});

Deno.test("a worker clones each Broker-backed table a manager announces, once per name, unless told not to", async () => {
  const layout = ClusterLayout.fromObject({
    nodes: {
      manager: { type: "manager", host: "127.0.0.1", port: 1 },
      "worker-1": { type: "worker", host: "127.0.0.1", port: 0 },
      "worker-2": { type: "worker", host: "127.0.0.1", port: 0 },
    },
  });
  const mgr = await ClusterNode.join(layout, "manager", { listenPort: 0 });
  const one = await ClusterNode.join(layout, "worker-1");
  const two = await ClusterNode.join(layout, "worker-2", { cloneTables: false });
  const t = mgr.attachTableMaster("t");
  try {
    await t.put(str("k"), count(1n));
    await one.endpoint.peer("127.0.0.1", mgr.port);
    const clone = await one.waitForTableClone("t");
    assert.equal(clone.name, "___sync_store_t");
    assert.deepEqual(await clone.get(str("k")), count(1n));
    // A second announcement ({t, u}) adds u's clone and keeps t's.
    const u = mgr.attachTableMaster("u");
    assert.equal((await one.waitForTableClone("u")).name, "___sync_store_u");
    assert.equal(one.tableClone("t"), clone);
    u.close();
    // The announcement comes before the hello: once the manager is up, it was seen.
    await two.endpoint.peer("127.0.0.1", mgr.port);
    await two.waitFor("manager");
    assert.equal(two.tableClone("t"), undefined);
    assert.equal(mgr.tableClone("t"), undefined);
  } finally {
    t.close();
    await two.close();
    await one.close();
    await mgr.close();
  }
  await assert.rejects(one.waitForTableClone("t"), { code: ErrorCode.shutting_down });
});

Deno.test("only a manager masters Zeek's Broker-backed tables; it announces them to new peers", async () => {
  const layout = ClusterLayout.fromObject({
    nodes: {
      manager: { type: "manager", host: "127.0.0.1", port: 1 },
      "worker-1": { type: "worker", host: "127.0.0.1", port: 0 },
    },
  });
  const mgr = await ClusterNode.join(layout, "manager", { listenPort: 0 });
  const worker = await ClusterNode.join(layout, "worker-1");
  try {
    // Zeek's other nodes clone (broker-stores.zeek: table_store_master = F).
    assert.throws(
      () => worker.attachTableMaster("t"),
      (e: unknown) => (e as { code?: number }).code === ErrorCode.invalid_data,
    );
    const table = mgr.attachTableMaster("t");
    const seen = worker.messages;
    await worker.endpoint.peer("127.0.0.1", mgr.port);
    // The announcement first, then the hello, on the worker's nodeid topic.
    const first = await seen.get(10_000);
    const second = await seen.get(10_000);
    assert.equal(first?.topic, `zeek/cluster/nodeid/${worker.id}/`);
    assert.match(
      String(first && dataToString(first.data)),
      /^\(1, 1, \(Broker::announce_masters, \(\{t\}\)/,
    );
    assert.match(
      String(second && dataToString(second.data)),
      /^\(1, 1, \(Cluster::hello, \(manager, /,
    );
    table.close();
  } finally {
    await worker.close();
    await mgr.close();
  }
});
