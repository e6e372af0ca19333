// The WebSocket listener closes what it should (issue 11, found by the soak):
// connections that never upgrade, within the handshake timeout, and the
// socket of a client that never reads, once its session ended.
import assert from "node:assert/strict";
import { count, type Data, Endpoint, str, vector } from "../mod.ts";
import { untilClosed } from "./read_to_close.ts";

const enc = new TextEncoder();

/** Reads until the server closes (true) or `ms` pass (false); collects what came. */
async function readsToEnd(conn: Deno.Conn, ms: number): Promise<{ closed: boolean; text: string }> {
  const { closed, bytes } = await untilClosed(conn, ms);
  return { closed, text: new TextDecoder().decode(bytes.subarray(0, 4096)) };
}

async function withServer(
  fn: (ep: Endpoint, port: number) => Promise<void>,
  handshakeTimeoutMs = 300,
): Promise<void> {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0, {
    handshakeTimeoutMs,
    bufferSize: 64,
    socketBufferBytes: 64 * 1024,
  });
  try {
    await fn(ep, server.port);
  } finally {
    await ep.shutdown();
  }
}

Deno.test("WebSocket listener: a connection that sends nothing is closed after the handshake timeout", async () => {
  await withServer(async (_, port) => {
    const conns = await Promise.all(
      Array.from({ length: 10 }, () => Deno.connect({ hostname: "127.0.0.1", port })),
    );
    const started = Date.now();
    const results = await Promise.all(conns.map((c) => readsToEnd(c, 3000)));
    for (const c of conns) c.close();
    assert.deepEqual(results.map((r) => r.closed), Array(10).fill(true));
    assert.ok(Date.now() - started < 2000, `closed after ${Date.now() - started} ms`);
  });
});

Deno.test("WebSocket listener: an unfinished request is closed too; a wrong path gets 400 and the close", async () => {
  await withServer(async (_, port) => {
    const partial = await Deno.connect({ hostname: "127.0.0.1", port });
    await partial.write(enc.encode("GET /v1/messages/json HTTP/1.1\r\nHost: x\r\n"));
    const wrong = await Deno.connect({ hostname: "127.0.0.1", port });
    await wrong.write(enc.encode("GET /other HTTP/1.1\r\nHost: x\r\n\r\n"));
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    await plain.write(enc.encode("GET /v1/messages/json HTTP/1.1\r\nHost: x\r\n\r\n"));
    const [p, w, n] = await Promise.all([partial, wrong, plain].map((c) => readsToEnd(c, 3000)));
    for (const c of [partial, wrong, plain]) c.close();
    assert.ok(p.closed, "the unfinished request was closed");
    assert.ok(w.closed && w.text.startsWith("HTTP/1.1 400"), w.text);
    assert.match(w.text, /the WebSocket API is at \/v1\/messages\/json/);
    assert.ok(n.closed && n.text.startsWith("HTTP/1.1 400"), "no upgrade: 400 and the close");
  });
});

Deno.test("WebSocket listener: the socket of a client that never reads goes once its session ended", async () => {
  await withServer(async (ep, port) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const key = btoa("0123456789abcdef");
    await conn.write(enc.encode(
      "GET /v1/messages/json HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ));
    // The subscription, as one masked text frame (mask of zeros).
    const sub = enc.encode('["/flood"]');
    await conn.write(new Uint8Array([0x81, 0x80 | sub.length, 0, 0, 0, 0, ...sub]));
    // Flood until the session ends (the client never reads), then let the close frame go.
    const pad = "x".repeat(8 * 1024);
    for (let i = 0; i < 20_000; i++) {
      ep.publish("/flood", vector(count(BigInt(i)), str(pad)), { local: true });
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 0));
    }
    await new Promise((r) => setTimeout(r, 1500));
    // Reading now finds what the kernel held, then the end of the stream.
    const r = await readsToEnd(conn, 5000);
    conn.close();
    assert.ok(r.text.startsWith("HTTP/1.1 101"), r.text.slice(0, 40));
    assert.ok(r.closed, "the server closed the socket");
  }, 10_000);
});

/** Upgrades a raw connection and returns it (the 101 is left unread). */
async function upgraded(port: number): Promise<Deno.Conn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await conn.write(enc.encode(
    "GET /v1/messages/json HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Key: ${btoa("0123456789abcdef")}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  ));
  return conn;
}

Deno.test("WebSocket listener: an upgraded client that never subscribes is closed after the handshake timeout", async () => {
  await withServer(async (_, port) => {
    const conn = await upgraded(port);
    const started = Date.now();
    const r = await readsToEnd(conn, 3000);
    conn.close();
    assert.ok(r.closed, "closed");
    assert.ok(Date.now() - started < 2500);
    assert.match(r.text, /no subscription within 300 ms/);
  });
});

Deno.test("WebSocket listener: a frame claiming more than 64 MiB closes the connection at once", async () => {
  await withServer(async (_, port) => {
    const conn = await upgraded(port);
    // A masked text frame claiming 2^40 bytes, then 4 of them.
    await conn.write(new Uint8Array([0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9]));
    const r = await readsToEnd(conn, 250);
    conn.close();
    assert.ok(r.closed, "closed before the handshake timeout");
  }, 5000);
});

/**
 * A client frame (RFC 6455 5.2): masked with `mask`, as clients must.
 * Written apart from `encodeWebSocketFrame`, whose masking is the server's
 * unmasking (`xorMask`): the server is checked against another masker.
 */
function clientFrame(
  opcode: number,
  fin: boolean,
  payload: Uint8Array,
  mask: number[],
): Uint8Array {
  const head = payload.length < 126
    ? [(fin ? 0x80 : 0) | opcode, 0x80 | payload.length]
    : [(fin ? 0x80 : 0) | opcode, 0x80 | 126, payload.length >> 8, payload.length & 0xff];
  return new Uint8Array([...head, ...mask, ...payload.map((b, i) => b ^ mask[i & 3])]);
}

Deno.test("WebSocket listener: fragments, frames split across reads and pings read as Broker's clients send them", async () => {
  await withServer(async (ep, port) => {
    const sub = ep.subscribe("/frag");
    const conn = await upgraded(port);
    try {
      // The 101 first: frames sent during the upgrade would all be read at once.
      const head = new Uint8Array(1024);
      const n = await conn.read(head);
      assert.match(new TextDecoder().decode(head.subarray(0, n ?? 0)), /^HTTP\/1.1 101/);
      // Writes one byte to seven at a time: frames end mid-header and mid-payload.
      const dribble = async (bytes: Uint8Array) => {
        for (let at = 0, step = 1; at < bytes.length; at += step, step = step % 7 + 1) {
          await conn.write(bytes.subarray(at, at + step));
        }
      };
      const m1 = [0x3c, 0xa5, 0x01, 0xfe],
        m2 = [0x00, 0xff, 0x7f, 0x80],
        m3 = [0x12, 0x34, 0x56, 0x78];
      // The subscription in three fragments: text, then two continuations.
      await dribble(clientFrame(0x1, false, enc.encode('["/f'), m1));
      // Pings between fragments, over 4 KiB of them: the read buffer is
      // compacted meanwhile, so a fragment kept as a view would be overwritten.
      const ping = clientFrame(0x9, true, enc.encode("p".repeat(120)), m3);
      for (let i = 0; i < 40; i++) {
        await conn.write(ping);
        await new Promise((r) => setTimeout(r, 1)); // one read each
      }
      await dribble(clientFrame(0x0, false, enc.encode("ra"), m2));
      await dribble(clientFrame(0x0, true, enc.encode('g"]'), m3));
      // A ping between messages: the pong carries its payload.
      await conn.write(clientFrame(0x9, true, enc.encode("ping-7!"), m2));
      // A data message of 129 bytes (a 16-bit length), its "é" split between two fragments.
      const text = enc.encode(
        `{"type":"data-message","topic":"/frag","@data-type":"string","data":"caf\u00e9 ${
          "x".repeat(52)
        }"}`,
      );
      assert.equal(text.length, 129);
      const cut = text.indexOf(0xc3) + 1;
      await dribble(clientFrame(0x1, false, text.subarray(0, cut), m3));
      await dribble(clientFrame(0x0, true, text.subarray(cut), m1));
      const got = await sub.get(5000);
      assert.equal(got?.data.type, "string");
      assert.equal(got?.data.value, `caf\u00e9 ${"x".repeat(52)}`);
      const r = await readsToEnd(conn, 300);
      assert.match(r.text, /"type":"ack"/); // the 101 was read already
      // The pong's first byte (0x8a) is not UTF-8: it reads as U+FFFD.
      assert.ok(r.text.includes("\ufffd\x07ping-7!"), "a pong with the ping's payload");
    } finally {
      conn.close();
      sub.close();
    }
  }, 5000);
});

/** Every byte the server sends until it closes the connection (or `ms` pass). */
async function bytesToEnd(conn: Deno.Conn, ms: number): Promise<Uint8Array> {
  return (await untilClosed(conn, ms)).bytes;
}

/** The server's frames in `b` after the 101 response: opcode and payload each. */
function serverFrames(b: Uint8Array): { opcode: number; payload: Uint8Array }[] {
  const text = new TextDecoder("latin1").decode(b);
  let at = text.indexOf("\r\n\r\n") + 4;
  const out: { opcode: number; payload: Uint8Array }[] = [];
  while (at + 2 <= b.length) {
    let len = b[at + 1] & 0x7f, off = 2;
    if (len === 126) [len, off] = [(b[at + 2] << 8) | b[at + 3], 4];
    if (at + off + len > b.length) break;
    out.push({ opcode: b[at] & 0x0f, payload: b.subarray(at + off, at + off + len) });
    at += off + len;
  }
  return out;
}

Deno.test("WebSocket listener: frames RFC 6455 forbids fail the connection with close 1002", async () => {
  await withServer(async (_, port) => {
    const m = [1, 2, 3, 4];
    const cases: [string, Uint8Array[]][] = [
      ["an RSV bit", [new Uint8Array([0xc1, 0x80, ...m])]],
      ["opcode 3", [clientFrame(0x3, true, enc.encode("x"), m)]],
      ["opcode 0xb", [clientFrame(0xb, true, enc.encode("x"), m)]],
      ["a continuation first", [clientFrame(0x0, true, enc.encode('["/t"]'), m)]],
      ["a message inside a message", [
        clientFrame(0x1, false, enc.encode('["/'), m),
        clientFrame(0x1, true, enc.encode('t"]'), m),
      ]],
      ["a close of one byte", [clientFrame(0x8, true, new Uint8Array([3]), m)]],
      ["a close with code 1005", [clientFrame(0x8, true, new Uint8Array([0x03, 0xed]), m)]],
    ];
    for (const [what, frames] of cases) {
      const conn = await upgraded(port);
      for (const f of frames) await conn.write(f);
      const got = serverFrames(await bytesToEnd(conn, 2000));
      conn.close();
      const close = got.find((f) => f.opcode === 0x8);
      assert.ok(close, `${what}: a close frame`);
      assert.equal((close.payload[0] << 8) | close.payload[1], 1002, what);
    }
    // A valid close code is echoed.
    const conn = await upgraded(port);
    await conn.write(clientFrame(0x8, true, new Uint8Array([0x03, 0xe8, 0x62, 0x79, 0x65]), m));
    const close = serverFrames(await bytesToEnd(conn, 2000)).find((f) => f.opcode === 0x8);
    conn.close();
    assert.deepEqual([...close!.payload], [0x03, 0xe8]);
  }, 5000);
});

Deno.test("WebSocket listener: a client that pings and never reads gets pongs for the latest pings only", async () => {
  await withServer(async (_, port) => {
    const conn = await upgraded(port);
    try {
      // 125-byte pings (the most a control frame holds), numbered, all written before reading.
      const N = 200_000, m = [9, 8, 7, 6];
      const batch = 1000, frames = new Uint8Array(131 * batch);
      for (let i = 0; i < N; i += batch) {
        for (let k = 0; k < batch; k++) {
          frames.set(
            clientFrame(0x9, true, enc.encode(String(i + k).padStart(125, "0")), m),
            k * 131,
          );
        }
        for (let at = 0; at < frames.length;) at += await conn.write(frames.subarray(at));
      }
      // Then the subscription, and everything read: the pongs end with the last ping's.
      await conn.write(clientFrame(0x1, true, enc.encode('["/t"]'), m));
      const got = serverFrames(await bytesToEnd(conn, 3000)).filter((f) => f.opcode === 0xa);
      const last = new TextDecoder().decode(got[got.length - 1].payload);
      assert.equal(Number(last), N - 1, "the latest ping is answered");
      assert.ok(got.length < N / 2, `${got.length} pongs for ${N} pings`);
    } finally {
      conn.close();
    }
  }, 10_000);
});

Deno.test("WebSocket listener: an oversized message counts as an input", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0, { maxMessageSize: 1000 });
  const conn = await upgraded(server.port);
  try {
    const m = [5, 6, 7, 8];
    await conn.write(clientFrame(0x1, true, enc.encode('["/t"]'), m));
    await conn.write(clientFrame(0x1, true, enc.encode(`"${"x".repeat(2000)}"`), m));
    await conn.write(clientFrame(0x1, true, enc.encode("{oops"), m));
    await new Promise((r) => setTimeout(r, 300));
    conn.closeWrite();
    const texts = serverFrames(await bytesToEnd(conn, 2000))
      .filter((f) => f.opcode === 0x1)
      .map((f) => JSON.parse(new TextDecoder().decode(f.payload)));
    assert.equal(texts[0].type, "ack");
    assert.deepEqual(texts.slice(1).map((t) => t.context.replace(/ -> .*/, "")), [
      "input #1 was larger than 1000 bytes (maxMessageSize)",
      "input #2 contained malformed JSON",
    ]);
  } finally {
    conn.close();
    await ep.shutdown();
  }
});

// broker-node ends the connection at a binary message (tests/conformance_websocket_test.ts
// checks it live); ours says why in its close frame.
Deno.test("WebSocket listener: a binary message ends the session, before or after the subscription", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const statuses = ep.subscribe("<$>/local/data/statuses");
  try {
    for (const subscribeFirst of [false, true]) {
      const conn = await upgraded(server.port);
      try {
        const m = [5, 6, 7, 8];
        if (subscribeFirst) await conn.write(clientFrame(0x1, true, enc.encode('["/t"]'), m));
        await conn.write(clientFrame(0x2, true, enc.encode('{"oops'), m));
        const { bytes, closed } = await untilClosed(conn, 3000);
        assert.ok(closed, "the server ended the connection");
        const frames = serverFrames(bytes);
        const close = frames.find((f) => f.opcode === 0x8);
        assert.equal(close && ((close.payload[0] << 8) | close.payload[1]), 1003);
        assert.deepEqual(
          frames.filter((f) => f.opcode === 0x1).map((f) =>
            JSON.parse(new TextDecoder().decode(f.payload)).type
          ),
          subscribeFirst ? ["ack"] : [],
        );
      } finally {
        conn.close();
      }
    }
    // The subscribed client came and went as any client does.
    const seen: string[] = [];
    for (let s = await statuses.get(2000); s; s = await statuses.get(300)) {
      seen.push(String((s.data.value as readonly Data[])[1].value));
    }
    assert.deepEqual(seen, [
      "endpoint_discovered",
      "peer_added",
      "peer_lost",
      "endpoint_unreachable",
    ]);
  } finally {
    await ep.shutdown();
  }
});

Deno.test("WebSocket listener: a text message that is not UTF-8 is refused, not altered", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const sub = ep.subscribe("/t");
  const conn = await upgraded(server.port);
  try {
    const m = [1, 3, 5, 7];
    const message = (bytes: number[]) =>
      new Uint8Array([
        ...enc.encode('{"type":"data-message","topic":"/t","@data-type":"string","data":"'),
        ...bytes,
        ...enc.encode('"}'),
      ]);
    await conn.write(clientFrame(0x1, true, enc.encode('["/x"]'), m));
    await conn.write(clientFrame(0x1, true, message([0x41, 0xe9, 0xff, 0x42]), m));
    await conn.write(clientFrame(0x1, true, message([0x41, 0xc3, 0xa9, 0x42]), m));
    await conn.write(clientFrame(0x1, true, message([0x41, 0xef, 0xbf, 0xbd, 0x42]), m));
    const got = await sub.get(3000);
    assert.equal(got?.data.value, "A\u00e9B", "the UTF-8 one, as it was");
    // U+FFFD written as UTF-8 is a character like any other.
    assert.equal((await sub.get(3000))?.data.value, "A\ufffdB");
    await new Promise((r) => setTimeout(r, 200));
    conn.closeWrite();
    const texts = serverFrames(await bytesToEnd(conn, 2000))
      .filter((f) => f.opcode === 0x1)
      .map((f) => JSON.parse(new TextDecoder().decode(f.payload)));
    assert.deepEqual(texts.slice(1).map((t) => t.context), [
      "input #1 contained malformed JSON -> not UTF-8",
    ]);
    assert.equal(sub.available(), 0);
  } finally {
    conn.close();
    sub.close();
    await ep.shutdown();
  }
});
