/**
 * The WebSocket server's frame slabs are filled again once every socket
 * wrote what it got of them (`holdFrames` / `releaseFrames`), and never
 * while a socket still holds a view: frames queued unwritten keep their bytes.
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import { connectWebSocket, count, type Data, Endpoint, str, vector } from "../mod.ts";
import { encode } from "../engine/data/mod.ts";
import { dataMessageFrame, holdFrames, releaseFrames } from "../engine/websocket/json_direct.ts";
import { stalledClient } from "./ws_stalled_client.ts";

const tick = () => new Promise((r) => setTimeout(r, 1));

/** `p`, or a clear failure after `ms` instead of a hang. */
async function within<T>(ms: number, p: Promise<T>, what: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what()}`)), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A message of about 1 KB of JSON whose text says its number. */
function numbered(seq: number) {
  return vector(count(BigInt(seq)), str(`${seq}:`.padEnd(900, String.fromCharCode(97 + seq % 26))));
}

Deno.test("a held slab is not filled again; once released, slabs come back", async () => {
  const frame = (seq: number) =>
    dataMessageFrame({ topic: "/t", payload: encode(numbered(seq)), unsorted: false });
  const f0 = frame(0);
  const bytes = f0.slice();
  equal(holdFrames(f0), "held");
  // Fill on past its slab, with timers between, so full slabs settle.
  const seen = new Set<ArrayBufferLike>();
  for (let seq = 1; seq <= 8000; seq++) {
    const f = frame(seq);
    if (seq > 1100) notEqual(f.buffer, f0.buffer); // held: never handed out again
    seen.add(f.buffer);
    if (seq % 250 === 0) await tick();
  }
  deepEqual(f0, bytes);
  // ~8 MB of frames went through a few reused slabs, not one fresh slab per MiB.
  ok(seen.size <= 4, `${seen.size} slabs`);
  releaseFrames(f0);
  await tick();
  // Its slab settled and was released: a view kept past that may be refilled.
  equal(holdFrames(f0), "stale");
  equal(holdFrames(new Uint8Array(8)), "foreign");
});

Deno.test("frames a slow client has not read keep their bytes while the slabs turn over", async () => {
  const a = new Endpoint(), b = new Endpoint();
  const server = await b.listenWebSocket("127.0.0.1", 0, {
    bufferSize: 20_000,
    bufferBytes: 256 << 20,
    // Runs of frames over the writer's coalescing limit go to the socket as views.
    socketBufferBytes: 8 << 20,
  });
  const stalled = await stalledClient(server.port, ["/n"]);
  // Room for every message: the client drops its oldest when its reader falls behind.
  const reader = await connectWebSocket(`ws://127.0.0.1:${server.port}/v1/messages/json`, ["/n"], {
    queueSize: 30_000,
  });
  try {
    await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
    await a.awaitPeerSubscription("/n");
    const total = 20_000; // ~20 MB of JSON: more than loopback buffers hold, so the stalled socket keeps views unwritten while slabs refill
    const read: number[] = [];
    const reading = (async () => {
      for await (const m of reader) {
        const [seq, text] = (m.data.value as readonly Data[]).map((d) => d.value);
        equal(text, `${seq}:`.padEnd(900, String.fromCharCode(97 + Number(seq) % 26)));
        read.push(Number(seq));
        if (read.length === total) return;
      }
    })();
    // Within the peer's buffer (Broker's policy drops a peer that overflows it).
    for (let seq = 0; seq < total;) {
      if (a.demand("/n") <= 0) {
        await a.ready("/n");
        continue;
      }
      a.publish("/n", numbered(seq++));
      if (seq % 500 === 0) await tick();
    }
    await within(30_000, reading, () => `the reader got ${read.length} of ${total}`);
    deepEqual(read, Array.from({ length: total }, (_, i) => i));
    const got = await stalled.drain(20_000, 1 + total);
    const seqs = got.texts.slice(1).map((t) => {
      const v = JSON.parse(t).data;
      const seq = v[0].data;
      equal(v[1].data, `${seq}:`.padEnd(900, String.fromCharCode(97 + seq % 26)));
      return seq;
    });
    deepEqual(seqs, Array.from({ length: total }, (_, i) => i));
  } finally {
    reader.close();
    stalled.close();
    await server.close();
    await a.shutdown();
    await b.shutdown();
  }
});
