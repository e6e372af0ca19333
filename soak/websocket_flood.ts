/**
 * Floods a WebSocket client that never reads. Two raw RFC 6455 clients
 * connect to one of our nodes: the victim subscribes to the flood topic and
 * then stops reading; the flooder publishes many messages on that topic. The
 * server's per-client output is bounded (Broker's 512 messages, then its
 * `disconnect` policy), so it must give up on the victim: end the session
 * and close the connection. Afterwards the victim reads what reached it and
 * reports whether the server closed the TCP connection, and when.
 *
 * Raw sockets (not `WebSocket`) because a browser-style client always reads:
 * only a socket we stop reading fills the kernel buffers and the server's queue.
 *
 * @module
 */
import { FLOOD_TOPIC_PREFIX } from "./traffic.ts";
import { encodeWebSocketFrame } from "../engine/websocket/frame.ts";

/** How a flood ended. */
export interface FloodResult {
  /** The node's WebSocket port. */
  port: number;
  /** The node's name, when the caller knows it. */
  node?: string;
  /** Messages the flooder sent. */
  sent: number;
  /** Data messages the victim found when it read afterwards. */
  received: number;
  /** The close frame the server sent the victim, if any. */
  close?: { code: number; reason: string };
  /**
   * `disconnected`: the server closed the TCP connection within the bound;
   * `left-open`: it did not (with or without a close frame); `refused`: no
   * server; `error`: the exchange failed before the flood (e.g. node killed);
   * `restarted` (set by the caller): the node was stopped meanwhile, so the
   * close proves nothing.
   */
  outcome: "disconnected" | "left-open" | "refused" | "error" | "restarted";
  /** Ms from the end of the flood to the TCP close (or to giving up). */
  ms: number;
  /** What went wrong, for `error`. */
  error?: string;
}

/** Flood parameters. */
export interface FloodOptions {
  /** Messages to send. */
  messages: number;
  /** Bytes of string payload per message. */
  size: number;
  /** The server must close the victim's connection this long after the flood ends. */
  closeWithinMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** A masked client frame (text 0x1 or close 0x8). */
export function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  return encodeWebSocketFrame(opcode, payload, true);
}

/** Reads the server's (unmasked) frames out of a byte stream. */
export class FrameReader {
  #buf = new Uint8Array(0);

  /** Adds bytes; returns the frames now complete. */
  push(bytes: Uint8Array): { opcode: number; payload: Uint8Array }[] {
    const joined = new Uint8Array(this.#buf.length + bytes.length);
    joined.set(this.#buf);
    joined.set(bytes, this.#buf.length);
    const frames: { opcode: number; payload: Uint8Array }[] = [];
    let at = 0;
    while (joined.length - at >= 2) {
      const opcode = joined[at] & 0x0f;
      let len = joined[at + 1] & 0x7f;
      let head = 2;
      const view = new DataView(joined.buffer, joined.byteOffset + at);
      if (len === 126) {
        if (joined.length - at < 4) break;
        len = view.getUint16(2);
        head = 4;
      } else if (len === 127) {
        if (joined.length - at < 10) break;
        len = Number(view.getBigUint64(2));
        head = 10;
      }
      if (joined.length - at < head + len) break;
      frames.push({ opcode, payload: joined.slice(at + head, at + head + len) });
      at += head + len;
    }
    this.#buf = joined.slice(at);
    return frames;
  }
}

/** Connects, upgrades, subscribes to `topics` and reads up to the server's ack. */
async function subscribe(port: number, topics: string[]): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeAll(
      conn,
      encoder.encode(
        "GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nSec-WebSocket-Key: c29hay1mbG9vZC1jbGllbnQ=\r\n" +
          "Sec-WebSocket-Version: 13\r\n\r\n",
      ),
    );
    const buf = new Uint8Array(4096);
    let head = "";
    let extra = new Uint8Array(0);
    while (!head.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed during the upgrade");
      const text = decoder.decode(buf.subarray(0, n));
      const end = (head + text).indexOf("\r\n\r\n");
      if (end >= 0) {
        // Bytes after the header belong to the first frames.
        const headerBytes = end + 4 - head.length;
        extra = buf.slice(headerBytes, n);
      }
      head += text;
    }
    if (!head.startsWith("HTTP/1.1 101")) {
      throw new Error(`upgrade refused: ${head.split("\r\n")[0]}`);
    }
    await writeAll(conn, clientFrame(0x1, encoder.encode(JSON.stringify(topics))));
    const reader = new FrameReader();
    let frames = reader.push(extra);
    while (!frames.some((f) => f.opcode === 0x1 && decoder.decode(f.payload).includes('"ack"'))) {
      const n = await conn.read(buf);
      if (n === null) throw new Error("closed before the ack");
      frames = reader.push(buf.subarray(0, n));
    }
    return conn;
  } catch (e) {
    conn.close();
    throw e;
  }
}

/** Runs one flood against the node's WebSocket port (bounded by `closeWithinMs` plus setup). */
export async function floodWebSocket(port: number, options: FloodOptions): Promise<FloodResult> {
  const result: FloodResult = { port, sent: 0, received: 0, outcome: "error", ms: 0 };
  let victim: Deno.TcpConn | undefined;
  let flooder: Deno.TcpConn | undefined;
  try {
    victim = await subscribe(port, [FLOOD_TOPIC_PREFIX]);
    flooder = await subscribe(port, [`${FLOOD_TOPIC_PREFIX}none/`]);
  } catch (e) {
    victim?.close();
    result.outcome = e instanceof Deno.errors.ConnectionRefused ? "refused" : "error";
    result.error = (e as Error).message;
    return result;
  }
  // The flooder reads (and drops) whatever comes, so only the victim is slow.
  const f = flooder;
  const draining = (async () => {
    const buf = new Uint8Array(64 * 1024);
    try {
      while ((await f.read(buf)) !== null) { /* dropped */ }
    } catch { /* closed */ }
  })();
  const frame = clientFrame(
    0x1,
    encoder.encode(JSON.stringify({
      type: "data-message",
      topic: `${FLOOD_TOPIC_PREFIX}x`,
      "@data-type": "string",
      data: "x".repeat(options.size),
    })),
  );
  try {
    for (; result.sent < options.messages; result.sent++) await writeAll(flooder, frame);
    await writeAll(flooder, clientFrame(0x8, new Uint8Array([0x03, 0xe8])));
  } catch (e) {
    result.error = `flooder: ${(e as Error).message}`;
  }
  try {
    flooder.close();
  } catch { /* closed */ }
  await draining;

  // Now the victim reads: what reached it, a close frame maybe, and the end of the stream.
  const v = victim;
  const t0 = performance.now();
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    try {
      v.close();
    } catch { /* closed */ }
  }, options.closeWithinMs);
  const reader = new FrameReader();
  const buf = new Uint8Array(64 * 1024);
  try {
    while (true) {
      const n = await v.read(buf);
      if (n === null) break;
      for (const fr of reader.push(buf.subarray(0, n))) {
        if (fr.opcode === 0x1) result.received++;
        else if (fr.opcode === 0x8) {
          const code = fr.payload.length >= 2 ? (fr.payload[0] << 8) | fr.payload[1] : 1005;
          result.close = { code, reason: decoder.decode(fr.payload.subarray(2)) };
        }
      }
    }
  } catch {
    // reset by the server, or closed by our timer
  }
  clearTimeout(timer);
  result.ms = Math.round(performance.now() - t0);
  if (!gaveUp) {
    try {
      v.close();
    } catch { /* closed */ }
  }
  result.outcome = gaveUp ? "left-open" : "disconnected";
  return result;
}
