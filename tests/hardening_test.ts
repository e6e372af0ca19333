// Regression tests for the holes an adversarial pass found (issue 11): each
// one reproduces the attack with a raw client and asserts the bound or the close.
import assert from "node:assert/strict";
import { Endpoint } from "../engine/endpoint.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { count, decode, encode, str, validate } from "../engine/data/mod.ts";
import { EnvelopeType, NIL_ENDPOINT_ID, parseEndpointId } from "../engine/wire/mod.ts";
import { StatusCode } from "../engine/status.ts";
import {
  ENDPOINT_ID,
  failedHandshake,
  handshakeFailureCounts,
  isError,
  isStatus,
  LARGER_ID,
  nextStatus,
  ping,
  pingPong,
  type RawConn,
  waitFor,
  withEndpoint,
} from "./raw_peer.ts";

const TLS_DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const PONG_PAYLOAD = new Uint8Array(64 * 1024);

/** Pings with a 64 KiB payload, never reading, until `stop()`; returns the largest queue seen. */
async function pingFlood(ep: Endpoint, c: RawConn, count: number, stop: () => boolean) {
  let maxBytes = 0, maxMessages = 0, sent = 0;
  for (; sent < count && !stop(); sent++) {
    try {
      await c.sendEnvelope(ping(LARGER_ID, ENDPOINT_ID, PONG_PAYLOAD));
    } catch {
      break; // the endpoint closed the connection
    }
    for (const p of ep.peers()) {
      maxBytes = Math.max(maxBytes, p.queuedBytes);
      maxMessages = Math.max(maxMessages, p.queuedMessages);
    }
    if (sent % 64 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  return { maxBytes, maxMessages, sent };
}

Deno.test("a peer that pings and never reads: pongs count against the peer buffer, Broker's disconnect policy cuts it off", async () => {
  await withEndpoint(
    { peerBufferSize: 100, peerBufferBytes: 1 << 20 },
    async ({ ep, status, peer }) => {
      const c = await peer(LARGER_ID);
      const flood = await pingFlood(ep, c, 2000, () => ep.peers().length === 0);
      // 1 MiB of queue, plus the kernel's socket buffers, long before 2000 pings (125 MiB).
      assert.ok(flood.maxBytes <= (1 << 20) + PONG_PAYLOAD.length + 64, `queued ${flood.maxBytes}`);
      await nextStatus(status, isStatus(StatusCode.peer_removed), 5000);
      await waitFor(() => ep.peers().length === 0, "the flooding peer to be dropped", 5000);
    },
  );
});

Deno.test("a peer that pings and never reads, under drop_newest: the queue stays bounded and the peering lives", async () => {
  await withEndpoint(
    { peerBufferSize: 100, peerBufferBytes: 1 << 20, overflowPolicy: "drop_newest" },
    async ({ ep, peer }) => {
      const c = await peer(LARGER_ID);
      const flood = await pingFlood(ep, c, 600, () => false);
      assert.equal(flood.sent, 600, "all 600 pings (37 MiB) went in");
      assert.ok(flood.maxBytes <= 1 << 20, `queued ${flood.maxBytes} bytes`);
      assert.ok(flood.maxMessages <= 100 + 64, `queued ${flood.maxMessages} messages`);
      // Once the peer reads again, the peering still answers.
      await pingPong(c, LARGER_ID, ENDPOINT_ID, "still there", 10_000);
      assert.equal(ep.peers().length, 1);
    },
  );
});

Deno.test("a 60 MiB frame before the handshake closes the connection at its length prefix", async () => {
  await withEndpoint({}, async ({ ep, dial }) => {
    const c = await dial();
    // A 60 MiB length prefix (allowed after the handshake, not before it), then a few bytes.
    await c.send(new Uint8Array([0x03, 0xc0, 0x00, 0x00, 6, 0x5a, 0x45, 0x45, 0x4b]));
    const frames = await c.framesUntilClose(2000);
    assert.ok(frames.length <= 1, "at most the probe");
    await failedHandshake(ep, ErrorCode.invalid_message);
    await waitFor(() => ep.peers().length === 0, "the connection to be forgotten");
  });
});

Deno.test("maxHandshakeFrameSize: a handshake within it peers, one above it is refused", async () => {
  // An originator_syn with ~2,000 topics (~60 KiB) fits the 64 KiB limit set here.
  const topics = Array.from({ length: 2000 }, (_, i) => `/topic/number/${i}/and/more`);
  const big = new Endpoint({ handshakeTimeoutMs: 2000 });
  for (const t of topics) big.subscribe(t);
  const small = new Endpoint({ maxHandshakeFrameSize: 64 * 1024, handshakeTimeoutMs: 2000 });
  const tiny = new Endpoint({ maxHandshakeFrameSize: 16 * 1024, handshakeTimeoutMs: 2000 });
  try {
    await big.peer("127.0.0.1", await small.listen(), { retryMs: 0 });
    await small.awaitPeerSubscription("/topic/number/1999/and/more", 2000);
    // The dialling side is told (drop_conn, then peer_unavailable); the refusing side counts it.
    const status = big.statusSubscriber({ statuses: false });
    await assert.rejects(big.peer("127.0.0.1", await tiny.listen(), { retryMs: 0 }));
    await failedHandshake(tiny, ErrorCode.invalid_message);
    const { event: e } = await nextStatus(status, isError(ErrorCode.peer_unavailable));
    assert.equal(e.message, "unable to connect to remote peer");
  } finally {
    await Promise.all([big, small, tiny].map((e) => e.shutdown()));
  }
});

Deno.test("maxPendingHandshakes: unknown clients beyond the cap are closed at once and reported", async () => {
  await withEndpoint(
    { maxPendingHandshakes: 5, handshakeTimeoutMs: 800 },
    async ({ ep, port, status, dial }) => {
      const silent = await Promise.all(Array.from({ length: 5 }, () => dial()));
      await waitFor(() => ep.peers().length === 5, "five pending handshakes");
      const refused = await dial();
      assert.deepEqual(await refused.framesUntilClose(1000), [], "closed without a word");
      await failedHandshake(ep, ErrorCode.peer_unavailable);
      assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
      // A known peer still gets in once the silent ones time out and free their slots.
      for (const c of silent) await c.framesUntilClose(2000);
      const normal = new Endpoint();
      try {
        await normal.peer("127.0.0.1", port, { retryMs: 0 });
        await waitFor(() => ep.peers().some((p) => p.id === normal.id), "the endpoint to peer");
      } finally {
        await normal.shutdown();
      }
    },
  );
});

const TLS_MODES = [
  ["with certificates", {
    certificate: `${TLS_DIR}node.pem`,
    key: `${TLS_DIR}node.key`,
    cafile: `${TLS_DIR}ca.pem`,
  }],
  ["anonymous", undefined],
] as const;

for (const [mode, ssl] of TLS_MODES) {
  Deno.test(`the TLS listener (${mode}) closes connections that never start the TLS handshake`, async () => {
    const ep = new Endpoint({ disableSsl: false, handshakeTimeoutMs: 500, ssl });
    const status = ep.statusSubscriber({ statuses: false });
    const port = await ep.listen("127.0.0.1", 0);
    const idle = await Promise.all(
      Array.from({ length: 20 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    try {
      const started = Date.now();
      const reads = await Promise.all(idle.map((c) =>
        Promise.race([
          c.read(new Uint8Array(16)).then((n) => n, () => null),
          new Promise<"open">((r) => setTimeout(() => r("open"), 3000)),
        ])
      ));
      assert.deepEqual(reads, Array(20).fill(null), "every idle socket was closed by the endpoint");
      assert.ok(Date.now() - started < 2500);
      assert.equal(handshakeFailureCounts(ep).get("peer_timeout"), 20);
      assert.deepEqual(status.poll().filter((e) => e.kind === "error"), []);
      // And a real TLS peer still gets in.
      const client = new Endpoint({ disableSsl: false, ssl });
      try {
        await client.peer("127.0.0.1", port, { retryMs: 0 });
      } finally {
        await client.shutdown();
      }
    } finally {
      for (const c of idle) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await ep.shutdown();
    }
  });
}

/** A vector of `n` empty vectors, encoded by hand: 2 bytes each, tens of bytes once built. */
function emptyVectors(n: number): Uint8Array {
  const head: number[] = [0x0e];
  for (let v = n;; v >>>= 7) {
    if (v < 0x80) {
      head.push(v);
      break;
    }
    head.push((v & 0x7f) | 0x80);
  }
  const out = new Uint8Array(head.length + 2 * n);
  out.set(head);
  for (let i = head.length; i < out.length; i += 2) out[i] = 0x0e;
  return out;
}

Deno.test("decode budget: a value of more than maxValues values is refused before anything is built", () => {
  const bytes = emptyVectors(1_100_000); // 2.2 MB, 1,100,001 values
  assert.throws(
    () => decode(bytes),
    (e) =>
      e instanceof BrokerError && e.code === ErrorCode.deserialization_failed &&
      /decode budget/.test(e.message),
  );
  assert.throws(() => validate(bytes), BrokerError);
  assert.equal((decode(bytes, { maxValues: 2_000_000 }).value as unknown[]).length, 1_100_000);
  assert.equal((decode(emptyVectors(1000)).value as unknown[]).length, 1000);
});

Deno.test("decode budget on the wire: the over-budget data message is dropped with a status, the peering lives", async () => {
  await withEndpoint({}, async ({ ep, status, peer }) => {
    const sub = ep.subscribe("/t");
    const c = await peer(LARGER_ID);
    const send = (payload: Uint8Array) =>
      c.sendEnvelope({
        sender: parseEndpointId(LARGER_ID),
        receiver: NIL_ENDPOINT_ID,
        type: EnvelopeType.data,
        topic: "/t/x",
        payload,
      });
    await send(emptyVectors(1_100_000));
    await send(encode(count(7n)));
    const { event } = await nextStatus(status, isError(ErrorCode.deserialization_failed), 5000);
    assert.match(event.message, /decode budget/);
    const m = await sub.get(5000);
    assert.deepEqual(m?.data, count(7n), "the next message still arrives");
    assert.equal(sub.available(), 0, "the big one was never delivered");
  });
});

Deno.test("a subscriber's queue is bounded in bytes as well as messages", async () => {
  const a = new Endpoint(), b = new Endpoint();
  try {
    const port = await a.listen();
    const dropping = a.subscribe("/big", {
      maxQueuedBytes: 1 << 20,
      overflowPolicy: "drop_newest",
    });
    const blocking = a.subscribe("/big", { maxQueuedBytes: 1 << 20 });
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/big/x");
    const chunk = str("x".repeat(200 * 1024));
    for (let i = 0; i < 20; i++) b.publish("/big/x", chunk); // 4 MB
    await waitFor(() => dropping.dropped > 0, "the dropping subscriber to drop", 5000);
    // 5 messages of 200 KiB fit 1 MiB; the sixth must wait (block) or go (drop_newest).
    assert.equal(dropping.available(), 5);
    assert.ok(dropping.queuedBytes <= 1 << 20);
    await waitFor(() => blocking.available() === 5, "the blocking subscriber to fill", 5000);
    assert.ok(blocking.queuedBytes <= 1 << 20);
    // Reading the blocking one lets the rest in: nothing lost under `block`.
    let got = 0;
    while (got < 20 && await blocking.get(5000)) got++;
    assert.equal(got, 20);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("queued payloads live in their subscriber's own slabs, so a slow subscriber pins only its own bytes", async () => {
  const a = new Endpoint(), b = new Endpoint();
  try {
    const port = await a.listen();
    const slow = a.subscribe("/slow"), busy = a.subscribe("/busy");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/slow/x");
    b.publish("/slow/x", count(1n));
    for (let i = 0; i < 200; i++) b.publish("/busy/x", str("y".repeat(10_000))); // 2 MB of other traffic
    b.publish("/slow/x", count(2n));
    await waitFor(() => slow.available() === 2 && busy.available() === 200, "deliveries", 5000);
    const [first, second] = slow.pollEncoded();
    assert.equal(
      first.payload.buffer,
      second.payload.buffer,
      "the slow one's messages share a slab",
    );
    assert.ok(first.payload.buffer.byteLength <= 256 * 1024, "a small slab of its own");
    const busyBuffers = new Set(busy.pollEncoded().map((m) => m.payload.buffer));
    assert.ok(!busyBuffers.has(first.payload.buffer), "no other subscriber's traffic in it");
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("decode: a container claiming more elements than the input holds is refused without allocating for them", () => {
  // Five bytes that claim 2^25-1 vector elements, 2^24-1 table entries, 2^22-1 set elements.
  // Allocating the claimed arrays first took up to 256 MiB of heap (and most of a second).
  const claims = [
    [14, 0xff, 0xff, 0xff, 0x0f],
    [13, 0xff, 0xff, 0xff, 0x07],
    [12, 0xff, 0xff, 0xff, 0x01],
  ];
  for (const bytes of claims) {
    const heap0 = Deno.memoryUsage().heapUsed;
    assert.throws(() => decode(new Uint8Array(bytes)), BrokerError);
    // Read before anything else allocates: the garbage of a claimed array would still be there.
    const grown = Deno.memoryUsage().heapUsed - heap0;
    assert.ok(grown < 8 * 1024 * 1024, `${bytes}: the heap grew by ${grown >> 20} MiB`);
  }
});
