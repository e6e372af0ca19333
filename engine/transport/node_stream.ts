/**
 * A Node.js socket (here: an accepted `node:tls` socket) behind the small
 * read/write/close surface `TcpConnection` uses, so the TLS listener can use
 * `node:tls` (whose raw sockets can be closed before the TLS handshake ends,
 * unlike `Deno.listenTls`'s) while everything above it stays the same.
 *
 * @module
 */
import type { Socket } from "node:net";

/** What `TcpConnection` needs of a connected byte stream (`Deno.Conn` has it). */
export interface ByteStream {
  /** Reads into `buf`; resolves with the count, or null at the end of the stream. */
  read(buf: Uint8Array): Promise<number | null>;
  /**
   * Where the stream already holds its bytes in chunks of its own: the next
   * chunk itself (the caller may keep it), or null at the end. Saves the
   * copy into the caller's buffer that `read` makes.
   */
  readChunk?(): Promise<Uint8Array | null> | Uint8Array | null;
  /** Writes some of `buf`; resolves with the count once `buf` may be reused. */
  write(buf: Uint8Array): Promise<number>;
  /** Closes the stream; a pending read then resolves with null or rejects. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
  /** Disables Nagle's algorithm where the stream is TCP. */
  setNoDelay?(noDelay?: boolean): void;
  /** Which read path an adapted socket uses (absent on Deno's own connections). */
  readonly via?: string;
}

/** Above this many unread bytes the socket is paused (back-pressure to the peer). */
const HIGH_WATER = 1024 * 1024;

/**
 * Adapts a connected Node.js socket to `ByteStream`.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { createServer, type Socket } from "node:net";
 * import { NodeSocketStream } from "./node_stream.ts";
 * const accepted = Promise.withResolvers<Socket>();
 * const server = createServer((s) => accepted.resolve(s)).listen(0, "127.0.0.1");
 * await new Promise((r) => server.once("listening", r));
 * const client = await Deno.connect({ port: (server.address() as { port: number }).port });
 * // The TLS listener wraps each accepted `node:tls` socket like this, for a TcpConnection.
 * const stream = new NodeSocketStream(await accepted.promise);
 * await client.write(new Uint8Array([1, 2, 3]));
 * const buf = new Uint8Array(8);
 * equal(await stream.read(buf), 3);
 * deepEqual(buf.subarray(0, 3), new Uint8Array([1, 2, 3]));
 * stream.close();
 * client.close();
 * await new Promise((r) => server.close(r));
 * ```
 */
export class NodeSocketStream implements ByteStream {
  readonly #socket: Socket;
  readonly #ends: SocketState;
  #chunks: Uint8Array[] = [];
  #pos = 0;
  #queued = 0;
  // Whether we paused the socket: resume() only then, and only once (each
  // resume restarts the TLS reader, a native call).
  #paused = false;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Which read path this is: the socket's `'data'` events. */
  readonly via = "node-data";

  /** Takes over a connected socket. */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.#ends = new SocketState(socket);
    this.remoteAddr = this.#ends.remoteAddr;
    socket.on("data", (buf: Uint8Array) => {
      // A plain view: frames are cut out of chunks with subarray, which on a
      // Node.js Buffer goes through its species constructor (profiled ~5%).
      const chunk = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      this.#chunks.push(chunk);
      this.#queued += chunk.length;
      if (this.#queued > HIGH_WATER && !this.#paused) {
        this.#paused = true;
        socket.pause();
      }
      this.#ends.wakeReader();
    });
  }

  /** Reads what has arrived, waiting for the next chunk when nothing has. */
  async read(buf: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (await this.#ends.atEnd()) return null;
    }
    let n = 0;
    while (n < buf.length && this.#chunks.length > 0) {
      const c = this.#chunks[0];
      const take = Math.min(buf.length - n, c.length - this.#pos);
      buf.set(c.subarray(this.#pos, this.#pos + take), n);
      n += take;
      this.#pos += take;
      if (this.#pos === c.length) {
        this.#chunks.shift();
        this.#pos = 0;
      }
    }
    this.#took(n);
    return n;
  }

  /** The next chunk as the socket delivered it, without a copy; null at the end. */
  readChunk(): Promise<Uint8Array | null> | Uint8Array | null {
    if (this.#chunks.length === 0) return this.#waitChunk();
    let c = this.#chunks.shift()!;
    if (this.#pos > 0) {
      c = c.subarray(this.#pos);
      this.#pos = 0;
    }
    this.#took(c.length);
    return c;
  }

  async #waitChunk(): Promise<Uint8Array | null> {
    while (this.#chunks.length === 0) {
      if (await this.#ends.atEnd()) return null;
    }
    return this.readChunk();
  }

  #took(n: number): void {
    this.#queued -= n;
    if (this.#paused && this.#queued <= HIGH_WATER >> 1) {
      this.#paused = false;
      this.#socket.resume();
    }
  }

  /** Writes all of `buf`; resolves when the socket has taken it (the caller reuses `buf`). */
  write(buf: Uint8Array): Promise<number> {
    return this.#ends.write(buf);
  }

  /** Destroys the socket at once. */
  close(): void {
    this.#ends.close();
  }

  /** Disables Nagle's algorithm. */
  setNoDelay(noDelay = true): void {
    this.#socket.setNoDelay(noDelay);
  }
}

/**
 * What both adapters of an accepted Node.js socket track of its end: whether
 * it ended (the peer's end, its close, or ours), its first error, and the
 * reader waiting for either; writes and closing go through the socket.
 *
 * @example
 * ```ts ignore
 * import { SocketState } from "./node_stream.ts";
 * const state = new SocketState(socket); // listens for 'end', 'close' and 'error'
 * while (!haveData()) if (await state.atEnd()) break; // woken by wakeReader() or the end
 * ```
 */
export class SocketState {
  readonly #socket: Socket;
  /** Whether the stream ended: no more bytes will come. */
  ended = false;
  /** The socket's (or the read path's) first error. */
  error: unknown;
  #wake?: () => void;
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;

  /** Watches `socket`'s end, close and errors. */
  constructor(socket: Socket) {
    this.#socket = socket;
    this.remoteAddr = {
      transport: "tcp",
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.on("end", () => this.end());
    socket.on("close", () => this.end());
    socket.on("error", (e: unknown) => this.fail(e));
  }

  /** Marks the end and wakes the reader. */
  end(): void {
    this.ended = true;
    this.wakeReader();
  }

  /** Keeps the first error and wakes the reader. */
  fail(e: unknown): void {
    this.error ??= e;
    this.wakeReader();
  }

  /** Wakes a reader waiting in `atEnd` (bytes came, or the end). */
  wakeReader(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  /**
   * For a reader that found no bytes: throws the error, resolves true at the
   * end, or waits until woken and resolves false (look for bytes again).
   */
  async atEnd(): Promise<boolean> {
    if (this.error !== undefined) throw this.error;
    if (this.ended) return true;
    await new Promise<void>((r) => this.#wake = r);
    return false;
  }

  /** Writes `buf`; resolves with its length once the socket has taken it. */
  write(buf: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) {
        reject(this.error ?? new Error("socket closed"));
        return;
      }
      this.#socket.write(buf, (e?: Error | null) => e ? reject(e) : resolve(buf.length));
    });
  }

  /** Destroys the socket at once; the reader sees the end. */
  close(): void {
    this.ended = true;
    this.#socket.destroy();
    this.wakeReader();
  }
}
