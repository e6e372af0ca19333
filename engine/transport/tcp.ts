/**
 * TCP transport: moves bytes and nothing else. Reads go to a callback in
 * socket-sized chunks; writes are queued, coalesced into large writes, and
 * bounded, so a slow peer cannot make us buffer without limit.
 *
 * @module
 */

/** Where a connection's bytes and end go. */
export interface ConnectionHandler {
  /**
   * A chunk arrived. It is valid until this call returns or its promise
   * settles (the read buffer is reused): keep copies, not views. Returning a
   * promise pauses reading until it settles (back-pressure).
   */
  onBytes(chunk: Uint8Array): void | Promise<void>;
  /** The connection ended; `error` is set when it failed rather than closed. */
  onClose(error?: unknown): void;
}

/** Address of a peer. */
export interface NetAddress {
  /** Host name or IP. */
  host: string;
  /** TCP port. */
  port: number;
}

import { connectTlsStream, dialTls, type TlsMaterial } from "./tls.ts";
import { anonTlsHandshake, PLAIN_PEER } from "./anon_tls_stream.ts";
import type { ByteStream } from "./node_stream.ts";
import { setImmediate } from "node:timers";
import { objectArray } from "../object_array.ts";
import { timerDelay } from "../timer_delay.ts";

const READ_SIZE = 256 * 1024;
/** Longest stretch of back-to-back reads before timers get a turn. */
const READ_SLICE_MS = 10;
const COALESCE_LIMIT = 256 * 1024;
/**
 * Frames that touch, from the queue's head, are written as one view (no
 * copy into the write buffer) when they are all that is queued or at least
 * this many bytes. Shorter runs (a slab's end, a frame from elsewhere
 * between) are copied with what follows: a write per short run cost more
 * in system calls than the copies saved.
 */
const MIN_RUN_BYTES = 64 * 1024;

/**
 * One TCP connection: a read loop feeding a handler and a coalescing write queue.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { TcpConnection } from "./tcp.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = new TcpConnection(await Deno.connect({ port: listener.addr.port }));
 * const server = new TcpConnection(await listener.accept());
 * const received = Promise.withResolvers<Uint8Array>();
 * server.start({ onBytes: (b) => received.resolve(b.slice()), onClose: () => {} });
 * conn.send(new Uint8Array([0, 0, 0, 1, 7]));
 * deepEqual(await received.promise, new Uint8Array([0, 0, 0, 1, 7]));
 * conn.close();
 * server.close();
 * listener.close();
 * ```
 */
export class TcpConnection {
  readonly #conn: ByteStream;
  /** The peer's address. */
  readonly remote: NetAddress;
  #queue: Uint8Array[] = objectArray();
  /** Parallel to #queue: whether an entry may be dropped under overload (data, not control). */
  #droppable: boolean[] = objectArray();
  #queuedBytes = 0;
  #writing = false;
  #closed = false;
  #handler?: ConnectionHandler;
  #drained: (() => void)[] = [];
  #lowWaiters: { frames: number; bytes: number; resolve: () => void }[] = [];
  /** Queued writes someone waits on (`whenWritten`), by identity. */
  #watched?: Map<Uint8Array, () => void>;
  /** Made on the first coalesced write: connections that only handshake never need it. */
  #writeBuffer?: Uint8Array;
  /** A queued view being written as it is (not copied into #writeBuffer). */
  #inFlight?: Uint8Array;
  /** Queued views that touch, being written as one view over them all. */
  #inFlightRun?: Uint8Array[];

  /** Wraps a connected socket (TCP or TLS, Deno's or an adapted Node.js socket). */
  constructor(conn: ByteStream) {
    this.#conn = conn;
    const addr = conn.remoteAddr as Deno.NetAddr;
    this.remote = { host: addr.hostname, port: addr.port };
    try {
      (conn as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    } catch {
      // not a TCP socket (tests may pass other conns)
    }
  }

  /** A tap on everything queued for writing (a recorder); must copy what it keeps. */
  onSend?: (bytes: Uint8Array) => void;

  /**
   * How its bytes are read: `"deno"` (a `Deno.Conn`), or the adapter's path
   * for an accepted `node:tls` socket (`"tls-wrap"`, `"node-data"`).
   */
  get readPath(): string {
    return this.#conn.via ?? "deno";
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued and not yet written. */
  get queuedBytes(): number {
    return this.#queuedBytes;
  }

  /** Writes (frames) queued and not yet taken by the writer. */
  get queuedFrames(): number {
    return this.#queue.length;
  }

  /** Drops the oldest queued droppable write that the writer has not taken yet. */
  dropOldest(): boolean {
    // Usually the head is data: shift() is the cheap path (V8 trims the array in place).
    if (this.#droppable[0]) {
      this.#droppable.shift();
      const dropped = this.#queue.shift()!;
      this.#queuedBytes -= dropped.length;
      this.#done(dropped);
      return true;
    }
    const i = this.#droppable.indexOf(true);
    if (i < 0) return false;
    const [dropped] = this.#queue.splice(i, 1);
    this.#droppable.splice(i, 1);
    this.#queuedBytes -= dropped.length;
    this.#done(dropped);
    return true;
  }

  /** Starts the read loop. */
  start(handler: ConnectionHandler): void {
    this.#handler = handler;
    this.#readLoop();
  }

  async #readLoop(): Promise<void> {
    const readChunk = this.#conn.readChunk?.bind(this.#conn);
    const buf = readChunk ? new Uint8Array(0) : new Uint8Array(READ_SIZE);
    let error: unknown;
    // A failed read is noted, and the loop then ends as at the end of the stream.
    const readFailed = (e: unknown): null => (error = e, null);
    let sliceStart = performance.now();
    try {
      while (!this.#closed) {
        // Reads that find data waiting resolve without an event-loop turn, so a
        // busy peer would starve timers (handshake timeouts, user intervals).
        if (performance.now() - sliceStart > READ_SLICE_MS) {
          await new Promise((r) => setImmediate(r));
          sliceStart = performance.now();
        }
        let chunk: Uint8Array;
        if (readChunk) {
          // The stream's own chunk: no copy into `buf`.
          const c = await readChunk();
          if (c === null) break;
          chunk = c;
        } else {
          // A failed read (the socket closed under it) ends the loop without
          // a throw through it: V8 threw away this loop's optimised code on
          // each such throw, so a node's real connection, after the warm-up
          // connection closed, ran unoptimised until V8 compiled it again
          // during its first ~800 messages.
          const n = await this.#conn.read(buf).catch(readFailed);
          if (n === null) break;
          // One buffer for every read: allocating a chunk per read costs more than the read.
          chunk = buf.subarray(0, n);
        }
        const pending = this.#handler!.onBytes(chunk);
        if (pending) await pending;
      }
    } catch (e) {
      error = e;
    }
    // (#finish ignores it when we closed the socket ourselves.)
    this.#finish(error);
  }

  /**
   * Queues bytes for writing. `droppable` marks data that an overload policy
   * may discard; control messages (the default) are never dropped.
   */
  send(bytes: Uint8Array, droppable = false): void {
    if (this.#closed) return;
    this.onSend?.(bytes);
    this.#queue.push(bytes);
    this.#droppable.push(droppable);
    this.#queuedBytes += bytes.length;
    if (!this.#writing) this.#writeLoop();
  }

  /**
   * Resolves once at most `frames` writes of at most `bytes` bytes (default:
   * any) are queued, or the connection closed.
   */
  below(frames: number, bytes = Infinity): Promise<void> {
    if (this.#low(frames, bytes)) return Promise.resolve();
    return new Promise((resolve) => this.#lowWaiters.push({ frames, bytes, resolve }));
  }

  #low(frames: number, bytes: number): boolean {
    return (this.#queue.length <= frames && this.#queuedBytes <= bytes) || this.#closed;
  }

  #wakeLow(): void {
    if (this.#lowWaiters.length === 0) return;
    this.#lowWaiters = this.#lowWaiters.filter((w) => {
      if (!this.#low(w.frames, w.bytes)) return true;
      w.resolve();
      return false;
    });
  }

  /**
   * Resolves once `bytes`, a view passed to `send`, is written, dropped, or
   * the connection closed, so its memory may be written again; at once when
   * it is not queued. One waiter per view.
   */
  whenWritten(bytes: Uint8Array): Promise<void> {
    const q = this.#queue;
    // Usually just sent: the last entry.
    const pending = q[q.length - 1] === bytes || this.#inFlight === bytes || q.includes(bytes) ||
      this.#inFlightRun?.includes(bytes) === true;
    if (this.#closed || !pending) return Promise.resolve();
    return new Promise((resolve) => (this.#watched ??= new Map()).set(bytes, resolve));
  }

  /** Wakes the waiter on a write that is no longer queued. */
  #done(bytes: Uint8Array): void {
    const w = this.#watched;
    if (w === undefined || w.size === 0) return;
    const resolve = w.get(bytes);
    if (resolve === undefined) return;
    w.delete(bytes);
    resolve();
  }

  /** Resolves when everything queued so far is written (or the connection closed). */
  drained(): Promise<void> {
    if (this.#queuedBytes === 0 || this.#closed) return Promise.resolve();
    return new Promise((resolve) => this.#drained.push(resolve));
  }

  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closed) {
        const q = this.#queue;
        let chunk: Uint8Array;
        // Frames someone waits on (`whenWritten`) are copied, which frees
        // their memory at once: the WebSocket server refills its slabs only
        // once their frames are written, and holding them through the write
        // made it take fresh ones.
        const run = q.length === 1 || this.#watched?.size ? 1 : touching(q);
        const first = q[0], last = q[run - 1];
        const runBytes = last.byteOffset + last.length - first.byteOffset;
        if (run === 1 && (q.length === 1 || first.length >= COALESCE_LIMIT)) {
          chunk = this.#inFlight = q.shift()!;
          this.#droppable.shift();
        } else if (run > 1 && (run === q.length || runBytes >= MIN_RUN_BYTES)) {
          // Frames that touch in one buffer (a builder's values, written one
          // after another) go out as one view over them all, with no copy.
          chunk = new Uint8Array(first.buffer, first.byteOffset, runBytes);
          this.#inFlightRun = q.splice(0, run);
          this.#droppable.splice(0, run);
        } else {
          // Many small frames in different places become one write, through
          // one reused buffer (the next batch is built only after this write
          // completed).
          const buf = this.#writeBuffer ??= new Uint8Array(COALESCE_LIMIT);
          let size = 0, k = 0;
          while (k < q.length && size + q[k].length <= COALESCE_LIMIT) {
            buf.set(q[k], size);
            size += q[k++].length;
          }
          chunk = buf.subarray(0, size);
          // Copied: their memory is free again.
          if (this.#watched?.size) { for (let i = 0; i < k; i++) this.#done(q[i]); }
          q.splice(0, k);
          this.#droppable.splice(0, k);
        }
        // The queue shrank when the chunk was taken: producers may refill while it is written.
        this.#wakeLow();
        let off = 0;
        while (off < chunk.length) off += await this.#conn.write(chunk.subarray(off));
        this.#queuedBytes -= chunk.length;
        // Its bytes are out of the queue only now: waiters on bytes may go.
        this.#wakeLow();
        if (this.#inFlight !== undefined) {
          this.#inFlight = undefined;
          this.#done(chunk);
        } else if (this.#inFlightRun !== undefined) {
          const written = this.#inFlightRun;
          this.#inFlightRun = undefined;
          if (this.#watched?.size) {
            for (let i = 0; i < written.length; i++) this.#done(written[i]);
          }
        }
      }
    } catch (e) {
      this.#finish(e);
    } finally {
      this.#writing = false;
      if (this.#queue.length === 0) { for (const r of this.#drained.splice(0)) r(); }
    }
  }

  /** Closes the socket now (queued bytes that were not written are dropped). */
  close(): void {
    this.#finish(undefined);
  }

  /** Writes what is queued (bounded by `timeoutMs`), then closes. */
  async closeGracefully(timeoutMs = 1000): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.drained(),
      new Promise<void>((r) => timer = setTimeout(r, timerDelay(timeoutMs))),
    ]);
    clearTimeout(timer);
    this.close();
  }

  #finish(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue = objectArray();
    this.#droppable = objectArray();
    this.#queuedBytes = 0;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
    for (const r of this.#drained.splice(0)) r();
    const watched = this.#watched;
    this.#watched = undefined;
    if (watched) { for (const r of watched.values()) r(); }
    this.#wakeLow();
    this.#handler?.onClose(error);
  }
}

/**
 * Connects to a TCP address with a timeout (Broker uses 1 s), over TLS when
 * given the material (the handshake then completes within the timeout too).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectTcp } from "./tcp.ts";
 * const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await connectTcp({ host: "127.0.0.1", port: listener.addr.port }, 1000);
 * equal(conn.remote.port, listener.addr.port);
 * conn.close();
 * (await listener.accept()).close();
 * listener.close();
 * ```
 */
export async function connectTcp(
  addr: NetAddress,
  timeoutMs = 1000,
  tls?: TlsMaterial,
): Promise<TcpConnection> {
  const key = `${addr.host}:${addr.port}`;
  if (tls && !tls.anonymous && stalledTls.has(key)) {
    // node:tls closes a socket mid-handshake; Deno's TLS cannot (below).
    const stream = await connectTlsStream(addr.host, addr.port, tls, timeoutMs).catch((e) => {
      throw withPlainPeerHint(e);
    });
    stalledTls.delete(key);
    return new TcpConnection(stream);
  }
  let timer: ReturnType<typeof setTimeout> | undefined;
  let timedOut = false;
  const plain = () => Deno.connect({ hostname: addr.host, port: addr.port, transport: "tcp" });
  const attempt: Promise<ByteStream> = tls?.anonymous
    // Broker's anonymous mode; its handshake closes the socket at the timeout.
    ? plain().then((c) => anonTlsHandshake(c, "client", timeoutMs))
    : tls
    ? dialTls(addr.host, addr.port, tls).then(async (c) => {
      // The handshake inside the timeout: a refused certificate is a failed dial.
      try {
        await c.handshake();
      } catch (e) {
        c.close();
        throw e;
      }
      return c;
    })
    : plain();
  try {
    const conn = await Promise.race([
      attempt,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          timedOut = true;
          reject(new Error(`connect to ${addr.host}:${addr.port} timed out`));
        }, timerDelay(timeoutMs));
      }),
    ]);
    return new TcpConnection(conn);
  } catch (e) {
    attempt.then((c) => c.close(), () => {});
    // A TLS handshake still pending at the timeout: Deno's TlsConn keeps its
    // socket open until the server answers or closes, whatever close() does,
    // so the next attempts at this address dial on node:tls, which can close
    // it. Deno's TLS stays the first choice: its writes cost a sender about a
    // fifth less CPU a message (event_1 3.6-3.7M msgs/s against 2.9-3.0M).
    if (tls && !tls.anonymous && timedOut) rememberStalled(key);
    throw tls && !tls.anonymous && !timedOut ? withPlainPeerHint(e) : e;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A certificate TLS dial's error, saying what the anonymous dial says
 * (`anon_tls_stream.ts`) when the peer is a listener without SSL. Deno's
 * TLS and node:tls (rustls both) do not hand over the bytes they refused,
 * but name what they found: a first record of no TLS content type (a
 * Broker listener's own first message: ours and broker-node's answer a
 * ClientHello with `00 00 00 05 07 ZEEK`), or the end of the stream before
 * the handshake completed. They said only `received corrupt message of
 * type InvalidContentType` or `unexpected end of file`.
 */
function withPlainPeerHint(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const hint = /InvalidContentType/.test(e.message)
    ? PLAIN_PEER
    : /unexpected end of file|disconnected before secure TLS/.test(e.message)
    ? CLOSED_EARLY
    : "";
  if (!hint) return e;
  const hinted = new Error(`${e.message}${hint}`, { cause: e });
  hinted.name = e.name; // the text stays as it was (`InvalidData: ...`), the hint after it
  return hinted;
}

/**
 * What a certificate TLS dial's error adds when the server closed before the
 * handshake completed. Unlike the anonymous dial (`SILENT_PEER`), rustls does
 * not say whether the server sent anything first, so both causes are named: a
 * listener without SSL closes so, and so does a TLS server that refused us (a
 * Zeek with an X.509 v1 certificate, which rustls cannot use, was one).
 */
const CLOSED_EARLY =
  ", the server closing before the handshake completed (as a listener without SSL may, or a TLS server that refused us)";

/** Addresses whose last TLS handshake did not finish in time (see `connectTcp`), oldest first. */
const stalledTls = new Set<string>();
const MAX_STALLED = 1024;

function rememberStalled(key: string): void {
  stalledTls.delete(key);
  stalledTls.add(key);
  if (stalledTls.size > MAX_STALLED) stalledTls.delete(stalledTls.values().next().value!);
}

/**
 * How many of the queue's first frames lie one after another in one buffer,
 * `COALESCE_LIMIT` bytes at most (the first counts whatever its size).
 */
function touching(q: Uint8Array[]): number {
  const first = q[0], buffer = first.buffer;
  let end = first.byteOffset + first.length, k = 1;
  for (; k < q.length; k++) {
    const f = q[k];
    if (f.buffer !== buffer || f.byteOffset !== end) break;
    if (end + f.length - first.byteOffset > COALESCE_LIMIT) break;
    end += f.length;
  }
  return k;
}
