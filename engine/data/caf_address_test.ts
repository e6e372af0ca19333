// Addresses and subnets in JSON as broker-node's WebSocket API reads them
// (Broker's `convert(string, address)`: CAF's `read_ipv6_address`). Each
// case checked live against a fresh broker-node: the bytes it forwarded, or
// the session it ended (its reader throws on a bad address).
import assert from "node:assert/strict";
import fc from "fast-check";
import { cafAddress } from "./caf_address.ts";
import { Address } from "./types.ts";
import { assertJsonReads, assertJsonRefused, hex } from "../../tests/json_reads.ts";
import { v4Address } from "../../tests/arbitrary.ts";

const json = (s: string) => `{"@data-type":"address","data":${JSON.stringify(s)}}`;
const v4 = (quad: string) => "06" + "00".repeat(10) + "ffff" + quad;

Deno.test("JSON addresses: CAF's leading zeros, long groups, quads after ::, an empty last octet", () => {
  assertJsonReads(json, [
    // IPv4 octets with leading zeros stay decimal.
    ["10.0107.031.233", v4("0a6b1fe9")],
    ["069.0126.208.90", v4("457ed05a")],
    ["1.2.3.", v4("01020300")],
    // The first group and the groups after :: take digits while the value fits 16 bits.
    ["0e8b0::0039c6", "06e8b000000000000000000000000039c6"],
    ["00000001::1", "0600010000000000000000000000000001"],
    ["0ab::0086d7", "0600ab00000000000000000000000086d7"],
    ["::1.2.3.4:5", "0600000000000000000000010203040005"],
    ["::0001.2.3.4", "0600000000000000000000000001020304"],
    ["1:2:3:4:5:6:1.2.3.", "0600010002000300040005000601020300"],
    ["1:2:3:4:5:6:7::", "0600010002000300040005000600070000"],
    ["::ffff:1.2.3.4", v4("01020304")],
    ["FE80::1", "06fe800000000000000000000000000001"],
  ]);
  const refused = [
    "12345::",
    "0fffff::1",
    "1.2.3.4:",
    "::1:",
    "1:00001::",
    "1.2..3",
    "1.2.3",
    "256.1.1.1",
    "1.2.3.256",
    " 1.2.3.4",
    "1.2.3.4 ",
    "fe80::1%eth0",
    "[::1]",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7:8::",
    "",
  ];
  assertJsonRefused(json, refused);
  for (const text of refused) assert.equal(cafAddress(text), undefined, JSON.stringify(text));
});

Deno.test("JSON subnets: the address part read as CAF reads an address", () => {
  assertJsonReads((s) => `{"@data-type":"subnet","data":${JSON.stringify(s)}}`, [
    ["10.0107.0.0/16", "07" + "00".repeat(10) + "ffff0a6b0000" + "70"],
    ["0e8b0::/16", "07e8b0" + "00".repeat(14) + "10"],
  ]);
});

Deno.test("property: every address's text as Broker writes it reads back", () => {
  const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((b) => new Address(b));
  fc.assert(
    fc.property(fc.oneof(v4Address, v6), (a) => {
      assert.equal(hex(cafAddress(a.toString())!.bytes), hex(a.bytes), a.toString());
    }),
    { numRuns: 2000 },
  );
});
