// Conformance, spec §6 (store protocol) and §10 (store defaults): a raw
// clone, written by hand, against a master on our endpoint and, as the
// control, on the C++ `broker-node --master-stores='["kv"]'`. Object IDs
// differ between the two (each endpoint numbers its own), so the master's
// entity is learnt from its first answer; everything else must match.
import assert from "node:assert/strict";
import {
  hexId,
  kindName,
  KINDS,
  next,
  NIL,
  NODE_ID,
  nodeMessage,
  peerRaw,
  testOptions,
  withRelay,
} from "./conformance_helpers.ts";
import { RawConn, rawHandshake } from "./raw_peer.ts";

const CLONE = "99999999-9999-4999-8999-999999999999";
const MASTER_TOPIC = "kv/<$>/data/master";
const CLONE_TOPIC = "kv/<$>/data/clone";
const NODE = hexId(NODE_ID);

const u64 = (n: number) => n.toString(16).padStart(16, "0");
const cnt = (n: number) => "02" + u64(n);
/** The raw clone's entity: its endpoint and object 7 (as in the capture). */
const ME = hexId(CLONE) + u64(7);
const NIL_ENTITY = "00".repeat(24);

const NIL_ID = "00000000-0000-0000-0000-000000000000";

/** A command from the raw clone: seq, sender entity, receiver entity, then the variant. */
function command(seq: number, receiver: string, content: string, envelopeReceiver = NIL_ID) {
  return nodeMessage({
    sender: CLONE,
    receiver: envelopeReceiver,
    type: 2,
    topic: MASTER_TOPIC,
    payload: u64(seq) + ME + receiver + content.replace(/\s+/g, ""),
  });
}

/** A received command split by hand. */
interface Cmd {
  envelopeReceiver: string;
  seq: number;
  sender: string;
  receiver: string;
  content: string;
}

async function nextCommand(c: RawConn, what: string, topic = CLONE_TOPIC): Promise<Cmd> {
  const m = await next(c, what);
  assert.deepEqual(
    [m.type, m.sender, m.ttl, m.topic],
    [2, NODE, 16, topic],
    `${what}: a command from the node on ${topic}`,
  );
  return {
    envelopeReceiver: m.receiver,
    seq: parseInt(m.payload.slice(0, 16), 16),
    sender: m.payload.slice(16, 64),
    receiver: m.payload.slice(64, 112),
    content: m.payload.slice(112),
  };
}

/** Peers the raw clone with a node that hosts master `kv`; runs the clone handshake. */
async function withClone(
  kind: (typeof KINDS)[number],
  fn: (c: RawConn, master: string) => Promise<void>,
): Promise<void> {
  await withRelay(kind, { topics: ["/x"], masterStores: ["kv"] }, async (node) => {
    const { c, nodeFilter } = await peerRaw(node, CLONE, [CLONE_TOPIC]);
    try {
      // spec §6: a master subscribes <name>/<$>/data/master.
      assert.deepEqual(nodeFilter, ["/x", MASTER_TOPIC]);
      // spec §6 (frame 7): "send me the state": nack [0], seq 0, to the master topic, nil receivers.
      await c.send(command(0, NIL_ENTITY, "0b 01" + u64(0)));
      const ack = await nextCommand(c, "ack_clone");
      // spec §6 (frame 8): unicast to the clone, seq 1 on the master's channel, ack_clone
      // (variant 12) with offset 1, heartbeat 5 ticks (§10) and the whole state (empty).
      assert.equal(ack.envelopeReceiver, hexId(CLONE), "ack_clone is addressed to the clone");
      assert.equal(ack.seq, 1);
      assert.equal(ack.sender.slice(0, 32), NODE, "the master's entity is on the node");
      assert.equal(ack.receiver, ME, "ack_clone names the clone's entity");
      assert.equal(ack.content, "0c" + u64(1) + "0005" + "00");
      await fn(c, ack.sender);
    } finally {
      await c.close();
    }
  });
}

for (const kind of KINDS) {
  const who = kindName(kind);
  const opts = testOptions(kind);

  Deno.test(
    `§6 a clone's nack [0] gets ack_clone, unicast; keepalives go to everyone with seq 0 (${who})`,
    opts,
    () =>
      withClone(kind, async (c, master) => {
        // spec §6: control messages travel with seq 0; keepalives go to receiver nil and carry
        // the sender's last seq; one comes every heartbeat interval (5 ticks of 100 ms, §10).
        const started = Date.now();
        const k = await nextCommand(c, "a keepalive");
        assert.ok(Date.now() - started < 1500, "within a heartbeat interval or so");
        assert.deepEqual(k, {
          envelopeReceiver: NIL,
          seq: 0,
          sender: master,
          receiver: NIL_ENTITY,
          content: "09" + u64(1),
        });
      }),
  );

  Deno.test(
    `§6 a writer's commands: acked to it with seq 0, applied results broadcast in sequence (${who})`,
    opts,
    () =>
      withClone(kind, async (c, master) => {
        await c.send(command(0, master, "0a" + u64(1), NODE_ID)); // cumulative_ack 1
        await c.send(command(0, master, "08" + u64(1) + "0005")); // attach_writer offset 1, 5 ticks
        // put("a", 1) seq 2; add("a", 41, init type count) seq 3 (spec §6 frames 18-20).
        const key = "0501" + "61";
        await c.send(command(2, master, "00" + key + cnt(1) + "00" + ME));
        await c.send(command(3, master, "05" + key + cnt(41) + "02" + "00" + ME));
        const broadcasts: Cmd[] = [];
        let acked = 0, keepalive = 0;
        const deadline = Date.now() + 3000;
        while ((broadcasts.length < 2 || acked < 3 || keepalive < 3) && Date.now() < deadline) {
          const m = await nextCommand(c, "the master's answers");
          if (m.seq > 0) {
            broadcasts.push(m);
            continue;
          }
          assert.equal(m.sender, master);
          if (m.content.startsWith("0a")) {
            // cumulative_ack: to the writer, in the envelope and in the command.
            assert.deepEqual([m.envelopeReceiver, m.receiver], [hexId(CLONE), ME]);
            acked = parseInt(m.content.slice(2), 16);
          } else {
            assert.equal(
              m.content.slice(0, 2),
              "09",
              "only acks and keepalives besides the results",
            );
            assert.deepEqual([m.envelopeReceiver, m.receiver], [NIL, NIL_ENTITY]);
            keepalive = parseInt(m.content.slice(2), 16);
          }
        }
        // spec §6 (frames 26-28): the results go to every clone (receivers nil) on the master's
        // own channel, seq 2, 3, ...; `add` becomes a `put` of the new value, without expiry,
        // with the writer as publisher.
        assert.deepEqual(broadcasts, [
          {
            envelopeReceiver: NIL,
            seq: 2,
            sender: master,
            receiver: NIL_ENTITY,
            content: "00" + key + cnt(1) + "00" + ME,
          },
          {
            envelopeReceiver: NIL,
            seq: 3,
            sender: master,
            receiver: NIL_ENTITY,
            content: "00" + key + cnt(42) + "00" + ME,
          },
        ]);
        assert.equal(acked, 3, "the writer's seq 3 is acked");
        assert.equal(keepalive, 3, "keepalives carry the master's last seq");
      }),
  );
}

for (const kind of KINDS) {
  // Broker's master keeps an input only for a writer whose attach_writer it got
  // (master_actor.cc, dispatch: an action from another sender is logged as
  // "unknown-sender-action" and dropped), so it never asks a writer for a
  // handshake: no nack [0] goes to a sender it does not know, and nothing of it is kept.
  Deno.test(
    `§6 a write from a sender with no writer channel is dropped; it is sent no nack (${
      kindName(kind)
    })`,
    testOptions(kind),
    () =>
      withClone(kind, async (c, master) => {
        await c.send(command(0, master, "0a" + u64(1), NODE_ID)); // cumulative_ack 1
        // put("a", 1) at seq 2, with no attach_writer before it.
        await c.send(command(2, master, "00" + "0501" + "61" + cnt(1) + "00" + ME));
        // Three keepalives: 15 ticks of the master, seven nack timeouts (2 ticks).
        const seen: Cmd[] = [];
        while (seen.filter((m) => m.content.startsWith("09")).length < 3) {
          seen.push(await nextCommand(c, "the master's keepalives"));
        }
        assert.deepEqual(
          seen.filter((m) => !m.content.startsWith("09")),
          [],
          "nothing but keepalives (no nack [0] to the unknown writer, no broadcast of its put)",
        );
        assert.ok(
          seen.every((m) => m.content === "09" + u64(1)),
          "the master's last seq stays 1: the put was not applied",
        );
      }),
  );
}

/** The raw master's entity: its endpoint and object 3. */
const MASTER = "88888888-8888-4888-8888-888888888888";
const MASTER_ENTITY = hexId(MASTER) + u64(3);

for (const kind of KINDS) {
  // spec §6 (frames 6-10, seen from the master): a clone subscribes <name>/<$>/data/clone,
  // asks for the state with nack [0] (seq 0, nil receivers) on the master topic, acks the
  // master's ack_clone to the master and opens its writer channel with attach_writer
  // (offset 1, heartbeat 5 ticks); its keepalives go to everyone with its last seq.
  Deno.test(
    `§6 a clone asks for the state, acks ack_clone and attaches its writer (${kindName(kind)})`,
    testOptions(kind),
    () =>
      withRelay(kind, { topics: ["/x"], cloneStores: ["kv"] }, async (node) => {
        const c = await RawConn.dial(node.port);
        try {
          const nodeFilter = await rawHandshake(c, MASTER, [MASTER_TOPIC]);
          assert.deepEqual(nodeFilter, ["/x", CLONE_TOPIC]);
          const nack = await nextCommand(c, "nack [0]", MASTER_TOPIC);
          assert.equal(nack.sender.slice(0, 32), NODE);
          assert.deepEqual(nack, {
            envelopeReceiver: NIL,
            seq: 0,
            sender: nack.sender,
            receiver: NIL_ENTITY,
            content: "0b01" + u64(0),
          });
          const clone = nack.sender;
          // ack_clone: seq 1, offset 1, heartbeat 5, the state {"a": 1}.
          await c.send(nodeMessage({
            sender: MASTER,
            receiver: NODE_ID,
            type: 2,
            topic: CLONE_TOPIC,
            payload: u64(1) + MASTER_ENTITY + clone + "0c" + u64(1) + "0005" + "01" + "050161" +
              cnt(1),
          }));
          const seen = new Map<string, Cmd>();
          // attach_writer and keepalive, in order: until the master acks the writer
          // channel, Broker's clone sends the attach_writer again before each keepalive.
          const writer: string[] = [];
          const deadline = Date.now() + 4000;
          while (writer.filter((v) => v === "09").length < 2 && Date.now() < deadline) {
            const m = await nextCommand(c, "the clone's answers", MASTER_TOPIC);
            assert.equal(m.sender, clone);
            assert.equal(m.seq, 0, "control messages carry seq 0");
            const variant = m.content.slice(0, 2);
            if (variant !== "0b") seen.set(variant, m); // a nack sent before our answer came
            if (variant === "08" || variant === "09") writer.push(variant);
          }
          assert.deepEqual([...seen.keys()].sort(), ["08", "09", "0a"]);
          assert.deepEqual(
            writer,
            ["08", "08", "09", "08", "09"],
            "attach_writer before each keepalive",
          );
          assert.deepEqual(seen.get("0a"), {
            envelopeReceiver: hexId(MASTER),
            seq: 0,
            sender: clone,
            receiver: MASTER_ENTITY,
            content: "0a" + u64(1),
          }, "cumulative_ack 1, to the master");
          assert.deepEqual(seen.get("08"), {
            envelopeReceiver: NIL,
            seq: 0,
            sender: clone,
            receiver: MASTER_ENTITY,
            content: "08" + u64(1) + "0005",
          }, "attach_writer, offset 1, heartbeat 5, on the master topic");
          assert.deepEqual(seen.get("09"), {
            envelopeReceiver: NIL,
            seq: 0,
            sender: clone,
            receiver: NIL_ENTITY,
            content: "09" + u64(1),
          }, "the writer's keepalive: its last seq, to everyone");
        } finally {
          await c.close();
        }
      }),
  );
}
