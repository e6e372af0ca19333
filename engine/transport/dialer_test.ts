import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";
import { ErrorCode } from "../errors.ts";
import { StatusCode, type StatusEvent } from "../status.ts";
import { encodeHandshakeMessage, MAGIC, MessageType } from "../wire/handshake_messages.ts";
import { newEndpointId } from "../wire/endpoint_id.ts";
import { isStatus, nextStatus } from "../../tests/raw_peer.ts";
import { freePort } from "../../tests/broker_ref.ts";

/** A bound that only ends a failing run: the retry intervals below are far longer. */
const WAIT = 20_000;

/**
 * Runs `answer` with an endpoint's dial (retry 0) to a plain listener, once
 * the listener read its hello; returns the listener's port and the statuses
 * the endpoint reported by the time `answer` is done.
 */
async function answerDial(
  answer: (conn: Deno.Conn, peered: Promise<void>) => Promise<void>,
): Promise<{ port: number; statuses: StatusEvent[] }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const ep = new Endpoint({ warmUp: false });
  const statuses = ep.statusSubscriber();
  try {
    const peered = ep.peer("127.0.0.1", port, { retryMs: 0 });
    const conn = await listener.accept();
    await conn.read(new Uint8Array(64)); // the hello
    await answer(conn, peered);
    return { port, statuses: statuses.poll() };
  } finally {
    listener.close();
    await ep.shutdown();
  }
}

Deno.test("a lost peering is re-dialled at once, not after the retry interval (Broker's try_connect)", async () => {
  // Broker's core calls try_connect as soon as a peering it dialled with a
  // retry interval ends (not by unpeering); the interval applies only after
  // that attempt fails. Zeek, which dials with a retry, peers again within
  // milliseconds of a peer dropping it (checked against zeek 8.2.2).
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    const port = await a.listen("127.0.0.1", 0);
    const statuses = b.statusSubscriber();
    await b.peer("127.0.0.1", port, { retryMs: 3_600_000 });
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
    const [accepted] = a.peers();
    assert.ok(await a.unpeer(accepted.host, accepted.port));
    await nextStatus(statuses, isStatus(StatusCode.peer_lost), WAIT);
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("a second peer() with a retry interval gives a peering dialled without one that retry: its loss re-dials", async () => {
  // Broker's core gives the peering the address of a redundant peer() that has
  // a retry interval when its own has none, and re-dials it when the peering
  // is lost. Zeek 8.2.2: Broker::peer(a, p, 0secs), then Broker::peer(a, p,
  // 2secs); the peer killed and started again: peer_lost, PEER_UNAVAILABLE at
  // once, then peer_added again 2 s later. We never re-dialled.
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    const port = await a.listen("127.0.0.1", 0);
    const statuses = b.statusSubscriber();
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.peer("127.0.0.1", port, { retryMs: 3_600_000 });
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
    const [accepted] = a.peers();
    assert.ok(await a.unpeer(accepted.host, accepted.port));
    const { event: lost } = await nextStatus(statuses, isStatus(StatusCode.peer_lost), WAIT);
    assert.equal(
      lost.peer?.retry,
      3600,
      "the peering's address carries the retry, as Broker's network_info",
    );
    await nextStatus(statuses, isStatus(StatusCode.peer_added), WAIT);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("peer() again while a failed dial waits out its retry interval dials at once", async () => {
  // Broker's core starts a new attempt for every peer(). Zeek 8.2.2:
  // Broker::peer(a, p, 10secs) with nobody listening (PEER_UNAVAILABLE); the
  // peer started; Broker::peer(a, p, 10secs) again 3 s later peered within a
  // millisecond. Ours joined the waiting dial, which came 10 s after the first.
  const port = freePort();
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    await assert.rejects(b.peer("127.0.0.1", port, { retryMs: 3_600_000 }));
    await a.listen("127.0.0.1", port);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const bound = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error("still waiting for the retry interval")), WAIT);
    });
    try {
      await Promise.race([b.peer("127.0.0.1", port, { retryMs: 3_600_000 }), bound]);
    } finally {
      clearTimeout(timer);
    }
    assert.deepEqual(b.peers().map((p) => [p.port, p.status]), [[port, "peered"]]);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("a dialled handshake that fails is reported as peer_unavailable, as Broker's connector reports every failed attempt", async () => {
  // broker-pipe dialling a listener that closes after the hello printed
  // error(peer_unavailable, ((nil, 127.0.0.1, <port>/tcp, 10), unable to connect to remote peer)).
  const { port, statuses } = await answerDial(async (conn, peered) => {
    conn.close();
    await assert.rejects(peered);
  });
  // Only that: the handshake's own failure is no status (the caller's rejection has it).
  const errors = statuses.map((s) => [s.codeName, s.peer?.id, s.peer?.port]);
  assert.deepEqual(errors, [[ErrorCode[ErrorCode.peer_unavailable], undefined, port]]);
});

Deno.test("a drop_conn(39 redundant_connection) from a peer we know nothing of is a failed attempt: peer_unavailable", async () => {
  // Broker's connector takes drop_conn(39) for "redundant" only from a peer it
  // is connecting or connected to; otherwise the attempt fails (abort: peer_unavailable).
  const { statuses } = await answerDial(async (conn, peered) => {
    const drop = encodeHandshakeMessage({
      type: MessageType.drop_conn,
      magic: MAGIC,
      senderId: newEndpointId(),
      code: ErrorCode.redundant_connection,
      description: "redundant connection",
    }, { prefix: true });
    await conn.write(drop);
    await assert.rejects(peered);
    conn.close();
  });
  assert.deepEqual(statuses.map((s) => s.codeName), ["peer_unavailable"]);
});
