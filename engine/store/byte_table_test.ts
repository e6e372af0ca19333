import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteTable, type ByteTableOptions } from "./byte_table.ts";

const text = (b: Uint8Array) => Array.from(b).join(",");
/** `i` as 4 big-endian bytes. */
const u32 = (i: number) => new Uint8Array([i >>> 24, i >>> 16, i >>> 8, i]);
/** A 5-byte key: a tag byte, then `i` as 4 big-endian bytes. */
const key5 = (i: number) => new Uint8Array([2, ...u32(i)]);

/**
 * Runs `ops` on a table (made with `options`) and on a Map
 * model; they must agree throughout: after each op, on the size and on the
 * key it touched.
 */
function agree(ops: [string, Uint8Array, Uint8Array][], options?: ByteTableOptions): void {
  const t = new ByteTable(options);
  const model = new Map<string, Uint8Array>();
  for (const [op, k, v] of ops) {
    const key = text(k);
    if (op === "set") {
      // Keys and values given as spans inside larger buffers, as commands carry them.
      const buf = new Uint8Array(3 + k.length + v.length);
      buf.set(k, 3);
      buf.set(v, 3 + k.length);
      const added = t.set(buf, 3, 3 + k.length, buf, 3 + k.length, buf.length);
      assert.equal(added, !model.has(key));
      model.set(key, v);
    } else {
      assert.equal(t.delete(k, 0, k.length), model.delete(key));
    }
    assert.equal(t.size, model.size);
    const at = t.find(k, 0, k.length);
    if (model.has(key)) assert.equal(text(t.valueAt(at)), text(model.get(key)!));
    else assert.equal(at, -1);
  }
  for (const [key, v] of model) {
    const k = new Uint8Array(key === "" ? [] : key.split(",").map(Number));
    const at = t.find(k, 0, k.length);
    assert.ok(at >= 0, `key ${key} is there`);
    assert.equal(text(t.keyAt(at)), key);
    assert.equal(text(t.valueAt(at)), text(v));
  }
  const listed = Array.from(t.records(), (at) => text(t.keyAt(at))).sort();
  assert.deepEqual(listed, [...model.keys()].sort());
  // Room for every live key and value (a snapshot copies them into it): never too little.
  const live = Array.from(t.records(), (at) => t.keyAt(at).length + t.valueAt(at).length)
    .reduce((a, b) => a + b, 0);
  assert.ok(t.entryBytesBound >= live, `room for ${t.entryBytesBound} bytes, ${live} live`);
}

/**
 * `agree` on random ops over keys 0 to `keys` (two bytes each) and values
 * of up to `valueBytes` bytes: sets three times in four, else deletes.
 */
function agreeOnRandomOps(keys: number, valueBytes: number, options: ByteTableOptions): void {
  const key = fc.integer({ min: 0, max: keys }).map((i) => new Uint8Array([i >> 8, i & 255]));
  const op = fc.tuple(
    fc.constantFrom("set", "set", "set", "delete"),
    key,
    fc.uint8Array({ maxLength: valueBytes }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 300, maxLength: 1500 }), (ops) => agree(ops, options)),
    { numRuns: 100 },
  );
}

Deno.test("byte table: sets, replacements and deletes agree with a Map", () => {
  // Few distinct keys: replacements (same and other lengths) and deletes are common.
  const key = fc.uint8Array({ maxLength: 3 }).map((b) => b.map((x) => x % 4));
  const op = fc.tuple(
    fc.constantFrom("set", "set", "delete"),
    key,
    fc.uint8Array({ maxLength: 6 }),
  );
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), (ops) => agree(ops)), { numRuns: 300 });
});

Deno.test("byte table: writes and lookups while the index grows agree with a Map", () => {
  // Two slots at first and a few hundred keys: the index grows many times,
  // and most ops land while entries are still being moved from the old one.
  agreeOnRandomOps(400, 4, { slots: 2 });
});

Deno.test("byte table: a lookup finds every key at every step of a growth", () => {
  const t = new ByteTable({ slots: 4 });
  for (let i = 0; i < 5_000; i++) {
    const key = key5(i);
    assert.equal(t.set(key, 0, 5, key, 1, 5), true);
    // Every key so far, after each write: the ones not yet moved are looked up in the old index.
    if (i % 97 === 0 || (i & (i - 1)) === 0) {
      for (let j = 0; j <= i; j++) assert.ok(t.find(key5(j), 0, 5) >= 0, `key ${j} after ${i}`);
      assert.equal(t.records().length, i + 1);
    }
  }
  // Deletes find keys in either index too.
  for (let i = 0; i < 5_000; i += 2) assert.equal(t.delete(key5(i), 0, 5), true);
  assert.equal(t.size, 2_500);
  for (let i = 0; i < 5_000; i++) assert.equal(t.find(key5(i), 0, 5) >= 0, i % 2 === 1);
});

Deno.test("byte table: with no compaction under way, the room for the entries is their exact size", () => {
  const t = new ByteTable({ slots: 2 });
  let live = 0;
  for (let i = 0; i < 3_000; i++) {
    const key = key5(i);
    t.set(key, 0, 5, key, 0, 1 + (i % 5)); // chunks fill up, and their tails are left over
    live += 5 + 1 + (i % 5);
  }
  const shorter = new Uint8Array([9]);
  for (let i = 0; i < 3_000; i += 3) {
    assert.equal(t.delete(key5(i + 1), 0, 5), true);
    t.set(key5(i), 0, 5, shorter, 0, 1); // another length: the old record dies
    live -= 5 + 1 + ((i + 1) % 5) + (i % 5);
  }
  assert.equal(t.entryBytesBound, live);
});

Deno.test("byte table: the memory of an index it grew out of holds the next records", () => {
  const t = new ByteTable();
  const v = new Uint8Array(32).fill(7); // 8 + 5 + 32 bytes a record
  // 68,000 keys: the index grew from 131,072 slots (1 MiB) to twice that
  // at 65,537 keys, and the moves ended a 64th of its slots' count later.
  for (let i = 0; i < 68_000; i++) t.set(key5(i), 0, 5, v, 0, v.length);
  const held = t.byteLength;
  // Until the next growth (at 131,073 keys) the old index's MiB, counted in
  // `byteLength` already, takes the next chunk of records: the bytes held
  // change only once the chunk being filled and that MiB are full.
  let i = 68_000;
  while (t.byteLength === held && i < 131_000) {
    t.set(key5(i), 0, 5, v, 0, v.length);
    i++;
  }
  const records = i - 68_000;
  assert.ok(records * 45 > 1 << 20, `${records} records before new bytes`);
  // Every record, in the chunk that was index memory or not, reads back.
  for (let j = 0; j < i; j++) assert.equal(t.valueAt(t.find(key5(j), 0, 5)).length, 32);
  assert.equal(t.records().length, i);
});

Deno.test("byte table: an index size that is not a power of two is refused", () => {
  assert.throws(() => new ByteTable({ slots: 3 }), RangeError);
});

Deno.test("byte table: writes and lookups while records are compacted agree with a Map", () => {
  // 64 dead bytes start a compaction: replacements of other lengths and
  // deletes start one every few ops, and each takes many writes to finish,
  // often while the index grows too.
  agreeOnRandomOps(300, 12, { slots: 2, compactAfter: 64, step: 2 });
});

Deno.test("byte table: compaction gives the dead records' chunks back, a few slots per write", () => {
  const t = new ByteTable({ compactAfter: 1024 });
  for (let i = 0; i < 20_000; i++) t.set(key5(i), 0, 5, key5(i), 0, 5);
  const full = t.byteLength;
  // Every value replaced by one of another length, five times over: without
  // compaction the chunks would hold six copies of every record.
  for (let round = 1; round <= 5; round++) {
    const v = new Uint8Array(5 + round);
    for (let i = 0; i < 20_000; i++) t.set(key5(i), 0, 5, v, 0, v.length);
  }
  assert.ok(t.byteLength < full * 3, `${t.byteLength} bytes held, ${full} before the replacements`);
  for (let i = 0; i < 20_000; i++) assert.equal(t.valueAt(t.find(key5(i), 0, 5)).length, 10);
  assert.equal(t.records().length, 20_000);
});

Deno.test("byte table: the index grows while records are being compacted", () => {
  // New keys, and replacements of other lengths three times as many: a
  // compaction runs most of the time, so the index's growths begin in the
  // middle of them.
  const ops: [string, Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 20_000; i++) {
    ops.push(["set", u32(i), u32(i)]);
    for (let j = 1; j <= 3; j++) {
      ops.push(["set", u32((i * j) >>> 2), new Uint8Array(1 + ((i + j) % 40))]);
    }
  }
  agree(ops, { slots: 8, compactAfter: 256, step: 1 });
});

Deno.test("byte table: grows its index and arena, and compacts after many replacements", () => {
  const ops: [string, Uint8Array, Uint8Array][] = [];
  for (let i = 0; i < 20_000; i++) ops.push(["set", u32(i), u32(i)]);
  // Values of a new length: every record moves, and the dead ones pass half the arena.
  for (let i = 0; i < 20_000; i++) ops.push(["set", u32(i), new Uint8Array(i % 7)]);
  for (let i = 0; i < 20_000; i += 3) ops.push(["delete", u32(i), new Uint8Array()]);
  for (let i = 0; i < 5_000; i++) ops.push(["set", u32(i), u32(~i)]);
  agree(ops);
});
