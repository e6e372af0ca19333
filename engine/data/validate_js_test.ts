// The JS validator against WASM's on sets and tables of every type: what it
// accepts, WASM accepts with the same extent and nothing to re-sort.
import assert from "node:assert/strict";
import { WasmCodec } from "../../codec-wasm/mod.ts";
import {
  addr,
  bool,
  count,
  enumValue,
  integer,
  none,
  port,
  real,
  str,
  subnet,
  timestamp,
  vector,
} from "./constructors.ts";
import { encode } from "./encode.ts";
import type { Data } from "./types.ts";
import { validateInJs } from "./validate_js.ts";

/** A set or table of `items` in the order given (no sorting), as raw bytes. */
function rawContainer(tag: 12 | 13, items: Data[]): Uint8Array {
  const parts = items.flatMap((d) => tag === 13 ? [encode(d), encode(none())] : [encode(d)]);
  return new Uint8Array([tag, items.length, ...parts.flatMap((p) => [...p])]);
}

function wasm(bytes: Uint8Array): { extent: number; unsorted: boolean } {
  const c = WasmCodec.shared();
  return { extent: c.validate(c.load(bytes), 128), unsorted: c.unsorted() };
}

const PAIRS: [Data, Data][] = [
  [count(1n), count(2n)],
  [count(255n), count(256n)],
  [str("a"), str("b")],
  [str("ab"), str("abc")],
  [str("b"), str("ab")],
  [enumValue("x"), enumValue("y")],
  [addr("10.0.0.1"), addr("10.0.0.2")],
  [addr("10.0.0.1"), addr("::1")],
  [subnet("10.0.0.0/8"), subnet("10.0.0.0/16")],
  [port(80, "tcp"), port(80, "udp")],
  [port(80, "icmp"), port(443, "tcp")],
  [integer(-1n), integer(1n)],
  [timestamp(-5n), timestamp(5n)],
  [real(-1), real(1)],
  [bool(false), bool(true)],
  [count(1n), str("a")],
  [vector(count(1n)), vector(count(2n))],
];

Deno.test("sets and tables of every type: the JS validator accepts only what WASM accepts as sorted", () => {
  let accepted = 0;
  for (const [a, b] of PAIRS) {
    for (const items of [[a, b], [b, a], [a, a]]) {
      for (const tag of [12, 13] as const) {
        const bytes = rawContainer(tag, items);
        const js = validateInJs(bytes, 128, 1 << 20);
        const w = wasm(bytes);
        if (js >= 0) {
          accepted++;
          assert.deepStrictEqual(w, { extent: js, unsorted: false }, `${tag} ${bytes}`);
        }
        // A repeat is never accepted here (WASM reports it).
        if (items[0] === items[1]) assert.equal(js, -1);
      }
    }
  }
  // The orderable types in order are accepted (not everything left to WASM).
  assert.ok(accepted >= 20, `${accepted} accepted`);
});

Deno.test("limits: depth, budget, truncation, bad tags and ports go to WASM", () => {
  const deep = (n: number) =>
    new Uint8Array([...new Array(n).fill(0).flatMap(() => [0x0e, 0x01]), 0]);
  assert.equal(validateInJs(deep(3), 3, 1 << 20), 7);
  assert.equal(validateInJs(deep(4), 3, 1 << 20), -1);
  assert.equal(validateInJs(deep(3), 128, 3), -1); // 4 values
  assert.equal(validateInJs(new Uint8Array([0x02, 0, 0]), 128, 1 << 20), -1);
  assert.equal(validateInJs(new Uint8Array([0x0f]), 128, 1 << 20), -1);
  assert.equal(validateInJs(new Uint8Array([0x08, 0, 80, 4]), 128, 1 << 20), -1);
  assert.equal(validateInJs(new Uint8Array([0x08, 0, 80, 3]), 128, 1 << 20), 4);
  assert.equal(validateInJs(new Uint8Array([]), 128, 1 << 20), -1);
  assert.equal(validateInJs(new Uint8Array([0x05, 0x81, 0x00, 0x61]), 128, 1 << 20), 4);
  assert.equal(
    validateInJs(new Uint8Array([0x05, 0x80, 0x80, 0x80, 0x80, 0x10]), 128, 1 << 20),
    -1,
  );
});
