import { deepEqual, equal, notEqual, ok } from "node:assert/strict";
import fc from "fast-check";
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

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

Deno.test("PackedCopies: a full slab comes back once every copy in it is released, and is filled again", () => {
  const copies = new PackedCopies(128, 4); // four copies of 32 bytes a slab
  const first = [1, 2, 3, 4].map((f) => copies.copy(bytes(32, f)));
  equal(new Set(first.map((c) => c.buffer)).size, 1, "packed in one slab");
  const next = copies.copy(bytes(32, 5)); // it is full: a second one
  notEqual(next.buffer, first[0].buffer);
  for (const c of first.slice(0, 3)) copies.release(c);
  equal(copies.spares, 0, "one copy still holds the first slab");
  deepEqual([...first[3]], [...bytes(32, 4)]);
  copies.release(first[3]);
  equal(copies.spares, 1);
  copies.release(next); // the slab copies still go into: nothing comes back yet
  equal(copies.spares, 1);
  for (let f = 6; f <= 8; f++) copies.release(copies.copy(bytes(32, f))); // fills the second slab
  // Leaving the second slab, all released, keeps it; the next copy goes into a kept slab.
  const third = copies.copy(bytes(32, 9));
  ok([first[0].buffer, next.buffer].includes(third.buffer), "no fresh slab");
  equal(copies.spares, 1);
});

Deno.test("PackedCopies: a copy held twice needs two releases; extra releases change nothing", () => {
  const copies = new PackedCopies(256, 4);
  const a = copies.copy(bytes(64, 7));
  copies.hold(a);
  for (let i = 0; i < 4; i++) copies.release(copies.copy(bytes(64, i))); // leaves a's slab
  copies.release(a);
  equal(copies.spares, 0);
  copies.release(a);
  equal(copies.spares, 1);
  copies.release(a);
  copies.release(a);
  equal(copies.spares, 1, "a slab is kept once, however often a copy in it is released");
});

Deno.test("PackedCopies: a copy never released keeps its slab from coming back; large copies stand alone", () => {
  const copies = new PackedCopies(160, 4);
  const kept = copies.copy(bytes(40, 9));
  for (let i = 0; i < 100; i++) copies.release(copies.copy(bytes(40, i)));
  deepEqual([...kept], [...bytes(40, 9)]);
  const large = copies.copy(bytes(41, 5)); // over a quarter of a slab
  equal(large.byteOffset, 0);
  equal(large.buffer.byteLength, 41);
  copies.hold(large);
  copies.release(large); // not one of the slabs': ignored
  copies.release(new Uint8Array(8)); // nor anything else
});

Deno.test("PackedCopies: any order of copies, holds and releases leaves every held copy's bytes as copied", () => {
  // An op: 0 copy (of `n` bytes), 1 hold a live copy, 2 release a held one.
  const op = fc.record({
    kind: fc.integer({ min: 0, max: 2 }),
    n: fc.integer({ min: 1, max: 30 }),
    pick: fc.nat(),
  });
  fc.assert(
    fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
      const copies = new PackedCopies(96, 3); // copies over 24 bytes stand alone
      // Held copies, once per hold, with the bytes each must keep.
      const held: { copy: Uint8Array; want: number[] }[] = [];
      let fill = 0;
      for (const { kind, n, pick } of ops) {
        if (kind === 0 || held.length === 0) {
          const want = bytes(n, ++fill & 0xff);
          held.push({ copy: copies.copy(want), want: [...want] });
        } else if (kind === 1) {
          const h = held[pick % held.length];
          copies.hold(h.copy);
          held.push({ copy: h.copy, want: h.want });
        } else {
          const [h] = held.splice(pick % held.length, 1);
          copies.release(h.copy);
        }
        for (const h of held) deepEqual([...h.copy], h.want);
        ok(copies.spares <= 3);
      }
    }),
    { numRuns: 300 },
  );
});
