import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteTable } from "./byte_table.ts";

const text = (b: Uint8Array) => Array.from(b).join(",");

/**
 * Runs `ops` on a table (whose index starts with `slots` slots) and on a Map
 * model; they must agree throughout: after each op, on the size and on the
 * key it touched.
 */
function agree(ops: [string, Uint8Array, Uint8Array][], slots?: number): void {
  const t = new ByteTable(slots);
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
  const listed = t.records().map((at) => text(t.keyAt(at))).sort();
  assert.deepEqual(listed, [...model.keys()].sort());
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
  const key = fc.integer({ min: 0, max: 400 }).map((i) => new Uint8Array([i >> 8, i & 255]));
  const op = fc.tuple(
    fc.constantFrom("set", "set", "set", "delete"),
    key,
    fc.uint8Array({ maxLength: 4 }),
  );
  fc.assert(
    fc.property(fc.array(op, { minLength: 300, maxLength: 1500 }), (ops) => agree(ops, 2)),
    {
      numRuns: 100,
    },
  );
});

Deno.test("byte table: a lookup finds every key at every step of a growth", () => {
  const t = new ByteTable(4);
  const k = (i: number) => new Uint8Array([2, i >>> 24, i >>> 16, i >>> 8, i]);
  for (let i = 0; i < 5_000; i++) {
    const key = k(i);
    assert.equal(t.set(key, 0, 5, key, 1, 5), true);
    // Every key so far, after each write: the ones not yet moved are looked up in the old index.
    if (i % 97 === 0 || (i & (i - 1)) === 0) {
      for (let j = 0; j <= i; j++) assert.ok(t.find(k(j), 0, 5) >= 0, `key ${j} after ${i}`);
      assert.equal(t.records().length, i + 1);
    }
  }
  // Deletes find keys in either index too.
  for (let i = 0; i < 5_000; i += 2) assert.equal(t.delete(k(i), 0, 5), true);
  assert.equal(t.size, 2_500);
  for (let i = 0; i < 5_000; i++) assert.equal(t.find(k(i), 0, 5) >= 0, i % 2 === 1);
});

Deno.test("byte table: an index size that is not a power of two is refused", () => {
  assert.throws(() => new ByteTable(3), RangeError);
});

Deno.test("byte table: grows its index and arena, and compacts after many replacements", () => {
  const ops: [string, Uint8Array, Uint8Array][] = [];
  const u32 = (i: number) => new Uint8Array([i >>> 24, i >>> 16, i >>> 8, i]);
  for (let i = 0; i < 20_000; i++) ops.push(["set", u32(i), u32(i)]);
  // Values of a new length: every record moves, and the dead ones pass half the arena.
  for (let i = 0; i < 20_000; i++) ops.push(["set", u32(i), new Uint8Array(i % 7)]);
  for (let i = 0; i < 20_000; i += 3) ops.push(["delete", u32(i), new Uint8Array()]);
  for (let i = 0; i < 5_000; i++) ops.push(["set", u32(i), u32(~i)]);
  agree(ops);
});
