// The peering handshake of a real Endpoint, driven over 127.0.0.1 by a raw
// peer that writes and reads Broker frames by hand (tests/raw_peer.ts), in
// both TCP directions and both handshake roles, plus every way it can fail.
import assert from "node:assert/strict";
import type { Endpoint } from "../engine/endpoint.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { StatusCode, type StatusEvent } from "../engine/status.ts";
import type { BoundedQueue } from "../engine/queue.ts";
import type { Subscriber } from "../engine/subscriber.ts";
import { count, decode, encode, str } from "../engine/data/mod.ts";
import {
  decodeHandshakeMessage,
  type DropConnMessage,
  endpointIdToString,
  EnvelopeType,
  frame,
  type HandshakeMessage,
  MAGIC,
  MessageType,
  messageTypeName,
  parseEndpointId,
} from "../engine/wire/mod.ts";
import {
  ENDPOINT_ID,
  failedHandshake,
  handshakeFailureCounts,
  hello,
  isError,
  isPeered,
  isStatus,
  LARGER_ID,
  nextStatus,
  pingPong,
  PROBE,
  type RawConn,
  rawHandshake,
  SMALLER_ID,
  versionSelect,
  waitFor,
  withEndpoint,
} from "./raw_peer.ts";

/** "probe", "drop_conn(38)", ... for every frame the endpoint sent before closing. */
async function sentUntilClose(c: RawConn, timeoutMs = 1500): Promise<string[]> {
  return (await c.framesUntilClose(timeoutMs)).map((f) => {
    const m = decodeHandshakeMessage(f);
    return m.type === MessageType.drop_conn ? `drop_conn(${m.code})` : messageTypeName(m.type);
  });
}

/** The drop_conn among frames (decoded), to check its sender and text. */
function dropConn(frames: Uint8Array[]): DropConnMessage {
  const m = frames.map(decodeHandshakeMessage).find((x) => x.type === MessageType.drop_conn);
  assert.ok(m, "no drop_conn");
  return m as DropConnMessage;
}

const idText = endpointIdToString;

/** A promise's outcome: its value, or the error it rejected with (handled at once). */
function settle<T>(p: Promise<T>): Promise<T | Error> {
  return p.catch((e) => (e instanceof Error ? e : new Error(String(e))));
}

/**
 * After a handshake: a data message from the raw peer reaches a local
 * subscriber, a publish reaches the raw peer (its filter is `/r`), and a
 * ping is answered with a pong (sender and receiver swapped, same payload, `<$>`).
 */
async function exchangesData(ep: Endpoint, c: RawConn, sub: Subscriber, rawId: string) {
  await c.sendEnvelope({
    sender: parseEndpointId(rawId),
    type: EnvelopeType.data,
    topic: "/t/in",
    payload: encode(count(42n)),
  });
  const got = await sub.get(1500);
  assert.equal(got?.topic, "/t/in");
  assert.equal(got?.data.value, 42n);

  ep.publish("/r/out", str("hi"));
  const data = await c.envelope((e) => e.type === EnvelopeType.data);
  assert.equal(idText(data.sender), ENDPOINT_ID);
  assert.equal(idText(data.receiver), "00000000-0000-0000-0000-000000000000");
  assert.equal(data.topic, "/r/out");
  assert.equal(data.ttl, 16);
  assert.equal(decode(data.payload).value, "hi");

  const payload = new TextEncoder().encode("foo");
  await c.sendEnvelope({
    sender: parseEndpointId(rawId),
    receiver: parseEndpointId(ENDPOINT_ID),
    type: EnvelopeType.ping,
    topic: "<$>",
    payload,
  });
  const pong = await c.envelope((e) => e.type === EnvelopeType.pong);
  assert.equal(idText(pong.sender), ENDPOINT_ID);
  assert.equal(idText(pong.receiver), rawId);
  assert.equal(pong.topic, "<$>");
  assert.deepEqual(pong.payload, payload);
}

async function expectPeerAdded(status: BoundedQueue<StatusEvent>, id: string) {
  const { event, seen } = await nextStatus(status, isStatus(StatusCode.peer_added, id));
  assert.deepEqual(
    seen.map((e) => e.codeName),
    ["endpoint_discovered", "peer_added"],
  );
  assert.equal(event.peer?.id, id);
}

// ------------------------------------------------------------ success, four ways

Deno.test("raw peer with a larger ID dials: endpoint sends probe, version_select, originator_syn, originator_ack", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const sub = ep.subscribe("/t");
    const c = await dial();
    await c.sendHandshake(hello(LARGER_ID));
    await c.expect(MessageType.probe);
    const vs = await c.expect(MessageType.version_select);
    assert.equal(vs.magic, MAGIC);
    assert.equal(idText(vs.senderId), ENDPOINT_ID);
    assert.equal(vs.selectedVersion, 1);
    const syn = await c.expect(MessageType.originator_syn);
    assert.deepEqual(syn.filter, ["/t"]);
    await c.sendHandshake({ type: MessageType.responder_syn_ack, filter: ["/r"] });
    await c.expect(MessageType.originator_ack);
    await expectPeerAdded(status, LARGER_ID);
    assert.deepEqual(ep.peerSubscriptions(), ["/r"]);
    await exchangesData(ep, c, sub, LARGER_ID);
  });
});

Deno.test("raw peer with a smaller ID dials: endpoint answers probe, its own hello, then responder_syn_ack", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const sub = ep.subscribe("/t");
    const c = await dial();
    await c.sendHandshake(hello(SMALLER_ID));
    await c.expect(MessageType.probe);
    const h = await c.expect(MessageType.hello);
    assert.equal(idText(h.senderId), ENDPOINT_ID);
    assert.equal(h.magic, MAGIC);
    assert.deepEqual([h.minVersion, h.maxVersion], [1, 1]);
    await c.sendHandshake(versionSelect(SMALLER_ID));
    await c.sendHandshake({ type: MessageType.originator_syn, filter: ["/r"] });
    const ack = await c.expect(MessageType.responder_syn_ack);
    assert.deepEqual(ack.filter, ["/t"]);
    await c.sendHandshake({ type: MessageType.originator_ack });
    await expectPeerAdded(status, SMALLER_ID);
    await exchangesData(ep, c, sub, SMALLER_ID);
  });
});

Deno.test("endpoint dials a raw listener with a larger ID: hello, then version_select, originator_syn, originator_ack", async () => {
  await withEndpoint({}, async ({ ep, status, listen, track }) => {
    const sub = ep.subscribe("/t");
    const l = listen();
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    const c = track(await l.accept());
    const h = await c.expect(MessageType.hello);
    assert.equal(idText(h.senderId), ENDPOINT_ID);
    await c.sendHandshake(PROBE);
    await c.sendHandshake(hello(LARGER_ID));
    const vs = await c.expect(MessageType.version_select);
    assert.equal(idText(vs.senderId), ENDPOINT_ID);
    assert.deepEqual((await c.expect(MessageType.originator_syn)).filter, ["/t"]);
    await c.sendHandshake({ type: MessageType.responder_syn_ack, filter: ["/r"] });
    await c.expect(MessageType.originator_ack);
    await peered;
    await expectPeerAdded(status, LARGER_ID);
    assert.equal(ep.peers()[0].outbound, true);
    await exchangesData(ep, c, sub, LARGER_ID);
  });
});

Deno.test("endpoint dials a raw listener with a smaller ID: hello, then responder_syn_ack", async () => {
  await withEndpoint({}, async ({ ep, status, listen, track }) => {
    const sub = ep.subscribe("/t");
    const l = listen();
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    const c = track(await l.accept());
    await c.expect(MessageType.hello);
    await c.sendHandshake(PROBE);
    await c.sendHandshake(versionSelect(SMALLER_ID));
    await c.sendHandshake({ type: MessageType.originator_syn, filter: ["/r"] });
    assert.deepEqual((await c.expect(MessageType.responder_syn_ack)).filter, ["/t"]);
    await c.sendHandshake({ type: MessageType.originator_ack });
    await peered;
    await expectPeerAdded(status, SMALLER_ID);
    await exchangesData(ep, c, sub, SMALLER_ID);
  });
});

Deno.test("endpoint dialling a smaller-ID listener that sends hello instead of version_select still peers", async () => {
  await withEndpoint({}, async ({ ep, listen, track }) => {
    const l = listen();
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    const c = track(await l.accept());
    await c.expect(MessageType.hello);
    await c.sendHandshake(PROBE);
    await c.sendHandshake(hello(SMALLER_ID)); // the endpoint is the responder
    await c.sendHandshake(versionSelect(SMALLER_ID));
    await c.sendHandshake({ type: MessageType.originator_syn, filter: [] });
    // Broker's responder answers every hello with its own (spec section 13); ours
    // already sent one when it dialled. Either way responder_syn_ack follows.
    let m = await c.handshake();
    if (m.type === MessageType.hello) m = await c.handshake();
    assert.equal(messageTypeName(m.type), "responder_syn_ack");
    await c.sendHandshake({ type: MessageType.originator_ack });
    await peered;
    assert.ok(isPeered(ep, SMALLER_ID));
  });
});

// ------------------------------------------------------------ failures

Deno.test("hello with a wrong magic number: drop_conn 38 wrong_magic_number, close, counted, no status", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const c = await dial();
    await c.sendHandshake(hello(LARGER_ID, 1, 1, 0xdeadbeef));
    const frames = await c.framesUntilClose();
    assert.deepEqual(frames.map((f) => decodeHandshakeMessage(f).type), [
      MessageType.probe,
      MessageType.drop_conn,
    ]);
    const drop = dropConn(frames);
    assert.equal(drop.code, ErrorCode.wrong_magic_number);
    assert.equal(drop.magic, MAGIC);
    assert.equal(idText(drop.senderId), ENDPOINT_ID);
    assert.equal(drop.description, "wrong magic number");
    // Counted, and no error status: Broker's core only logs a failed incoming handshake
    // (a bare connect or garbage at broker-node's port counts no processed message).
    const { event } = await failedHandshake(ep, ErrorCode.wrong_magic_number);
    assert.equal(event.code, 38);
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    await waitFor(() => ep.peers().length === 0, "the connection to be forgotten");
  });
});

Deno.test("hello offering only versions 200..201: drop_conn 2 peer_incompatible", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const c = await dial();
    await c.sendHandshake(hello(LARGER_ID, 200, 201));
    assert.deepEqual(await sentUntilClose(c), ["probe", "drop_conn(2)"]);
    await failedHandshake(ep, ErrorCode.peer_incompatible);
  });
});

Deno.test("undecodable handshake frames (unknown type byte, truncated hello): drop_conn 20 invalid_message", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const cases: [string, Uint8Array, string][] = [
      [
        "unknown type byte",
        frame(new Uint8Array([0x63, 0x5a, 0x45, 0x45, 0x4b])),
        "invalid message type tag",
      ],
      [
        "node message type during the handshake",
        frame(new Uint8Array([1, 2, 3])),
        "invalid message type tag",
      ],
      [
        "truncated hello",
        frame(new Uint8Array([6, 0x5a, 0x45, 0x45, 0x4b, 1, 2])),
        "failed to parse hello_msg",
      ],
    ];
    for (const [what, bytes, description] of cases) {
      const c = await dial();
      await c.send(bytes);
      const frames = await c.framesUntilClose();
      assert.deepEqual(
        frames.map((f) => decodeHandshakeMessage(f).type),
        [MessageType.probe, MessageType.drop_conn],
        what,
      );
      const drop = dropConn(frames);
      assert.equal(drop.code, ErrorCode.invalid_message, what);
      assert.equal(drop.description, description, what);
      await failedHandshake(ep, ErrorCode.invalid_message);
    }
  });
});

Deno.test("a well-formed message that does not fit the state: the endpoint closes without drop_conn", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const unexpected: HandshakeMessage[] = [
      { type: MessageType.originator_ack },
      { type: MessageType.responder_syn_ack, filter: ["/x"] },
      versionSelect(SMALLER_ID), // the acceptor waits for hello
    ];
    for (const msg of unexpected) {
      const c = await dial();
      await c.sendHandshake(msg);
      assert.deepEqual(await sentUntilClose(c), ["probe"], messageTypeName(msg.type));
      await failedHandshake(ep, ErrorCode.unexpected_handshake_message);
    }
    // After hello, the responder waits for version_select: originator_syn first is wrong too.
    const c = await dial();
    await c.sendHandshake(hello(SMALLER_ID));
    await c.sendHandshake({ type: MessageType.originator_syn, filter: [] });
    assert.deepEqual(await sentUntilClose(c), ["probe", "hello"]);
    await failedHandshake(ep, ErrorCode.unexpected_handshake_message);
    await waitFor(() => ep.peers().length === 0, "every failed connection to be forgotten");
  });
});

Deno.test("a zero-length frame during the handshake closes without drop_conn", async () => {
  await withEndpoint({}, async ({ dial }) => {
    const c = await dial();
    await c.send(new Uint8Array(4));
    assert.deepEqual(await sentUntilClose(c), ["probe"]);
  });
});

Deno.test("a silent peer is timed out by handshakeTimeoutMs: drop_conn 6, close, a peer_timeout failure", async () => {
  await withEndpoint({ handshakeTimeoutMs: 200 }, async ({ ep, dial }) => {
    const started = Date.now();
    const c = await dial();
    assert.deepEqual(await sentUntilClose(c), ["probe", "drop_conn(6)"]);
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 150, `closed after ${elapsed} ms, before the timeout`);
    await failedHandshake(ep, ErrorCode.peer_timeout);
    assert.equal(ep.peers().length, 0);
  });
});

Deno.test("a peer that stalls after hello is timed out as well", async () => {
  await withEndpoint({ handshakeTimeoutMs: 200 }, async ({ ep, dial }) => {
    const c = await dial();
    await c.sendHandshake(hello(LARGER_ID)); // endpoint originates, then waits for syn_ack forever
    assert.deepEqual(await sentUntilClose(c), [
      "probe",
      "version_select",
      "originator_syn",
      "drop_conn(6)",
    ]);
    await failedHandshake(ep, ErrorCode.peer_timeout);
  });
});

Deno.test("the endpoint dialling a silent listener gives up after handshakeTimeoutMs: peer() rejects with the timeout, the status is peer_unavailable", async () => {
  await withEndpoint({ handshakeTimeoutMs: 200 }, async ({ ep, status, listen, track }) => {
    const l = listen();
    const peered = settle(ep.peer("127.0.0.1", l.port, { retryMs: 0 }));
    const c = track(await l.accept());
    assert.deepEqual(await sentUntilClose(c), ["hello", "drop_conn(6)"]);
    const outcome = await peered;
    assert.ok(outcome instanceof BrokerError, "peer() resolved");
    assert.equal(outcome.code, ErrorCode.peer_unavailable);
    assert.equal((outcome.cause as BrokerError).code, ErrorCode.peer_timeout);
    await nextStatus(status, isError(ErrorCode.peer_unavailable));
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    assert.deepEqual(ep.peers(), []);
  });
});

Deno.test("a peer that hangs up mid-handshake: a peer_disconnect_during_handshake failure", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const c = await dial();
    await c.sendHandshake(hello(LARGER_ID));
    await c.expect(MessageType.probe);
    await c.close();
    await failedHandshake(ep, ErrorCode.peer_disconnect_during_handshake);
    await waitFor(() => ep.peers().length === 0, "the connection to be forgotten");
  });
});

Deno.test("a frame too long for the handshake is one invalid_message failure, not also a peer_disconnect_during_handshake", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    // A TLS client's ClientHello (16 03 01 ..) read as a length prefix is as long:
    // Zeek dialling a plain listener with SSL on got two errors per attempt.
    const c = await dial();
    await c.send(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0]));
    await c.framesUntilClose();
    // A second client that does hang up marks where the first one's failures end.
    await failedHandshake(ep, ErrorCode.invalid_message);
    const other = await dial();
    await other.close();
    await failedHandshake(ep, ErrorCode.peer_disconnect_during_handshake);
    assert.deepEqual(Object.fromEntries(handshakeFailureCounts(ep)), {
      invalid_message: 1,
      peer_disconnect_during_handshake: 1,
    });
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    await waitFor(() => ep.peers().length === 0, "the connections to be forgotten");
  });
});

Deno.test("unpeering a dial still in its handshake closes it without a peer_disconnect_during_handshake error", async () => {
  await withEndpoint({}, async ({ ep, status, dial, listen, track }) => {
    const l = listen();
    const peered = settle(ep.peer("127.0.0.1", l.port, { retryMs: 1000 }));
    const c = track(await l.accept());
    await c.expect(MessageType.hello);
    assert.equal(await ep.unpeer("127.0.0.1", l.port), true);
    assert.equal(String(await peered), "BrokerError: unpeered");
    assert.deepEqual(await sentUntilClose(c), []);
    // A client that does hang up mid-handshake marks where the unpeer's effects end.
    const other = await dial();
    await other.close();
    await failedHandshake(ep, ErrorCode.peer_disconnect_during_handshake);
    assert.deepEqual(Object.fromEntries(handshakeFailureCounts(ep)), {
      peer_disconnect_during_handshake: 1,
    });
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    assert.deepEqual(ep.peers(), []);
  });
});

Deno.test("a peer using the endpoint's own ID: drop_conn 3 peer_invalid", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const c = await dial();
    await c.sendHandshake(hello(ENDPOINT_ID));
    assert.deepEqual(await sentUntilClose(c), ["probe", "drop_conn(3)"]);
    await failedHandshake(ep, ErrorCode.peer_invalid);
  });
});

Deno.test("a drop_conn from the dialled peer fails peer() with its code and reason; the status is peer_unavailable alone, as Broker's", async () => {
  await withEndpoint({}, async ({ ep, status, listen, track }) => {
    const l = listen();
    const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
    const c = track(await l.accept());
    await c.expect(MessageType.hello);
    await c.sendHandshake({
      type: MessageType.drop_conn,
      magic: MAGIC,
      senderId: parseEndpointId(LARGER_ID),
      code: ErrorCode.peer_incompatible,
      description: "go away",
    });
    const e = await peered.then(() => undefined, (e) => e);
    assert.ok(e instanceof BrokerError);
    assert.match(e.message, /go away/);
    assert.equal((e.cause as BrokerError).code, ErrorCode.peer_incompatible);
    const { event } = await nextStatus(status, (e) => e.kind === "error");
    assert.equal(event.code, ErrorCode.peer_unavailable);
    assert.equal(event.message, "unable to connect to remote peer");
    assert.deepEqual(await c.framesUntilClose(), []);
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
  });
});

Deno.test({
  name: "a drop_conn 39 from an unknown peer is a failure, reported as peer_unavailable",
  fn: async () => {
    await withEndpoint({}, async ({ ep, status, listen, track }) => {
      const l = listen();
      const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
      const c = track(await l.accept());
      await c.expect(MessageType.hello);
      await c.sendHandshake({
        type: MessageType.drop_conn,
        magic: MAGIC,
        senderId: parseEndpointId(LARGER_ID),
        code: ErrorCode.redundant_connection,
        description: "redundant connection",
      });
      await assert.rejects(peered, /redundant connection/);
      await nextStatus(status, isError(ErrorCode.peer_unavailable));
      assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    });
  },
});

// ------------------------------------------------------------ redundant connections

Deno.test("second connection from a peered ID, endpoint originator: drop_conn 39, first peering unharmed", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const first = await dial();
    await rawHandshake(first, LARGER_ID, ["/r"]);
    await expectPeerAdded(status, LARGER_ID);
    const second = await dial();
    await second.sendHandshake(hello(LARGER_ID));
    const frames = await second.framesUntilClose();
    assert.deepEqual(
      frames.map((f) => messageTypeName(decodeHandshakeMessage(f).type)),
      ["probe", "drop_conn"],
    );
    const drop = dropConn(frames);
    assert.equal(drop.code, ErrorCode.redundant_connection);
    assert.equal(drop.description, "redundant connection");
    await pingPong(first, LARGER_ID, ENDPOINT_ID, "still here");
    assert.ok(isPeered(ep, LARGER_ID));
    assert.equal(ep.peers().filter((p) => p.status === "peered").length, 1);
    // No status about the peer changed: the redundant connection is not a new or lost peer.
    const more = status.poll();
    assert.deepEqual(
      more.filter((e) => e.kind === "status").map((e) => e.codeName),
      [],
    );
  });
});

Deno.test("second connection from a peered ID, endpoint responder: drop_conn 40 logic_error, first peering unharmed", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const first = await dial();
    await rawHandshake(first, SMALLER_ID, ["/r"]);
    await expectPeerAdded(status, SMALLER_ID);
    const second = await dial();
    await second.sendHandshake(hello(SMALLER_ID));
    await second.expect(MessageType.probe);
    await second.expect(MessageType.hello);
    await second.sendHandshake(versionSelect(SMALLER_ID));
    const frames = await second.framesUntilClose();
    const drop = dropConn(frames);
    assert.equal(frames.length, 1);
    assert.equal(drop.code, ErrorCode.logic_error);
    assert.equal(drop.description, "detected redundant connection at the responder");
    await failedHandshake(ep, ErrorCode.logic_error);
    await pingPong(first, SMALLER_ID, ENDPOINT_ID, "still here");
    assert.equal(ep.peers().filter((p) => p.status === "peered").length, 1);
  });
});

Deno.test("two concurrent handshakes from one ID: the later one waits, then gets drop_conn 39 when the first completes", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const first = await dial();
    await first.sendHandshake(hello(LARGER_ID));
    await first.expect(MessageType.probe);
    await first.expect(MessageType.version_select);
    await first.expect(MessageType.originator_syn);
    const second = await dial();
    await second.sendHandshake(hello(LARGER_ID));
    await second.expect(MessageType.probe);
    // Paused: nothing more until the first handshake is done.
    await assert.rejects(second.frame(100), /timed out/);
    await first.sendHandshake({ type: MessageType.responder_syn_ack, filter: [] });
    await first.expect(MessageType.originator_ack);
    assert.deepEqual(await sentUntilClose(second), ["drop_conn(39)"]);
    await expectPeerAdded(status, LARGER_ID);
    await pingPong(first, LARGER_ID, ENDPOINT_ID, "winner");
    assert.equal(ep.peers().length, 1);
  });
});

Deno.test("two concurrent handshakes from one ID at the responder: drop_conn 40 on the second", async () => {
  await withEndpoint({}, async ({ ep, status, dial }) => {
    const first = await dial();
    await first.sendHandshake(hello(SMALLER_ID));
    await first.expect(MessageType.probe);
    await first.expect(MessageType.hello);
    await first.sendHandshake(versionSelect(SMALLER_ID));
    const second = await dial();
    await second.sendHandshake(hello(SMALLER_ID));
    await second.expect(MessageType.probe);
    await second.expect(MessageType.hello);
    await second.sendHandshake(versionSelect(SMALLER_ID));
    assert.deepEqual(await sentUntilClose(second), ["drop_conn(40)"]);
    await failedHandshake(ep, ErrorCode.logic_error);
    // The first one completes normally.
    await first.sendHandshake({ type: MessageType.originator_syn, filter: [] });
    await first.expect(MessageType.responder_syn_ack);
    await first.sendHandshake({ type: MessageType.originator_ack });
    await expectPeerAdded(status, SMALLER_ID);
    await pingPong(first, SMALLER_ID, ENDPOINT_ID, "winner");
  });
});

Deno.test({
  name:
    "a paused redundant connection is closed by the handshake timeout when the first handshake stalls",
  fn: async () => {
    await withEndpoint({ handshakeTimeoutMs: 200 }, async ({ ep, dial }) => {
      const first = await dial();
      await first.sendHandshake(hello(LARGER_ID));
      await first.expect(MessageType.probe);
      await first.expect(MessageType.version_select);
      await first.expect(MessageType.originator_syn);
      const second = await dial();
      await second.sendHandshake(hello(LARGER_ID));
      await second.expect(MessageType.probe);
      // The first stalls and is timed out; the paused second must not outlive it.
      assert.deepEqual(await sentUntilClose(first), ["drop_conn(6)"]);
      assert.deepEqual(await sentUntilClose(second, 1000), ["drop_conn(6)"]);
      await waitFor(() => ep.peers().length === 0, "no connection left");
    });
  },
});

Deno.test({
  name:
    "peer() to an endpoint already peered through an incoming connection resolves without a second peering",
  fn: async () => {
    await withEndpoint({}, async ({ ep, status, dial, listen, track }) => {
      const incoming = await dial();
      await rawHandshake(incoming, SMALLER_ID, []);
      await expectPeerAdded(status, SMALLER_ID);
      // The same raw endpoint also listens; the endpoint dials it. The raw side
      // (smaller ID, originator, already connected) answers drop_conn 39 as Broker does.
      const l = listen();
      const peered = ep.peer("127.0.0.1", l.port, { retryMs: 0 });
      const c = track(await l.accept());
      await c.expect(MessageType.hello);
      await c.sendHandshake({
        type: MessageType.drop_conn,
        magic: MAGIC,
        senderId: parseEndpointId(SMALLER_ID),
        code: ErrorCode.redundant_connection,
        description: "redundant connection",
      });
      await peered;
      assert.equal(ep.peers().filter((p) => p.status === "peered").length, 1);
    });
  },
});

Deno.test({
  name: "a redundant connection refused at the responder is counted, with no error status",
  fn: async () => {
    await withEndpoint({}, async ({ ep, status, dial }) => {
      const first = await dial();
      await rawHandshake(first, SMALLER_ID, []);
      await expectPeerAdded(status, SMALLER_ID);
      const second = await dial();
      await second.sendHandshake(hello(SMALLER_ID));
      await second.sendHandshake(versionSelect(SMALLER_ID));
      assert.deepEqual(await sentUntilClose(second), ["probe", "hello", "drop_conn(40)"]);
      await failedHandshake(ep, ErrorCode.logic_error);
      assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    });
  },
});
