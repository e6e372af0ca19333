import assert from "node:assert/strict";
import fc from "fast-check";
import { ContentLog } from "./content_log.ts";

Deno.test("content log: live contents read back whole while acked ones are released", () => {
  // Contents of up to 1.2 MB (some larger than a chunk), released from the
  // front as a channel's acks would; the live ones must read back intact.
  fc.assert(
    fc.property(
      fc.array(
        fc.tuple(
          fc.oneof(fc.nat(200), fc.nat(1_200_000)),
          fc.nat(255),
          fc.nat(4),
        ),
        { minLength: 1, maxLength: 25 },
      ),
      (steps) => {
        const log = new ContentLog();
        const live: { at: number; n: number; fill: number }[] = [];
        for (const [n, fill, acks] of steps) {
          live.splice(0, Math.min(acks, live.length));
          log.release(live[0]?.at ?? log.next);
          const at = log.begin(n);
          log.buf.fill(fill, log.at, log.at + n);
          live.push({ at, n, fill });
          for (const c of live) {
            const got = log.get(c.at);
            assert.equal(got.length, c.n);
            assert.ok(got.every((b) => b === c.fill));
          }
        }
      },
    ),
    { numRuns: 20 },
  );
});

Deno.test("content log: chunks of acked contents are dropped", () => {
  const log = new ContentLog();
  const bytes = new Uint8Array(1000).fill(1);
  const positions: number[] = [];
  for (let i = 0; i < 5_000; i++) positions.push(log.append(bytes, 0, bytes.length));
  assert.ok(log.chunks >= 4, `5 MB in chunks of 1 MiB: ${log.chunks}`);
  log.release(positions[4_000]); // a consumer acked 4,000 of them
  assert.ok(log.chunks <= 2, `chunks left: ${log.chunks}`);
  assert.deepEqual(log.get(positions[4_999]), bytes);
  log.release(log.next); // all acked
  assert.equal(log.chunks, 1);
  const at = log.append(bytes, 0, 10);
  assert.deepEqual(log.get(at), bytes.subarray(0, 10));
});

Deno.test("content log: chunks an ack released take the next contents while writes go on", () => {
  const log = new ContentLog();
  const bytes = new Uint8Array(48).fill(5);
  // 13 MiB of 48-byte contents (the puts between two acks at ~500k/s).
  const used = new Set<Uint8Array>();
  let at = 0;
  while (used.size < 14) {
    at = log.append(bytes, 0, bytes.length);
    used.add(log.buf);
  }
  log.release(at); // all but the last content acked: 13 chunks released
  const fresh = new Set<Uint8Array>();
  let reused = 0;
  while (reused + fresh.size < 13) {
    const before = log.buf;
    log.append(bytes, 0, bytes.length);
    if (log.buf === before) continue;
    if (used.has(log.buf)) reused++;
    else fresh.add(log.buf);
  }
  assert.equal(reused, 13);
  assert.deepEqual(log.get(at), bytes);
});
