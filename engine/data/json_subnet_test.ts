// Subnets in JSON as broker-node's WebSocket API reads them (Broker's
// `convert(string, subnet)`; each case checked live: the bytes broker-node
// forwarded, or its `deserialization_failed`): the text up to the first `/`
// is the address, the rest is read by `std::stoi` (white space, a sign,
// digits, anything after), a length of 0..255 makes a subnet and any other
// is refused, and a length beyond the family's (IPv4 32, IPv6 128) makes
// Broker's empty subnet `::/0`.
import { assertJsonReads, assertJsonRefused } from "../../tests/json_reads.ts";

const json = (s: string) => `{"@data-type":"subnet","data":${JSON.stringify(s)}}`;
const EMPTY = "07" + "00".repeat(17);
const TEN_8 = "0700000000000000000000ffff0a00000068";

Deno.test("JSON subnets: Broker's lengths, its ::/0 for one beyond the family's, its refusals", () => {
  const read: [string, string][] = [
    ["::ffff:10.0.0.0/104", EMPTY],
    ["::ffff:10.0.0.0/96", EMPTY],
    ["::ffff:10.0.0.0/95", EMPTY],
    ["10.0.0.0/33", EMPTY],
    ["::/129", EMPTY],
    ["::/255", EMPTY],
    ["::ffff:10.0.0.0/8", TEN_8],
    ["10.0.0.0/ 8", TEN_8],
    ["10.0.0.0/\t8", TEN_8],
    ["10.0.0.0/+8", TEN_8],
    ["10.0.0.0/8x", TEN_8],
    ["10.0.0.0/0008", TEN_8],
    ["10.0.0.0/8/9", TEN_8],
    ["10.0.0.0/-0", "0700000000000000000000ffff0000000060"],
    ["::ffff:10.0.0.0/32", "0700000000000000000000ffff0a00000080"],
    ["::1.2.3.4/104", "070000000000000000000000000100000068"],
    ["1::/128", "070001000000000000000000000000000080"],
  ];
  assertJsonReads(json, read);
  assertJsonRefused(json, [
    "10.0.0.0/-1",
    "10.0.0.0/256",
    "10.0.0.0/",
    "10.0.0.0/99999999999",
    "10.0.0.0 /8",
  ]);
});
