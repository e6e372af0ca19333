import { equal } from "node:assert/strict";
import fc from "fast-check";
import {
  addr,
  Address,
  bool,
  count,
  type Data,
  dataToJson,
  decode,
  encode,
  enumValue,
  integer,
  none,
  port,
  real,
  str,
  Subnet,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../../mod.ts";
import { anyData, dataWith, portData, realData, v4Address } from "../../tests/arbitrary.ts";
import { JSON_MAX_EXPANSION, JSON_WASM_MAX_INPUT, writeJsonMembers } from "./json_wasm.ts";
import { WasmCodec } from "../../codec-wasm/mod.ts";
import { validateForLater } from "./validate.ts";

const dec = new TextDecoder("utf-8", { fatal: true });

/** For `WasmCodec.json` calls on values without reals. */
const noReals = () => -1;

/** What the codec wrote for `payload` (after a byte it must keep), or undefined when it declined. */
function wasmMembers(payload: Uint8Array): string | undefined {
  const out = new Uint8Array(JSON_MAX_EXPANSION * payload.length + 32).fill(0xee);
  const n = writeJsonMembers(payload, out, 1);
  if (n < 0) return undefined;
  equal(out[0], 0xee, "the byte before `at` is kept");
  return dec.decode(out.subarray(1, 1 + n));
}

/** The JS writer's members of the same value: its JSON without the opening brace. */
function jsMembers(payload: Uint8Array): string {
  return dataToJson(decode(payload, { maxDepth: 1000 })).slice(1);
}

const MIN_NS = -(1n << 63n);
const MAX_NS = (1n << 63n) - 1n;
const i64 = fc.bigInt({ min: MIN_NS, max: MAX_NS });
const ns = fc.oneof(
  i64,
  fc.bigInt({ min: -(10n ** 13n), max: 10n ** 13n }),
  fc.constantFrom(MIN_NS, MAX_NS, 0n, -1n, 1n, -999_999n, -1_000_000n, -1_000_001n),
);
/** Text with every escape, quotes and backslashes at every offset of an eight-byte step, and non-ASCII. */
const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.array(
    fc.constantFrom(
      "a",
      '"',
      "\\",
      "\b",
      "\t",
      "\n",
      "\v",
      "\f",
      "\r",
      "\x00",
      "\x1f",
      "\x7f",
      "é",
      "😀",
    ),
    {
      maxLength: 24,
    },
  ).map((cs) => cs.join("")),
);

/** Every value the codec writes itself: IPv4 addresses only. */
const written = dataWith(fc.oneof(
  fc.constant(none()),
  fc.boolean().map(bool),
  fc.oneof(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), fc.bigInt({ min: 0n, max: 1n << 33n }))
    .map(count),
  i64.map(integer),
  realData,
  text.map(str),
  text.map(enumValue),
  v4Address.map(addr),
  fc.tuple(v4Address, fc.nat(32)).map(([a, n]) => subnet(Subnet.of(a, n))),
  portData,
  ns.map(timestamp),
  fc.oneof(i64, fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }).map((x) => x * 1000n))
    .map(timespan),
));

Deno.test("WASM JSON: every value without IPv6 addresses is written, as the JS writer writes it", () => {
  fc.assert(
    fc.property(written, (v) => {
      const payload = encode(v).slice();
      equal(wasmMembers(payload), jsMembers(payload));
    }),
    { numRuns: 4000 },
  );
});

Deno.test("WASM JSON: any value is written as the JS writer writes it, or declined", () => {
  fc.assert(
    fc.property(anyData, (v) => {
      const payload = encode(v).slice();
      const got = wasmMembers(payload);
      if (got !== undefined) equal(got, jsMembers(payload));
    }),
    { numRuns: 3000 },
  );
});

Deno.test("WASM JSON: 64-bit edges, the first and last timestamps, each timespan unit", () => {
  const values = [
    count(0n),
    count((1n << 32n) - 1n),
    count(1n << 32n),
    count(9_999_999_999n),
    count(10_000_000_000n),
    count((1n << 64n) - 1n),
    integer(-(1n << 63n)),
    integer((1n << 63n) - 1n),
    integer(-1n),
    timestamp(MIN_NS),
    timestamp(MAX_NS),
    timestamp(-1n),
    timestamp(-1_500_000n),
    timestamp(1_700_000_000_123_456_789n),
    timestamp(951_782_400_000_000_000n), // 2000-02-29
    ...[-1n, -86_399n, -86_400n, -86_401n, -1_000_000_000n].map((s) =>
      timestamp(s * 1_000_000_000n)
    ),
    ...[0n, 1n, -1n, 1000n, -1000n, 1_000_000n, 3_140_000_000n, 60_000_000_000n, -(1n << 63n)]
      .map(timespan),
    subnet(Subnet.parse("10.0.0.0/8")),
    subnet(Subnet.parse("0.0.0.0/0")),
    port(0, "unknown"),
    port(65535, "icmp"),
    str(""),
    str("12345678"),
    str('1234567"'),
    str("\\2345678"),
    str("abcdefgh\u0008ijklmnop\r"),
    str("\u00ff\u00ff\u00ff\u00ff"),
    // The first and last characters of each UTF-8 length, where the checks change.
    str("\u0080\u07ff\u0800\ud7ff\ue000\uffff\u{10000}\u{10ffff}"),
    table([[str("k"), vector()]]),
  ];
  for (const v of values) {
    const payload = encode(v).slice();
    equal(wasmMembers(payload), jsMembers(payload), dataToJson(v));
  }
});

Deno.test("WASM JSON: reals as the JS writer formats them: printf's ties to even, -0, the edges", () => {
  const ties = Array.from({ length: 400 }, (_, k) => (2 * k + 1 - 400) / 128);
  const edges = [0, -0, 1e-7, 5e-7, -5e-7, 1e20, 9.99e20, 1e21, -1e21, 2 ** 70, 1e300, -1.7e308];
  for (const x of [...ties, ...edges, NaN, Infinity, -Infinity, 1 / 3]) {
    const payload = encode(vector(real(x), count(1n))).slice();
    equal(wasmMembers(payload), jsMembers(payload), String(x));
  }
  fc.assert(
    fc.property(fc.double(), fc.integer({ min: -30, max: 30 }), (x, e) => {
      for (const y of [x, x * 10 ** e]) {
        const payload = encode(real(y)).slice();
        equal(wasmMembers(payload), jsMembers(payload), String(y));
      }
    }),
    { numRuns: 3000 },
  );
});

Deno.test("WASM JSON: a real's text gets only the room left, and one that does not fit is declined", () => {
  const c = WasmCodec.shared();
  const len = c.load(encode(vector(count(1n), real(1e300), count(2n))).slice());
  for (let cap = 256; cap < 1024; cap += 16) {
    let asked = false;
    const n = c.json(len, cap, (_hi, _lo, out, room) => {
      asked = true;
      equal(out + room <= c.jsonOut + cap, true, `room ${room} past the cap ${cap}`);
      return room >= 310 ? 310 : -1; // as long as 1e300's text
    });
    equal(asked, true);
    equal(n === -1 || n > 310, true, `cap ${cap}`);
  }
});

Deno.test("WASM JSON: declines IPv6, bad UTF-8 and malformed input", () => {
  const declined = [
    addr(Address.parse("::1")),
    subnet(Subnet.parse("2001:db8::/32")),
  ];
  for (const v of declined) equal(wasmMembers(encode(v).slice()), undefined, dataToJson(v));
  const bad = [
    [0x05, 0x02, 0xc3, 0x28], // a broken two-byte sequence
    [0x05, 0x03, 0xed, 0xa0, 0x80], // a surrogate
    [0x05, 0x02, 0xc0, 0x80], // overlong
    [0x05, 0x02, 0xc1, 0xbf], // overlong
    [0x05, 0x03, 0xe0, 0x9f, 0xbf], // overlong, three bytes
    [0x05, 0x04, 0xf0, 0x8f, 0xbf, 0xbf], // overlong, four bytes
    [0x05, 0x04, 0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    [0x05, 0x04, 0xf5, 0x80, 0x80, 0x80], // no such lead byte
    [0x05, 0x01, 0x80], // a lone continuation byte
    [0x05, 0x02, 0xe1, 0x80], // a sequence cut short
    [0x05, 0x03, 0xe1, 0x80, 0x41], // a continuation byte that is not one
    [0x05, 0x05, 0x61], // text past the end
    [0x02, 0, 0, 0], // a truncated count
    [0x0f], // no such tag
    [0x08, 0x00, 0x50, 0x04], // port protocol 4
    [0x0e, 0x02, 0x00], // a vector one element short
    [0x00, 0x00], // trailing bytes
    [0x0e, 0x85, 0x80, 0x80, 0x80, 0x80, 0x01], // a length over 32 bits
  ];
  for (const b of bad) equal(wasmMembers(new Uint8Array(b)), undefined, b.join());
  // Nesting past 200 levels is left to the JS writer.
  const deep = (n: number): Data => n === 0 ? count(1n) : vector(deep(n - 1));
  equal(wasmMembers(encode(deep(200)).slice()), jsMembers(encode(deep(200)).slice()));
  equal(wasmMembers(encode(deep(201)).slice()), undefined);
});

Deno.test("WASM JSON: a text that would not fit the room given is declined, and nothing past it is written", () => {
  const c = WasmCodec.shared();
  const payload = encode(vector(...Array.from({ length: 20 }, () => str("x".repeat(50))))).slice();
  const len = c.load(payload);
  const full = c.json(len, JSON_MAX_EXPANSION * len + 256, noReals);
  equal(full > 0, true);
  const cap = full + 32; // less than the 64-byte margin the codec keeps
  c.u8.fill(0xee, c.jsonOut + cap, c.jsonOut + cap + 64);
  equal(c.json(len, cap, noReals), -1);
  equal(c.u8.subarray(c.jsonOut + cap, c.jsonOut + cap + 64).every((b) => b === 0xee), true);
});

Deno.test("WASM JSON: with any room, a deep value's closing brackets stay inside it", () => {
  const c = WasmCodec.shared();
  const deep = (n: number): Data => n === 0 ? count(1n) : vector(deep(n - 1));
  const len = c.load(encode(deep(150)).slice());
  const full = c.json(len, JSON_MAX_EXPANSION * len + 256, noReals);
  equal(full > 300, true);
  for (let cap = 256; cap < full + 300; cap += 7) {
    c.u8.fill(0xee, c.jsonOut + cap, c.jsonOut + cap + 512);
    const n = c.json(len, cap, noReals);
    // Declined, or all of it; always all of it with the room documented.
    equal(n === -1 || n === full, true, `room ${cap}`);
    if (cap >= full + 256) equal(n, full, `room ${cap}`);
    equal(c.u8.subarray(c.jsonOut + cap, c.jsonOut + cap + 512).every((b) => b === 0xee), true);
  }
});

Deno.test("WASM JSON: a payload over JSON_WASM_MAX_INPUT is left to the JS writer, and memory does not grow for it", () => {
  const c = WasmCodec.shared();
  const fits = encode(str("x".repeat(JSON_WASM_MAX_INPUT - 8))).slice();
  equal(fits.length <= JSON_WASM_MAX_INPUT, true);
  equal(wasmMembers(fits), jsMembers(fits));
  const before = c.u8.length;
  const over = encode(str("x".repeat(JSON_WASM_MAX_INPUT))).slice();
  equal(wasmMembers(over), undefined);
  equal(c.u8.length, before);
});

Deno.test("WASM JSON: text that would not fit in the caller's buffer is declined, and the buffer untouched", () => {
  const payload = encode(vector(str("abc"), count(7n))).slice();
  const text = jsMembers(payload);
  for (const room of [text.length - 1, text.length, text.length + 1]) {
    const out = new Uint8Array(room + 8).fill(0xee);
    const n = writeJsonMembers(payload, out, 8);
    equal(n, room >= text.length ? text.length : -1, `room ${room}`);
    if (n < 0) equal(out.every((b) => b === 0xee), true);
  }
});

Deno.test("WASM JSON: any bytes: no throw, nothing past the room, and text only for well-formed values", () => {
  const bytes = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    // Mutated encodings reach deeper than random bytes.
    fc.tuple(anyData, fc.nat(), fc.nat(255)).map(([v, at, b]) => {
      const e = encode(v).slice();
      if (e.length > 0) e[at % e.length] = b;
      return e;
    }),
  );
  fc.assert(
    fc.property(bytes, (b) => {
      const out = new Uint8Array(JSON_MAX_EXPANSION * b.length + 64).fill(0xee);
      const n = writeJsonMembers(b, out, 0);
      equal(out.subarray(Math.max(0, n)).every((x) => x === 0xee), true, "nothing past the text");
      if (n < 0) return;
      // The codec does not check the order of set elements and table keys
      // (its callers hand it sorted values); every other flaw is a decline.
      let unsorted: boolean;
      try {
        unsorted = validateForLater(b, { maxDepth: 1000 });
      } catch (e) {
        equal(String(e).includes("duplicate"), true, `text for a malformed value: ${e}`);
        return;
      }
      if (!unsorted) equal(dec.decode(out.subarray(0, n)), jsMembers(b));
    }),
    { numRuns: 5000 },
  );
});
