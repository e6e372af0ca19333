import assert from "node:assert/strict";
import { compare, compareText, equals } from "./order.ts";
import {
  addr,
  bool,
  count,
  integer,
  none,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  vector,
} from "./constructors.ts";
import { dataToString } from "./text.ts";

Deno.test("types order by tag first, as in Broker's set-mixed golden vector", () => {
  const s = set(addr("10.0.0.1"), str("b"), integer(-2n), str("a"), count(3n), bool(true), none());
  assert.equal(dataToString(s), "{nil, T, 3, -2, a, b, 10.0.0.1}");
});

Deno.test("within a type: numeric, bytewise, lexicographic", () => {
  assert.ok(compare(integer(-5n), integer(3n)) < 0);
  assert.ok(compare(count(2n), count(10n)) < 0);
  assert.ok(compare(real(-1), real(0.5)) < 0);
  assert.ok(equals(real(0), real(-0)));
  assert.ok(compare(real(1e308), real(NaN)) < 0);
  assert.ok(compare(str("ab"), str("b")) < 0);
  assert.ok(compare(str("a"), str("ab")) < 0);
  assert.ok(compare(port(80, "udp"), port(443, "tcp")) < 0);
  assert.ok(compare(port(80, "tcp"), port(80, "udp")) < 0);
  assert.ok(compare(subnet("10.0.0.0/8"), subnet("10.0.0.0/16")) < 0);
  assert.ok(compare(vector(count(1n)), vector(count(1n), count(0n))) < 0);
  assert.ok(compare(timespan(-1n), timespan(0n)) < 0);
  assert.ok(compare(table([[str("a"), count(1n)]]), table([[str("a"), count(2n)]])) < 0);
});

Deno.test("text compares by UTF-8 bytes (code points), not UTF-16 units", () => {
  // U+FFFD (ef bf bd) sorts before U+1F600 (f0 9f 98 80) in UTF-8,
  // though its UTF-16 unit is larger than the surrogate's.
  assert.ok(compareText("\uFFFD", "😀") < 0);
  assert.ok(compare(str("\uFFFD"), str("😀")) < 0);
  assert.ok(compare(str(new Uint8Array([0xff])), str("a")) > 0);
});
