/**
 * A WebSocket client for the bounds tests that subscribes and then stops
 * reading its TCP socket, so the server's writes pile up as they would for a
 * hung or hostile client (RFC 6455 by hand over `Deno.connect`: the
 * standard `WebSocket` always reads). `drain()` later reads everything the
 * server managed to send, up to its close frame or the end of the stream.
 *
 * @module
 */

/** What a drained connection delivered. */
export interface Drained {
  /** Text messages, in order (the ack first). */
  texts: string[];
  /** The server's close frame, when one came. */
  close?: { code: number; reason: string };
}

/** A subscribed client that does not read until told to. */
export interface StalledClient {
  /** Sends a text message `times` times in one write (the client keeps not reading). */
  send(text: string, times?: number): Promise<void>;
  /** Reads every frame until the close frame, the end of the stream, or `stopAfter` texts. */
  drain(timeoutMs: number, stopAfter?: number): Promise<Drained>;
  /** Closes the TCP connection. */
  close(): void;
}

import { encodeWebSocketFrame } from "../engine/websocket/frame.ts";

const enc = new TextEncoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
}

/**
 * Connects to our server's `/v1/messages/json`, reads the 101 response,
 * sends the subscription and reads nothing more.
 */
export async function stalledClient(port: number, topics: string[]): Promise<StalledClient> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
  await writeAll(
    conn,
    enc.encode(
      `GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
        `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    ),
  );
  // The server says nothing after its 101 until it has our subscription, so
  // whatever arrives now is the response alone.
  let buf: Uint8Array = new Uint8Array(0);
  const more = async (): Promise<boolean> => {
    const chunk = new Uint8Array(256 * 1024);
    const n = await conn.read(chunk);
    if (n === null) return false;
    const next = new Uint8Array(buf.length + n);
    next.set(buf);
    next.set(chunk.subarray(0, n), buf.length);
    buf = next;
    return true;
  };
  let end = -1;
  while (end < 0) {
    if (!(await more())) throw new Error("closed during the upgrade");
    end = new TextDecoder().decode(buf).indexOf("\r\n\r\n");
  }
  const status = new TextDecoder().decode(buf.subarray(0, end)).split("\r\n")[0];
  if (!status.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${status}`);
  buf = buf.subarray(end + 4);
  await writeAll(conn, encodeWebSocketFrame(0x1, enc.encode(JSON.stringify(topics)), true));
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    try {
      conn.close();
    } catch {
      // already closed
    }
  };
  const drain = async (timeoutMs: number, stopAfter = Infinity): Promise<Drained> => {
    const out: Drained = { texts: [] };
    const timer = setTimeout(close, timeoutMs);
    try {
      while (out.texts.length < stopAfter) {
        while (buf.length < 2) if (!(await more())) return out;
        let len = buf[1] & 0x7f, off = 2;
        if (len === 126) {
          while (buf.length < 4) if (!(await more())) return out;
          len = (buf[2] << 8) | buf[3];
          off = 4;
        } else if (len === 127) {
          while (buf.length < 10) if (!(await more())) return out;
          len = Number(new DataView(buf.buffer, buf.byteOffset + 2, 8).getBigUint64(0));
          off = 10;
        }
        while (buf.length < off + len) if (!(await more())) return out;
        const opcode = buf[0] & 0x0f;
        const payload = buf.slice(off, off + len);
        buf = buf.subarray(off + len);
        if (opcode === 0x8) {
          out.close = {
            code: payload.length >= 2 ? (payload[0] << 8) | payload[1] : 1005,
            reason: new TextDecoder().decode(payload.subarray(2)),
          };
          return out;
        }
        // The server sends each message in one frame; pings need no answer here.
        if (opcode === 0x1) out.texts.push(new TextDecoder().decode(payload));
      }
      return out;
    } catch (e) {
      if (closed) return out; // the timeout closed the connection
      throw e;
    } finally {
      clearTimeout(timer);
    }
  };
  const send = (text: string, times = 1) => {
    const one = encodeWebSocketFrame(0x1, enc.encode(text), true);
    const all = new Uint8Array(one.length * times);
    for (let i = 0; i < times; i++) all.set(one, i * one.length);
    return writeAll(conn, all);
  };
  return { send, drain, close };
}
