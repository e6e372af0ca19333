import { deepEqual, ok } from "node:assert/strict";
import { concatBytes } from "../bytes.ts";
import { encodeWebSocketFrame } from "./frame.ts";
import { tcpWebSocket } from "./tcp_socket.ts";

const enc = new TextEncoder();

/** A server frame (unmasked); `fin` false for a fragment with more to come. */
const serverFrame = (opcode: number, fin: boolean, payload: Uint8Array) =>
  encodeWebSocketFrame(opcode, payload, false, fin);

/** Unmasks the client frames in `bytes`; returns [opcode, payload] of each whole one. */
function clientFrames(bytes: Uint8Array): [number, string][] {
  const out: [number, string][] = [];
  for (let p = 0; p + 6 <= bytes.length;) {
    const len = bytes[p + 1] & 0x7f; // short frames only here (up to 125 bytes)
    const mask = bytes.subarray(p + 2, p + 6);
    const body = bytes.subarray(p + 6, p + 6 + len).map((b, i) => b ^ mask[i & 3]);
    out.push([bytes[p] & 0x0f, new TextDecoder().decode(body)]);
    p += 6 + len;
  }
  return out;
}

Deno.test("tcpWebSocket: fragments, long frames in many reads, and pings read as a server sends them", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const long = "y".repeat(200_000); // a 64-bit length, arriving in ~100 reads
  const medium = "z".repeat(300); // a 16-bit length
  const server = (async () => {
    const conn = await listener.accept();
    const buf = new Uint8Array(4096);
    let request = "";
    while (!request.includes("\r\n\r\n")) {
      request += new TextDecoder().decode(buf.subarray(0, (await conn.read(buf)) ?? 0));
    }
    const frames = [
      enc.encode(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
      ),
      serverFrame(0x1, false, enc.encode("he")),
      serverFrame(0x9, true, enc.encode("are you there")), // between fragments
      // More pings than the read buffer holds: a fragment kept as a view would be overwritten.
      ...Array.from({ length: 600 }, () => serverFrame(0x9, true, enc.encode("p".repeat(120)))),
      serverFrame(0x0, false, enc.encode("ll")),
      serverFrame(0x0, true, enc.encode("o \u00e9")),
      serverFrame(0x1, true, enc.encode(medium)),
      serverFrame(0x1, true, enc.encode(long)),
      serverFrame(0x1, true, enc.encode("after")),
    ];
    const all = concatBytes(frames);
    // Dribbled: 1 to 13 bytes at first, then 2 KiB writes, so frames end mid-header and mid-payload.
    for (let p = 0, i = 0; p < all.length; i++) {
      const step = p < 400 ? i % 13 + 1 : 2048;
      await conn.write(all.subarray(p, p + step));
      p += step;
      if (i % 16 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    // What the client sent back (its pongs), until its close frame, which is answered.
    let got: Uint8Array = new Uint8Array(0);
    for (let n; (n = await conn.read(buf).catch(() => null)) !== null;) {
      got = concatBytes([got, buf.subarray(0, n)]);
      if (clientFrames(got).some(([op]) => op === 0x8)) break;
    }
    await conn.write(serverFrame(0x8, true, new Uint8Array(0))).catch(() => {});
    conn.close();
    return got;
  })();
  const socket = tcpWebSocket(`ws://127.0.0.1:${(listener.addr as Deno.NetAddr).port}/v1`);
  const messages: string[] = [];
  await new Promise<void>((resolve, reject) => {
    socket.onerror = () => reject(new Error("socket error"));
    socket.onmessage = (m) => {
      messages.push(m.data as string);
      if (messages.length === 4) resolve();
    };
  });
  socket.close();
  const sent = await server;
  listener.close();
  deepEqual(messages.map((m) => m.length), [7, 300, 200_000, 5]);
  deepEqual(messages, ["hello \u00e9", medium, long, "after"]);
  const replies = clientFrames(sent);
  ok(
    replies.some(([op, text]) => op === 0xa && text === "are you there"),
    "a pong with the ping's payload",
  );
});
