import assert from "node:assert/strict";
import net from "node:net";
import { Endpoint } from "../endpoint.ts";
import { StatusCode } from "../status.ts";
import { isStatus, nextStatus } from "../../tests/raw_peer.ts";

/** A bound that only ends a failing run: the retry intervals below are far longer. */
const WAIT = 20_000;

Deno.test("a dial that an existing peering makes redundant keeps its retry: the peering's loss re-dials it", async () => {
  // Broker's core gives a peering that came in over an accepted connection the
  // address of a later, redundant peer() with a retry interval, and re-dials
  // that address when the peering is lost. Zeek 8.2.2 did so: peered by a node
  // it then asked to peer with, it peered again with that node's successor.
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    const portA = await a.listen("127.0.0.1", 0);
    const portB = await b.listen("127.0.0.1", 0);
    const statuses = a.statusSubscriber();
    const statusesB = b.statusSubscriber();
    await a.peer("127.0.0.1", portB, { retryMs: 0 });
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
    await nextStatus(statusesB, isStatus(StatusCode.peer_added), WAIT); // b's side of the handshake is done too
    await b.peer("127.0.0.1", portA, { retryMs: 3_600_000 }); // redundant: already peered
    assert.deepEqual(
      b.peers().map((p) => [p.port, p.status, p.outbound]),
      [[portA, "peered", true]],
      "the peering takes the address b dialled",
    );
    // a drops the peering (its own dial had no retry): b re-dials a at once.
    assert.ok(await a.unpeer("127.0.0.1", portB));
    await nextStatus(statuses, isStatus(StatusCode.peer_removed), WAIT);
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
    // And b's unpeer by the address it dialled ends that peering for good.
    assert.ok(await b.unpeer("127.0.0.1", portA));
    await nextStatus(statuses, isStatus(StatusCode.peer_lost), WAIT);
    assert.deepEqual(b.peers(), []);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("unpeering reports peer_removed with Broker's text, 'removed connection to remote peer'", async () => {
  // Zeek 8.2.2's Broker::peer_removed after Broker::unpeer carried exactly this message.
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    const port = await b.listen("127.0.0.1", 0);
    const statuses = a.statusSubscriber();
    await a.peer("127.0.0.1", port, { retryMs: 0 });
    assert.ok(await a.unpeer("127.0.0.1", port));
    const removed = statuses.poll().filter((s) => s.code === StatusCode.peer_removed);
    assert.deepEqual(removed.map((s) => s.message), ["removed connection to remote peer"]);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("a peering reset by the network reports peer_lost with Broker's text alone, no socket error", async () => {
  // Broker's peer_lost always says "lost connection to remote peer" (its
  // peering's suffix status; the reference build adds a reason only to
  // peer_removed). Seen live: a C++ broker-node SIGKILLed under load left our
  // pipe printing "... lost connection to remote peer: ConnectionReset: ...".
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  // A relay between them that resets a's side (RST, as a host vanishing with unread data does).
  const sockets: net.Socket[] = [];
  const relay = net.createServer((inbound) => {
    const outbound = net.connect(portB, "127.0.0.1");
    sockets.push(inbound, outbound);
    for (const s of [inbound, outbound]) s.on("error", () => {});
    inbound.pipe(outbound);
    outbound.pipe(inbound);
  });
  let portB = 0;
  try {
    portB = await b.listen("127.0.0.1", 0);
    await new Promise<void>((resolve) => relay.listen(0, "127.0.0.1", resolve));
    const portRelay = (relay.address() as net.AddressInfo).port;
    const statuses = a.statusSubscriber();
    await a.peer("127.0.0.1", portRelay, { retryMs: 0 });
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
    sockets[0].resetAndDestroy();
    const { event: lost } = await nextStatus(statuses, isStatus(StatusCode.peer_lost), WAIT);
    assert.equal(lost.message, "lost connection to remote peer");
  } finally {
    for (const s of sockets) s.destroy();
    relay.close();
    await b.shutdown();
    await a.shutdown();
  }
});
