// `broker bridge` and `broker zeromq`: usage errors before anything runs, and both commands
// end to end as child processes (our proxy, the bridge) with our endpoint and ZeroMQ node.
import assert from "node:assert/strict";
import { Endpoint, Event, str } from "../mod.ts";
import { ZeekZmqNode } from "../engine/zeromq/mod.ts";
import { freePort, waitForPort } from "../tests/broker_ref.ts";
import { resolveBridgeOptions } from "./bridge_command.ts";
import { main } from "./main.ts";
import { spawnCli } from "../tests/cli_child.ts";

const AT = [
  "--zeromq.connect-xpub-endpoint=tcp://127.0.0.1:5556",
  "--zeromq.connect-xsub-endpoint=tcp://127.0.0.1:5555",
  "--cluster.node=worker-1",
];

Deno.test("broker bridge / broker zeromq: every bad value is a usage error (exit 2)", async () => {
  const run = async (args: string[]) => {
    let err = "";
    const code = await main(args, {
      writeErr: (s) => err += s,
      writeOut: () => {},
      colorErr: false,
    });
    return { code, err };
  };
  const cases: [string[], RegExp][] = [
    [["bridge", "--broker.port=0", ...AT], /^broker bridge: --topics: required/],
    [["bridge", "--topics=/a", ...AT], /--broker\.port: the Broker side neither listens nor peers/],
    [["bridge", "--topics=/a", "--broker.port=0", ...AT, "--loop-window=soon"], /--loop-window/],
    [["bridge", "--to-broker=", "--broker.port=0", ...AT], /--to-broker/],
    [["bridge", "--topics=/a", "--broker.port=0"], /--zeromq\.connect-xpub-endpoint: required/],
    [
      ["bridge", "--topics=/a", "--broker.port=0", ...AT.slice(0, 2)],
      /--cluster\.node: required/,
    ],
    [
      ["bridge", "--topics=/a", "--broker.port=0", ...AT.slice(1)],
      /--zeromq\.connect-xpub-endpoint: a node needs both/,
    ],
    [
      [
        "bridge",
        "--topics=/a",
        "--broker.port=0",
        "--zeromq.connect-xpub-endpoint=ipc:///x",
        ...AT.slice(1),
      ],
      /--zeromq\.connect-xpub-endpoint: expected a ZeroMQ endpoint/,
    ],
    [
      [
        "bridge",
        "--topics=/a",
        "--broker.port=0",
        "--zeromq.connect-xpub-endpoint=tcp://*:1",
        ...AT.slice(1),
      ],
      /only where we listen/,
    ],
    [
      ["bridge", "--topics=/a", "--broker.port=0", ...AT, "--cluster.node-type=boss"],
      /--cluster\.node-type: expected one of manager, logger, proxy, worker/,
    ],
    [["bridge", "--topics=/a", "--broker.peers=nope", ...AT], /--broker\.peers: no port/],
    [["zeromq"], /^broker zeromq: --zeromq\.listen-xpub-endpoint: nothing to run/],
    [
      ["zeromq", "--zeromq.listen-xpub-endpoint=tcp://*:1"],
      /--zeromq\.listen-xsub-endpoint: the proxy needs both/,
    ],
    [
      [
        "zeromq",
        "--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:1",
        "--zeromq.listen-xsub-endpoint=tcp://127.0.0.2:2",
      ],
      /both listen endpoints take one address/,
    ],
    [
      [
        "zeromq",
        "--zeromq.listen-xpub-endpoint=tcp://*:70000",
        "--zeromq.listen-xsub-endpoint=tcp://*:1",
      ],
      /port 70000 out of range/,
    ],
  ];
  for (const [args, expected] of cases) {
    const r = await run(args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, expected, args.join(" "));
  }
});

Deno.test(
  "broker zeromq as the proxy and broker bridge as worker-1, end to end with our endpoint and node",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const [xpub, xsub, brokerPort] = [freePort(), freePort(), freePort()];
    const proxy = spawnCli([
      "zeromq",
      `--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:${xpub}`,
      `--zeromq.listen-xsub-endpoint=tcp://127.0.0.1:${xsub}`,
    ]);
    const bridge = spawnCli([
      "bridge",
      "--disable-ssl",
      "--topics=zeek/cluster/manager,zeek/cluster/worker",
      "--broker.address=127.0.0.1",
      `--broker.port=${brokerPort}`,
      `--zeromq.connect-xpub-endpoint=tcp://127.0.0.1:${xsub}`,
      `--zeromq.connect-xsub-endpoint=tcp://127.0.0.1:${xpub}`,
      "--cluster.node=worker-1",
      "-v",
    ]);
    const timer = setTimeout(() => {
      proxy.child.kill("SIGKILL");
      bridge.child.kill("SIGKILL");
    }, 30_000);
    const ep = new Endpoint();
    let manager: ZeekZmqNode | undefined;
    try {
      await waitForPort(xpub, 20_000);
      await waitForPort(brokerPort, 20_000);
      manager = await ZeekZmqNode.connect({
        name: "manager",
        nodeType: "manager",
        xpub: { host: "127.0.0.1", port: xsub },
        xsub: { host: "127.0.0.1", port: xpub },
      });
      assert.equal((await manager.statuses.get(10_000))?.name, "worker-1");
      const sub = ep.subscribe("zeek/cluster/worker");
      await ep.peer("127.0.0.1", brokerPort, { retryMs: 0 });
      await ep.awaitPeerSubscription("zeek/cluster/manager", 5000);
      ep.publishEvent("zeek/cluster/manager", "Test::ping", [str("via cli")]);
      const ping = await manager.events.get(5000);
      assert.equal(ping?.topic, "zeek.cluster.manager");
      assert.equal(ping?.event.name, "Test::ping");
      manager.publish("zeek.cluster.worker", new Event("Test::pong", [str("back")]));
      const pong = await sub.get(5000);
      assert.equal(pong?.topic, "zeek/cluster/worker");
      assert.equal(Event.from(pong!.data).name, "Test::pong");
    } finally {
      await ep.shutdown();
      await manager?.close();
      const b = await bridge.stop();
      const p = await proxy.stop();
      clearTimeout(timer);
      assert.equal(b.status.code, 0, b.err());
      assert.equal(p.status.code, 0, p.err());
      assert.ok(b.out.some((l) => l.startsWith("*** bridge ")), b.out.join("\n"));
      assert.match(b.err(), /\*\*\* zeromq: node_up manager zeromq_manager_/);
      assert.match(
        b.err(),
        /\*\*\* 1 events to ZeroMQ, 1 to Broker; dropped: 0 not events, 1 echoes/,
      );
      assert.ok(p.out.some((l) => l.startsWith("*** proxy: XPUB on 127.0.0.1:")), p.out.join("\n"));
    }
  },
);

Deno.test("broker bridge: one-way topic lists and the loop guard's options", () => {
  const o = resolveBridgeOptions({
    toZeromq: "/up/",
    toBroker: '["/down/", "zeek/cluster/worker"]',
    loopWindow: "250ms",
    carryOtherBridges: true,
    "broker.port": "0",
    "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
    "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
    "cluster.node": "worker-1",
  });
  assert.deepEqual(o.bridge.topics, []);
  assert.deepEqual(o.bridge.toZeromq, ["/up/"]);
  assert.deepEqual(o.bridge.toBroker, ["/down/", "zeek/cluster/worker"]);
  assert.equal(o.bridge.loopWindowMs, 250);
  assert.equal(o.bridge.carryOtherBridges, true);
  const d = resolveBridgeOptions({
    topics: "/a",
    "broker.port": "0",
    "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
    "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
    "cluster.node": "worker-1",
  });
  assert.equal(d.bridge.loopWindowMs, undefined, "the bridge's default");
  assert.equal(d.bridge.carryOtherBridges, undefined);
});

Deno.test(
  "broker zeromq and broker bridge: ^C while they dial stops them; a proxy that goes away and comes back: they say so, keep running and get events again",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // Nothing listens at these ports: both would dial until something does.
    const [xpub, xsub, brokerPort] = [freePort(), freePort(), freePort()];
    const at = [
      `--zeromq.connect-xpub-endpoint=tcp://127.0.0.1:${xsub}`,
      `--zeromq.connect-xsub-endpoint=tcp://127.0.0.1:${xpub}`,
      "--cluster.node=worker-1",
    ];
    for (const args of [["zeromq", ...at], ["bridge", "--topics=/x", "--broker.port=0", ...at]]) {
      const c = spawnCli(args);
      await new Promise((r) => setTimeout(r, 1500));
      const started = Date.now();
      const { status } = await c.stop();
      assert.equal(status.code, 0, `${args[0]}: ${c.err()}`);
      assert.ok(Date.now() - started < 2000, `${args[0]} took ${Date.now() - started} ms to stop`);
    }
    // A node and a bridge whose proxy goes away dial it again, as a Zeek node does.
    const proxyArgs = [
      "zeromq",
      `--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:${xpub}`,
      `--zeromq.listen-xsub-endpoint=tcp://127.0.0.1:${xsub}`,
    ];
    let proxy = spawnCli(proxyArgs);
    await waitForPort(xpub, 20_000);
    const node = spawnCli(["zeromq", ...at, "--topics=app."]);
    const bridge = spawnCli([
      "bridge",
      "--topics=/x",
      "--broker.address=127.0.0.1",
      `--broker.port=${brokerPort}`,
      ...at.slice(0, 2),
      "--cluster.node=worker-2",
    ]);
    let manager: ZeekZmqNode | undefined;
    const until = async (what: string, cond: () => boolean) => {
      const deadline = Date.now() + 20_000;
      while (!cond()) {
        assert.ok(Date.now() < deadline, `${what}\n${node.err()}\n${bridge.err()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };
    const count = (text: string, re: RegExp) => text.match(re)?.length ?? 0;
    try {
      await until("node up", () => node.out.some((l) => l.startsWith("*** node worker-1")));
      await until("bridge up", () => bridge.out.some((l) => l.startsWith("*** bridge ")));
      await proxy.stop();
      const lost =
        /\*\*\* zeromq: lost the connection to the proxy's X(PUB|SUB) at 127\.0\.0\.1:\d+; dialling again every 100 to 199 ms\n/g;
      await until(
        "both say the proxy is gone",
        () => count(node.err(), lost) === 2 && count(bridge.err(), lost) === 2,
      );
      proxy = spawnCli(proxyArgs);
      const back =
        /\*\*\* zeromq: connected again to the proxy's X(PUB|SUB) at 127\.0\.0\.1:\d+\n/g;
      await until(
        "both are back",
        () => count(node.err(), back) === 2 && count(bridge.err(), back) === 2,
      );
      manager = await ZeekZmqNode.connect({
        name: "manager",
        nodeType: "manager",
        xpub: { host: "127.0.0.1", port: xsub },
        xsub: { host: "127.0.0.1", port: xpub },
      });
      const names = [
        (await manager.statuses.get(10_000))?.name,
        (await manager.statuses.get(10_000))?.name,
      ];
      assert.deepEqual(names.sort(), ["worker-1", "worker-2"]);
      // The node's --topics prefix was subscribed again on the new proxy.
      await until("app. subscribed again", () => manager!.wants("app.x"));
      assert.ok(manager.publish("app.x", new Event("Test::back", [str("again")])));
      await until(
        "the node prints the event",
        () => node.out.some((l) => l.startsWith("app.x: ") && l.includes("Test::back")),
      );
      assert.equal(
        await Promise.race([node.child.status.then(() => "exited"), Promise.resolve("running")]),
        "running",
      );
    } finally {
      await manager?.close();
      const n = await node.stop();
      const b = await bridge.stop();
      await proxy.stop();
      assert.equal(n.status.code, 0, n.err());
      assert.equal(b.status.code, 0, b.err());
    }
  },
);
