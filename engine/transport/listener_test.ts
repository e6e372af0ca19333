import assert from "node:assert/strict";
import { createServer, type Server } from "node:tls";
import { listenTcp } from "./listener.ts";
import type { TcpConnection } from "./tcp.ts";
import { dialTls, loadCertificateTls } from "./tls.ts";
import { type TlsWrapStream, wrapTlsSocket } from "./tls_wrap_stream.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const tls = loadCertificateTls({
  certificate: `${DIR}node.pem`,
  key: `${DIR}node.key`,
  cafile: `${DIR}ca.pem`,
});

const dial = (port: number) => dialTls("127.0.0.1", port, tls);

/** Bytes no two positions of which are likely to repeat in step with chunk boundaries. */
function pattern(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Writes `bytes` in writes of varying size, without waiting for the TLS handshake first. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0, k = 0;
  while (off < bytes.length) {
    const size = [1, 7, 300, 16_384, 70_000, 256 * 1024][k++ % 6];
    off += await conn.write(bytes.subarray(off, Math.min(bytes.length, off + size)));
  }
}

/** Accepts one TLS connection through `listenTcp`, sends `bytes` to it and collects what it reads. */
async function receiveThrough(
  bytes: Uint8Array,
  fastTlsReads: boolean | undefined,
  slow = false,
): Promise<{ got: Uint8Array; readPath: string; closeError: unknown }> {
  const accepted = Promise.withResolvers<TcpConnection>();
  const l = await listenTcp(
    { host: "127.0.0.1", port: 0, tls, tlsHandshakeTimeoutMs: 10_000, fastTlsReads },
    { admit: () => true, accepted: (c) => accepted.resolve(c), abandoned: () => {} },
  );
  const client = await dial(l.port);
  const sending = writeAll(client, bytes).then(() => client.closeWrite());
  const conn = await accepted.promise;
  const got = new Uint8Array(bytes.length);
  let n = 0, calls = 0;
  const closed = Promise.withResolvers<unknown>();
  conn.start({
    onBytes: (chunk) => {
      got.set(chunk, n);
      n += chunk.length;
      // A slow reader now and then: the chunks pile up behind it.
      if (slow && calls++ % 4 === 0) return new Promise((r) => setTimeout(r, 20));
    },
    onClose: (e) => closed.resolve(e),
  });
  await sending;
  const closeError = await closed.promise;
  client.close();
  await l.close();
  assert.equal(n, bytes.length);
  return { got, readPath: conn.readPath, closeError };
}

/**
 * The Deno minor release whose internals the native TLS wrap path was built
 * against: there the listener must take it, and these tests fail if it does
 * not. Another Deno may lack those internals; the listener then falls back
 * to 'data' events, and the tests check the bytes either way.
 */
const FAST_PATH_EXPECTED = /^2\.9\./.test(Deno.version.deno);

function assertReadPath(readPath: string): void {
  if (FAST_PATH_EXPECTED) assert.equal(readPath, "tls-wrap");
  else assert.ok(readPath === "tls-wrap" || readPath === "node-data", readPath);
}

/** A `node:tls` server whose first socket is wrapped as the listener does it: in 'secureConnection'. */
async function wrappingServer(): Promise<
  { server: Server; accepted: Promise<TlsWrapStream | undefined> }
> {
  const accepted = Promise.withResolvers<TlsWrapStream | undefined>();
  const server = createServer(
    { cert: tls.cert, key: tls.key },
    (s) => accepted.resolve(wrapTlsSocket(s)),
  );
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { server, accepted: accepted.promise };
}

Deno.test("TLS listener: on Deno 2.9, accepted sockets are read through the native TLS wrap", async () => {
  const bytes = pattern(3 * 1024 * 1024 + 17, 1);
  const { got, readPath, closeError } = await receiveThrough(bytes, undefined);
  // If Deno's internals change, the listener falls back to 'data' events;
  // this test is what notices that the fast path is gone.
  assertReadPath(readPath);
  assert.deepEqual(got, bytes);
  assert.equal(closeError, undefined, "the peer's close is a clean end");
});

Deno.test("TLS listener: a reader that falls behind gets every byte in order (ring full, reads paused)", async () => {
  const bytes = pattern(8 * 1024 * 1024 + 5, 2);
  const { got, readPath } = await receiveThrough(bytes, true, true);
  assertReadPath(readPath);
  assert.deepEqual(got, bytes);
});

Deno.test("TLS listener: connections read at the same time keep their own bytes (one shared ciphertext buffer)", async () => {
  const sent = [pattern(2 * 1024 * 1024, 6), pattern(2 * 1024 * 1024 + 1, 7), pattern(70_000, 8)];
  const results = await Promise.all(sent.map((b) => receiveThrough(b, true)));
  results.forEach((r, i) => assert.deepEqual(r.got, sent[i]));
});

Deno.test("TLS listener: what an accepted connection sends arrives whole (writes go out 64 KiB at a time)", async () => {
  const accepted = Promise.withResolvers<TcpConnection>();
  const l = await listenTcp(
    { host: "127.0.0.1", port: 0, tls, tlsHandshakeTimeoutMs: 10_000 },
    { admit: () => true, accepted: (c) => accepted.resolve(c), abandoned: () => {} },
  );
  const client = await dial(l.port);
  const conn = await accepted.promise;
  assertReadPath(conn.readPath);
  conn.start({ onBytes: () => {}, onClose: () => {} });
  const frames = [pattern(300_000, 9), pattern(5, 10), pattern(1024 * 1024, 11)];
  for (const f of frames) conn.send(f);
  const want = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  frames.reduce((off, f) => (want.set(f, off), off + f.length), 0);
  const got = new Uint8Array(want.length);
  let n = 0;
  while (n < got.length) {
    const k = await client.read(got.subarray(n));
    if (k === null) break;
    n += k;
  }
  assert.deepEqual(got, want);
  conn.close();
  client.close();
  await l.close();
});

Deno.test("TLS listener: with fastTlsReads off, the socket's 'data' events carry the same bytes", async () => {
  const bytes = pattern(1024 * 1024 + 3, 3);
  const { got, readPath } = await receiveThrough(bytes, false);
  assert.equal(readPath, "node-data");
  assert.deepEqual(got, bytes);
});

Deno.test({
  name:
    "TLS wrap stream: stops taking ciphertext while its ring is full, resumes when read, then sees the close",
  // Deno internals: only where the wrap path was built (elsewhere the listener falls back).
  ignore: !FAST_PATH_EXPECTED,
  fn: async () => {
    const { server, accepted } = await wrappingServer();
    const client = await dial((server.address() as { port: number }).port);
    await client.handshake();
    const stream = await accepted;
    assert.ok(stream, "this Deno has the native TLS wrap");
    const bytes = pattern(4 * 1024 * 1024, 4);
    const sending = writeAll(client, bytes).then(() => client.closeWrite());
    // Nobody reads: more than the ring holds arrives, and reading pauses.
    while (!stream.stalled) await new Promise((r) => setTimeout(r, 10));
    const got = new Uint8Array(bytes.length);
    let n = 0;
    for (let c = await stream.readChunk(); c !== null; c = await stream.readChunk()) {
      got.set(c, n);
      n += c.length;
    }
    await sending;
    assert.equal(n, bytes.length);
    assert.deepEqual(got, bytes);
    assert.equal(stream.stalled, false);
    stream!.close();
    client.close();
    await new Promise((r) => server.close(r));
  },
});

Deno.test({
  name: "TLS wrap stream: read() copies across chunk boundaries; writes reach the peer",
  // Deno internals: only where the wrap path was built (elsewhere the listener falls back).
  ignore: !FAST_PATH_EXPECTED,
  fn: async () => {
    const { server, accepted } = await wrappingServer();
    const client = await dial((server.address() as { port: number }).port);
    const bytes = pattern(200_000, 5);
    const sending = writeAll(client, bytes);
    const stream = await accepted;
    assert.ok(stream);
    const got = new Uint8Array(bytes.length);
    const buf = new Uint8Array(1000);
    let n = 0;
    while (n < bytes.length) {
      const k = await stream.read(buf);
      if (k === null) break;
      got.set(buf.subarray(0, k), n);
      n += k;
    }
    await sending;
    assert.deepEqual(got.subarray(0, n), bytes);
    assert.equal(await stream.write(new Uint8Array([9, 8, 7])), 3);
    const back = new Uint8Array(8);
    assert.equal(await client.read(back), 3);
    assert.deepEqual(back.subarray(0, 3), new Uint8Array([9, 8, 7]));
    stream.close();
    client.close();
    await new Promise((r) => server.close(r));
  },
});
