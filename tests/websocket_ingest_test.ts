import { equal, throws } from "node:assert/strict";
import fc from "fast-check";
import {
  Address,
  type Data,
  dataFromJson,
  dataToJson,
  dataToJsonValue,
  encode,
  Port,
  timestamp,
} from "../mod.ts";
import { readDataMessage } from "../engine/websocket/protocol.ts";
import { anyData } from "./arbitrary.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

// What WebSocket clients publish goes through the JSON reader's quick paths
// (dotted quads, ports, Broker's timestamp form, short integers); these pin
// them to the general parsers they shortcut.

/** Whether a value holds a real anywhere. */
function hasReal(d: Data): boolean {
  switch (d.type) {
    case "real":
      return true;
    case "set":
    case "vector":
      return d.value.some(hasReal);
    case "table":
      return d.value.some(([k, x]) => hasReal(k) || hasReal(x));
    default:
      return false;
  }
}

Deno.test("ingest: a client's data message reads back to the value, for any value", () => {
  fc.assert(
    fc.property(anyData, (v) => {
      const text = dataToJson(v);
      // Values that collapse (reals to six decimals) may repeat a set element: both refuse.
      const outcome = (read: () => Data) => {
        try {
          return hex(encode(read()));
        } catch (e) {
          return (e as Error).message;
        }
      };
      const ingested = outcome(() =>
        readDataMessage(`{"type":"data-message","topic":"/t",${text.slice(1)}`).data
      );
      // The object form goes through no text parser: numbers come as numbers or
      // bigints. Reals in text are read with CAF's arithmetic (cafReal), as
      // broker-node reads them, so only values without reals compare there.
      if (!hasReal(v)) {
        equal(ingested, outcome(() => dataFromJson(dataToJsonValue(v))));
      }
      equal(ingested, outcome(() => dataFromJson(text)));
    }),
    { numRuns: 2000 },
  );
});

Deno.test("ingest: address and port text that Address.parse and Port.parse take reads as they read it (what only Broker takes: caf_address_test.ts, json_port_test.ts)", () => {
  const octet = fc.oneof(fc.nat(300).map(String), fc.constantFrom("01", "00", "007", "", "1a"));
  const quad = fc.array(octet, { minLength: 3, maxLength: 5 }).map((p) => p.join("."));
  const portText = fc.tuple(
    fc.oneof(fc.nat(70000).map(String), fc.constantFrom("", "00080", "1x")),
    fc.constantFrom("tcp", "udp", "icmp", "?", "unknown", "TCP", "", "tcpx", "__proto__"),
  ).map(([n, p]) => `${n}/${p}`);
  const same = <T>(type: string, s: string, parse: (s: string) => T) => {
    let expected: string | undefined;
    try {
      expected = String(parse(s));
    } catch {
      expected = undefined;
    }
    const json = JSON.stringify({ "@data-type": type, data: s });
    // Broker reads a port and an address from more than Port.parse and Address.parse
    // take (`80/TCP` is `80/?`, `01.2.3.4` is 1.2.3.4): only what they take is compared.
    if (expected !== undefined) equal(String(dataFromJson(json).value), expected, s);
  };
  fc.assert(
    fc.property(quad, portText, (q, p) => {
      same("address", q, Address.parse);
      same("port", p, Port.parse);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("ingest: Broker's timestamp text reads as the UTC time it names", () => {
  const d2 = (n: number) => String(n).padStart(2, "0");
  fc.assert(
    fc.property(
      fc.integer({ min: 100, max: 9999 }),
      fc.integer({ min: 0, max: 13 }),
      fc.integer({ min: 0, max: 32 }),
      fc.integer({ min: 0, max: 24 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 60 }),
      fc.integer({ min: 0, max: 999 }),
      (y, mo, d, h, mi, s, ms) => {
        const text = `${String(y).padStart(4, "0")}-${d2(mo)}-${d2(d)}T${d2(h)}:${d2(mi)}:${
          d2(s)
        }.${String(ms).padStart(3, "0")}`;
        const json = JSON.stringify({ "@data-type": "timestamp", data: text });
        const t = Date.UTC(y, mo - 1, d, h, mi, s, ms);
        const valid = mo >= 1 && mo <= 12 && h <= 23 && mi <= 59 && s <= 59 && d >= 1 &&
          new Date(t).getUTCDate() === d;
        const ns = BigInt(t) * 1_000_000n;
        if (!valid || ns >= 1n << 63n || ns < -(1n << 63n)) throws(() => dataFromJson(json), text);
        else equal(dataFromJson(json).value, ns, text);
      },
    ),
    { numRuns: 5000 },
  );
  // Other forms still go the general way.
  equal(
    dataFromJson('{"@data-type":"timestamp","data":"2023-01-02T03:04:05.5Z"}').value,
    timestamp(1672628645_500_000_000n).value,
  );
});
