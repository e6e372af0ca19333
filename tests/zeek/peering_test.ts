// Peering with a real Zeek 8 both ways (scripts/peering.zeek): the handshake, an event each
// way through Zeek's handlers, and Zeek's peer_lost when we go away.
import assert from "node:assert/strict";
import { count, dataToString, Event, str } from "../../mod.ts";
import { pingsAnswered, zeekTest } from "./zeek.ts";

zeekTest(
  "Zeek peers to us: peer_added on both sides, ping answered by Zeek's handler, peer_lost when we shut down",
  async (t) => {
    const ep = t.endpoint();
    const sub = ep.subscribe("/deno/peering");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("peering.zeek", {
      env: { ZEEK_ROLE: "peer", DENO_PORT: `${port}/tcp` },
    });
    await ep.awaitPeerSubscription("/zeek/peering");
    const [added] = await zeek.waitFor("peer_added");
    // Zeek names the peer by our endpoint ID.
    assert.equal(added, `peer_added, ${ep.id}`);
    const peers = ep.peers();
    assert.equal(peers.length, 1);
    assert.equal(peers[0].status, "peered");
    assert.equal(peers[0].outbound, false);
    assert.equal(peers[0].originTags, false, "Zeek is a C++ Broker, not one of ours");

    ep.publishEvent("/zeek/peering", "Test::ping", [count(41n)]);
    await zeek.waitFor("ping, 41");
    const pong = await sub.get(5000);
    assert.ok(pong, "no pong from Zeek");
    assert.equal(pong.topic, "/deno/peering");
    const ev = Event.from(pong.data);
    assert.equal(
      dataToString(ev.toData()),
      dataToString(new Event("Test::pong", [count(42n), str("zeek")], { metadata: [] }).toData()),
    );

    await ep.shutdown();
    await zeek.waitFor(`peer_lost, ${ep.id}`);
  },
);

zeekTest("we peer to Zeek: ping answered, and Zeek sees peer_lost when we unpeer", async (t) => {
  const zeek = await t.zeek("peering.zeek", { env: { ZEEK_ROLE: "listen" } });
  const zeekPort = await zeek.port();
  const ep = t.endpoint();
  const sub = ep.subscribe("/deno/peering");
  await ep.peer("127.0.0.1", zeekPort);
  await ep.awaitPeerSubscription("/zeek/peering");
  await zeek.waitFor(`peer_added, ${ep.id}`);
  const peers = ep.peers();
  assert.equal(peers.length, 1);
  assert.equal(peers[0].outbound, true);
  assert.equal(peers[0].port, zeekPort);

  await pingsAnswered(ep, sub, [1n, 2n, 3n]);

  assert.equal(await ep.unpeer("127.0.0.1", zeekPort), true);
  await zeek.waitFor(`peer_lost, ${ep.id}`);
  assert.deepEqual(ep.peers(), []);
});

zeekTest(
  "a burst of 10,000 events from one Zeek handler (beyond Broker's default peer buffer) arrives complete and in order",
  async (t) => {
    const N = 10_000;
    const ep = t.endpoint();
    const sub = ep.subscribe("/deno/burst");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("burst.zeek", { env: { DENO_PORT: `${port}/tcp`, N: String(N) } });
    for (let i = 0; i < N; i++) {
      const msg = await sub.get(5000);
      assert.ok(msg, `only ${i} of ${N} events\n${zeek.transcript}`);
      const ev = Event.from(msg.data);
      const [n, s] = ev.args;
      if (
        n.type !== "count" || n.value !== BigInt(i) || s.type !== "string" ||
        s.value.length !== 1000
      ) {
        assert.fail(`event ${i} is ${dataToString(msg.data).slice(0, 80)}`);
      }
    }
    await zeek.waitFor(`published, ${N}`);
    assert.ok(!zeek.stdout.some((l) => l.startsWith("peer_lost")), zeek.transcript);
  },
);

zeekTest(
  "Zeek's btest broker/disconnect.zeek with our endpoints as both receivers, the first listening only after Zeek's first dial failed (broker/connect-on-retry.zeek): Zeek prints its baseline",
  async (t) => {
    // A free port nobody listens on yet: Zeek dials it before we do (its retry is 1 s).
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const zeek = await t.zeek("disconnect.zeek", { env: { DENO_PORT: `${port}/tcp` } });
    await zeek.waitFor("error, Broker::PEER_UNAVAILABLE");

    // Each receiver takes my_event(n) and goes away, as the btest's recv.zeek terminates
    // in its handler; the second is a new endpoint on the same port.
    for (const n of [1n, 2n]) {
      const ep = t.endpoint();
      const sub = ep.subscribe("zeek/test/my_topic");
      await ep.listen("127.0.0.1", port);
      const msg = await sub.get(10_000);
      assert.ok(msg, `no my_event(${n})\n${zeek.transcript}`);
      assert.equal(dataToString(msg.data), `(1, 1, (my_event, (${n}), ()))`);
      await ep.shutdown();
      await zeek.waitFor("endpoint unreachable", { count: Number(n) });
    }
    await zeek.exited();
    // testing/btest/Baseline/broker.disconnect/send.send.out
    const session = [
      "endpoint discovered, found a new peer in the network",
      "peer added, handshake successful",
      "peer lost, lost connection to remote peer",
      "endpoint unreachable, lost the last path",
    ];
    assert.deepEqual(
      zeek.stdout.filter((l) => !l.startsWith("error, ")),
      [...session, ...session],
      zeek.transcript,
    );
  },
);
