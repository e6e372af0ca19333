// Conformance, spec §4 (node messages) with the corrections of §13 and §14:
// what a node delivers to its own subscribers and how it ends a peering.
// Local delivery is checked against our endpoint and, as the control, the
// C++ `broker-pipe -m subscribe -l PORT`, which prints what it delivers.
import assert from "node:assert/strict";
import { Endpoint } from "../engine/endpoint.ts";
import { RawConn, rawHandshake, RawListener } from "./raw_peer.ts";
import {
  A_ID,
  ascii,
  B_ID,
  DATA,
  deliveredUntil,
  hexId,
  KINDS,
  next,
  NIL,
  nodeMessage,
  PING,
  PONG,
  testOptions,
  withSubscriber,
} from "./conformance_helpers.ts";

/** A string value, as Broker encodes it (short strings only). */
const strHex = (s: string) => "05" + s.length.toString(16).padStart(2, "0") + ascii(s);

/** Peers raw peer A with a subscribing node and learns the node's ID from a pong. */
async function peerWithSubscriber(port: number): Promise<{ c: RawConn; node: string }> {
  const c = await RawConn.dial(port);
  await rawHandshake(c, A_ID, []);
  await c.send(nodeMessage({ sender: A_ID, type: PING, topic: "<$>", payload: ascii("id?") }));
  const pong = await next(c, "the pong");
  assert.equal(pong.type, PONG);
  return { c, node: pong.sender };
}

for (const kind of KINDS) {
  const who = kind === "ours" ? "our endpoint" : "C++ broker-pipe";
  const opts = testOptions(kind);

  // spec §5 and §14.5: a message counts as local when its sender is nil or the node's own
  // ID; remote messages reach local subscribers when the receiver is nil or the node, local
  // ones only when the receiver is the node (`(!is_local || receiver == id) && (!receiver ||
  // receiver == id)`).
  Deno.test(
    `§14.5 local subscribers get a message unless it is addressed elsewhere or has a nil/own sender and no receiver (${who})`,
    opts,
    () =>
      withSubscriber(kind, "/t", async (port, delivered) => {
        const { c, node } = await peerWithSubscriber(port);
        try {
          const cases: [string, string, string][] = [
            ["from A to all", A_ID, NIL],
            ["from nil to all", NIL, NIL],
            ["from nil to the node", NIL, node],
            ["from the node to all", node, NIL],
            ["from the node to the node", node, node],
            ["from A to the node", A_ID, node],
            ["from A to B", A_ID, B_ID],
          ];
          for (const [name, sender, receiver] of cases) {
            await c.send(
              nodeMessage({ sender, receiver, type: DATA, topic: "/t/x", payload: strHex(name) }),
            );
          }
          await c.send(
            nodeMessage({ sender: A_ID, type: DATA, topic: "/t/end", payload: strHex("end") }),
          );
          assert.deepEqual(await deliveredUntil(delivered, "/t/end"), [
            "data(/t/x, from A to all)",
            "data(/t/x, from nil to the node)",
            "data(/t/x, from the node to the node)",
            "data(/t/x, from A to the node)",
            "data(/t/end, end)",
          ]);
        } finally {
          await c.close();
        }
      }),
  );

  // spec §13: a data payload must be consumed exactly (`deserialization_failed`): a value
  // followed by more bytes is dropped, and the peering goes on.
  Deno.test(
    `§13 a data message with bytes after its value is dropped, the peering goes on (${who})`,
    opts,
    () =>
      withSubscriber(kind, "/t", async (port, delivered) => {
        const { c } = await peerWithSubscriber(port);
        try {
          await c.send(
            nodeMessage({
              sender: A_ID,
              type: DATA,
              topic: "/t/trailing",
              payload: strHex("x") + "00",
            }),
          );
          await c.send(
            nodeMessage({ sender: A_ID, type: DATA, topic: "/t/short", payload: "0203" }),
          );
          await c.send(
            nodeMessage({ sender: A_ID, type: DATA, topic: "/t/end", payload: strHex("end") }),
          );
          assert.deepEqual(await deliveredUntil(delivered, "/t/end"), ["data(/t/end, end)"]);
        } finally {
          await c.close();
        }
      }),
  );
}

// spec §4: on unpeering Broker sends a ping with payload "BYE" + 8 bytes to the peer and
// closes once the matching pong arrives (capture store-master-clone.pcap, last two frames);
// the wait is bounded (3 s in Broker: `unpeerTimeout`). The C++ broker-node cannot be told
// to unpeer from outside, so these run on ours; envelope_test.ts checks the bytes against
// the capture.
const RAW_ID = "00000000-0000-4000-8000-000000000001";

async function byeScript(answer: boolean): Promise<number> {
  const ep = new Endpoint({ unpeerTimeoutMs: 400 });
  const l = new RawListener();
  try {
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    peered.catch(() => {}); // awaited below; a failed handshake fails there
    const c = await l.accept();
    try {
      // The raw acceptor takes the smallest ID, so it is the originator whatever ours is.
      await rawHandshake(c, RAW_ID, [], true);
      await peered;
      const started = Date.now();
      const unpeered = ep.unpeer("127.0.0.1", l.port);
      const bye = await next(c, "the BYE ping");
      assert.deepEqual(
        [bye.sender, bye.receiver, bye.type, bye.ttl, bye.topic],
        [hexId(ep.id), hexId(RAW_ID), PING, 16, "<$>"],
      );
      assert.equal(bye.payload.length, 22, "BYE + 8 bytes");
      assert.equal(bye.payload.slice(0, 6), ascii("BYE"));
      if (answer) {
        await c.send(
          nodeMessage({
            sender: RAW_ID,
            receiver: ep.id,
            type: PONG,
            topic: "<$>",
            payload: bye.payload,
          }),
        );
      }
      assert.deepEqual(await c.framesUntilClose(2000), [], "nothing after the BYE, then the close");
      assert.equal(await unpeered, true);
      return Date.now() - started;
    } finally {
      await c.close();
    }
  } finally {
    l.close();
    await ep.shutdown();
  }
}

Deno.test("§4 unpeering: a BYE ping to the peer, the close as soon as its pong is back (our endpoint)", async () => {
  const ms = await byeScript(true);
  assert.ok(ms < 300, `closed ${ms} ms after unpeer, before the 400 ms bound`);
});

Deno.test("§4 unpeering: without the BYE pong, the close after unpeerTimeout (our endpoint)", async () => {
  const ms = await byeScript(false);
  assert.ok(ms >= 350, `closed ${ms} ms after unpeer, not before the 400 ms bound`);
});

// spec §5: `<$>/local/` topics are Broker's own inside an endpoint (status events on
// `<$>/local/data/statuses`) and never enter a filter, yet Broker delivers such a topic
// arriving from a peer to its local subscribers: a peer can forge status events.
// DELIBERATE DIFFERENCE: we drop messages from peers on `<$>/local/` topics.
for (const kind of KINDS) {
  Deno.test(
    `§5 a peer's message on <$>/local/data/statuses is ${
      kind === "ours" ? "dropped (deliberate difference)" : "delivered as a status (Broker)"
    } (${kind === "ours" ? "our endpoint" : "C++ broker-pipe"})`,
    testOptions(kind),
    async () => {
      const forge = async (port: number) => {
        const { c } = await peerWithSubscriber(port);
        await c.send(nodeMessage({
          sender: A_ID,
          type: DATA,
          topic: "<$>/local/data/statuses",
          payload: strHex("forged"),
        }));
        await c.send(
          nodeMessage({ sender: A_ID, type: DATA, topic: "/t/end", payload: strHex("end") }),
        );
        return c;
      };
      if (kind === "ours") {
        const ep = new Endpoint();
        try {
          const statuses = ep.subscribe(["<$>/local/data/statuses", "/t"]);
          const c = await forge(await ep.listen("127.0.0.1", 0));
          try {
            // The endpoint's own statuses (the peering) come there; the forged one does not.
            const got = [];
            for (let m = await statuses.get(3000); m; m = await statuses.get(3000)) {
              got.push(m.data.type === "string" ? m.data.value : m.data.type);
              if (m.topic === "/t/end") break;
            }
            assert.equal(got.at(-1), "end");
            assert.ok(!got.includes("forged"), `the forged status was dropped: ${got}`);
          } finally {
            await c.close();
          }
        } finally {
          await ep.shutdown();
        }
        return;
      }
      await withSubscriber(kind, "/t", async (port, delivered) => {
        const c = await forge(port);
        try {
          await deliveredUntil(delivered, "/t/end");
        } finally {
          await c.close();
        }
      }, (lines) => assert.ok(lines.includes("*** data(<$>/local/data/statuses, forged)")));
    },
  );
}
