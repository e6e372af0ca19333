/**
 * The WebSocket server's frame slabs are filled again once every socket
 * wrote what it got of them (`holdFrames` / `releaseFrames`), and never
 * while a socket still holds a view: frames queued unwritten keep their bytes.
 */
import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import {
  connectWebSocket,
  count,
  type Data,
  Endpoint,
  str,
  vector,
  type WebSocketClientStats,
  type WebSocketServer,
} from "../mod.ts";
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
  return vector(count(BigInt(seq)), str(textOf(seq)));
}

/** The text of message `seq`. */
const textOf = (seq: number) => `${seq}:`.padEnd(900, String.fromCharCode(97 + seq % 26));

/** 0, 1, ... n - 1: the numbers of `n` messages in order. */
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

/** The numbers of WebSocket texts of numbered messages, each checked against its text. */
function numbersOf(texts: string[]): number[] {
  return texts.map((t) => {
    const v = JSON.parse(t).data;
    const seq = v[0].data;
    equal(v[1].data, textOf(seq));
    return seq;
  });
}

/**
 * Publishes messages `from` to `to - 1` on "/n" within the peer's buffer
 * (Broker's policy drops a peer that overflows it), with timers between.
 */
async function publishNumbered(a: Endpoint, from: number, to: number): Promise<void> {
  for (let seq = from; seq < to;) {
    if (a.demand("/n") <= 0) {
      await a.ready("/n");
      continue;
    }
    a.publish("/n", numbered(seq++));
    if (seq % 500 === 0) await tick();
  }
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

/**
 * A publisher `a` peered with an endpoint whose WebSocket server keeps room
 * for every message and lets each socket hold `socketBufferBytes` unsent;
 * the clients `connect` makes subscribe to "/n" before the peering, `run`
 * gets them, and everything is closed after it.
 */
async function withServer<C extends readonly { close(): void }[]>(
  socketBufferBytes: number,
  connect: (port: number) => Promise<C>,
  run: (a: Endpoint, server: WebSocketServer, clients: C) => Promise<void>,
): Promise<void> {
  const a = new Endpoint(), b = new Endpoint();
  const server = await b.listenWebSocket("127.0.0.1", 0, {
    bufferSize: 20_000,
    bufferBytes: 256 << 20,
    socketBufferBytes,
  });
  const clients = await connect(server.port);
  try {
    await a.peer("127.0.0.1", await b.listen("127.0.0.1", 0));
    await a.awaitPeerSubscription("/n");
    await run(a, server, clients);
  } finally {
    for (const c of clients) c.close();
    await server.close();
    await a.shutdown();
    await b.shutdown();
  }
}

/**
 * A stalled client and a reading one get `total` numbered messages each,
 * intact and in order, through a server whose sockets take `socketBufferBytes`
 * unsent before frames wait in the queue.
 */
async function slowAndFastClients(socketBufferBytes: number, total: number): Promise<void> {
  const connect = async (port: number) =>
    [
      await stalledClient(port, ["/n"]),
      // Room for every message: the client drops its oldest when its reader falls behind.
      await connectWebSocket(`ws://127.0.0.1:${port}/v1/messages/json`, ["/n"], {
        queueSize: 30_000,
      }),
    ] as const;
  await withServer(socketBufferBytes, connect, async (a, _server, [stalled, reader]) => {
    const read: number[] = [];
    const reading = (async () => {
      for await (const m of reader) {
        const [seq, text] = (m.data.value as readonly Data[]).map((d) => d.value);
        equal(text, textOf(Number(seq)));
        read.push(Number(seq));
        if (read.length === total) return;
      }
    })();
    await publishNumbered(a, 0, total);
    await within(30_000, reading, () => `the reader got ${read.length} of ${total}`);
    deepEqual(read, upTo(total));
    deepEqual(numbersOf((await stalled.drain(20_000, 1 + total)).texts.slice(1)), upTo(total));
  });
}

Deno.test("frames a slow client has not read keep their bytes while the slabs turn over", async () => {
  // Runs of frames over the writer's coalescing limit go to the socket as
  // views; ~20 MB of JSON is more than loopback buffers hold, so the stalled
  // socket keeps views unwritten while slabs refill.
  await slowAndFastClients(8 << 20, 20_000);
});

Deno.test("queued frames' copies keep their bytes while the copies' slabs are filled again", async () => {
  // Two stalled clients: beyond what the kernel's buffers take, each frame
  // waits in both queues as one copy. One client then reads everything (its
  // copies released as written) and more messages come, whose copies go
  // into the slabs that come back: the other client's copies, still held,
  // must not be among them.
  // One after the other: clientStats() lists sessions in the order they
  // upgraded, and the checks below tell the clients apart by that order.
  const connect = async (port: number) =>
    [await stalledClient(port, ["/n"]), await stalledClient(port, ["/n"])] as const;
  await withServer(16 << 10, connect, async (a, server, [first, second]) => {
    /** Waits until `pred` holds for the clients' stats (first, second), or fails after 20 s. */
    const until = async (pred: (s: WebSocketClientStats[]) => boolean, what: string) => {
      for (const t0 = Date.now(); !pred(server.clientStats()); await tick()) {
        if (Date.now() - t0 > 20_000) {
          throw new Error(`${what}: ${JSON.stringify(server.clientStats())}`);
        }
      }
    };
    const handled = (st: WebSocketClientStats) => st.sent + st.queued;
    await publishNumbered(a, 0, 8_000);
    await until((st) => st.length === 2 && st.every((x) => handled(x) === 8_000), "delivered");
    ok(server.clientStats().every((x) => x.queued > 1_000), "frames wait as copies in both queues");
    deepEqual(numbersOf((await first.drain(20_000, 1 + 8_000)).texts.slice(1)), upTo(8_000));
    // The first client's copies are written (and released); the second's still wait.
    await until(([x]) => x.queued === 0 && x.socketBytes === 0, "the first client's queue written");
    await tick();
    await publishNumbered(a, 8_000, 12_000);
    await until(([, y]) => handled(y) === 12_000, "delivered to the second client");
    deepEqual(numbersOf((await second.drain(20_000, 1 + 12_000)).texts.slice(1)), upTo(12_000));
  });
});
