/**
 * A WebSocket client over a plain Deno TCP connection (RFC 6455, text
 * messages), for servers that reject what Deno's built-in `WebSocket` sends:
 * the C++ Broker's server matches HTTP header names case-sensitively and
 * answers the built-in client's lowercase names with 400. This one writes
 * `Upgrade`, `Connection`, `Sec-WebSocket-Key` as RFC 7230 examples do.
 * A `wss://` URL runs over Broker's anonymous TLS mode, what a Broker with
 * SSL on and no certificates (its default) serves the API over, and which
 * neither Deno's `WebSocket` nor a browser speaks.
 * Deno-only (the browser-safe client takes it through `createSocket`).
 *
 * @module
 */
import type { SocketLike } from "./client.ts";
import { concatBytes } from "../bytes.ts";
import { encodeWebSocketFrame } from "./frame.ts";
import { anonTlsHandshake } from "../transport/anon_tls_stream.ts";
import type { ByteStream } from "../transport/node_stream.ts";

/** How long the TCP connect and, for `wss://`, the TLS handshake may take. */
const CONNECT_TIMEOUT_MS = 10_000;

const OPEN = 1, CLOSING = 2, CLOSED = 3;
/**
 * How long `close()` waits for the server to answer its close frame (with
 * its own, or by ending the connection) before it drops the connection.
 */
const CLOSE_TIMEOUT_MS = 2_000;
/** Frames longer than this end the connection. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** The read buffer's size to begin with (it grows for longer frames). */
const INBOX_SIZE = 64 * 1024;

/**
 * Bytes read and not yet parsed, in one buffer that is compacted or doubled
 * when full: reads go straight into it, and a frame arriving in many reads
 * is copied about twice in all, not once per read.
 */
class Inbox {
  #buf = new Uint8Array(INBOX_SIZE);
  #start = 0;
  #end = 0;
  readonly #conn: ByteStream;

  constructor(conn: ByteStream) {
    this.#conn = conn;
  }

  /** Bytes not yet parsed. */
  get length(): number {
    return this.#end - this.#start;
  }

  /** The byte `i` places past the parse position. */
  at(i: number): number {
    return this.#buf[this.#start + i];
  }

  /** Bytes `from..to` past the parse position, as a view valid until the next `fill`. */
  view(from: number, to: number): Uint8Array {
    return this.#buf.subarray(this.#start + from, this.#start + to);
  }

  /** Moves the parse position `n` bytes on. */
  skip(n: number): void {
    this.#start += n;
    if (this.#start !== this.#end) return;
    this.#start = this.#end = 0;
    // A buffer grown for one long frame is not kept for the short ones after it.
    if (this.#buf.length > INBOX_SIZE * 16) this.#buf = new Uint8Array(INBOX_SIZE);
  }

  /** Reads until at least `n` bytes are unparsed; throws once the connection ends. */
  async fill(n: number): Promise<void> {
    while (this.length < n) {
      if (this.#buf.length - this.#start < n || this.#end === this.#buf.length) this.#makeRoom(n);
      const got = await this.#conn.read(this.#buf.subarray(this.#end));
      if (got === null) throw new Error("closed");
      this.#end += got;
    }
  }

  #makeRoom(n: number): void {
    const have = this.length;
    let buf = this.#buf;
    if (buf.length < Math.max(n, 2 * have)) {
      buf = new Uint8Array(Math.max(n, buf.length * 2));
      buf.set(this.#buf.subarray(this.#start, this.#end));
    } else {
      buf.copyWithin(0, this.#start, this.#end);
    }
    this.#buf = buf;
    this.#start = 0;
    this.#end = have;
  }
}

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
      if (socket.readyState === CLOSED || socket.readyState === CLOSING) return;
      if (!conn || socket.readyState !== OPEN) return finish();
      // Messages sent just before are still queued behind `writing`: ending the TCP
      // connection here dropped them all (a client's last events never reached Zeek's
      // server). The close frame goes after them, and the connection ends once the
      // server answers it (RFC 6455 §7.1.1: the server closes TCP first), or at the timeout.
      socket.readyState = CLOSING;
      writeFrame(0x8, new Uint8Array(0));
      closeTimer = setTimeout(finish, CLOSE_TIMEOUT_MS);
    },
  };
  let conn: ByteStream | undefined;
  let closeTimer: ReturnType<typeof setTimeout> | undefined;
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
    clearTimeout(closeTimer);
    const wasOpen = socket.readyState === OPEN || socket.readyState === CLOSING;
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
      const secure = u.protocol === "wss:";
      const tcp = await Deno.connect({
        hostname: u.hostname,
        port: Number(u.port || (secure ? 443 : 80)),
      });
      conn = secure ? await anonTlsHandshake(tcp, "client", CONNECT_TIMEOUT_MS) : tcp;
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const request = `GET ${u.pathname}${u.search} HTTP/1.1\r\nHost: ${u.host}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n\r\n`;
      await conn.write(new TextEncoder().encode(request));
      const inbox = new Inbox(conn);
      let end: number;
      while ((end = indexOfCrlfCrlf(inbox.view(0, inbox.length))) < 0) {
        if (inbox.length > 16 * 1024) throw new Error("HTTP response too long");
        await inbox.fill(inbox.length + 1);
      }
      const status = new TextDecoder().decode(inbox.view(0, end)).split("\r\n")[0];
      if (!/^HTTP\/1\.1 101 /.test(status)) throw new Error(`upgrade refused: ${status}`);
      inbox.skip(end + 4);
      socket.readyState = OPEN;
      socket.onopen?.(new Event("open"));
      const dec = new TextDecoder();
      let message: Uint8Array[] = [];
      // CLOSING: the close frame is sent and the server's answer is read for.
      while (socket.readyState === OPEN || socket.readyState === CLOSING) {
        // One frame: FIN/opcode, length (7, 16 or 64 bits), server frames are unmasked.
        await inbox.fill(2);
        const opcode = inbox.at(0) & 0x0f, fin = (inbox.at(0) & 0x80) !== 0;
        let len = inbox.at(1) & 0x7f, off = 2;
        if (len === 126) {
          await inbox.fill(4);
          len = (inbox.at(2) << 8) | inbox.at(3);
          off = 4;
        } else if (len === 127) {
          await inbox.fill(10);
          const b = inbox.view(2, 10);
          len = Number(new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0));
          off = 10;
        }
        if (len > MAX_FRAME_BYTES) throw new Error("frame too large");
        await inbox.fill(off + len);
        // A view of the read buffer: valid until the next fill, so kept parts are copied.
        const payload = inbox.view(off, off + len);
        inbox.skip(off + len);
        if (opcode === 0x8) {
          // The server's close: answered with its status code when it came first
          // (RFC 6455 §5.5.1), and the connection ends once that is written.
          if (socket.readyState === OPEN) writeFrame(0x8, payload.slice(0, Math.min(2, len)));
          await writing;
          break;
        }
        if (opcode === 0x9) {
          writeFrame(0xa, payload); // copied into the pong frame at once
          continue;
        }
        if (opcode === 0xa) continue;
        if (!fin) {
          message.push(payload.slice());
          continue;
        }
        let whole = payload;
        if (message.length > 0) {
          message.push(payload);
          whole = concatBytes(message);
          message = [];
        }
        // As the standard WebSocket: nothing is delivered once close() was called.
        if (socket.readyState === OPEN) {
          socket.onmessage?.({ data: dec.decode(whole) } as MessageEvent);
        }
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
