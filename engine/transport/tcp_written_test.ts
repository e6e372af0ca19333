import { deepEqual, equal, notEqual } from "node:assert/strict";
import type { ByteStream } from "./node_stream.ts";
import { TcpConnection } from "./tcp.ts";

/** Closes both ends; the peer may have been closed already by a read's deadline. */
function closeBoth(conn: TcpConnection, peer: Deno.Conn): void {
  conn.close();
  try {
    peer.close();
  } catch {
    // closed by `readExactly`'s deadline
  }
}

/** Two ends of a loopback TCP connection: ours (`raw`) and the test's (`peer`). */
async function sockets(): Promise<{ raw: Deno.TcpConn; peer: Deno.Conn }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const peer = await listener.accept();
  listener.close();
  return { raw, peer };
}

async function pair(): Promise<{ conn: TcpConnection; peer: Deno.Conn; close(): void }> {
  const { raw, peer } = await sockets();
  const conn = new TcpConnection(raw);
  return { conn, peer, close: () => closeBoth(conn, peer) };
}

const settled = (p: Promise<void>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

/**
 * Reads `n` bytes, or what came before the stream ended or 10 s passed:
 * the peer is closed then, so that a read waiting for bytes that never
 * come ends (and the test fails) instead of hanging.
 */
async function readExactly(peer: Deno.Conn, n: number): Promise<Uint8Array> {
  const timer = setTimeout(() => peer.close(), 10_000);
  try {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const k = await peer.read(out.subarray(got)).catch(() => null);
      if (k === null) break;
      got += k;
    }
    return out.subarray(0, got);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("whenWritten waits while a view is still being written, then resolves", async () => {
  const { conn, peer, close } = await pair();
  try {
    const big = new Uint8Array(32 << 20); // more than loopback buffers take unread
    conn.send(big);
    const written = conn.whenWritten(big);
    equal(await settled(written, 200), false);
    equal((await readExactly(peer, big.length)).length, big.length);
    equal(await settled(written, 5000), true);
  } finally {
    close();
  }
});

Deno.test("whenWritten: at once for bytes not queued; on close for bytes that never went", async () => {
  const { conn, close } = await pair();
  try {
    equal(await settled(conn.whenWritten(new Uint8Array(4)), 1000), true);
    const big = new Uint8Array(32 << 20);
    const small = new Uint8Array(16);
    conn.send(big);
    conn.send(small); // queued behind the blocked write
    const bigDone = conn.whenWritten(big), smallDone = conn.whenWritten(small);
    equal(await settled(smallDone, 200), false);
    conn.close();
    equal(await settled(Promise.all([bigDone, smallDone]).then(() => {}), 1000), true);
  } finally {
    close();
  }
});

/**
 * A real socket whose writes are noted (the buffer each one views) and held
 * until `open` resolves, so a test sees what went out, and when.
 */
function watchedWrites(raw: Deno.Conn): {
  stream: ByteStream;
  writes: { buffer: ArrayBufferLike; length: number }[];
  hold(): () => void;
} {
  const writes: { buffer: ArrayBufferLike; length: number }[] = [];
  let gate = Promise.resolve();
  const stream: ByteStream = {
    read: (b) => raw.read(b),
    write: async (b) => {
      writes.push({ buffer: b.buffer, length: b.length });
      await gate;
      return await raw.write(b);
    },
    close: () => raw.close(),
    remoteAddr: raw.remoteAddr,
  };
  const hold = () => {
    const { promise, resolve } = Promise.withResolvers<void>();
    gate = promise;
    return resolve;
  };
  return { stream, writes, hold };
}

async function watchedPair() {
  const { raw, peer } = await sockets();
  const watched = watchedWrites(raw);
  const conn = new TcpConnection(watched.stream);
  return { conn, peer, ...watched, close: () => closeBoth(conn, peer) };
}

/** `n` frames of `size` bytes that touch, as views of one buffer; byte i of the buffer is i % 251. */
function touchingFrames(n: number, size: number): { frames: Uint8Array[]; all: Uint8Array } {
  const all = new Uint8Array(n * size).map((_, i) => i % 251);
  return {
    all,
    frames: Array.from({ length: n }, (_, k) => all.subarray(k * size, (k + 1) * size)),
  };
}

/** Sends a one-byte frame (the writer takes it at once), then `frames`, which queue behind it. */
function queueBehindOne(conn: TcpConnection, frames: Uint8Array[]): void {
  conn.send(new Uint8Array([1]));
  for (const f of frames) conn.send(f);
}

Deno.test("frames that touch in one buffer go out as one write of that buffer, intact and in order", async () => {
  const { conn, peer, writes, close } = await watchedPair();
  try {
    const first = new Uint8Array([1, 2, 3]);
    const { frames, all } = touchingFrames(100, 1000); // 100 kB: a run worth its own write
    conn.send(first); // taken at once
    for (const f of frames) conn.send(f); // queued behind it
    const got = await readExactly(peer, 3 + all.length);
    deepEqual(got.subarray(0, 3), first);
    deepEqual(got.subarray(3), all);
    equal(writes.length, 2);
    equal(writes[1].buffer, all.buffer, "the frames' own memory, not a copy");
    equal(writes[1].length, all.length);
  } finally {
    close();
  }
});

Deno.test("frames of one buffer with gaps between them go out without the gaps", async () => {
  const { conn, peer, close } = await watchedPair();
  try {
    const { all } = touchingFrames(100, 1000);
    // Each frame leaves out its slot's last 100 bytes; together over 64 kB.
    const frames = Array.from({ length: 100 }, (_, k) => all.subarray(k * 1000, k * 1000 + 900));
    queueBehindOne(conn, frames);
    const got = await readExactly(peer, 1 + 90_000);
    deepEqual(got.subarray(1), new Uint8Array(frames.flatMap((f) => [...f])));
  } finally {
    close();
  }
});

Deno.test("a short run of touching frames is copied with what follows it into one write", async () => {
  const { conn, peer, writes, close } = await watchedPair();
  try {
    const { frames, all } = touchingFrames(10, 100); // 1 kB: not worth a write of its own
    const other = new Uint8Array([9, 9]);
    queueBehindOne(conn, frames);
    conn.send(other);
    const got = await readExactly(peer, 1 + all.length + 2);
    deepEqual(got.subarray(1, 1 + all.length), all);
    deepEqual(got.subarray(1 + all.length), other);
    equal(writes.length, 2);
    notEqual(writes[1].buffer, all.buffer);
    equal(writes[1].length, all.length + 2);
  } finally {
    close();
  }
});

Deno.test("a frame someone waits on is copied out at once rather than sent in place", async () => {
  const { conn, peer, writes, hold, close } = await watchedPair();
  try {
    const { frames, all } = touchingFrames(100, 1000);
    queueBehindOne(conn, frames);
    const done = conn.whenWritten(frames[10]);
    const open = hold(); // the second write waits
    await readExactly(peer, 1);
    equal(await settled(done, 2000), true, "its memory is free before the write completes");
    equal(writes.length, 2);
    notEqual(writes[1].buffer, all.buffer);
    open();
    deepEqual(await readExactly(peer, all.length), all);
  } finally {
    close();
  }
});

Deno.test("whenWritten asked while a run is written in place waits for that write", async () => {
  const { conn, peer, writes, hold, close } = await watchedPair();
  try {
    const { frames, all } = touchingFrames(100, 1000);
    queueBehindOne(conn, frames);
    const open = hold(); // the run's write waits
    await readExactly(peer, 1);
    for (let t = 0; writes.length < 2 && t < 5000; t++) await new Promise((r) => setTimeout(r, 1));
    equal(writes[1].buffer, all.buffer);
    const done = conn.whenWritten(frames[90]);
    equal(await settled(done, 200), false, "its memory is still being sent");
    open();
    await readExactly(peer, all.length);
    equal(await settled(done, 5000), true);
  } finally {
    close();
  }
});
