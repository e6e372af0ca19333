/**
 * Sequence numbers are numbers in the channel, exact up to 2^53 - 1
 * (`MAX_SEQ`). Broker's are u64s: a command carrying one past that (seq,
 * offset, ack) is dropped as an undecodable command would be, on the
 * in-place path and on the decoded one, while the other writers' commands
 * on the same connection go on. A raw peer sends the commands over real TCP.
 */
import assert from "node:assert/strict";
import { count, type Data, real, str } from "../data/mod.ts";
import { ackCloneFrame, cloneOf, RAW, RAW_MASTER, storeFrame } from "../../tests/raw_store_peer.ts";
import { LARGER_ID, waitFor, withEndpoint } from "../../tests/raw_peer.ts";
import type { Command } from "./commands.ts";
import { type Entity, NIL_ENTITY } from "./entity.ts";
import { consumerMessageToWire, MAX_SEQ, seqFromWire } from "./channel.ts";
import { StoreClone } from "./clone.ts";
import { StoreMaster } from "./master.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { readSeq } from "./raw_write.ts";
import { storeTopics } from "./store_common.ts";
import { BrokerError, ErrorCode } from "../errors.ts";

const TOPICS = storeTopics("kv");
const BIG = 2n ** 53n; // MAX_SEQ + 1

const put = (key: string, value: Data, publisher: Entity): Command => ({
  type: "put",
  key: str(key),
  value,
  expiry: null,
  publisher,
});

Deno.test("seq: numbers up to MAX_SEQ pass exactly; beyond, invalid_message", () => {
  assert.equal(MAX_SEQ, 2 ** 53 - 1);
  assert.equal(seqFromWire(BIG - 1n), MAX_SEQ);
  assert.equal(seqFromWire(0n), 0);
  for (const x of [BIG, BIG + 1n, 2n ** 64n - 1n]) {
    assert.throws(
      () => seqFromWire(x),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_message,
    );
  }
  const wire = (x: bigint) => {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, x);
    return b;
  };
  assert.equal(readSeq(wire(BIG - 1n), 0), MAX_SEQ);
  assert.equal(readSeq(wire(0x1_0000_0002n), 0), 0x1_0000_0002);
  assert.equal(readSeq(wire(BIG), 0), -1);
  assert.equal(readSeq(wire(2n ** 64n - 1n), 0), -1);
  // Back to the wire: the same u64s (encodeCommand writes them as before).
  assert.deepEqual(consumerMessageToWire({ type: "cumulative_ack", seq: MAX_SEQ }), {
    type: "cumulative_ack",
    seq: BIG - 1n,
  });
  assert.deepEqual(consumerMessageToWire({ type: "nack", seqs: [3, MAX_SEQ] }), {
    type: "nack",
    seqs: [3n, BIG - 1n],
  });
});

Deno.test("master: writes whose seq or offset passes 2^53 - 1 are dropped; other writers go on", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const master = new StoreMaster(ep, "kv", new MemoryBackend());
    try {
      const c = await peer(LARGER_ID, [TOPICS.clone]);
      const far: Entity = { endpoint: RAW, object: 7n }; // its channel starts past 2^53
      const near: Entity = { endpoint: RAW, object: 8n };
      const m = master.id;
      const frames = [
        storeFrame(TOPICS.master, 0n, far, m, {
          type: "attach_writer",
          offset: BIG + 1n,
          heartbeatInterval: 5,
        }),
        // In place (count value) and decoded (a real value takes the decoder).
        storeFrame(TOPICS.master, BIG + 2n, far, m, put("a", count(1n), far)),
        storeFrame(TOPICS.master, BIG + 3n, far, m, put("b", real(1.5), far)),
        storeFrame(TOPICS.master, 0n, near, m, {
          type: "attach_writer",
          offset: 1n,
          heartbeatInterval: 5,
        }),
        storeFrame(TOPICS.master, BIG, near, m, put("c", count(1n), near)),
        storeFrame(TOPICS.master, BIG + 1n, near, m, put("d", real(2.5), near)),
        storeFrame(TOPICS.master, 2n, near, m, put("e", count(5n), near)),
      ];
      await c.send(new Uint8Array(frames.flatMap((f) => [...f])));
      // One connection, read in order: once "e" is in, everything before it was handled.
      await waitFor(() => master.backend.size() >= 1, "the sane write applied", 10_000);
      assert.equal(master.backend.size(), 1);
      assert.equal((await master.get(str("e"))).value, 5n);
      // The sane writer's channel is intact: its next write goes in too.
      await c.send(storeFrame(TOPICS.master, 3n, near, m, put("f", count(6n), near)));
      await waitFor(() => master.backend.size() === 2, "the next write applied", 10_000);
    } finally {
      master.close();
    }
  });
});

Deno.test("clone: an ack_clone or put whose seq passes 2^53 - 1 is dropped", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const c = await peer(LARGER_ID, [TOPICS.master]);
    const clone = new StoreClone(ep, "kv");
    try {
      const me = await cloneOf(c);
      const ack = (offset: bigint, key: string) =>
        ackCloneFrame(TOPICS.clone, me, offset, [[str(key), count(1n)]]);
      const frames = [
        ack(BIG, "from-far"), // refused: the clone stays without a master
        ack(1n, "from-near"),
        storeFrame(TOPICS.clone, BIG, RAW_MASTER, NIL_ENTITY, put("x", count(1n), RAW_MASTER)),
        storeFrame(TOPICS.clone, BIG + 1n, RAW_MASTER, NIL_ENTITY, put("y", real(0.5), RAW_MASTER)),
        storeFrame(TOPICS.clone, 2n, RAW_MASTER, NIL_ENTITY, put("z", count(3n), RAW_MASTER)),
      ];
      await c.send(new Uint8Array(frames.flatMap((f) => [...f])));
      await waitFor(() => clone.metrics().entries === 2, "the snapshot and z", 10_000);
      assert.equal(await clone.exists(str("from-far")), false);
      assert.equal(await clone.exists(str("from-near")), true);
      assert.equal(await clone.exists(str("x")), false);
      assert.equal(await clone.exists(str("y")), false);
      assert.equal((await clone.get(str("z"))).value, 3n);
    } finally {
      clone.close();
    }
  });
});
