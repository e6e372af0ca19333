import assert from "node:assert/strict";
import { dataToString, formatReal } from "./text.ts";
import { dataToJson } from "./json.ts";
import { writeJsonMembers } from "./json_wasm.ts";
import { decode } from "./binary.ts";
import {
  addr,
  bool,
  count,
  enumValue,
  none,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "./constructors.ts";

Deno.test('reals print like printf("%f"): exact, six decimals, ties to even', () => {
  assert.equal(formatReal(0), "0.000000");
  assert.equal(formatReal(-0), "-0.000000");
  assert.equal(formatReal(1.5), "1.500000");
  assert.equal(formatReal(0.1), "0.100000");
  assert.equal(formatReal(0.0078125), "0.007812"); // exact tie, even digit kept
  assert.equal(formatReal(0.0234375), "0.023438"); // exact tie, rounds up to even
  assert.equal(formatReal(-1e-9), "-0.000000");
  assert.equal(formatReal(1e-7), "0.000000");
  assert.equal(formatReal(123456.7890125), "123456.789012");
  assert.equal(formatReal(2 ** 70), "1180591620717411303424.000000");
  assert.equal(formatReal(5e-324), "0.000000");
  assert.equal(formatReal(NaN), "nan");
  assert.equal(formatReal(Infinity), "inf");
  assert.equal(formatReal(-Infinity), "-inf");
});

Deno.test("addresses print as Broker does (CAF's to_string, not inet_ntop)", () => {
  const cases: [string, string][] = [
    ["10.0.0.1", "10.0.0.1"],
    ["::ffff:10.0.0.1", "10.0.0.1"],
    ["::", "::"],
    ["::1", "::1"],
    ["2001:db8::1", "2001:db8::1"],
    ["2001:DB8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["fe80::", "fe80::"],
    // IPv4-compatible: inet_ntop writes ::10.0.0.1, broker-node and broker-pipe
    // print these in hex (checked live: text form and WebSocket JSON).
    ["::10.0.0.1", "::a00:1"],
    ["::1.2.3.4", "::102:304"],
    ["::1.2.3.0/120", "::102:300/120"],
    ["::0.0.1.2", "::102"],
    ["::fffe:1.2.3.4", "::fffe:102:304"],
    ["64:ff9b::1.2.3.4", "64:ff9b::102:304"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"],
    ["1:0:0:1:0:0:0:1", "1:0:0:1::1"],
    ["1:0:0:0:1:0:0:1", "1::1:0:0:1"],
    ["0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"],
    ["1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7:0"],
  ];
  for (const [input, printed] of cases) {
    const v = input.includes("/") ? subnet(input) : addr(input);
    assert.equal(dataToString(v), printed, input);
    // The JSON form carries the same text.
    assert.equal(dataToJson(v), `{"@data-type":"${v.type}","data":"${printed}"}`, input);
  }
  for (const bad of ["10.0.0.256", "1:2:3", "1::2::3", "abc", "1.2.3", ":::"]) {
    assert.throws(() => addr(bad), RangeError, bad);
  }
});

Deno.test("subnets are masked on construction and print family-relative lengths", () => {
  assert.equal(dataToString(subnet("10.1.2.3/8")), "10.0.0.0/8");
  assert.equal(subnet("10.1.2.3/8").value.rawLength, 104);
  assert.equal(dataToString(subnet("2001:db8::ff/32")), "2001:db8::/32");
  assert.equal(dataToString(subnet("0.0.0.0/0")), "0.0.0.0/0");
  assert.throws(() => subnet("10.0.0.0/33"), RangeError);
});

Deno.test("decoded subnets print their length as Broker's subnet::length() does (checked live)", () => {
  // Raw bytes a peer may send: 16 address bytes, then the length over 128 bits.
  // broker-node's WebSocket JSON (and its text form) for each, as a byte:
  // an IPv4 network's length is raw - 96 wrapped to 0..255.
  const cases: [string, number, string][] = [
    ["00000000000000000000ffff00000000", 16, "0.0.0.0/176"],
    ["00000000000000000000ffff00000000", 95, "0.0.0.0/255"],
    ["00000000000000000000ffff01020304", 129, "1.2.3.4/33"],
    ["00000000000000000000ffff01020304", 104, "1.2.3.4/8"],
    ["00000000000000000000000000000000", 200, "::/200"],
  ];
  const out = new Uint8Array(512);
  for (const [address, raw, printed] of cases) {
    const payload = Uint8Array.from([7, ...address.match(/../g)!.map((x) => parseInt(x, 16)), raw]);
    const v = decode(payload);
    assert.equal(dataToString(v), printed);
    const json = `{"@data-type":"subnet","data":"${printed}"}`;
    assert.equal(dataToJson(v), json);
    // The WASM writer (IPv4 only; it declines the rest to the JS writer).
    const n = writeJsonMembers(payload, out, 0);
    if (n >= 0) assert.equal("{" + new TextDecoder().decode(out.subarray(0, n)), json);
    else assert.ok(!printed.includes("."), `WASM declined ${printed}`);
  }
});

Deno.test("every type's text form", () => {
  const v = vector(
    none(),
    bool(true),
    bool(false),
    count(18446744073709551615n),
    real(1.5),
    str("a b"),
    port(0, "unknown"),
    port(8, "icmp"),
    timestamp(-1500000000n),
    timespan(1n),
    enumValue("Conn::LOG"),
    set(),
    table(),
    vector(),
    set(str("b"), str("a")),
    table([[str("b"), count(2n)], [count(1n), str("one")]]),
  );
  assert.equal(
    dataToString(v),
    "(nil, T, F, 18446744073709551615, 1.500000, a b, 0/?, 8/icmp, -1500000000ns, 1ns, " +
      "Conn::LOG, {}, {}, (), {a, b}, {1 -> one, b -> 2})",
  );
});
