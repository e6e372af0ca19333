// Broker's rules for two connections to one peer (source reference 6.4), without sockets.
import assert from "node:assert/strict";
import { ErrorCode } from "../errors.ts";
import type { Connection } from "./connection.ts";
import { PeerTable } from "./peer_table.ts";

function conn(state: Connection["state"] = "handshake"): Connection {
  return { state, filter: [], address: { host: "127.0.0.1", port: 1 } } as unknown as Connection;
}

const ID = new Uint8Array(16).fill(9);

Deno.test("peer table: a second connection to a peered endpoint is redundant", () => {
  const t = new PeerTable();
  const first = conn(), second = conn();
  t.add(first);
  t.add(second);
  assert.equal(t.check(first, ID, true), "proceed");
  t.register(first, ID, ["/a"]);
  assert.deepEqual(t.check(second, ID, true), {
    drop: ErrorCode.redundant_connection,
    reason: "redundant connection",
  });
  assert.deepEqual(t.check(second, ID, false), {
    drop: ErrorCode.logic_error,
    reason: "detected redundant connection at the responder",
  });
  assert.ok(t.knows(second, ID));
});

Deno.test("peer table: an originator racing a handshake to the same peer pauses behind it", () => {
  const t = new PeerTable();
  const first = conn(), second = conn();
  t.add(first);
  t.add(second);
  assert.equal(t.check(first, ID, true), "proceed");
  assert.equal(t.check(second, ID, true), "pause");
  second.state = "paused";
  second.peerKey = first.peerKey;
  t.register(first, ID, []);
  assert.deepEqual([...t.pausedBehind(first)], [second]);
});

Deno.test("peer table: filters route until the connection is removed", async () => {
  const t = new PeerTable();
  const c = conn();
  t.add(c);
  t.check(c, ID, true);
  const waiting = t.awaitSubscription("/b/x", 2000);
  t.register(c, ID, ["/a"]);
  t.setFilter(c, ["/a", "/b"]);
  await waiting;
  assert.deepEqual(t.subscriptions(), ["/a", "/b"]);
  t.remove(c);
  assert.equal(t.get(ID), undefined);
  assert.equal(t.routes.matches("/a"), false);
  assert.equal(t.connections.size, 0);
  await assert.rejects(t.awaitSubscription("/a", 60), /no peer subscribed to \/a/);
});
