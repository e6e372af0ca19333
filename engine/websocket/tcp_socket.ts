/**
 * A WebSocket client over a plain Deno TCP connection (RFC 6455, text
 * messages), for servers that reject what Deno's built-in `WebSocket` sends:
 * the C++ Broker's server matches HTTP header names case-sensitively and
 * answers the built-in client's lowercase names with 400. This one writes
 * `Upgrade`, `Connection`, `Sec-WebSocket-Key` as RFC 7230 examples do.
 * Deno-only (the browser-safe client takes it through `createSocket`).
 *
 * @module
 */
import type { SocketLike } from "./client.ts";
import { encodeWebSocketFrame } from "./frame.ts";

const OPEN = 1, CLOSED = 3;

/**
 * Opens a WebSocket to `url` over TCP; behaves like the parts of the
 * standard `WebSocket` that `WebSocketClient` uses.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectWebSocket, count, dataToString, Endpoint } from "../../mod.ts";
 * import { tcpWebSocket } from "./tcp_socket.ts";
 * const ep = new Endpoint(); // the C++ Broker's server is what this socket is for
 * const server = await ep.listenWebSocket("127.0.0.1", 0);
 * const url = `ws://127.0.0.1:${server.port}`;
 * const client = await connectWebSocket(url, ["/t"], { createSocket: tcpWebSocket });
 * ep.publish("/t", count(1n));
 * equal(dataToString((await client.get(5_000))!.data), "1");
 * client.close();
 * await server.close();
 * await ep.shutdown();
 * ```
 */
export function tcpWebSocket(url: string): SocketLike {
  const u = new URL(url);
  const socket: SocketLike = {
    readyState: 0,
    onopen: null,
    onmessage: null,
    onerror: null,
    onclose: null,
    send: (text: string) => {
      if (socket.readyState !== OPEN || !conn) throw new Error("WebSocket is not open");
      writeFrame(0x1, new TextEncoder().encode(text));
    },
    close: () => {
      if (socket.readyState === CLOSED) return;
      if (conn && socket.readyState === OPEN) writeFrame(0x8, new Uint8Array(0));
      finish();
    },
  };
  let conn: Deno.TcpConn | undefined;
  let writing = Promise.resolve();
  const writeFrame = (opcode: number, payload: Uint8Array) => {
    const out = encodeWebSocketFrame(opcode, payload, true);
    const c = conn!;
    writing = writing.then(async () => {
      let off = 0;
      while (off < out.length) off += await c.write(out.subarray(off));
    }).catch(() => finish());
  };
  const finish = () => {
    if (socket.readyState === CLOSED) return;
    const wasOpen = socket.readyState === OPEN;
    socket.readyState = CLOSED;
    try {
      conn?.close();
    } catch {
      // already closed
    }
    if (!wasOpen) socket.onerror?.(new Event("error"));
    socket.onclose?.(new Event("close"));
  };
  (async () => {
    try {
      conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port || 80) });
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`;
      await conn.write(new TextEncoder().encode(request));
      let buf = new Uint8Array(0);
      const read = async () => {
        const chunk = new Uint8Array(64 * 1024);
        const n = await conn!.read(chunk);
        if (n === null) throw new Error("closed");
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
      };
      let end: number;
      while ((end = indexOfCrlfCrlf(buf)) < 0) {
        if (buf.length > 16 * 1024) throw new Error("HTTP response too long");
        await read();
      }
      const status = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n")[0];
      if (!/^HTTP\/1\.1 101 /.test(status)) throw new Error(`upgrade refused: ${status}`);
      buf = buf.subarray(end + 4);
      socket.readyState = OPEN;
      socket.onopen?.(new Event("open"));
      let message: Uint8Array[] = [];
      while (socket.readyState === OPEN) {
        // One frame: FIN/opcode, length (7, 16 or 64 bits), server frames are unmasked.
        while (buf.length < 2) await read();
        const opcode = buf[0] & 0x0f, fin = (buf[0] & 0x80) !== 0;
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) {
          while (buf.length < 4) await read();
          len = (buf[2] << 8) | buf[3];
          off = 4;
        } else if (len === 127) {
          while (buf.length < 10) await read();
          len = Number(new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0));
          off = 10;
        }
        if (len > 64 * 1024 * 1024) throw new Error("frame too large");
        while (buf.length < off + len) await read();
        const payload = buf.slice(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 0x8) break;
        if (opcode === 0x9) {
          writeFrame(0xa, payload);
          continue;
        }
        if (opcode === 0xa) continue;
        message.push(payload);
        if (!fin) continue;
        const total = message.reduce((n, p) => n + p.length, 0);
        const whole = new Uint8Array(total);
        let at = 0;
        for (const p of message) {
          whole.set(p, at);
          at += p.length;
        }
        message = [];
        socket.onmessage?.({ data: new TextDecoder().decode(whole) } as MessageEvent);
      }
    } catch {
      // refused, closed or broken: reported through onerror/onclose
    }
    finish();
  })();
  return socket;
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}
