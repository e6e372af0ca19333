import { equal } from "node:assert/strict";
import fc from "fast-check";
import {
  count,
  type Data,
  encode,
  integer,
  real,
  set,
  str,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { validateForLater } from "../engine/data/validate.ts";
import { dataMessageUtf8 } from "../engine/websocket/json_cache.ts";
import { adjacent, dataMessageFrame, directStats } from "../engine/websocket/json_direct.ts";
import { anyData } from "./arbitrary.ts";
import { goldenData, goldenZeek, hex, unhex } from "./fixtures.ts";

/** The payload of one unmasked server frame, checking its header on the way. */
function framePayload(f: Uint8Array): Uint8Array {
  equal(f[0], 0x81);
  let len = f[1], off = 2;
  if (len === 126) {
    len = (f[2] << 8) | f[3];
    off = 4;
    if (len < 126) throw new Error("16-bit length for a short frame");
  } else if (len === 127) {
    len = Number(new DataView(f.buffer, f.byteOffset + 2, 8).getBigUint64(0));
    off = 10;
    if (len < 65536) throw new Error("64-bit length for a short frame");
  }
  equal(f.length, off + len);
  return f.subarray(off);
}

/** Compares the direct frame with the old path for one message (validated as on arrival, and not). */
function same(topic: string, payload: Uint8Array): void {
  const expected = hex(dataMessageUtf8({ topic, payload }));
  const validated = { topic, payload, unsorted: validateForLater(payload) };
  equal(hex(framePayload(dataMessageFrame(validated))), expected);
  equal(hex(framePayload(dataMessageFrame({ topic, payload }))), expected);
}

const topics = fc.oneof(
  fc.constantFrom("/t", "/bench/out", 'a"b\\c\n\u0008', "ü/\u{1f600}"),
  fc.string({ maxLength: 30 }),
);

Deno.test("direct JSON frames are byte for byte the old path's, for any value and topic", () => {
  fc.assert(
    fc.property(topics, anyData, (topic, v) => same(topic, encode(v).slice())),
    { numRuns: 3000 },
  );
});

Deno.test("direct JSON frames: reals, including printf's ties to even and -0", () => {
  const ties = Array.from({ length: 400 }, (_, k) => (2 * k + 1 - 400) / 128);
  const edges = [0, -0, 1e-7, 5e-7, -5e-7, 0.0000005, 1e20, 9.99e20, 1e21, -1e21, 2 ** 70, 1 / 3];
  for (const x of [...ties, ...edges, NaN, Infinity, -Infinity]) same("/r", encode(real(x)));
  fc.assert(
    fc.property(fc.double(), fc.integer({ min: -30, max: 30 }), (x, e) => {
      same("/r", encode(real(x)));
      same("/r", encode(real(x * 10 ** e)));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("direct JSON frames: 64-bit counts, integers, timestamps and timespans", () => {
  const u64 = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    fc.bigInt({ min: 0n, max: 1n << 54n }),
    fc.constantFrom(0n, (1n << 53n) - 1n, 1n << 53n, (1n << 64n) - 1n),
  );
  const i64 = fc.oneof(
    fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
    fc.bigInt({ min: -(1n << 54n), max: 1n << 54n }),
    // Dates from the year 0 to 9999 and around the epoch, in ns.
    fc.bigInt({ min: -62_167_219_200_000_000_000n, max: 253_402_300_799_999_999_999n })
      .filter((n) => n >= -(1n << 63n) && n < 1n << 63n),
    fc.bigInt({ min: -10_000_000_000n, max: 10_000_000_000n }),
    fc.constantFrom(-(1n << 63n), (1n << 63n) - 1n, -1n, -1_500_000_000n, -(1n << 53n)),
  );
  fc.assert(
    fc.property(u64, i64, (c, i) => {
      same("/n", encode(count(c)));
      same("/n", encode(integer(i)));
      same("/n", encode(timestamp(i)));
      same("/n", encode(timespan(i)));
      same("/n", encode(timespan(i * 1000n % (1n << 63n))));
    }),
    { numRuns: 5000 },
  );
});

Deno.test("direct JSON frames: Broker's golden vectors, and Broker's own JSON where it is UTF-8", () => {
  const text = new TextDecoder("utf-8", { fatal: true });
  for (const g of [...goldenData(), ...goldenZeek()]) {
    const payload = unhex(g.hex);
    same("/g", payload);
    const body = framePayload(dataMessageFrame({ topic: "/g", payload }));
    let json: string | undefined;
    try {
      json = g.json_text === null ? undefined : text.decode(unhex(hex(body)));
    } catch {
      // not UTF-8: both paths write U+FFFD where Broker copies the bytes
    }
    if (json !== undefined && g.json_text !== null) {
      equal(json, `{"type":"data-message","topic":"/g",${g.json_text.slice(1)}`, g.name);
    }
  }
});

Deno.test("direct JSON frames fall back for sets to re-sort and text that is not UTF-8", () => {
  const before = { ...directStats };
  // A set whose elements arrive out of Broker's order: the bytes of {"b", "a"}.
  const sorted = encode(set(str("a"), str("b")));
  const a = sorted.slice(2, 5), b = sorted.slice(5, 8);
  const unsorted = new Uint8Array([...sorted.subarray(0, 2), ...b, ...a]);
  same("/s", unsorted);
  same("/s", encode(str(new Uint8Array([0x61, 0xff, 0x62]))));
  same("/s", encode(vector(str(new Uint8Array([0xed, 0xa0, 0x80])))));
  equal(directStats.fallback - before.fallback >= 6, true);
});

Deno.test("direct JSON frames: consecutive frames are adjacent, long ones get 16- and 64-bit lengths", () => {
  const values: Data[] = [count(1n), str("x".repeat(200)), str("y".repeat(70_000)), count(2n)];
  let prev: Uint8Array | undefined;
  let adjacentPairs = 0;
  for (const v of values) {
    const payload = encode(v).slice();
    const f = dataMessageFrame({ topic: "/l", payload, unsorted: false });
    equal(hex(framePayload(f)), hex(dataMessageUtf8({ topic: "/l", payload })));
    if (prev && adjacent(prev, f)) adjacentPairs++;
    prev = f;
  }
  equal(adjacentPairs >= 2, true);
});
