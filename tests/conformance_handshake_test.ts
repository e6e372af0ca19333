// Conformance, spec §3 (handshake) and §14.3, against our endpoint and, as
// the control, the C++ `broker-node` with the same ID and topics. The
// role scripts of Broker's own handshake tests are in conformance_test.ts;
// these cover what they leave out.
import assert from "node:assert/strict";
import { Endpoint } from "../engine/endpoint.ts";
import { RefProcess } from "./broker_ref.ts";
import { RawConn, rawHandshake, RawListener } from "./raw_peer.ts";
import {
  filterHex,
  helloFrame,
  hexId,
  kindName,
  KINDS,
  MAGIC,
  nextHandshake,
  NODE_ID,
  originatorAckFrame,
  originatorSynFrame,
  probeFrame,
  responderSynAckFrame,
  sync,
  testOptions,
  versionSelectFrame,
  withRelay,
} from "./conformance_helpers.ts";

const NODE = hexId(NODE_ID);

for (const kind of KINDS) {
  const who = kindName(kind);
  const opts = testOptions(kind);

  // spec §3: endpoint IDs are 16 bytes compared with memcmp (unsigned, byte by byte); the
  // UUID version nibble is not checked. Both IDs below have version 0; 0x80.. is larger
  // than the node's 0x55.. only when bytes compare unsigned.
  Deno.test(
    `§3 IDs of any UUID version peer, and the smaller by memcmp originates (${who})`,
    opts,
    () =>
      withRelay(kind, { topics: ["/t"] }, async (node) => {
        for (
          const [id, nodeRole] of [
            ["00000000-0000-0000-0000-000000000001", "responder"],
            ["80000000-0000-0000-0000-000000000000", "originator"],
          ] as const
        ) {
          const c = await RawConn.dial(node.port);
          try {
            assert.equal(await nextHandshake(c, "probe"), `07${MAGIC}`);
            await c.send(helloFrame(id));
            const answer = await nextHandshake(c, "the node's answer to hello");
            if (nodeRole === "responder") {
              assert.equal(
                answer,
                `06${MAGIC}${NODE}0101`,
                `${id}: the node answers with its hello`,
              );
              await c.send(versionSelectFrame(id));
              await c.send(originatorSynFrame([]));
              assert.equal(await nextHandshake(c, "responder_syn_ack"), `0b${filterHex(["/t"])}`);
              await c.send(originatorAckFrame);
            } else {
              assert.equal(answer, `08${MAGIC}${NODE}01`, `${id}: the node selects the version`);
              assert.equal(await nextHandshake(c, "originator_syn"), `0a${filterHex(["/t"])}`);
              await c.send(responderSynAckFrame([]));
              assert.equal(await nextHandshake(c, "originator_ack"), "0c");
            }
            assert.deepEqual(await sync(c, id), [], `${id}: peered, and nothing said first`);
          } finally {
            await c.close();
          }
        }
      }),
  );

  // spec §5: a filter is kept sorted and minimal (adding /a removes /a/b; /a/b under /a
  // changes nothing), and that is what the handshake carries.
  Deno.test(
    `§5 the handshake carries the node's filter sorted and prefix-minimal (${who})`,
    opts,
    () =>
      withRelay(kind, { topics: ["/t/a", "/t", "/s/x/y", "/s", "/r/1", "/r/2"] }, async (node) => {
        const c = await RawConn.dial(node.port);
        try {
          const filter = await rawHandshake(c, "ffffffff-ffff-4fff-bfff-ffffffffffff", []);
          assert.deepEqual(filter, ["/r/1", "/r/2", "/s", "/t"]);
        } finally {
          await c.close();
        }
      }),
  );

  // spec §14.3: Broker's connector says hello at once and answers every hello from a
  // smaller ID with a hello, even a second one. DELIBERATE DIFFERENCE: ours does not repeat
  // a hello it already sent (a Broker originator that already answered the first one
  // accepts only responder_syn_ack, so the repeat can only break a peering). Either way the
  // peering is made.
  Deno.test(
    `§14.3 a dialling node answers an acceptor's hello ${
      kind === "ours"
        ? "without repeating its own (deliberate difference)"
        : "with a second hello (Broker)"
    } (${who})`,
    opts,
    async () => {
      const l = new RawListener();
      const raw = "00000000-0000-4000-8000-000000000001";
      let ep: Endpoint | undefined, proc: RefProcess | undefined;
      if (kind === "ours") {
        ep = new Endpoint({ id: NODE_ID });
        ep.subscribe("/t");
        ep.peer("127.0.0.1", l.port, { retryMs: 0 }).catch(() => {});
      } else {
        proc = new RefProcess("broker-node", [
          "--disable-ssl",
          "-m",
          "relay",
          '--topics=["/t"]',
          `--endpoint-id=${NODE_ID}`,
          `--peers=[<tcp://127.0.0.1:${l.port}>]`,
        ]);
      }
      try {
        const c = await l.accept();
        try {
          const hello = `06${MAGIC}${NODE}0101`;
          assert.equal(await nextHandshake(c, "hello"), hello, "the connector says hello at once");
          await c.send(probeFrame);
          await c.send(helloFrame(raw));
          if (kind === "C++") assert.equal(await nextHandshake(c, "a second hello"), hello);
          await c.send(versionSelectFrame(raw));
          await c.send(originatorSynFrame([]));
          assert.equal(await nextHandshake(c, "responder_syn_ack"), `0b${filterHex(["/t"])}`);
          await c.send(originatorAckFrame);
          assert.deepEqual(await sync(c, raw), [], "peered");
        } finally {
          await c.close();
        }
      } finally {
        l.close();
        await ep?.shutdown();
        await proc?.stop();
      }
    },
  );
}
