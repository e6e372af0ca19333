// The bridge live: a Broker world of C++ Broker (a broker-node relay, broker-pipe) and a
// Zeek on the Broker backend, and a Zeek 8 cluster on ZeroMQ (its manager runs the proxy),
// joined by our ZeromqBridge as worker-1. The Broker Zeek's Bridge::ping, published on
// zeek/cluster/manager through the C++ relay, reaches the Zeek 8 manager's handler on
// zeek.cluster.manager; the manager's Bridge::pong on zeek.cluster.worker reaches
// broker-pipe and the Broker Zeek on zeek/cluster/worker. broker-pipe publishes only
// strings (checked: it cannot make an event), so its line is counted, not forwarded.
import assert from "node:assert/strict";
import { ZeromqBridge } from "../../engine/zeromq/bridge.ts";
import { freePort, RefProcess, waitForPort } from "../broker_ref.ts";
import { SCRIPTS, ZEEK_START_MS, zeekTest } from "./zeek.ts";

zeekTest(
  "bridge: a Broker-backend Zeek's event via a C++ broker-node reaches a Zeek 8 ZeroMQ manager's handler; its reply reaches broker-pipe",
  async (t) => {
    const [xpub, xsub, logPull, relayPort] = [freePort(), freePort(), freePort(), freePort()];
    const manager = await t.zeek("bridge/manager.zeek", {
      path: [`${SCRIPTS}zeromq`],
      env: {
        CLUSTER_NODE: "manager",
        XPUB_PORT: `${xpub}/tcp`,
        XSUB_PORT: `${xsub}/tcp`,
        LOG_PULL_PORT: `${logPull}/tcp`,
      },
    });
    // The C++ relay forwards only what it subscribes itself (checked with this Broker build).
    const relay = new RefProcess("broker-node", [
      "--disable-ssl",
      "-m",
      "relay",
      '--topics=["zeek/cluster"]',
      "-p",
      String(relayPort),
    ]);
    t.defer(() => relay.stop().then(() => {}));
    await waitForPort(relayPort);
    await manager.listening(xpub, xsub);

    const bridge = await ZeromqBridge.start({
      topics: ["zeek/cluster/manager", "zeek/cluster/worker"],
      peers: [{ host: "127.0.0.1", port: relayPort }],
      zeromq: {
        name: "worker-1",
        nodeType: "worker",
        xpub: { host: "127.0.0.1", port: xsub },
        xsub: { host: "127.0.0.1", port: xpub },
      },
    });
    t.defer(() => bridge.close());
    await manager.waitFor("node_up, worker-1");
    assert.equal((await bridge.node.statuses.get(10_000))?.name, "manager");

    const pipe = new RefProcess("broker-pipe", [
      "--disable-ssl",
      "-m",
      "subscribe",
      "-t",
      "zeek/cluster/worker",
      "-p",
      `["127.0.0.1:${relayPort}"]`,
    ]);
    t.defer(() => pipe.stop().then(() => {}));
    const pipeOut = new RefProcess("broker-pipe", [
      "--disable-ssl",
      "-m",
      "publish",
      "-t",
      "zeek/cluster/manager",
      "-p",
      `["127.0.0.1:${relayPort}"]`,
    ], true);
    t.defer(() => pipeOut.stop().then(() => {}));
    await pipe.waitFor((l) => l.includes("peer_added"));
    await pipeOut.waitFor((l) => l.includes("peer_added"));
    await pipeOut.writeLine("a string, not an event");

    const old = await t.zeek("bridge/broker-zeek.zeek", {
      env: { RELAY_PORT: `${relayPort}/tcp` },
    });
    const [ping] = await manager.waitFor("ping").catch((e) => {
      throw new Error(`${e.message}\n${old.transcript}\n${JSON.stringify(bridge.stats())}`);
    });
    assert.equal(ping, "ping, from broker, 41");
    const [pong] = await old.waitFor("pong");
    assert.equal(pong, "pong, pong for from broker, 42");
    const [line] = await pipe.waitFor((l) => l.includes("Bridge::pong"));
    assert.equal(
      line,
      "data(zeek/cluster/worker, (1, 1, (Bridge::pong, (pong for from broker, 42))))",
    );

    const stats = bridge.stats();
    assert.ok(stats.toZeromq >= 1 && stats.toBroker >= 1, JSON.stringify(stats));
    // broker-pipe's string was published before the Broker Zeek started: it came first.
    assert.equal(stats.notEvents, 1, JSON.stringify(stats));
    // The bridge subscribes zeek.cluster.manager too: Zeek's proxy sends each ping back, dropped.
    assert.ok(stats.echoes <= stats.toZeromq, JSON.stringify(stats));
    // Leaving: the manager sees node_down and exits.
    await bridge.close();
    assert.equal((await manager.exited(10_000)).code, 0, manager.transcript);
  },
  { timeoutMs: 25_000 + ZEEK_START_MS },
);
