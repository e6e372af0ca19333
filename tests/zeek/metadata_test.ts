// Zeek 8's event metadata over Broker (scripts/metadata.zeek): the network timestamp (ID 1)
// both ways, and a custom ID (1000) Zeek registered, from us.
import assert from "node:assert/strict";
import { count, dataToString, Event, str } from "../../mod.ts";
import { zeekTest } from "./zeek.ts";

zeekTest(
  "event metadata: our network timestamp and custom entry reach Zeek's handler, and Zeek's reply carries that network time back",
  async (t) => {
    const zeek = await t.zeek("metadata.zeek");
    const zeekPort = await zeek.port();
    const ep = t.endpoint();
    const sub = ep.subscribe("/deno/metadata");
    await ep.peer("127.0.0.1", zeekPort);
    await ep.awaitPeerSubscription("/zeek/metadata");
    // 1700000000.25 s is a double, so Zeek's time holds it exactly.
    const probe = new Event("Test::probe", [count(7n)], {
      timestamp: 1700000000250000000n,
      metadata: [[1000n, str("deno")]],
    });
    ep.publish("/zeek/metadata", probe.toData());
    await zeek.waitFor("probe, 7, 1700000000.250000, [deno]");

    const msg = await sub.get(5000);
    assert.ok(msg, `no answer\n${zeek.transcript}`);
    const answer = Event.from(msg.data);
    assert.equal(answer.name, "Test::answer");
    assert.equal(dataToString(answer.args[0]), "8");
    // An event Zeek raises while handling ours carries our event's network time, which Zeek
    // held as a double of seconds: 1700000000.25 s comes back as ...249999872 ns.
    assert.equal(answer.networkTimestamp, 1700000000249999872n, dataToString(msg.data));
    assert.equal(answer.metadata?.length, 1);
  },
);
