// One direction of a gateway without a network: what crosses, the counters,
// and back-pressure when the far side has no room.
import assert from "node:assert/strict";
import { Crossing, type FarSide } from "./crossing.ts";
import { TopicPolicy } from "./policy.ts";

/** A far side with `room` free slots, recording what it was sent. */
function far(room: { n: number }) {
  const sent: string[] = [];
  let wake: (() => void) | undefined;
  const side: FarSide = {
    demand: () => room.n,
    ready: () => new Promise((r) => wake = r),
    relay: (topic, frame, payload) => {
      if (topic.startsWith("<$>")) throw new Error("reserved");
      room.n--;
      sent.push(`${topic} ${frame.length} ${payload[0]}`);
    },
  };
  return { side, sent, wake: () => wake?.() };
}

function message(last: number): [Uint8Array, Uint8Array] {
  const frame = new Uint8Array([1, 2, 3, last]);
  return [frame, frame.subarray(3)];
}

Deno.test("crossing: only advertised topics cross; the policy counts what it drops", () => {
  const room = { n: 100 };
  const f = far(room);
  const seen: string[] = [];
  const c = new Crossing(
    "outward",
    new TopicPolicy({ allow: ["/a/ok"] }),
    f.side,
    (d, t) => seen.push(`${d} ${t}`),
  );
  assert.deepEqual(c.advertise(["/a", "/b", "<$>/local/x"]), ["/a/ok"]);
  assert.deepEqual([...c.filtered].sort(), ["/a", "/b"]);
  c.take("/a/ok/1", ...message(7));
  c.take("/a/no", ...message(8)); // advertised? no: /a was narrowed to /a/ok
  c.take("/b/x", ...message(9));
  assert.deepEqual(f.sent, ["/a/ok/1 4 7"]);
  assert.deepEqual(seen, ["outward /a/ok/1"]);
  assert.deepEqual(c.stats, {
    messages: 1,
    bytes: 1,
    droppedByPolicy: 0,
    subscriptionsFiltered: 0,
  });
  // A broader advertisement later: /a/no is now under an advertised prefix but not allowed.
  const open = new Crossing("inward", new TopicPolicy({ deny: ["/a/no"] }), f.side);
  open.advertise(["/a"]);
  open.take("/a/no", ...message(1));
  assert.equal(open.stats.droppedByPolicy, 1);
  assert.equal(open.stats.messages, 0);
});

Deno.test("crossing: a message the far side refuses is not counted", () => {
  const f = far({ n: 10 });
  const c = new Crossing("inward", new TopicPolicy(), f.side);
  c.advertise([""]);
  c.take("<$>x", ...message(1));
  assert.equal(c.stats.messages, 0);
  assert.deepEqual(f.sent, []);
});

Deno.test("crossing: no room on the far side: the message waits (copied) and the near side with it", async () => {
  const room = { n: 1 };
  const f = far(room);
  const c = new Crossing("inward", new TopicPolicy(), f.side);
  c.advertise(["/t"]);
  assert.equal(c.take("/t", ...message(1)), undefined);
  const [frame, payload] = message(2);
  const wait = c.take("/t", frame, payload);
  assert.ok(wait instanceof Promise, "the near side is asked to wait");
  frame.fill(0); // the read buffer is reused: the crossing kept its own copy
  assert.deepEqual(f.sent, ["/t 4 1"]);
  room.n = 5;
  f.wake();
  await wait;
  assert.deepEqual(f.sent, ["/t 4 1", "/t 4 2"]);
  assert.equal(c.stats.messages, 2);
  // Closed: nothing crosses any more, and a message waiting for room lets the near side go.
  room.n = 0;
  const waiting = c.take("/t/late", ...message(3));
  assert.ok(waiting instanceof Promise);
  c.close();
  await waiting;
  c.take("/t", ...message(4));
  assert.equal(f.sent.length, 2);
  assert.equal(c.stats.messages, 2);
});

Deno.test("crossing: room other senders took since the last message is not used again", async () => {
  // The far side's peer takes 10 messages; the crossing is not its only sender
  // (the far endpoint forwards its own peers' messages and publishes its own).
  const room = { n: 10 };
  const f = far(room);
  const c = new Crossing("inward", new TopicPolicy(), f.side);
  c.advertise(["/t"]);
  // Deno settles several socket reads in one turn: their continuations are
  // queued one after the other, before anything the first one queues. Here
  // a far-side forward fills the peer's queue between two near-side reads.
  const turn = Promise.resolve();
  turn.then(() => room.n = 0);
  const box: { wait?: void | Promise<void> } = {};
  const second = turn.then(() => {
    box.wait = c.take("/t", ...message(2));
  });
  assert.equal(c.take("/t", ...message(1)), undefined); // room 10: one goes
  await second;
  const wait = box.wait;
  assert.ok(wait instanceof Promise, "asked the far side again: no room, so it waits");
  assert.deepEqual(f.sent, ["/t 4 1"]);
  // And across turns.
  room.n = 5;
  f.wake();
  await wait;
  assert.equal(c.take("/t", ...message(3)), undefined);
  await new Promise((r) => setTimeout(r, 0));
  room.n = 0;
  const wait3 = c.take("/t", ...message(4));
  assert.ok(wait3 instanceof Promise, "asked again after a turn: it waits");
  assert.deepEqual(f.sent, ["/t 4 1", "/t 4 2", "/t 4 3"]);
  assert.ok(room.n >= 0, `the far side's peer got ${-room.n} messages past its buffer`);
  c.close();
  await wait3;
});
