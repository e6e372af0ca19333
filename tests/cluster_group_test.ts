// Load-balanced groups across processes: 3 members in 3 processes, 30k
// messages. Without acknowledgements each arrives exactly once; in the
// acknowledged mode, with a member killed mid-stream, none is missing and
// no live member sees one twice.
import assert from "node:assert/strict";
import { count, Endpoint, type GroupEvent, groupPrefix, GroupPublisher } from "../mod.ts";
import { brokerRefTool, freePort, waitForPort } from "./broker_ref.ts";
import { LineChild } from "./cluster_helpers.ts";
import { waitUntil } from "./store_helpers.ts";

const MEMBER = new URL("./cluster_group_member.ts", import.meta.url).pathname;
const TOTAL = 30_000;

function member(port: number, group: string, heartbeatMs = 100): LineChild {
  return new LineChild(Deno.execPath(), [
    "run",
    "--allow-all",
    "--no-check",
    MEMBER,
    String(port),
    group,
    String(heartbeatMs),
  ]);
}

/** The sequence numbers a member printed. */
function received(c: LineChild): number[] {
  return c.lines.filter((l) => l.startsWith("r ")).flatMap((l) =>
    l.slice(2).split(",").map(Number)
  );
}

/** Publishes TOTAL messages in paced slices, calling `at(n)` after each slice. */
async function publishAll(pub: GroupPublisher, at: (sent: number) => Promise<void> | void) {
  for (let sent = 0; sent < TOTAL;) {
    for (let i = 0; i < 1000; i++) pub.publish(count(BigInt(++sent)));
    await pub.ready(1000);
    await at(sent);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function setup(group: string, acked: boolean, relay = false) {
  const endpoint = new Endpoint();
  const port = await endpoint.listen("127.0.0.1", 0);
  const pub = new GroupPublisher(endpoint, group, { acked });
  let relayChild: LineChild | undefined, memberPort = port;
  if (relay) {
    // A C++ broker-node between the publisher and the members: it forwards
    // the group's plain Broker messages (it subscribes the group's prefix).
    memberPort = freePort();
    relayChild = new LineChild(brokerRefTool("broker-node"), [
      "--disable-ssl",
      "-p",
      String(memberPort),
      `--peers=["tcp://127.0.0.1:${port}"]`,
      "-t",
      `["${groupPrefix(group)}"]`,
    ]);
    await waitForPort(memberPort);
  }
  const members = [0, 1, 2].map(() => member(memberPort, group, relay ? 250 : 100));
  await pub.waitForMembers(3, 15_000);
  return { endpoint, pub, members, relayChild };
}

Deno.test({
  name: "group: 30k messages over 3 member processes, each delivered exactly once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const { endpoint, pub, members } = await setup("plain", false);
    try {
      await publishAll(pub, () => {});
      // Every member prints before it acknowledges; wait for all 30k lines.
      // Polled: any member's line can complete the total, and a wait on one
      // member's output never woke again once that member had printed its last.
      const counts = () => members.map((m) => received(m).length);
      await waitUntil(() => counts().reduce((a, b) => a + b) >= TOTAL, 15_000).catch(() => {
        throw new Error(`received ${counts().join(" + ")} of ${TOTAL} in 15 s`);
      });
      const all = members.flatMap(received).sort((a, b) => a - b);
      assert.equal(all.length, TOTAL);
      for (let i = 0; i < TOTAL; i++) assert.equal(all[i], i + 1);
      // Round-robin: equal shares.
      for (const m of members) assert.equal(received(m).length, TOTAL / 3);
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await pub.close();
      await endpoint.shutdown();
    }
  },
});

for (const relay of [false, true]) {
  Deno.test({
    name: `group, acknowledged${
      relay ? ", through a C++ relay" : ""
    }: a member killed mid-stream loses nothing and duplicates nothing`,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: () => ackedKill(relay),
  });
}

async function ackedKill(relay: boolean) {
  const { endpoint, pub, members, relayChild } = await setup(
    relay ? "relayed" : "acked",
    true,
    relay,
  );
  const events = pub.events();
  try {
    let killedAt = 0;
    await publishAll(pub, async (sent) => {
      if (sent === 10_000) {
        killedAt = performance.now();
        await members[0].kill("SIGKILL");
      }
    });
    await pub.drained(20_000);
    let down: GroupEvent | undefined;
    for (const ev of events.poll()) if (ev.kind === "member_down") down = ev;
    assert.ok(down, "member_down reported");
    const handOverMs = down.at - killedAt;
    console.log(
      `hand-over${relay ? " (relay)" : ""}: ${
        handOverMs.toFixed(1)
      } ms after SIGKILL, ${down.handedOver} messages handed over`,
    );
    const live = [members[1], members[2]].map(received);
    const seen = new Set<number>();
    for (const list of live) {
      for (const s of list) {
        assert.ok(!seen.has(s), `seq ${s} twice at live members`);
        seen.add(s);
      }
    }
    for (const s of received(members[0])) seen.add(s);
    assert.equal(seen.size, TOTAL);
    for (let i = 1; i <= TOTAL; i++) assert.ok(seen.has(i), `seq ${i} missing`);
    assert.ok(received(members[0]).length > 0);
  } finally {
    events.close();
    await relayChild?.kill();
    await Promise.all(members.map((m) => m.kill()));
    await pub.close();
    await endpoint.shutdown();
  }
}
