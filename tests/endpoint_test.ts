// Endpoints in one process over real TCP sockets on 127.0.0.1.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
  DataBuilder,
  dataToString,
  encode,
  Endpoint,
  enumValue,
  equals,
  integer,
  none,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { StatusCode } from "../engine/status.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import type { Subscriber } from "../engine/subscriber.ts";
import { generateEncoded } from "../engine/recording/generate_encoded.ts";
import { readGeneratorFile, seededRandom } from "../engine/recording/generator_file.ts";

const EVERY_TYPE: Data[] = [
  none(),
  bool(true),
  count(18446744073709551615n),
  integer(-9223372036854775808n),
  real(-1.5),
  str("grüße ✓"),
  str(new Uint8Array([0xff, 0x00, 0x7a])),
  addr("2001:db8::1"),
  subnet("10.0.0.0/8"),
  port(443, "tcp"),
  timestamp(1700000000123456789n),
  timespan(-1n),
  enumValue("Conn::LOG"),
  set(str("b"), str("a")),
  table([[str("k"), vector(count(1n))]]),
  vector(vector(vector()), set(), table()),
];

async function withEndpoints(n: number, fn: (eps: Endpoint[]) => Promise<void>) {
  const eps = Array.from({ length: n }, () => new Endpoint({ handshakeTimeoutMs: 2000 }));
  try {
    await fn(eps);
  } finally {
    await Promise.all(eps.map((e) => e.shutdown()));
  }
}

Deno.test("two endpoints peer and exchange every data type both ways", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen("127.0.0.1", 0);
    const subA = a.subscribe(["/t/"]);
    const subB = b.subscribe("/t/");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/t/x");
    await a.awaitPeerSubscription("/t/x");
    for (const v of EVERY_TYPE) {
      b.publish("/t/ab", v);
      a.publish("/t/ba", v);
    }
    for (const v of EVERY_TYPE) {
      const ma = await subA.get(2000);
      const mb = await subB.get(2000);
      assert.equal(ma?.topic, "/t/ab");
      assert.equal(mb?.topic, "/t/ba");
      assert.ok(equals(ma!.data, v), `${dataToString(ma!.data)} != ${dataToString(v)}`);
      assert.ok(equals(mb!.data, v));
    }
    assert.equal(a.peers().length, 1);
    assert.equal(a.peers()[0].id, b.id);
    assert.equal(b.peers()[0].status, "peered");
  });
});

Deno.test("prefix matching, late subscriptions (routing_update) and no local echo", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen();
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    const late = a.subscribe("/zeek/ev");
    await b.awaitPeerSubscription("/zeek/event/x");
    const own = b.subscribe("/zeek/");
    b.publish("/zeek/event/x", count(1n));
    b.publish("/zeek/other", count(2n));
    const got = await late.get(2000);
    assert.equal(got?.topic, "/zeek/event/x");
    assert.equal(await late.get(200), undefined, "only matching topics arrive");
    assert.equal(own.available(), 0, "an endpoint's own publishes are not delivered to it");
    assert.deepEqual(b.peerSubscriptions(), ["/zeek/ev"]);
  });
});

Deno.test("a chain a - b - c forwards through the middle, sender rewritten", async () => {
  await withEndpoints(3, async ([a, b, c]) => {
    const pb = await b.listen();
    const subC = c.subscribe("/chain");
    const subA = a.subscribe("/chain");
    await a.peer("127.0.0.1", pb, { retryMs: 0 });
    await c.peer("127.0.0.1", pb, { retryMs: 0 });
    // b relays what its peers want only if b itself subscribes (Broker: filters are one hop).
    const subB = b.subscribe("/chain");
    await a.awaitPeerSubscription("/chain");
    await c.awaitPeerSubscription("/chain");
    a.publish("/chain", str("from a"));
    c.publish("/chain", str("from c"));
    assert.equal((await subC.get(2000))?.data.value, "from a");
    assert.equal((await subA.get(2000))?.data.value, "from c");
    assert.equal(subB.poll().length, 2);
  });
});

Deno.test("publishTo: to one direct peer alone (the envelope's receiver), to our own subscribers by our ID", async () => {
  await withEndpoints(3, async ([a, b, c]) => {
    const pa = await a.listen();
    const [subA, subB, subC] = [a, b, c].map((e) => e.subscribe("/d"));
    await b.peer("127.0.0.1", pa, { retryMs: 0 });
    await c.peer("127.0.0.1", pa, { retryMs: 0 });
    await a.awaitPeerSubscription("/d");
    for (let i = 0; a.peers().filter((p) => p.status === "peered").length < 2; i++) {
      assert.ok(i < 100, "b and c did not both peer");
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(a.publishTo(b.id, "/d", str("to b")), true);
    a.publish("/d", str("to all"));
    assert.equal((await subB.get(2000))?.data.value, "to b");
    assert.equal((await subB.get(2000))?.data.value, "to all");
    // On c's peering the broadcast follows where the directed message would be.
    assert.equal((await subC.get(2000))?.data.value, "to all");
    assert.equal(subC.poll().length, 0);
    // Our own ID: our subscribers get it (a plain publish does not echo).
    assert.equal(a.publishTo(a.id, "/d", str("to a")), true);
    assert.equal((await subA.get(2000))?.data.value, "to a");
    // An ID that is no direct peer: nothing goes out.
    assert.equal(a.publishTo("22222222-2222-4222-8222-222222222222", "/d", str("x")), false);
    assert.throws(() => a.publishTo("b", "/d", str("x")), (e) => e instanceof BrokerError);
    a.publish("/d", str("last"));
    assert.equal((await subB.get(2000))?.data.value, "last");
    assert.equal((await subC.get(2000))?.data.value, "last");
  });
});

Deno.test("statuses: peer_added, then peer_removed on unpeer and peer_lost on a drop", async () => {
  await withEndpoints(3, async ([a, b, c]) => {
    const port = await a.listen();
    const statusA = a.statusSubscriber();
    const statusB = b.statusSubscriber();
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    const codes = async (q: typeof statusA, n: number) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push((await q.get(2000))?.codeName ?? "timeout");
      return out;
    };
    assert.deepEqual(await codes(statusB, 2), ["endpoint_discovered", "peer_added"]);
    assert.deepEqual(await codes(statusA, 2), ["endpoint_discovered", "peer_added"]);
    assert.equal(await b.unpeer("127.0.0.1", port), true);
    assert.deepEqual(await codes(statusB, 2), ["peer_removed", "endpoint_unreachable"]);
    assert.deepEqual(await codes(statusA, 2), ["peer_lost", "endpoint_unreachable"]);
    // c peers, then vanishes without BYE
    const statusC = c.statusSubscriber({ statuses: false });
    await c.peer("127.0.0.1", port, { retryMs: 0 });
    await codes(statusA, 2);
    await c.shutdown();
    const lost = await statusA.get(2000);
    assert.ok(lost && [StatusCode.peer_lost, StatusCode.peer_removed].includes(lost.code));
    assert.equal(statusC.length, 0, "errors only");
  });
});

Deno.test("peering with nobody listening fails with peer_unavailable", async () => {
  await withEndpoints(1, async ([a]) => {
    const l = Deno.listen({ port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(
      a.peer("127.0.0.1", port, { retryMs: 0 }),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 4);
        return true;
      },
    );
  });
});

Deno.test("unpeering an address nobody peered: false, and error(peer_invalid) as Broker reports it", async () => {
  await withEndpoints(1, async ([a]) => {
    const statuses = a.statusSubscriber();
    assert.equal(await a.unpeer("127.0.0.1", 1), false);
    // Zeek 8.2.2's Broker::unpeer of an unknown address raised Broker::error with
    // PEER_INVALID, (nil, 127.0.0.1:<port>, "cannot unpeer from unknown peer").
    const e = statuses.poll();
    assert.deepEqual(e.map((s) => [s.kind, s.codeName, s.message, s.peer]), [[
      "error",
      "peer_invalid",
      "cannot unpeer from unknown peer",
      { host: "127.0.0.1", port: 1 },
    ]]);
  });
});

Deno.test("a peer that restarts is re-dialled at the retry interval", async () => {
  await withEndpoints(1, async ([b]) => {
    let a = new Endpoint();
    const port = await a.listen();
    await b.peer("127.0.0.1", port, { retryMs: 200 });
    await a.shutdown();
    a = new Endpoint();
    const sub = a.subscribe("/again");
    // the port is free again: listen on it
    await a.listen("127.0.0.1", port);
    await b.awaitPeerSubscription("/again", 5000);
    b.publish("/again", count(7n));
    assert.equal((await sub.get(2000))?.data.value, 7n);
    await a.shutdown();
  });
});

Deno.test("a failed first attempt rejects, and with a retry the endpoint keeps dialling", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const l = Deno.listen({ port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await assert.rejects(b.peer("127.0.0.1", port, { retryMs: 100 }));
    const sub = a.subscribe("/late");
    await a.listen("127.0.0.1", port);
    await b.awaitPeerSubscription("/late", 5000);
    b.publish("/late", count(1n));
    assert.equal((await sub.get(2000))?.data.value, 1n);
    assert.equal(await b.unpeer("127.0.0.1", port), true);
  });
});

Deno.test("removeTopic and close stop local delivery; the peer keeps its filter, as in Broker", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen();
    const sub = a.subscribe(["/x", "/y"]);
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/y");
    sub.removeTopic("/y");
    assert.deepEqual(sub.topics, ["/x"]);
    b.publish("/y", count(1n));
    b.publish("/x", count(2n));
    assert.equal((await sub.get(2000))?.data.value, 2n, "only /x arrives");
    assert.deepEqual(
      b.peerSubscriptions(),
      ["/x", "/y"],
      "Broker never shrinks an announced filter",
    );
    sub.close();
    b.publish("/x", count(3n));
    assert.equal(await sub.get(200), undefined);
    assert.equal(sub.closed, true);
  });
});

Deno.test("an invalid value is refused with a BrokerError whether or not anyone subscribes", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const bad = { type: "count", value: -1n } as unknown as Data;
    const garbage = new Uint8Array([0xee, 1, 2]);
    const refused = (e: unknown) => e instanceof BrokerError;
    // No peer subscribes to /v yet: refused all the same (it was dropped unseen).
    assert.throws(() => a.publish("/v", bad), refused);
    assert.throws(() => a.publish("/v", null as unknown as Data), refused);
    assert.throws(() => a.publishEncoded("/v", garbage), refused);
    assert.throws(() => a.publishBatch("/v", [count(1n), bad]), refused);
    // With a subscriber the same calls fail the same way, and a valid value still goes.
    const port = await b.listen("127.0.0.1", 0);
    const sub = b.subscribe("/v");
    await a.peer("127.0.0.1", port, { retryMs: 0 });
    await a.awaitPeerSubscription("/v");
    assert.throws(() => a.publish("/v", bad), refused);
    assert.throws(() => a.publishEncoded("/v", garbage), refused);
    a.publish("/v", count(2n));
    assert.deepEqual((await sub.get(2000))?.data, count(2n));
  });
});

Deno.test("bad arguments are BrokerErrors at once: a port no TCP peer has, a queue of no size", async () => {
  await withEndpoints(1, async ([a]) => {
    for (const port of [0, -1, 70000, 1.5, NaN]) {
      // A status for such a port had crashed the process (its data had no valid port).
      await assert.rejects(
        a.peer("127.0.0.1", port),
        (e: unknown) =>
          e instanceof BrokerError && e.code === ErrorCode.peer_unavailable &&
          e.message.includes("a TCP port is 1 to 65535"),
      );
    }
    assert.deepEqual(a.peers(), [], "nothing is dialled again");
    for (const queueSize of [0, -1, 1.5, NaN]) {
      assert.throws(
        () => a.subscribe("/q", { queueSize }),
        (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
      );
    }
    assert.throws(
      () => a.subscribe("/q", { overflowPolicy: "drop_all" as "block" }),
      /overflowPolicy must be drop_oldest, drop_newest or block, got drop_all/,
    );
  });
});

Deno.test("publishEncoded validates; getEncoded/pollEncoded hand over the validated bytes", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen("127.0.0.1", 0);
    const sub = a.subscribe("/enc");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/enc/x");
    // Garbage never leaves: a typed error, and nothing reaches the peer.
    assert.throws(
      () => b.publishEncoded("/enc/x", new Uint8Array([0xee, 1, 2])),
      (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.invalid_tag,
    );
    for (const v of EVERY_TYPE) b.publishEncoded("/enc/x", encode(v));
    const first = await sub.getEncoded(2000);
    assert.ok(first);
    const got = [first, ...await pollAtLeast(sub, EVERY_TYPE.length - 1)];
    assert.equal(got.length, EVERY_TYPE.length);
    got.forEach((m, i) => {
      assert.equal(m.topic, "/enc/x");
      assert.deepEqual([...m.payload], [...encode(EVERY_TYPE[i])]);
    });
  });
});

Deno.test("publishOwnEncoding: the generator's events reach a peer as they were written", async () => {
  const mars = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
  const shapes = readGeneratorFile(await Deno.readFile(mars)).entries
    .filter((e) => e.kind === "data").slice(0, 20).map((e) => e.shape!);
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen("127.0.0.1", 0);
    const sub = a.subscribe("/own", { queueSize: 64 });
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/own/x");
    const rnd = seededRandom(3);
    const sent = shapes.map((shape) => generateEncoded(shape, rnd).slice());
    for (const bytes of sent) b.publishOwnEncoding("/own/x", bytes);
    const first = await sub.getEncoded(2000);
    assert.ok(first);
    const got = [first, ...await pollAtLeast(sub, sent.length - 1)];
    assert.deepEqual(got.map((m) => [...m.payload]), sent.map((x) => [...x]));
  });
});

Deno.test("publishBuilt: every value a peer gets is the one built, though one builder is reset for each", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen("127.0.0.1", 0);
    const sub = a.subscribe("/built", { queueSize: 4096 });
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/built/x");
    const builder = new DataBuilder(16);
    const n = 2000;
    for (let i = 0; i < n; i++) {
      // Sizes vary, so the builder's buffer grows while earlier values wait to be sent.
      builder.reset().beginVector().count(i).str("x".repeat(i % 300)).beginSet()
        .str(`b${i}`).str(`a${i}`).end().end();
      b.publishBuilt("/built/x", builder);
    }
    assert.throws(() => b.publishBuilt("/built/x", builder.reset().beginVector()), BrokerError);
    // Checked as well where nobody subscribed (nothing is framed there).
    assert.throws(() => b.publishBuilt("/nobody", builder.reset().beginVector()), BrokerError);
    const got: Data[] = [];
    for (let tries = 0; got.length < n && tries < 500; tries++) {
      const m = await sub.get(2000);
      if (!m) break;
      got.push(m.data, ...sub.poll().map((x) => x.data));
    }
    assert.equal(got.length, n);
    got.forEach((d, i) =>
      assert.deepEqual(
        d,
        vector(count(i), str("x".repeat(i % 300)), set(str(`a${i}`), str(`b${i}`))),
      )
    );
  });
});

Deno.test("publishBuilt with local: the endpoint's own subscribers get it, all but the one named, and peers too", async () => {
  await withEndpoints(2, async ([a, b]) => {
    const port = await a.listen("127.0.0.1", 0);
    const remote = a.subscribe("/l");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/l/x");
    const [mine, sender] = [b.subscribe("/l"), b.subscribe("/l")];
    const builder = new DataBuilder();
    for (let i = 0; i < 3; i++) {
      b.publishBuilt("/l/x", builder.reset().beginVector().count(i).end(), {
        local: true,
        except: sender,
      });
    }
    // Without `local`, as Broker: not to the endpoint's own subscribers.
    b.publishBuilt("/l/x", builder.reset().beginVector().count(3).end());
    const values = (ms: { data: Data }[]) => ms.map((m) => m.data);
    const expected = [0, 1, 2].map((i) => vector(count(i)));
    assert.deepEqual(values(mine.poll()), expected);
    assert.deepEqual(values(sender.poll()), []);
    const got: Data[] = [];
    for (let tries = 0; got.length < 4 && tries < 50; tries++) {
      const m = await remote.get(2000);
      if (m) got.push(m.data, ...values(remote.poll()));
    }
    assert.deepEqual(got, [...expected, vector(count(3))]);
  });
});

async function pollAtLeast(sub: Subscriber, n: number) {
  const out = [];
  for (let i = 0; out.length < n && i < 200; i++) {
    out.push(...sub.pollEncoded());
    if (out.length < n) await new Promise((r) => setTimeout(r, 10));
  }
  return out;
}

Deno.test("listening on a port in use: a BrokerError (cannot_open_resource) whose cause is the OS's AddrInUse", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const ep = new Endpoint();
  try {
    const err = await ep.listen("127.0.0.1", (taken.addr as Deno.NetAddr).port).then(
      () => undefined,
      (e) => e,
    );
    assert.ok(err instanceof BrokerError, String(err));
    assert.equal(err.code, ErrorCode.cannot_open_resource);
    // Callers that retry a port a killed predecessor still holds look for this cause.
    assert.ok(err.cause instanceof Deno.errors.AddrInUse, String(err.cause));
  } finally {
    taken.close();
    await ep.shutdown();
  }
});
