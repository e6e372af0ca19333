// Ports in JSON as broker-node's WebSocket API reads them (Broker's
// `convert(string, port)`: `strtoul` of the text, the number cut to 16
// bits, TCP without a `/`, else the protocol named exactly after the first
// `/` past the number, or unknown). Each case checked live against a fresh
// broker-node: the bytes it forwarded, or its `deserialization_failed`.
import { assertJsonReads, assertJsonRefused } from "../../tests/json_reads.ts";

const json = (s: string) => `{"@data-type":"port","data":${JSON.stringify(s)}}`;

Deno.test("JSON ports: Broker's strtoul number, TCP without a protocol, unknown for any other name", () => {
  const read: [string, string][] = [
    ["80/tcp", "08005001"],
    ["80/udp", "08005002"],
    ["80/icmp", "08005003"],
    ["80/?", "08005000"],
    ["80/unknown", "08005000"],
    ["080/tcp", "08005001"],
    ["80", "08005001"],
    ["80x", "08005001"],
    [" \t80", "08005001"],
    ["", "08000001"],
    ["abc", "08000001"],
    ["/tcp", "08000001"],
    ["80/TCP", "08005000"],
    ["80/tcp ", "08005000"],
    ["80/tcpx", "08005000"],
    ["80/", "08005000"],
    ["80/tcp/udp", "08005000"],
    ["80//tcp", "08005000"],
    ["80/tcp\u0000x", "08005001"],
    [" 80/tcp", "08005001"],
    ["80 /tcp", "08005001"],
    ["+80/udp", "08005002"],
    ["80x/udp", "08005002"],
    ["0x50/tcp", "08000001"],
    ["65536/tcp", "08000001"],
    ["-1/tcp", "08ffff01"],
    ["-0/tcp", "08000001"],
    ["-65536/tcp", "08000001"],
    ["18446744073709551615/tcp", "08ffff01"],
    ["-18446744073709551615/tcp", "08000101"],
    ["00000000000000000000000080/icmp", "08005003"],
  ];
  assertJsonReads(json, read);
  // Beyond 64 bits (strtoul's ERANGE), and a NUL before the `/` (C's strchr stops there).
  assertJsonRefused(json, [
    "18446744073709551616/tcp",
    "-18446744073709551616/tcp",
    "80\u0000/tcp",
  ]);
});
