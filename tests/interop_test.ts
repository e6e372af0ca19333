// Live interop with the reference C++ Broker (broker-node, broker-pipe), TLS off.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
  dataToString,
  Endpoint,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  str,
  subnet,
  type Subscriber,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { freePort, RefProcess, waitForPort } from "./broker_ref.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test("we ping a C++ broker-node in pong mode (we dial)", opts, async () => {
  const p = freePort();
  const node = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "pong",
    '--topics=["/bench/ping"]',
    "-p",
    String(p),
    "-v",
  ]);
  const ep = new Endpoint();
  try {
    await waitForPort(p);
    const sub = ep.subscribe("/bench/ping");
    await ep.peer("127.0.0.1", p, { retryMs: 0 });
    await ep.awaitPeerSubscription("/bench/ping");
    for (let i = 0; i < 5; i++) {
      ep.publish("/bench/ping", vector(str("ping"), count(BigInt(i)), str("xxxxxxxxxx")));
      const pong = await sub.get(5000);
      assert.ok(pong, "no pong from the C++ node");
      assert.equal(dataToString(pong.data), `(pong, ${i})`);
    }
    await node.waitFor((l) => l.includes("received ping 4"));
  } finally {
    await ep.shutdown();
    await node.stop();
  }
});

Deno.test("a C++ broker-node in ping mode pings us (it dials, we answer)", opts, async () => {
  const ep = new Endpoint();
  const p = await ep.listen("127.0.0.1", 0);
  const sub = ep.subscribe("/bench/ping");
  const answering = (async () => {
    for await (const m of sub) {
      const [kind, id] = m.data.value as Data[];
      if (kind.value === "ping") ep.publish(m.topic, vector(str("pong"), id));
    }
  })();
  const node = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "ping",
    '--topics=["/bench/ping"]',
    "-n",
    "5",
    "-s",
    "10",
    `--peers=[<tcp://127.0.0.1:${p}>]`,
    "-v",
  ]);
  try {
    const status = await Promise.race([
      node.done,
      new Promise<never>((_, r) =>
        setTimeout(() => r(new Error("broker-node did not finish")), 15000)
      ),
    ]);
    assert.equal(status.code, 0, node.lines.join("\n"));
    assert.ok(node.lines.some((l) => l.includes("AVG:")), node.lines.join("\n"));
    assert.equal(node.lines.filter((l) => /^\d+$/.test(l)).length, 5, "one RTT line per ping");
  } finally {
    await ep.shutdown();
    await answering;
    await node.stop();
  }
});

// Values whose C++ text form we can predict (the C++ side prints them).
const TYPED: Data[] = [
  none(),
  bool(true),
  count(18446744073709551615n),
  integer(-42n),
  real(1.5),
  str("hello world"),
  addr("10.0.0.1"),
  addr("2001:db8::1"),
  subnet("10.0.0.0/8"),
  port(443, "tcp"),
  port(0, "unknown"),
  timestamp(1700000000123456789n),
  timespan(-1500000000n),
  enumValue("Conn::LOG"),
  set(str("b"), str("a"), count(3n)),
  table([[str("k"), vector(count(1n), str("v"))]]),
  vector(vector(), set(), table()),
];

Deno.test(
  "every data type we publish is decoded by C++ broker-pipe to Broker's text",
  opts,
  async () => {
    const ep = new Endpoint();
    const p = await ep.listen("127.0.0.1", 0);
    const pipe = new RefProcess("broker-pipe", [
      "--disable-ssl",
      "-m",
      "subscribe",
      "-t",
      "/typed",
      "-p",
      `["127.0.0.1:${p}"]`,
    ]);
    try {
      await ep.awaitPeerSubscription("/typed", 10_000);
      for (const v of TYPED) ep.publish("/typed", v);
      const lines = await pipe.waitFor((l) => l.startsWith("data(/typed,"), TYPED.length);
      assert.deepEqual(lines, TYPED.map((v) => `data(/typed, ${dataToString(v)})`));
    } finally {
      await ep.shutdown();
      await pipe.stop();
    }
  },
);

Deno.test(
  "C++ broker-pipe publishes to us; a C++ relay forwards every type between two of ours",
  opts,
  async () => {
    const p = freePort();
    const relay = new RefProcess("broker-node", [
      "--disable-ssl",
      "-m",
      "relay",
      '--topics=["/typed"]',
      "-p",
      String(p),
    ]);
    const a = new Endpoint(), b = new Endpoint();
    try {
      await waitForPort(p);
      const sub = b.subscribe("/typed");
      await b.peer("127.0.0.1", p, { retryMs: 0 });
      await a.peer("127.0.0.1", p, { retryMs: 0 });
      await a.awaitPeerSubscription("/typed");
      // The relay advertises only its own filter, which matches /typed.
      for (const v of TYPED) a.publish("/typed", v);
      for (const v of TYPED) {
        const m = await sub.get(5000);
        assert.ok(m, `nothing relayed for ${dataToString(v)}`);
        assert.equal(dataToString(m.data), dataToString(v));
      }
      const pipe = new RefProcess("broker-pipe", [
        "--disable-ssl",
        "-m",
        "publish",
        "-t",
        "/typed/pipe",
        "-p",
        `["127.0.0.1:${p}"]`,
      ], true);
      await pipe.writeLine("from c++");
      const m = await sub.get(10_000);
      assert.ok(m, "broker-pipe's message did not arrive");
      assert.equal(m.topic, "/typed/pipe");
      assert.equal(dataToString(m.data), "from c++");
      await pipe.closeStdin();
      await pipe.stop();
    } finally {
      await a.shutdown();
      await b.shutdown();
      await relay.stop();
    }
  },
);

/**
 * A C++ broker-node relaying `/big`, and two of our endpoints peered to it,
 * `to` subscribed: what the large-message tests share.
 */
async function withBigRelay(
  fn: (from: Endpoint, to: Endpoint, sub: Subscriber) => Promise<void>,
): Promise<void> {
  const port = freePort();
  const node = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    '--topics=["/big"]',
    "-p",
    String(port),
  ]);
  const from = new Endpoint(), to = new Endpoint();
  try {
    await waitForPort(port);
    const sub = to.subscribe("/big");
    await to.peer("127.0.0.1", port, { retryMs: 0 });
    await from.peer("127.0.0.1", port, { retryMs: 0 });
    await fn(from, to, sub);
  } finally {
    await from.shutdown();
    await to.shutdown();
    await node.stop();
  }
}

Deno.test(
  "a 70 MB value between a small one and 100 more crosses a C++ broker-node between our endpoints, and goes direct too",
  opts,
  async () => {
    // Our sender cut the C++ peer (backpressure_overflow: the queued bytes plus
    // the new message passed 64 MiB), and our receiver refused frames over
    // 64 MiB; Broker bounds its queue in messages and takes up to INT32_MAX - 4.
    // And while the 70 MB value was queued it counted against our 64 MiB bytes
    // bound, so the next message met the overflow policy and (disconnect, the
    // default) cut the peer; Broker counts messages only and sends them.
    const direct = new Endpoint();
    await withBigRelay(async (from, to, sub) => {
      try {
        const directSub = direct.subscribe("/big");
        await from.peer("127.0.0.1", await direct.listen("127.0.0.1", 0), { retryMs: 0 });
        await from.awaitPeerSubscription("/big", 10_000);
        from.publish("/big", str("small"));
        from.publish("/big", str("y".repeat(70_000_000)));
        for (let i = 0; i < 100; i++) from.publish("/big", count(BigInt(i)));
        for (const s of [sub, directSub]) {
          const got: number[] = [];
          for (let i = 0; i < 2; i++) {
            const m = await s.get(30_000);
            got.push(m?.data.type === "string" ? m.data.value.length : -1);
          }
          assert.deepEqual(got, [5, 70_000_000]);
          for (let i = 0; i < 100; i++) {
            const m = await s.get(10_000);
            assert.equal(m && dataToString(m.data), String(i));
          }
        }
        assert.equal(from.peers().length, 2);
        assert.equal(to.peers().length, 1);
      } finally {
        await direct.shutdown();
      }
    });
  },
);

Deno.test(
  "publishTo reaches one C++ peer (the envelope's receiver), not another subscribed to the topic",
  opts,
  async () => {
    const a = new Endpoint();
    const pipes: RefProcess[] = [];
    const pipe = () => {
      const p = new RefProcess("broker-pipe", [
        "--disable-ssl",
        "-m",
        "subscribe",
        "-t",
        "/direct",
        "-p",
        `["127.0.0.1:${port}"]`,
      ]);
      pipes.push(p);
      return p;
    };
    const port = await a.listen("127.0.0.1", 0);
    const peered = () => a.peers().filter((p) => p.status === "peered" && p.id);
    try {
      const one = pipe();
      for (let i = 0; peered().length < 1; i++) {
        assert.ok(i < 100, "the first broker-pipe did not peer");
        await new Promise((r) => setTimeout(r, 100));
      }
      const oneId = peered()[0].id!;
      const two = pipe();
      // Until the second pipe prints a broadcast, its filter may not be here yet.
      for (let n = 0; !two.lines.some((l) => l.startsWith("data(/direct")); n++) {
        assert.ok(n < 100, `the second broker-pipe got no broadcast: ${two.lines.join("\n")}`);
        a.publish("/direct", str(`warm-up ${n}`));
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(a.publishTo(oneId, "/direct", str("to one")), true);
      a.publish("/direct", str("to all"));
      // The broadcast goes after the directed message on each peering: once it
      // is there, the directed one arrived wherever it was sent.
      await one.waitFor((l) => l === "data(/direct, to all)");
      await two.waitFor((l) => l === "data(/direct, to all)");
      const rest = (p: RefProcess) =>
        p.lines.filter((l) => l.startsWith("data(/direct") && !l.includes("warm-up"));
      assert.deepEqual(rest(one), ["data(/direct, to one)", "data(/direct, to all)"]);
      assert.deepEqual(rest(two), ["data(/direct, to all)"]);
    } finally {
      await a.shutdown();
      for (const p of pipes) await p.stop();
    }
  },
);
