// A publisher that respects demand is never cut off: demand counts the byte
// bound (`peerBufferBytes`) as well as the message bound (`peerBufferSize`).
// With a message bound far above what the bytes allow (the C++ client's
// `--peer-buffer-size=10000000` with 300-byte events is ~3 GB), a publisher
// that waited only on the message count was cut with peer_timeout
// ("peer buffer overflow") once its peer lagged.
import assert from "node:assert/strict";
import type { EndpointOptions } from "../mod.ts";
import { str } from "../engine/data/mod.ts";
import { DEMAND_BYTES } from "../engine/peering/overflow.ts";
import { EnvelopeType } from "../engine/wire/mod.ts";
import { LARGER_ID, withEndpoint } from "./raw_peer.ts";

const TEXT = "x".repeat(1000);

/**
 * Publishes `total` messages to a raw peer that reads nothing for 300 ms,
 * waiting on demand; checks that every one arrives and nothing was cut, and
 * returns the most bytes ever queued toward the peer.
 */
async function publishToLaggingPeer(options: EndpointOptions, total: number): Promise<number> {
  let maxQueued = 0;
  await withEndpoint(options, async ({ ep, status, peer }) => {
    const c = await peer(LARGER_ID, ["/t"]);
    const publishing = (async () => {
      for (let i = 0; i < total; i++) {
        if (ep.demand("/t/x") <= 0) await ep.ready("/t/x");
        ep.publish("/t/x", str(TEXT));
        for (const p of ep.peers()) maxQueued = Math.max(maxQueued, p.queuedBytes);
      }
    })();
    // The peer reads nothing for a while: the queue fills up to what demand allows.
    await new Promise((r) => setTimeout(r, 300));
    let received = 0;
    while (received < total) {
      await c.envelope((e) => e.type === EnvelopeType.data, 10_000);
      received++;
    }
    await publishing;
    assert.equal(received, total);
    const errors = status.poll().filter((e) => e.kind === "error");
    assert.deepEqual(errors.map((e) => e.code), [], "no error, no peer_timeout");
    assert.equal(ep.peers().length, 1, "still peered");
  });
  return maxQueued;
}

Deno.test("demand counts peerBufferBytes: a publisher that waits on it is never cut, and every message arrives", async () => {
  const bytes = 256 * 1024;
  const maxQueued = await publishToLaggingPeer(
    { peerBufferSize: 1_000_000, peerBufferBytes: bytes },
    16_000,
  );
  assert.ok(maxQueued <= bytes, `queued ${maxQueued} bytes, the bound is ${bytes}`);
  assert.ok(maxQueued > bytes / 2, `the queue filled (${maxQueued} bytes)`);
});

Deno.test("demand keeps a deep buffer's queue to DEMAND_BYTES: the publisher waits there, and every message arrives", async () => {
  // The C++ client's setting: 10,000,000 messages, and our default 64 MiB.
  const maxQueued = await publishToLaggingPeer(
    { peerBufferSize: 10_000_000 },
    Math.ceil((3 * DEMAND_BYTES) / TEXT.length),
  );
  assert.ok(maxQueued <= DEMAND_BYTES, `queued ${maxQueued} bytes, demand allows ${DEMAND_BYTES}`);
  assert.ok(maxQueued > DEMAND_BYTES / 2, `the queue filled (${maxQueued} bytes)`);
});
