import assert from "node:assert/strict";
import fc from "fast-check";
import { ByteTable } from "./byte_table.ts";

const text = (b: Uint8Array) => Array.from(b).join(",");

/** Runs `ops` on a table and on a Map model; they must agree throughout. */
function agree(ops: [string, Uint8Array, Uint8Array][]): void {
  const t = new ByteTable();
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
  fc.assert(fc.property(fc.array(op, { maxLength: 200 }), agree), { numRuns: 300 });
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
