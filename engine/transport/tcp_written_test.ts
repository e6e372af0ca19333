import { equal } from "node:assert/strict";
import { TcpConnection } from "./tcp.ts";

async function pair(): Promise<{ conn: TcpConnection; peer: Deno.Conn; close(): void }> {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const peer = await listener.accept();
  listener.close();
  const conn = new TcpConnection(raw);
  return { conn, peer, close: () => (conn.close(), peer.close()) };
}

const settled = (p: Promise<void>, ms: number) =>
  Promise.race([p.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);

async function readAll(peer: Deno.Conn, n: number): Promise<number> {
  const buf = new Uint8Array(1 << 20);
  let got = 0;
  while (got < n) {
    const k = await peer.read(buf);
    if (k === null) break;
    got += k;
  }
  return got;
}

Deno.test("whenWritten waits while a view is still being written, then resolves", async () => {
  const { conn, peer, close } = await pair();
  try {
    const big = new Uint8Array(32 << 20); // more than loopback buffers take unread
    conn.send(big);
    const written = conn.whenWritten(big);
    equal(await settled(written, 200), false);
    equal(await readAll(peer, big.length), big.length);
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
