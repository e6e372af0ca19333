// Issue 11: a WebSocket client that never reads must not grow the server.
// A raw client subscribes and stops reading its TCP socket while the endpoint
// publishes 8 KiB messages; the server's own accounting (`clientStats`) must
// stay within the configured bounds, and the overflow policy must apply:
// `disconnect` ends the session with Broker's close (1011), `drop_newest` and
// `drop_oldest` keep it with the bound held. A child process measures RSS.
import assert from "node:assert/strict";
import { count, Endpoint, str, vector } from "../mod.ts";
import type { WebSocketServer, WebSocketServerOptions } from "../engine/websocket/server.ts";
import { type StalledClient, stalledClient } from "./ws_stalled_client.ts";

const PAD = "x".repeat(8 * 1024);
// Binary size of one flood message (vector of count and 8 KiB string) plus
// its topic, as the queue counts it, with room to spare for the header bytes.
const MESSAGE_BYTES = 8 * 1024 + 64;
// Largest JSON text of one flood message: the last send may cross the socket bound.
const JSON_BYTES = 8 * 1024 + 256;

interface Harness {
  ep: Endpoint;
  server: WebSocketServer;
  client: StalledClient;
}

async function withStalledClient(
  options: WebSocketServerOptions,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0, options);
  const client = await stalledClient(server.port, ["/flood"]);
  try {
    await waitFor(() => server.clientStats().length === 1, "the session");
    await fn({ ep, server, client });
  } finally {
    client.close();
    await ep.shutdown();
  }
}

async function waitFor(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Publishes `total` messages in batches (yielding between them, so the
 * server's pump and the socket's writes run) and checks the server's
 * accounting after every batch. Stops early when `until` holds.
 */
async function flood(
  h: Harness,
  options: Required<Pick<WebSocketServerOptions, "bufferSize" | "bufferBytes">> & {
    socketBufferBytes: number;
  },
  total: number,
  until: () => boolean = () => false,
): Promise<number> {
  let seq = 0;
  while (seq < total && !until()) {
    for (let i = 0; i < 50 && seq < total; i++) {
      h.ep.publish("/flood", vector(count(BigInt(seq++)), str(PAD)), { local: true });
    }
    await new Promise((r) => setTimeout(r, 0));
    for (const s of h.server.clientStats()) {
      assert.ok(s.queued <= options.bufferSize, `${s.queued} messages queued`);
      assert.ok(
        s.queuedBytes <= Math.max(options.bufferBytes, MESSAGE_BYTES),
        `${s.queuedBytes} bytes queued`,
      );
      assert.ok(
        s.socketBytes < options.socketBufferBytes + JSON_BYTES,
        `${s.socketBytes} bytes unsent in the socket`,
      );
    }
  }
  return seq;
}

const sequence = (text: string): number => {
  const m = JSON.parse(text);
  assert.equal(m.type, "data-message");
  return m.data[0].data;
};

Deno.test("a client that never reads is disconnected once its queue is full", async () => {
  const bounds = { bufferSize: 64, bufferBytes: 1 << 20, socketBufferBytes: 64 * 1024 };
  await withStalledClient(bounds, async (h) => {
    const published = await flood(h, bounds, 50_000, () => h.server.clientStats().length === 0);
    assert.equal(h.server.clientStats().length, 0, "still connected after the flood");
    assert.ok(published < 50_000, "disconnected before the end");
    // What the server managed to send before the close: the ack, some data
    // (what the kernel buffers took), then Broker's close frame.
    const got = await h.client.drain(5000);
    assert.equal(JSON.parse(got.texts[0]).type, "ack");
    assert.ok(got.texts.length - 1 < published, "not everything was delivered");
    assert.equal(got.close?.code, 1011);
    assert.match(got.close!.reason, /^backpressure_overflow/);
  });
});

Deno.test("the default bounds: 512 messages, then disconnect", async () => {
  const bounds = { bufferSize: 512, bufferBytes: 16 << 20, socketBufferBytes: 1 << 20 };
  await withStalledClient({}, async (h) => {
    await flood(h, bounds, 50_000, () => h.server.clientStats().length === 0);
    assert.equal(h.server.clientStats().length, 0);
  });
});

Deno.test("drop_newest keeps a client that never reads, with the bound held", async () => {
  const bounds = { bufferSize: 64, bufferBytes: 1 << 20, socketBufferBytes: 64 * 1024 };
  await withStalledClient({ ...bounds, overflowPolicy: "drop_newest" }, async (h) => {
    const published = await flood(h, bounds, 4000);
    const [s] = h.server.clientStats();
    assert.ok(s, "the client stays connected");
    assert.equal(s.queued, bounds.bufferSize, "the queue sits at its bound");
    assert.ok(s.dropped > 0);
    // Once the client reads, everything not dropped arrives, oldest first.
    const expected = published - s.dropped;
    const got = await h.client.drain(5000, expected + 1);
    assert.equal(got.close, undefined);
    const seqs = got.texts.slice(1).map(sequence);
    assert.equal(seqs.length, expected);
    assert.deepEqual(seqs.slice(0, 10), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert.ok(seqs.every((v, i) => i === 0 || v > seqs[i - 1]), "in order");
    assert.ok(seqs.at(-1)! < published - 1, "the newest were dropped");
    assert.equal(h.server.clientStats().length, 1);
  });
});

Deno.test("drop_oldest keeps the newest messages for a client that never reads", async () => {
  const bounds = { bufferSize: 64, bufferBytes: 1 << 20, socketBufferBytes: 64 * 1024 };
  await withStalledClient({ ...bounds, overflowPolicy: "drop_oldest" }, async (h) => {
    const published = await flood(h, bounds, 4000);
    const [s] = h.server.clientStats();
    assert.ok(s, "the client stays connected");
    assert.ok(s.dropped > 0);
    const expected = published - s.dropped;
    const got = await h.client.drain(5000, expected + 1);
    const seqs = got.texts.slice(1).map(sequence);
    assert.equal(seqs.length, expected);
    assert.equal(seqs.at(-1), published - 1, "the newest message arrives");
    assert.ok(seqs.every((v, i) => i === 0 || v > seqs[i - 1]), "in order");
  });
});

Deno.test("the byte bound holds before the message bound is reached", async () => {
  const bounds = { bufferSize: 100_000, bufferBytes: 256 * 1024, socketBufferBytes: 64 * 1024 };
  await withStalledClient({ ...bounds, overflowPolicy: "drop_newest" }, async (h) => {
    await flood(h, bounds, 3000);
    const [s] = h.server.clientStats();
    assert.ok(s.queued > 0 && s.queued <= Math.floor(bounds.bufferBytes / (8 * 1024)));
    assert.ok(s.queuedBytes <= bounds.bufferBytes);
  });
});

Deno.test("error replies to a client that never reads stay within the socket's bound", async () => {
  const bounds = { bufferSize: 64, bufferBytes: 1 << 20, socketBufferBytes: 64 * 1024 };
  await withStalledClient({ ...bounds, overflowPolicy: "drop_newest" }, async (h) => {
    // Fill the kernel's buffers and the socket's bound with data first.
    await flood(h, bounds, 8000);
    assert.ok(h.server.clientStats()[0].socketBytes >= bounds.socketBufferBytes);
    // Each bad input gets an error reply of ~130 bytes, sent outside the
    // queue: 2000 of them would put 260 KB more into the full socket.
    await h.client.send("{not json", 2000);
    await new Promise((r) => setTimeout(r, 300));
    const [s] = h.server.clientStats();
    assert.ok(s.socketBytes < bounds.socketBufferBytes + JSON_BYTES, `${s.socketBytes} unsent`);
  });
});

Deno.test("a client that reads gets every message, in order, through the bounded queue", async () => {
  const bounds = { bufferSize: 512, bufferBytes: 16 << 20, socketBufferBytes: 64 * 1024 };
  await withStalledClient(bounds, async (h) => {
    const total = 5000;
    const reading = h.client.drain(10_000, 1 + total);
    // A publisher that lets the client catch up: the socket's bound makes the
    // queue hold back what the client has not taken yet, and nothing is lost.
    for (let seq = 0; seq < total;) {
      for (let i = 0; i < 50; i++) {
        h.ep.publish("/flood", vector(count(BigInt(seq++)), str(PAD)), { local: true });
      }
      await waitFor(() => (h.server.clientStats()[0]?.queued ?? 0) < 256, "the client to read");
      const [s] = h.server.clientStats();
      assert.ok(s.socketBytes < bounds.socketBufferBytes + JSON_BYTES);
    }
    const got = await reading;
    const seqs = got.texts.slice(1).map(sequence);
    assert.deepEqual(seqs, Array.from({ length: total }, (_, i) => i));
    assert.equal(h.server.clientStats()[0].dropped, 0);
  });
});

Deno.test("a 3 s flood to a client that never reads leaves RSS flat (child process)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./websocket_flood_memory.ts", import.meta.url).pathname,
      "3",
      JSON.stringify({ overflowPolicy: "drop_newest" }),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  const r = JSON.parse(new TextDecoder().decode(out.stdout));
  // An unbounded server holds every 8 KiB message: ~1 GB in 3 s on this
  // machine. Bounded, the queue is 4 MiB and the socket 1 MiB; the rest of
  // the growth is garbage the collector has not returned yet.
  const growth = r.rssMax - r.rssBefore;
  assert.ok(growth < 250 << 20, `RSS grew ${growth} bytes over ${r.published} messages`);
  assert.ok(r.published > 20_000, `only ${r.published} published`);
  assert.equal(r.clients.length, 1, "drop_newest keeps the client");
  assert.ok(r.clients[0].queued <= 512);
});
