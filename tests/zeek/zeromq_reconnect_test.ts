// Our node under a real Zeek 8 manager that goes away and comes back on the same ports (it runs
// the XPUB/XSUB proxy and is the logger): as Zeek's own worker does (seen live with two Zeeks),
// our node dials all three sockets again, the new manager's hello takes the place of the old
// one (node_down for the old ID, node_up for the new), and a ping gets its pong again.
import assert from "node:assert/strict";
import { count, Event } from "../../mod.ts";
import {
  type ZeekNodeStatus,
  type ZeekZmqLinkStatus,
  ZeekZmqNode,
  ZmqProxyServer,
} from "../../engine/zeromq/mod.ts";
import { freePort } from "../broker_ref.ts";
import { SCRIPTS, ZEEK_START_MS, zeekTest } from "./zeek.ts";
import { connectThrough, zmqEnv } from "./zeromq_helpers.ts";

zeekTest(
  "Zeek's manager (proxy and logger) stops and starts again: our node dials again, node_down for the old manager, node_up for the new, ping and pong again",
  async (t) => {
    const [xpub, xsub, logPull] = [freePort(), freePort(), freePort()];
    const start = () =>
      t.zeek("zeromq/restart-manager.zeek", {
        path: [`${SCRIPTS}zeromq`],
        env: {
          CLUSTER_NODE: "manager",
          XPUB_PORT: `${xpub}/tcp`,
          XSUB_PORT: `${xsub}/tcp`,
          LOG_PULL_PORT: `${logPull}/tcp`,
        },
      });
    let zeek = await start();
    await zeek.listening(xpub, xsub, logPull);
    const node = await ZeekZmqNode.connect({
      name: "worker-1",
      nodeType: "worker",
      xpub: { host: "127.0.0.1", port: xsub },
      xsub: { host: "127.0.0.1", port: xpub },
      logger: { host: "127.0.0.1", port: logPull },
    });
    t.defer(() => node.close());
    const status = async (): Promise<ZeekNodeStatus> => {
      const s = await node.statuses.get(15_000);
      assert.ok(s, `no node status\n${zeek.transcript}`);
      return s;
    };
    const links = async (): Promise<string[]> => {
      const got: ZeekZmqLinkStatus[] = [];
      while (got.length < 3) {
        const s = await node.links.get(15_000);
        assert.ok(s, `${JSON.stringify(got)}\n${zeek.transcript}`);
        got.push(s);
      }
      return got.map((s) => `${s.type} ${s.socket}`).sort();
    };
    const pingPong = async (n: bigint) => {
      assert.ok(node.publish("zeek.cluster.manager", new Event("Test::ping", [count(n)])));
      const pong = await node.events.get(10_000);
      assert.equal(pong?.event.name, "Test::pong", zeek.transcript);
      assert.deepEqual(pong?.event.args, [count(n + 1n)]);
    };

    const first = await status();
    assert.deepEqual([first.type, first.name], ["node_up", "manager"]);
    await pingPong(1n);

    await zeek.stop();
    assert.deepEqual(await links(), [
      "disconnected PUSH",
      "disconnected XPUB",
      "disconnected XSUB",
    ]);
    zeek = await start();
    await zeek.listening(xpub, xsub, logPull);
    assert.deepEqual(await links(), ["reconnected PUSH", "reconnected XPUB", "reconnected XSUB"]);
    // The old manager goes down (by its node-ID cancellation if it got out before the proxy
    // stopped, else on the new one's hello, as Zeek's worker logs "never said goodbye"), then
    // the new one comes up.
    const down = await status();
    assert.deepEqual(down, { type: "node_down", name: "manager", id: first.id });
    const up = await status();
    assert.deepEqual([up.type, up.name], ["node_up", "manager"]);
    assert.notEqual(up.id, first.id);
    await pingPong(10n);
    // Zeek flushes its prints when it exits. Its node_up for us and our ping race: our hello
    // goes out when the new manager's subscription reaches our XPUB, the ping when its hello
    // reached us (a Zeek worker's ping from its node_up handler races its hello the same way).
    await zeek.stop();
    assert.deepEqual(zeek.stdout.toSorted(), ["node_up, worker-1", "ping, 10"]);
    assert.deepEqual(node.errors, []);
  },
  { timeoutMs: 20_000 + 2 * ZEEK_START_MS },
);

zeekTest(
  "our proxy goes away and comes back under a running Zeek worker: its libzmq dials again and its pings reach our node again, nobody goes down",
  async (t) => {
    let proxy = ZmqProxyServer.listen({ hostname: "127.0.0.1" });
    t.defer(() => proxy.close());
    const ports = { hostname: "127.0.0.1", xpubPort: proxy.xpubPort, xsubPort: proxy.xsubPort };
    const zeek = await t.zeek("zeromq/pinger.zeek", {
      path: [`${SCRIPTS}zeromq`],
      env: { ...zmqEnv(proxy), CLUSTER_NODE: "worker-1" },
    });
    const node = await connectThrough(proxy, "worker-2", "worker");
    t.defer(() => node.close());
    // What the Zeek worker publishes on the manager topic, once we subscribe it.
    node.subscribe("zeek.cluster.manager");
    const up = await node.statuses.get(ZEEK_START_MS);
    assert.deepEqual([up?.type, up?.name], ["node_up", "worker-1"], zeek.transcript);
    const ping = async (): Promise<bigint> => {
      const e = await node.events.get(10_000);
      assert.equal(e?.event.name, "Test::ping", zeek.transcript);
      return (e!.event.args[0] as { value: bigint }).value;
    };
    await ping();

    await proxy.close();
    const lost = [await node.links.get(10_000), await node.links.get(10_000)];
    assert.deepEqual(lost.map((s) => s?.type), ["disconnected", "disconnected"]);
    const before = node.events.poll().map((e) => (e.event.args[0] as { value: bigint }).value);
    proxy = ZmqProxyServer.listen(ports);
    const back = [await node.links.get(10_000), await node.links.get(10_000)];
    assert.deepEqual(back.map((s) => s?.type), ["reconnected", "reconnected"]);
    const last = before.length ? before[before.length - 1] : 0n;
    let n = await ping();
    while (n <= last) n = await ping();
    assert.ok(n > last);
    assert.equal(node.statuses.length, 0, "nobody went down");
    assert.deepEqual([...node.up.values()], ["worker-1"]);
    assert.deepEqual([node.errors, proxy.errors], [[], []]);
  },
  { timeoutMs: 20_000 + ZEEK_START_MS },
);
