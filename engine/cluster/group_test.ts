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
