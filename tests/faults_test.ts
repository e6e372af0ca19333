// A peered Endpoint facing a misbehaving raw peer over 127.0.0.1: garbage
// frames, bad payloads, routing updates, abrupt closes, oversized length
// prefixes, connection floods and slow readers.
import assert from "node:assert/strict";
import { Endpoint } from "../engine/endpoint.ts";
import { ErrorCode } from "../engine/errors.ts";
import { StatusCode, type StatusEvent } from "../engine/status.ts";
import { count, type Data, decode, encode, str, vector } from "../engine/data/mod.ts";
import {
  encodeEnvelope,
  encodeRoutingUpdate,
  EnvelopeType,
  frame,
  parseEndpointId,
  parseEnvelope,
} from "../engine/wire/mod.ts";
import {
  ENDPOINT_ID,
  failedHandshake,
  flood,
  handshakeFailureCounts,
  isError,
  isPeered,
  isStatus,
  LARGER_ID,
  nextStatus,
  ping,
  pingPong,
  RawConn,
  rawHandshake,
  SMALLER_ID,
  waitFor,
  withEndpoint,
} from "./raw_peer.ts";

const RAW = parseEndpointId(LARGER_ID);

/** A framed data message from the raw peer. */
function dataFrame(topic: string, payload: Uint8Array, sender = RAW): Uint8Array {
  return encodeEnvelope({ sender, type: EnvelopeType.data, topic, payload }, { prefix: true });
}

/** The frame payload of a valid data message, to corrupt by hand. */
function dataBody(topic: string): Uint8Array {
  return encodeEnvelope({
    sender: RAW,
    type: EnvelopeType.data,
    topic,
    payload: encode(count(1n)),
  });
}

// ------------------------------------------------------------ bad node messages

Deno.test("garbage frames after the handshake are dropped and the peering stays up", async () => {
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const sub = ep.subscribe("/t");
    const c = await peer(LARGER_ID);
    const short = dataBody("/t/x").subarray(0, 36);
    const topicPastEnd = dataBody("/t/x");
    topicPastEnd[35] = 0x01; // topic length 256+4, far past the end
    const unknownType = dataBody("/t/x");
    unknownType[32] = 9;
    const typeZero = dataBody("/t/x");
    typeZero[32] = 0;
    for (
      const garbage of [
        frame(new Uint8Array(0)),
        frame(new Uint8Array([1, 2, 3])),
        frame(short),
        frame(topicPastEnd),
        frame(unknownType),
        frame(typeZero),
      ]
    ) {
      await c.send(garbage);
    }
    await c.send(dataFrame("/t/ok", encode(str("after the garbage"))));
    const got = await sub.get(1500);
    assert.equal(got?.topic, "/t/ok");
    assert.equal(got?.data.value, "after the garbage");
    assert.equal(sub.available(), 0, "nothing from the garbage was delivered");
    assert.ok(isPeered(ep, LARGER_ID));
    await pingPong(c, LARGER_ID, ENDPOINT_ID, "alive");
    assert.deepEqual(status.poll().filter((e) => e.code === StatusCode.peer_lost), []);
  });
});

Deno.test("a data message whose payload is not Broker data is dropped with an error status; the peering stays up", async () => {
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const sub = ep.subscribe("/t");
    const c = await peer(LARGER_ID);
    await nextStatus(status, isStatus(StatusCode.peer_added));
    const bad: [string, Uint8Array][] = [
      ["unknown tag", new Uint8Array([0xff])],
      ["truncated count", new Uint8Array([2, 0, 0])],
      ["trailing bytes", new Uint8Array([...encode(count(1n)), 0])],
      ["empty payload", new Uint8Array(0)],
    ];
    for (const [what, payload] of bad) {
      await c.send(dataFrame("/t/bad", payload));
      const { event } = await nextStatus(status, (e) => e.kind === "error");
      assert.ok(
        [ErrorCode.deserialization_failed, ErrorCode.invalid_tag].includes(event.code),
        `${what}: ${event.codeName}`,
      );
      assert.equal(event.peer?.id, LARGER_ID, what);
    }
    await c.send(dataFrame("/t/good", encode(count(7n))));
    const got = await sub.get(1500);
    assert.equal(got?.topic, "/t/good");
    assert.equal(got?.data.value, 7n);
    assert.ok(isPeered(ep, LARGER_ID));
  });
});

// ------------------------------------------------------------ routing updates

Deno.test("a routing_update from the raw peer replaces what the endpoint forwards to it", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const c = await peer(LARGER_ID, ["/a"]);
    assert.deepEqual(ep.peerSubscriptions(), ["/a"]);
    const topics = async (token: string) =>
      (await pingPong(c, LARGER_ID, ENDPOINT_ID, token))
        .filter((e) => e.type === EnvelopeType.data)
        .map((e) => e.topic);

    ep.publish("/a/1", count(1n));
    ep.publish("/b/1", count(1n));
    assert.deepEqual(await topics("one"), ["/a/1"]);

    await c.sendEnvelope({
      sender: RAW,
      receiver: parseEndpointId(ENDPOINT_ID),
      type: EnvelopeType.routing_update,
      topic: "<$>",
      payload: encodeRoutingUpdate(["/b", "/c/x"]),
    });
    await pingPong(c, LARGER_ID, ENDPOINT_ID, "sync"); // the update was read before the pong
    assert.deepEqual(ep.peerSubscriptions(), ["/b", "/c/x"]);
    ep.publish("/a/2", count(2n));
    ep.publish("/b/2", count(2n));
    ep.publish("/c/2", count(2n));
    ep.publish("/c/x/2", count(2n));
    assert.deepEqual(await topics("two"), ["/b/2", "/c/x/2"]);
  });
});

Deno.test("a routing_update with another sender or a malformed filter is ignored", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const c = await peer(LARGER_ID, ["/a"]);
    await c.sendEnvelope({
      sender: parseEndpointId(SMALLER_ID), // not the direct peer
      type: EnvelopeType.routing_update,
      topic: "<$>",
      payload: encodeRoutingUpdate(["/b"]),
    });
    await c.sendEnvelope({
      sender: RAW,
      type: EnvelopeType.routing_update,
      topic: "<$>",
      payload: new Uint8Array([5, 1]), // five topics announced, a truncated one given
    });
    await pingPong(c, LARGER_ID, ENDPOINT_ID, "sync");
    assert.deepEqual(ep.peerSubscriptions(), ["/a"]);
    assert.ok(isPeered(ep, LARGER_ID));
  });
});

// ------------------------------------------------------------ abrupt ends

Deno.test("a peer that closes mid-frame: peer_lost, and the endpoint keeps serving its other peer", async () => {
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const sub = ep.subscribe("/t");
    const other = await peer(SMALLER_ID);
    const c = await peer(LARGER_ID);
    const whole = dataFrame("/t/x", encode(str("x".repeat(1000))));
    await c.send(whole.subarray(0, 500));
    await c.close();
    const { event } = await nextStatus(status, isStatus(StatusCode.peer_lost, LARGER_ID));
    assert.equal(event.codeName, "peer_lost");
    await nextStatus(status, isStatus(StatusCode.endpoint_unreachable, LARGER_ID));
    assert.equal(sub.available(), 0);
    assert.ok(!isPeered(ep, LARGER_ID));
    await other.send(dataFrame("/t/y", encode(count(3n)), parseEndpointId(SMALLER_ID)));
    assert.equal((await sub.get(1500))?.data.value, 3n);
    await pingPong(other, SMALLER_ID, ENDPOINT_ID, "still serving");
  });
});

Deno.test("a length prefix of 0x7fffffff closes that connection without allocating the frame", async () => {
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const other = await peer(SMALLER_ID);
    const c = await peer(LARGER_ID);
    const before = Deno.memoryUsage();
    await c.send(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 2, 3, 4]));
    const frames = (await c.framesUntilClose()).map(parseEnvelope);
    assert.deepEqual(frames.filter((e) => e.type !== EnvelopeType.ping), [], "closed, no data");
    const after = Deno.memoryUsage();
    const grown = after.external + after.heapUsed - before.external - before.heapUsed;
    assert.ok(grown < 64 << 20, `memory grew by ${grown} bytes`);
    await nextStatus(status, isError(ErrorCode.invalid_message, LARGER_ID));
    await nextStatus(status, isStatus(StatusCode.peer_lost, LARGER_ID));
    assert.ok(!isPeered(ep, LARGER_ID));
    await pingPong(other, SMALLER_ID, ENDPOINT_ID, "unaffected");
  });
});

Deno.test("an oversized length prefix during the handshake closes the connection too", async () => {
  await withEndpoint({}, async ({ ep, port, track }) => {
    const c = track(await RawConn.dial(port));
    await c.send(new Uint8Array([0x7f, 0xff, 0xff, 0xff, 6]));
    const frames = await c.framesUntilClose();
    assert.ok(frames.length <= 1, "at most the probe");
    await failedHandshake(ep, ErrorCode.invalid_message);
    await waitFor(() => ep.peers().length === 0, "the connection to be forgotten");
  });
});

Deno.test("a large but allowed length prefix is buffered as bytes arrive, not up front", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const sub = ep.subscribe("/t");
    const other = await peer(SMALLER_ID);
    const c = await peer(LARGER_ID);
    const before = Deno.memoryUsage();
    // Claim a 60 MiB frame, send a few bytes of it.
    await c.send(new Uint8Array([0x03, 0xc0, 0x00, 0x00, ...dataBody("/t/x").subarray(0, 40)]));
    await pingPong(other, SMALLER_ID, ENDPOINT_ID, "sync");
    const after = Deno.memoryUsage();
    const grown = after.external + after.heapUsed - before.external - before.heapUsed;
    assert.ok(grown < 30 << 20, `memory grew by ${grown} bytes`);
    assert.ok(isPeered(ep, LARGER_ID));
    assert.equal(sub.available(), 0);
  });
});

Deno.test("a frame over 64 MiB after the handshake is taken, as Broker takes up to INT32_MAX - 4", async () => {
  // A store's snapshot or a value is one frame: at 64 MiB the peering ended
  // (invalid_message) and the value was lost, where Broker delivers it.
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const sub = ep.subscribe("/t");
    const c = await peer(LARGER_ID);
    const big = new Uint8Array(70_000_000).fill(0x61);
    await c.send(dataFrame("/t/big", encode(str(big))));
    const m = await sub.get(20_000);
    assert.equal(m?.topic, "/t/big");
    assert.equal(m?.data.type === "string" ? m.data.value.length : -1, 70_000_000);
    assert.ok(isPeered(ep, LARGER_ID));
    assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
  });
});

Deno.test("maxFrameSize lowers the bound: a frame above it ends the peering with invalid_message", async () => {
  await withEndpoint({ maxFrameSize: 1 << 20 }, async ({ status, peer }) => {
    const other = await peer(SMALLER_ID);
    const c = await peer(LARGER_ID);
    await c.send(dataFrame("/t/big", encode(str(new Uint8Array(2 << 20)))));
    await nextStatus(status, isError(ErrorCode.invalid_message, LARGER_ID));
    await nextStatus(status, isStatus(StatusCode.peer_lost, LARGER_ID));
    await pingPong(other, SMALLER_ID, ENDPOINT_ID, "unaffected");
  });
  assert.throws(() => new Endpoint({ maxFrameSize: 2 ** 31 }), /maxFrameSize must be at most/);
});

// ------------------------------------------------------------ floods

Deno.test("200 connections that never speak: the endpoint stays responsive and times them all out", async () => {
  await withEndpoint({ handshakeTimeoutMs: 600 }, async ({ ep, port, status, track }) => {
    const silent = await Promise.all(
      Array.from({ length: 200 }, async () => track(await RawConn.dial(port))),
    );
    // A normal endpoint peers and exchanges data while all of them hold a slot.
    const normal = new Endpoint({ handshakeTimeoutMs: 600, unpeerTimeoutMs: 100 });
    try {
      const sub = ep.subscribe("/t");
      const back = normal.subscribe("/n");
      const started = Date.now();
      await normal.peer("127.0.0.1", port, { retryMs: 0 });
      await normal.awaitPeerSubscription("/t/x", 1000);
      await ep.awaitPeerSubscription("/n/x", 1000);
      normal.publish("/t/x", count(1n));
      ep.publish("/n/x", count(2n));
      assert.equal((await sub.get(1000))?.data.value, 1n);
      assert.equal((await back.get(1000))?.data.value, 2n);
      assert.ok(Date.now() - started < 600, "exchanged data before the silent ones timed out");
      assert.ok(ep.peers().length >= 200, "the silent connections are still pending");
      // Then each silent one gets probe and drop_conn(6), and is closed.
      const closed = await Promise.all(silent.map((c) => c.framesUntilClose(1500)));
      for (const frames of closed) {
        assert.deepEqual(frames.map((f) => f[0]), [7, 9]);
        assert.equal(frames[1][21], ErrorCode.peer_timeout);
      }
      await waitFor(() => ep.peers().length === 1, "only the normal peer to remain");
      assert.equal(ep.peers()[0].id, normal.id);
      // Counted, with no status each: Broker's core only logs a failed incoming handshake.
      assert.equal(handshakeFailureCounts(ep).get("peer_timeout"), 200);
      assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
    } finally {
      await normal.shutdown();
    }
  });
});

// ------------------------------------------------------------ slow readers

/** Reads data messages (seq numbers) until the pong for `token`. */
async function drain(c: RawConn, id: string, token: string): Promise<number[]> {
  const before = await pingPong(c, id, ENDPOINT_ID, token, 5000);
  return before
    .filter((e) => e.type === EnvelopeType.data)
    .map((e) => Number((decode(e.payload).value as readonly Data[])[0].value as bigint));
}

Deno.test("slow reader with overflowPolicy disconnect: dropped with peer_removed and no error status, a reading peer stays", async () => {
  await withEndpoint(
    { peerBufferSize: 100, overflowPolicy: "disconnect" },
    async ({ ep, status, peer }) => {
      await peer(LARGER_ID, ["/flood"]); // the slow reader: never reads
      const fast = await peer(SMALLER_ID, ["/flood"]);
      const isData = (e: { type: EnvelopeType }) => e.type === EnvelopeType.data;
      let dropped: StatusEvent | undefined;
      const seen: StatusEvent[] = [];
      let sent = 0;
      // Batches of 50 (half the buffer); the reading peer takes each batch before
      // the next, so only the slow one can fall behind.
      while (!dropped && sent < 20_000) {
        const batch = await flood(ep, 50, 50);
        for (let i = 0; i < batch; i++) await fast.envelope(isData);
        sent += batch;
        for (const e of status.poll()) {
          seen.push(e);
          if (isStatus(StatusCode.peer_removed, LARGER_ID)(e)) dropped = e;
        }
      }
      assert.ok(dropped, `the slow reader was not dropped after ${sent} messages`);
      // Broker's core force-disconnects the peer: peer_removed, with the CAF error, and
      // reports no error (ours added error(peer_timeout, "peer buffer overflow ...")).
      assert.equal(
        dropped.message,
        "removed connection to remote peer (caf::sec::backpressure_overflow)",
      );
      assert.deepEqual(seen.filter((e) => e.kind === "error"), []);
      assert.ok(!seen.some(isStatus(StatusCode.peer_lost, LARGER_ID)));
      assert.ok(!isPeered(ep, LARGER_ID));
      assert.ok(isPeered(ep, SMALLER_ID), "the reading peer kept its peering");
      assert.deepEqual(seen.filter((e) => e.kind === "error" && e.peer?.id === SMALLER_ID), []);
      await pingPong(fast, SMALLER_ID, ENDPOINT_ID, "fast is fine");
    },
  );
});

Deno.test("a dialled peer cut by the overflow policy is not dialled again, as broker-pipe does not", async () => {
  // broker-pipe --peer-buffer-size=10, dialling (retry 10 s) a peer that stopped
  // reading: peer_removed "removed connection to remote peer
  // (caf::sec::backpressure_overflow)", and no new connection in the next 15 s.
  await withEndpoint(
    { peerBufferSize: 100, overflowPolicy: "disconnect" },
    async ({ ep, status, listen, track }) => {
      const l = listen();
      const peered = ep.peer("127.0.0.1", l.port, { retryMs: 3_600_000 });
      const slow = track(await l.accept());
      await rawHandshake(slow, SMALLER_ID, ["/flood"], true); // then never reads
      await peered;
      let sent = 0;
      while (isPeered(ep, SMALLER_ID) && sent < 20_000) sent += await flood(ep, 50, 50);
      const { event } = await nextStatus(
        status,
        isStatus(StatusCode.peer_removed, SMALLER_ID),
        5000,
      );
      assert.equal(
        event.message,
        "removed connection to remote peer (caf::sec::backpressure_overflow)",
      );
      assert.deepEqual(ep.peers(), [], "nothing left to re-dial");
    },
  );
});

for (const policy of ["drop_newest", "drop_oldest"] as const) {
  Deno.test(`slow reader with overflowPolicy ${policy}: the peering stays up and only a bounded share is delivered`, async () => {
    await withEndpoint(
      { peerBufferSize: 100, overflowPolicy: policy },
      async ({ ep, status, peer }) => {
        const sub = ep.subscribe("/t");
        const c = await peer(LARGER_ID, ["/flood"]);
        const total = 8000; // 64 MiB of payload, far more than the socket buffers hold
        await flood(ep, total, 500);
        assert.ok(isPeered(ep, LARGER_ID));
        assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
        // The endpoint still reads from the slow peer while its writes are stuck.
        await c.send(dataFrame("/t/x", encode(count(5n))));
        assert.equal((await sub.get(1500))?.data.value, 5n);
        // Now read everything: far fewer than published arrived (the endpoint kept a
        // bounded number), in order.
        const seqs = await drain(c, LARGER_ID, "end");
        assert.ok(seqs.length < total / 2, `${seqs.length} of ${total} delivered`);
        for (let i = 1; i < seqs.length; i++) assert.ok(seqs[i] > seqs[i - 1], "in order");
        assert.equal(seqs[0], 0, "the first messages went out before the buffer filled");
        if (policy === "drop_oldest") {
          assert.equal(seqs.at(-1), total - 1, "drop_oldest keeps the newest");
        } else {
          assert.ok(seqs.at(-1)! < total - 1, "drop_newest drops the newest");
        }
        // And the peering works normally afterwards.
        ep.publish("/flood", vector(count(total), str("late")));
        assert.deepEqual(await drain(c, LARGER_ID, "after"), [total]);
      },
    );
  });
}

Deno.test({
  name:
    "slow reader with drop_oldest: queued control messages (routing_update, pong) are not dropped",
  fn: async () => {
    await withEndpoint(
      { peerBufferSize: 100, overflowPolicy: "drop_oldest" },
      async ({ ep, peer }) => {
        const sync = ep.subscribe("/sync");
        const c = await peer(LARGER_ID, ["/flood"]);
        await flood(ep, 3000, 500); // socket buffers full, queue full
        ep.subscribe("/new"); // a routing_update joins the queue
        await c.sendEnvelope(ping(LARGER_ID, ENDPOINT_ID, new TextEncoder().encode("p1")));
        await c.send(dataFrame("/sync", encode(count(1n))));
        assert.ok(await sync.get(1500), "the ping was read"); // its pong is queued now
        await flood(ep, 1000, 500); // 1000 more data messages behind them
        const seen = await pingPong(c, LARGER_ID, ENDPOINT_ID, "p2", 5000);
        const updates = seen.filter((e) => e.type === EnvelopeType.routing_update);
        assert.equal(updates.length, 1, "the routing_update was dropped");
        const pongs = seen.filter((e) => e.type === EnvelopeType.pong);
        assert.deepEqual(pongs.map((e) => new TextDecoder().decode(e.payload)), ["p1"]);
      },
    );
  },
});

for (const policy of ["drop_newest", "drop_oldest"] as const) {
  Deno.test(`slow reader with overflowPolicy ${policy}: the endpoint retains about peerBufferSize messages (measured after GC)`, async () => {
    // gc() needs --expose-gc, so the measurement runs in a child process.
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc",
        new URL("./slow_reader_memory.ts", import.meta.url).pathname,
        policy,
        "100",
        "8000",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const { retained, published, peered } = JSON.parse(new TextDecoder().decode(out.stdout));
    // 100 queued frames of 8 KiB plus one 256 KiB write in flight, with slack;
    // an unbounded queue would hold most of the 64 MiB published.
    assert.ok(retained < 8 << 20, `retained ${retained} of ${published} bytes`);
    assert.equal(peered, true);
  });
}
