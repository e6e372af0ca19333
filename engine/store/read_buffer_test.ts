/**
 * Store commands reach the master and the clone as views of the
 * transport's reused read buffer (the command port copies nothing). These
 * tests make a store hold writes that arrive early, over real TCP from a
 * raw peer, then send the same frames again with other values, so that the
 * next read overwrites the very bytes the held writes came in; once the
 * missing write arrives, the store must hold the first values.
 */
import assert from "node:assert/strict";
import { count, type Data, dataToString, str } from "../data/mod.ts";
import { ackCloneFrame, cloneOf, RAW, RAW_MASTER, storeFrame } from "../../tests/raw_store_peer.ts";
import { LARGER_ID, type RawConn, waitFor, withEndpoint } from "../../tests/raw_peer.ts";
import type { Command } from "./commands.ts";
import { type Entity, NIL_ENTITY } from "./entity.ts";
import { StoreClone } from "./clone.ts";
import { StoreMaster } from "./master.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { storeTopics } from "./store_common.ts";

const TOPICS = storeTopics("kv");
/** Writes held early per round: enough to span many frames of one read. */
const EARLY = 300;

const key = (i: number) => count(BigInt(i));
/** Values of one length in both rounds: the frames of the rounds line up byte for byte. */
const value = (round: string, i: number) => str(`${round}-${String(i).padStart(6, "0")}`);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) out.set(p, at), at += p.length;
  return out;
}

const put = (i: number, round: string, publisher: Entity): Command => ({
  type: "put",
  key: key(i),
  value: value(round, i),
  expiry: null,
  publisher,
});

/**
 * Sends the rounds: `lead` then writes 3..EARLY+2 with the first values;
 * once they are held, `lead` and the same writes with other values (dropped
 * as duplicates) and one more early write; then write 2.
 */
async function sendRounds(
  c: RawConn,
  lead: Uint8Array,
  write: (seq: number, round: string) => Uint8Array,
  held: () => number,
): Promise<void> {
  const round = (name: string) => {
    const parts = [lead];
    for (let s = 3; s < EARLY + 3; s++) parts.push(write(s, name));
    return parts;
  };
  await c.send(concat(round("first")));
  await waitFor(() => held() === EARLY, "the early writes to be held", 10_000);
  // One write, one read (64 KiB of frames on loopback): the held writes' bytes are overwritten.
  await c.send(concat([...round("other"), write(EARLY + 3, "first")]));
  await waitFor(() => held() === EARLY + 1, "the last early write to be held", 10_000);
  await c.send(write(2, "first"));
}

async function expectFirstValues(get: (k: Data) => Promise<Data>): Promise<void> {
  for (let s = 2; s < EARLY + 4; s++) {
    assert.equal(dataToString(await get(key(s))), dataToString(value("first", s)), `key ${s}`);
  }
}

Deno.test("master: writes held for their turn keep their bytes after the read buffer is reused", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const master = new StoreMaster(ep, "kv", new MemoryBackend());
    try {
      const c = await peer(LARGER_ID, [TOPICS.clone]);
      const writer: Entity = { endpoint: RAW, object: 7n };
      const attach = storeFrame(TOPICS.master, 0n, writer, master.id, {
        type: "attach_writer",
        offset: 1n,
        heartbeatInterval: 5,
      });
      await sendRounds(
        c,
        attach,
        (seq, round) =>
          storeFrame(TOPICS.master, BigInt(seq), writer, master.id, put(seq, round, writer)),
        () => master.metrics().outOfOrderUpdates,
      );
      await waitFor(() => master.backend.size() === EARLY + 2, "every write applied", 10_000);
      await expectFirstValues((k) => master.get(k));
    } finally {
      master.close();
    }
  });
});

Deno.test("clone: puts held for their turn keep their bytes after the read buffer is reused", async () => {
  await withEndpoint({}, async ({ ep, peer }) => {
    const c = await peer(LARGER_ID, [TOPICS.master]);
    const clone = new StoreClone(ep, "kv");
    try {
      // The clone asks for the state with nack [0]; the raw master answers with an empty table.
      const ack = ackCloneFrame(TOPICS.clone, await cloneOf(c), 1n, []);
      await c.send(ack);
      await waitFor(() => clone.hasMaster, "the clone to take the raw master", 5_000);
      // The broadcasts that follow: a repeated ack_clone (ignored) leads each round.
      await sendRounds(
        c,
        ack,
        (seq, round) =>
          storeFrame(
            TOPICS.clone,
            BigInt(seq),
            RAW_MASTER,
            NIL_ENTITY,
            put(seq, round, RAW_MASTER),
          ),
        () => clone.metrics().outOfOrderUpdates,
      );
      await waitFor(() => clone.metrics().entries === EARLY + 2, "every put applied", 10_000);
      await expectFirstValues((k) => clone.get(k));
    } finally {
      clone.close();
    }
  });
});
