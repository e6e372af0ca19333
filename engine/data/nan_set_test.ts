// A NaN real in a set or table key beside another real, as Broker has it:
// its std::set orders reals by `<`, under which NaN is neither below nor
// above any real, so the two are one element. Broker's set keeps the one
// inserted first and its decoder refuses bytes holding both (checked live:
// broker-node forwards none of {1.0, nan}, {nan, 1.0}, {[1.0], [nan]} and
// a table keyed 1.0 and nan; it forwards {nan}).
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { count, integer, real, set, str, table, vector } from "./constructors.ts";
import { decode } from "./decode.ts";
import { encode } from "./encode.ts";
import { DataBuilder } from "./builder.ts";
import { dataFromJson } from "./json_read.ts";
import { dataToString } from "./text.ts";
import { validate } from "./validate.ts";
import { brokerEquivalent, compare, keepFirstInserted } from "./order.ts";
import type { Data } from "./types.ts";

const NAN = "ffffffffffffffff", ONE = "3ff0000000000000", TWO = "4000000000000000";
const C1 = "0000000000000001";
const unhex = (s: string) =>
  Uint8Array.from(s.replace(/ /g, "").match(/../g)!, (x) => parseInt(x, 16));

Deno.test("set and table keep the real inserted first of a NaN and other reals, as std::set does", () => {
  const cases: [Data, string][] = [
    [set(real(NaN), real(1)), "{nan}"],
    [set(real(1), real(NaN)), "{1.000000}"],
    [set(real(NaN), real(1), real(2)), "{nan}"],
    [set(real(1), real(NaN), real(2)), "{1.000000, 2.000000}"],
    [set(real(2), real(1), real(NaN)), "{1.000000, 2.000000}"],
    [set(real(NaN), real(NaN)), "{nan}"],
    [set(str("a"), real(NaN), count(1n), real(3), integer(-1n)), "{1, -1, nan, a}"],
    [set(vector(real(NaN)), vector(real(1))), "{(nan)}"],
    [set(vector(real(1), count(2n)), vector(real(NaN), count(3n))), "{(1.000000, 2), (nan, 3)}"],
    [table([[real(1), count(1n)], [real(NaN), count(2n)]]), "{1.000000 -> 1}"],
    [table([[real(NaN), count(2n)], [real(1), count(1n)]]), "{nan -> 2}"],
  ];
  for (const [v, text] of cases) {
    assert.equal(dataToString(v), text);
    // Broker's decoder takes what we send, and we read it back the same.
    assert.equal(dataToString(decode(encode(v))), text);
  }
});

Deno.test("encode keeps the first of a NaN and a real in a hand-built set, as Broker would have", () => {
  const v: Data = { type: "set", value: [real(1), real(NaN)] };
  assert.deepStrictEqual(encode(v), encode(set(real(1))));
  const t: Data = { type: "table", value: [[real(NaN), count(1n)], [real(1), count(2n)]] };
  assert.deepStrictEqual(encode(t), encode(table([[real(NaN), count(1n)]])));
});

Deno.test("DataBuilder keeps the first written of a NaN and a real, counted as a repeat", () => {
  const b = new DataBuilder();
  b.beginSet().real(NaN).real(1).end();
  assert.equal(b.repeats, 1);
  assert.deepStrictEqual(b.finish(), encode(set(real(NaN))));
  b.reset().beginSet().real(1).real(2).real(NaN).end();
  assert.equal(b.repeats, 1);
  assert.deepStrictEqual(b.finish(), encode(set(real(1), real(2))));
  b.reset().beginTable().real(NaN).count(1).real(1).count(2).end();
  assert.deepStrictEqual(b.finish(), encode(table([[real(NaN), count(1n)]])));
});

Deno.test("bytes holding a NaN and another real in one set or among table keys are refused, as Broker's decoder refuses them", () => {
  const refused = [
    `0c02 04${ONE} 04${NAN}`,
    `0c02 04${NAN} 04${ONE}`,
    `0c03 04${ONE} 04${TWO} 04${NAN}`,
    `0c02 04${NAN} 04${NAN}`,
    `0c02 0e01 04${ONE} 0e01 04${NAN}`,
    `0d02 04${ONE} 02${C1} 04${NAN} 02${C1}`,
    `0e01 0c02 04${ONE} 04${NAN}`,
  ];
  const unsorted = [`0c03 04${TWO} 04${ONE} 04${NAN}`, `0c03 04${ONE} 0501 61 04${NAN}`];
  for (const hex of [...refused, ...unsorted]) {
    const bytes = unhex(hex);
    const reads = [() => decode(bytes), () => decode(bytes, {}), () => validate(bytes)];
    for (const read of reads) {
      assert.throws(
        read,
        (e) => e instanceof BrokerError && e.code === ErrorCode.deserialization_failed,
        hex,
      );
    }
  }
  for (const [hex, text] of [[`0c01 04${NAN}`, "{nan}"], [`0c02 04${NAN} 0501 61`, "{nan, a}"]]) {
    assert.equal(dataToString(decode(unhex(hex))), text);
    assert.equal(dataToString(decode(unhex(hex), {})), text);
  }
});

Deno.test("JSON: a set of NaN and a real, or table keys so, is a repeat, as broker-node's reader says", () => {
  const r = (x: string) => `{"@data-type":"real","data":${x}}`;
  assert.throws(
    () => dataFromJson(`{"@data-type":"set","data":[${r("nan")},${r("1.0")}]}`),
    /duplicate set element/,
  );
  assert.throws(
    () =>
      dataFromJson(
        `{"@data-type":"table","data":[{"key":${r("1.0")},"value":${r("1.0")}},{"key":${
          r("nan")
        },"value":${r("1.0")}}]}`,
      ),
    /duplicate table key/,
  );
});

Deno.test("keeping the first inserted among vectors holding NaNs takes linear checks, and decodes", () => {
  // (p, nan) and (nan, q) are one element to Broker for any p and q, while the
  // (p, nan) differ among themselves: each (nan, q), inserted before every
  // (p, nan) but after (-1, nan), would walk back over all of them.
  const n = 2000;
  const items: Data[] = [vector(real(-1), real(NaN))];
  for (let i = 0; i < n; i++) items.push(vector(real(NaN), real(i)));
  for (let i = 0; i < n; i++) items.push(vector(real(i), real(NaN)));
  const order = items.map((_, i) => i).sort((a, b) => compare(items[a], items[b]) || a - b);
  let checks = 0;
  keepFirstInserted(order, order.length, (a, b) => {
    checks++;
    return brokerEquivalent(items[a], items[b]);
  });
  assert.ok(checks <= 6 * items.length + 64, `${checks} checks for ${items.length} items`);
  // What the set keeps, encode writes and decode takes back.
  const s = set(...items);
  assert.equal(dataToString(decode(encode(s))), dataToString(s));
  assert.deepEqual(decode(encode(s), {}), decode(encode(s)));
});
