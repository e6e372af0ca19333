/**
 * A faster read path for a `node:tls` socket (accepted or dialled) on Deno 2.9's
 * native TLS wrap. Through the socket's `'data'` events every TCP read of
 * ciphertext and every batch of decrypted bytes becomes a freshly allocated
 * `ArrayBuffer` (64 KiB each); on this VM the page faults and copies into
 * that new memory took most of a receiver's CPU (`perf`: half of its
 * samples in page faults and memmove; `bench/tls_raw.ts`: 5-6 ms of CPU per
 * MB received in a new process, 1-3.5 once malloc has warmed up, against
 * 0.7-0.9 through `Deno.listenTls`, 0.6-1.0 here). Here, after
 * the TLS handshake, both layers read into memory we keep reusing: the TCP
 * handle reads ciphertext into one buffer (Node's `onread.buffer`,
 * `useUserBuffer`) that is handed straight to the TLS wrap, and the TLS
 * wrap copies plaintext into regions of a ring, which are the chunks the
 * connection reads.
 *
 * The pieces (`socket._handle`, its `_nativeTcpHandle`, `receive`,
 * `emitEof`, `useUserBuffer`, the shared `streamBaseState` array that
 * carries each read's length) are Deno internals, not public API:
 * `wrapTlsSocket` checks for every one of them and returns undefined when
 * any is missing, and the listener then keeps `NodeSocketStream`. The
 * listener's test fails when this path is no longer taken.
 *
 * @module
 */
import process from "node:process";
import type { TLSSocket } from "node:tls";
import { type ByteStream, SocketState } from "./node_stream.ts";

/** What we use of a native handle (the TLS wrap, or the TCP handle under it). */
interface NativeStreamHandle {
  onread: (arg?: unknown) => unknown;
  readStart(): number;
  readStop(): number;
  useUserBuffer(buf: Uint8Array): void;
}

interface NativeTlsHandle extends NativeStreamHandle {
  receive(data: Uint8Array): void;
  emitEof(): void;
  _nativeTcpHandle?: NativeStreamHandle & { unref?(): void };
}

/** libuv's UV_EOF: the read length that means the peer closed. */
const UV_EOF = -4095;
/** Ciphertext per TCP read (Deno's default slab is 64 KiB). */
const CIPHER_READ = 256 * 1024;
/** Plaintext ring: chunks live here until the reader has taken them. */
const RING = 512 * 1024;
/** Largest plaintext region handed to the TLS wrap at once. */
const REGION = 128 * 1024;
/** Below this much free room the ring counts as full (reads pause). */
const MIN_REGION = 16 * 1024;
/** Largest write handed to the socket at once. */
const WRITE_MAX = 64 * 1024;
/** Queue entries already read that are dropped at once (when the queue never empties). */
const COMPACT_AT = 256;

/** The length array native reads report through, or undefined where Deno has none. */
function readLengths(): { state: Int32Array; index: number } | undefined {
  try {
    const binding = (process as unknown as { binding?: (n: string) => unknown }).binding?.(
      "stream_wrap",
    ) as { streamBaseState?: unknown; kReadBytesOrError?: unknown } | undefined;
    const state = binding?.streamBaseState, index = binding?.kReadBytesOrError;
    if (state instanceof Int32Array && typeof index === "number") return { state, index };
  } catch {
    // no process.binding, or no stream_wrap
  }
  return undefined;
}

let lengths: { state: Int32Array; index: number } | undefined | null = null;

/**
 * One ciphertext buffer for every connection: the TLS wrap copies a read in
 * (`receive`) before the read's callback returns, and callbacks never nest.
 */
let cipher: Uint8Array | undefined;

function isHandle(h: unknown, ...methods: string[]): boolean {
  if (typeof h !== "object" || h === null) return false;
  const o = h as Record<string, unknown>;
  return methods.every((m) => typeof o[m] === "function");
}

/**
 * Takes over the reads of a `node:tls` socket whose handshake is done, or
 * returns undefined (nothing touched) when this Deno lacks what it needs.
 * Call it in the server's `'secureConnection'` handler (a dialled socket's
 * `'secureConnect'`): a socket left to
 * itself pauses once 64 KiB are buffered, and Deno 2.9.6 then loses what
 * it decrypts next if the peer closes meanwhile (seen with 200 kB and a
 * close: 65,536 bytes arrived, then the end).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { createServer } from "node:tls";
 * import { type TlsWrapStream, wrapTlsSocket } from "./tls_wrap_stream.ts";
 * const dir = new URL("../../fixtures/tls/", import.meta.url).pathname;
 * const cert = Deno.readTextFileSync(`${dir}node.pem`);
 * const key = Deno.readTextFileSync(`${dir}node.key`);
 * const accepted = Promise.withResolvers<TlsWrapStream | undefined>();
 * const server = createServer({ cert, key }, (s) => accepted.resolve(wrapTlsSocket(s)));
 * server.listen(0, "127.0.0.1");
 * await new Promise((r) => server.once("listening", r));
 * const port = (server.address() as { port: number }).port;
 * const client = await Deno.connectTls({
 *   hostname: "127.0.0.1",
 *   port,
 *   caCerts: [Deno.readTextFileSync(`${dir}ca.pem`)],
 * });
 * await client.handshake();
 * const stream = await accepted.promise;
 * // Undefined only on a Deno without the native TLS wrap (the listener then uses 'data').
 * if (stream) {
 *   await client.write(new Uint8Array([1, 2, 3]));
 *   const chunk = await stream.readChunk();
 *   equal(chunk?.length, 3);
 *   stream.close();
 * }
 * client.close();
 * await new Promise((r) => server.close(r));
 * ```
 */
export function wrapTlsSocket(socket: TLSSocket): TlsWrapStream | undefined {
  lengths ??= readLengths();
  const tls = (socket as unknown as { _handle?: unknown })._handle as NativeTlsHandle | undefined;
  const tcp = tls?._nativeTcpHandle;
  const methods = ["readStart", "readStop", "useUserBuffer"];
  if (
    !lengths || !isHandle(tls, ...methods, "receive", "emitEof") || !isHandle(tcp, ...methods) ||
    typeof tls!.onread !== "function" || typeof tcp!.onread !== "function"
  ) {
    return undefined;
  }
  return new TlsWrapStream(socket, tls!, tcp!, lengths);
}

/**
 * An accepted TLS socket read through reused buffers (see the module
 * comment); writes and closing still go through the socket.
 */
export class TlsWrapStream implements ByteStream {
  readonly #socket: TLSSocket;
  readonly #tls: NativeTlsHandle;
  readonly #tcp: NativeStreamHandle & { unref?(): void };
  readonly #state: Int32Array;
  readonly #index: number;
  readonly #cipher = cipher ??= new Uint8Array(CIPHER_READ);
  readonly #ring = new Uint8Array(RING);
  /** Chunks not yet read, oldest first; `#chunkEnd[i]`: where chunk i ends in the ring, or -1 (own memory). */
  #chunks: Uint8Array[] = [];
  #chunkEnd: number[] = [];
  #head = 0;
  /** Ring spans still in use (queued, or the chunk the reader holds), oldest first. */
  #starts: number[] = [];
  #spanHead = 0;
  /** Where the next plaintext lands in the ring. */
  #w = 0;
  /** Where the region handed to the TLS wrap starts (-1: the overflow buffer). */
  #region = 0;
  #overflow?: Uint8Array;
  /** Whether the reader holds a ring chunk it has not given back. */
  #holding = false;
  #stalled = false;
  readonly #ends: SocketState;
  /** While the constructor empties the socket's stream: plaintext that came after it. */
  #late?: [Uint8Array, number][];
  /** The peer's address. */
  readonly remoteAddr: Deno.NetAddr;
  /** Which read path this is (the listener's tests check it). */
  readonly via = "tls-wrap";

  /** Use `wrapTlsSocket`, which checks that the handles have what this needs. */
  constructor(
    socket: TLSSocket,
    tls: NativeTlsHandle,
    tcp: NativeStreamHandle & { unref?(): void },
    lengths: { state: Int32Array; index: number },
  ) {
    this.#socket = socket;
    this.#tls = tls;
    this.#tcp = tcp;
    this.#state = lengths.state;
    this.#index = lengths.index;
    // The end of the stream before we took over reads arrives the old way.
    this.#ends = new SocketState(socket);
    this.remoteAddr = this.#ends.remoteAddr;
    // Plaintext the wrap holds back from here on comes to us (into the ring);
    // it is newer than what the socket's stream has buffered, so it waits in
    // #late while that is taken out.
    tls.readStop();
    tls.useUserBuffer(this.#ring.subarray(0, REGION));
    tls.onread = () => this.#onPlain();
    this.#late = [];
    for (let b = socket.read(); b !== null; b = socket.read()) {
      this.#push(new Uint8Array(b.buffer, b.byteOffset, b.byteLength).slice(), -1);
    }
    const late = this.#late;
    this.#late = undefined;
    for (const [c, end] of late) this.#push(c, end);
    tls.readStart();
    tcp.onread = () => this.#onCipher();
    // A native handle picks up a new onread and buffer only on a fresh readStart.
    tcp.readStop();
    tcp.useUserBuffer(this.#cipher);
    if (!this.#ends.ended) tcp.readStart();
  }

  /** Whether reading is paused because the reader is a full ring behind. */
  get stalled(): boolean {
    return this.#stalled;
  }

  #onCipher(): void {
    if (this.#socket.destroyed) return;
    const n = this.#state[this.#index];
    if (n > 0) {
      // The wrap copies the bytes in before this returns: the buffer is free again.
      this.#tls.receive(this.#cipher.subarray(0, n));
    } else if (n < 0) {
      this.#tcp.readStop();
      this.#tcp.unref?.();
      this.#tls.emitEof();
    }
  }

  #onPlain(): void {
    const n = this.#state[this.#index];
    if (n > 0) {
      if (this.#region < 0) {
        this.#push(this.#overflow!.slice(0, n), -1);
      } else {
        const start = this.#region;
        this.#w = start + n;
        this.#starts.push(start);
        this.#push(this.#ring.subarray(start, this.#w), this.#w);
      }
      this.#nextRegion();
    } else if (n < 0) {
      if (n !== UV_EOF) this.#ends.error ??= new Error(`TLS read failed (${n})`);
      this.#ends.end();
    }
  }

  #push(chunk: Uint8Array, end: number): void {
    if (this.#late) {
      this.#late.push([chunk, end]);
      return;
    }
    this.#chunks.push(chunk);
    this.#chunkEnd.push(end);
    this.#ends.wakeReader();
  }

  /** Points the TLS wrap at free ring memory, or at the overflow buffer (and pauses) when there is none. */
  #nextRegion(): void {
    const start = this.#free();
    if (start >= 0) {
      this.#region = start;
      const oldest = this.#spanHead < this.#starts.length ? this.#starts[this.#spanHead] : -1;
      const limit = oldest >= start ? oldest : RING;
      this.#tls.useUserBuffer(this.#ring.subarray(start, Math.min(start + REGION, limit)));
      return;
    }
    // The reader is behind: no more ciphertext until it catches up; what the
    // wrap still decrypts from the last read goes to memory of its own.
    this.#region = -1;
    this.#tls.useUserBuffer(this.#overflow ??= new Uint8Array(REGION));
    if (!this.#stalled) {
      this.#stalled = true;
      this.#tcp.readStop();
    }
  }

  /** The start of a free region of at least MIN_REGION, or -1. */
  #free(): number {
    const w = this.#w;
    if (this.#spanHead >= this.#starts.length) return 0;
    const oldest = this.#starts[this.#spanHead];
    if (oldest < w) {
      // In use: [oldest, w). Free: [w, RING) and [0, oldest).
      if (RING - w >= MIN_REGION) return w;
      return oldest >= MIN_REGION ? 0 : -1;
    }
    // Wrapped: in use [oldest, RING) and [0, w). Free: [w, oldest).
    return oldest - w >= MIN_REGION ? w : -1;
  }

  /** Gives the ring chunk the reader held back, and resumes reading once there is room. */
  #release(): void {
    if (this.#holding) {
      this.#holding = false;
      this.#spanHead++;
      if (this.#spanHead === this.#starts.length) {
        this.#starts = [];
        this.#spanHead = 0;
      } else if (this.#spanHead >= COMPACT_AT) {
        this.#starts.splice(0, this.#spanHead);
        this.#spanHead = 0;
      }
    }
    if (this.#stalled && this.#free() >= 0 && !this.#ends.ended) {
      this.#stalled = false;
      this.#nextRegion();
      if (!this.#stalled) this.#tcp.readStart();
    }
  }

  /** The next chunk, without a copy (valid until the next read); null at the end. */
  readChunk(): Promise<Uint8Array | null> | Uint8Array | null {
    this.#release();
    if (this.#head === this.#chunks.length) return this.#waitChunk();
    const c = this.#chunks[this.#head];
    this.#holding = this.#chunkEnd[this.#head] >= 0;
    if (++this.#head === this.#chunks.length) {
      this.#chunks = [];
      this.#chunkEnd = [];
      this.#head = 0;
    } else if (this.#head >= COMPACT_AT) {
      // A reader that stays behind never empties the queue: drop what it has read.
      this.#chunks.splice(0, this.#head);
      this.#chunkEnd.splice(0, this.#head);
      this.#head = 0;
    }
    return c;
  }

  async #waitChunk(): Promise<Uint8Array | null> {
    while (this.#head === this.#chunks.length) {
      if (await this.#ends.atEnd()) return null;
    }
    return this.readChunk();
  }

  #rest?: Uint8Array;

  /** Copies what has arrived into `buf` (waiting for the next chunk when nothing has). */
  async read(buf: Uint8Array): Promise<number | null> {
    let c = this.#rest;
    this.#rest = undefined;
    if (c === undefined) {
      const next = await this.readChunk();
      if (next === null) return null;
      c = next;
    }
    const n = Math.min(buf.length, c.length);
    buf.set(c.subarray(0, n));
    if (n < c.length) this.#rest = c.subarray(n);
    return n;
  }

  /**
   * Writes up to 64 KiB of `buf`; resolves with the count once the socket
   * has taken it (the caller writes the rest next, and may reuse `buf`).
   */
  write(buf: Uint8Array): Promise<number> {
    // The wrap copies each write into fresh memory twice (cleartext, then
    // records); at 256 KiB that memory came from brk/mmap every time and the
    // sender's CPU per MB was ~1.5x that of 64 KiB writes.
    const part = buf.length > WRITE_MAX ? buf.subarray(0, WRITE_MAX) : buf;
    return this.#ends.write(part);
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
