/**
 * A clone asks for its snapshot (nack [0]) every `nackTimeoutTicks` until it
 * is in, and Broker's master answers each ask with the whole table: while an
 * 80 MB `ack_clone` was arriving (2–5 s), each ask made the C++ master
 * serialise and queue another copy. Ours does not ask again while the
 * bytes of a frame from a peer that announced the master's topic keep
 * arriving. Here a raw peer plays the master over real TCP and sends the
 * snapshot slowly, in pieces, reading the clone's asks meanwhile.
 */
import assert from "node:assert/strict";
import { count, str } from "../data/mod.ts";
import { EnvelopeType } from "../wire/mod.ts";
import { ackCloneFrame, cloneOf } from "../../tests/raw_store_peer.ts";
import { LARGER_ID, type RawConn, waitFor, withEndpoint } from "../../tests/raw_peer.ts";
import { decodeCommand } from "./commands.ts";
import { StoreClone } from "./clone.ts";
import { storeTopics } from "./store_common.ts";

const TOPICS = storeTopics("kv");
const PIECE = 256 * 1024;
/** Between pieces: far less than the 200 ms (2 ticks) after which a clone asks again. */
const PAUSE_MS = 20;

/** Counts the clone's asks (nack [0]) `c` reads until `done()`. */
async function countAsks(c: RawConn, done: () => boolean): Promise<number> {
  let asks = 0;
  while (!done()) {
    let e;
    try {
      e = await c.envelope((e) => e.type === EnvelopeType.command, 50);
    } catch {
      continue; // nothing within 50 ms: look at done() again
    }
    const cmd = decodeCommand(e.payload).content;
    if (cmd.type === "nack" && cmd.seqs.length === 1 && cmd.seqs[0] === 0n) asks++;
  }
  return asks;
}

Deno.test("clone: no second ask for the snapshot while its bytes keep arriving", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const c = await peer(LARGER_ID, [TOPICS.master]);
    const clone = new StoreClone(ep, "kv");
    try {
      const me = await cloneOf(c);
      const mb = "x".repeat(1_000_000);
      const state = Array.from({ length: 20 }, (_, i) => [count(BigInt(i)), str(mb)] as const);
      const frame = ackCloneFrame(TOPICS.clone, me, 1n, state);
      let sent = false;
      const asks = countAsks(c, () => sent);
      // 20 MB in 80 pieces: over 1.6 s, while a clone asks every 200 ms.
      for (let at = 0; at < frame.length; at += PIECE) {
        await c.send(frame.subarray(at, at + PIECE));
        if (at + PIECE < frame.length) await new Promise((r) => setTimeout(r, PAUSE_MS));
      }
      sent = true;
      assert.equal(await asks, 0, "asks while the snapshot was arriving");
      await waitFor(() => clone.hasMaster, "the clone to take the snapshot", 10_000);
      assert.equal(clone.metrics().entries, 20);
    } finally {
      clone.close();
    }
  });
});
