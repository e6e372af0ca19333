import assert from "node:assert/strict";
import { count } from "../data/constructors.ts";
import { Endpoint } from "../endpoint.ts";
import { GroupMember, groupPrefix, GroupPublisher } from "./group.ts";

Deno.test({
  name: "HRW group: a key sticks to one member; a member's loss moves only its keys",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pub = new Endpoint();
    const port = await pub.listen("127.0.0.1", 0);
    const consumers = [new Endpoint(), new Endpoint(), new Endpoint()];
    await Promise.all(consumers.map((c) => c.peer("127.0.0.1", port)));
    const publisher = new GroupPublisher(pub, "hrw", { selection: "hrw", acked: true });
    const members = consumers.map((c) => new GroupMember(c, "hrw", { heartbeatMs: 50 }));
    try {
      await publisher.waitForMembers(3);
      const keys = Array.from({ length: 300 }, (_, i) => `key-${i}`);
      const owner = new Map(keys.map((k) => [k, publisher.publish(count(1n), k)]));
      for (const k of keys) assert.equal(publisher.publish(count(2n), k), owner.get(k));
      assert.equal(new Set(owner.values()).size, 3);
      // Each member gets exactly its keys' messages; all acknowledged.
      const counts = await Promise.all(members.map(async (m) => {
        let n = 0;
        for (const expected = keys.filter((k) => owner.get(k) === m.id).length * 2; n < expected;) {
          const msg = await m.get(5000);
          assert.ok(msg);
          msg.ack();
          n++;
        }
        return n;
      }));
      assert.equal(counts.reduce((a, b) => a + b), 600);
      await publisher.drained(5000);
      const gone = members[1].id;
      const down = publisher.events();
      members[1].close(); // leaves: the publisher hands nothing over (all acknowledged)
      const ev = await down.get(5000);
      assert.equal(ev?.kind, "member_down");
      assert.equal(ev?.handedOver, 0);
      for (const k of keys) {
        const now = publisher.publish(count(3n), k);
        if (owner.get(k) === gone) assert.notEqual(now, gone);
        else assert.equal(now, owner.get(k));
      }
      assert.throws(() => groupPrefix("bad/name"), /bad group name/);
    } finally {
      for (const m of members) m.close();
      await publisher.close();
      for (const c of consumers) await c.shutdown();
      await pub.shutdown();
    }
  },
});

Deno.test({
  name: "group: ready resolves when a member's buffer holds fewer messages than asked for",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // 100 messages at most: `ready()` (256 by default) used to wait for demand it never got.
    const pub = new Endpoint({ peerBufferSize: 100 });
    const port = await pub.listen("127.0.0.1", 0);
    const consumer = new Endpoint();
    await consumer.peer("127.0.0.1", port);
    const publisher = new GroupPublisher(pub, "small", {});
    const member = new GroupMember(consumer, "small", { heartbeatMs: 50 });
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await publisher.waitForMembers(1);
      for (let i = 0; i < 50; i++) publisher.publish(count(BigInt(i)));
      await Promise.race([
        publisher.ready(),
        new Promise((_, reject) => timer = setTimeout(() => reject(new Error("ready hung")), 5000)),
      ]);
      for (let i = 0; i < 50; i++) assert.ok(await member.get(5000));
    } finally {
      clearTimeout(timer);
      member.close();
      await publisher.close();
      await consumer.shutdown();
      await pub.shutdown();
    }
  },
});

Deno.test({
  name:
    "group: messages published before any member go to the first one at the pace its route takes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const pub = new Endpoint();
    const status = pub.statusSubscriber({ queueSize: 64 });
    const port = await pub.listen("127.0.0.1", 0);
    const consumer = new Endpoint();
    await consumer.peer("127.0.0.1", port);
    const publisher = new GroupPublisher(pub, "early", {});
    // More than a peer's buffer (2048 messages) holds: they wait for a member.
    const n = 5000;
    for (let i = 0; i < n; i++) assert.equal(publisher.publish(count(BigInt(i))), "");
    const member = new GroupMember(consumer, "early", { heartbeatMs: 50 });
    try {
      await publisher.waitForMembers(1);
      // Published while the early ones are still on their way: they keep their place.
      for (let i = n; i < n + 10; i++) publisher.publish(count(BigInt(i)));
      const seen: number[] = [];
      while (seen.length < n + 10) {
        const msg = await member.get(10_000);
        assert.ok(msg, `the member got ${seen.length} of ${n + 10}, then nothing`);
        seen.push(Number(msg.data.value));
      }
      assert.deepEqual(seen, Array.from({ length: n + 10 }, (_, i) => i));
      const errors = status.poll().filter((e) => e.kind === "error");
      assert.deepEqual(errors.map((e) => e.message), [], "the member's peering was not cut");
    } finally {
      member.close();
      await publisher.close();
      await consumer.shutdown();
      await pub.shutdown();
    }
  },
});
