import { deepEqual, equal, ok } from "node:assert/strict";
import { PackedCopies } from "./packed_copies.ts";

Deno.test("PackedCopies: every copy keeps its bytes, packed in slabs, large ones alone", () => {
  const copies = new PackedCopies(32 * 1024);
  const slab = new Uint8Array(64 * 1024);
  const made: { copy: Uint8Array; want: number[] }[] = [];
  let seed = 7;
  for (let i = 0; i < 2000; i++) {
    seed = (seed * 48271) % 2147483647;
    const n = i % 97 === 0 ? 9000 + (seed % 3000) : seed % 1500;
    for (let k = 0; k < n; k++) slab[k] = (i + k) & 0xff;
    const frame = slab.subarray(0, n);
    made.push({ copy: copies.copy(frame), want: Array.from(frame) });
    slab.fill(0xaa, 0, n); // the slab is written again at once
  }
  const buffers = new Set<ArrayBufferLike>();
  for (const { copy, want } of made) {
    deepEqual(Array.from(copy), want);
    ok(copy.buffer.byteLength <= 32 * 1024 || copy.byteLength === copy.buffer.byteLength);
    buffers.add(copy.buffer);
  }
  // Packed: far fewer buffers than frames.
  ok(buffers.size < made.length / 5, `${buffers.size} buffers for ${made.length} frames`);
  equal(made.filter((m) => m.copy.byteLength > 8192).length, 21);
});
