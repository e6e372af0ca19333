import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { frame, FrameReader } from "./framing.ts";

const payloads = [
  new Uint8Array([0x0c]),
  new Uint8Array(0),
  Uint8Array.from({ length: 300 }, (_, i) => i & 0xff),
  new Uint8Array([7, 0x5a, 0x45, 0x45, 0x4b]),
];
const stream = new Uint8Array(payloads.reduce((n, p) => n + 4 + p.length, 0));
{
  let off = 0;
  for (const p of payloads) {
    stream.set(frame(p), off);
    off += 4 + p.length;
  }
}

function drain(r: FrameReader): Uint8Array[] {
  const out = [];
  for (let f = r.next(); f !== undefined; f = r.next()) out.push(f.slice());
  return out;
}

Deno.test("frame writes a big-endian length prefix", () => {
  assert.deepEqual(frame(new Uint8Array([0x0c])), new Uint8Array([0, 0, 0, 1, 0x0c]));
  assert.deepEqual([...frame(new Uint8Array(0x0304)).subarray(0, 4)], [0, 0, 0x03, 0x04]);
});

Deno.test("many frames in one chunk come back as subarrays of it", () => {
  const r = new FrameReader();
  r.push(stream);
  const got: Uint8Array[] = [];
  for (let f = r.next(); f !== undefined; f = r.next()) got.push(f);
  assert.deepEqual(got, payloads);
  assert.ok(got.filter((f) => f.length > 0).every((f) => f.buffer === stream.buffer));
  assert.equal(r.bufferedBytes, 0);
});

Deno.test("tail is the last frame from an offset on, whole or assembled, over its memory", () => {
  for (const chunk of [stream.length, 7, 1]) {
    const r = new FrameReader({ reuseAssembly: true });
    let n = 0;
    for (let off = 0; off < stream.length; off += chunk) {
      r.push(stream.subarray(off, off + chunk));
      for (let f = r.next(); f !== undefined; f = r.next(), n++) {
        for (const from of [0, 1, f.length].filter((k) => k <= f.length)) {
          const t = r.tail(from);
          assert.deepEqual(t, f.subarray(from), `chunks of ${chunk}, frame ${n}, from ${from}`);
          assert.ok(t.buffer === f.buffer && t.byteOffset === f.byteOffset + from);
        }
      }
      r.compact();
    }
    assert.equal(n, payloads.length);
  }
});

Deno.test("byte-by-byte feeding yields the same frames", () => {
  const r = new FrameReader();
  const got: Uint8Array[] = [];
  for (const b of stream) {
    r.push(new Uint8Array([b]));
    got.push(...drain(r));
  }
  assert.deepEqual(got, payloads);
  assert.equal(r.bufferedBytes, 0);
});

Deno.test("every split point of the stream, pushed before reading", () => {
  for (let cut = 0; cut <= stream.length; cut++) {
    const r = new FrameReader();
    r.push(stream.subarray(0, cut));
    const got = drain(r);
    r.push(stream.subarray(cut));
    got.push(...drain(r));
    assert.deepEqual(got, payloads, `cut at ${cut}`);
  }
});

Deno.test("partial length prefix waits for the rest", () => {
  const r = new FrameReader();
  r.push(new Uint8Array([0, 0]));
  assert.equal(r.next(), undefined);
  assert.equal(r.bufferedBytes, 2);
  r.push(new Uint8Array([0]));
  assert.equal(r.next(), undefined);
  r.push(new Uint8Array([2, 0xaa]));
  assert.equal(r.next(), undefined);
  r.push(new Uint8Array([0xbb, 0, 0, 0]));
  assert.deepEqual(r.next(), new Uint8Array([0xaa, 0xbb]));
  assert.equal(r.next(), undefined);
  assert.equal(r.bufferedBytes, 3);
});

Deno.test("an oversized length throws without allocating, and keeps throwing", () => {
  const r = new FrameReader({ maxFrameSize: 1000 });
  r.push(new Uint8Array([0, 0, 3, 0xe9, 1, 2, 3])); // 1001
  const isOversize = (e: unknown) =>
    e instanceof BrokerError && e.code === ErrorCode.invalid_message && /1001/.test(e.message);
  assert.throws(() => r.next(), isOversize);
  assert.throws(() => r.next(), isOversize);

  const huge = new FrameReader();
  huge.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]));
  assert.throws(() => huge.next(), BrokerError);
});

Deno.test("a frame claiming 16 MiB waits for its bytes", () => {
  const r = new FrameReader({ maxFrameSize: 1 << 24 });
  r.push(new Uint8Array([0x01, 0, 0, 0, 1, 2, 3])); // claims 16 MiB, delivers 3 bytes
  assert.equal(r.next(), undefined);
  assert.equal(r.bufferedBytes, 3);
});

Deno.test("a 3 MiB frame read 64 KiB at a time comes out whole, before and after its buffer takes its full length", () => {
  const n = 3 << 20;
  const payload = new Uint8Array(n);
  for (let i = 0; i < n; i++) payload[i] = (i * 31 + (i >>> 16)) & 0xff;
  const wire = new Uint8Array([...frame(payload), 9, 0, 0, 0]); // and the start of the next frame
  const r = new FrameReader();
  let out: Uint8Array | undefined;
  for (let at = 0; at < wire.length && out === undefined; at += 64 << 10) {
    r.push(wire.subarray(at, Math.min(wire.length, at + (64 << 10))));
    out = r.next();
  }
  assert.ok(out !== undefined);
  assert.equal(out.length, n);
  assert.equal(out.buffer.byteLength, n); // its own buffer, of its exact size
  assert.deepEqual(out, payload);
  assert.equal(r.bufferedBytes, 4);
});

Deno.test("reuseAssembly: frames split at every byte offset come out whole, in order", () => {
  // Frames of 0..40 bytes, each byte derived from its frame and position, so
  // a buffer reused too early would show as a wrong byte.
  const frames: Uint8Array[] = [];
  for (let n = 0; n <= 40; n++) {
    frames.push(Uint8Array.from({ length: n }, (_, i) => (n * 7 + i) & 0xff));
  }
  const stream = new Uint8Array(frames.reduce((a, f) => a + 4 + f.length, 0));
  let o = 0;
  for (const f of frames) {
    stream.set(frame(f), o);
    o += 4 + f.length;
  }
  for (const slice of [1, 2, 3, 5, 7, 13, 64]) {
    const r = new FrameReader({ reuseAssembly: true });
    const read = new Uint8Array(slice); // reused like the transport's read buffer
    const got: Uint8Array[] = [];
    for (let at = 0; at < stream.length; at += slice) {
      const chunk = stream.subarray(at, at + slice);
      read.set(chunk);
      r.push(read.subarray(0, chunk.length));
      // Copied at once: a frame is valid only until the next call of next().
      for (let f = r.next(); f !== undefined; f = r.next()) got.push(f.slice());
      r.compact();
    }
    assert.deepEqual(got, frames, `slices of ${slice}`);
  }
});

Deno.test("reuseAssembly: frames that span chunks share one buffer; without it each has its own", () => {
  const spanning = (reuse: boolean) => {
    const r = new FrameReader({ reuseAssembly: reuse });
    const out: Uint8Array[] = [];
    for (const b of [1, 2]) {
      r.push(new Uint8Array([0, 0, 0, 3, b]));
      assert.equal(r.next(), undefined);
      r.push(new Uint8Array([b, b]));
      out.push(r.next()!);
    }
    return out;
  };
  const [a, b] = spanning(true);
  assert.equal(a.buffer, b.buffer);
  assert.deepEqual(b, new Uint8Array([2, 2, 2]));
  const [c, d] = spanning(false);
  assert.notEqual(c.buffer, d.buffer);
  assert.deepEqual(c, new Uint8Array([1, 1, 1]));
});

Deno.test("TLS bytes read as a length prefix say so: the peer runs TLS where this side does not", () => {
  const tls = new FrameReader({ maxFrameSize: 64 << 20 });
  // A TLS alert (handshake_failure), as an OpenSSL listener answers a plain Broker hello.
  tls.push(new Uint8Array([21, 3, 3, 0, 2, 2, 40]));
  assert.throws(() => tls.next(), /frame of 352518912 bytes .*TLS record: the peer runs TLS/);
  // A ClientHello (record version 3.1), as a TLS dialler's first bytes.
  const hello = new FrameReader({ maxFrameSize: 64 << 20 });
  hello.push(new Uint8Array([22, 3, 1, 1, 33, 1, 0, 1, 29]));
  assert.throws(() => hello.next(), /TLS record/);
  // Any other absurd length does not blame TLS.
  const other = new FrameReader({ maxFrameSize: 64 << 20 });
  other.push(new Uint8Array([0x7f, 0, 0, 0]));
  assert.throws(
    () => other.next(),
    (e: Error) => /exceeds the limit/.test(e.message) && !/TLS/.test(e.message),
  );
});
