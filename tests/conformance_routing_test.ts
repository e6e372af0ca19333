// Conformance, spec §5 (routing and topics) with the corrections of §13 and
// §14: raw peers A and B around a relay node, which is our endpoint or, as
// the control that proves each rule is Broker's, the C++ `broker-node` run
// with the same ID and topics. Every test runs against both.
import assert from "node:assert/strict";
import { str } from "../engine/data/mod.ts";
import type { RawConn } from "./raw_peer.ts";
import {
  A_ID,
  ascii,
  B_ID,
  C_ID,
  COMMAND,
  DATA,
  expectNothing,
  filterHex,
  hexId,
  kindName,
  KINDS,
  next,
  NIL,
  NODE_ID,
  nodeMessage,
  peerRaw,
  PING,
  PONG,
  ROUTING_UPDATE,
  sync,
  testOptions,
  until,
  withRelay,
} from "./conformance_helpers.ts";

const NODE = hexId(NODE_ID);

/** A count, as Broker encodes it. */
const cnt = (n: number) => "02" + n.toString(16).padStart(16, "0");

/** A data message from `sender` (nil receiver unless given). */
const data = (
  sender: string,
  topic: string,
  payload: string,
  more: { receiver?: string; ttl?: number } = {},
) => nodeMessage({ sender, type: DATA, topic, payload, ...more });

/** Runs `fn` with raw peers A and B peered to a relay node subscribed to /t. */
function withPeers(
  kind: (typeof KINDS)[number],
  filters: { a: string[]; b: string[] },
  fn: (a: RawConn, b: RawConn) => Promise<void>,
  disableForwarding = false,
): Promise<void> {
  return withRelay(kind, { topics: ["/t"], disableForwarding }, async (node) => {
    const { c: a } = await peerRaw(node, A_ID, filters.a);
    try {
      const { c: b } = await peerRaw(node, B_ID, filters.b);
      try {
        await fn(a, b);
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  });
}

for (const kind of KINDS) {
  const who = kindName(kind);
  const opts = testOptions(kind);

  // spec §5: subscriptions are byte-string prefixes (`zeek/ev` matches `zeek/event/x`).
  Deno.test(
    `§5 subscriptions match as byte-string prefixes, not path segments (${who})`,
    opts,
    () =>
      withPeers(kind, { a: [], b: ["/t/ev"] }, async (a, b) => {
        for (const topic of ["/t/event/x", "/t/e", "/t/evx", "/t/ev", "/t/x/ev", "/T/ev"]) {
          await a.send(data(A_ID, topic, cnt(1)));
        }
        await a.send(data(A_ID, "/t/ev/end", cnt(0)));
        const got = await until(b, "/t/ev/end");
        assert.deepEqual(got.map((m) => m.topic), ["/t/event/x", "/t/evx", "/t/ev"]);
      }),
  );

  // spec §5: never sent back to the hop it came from; sender rewritten to the last hop.
  Deno.test(
    `§5 a relayed message never goes back to its hop and names the relay as sender (${who})`,
    opts,
    () =>
      withPeers(kind, { a: ["/t"], b: ["/t"] }, async (a, b) => {
        await a.send(data(A_ID, "/t/x", cnt(7)));
        const m = await next(b, "the relayed message");
        assert.deepEqual(m, {
          sender: NODE,
          receiver: NIL,
          type: DATA,
          ttl: 16,
          topic: "/t/x",
          payload: cnt(7),
        });
        assert.deepEqual(await sync(a, A_ID), [], "A, the hop it came from, gets nothing back");
      }),
  );

  // spec §13: TTL is not carried: a received TTL is never checked, relayed envelopes carry 16.
  Deno.test(
    `§13 a received TTL is neither checked nor carried: relayed as 16 (${who})`,
    opts,
    () =>
      withPeers(kind, { a: [], b: ["/t"] }, async (a, b) => {
        for (const ttl of [0, 1, 3, 0xffff]) {
          await a.send(data(A_ID, `/t/ttl${ttl}`, cnt(ttl), { ttl }));
        }
        const msgs = [];
        for (let i = 0; i < 4; i++) msgs.push(await next(b, "a relayed message"));
        assert.deepEqual(msgs.map((m) => [m.topic, m.ttl]), [
          ["/t/ttl0", 16],
          ["/t/ttl1", 16],
          ["/t/ttl3", 16],
          ["/t/ttl65535", 16],
        ]);
      }),
  );

  // spec §13: Broker reads broker.ttl and writes it nowhere: every envelope it sends, its
  // own (a pong) or relayed, carries the default 16 (broker-node --ttl=5 wrote 16 live).
  Deno.test(
    `§13 the ttl setting is not written: a node set to ttl 5 relays and pongs with 16 (${who})`,
    opts,
    () =>
      withRelay(kind, { topics: ["/t"], ttl: 5 }, async (node) => {
        const { c: a } = await peerRaw(node, A_ID, []);
        try {
          const { c: b } = await peerRaw(node, B_ID, ["/t"]);
          try {
            await a.send(data(A_ID, "/t/x", cnt(5), { ttl: 5 }));
            const relayed = await next(b, "the relayed message");
            assert.deepEqual([relayed.topic, relayed.ttl], ["/t/x", 16]);
            await a.send(
              nodeMessage({ sender: A_ID, type: PING, topic: "<$>", payload: ascii("ttl") }),
            );
            const pong = await next(a, "pong");
            assert.deepEqual([pong.type, pong.ttl], [PONG, 16]);
          } finally {
            await b.close();
          }
        } finally {
          await a.close();
        }
      }),
  );

  // spec §5: sent to P if its receiver is P (whatever P's filter); a receiver that is
  // not a direct peer (or the node itself) goes nowhere.
  Deno.test(
    `§5 a message addressed to a direct peer goes to it whatever its filter, others nowhere (${who})`,
    opts,
    () =>
      withPeers(kind, { a: ["/zz"], b: ["/t"] }, async (a, b) => {
        await a.send(data(A_ID, "/zz/to-b", cnt(1), { receiver: B_ID }));
        await a.send(data(A_ID, "/zz/to-c", cnt(2), { receiver: C_ID }));
        await a.send(data(A_ID, "/zz/to-node", cnt(3), { receiver: NODE_ID }));
        await a.send(data(A_ID, "/t/end", cnt(0)));
        const got = await until(b, "/t/end");
        assert.deepEqual(got, [{
          sender: NODE,
          receiver: hexId(B_ID),
          type: DATA,
          ttl: 16,
          topic: "/zz/to-b",
          payload: cnt(1),
        }]);
        assert.deepEqual(await sync(a, A_ID), [], "A (subscribed to /zz) gets none of them");
      }),
  );

  // spec §14.1: relays pass payload bytes through unchanged: unsorted sets stay unsorted.
  Deno.test(
    `§14.1 a relay passes payload bytes through unchanged, unsorted sets and tables too (${who})`,
    opts,
    () =>
      withPeers(kind, { a: [], b: ["/t"] }, async (a, b) => {
        const unsortedSet = "0c 02" + cnt(5) + cnt(1);
        const unsortedTable = "0d 02" + "0501" + ascii("b") + cnt(2) + "0501" + ascii("a") + cnt(1);
        const payloads = [unsortedSet, unsortedTable].map((p) => p.replace(/\s+/g, ""));
        for (const p of payloads) await a.send(data(A_ID, "/t/raw", p));
        assert.equal((await next(b, "the set")).payload, payloads[0]);
        assert.equal((await next(b, "the table")).payload, payloads[1]);
      }),
  );

  // spec §13: bad node messages are dropped (a command payload is parsed on arrival);
  // a valid command is relayed like data.
  Deno.test(
    `§13 a command whose payload does not decode is dropped, a valid one is relayed (${who})`,
    opts,
    () =>
      withPeers(kind, { a: [], b: ["/t"] }, async (a, b) => {
        // cumulative_ack 1: seq 0, sender entity (A, 7), nil receiver entity, variant 10, seq.
        const ack = "0000000000000000" + hexId(A_ID) + "0000000000000007" + "00".repeat(24) + "0a" +
          "0000000000000001";
        for (const bad of ["010203", ack.slice(0, -2), ack.slice(0, 112) + "0e"]) {
          await a.send(
            nodeMessage({ sender: A_ID, type: COMMAND, topic: "/t/cmd/bad", payload: bad }),
          );
        }
        await a.send(
          nodeMessage({ sender: A_ID, type: COMMAND, topic: "/t/cmd/ok", payload: ack }),
        );
        await a.send(data(A_ID, "/t/end", cnt(0)));
        const got = await until(b, "/t/end");
        assert.deepEqual(got.map((m) => [m.type, m.topic, m.payload]), [[
          COMMAND,
          "/t/cmd/ok",
          ack,
        ]]);
      }),
  );

  // spec §5: with forwarding disabled, messages from peers are not relayed; pings are
  // still answered and the node's own messages still go out.
  Deno.test(
    `§5 with forwarding disabled, peers' messages are not relayed (${who})`,
    opts,
    () =>
      withPeers(kind, { a: ["/t"], b: ["/t"] }, async (a, b) => {
        await a.send(data(A_ID, "/t/x", cnt(1)));
        await a.send(data(A_ID, "/zz", cnt(2), { receiver: B_ID }));
        assert.deepEqual(await sync(a, A_ID), [], "a ping is still answered, and nothing else");
        await expectNothing(b, "B");
      }, true),
  );

  // spec §4, §5, §13: any non-local ping is answered (sender and receiver swapped, same
  // payload, topic <$>), whatever its receiver; one with a nil or the node's own sender is not.
  Deno.test(
    `§13 a ping is answered whatever its receiver, unless its sender is nil or the node (${who})`,
    opts,
    () =>
      withRelay(kind, { topics: ["/t"] }, async (node) => {
        const { c: a } = await peerRaw(node, A_ID, []);
        try {
          const ping = (sender: string, receiver: string, token: string) =>
            a.send(
              nodeMessage({ sender, receiver, type: PING, topic: "<$>", payload: ascii(token) }),
            );
          const pong = (token: string) => ({
            sender: NODE,
            receiver: hexId(A_ID),
            type: PONG,
            ttl: 16,
            topic: "<$>",
            payload: ascii(token),
          });
          await ping(A_ID, NIL, "to nil");
          assert.deepEqual(await next(a, "pong"), pong("to nil"));
          await ping(A_ID, C_ID, "to a stranger");
          assert.deepEqual(await next(a, "pong"), pong("to a stranger"));
          await ping(NIL, NODE_ID, "from nil");
          await ping(NODE_ID, NODE_ID, "from the node itself");
          await ping(A_ID, NODE_ID, "to the node");
          assert.deepEqual(await next(a, "pong"), pong("to the node"), "no pong for the other two");
        } finally {
          await a.close();
        }
      }),
  );

  // spec §5, §13: a routing update is one hop: it replaces that peer's filter, is not
  // passed on, and the node announces nothing of its own (its filter did not change).
  Deno.test(
    `§13 a peer's routing update replaces its filter and goes no further (${who})`,
    opts,
    () =>
      withPeers(kind, { a: ["/t"], b: ["/t", "/new"] }, async (a, b) => {
        await a.send(nodeMessage({
          sender: A_ID,
          receiver: NODE_ID,
          type: ROUTING_UPDATE,
          topic: "<$>",
          payload: filterHex(["/new"]),
        }));
        assert.deepEqual(await sync(a, A_ID), [], "no answer to A");
        await expectNothing(b, "B");
        for (const topic of ["/t/x", "/new/x", "/new/end"]) await b.send(data(B_ID, topic, cnt(1)));
        assert.deepEqual((await until(a, "/new/end")).map((m) => m.topic), ["/new/x"]);
      }),
  );

  // spec §5 (nil sender, §13/§14.5): Broker echoes a nil-sender message back to the peer it
  // came from and relays it even with forwarding disabled. DELIBERATE DIFFERENCE: we never
  // send a message back over the connection it came in on, and a node with forwarding
  // disabled relays nothing from its peers. Both relay it otherwise.
  Deno.test(
    `§14.5 a nil sender: relayed on, ${
      kind === "ours" ? "never echoed (deliberate difference)" : "echoed back (Broker)"
    } (${who})`,
    opts,
    async () => {
      await withPeers(kind, { a: ["/t"], b: ["/t"] }, async (a, b) => {
        await a.send(data(NIL, "/t/nil", cnt(1)));
        const m = await next(b, "the relayed message");
        assert.deepEqual([m.sender, m.topic], [NODE, "/t/nil"]);
        const echoed = (await sync(a, A_ID)).map((e) => e.topic);
        assert.deepEqual(echoed, kind === "ours" ? [] : ["/t/nil"]);
      });
      await withPeers(kind, { a: ["/t"], b: ["/t"] }, async (a, b) => {
        await a.send(data(NIL, "/t/nil", cnt(1)));
        await sync(a, A_ID);
        if (kind === "ours") await expectNothing(b, "B, with forwarding disabled");
        else assert.equal((await next(b, "the nil-sender message")).topic, "/t/nil");
      }, true);
    },
  );

  // spec §5: Broker routes pings, pongs and routing updates like any message: one addressed
  // to another direct peer, or a ping on a topic a peer subscribes to, is passed on (and the
  // ping answered too). DELIBERATE DIFFERENCE: we keep them one hop (answer or apply only);
  // a relayed routing update would let one peer rewrite what another peer believes we want.
  Deno.test(
    `§5 control messages for another peer: ${
      kind === "ours" ? "kept one hop (deliberate difference)" : "passed on (Broker)"
    } (${who})`,
    opts,
    () =>
      withPeers(kind, { a: [], b: ["/t"] }, async (a, b) => {
        const send = (type: number, receiver: string, topic: string, payload: string) =>
          a.send(nodeMessage({ sender: A_ID, receiver, type, topic, payload }));
        await send(PING, B_ID, "<$>", ascii("ping B"));
        await send(PONG, B_ID, "<$>", ascii("pong B"));
        await send(ROUTING_UPDATE, B_ID, "<$>", filterHex(["/x"]));
        await send(PING, NIL, "/t/ping", ascii("ping /t"));
        const answered = (await sync(a, A_ID)).map((m) => [m.type, m.receiver, m.payload]);
        assert.deepEqual(answered, [
          [PONG, hexId(A_ID), ascii("ping B")],
          [PONG, hexId(A_ID), ascii("ping /t")],
        ], "both pings are answered");
        if (kind === "ours") {
          await expectNothing(b, "B");
          return;
        }
        const passed = [];
        for (let i = 0; i < 4; i++) passed.push(await next(b, "a passed-on message"));
        assert.deepEqual(passed.map((m) => [m.type, m.sender, m.receiver, m.topic]), [
          [PING, NODE, hexId(B_ID), "<$>"],
          [PONG, NODE, hexId(B_ID), "<$>"],
          [ROUTING_UPDATE, NODE, hexId(B_ID), "<$>"],
          [PING, NODE, NIL, "/t/ping"],
        ]);
      }),
  );
}

// spec §5: a grown filter is announced in a routing update to each direct peer, addressed
// to it, carrying the node's own local filter only (not what its peers subscribed). The
// C++ broker-node cannot subscribe after it started, so this one runs on ours only; the
// mixed-line test in conformance_test.ts checks the same frame against a C++ receiver.
Deno.test("§5 a grown filter is announced to each direct peer, with only the node's own topics (our endpoint)", () =>
  withRelay("ours", { topics: ["/t"] }, async (node) => {
    const { c: a } = await peerRaw(node, A_ID, ["/a"]);
    const { c: b } = await peerRaw(node, B_ID, ["/b"]);
    try {
      node.ep!.subscribe("/t/sub"); // already covered by /t: nothing to announce
      node.ep!.subscribe("/grown");
      for (const [c, id] of [[a, A_ID], [b, B_ID]] as const) {
        assert.deepEqual(await next(c, "the routing update"), {
          sender: NODE,
          receiver: hexId(id),
          type: ROUTING_UPDATE,
          ttl: 16,
          topic: "<$>",
          payload: filterHex(["/grown", "/t"]),
        });
        assert.deepEqual(await sync(c, id), [], "one update, nothing more");
      }
      // And the node's own messages still go out with forwarding on or off.
      node.ep!.publish("/a/own", str("x"));
      assert.equal((await next(a, "the node's own message")).topic, "/a/own");
    } finally {
      await a.close();
      await b.close();
    }
  }));

// spec §5: with forwarding disabled the node's own messages still go out (ours; broker-node
// publishes nothing of its own in relay mode).
Deno.test("§5 with forwarding disabled, the node's own messages still go out (our endpoint)", () =>
  withRelay("ours", { topics: ["/t"], disableForwarding: true }, async (node) => {
    const { c: a } = await peerRaw(node, A_ID, ["/t"]);
    try {
      node.ep!.publish("/t/own", str("x"));
      const m = await next(a, "the node's own message");
      assert.deepEqual([m.sender, m.topic], [NODE, "/t/own"]);
    } finally {
      await a.close();
    }
  }));
