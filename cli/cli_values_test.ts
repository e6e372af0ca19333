import assert from "node:assert/strict";
import {
  formatDuration,
  negativeOperandsLast,
  parseBindAddress,
  parseChoice,
  parseCount,
  parseDuration,
  parsePeerList,
  parsePort,
  parseRate,
  parseTopicList,
  UsageError,
} from "./cli_values.ts";
import { parseDurationNs } from "./store_command.ts";
import { NS_PER_TIMESPAN_UNIT } from "../engine/data/timespan_units.ts";

function refused(f: () => unknown, option: string, detail: RegExp): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof UsageError, String(e));
    assert.equal(e.option, option);
    assert.match(e.detail, detail);
    assert.doesNotMatch(e.message, /cannot be converted|Warning|undefined/);
    return true;
  });
}

Deno.test("durations: CAF's units, the option's unit for bare numbers, nothing negative", () => {
  assert.equal(parseDuration("500ms", "--t"), 500);
  assert.equal(parseDuration("2s", "--t"), 2000);
  assert.equal(parseDuration("1.5s", "--t"), 1500);
  assert.equal(parseDuration("1min", "--t"), 60_000);
  assert.equal(parseDuration("1h", "--t"), 3_600_000);
  assert.equal(parseDuration("100us", "--t"), 0.1);
  assert.equal(parseDuration("2", "--t"), 2000);
  assert.equal(parseDuration("250", "--t", { bareUnit: "ms" }), 250);
  assert.equal(parseDuration("0", "--t"), 0);
  for (const bad of ["-1", "abc", "1e999", "", " ", "5 parsecs", "1m", "NaN", "Infinity"]) {
    refused(() => parseDuration(bad, "--t"), "--t", /expected a duration such as 500ms/);
  }
  refused(() => parseDuration("0s", "--t", { allowZero: false }), "--t", /positive duration/);
  assert.equal(formatDuration(1500), "1.5s");
  assert.equal(formatDuration(250), "250ms");
  assert.equal(formatDuration(0.1), "100us");
  assert.equal(formatDuration(120_000), "2min");
});

Deno.test("duration options take every unit a store value's timespan takes, days too, to the same length", () => {
  for (const unit of Object.keys(NS_PER_TIMESPAN_UNIT)) {
    const text = `3${unit}`;
    assert.equal(parseDuration(text, "--t") * 1e6, Number(parseDurationNs(text)), text);
  }
  assert.equal(parseDuration("1d", "--t"), 86_400_000);
  assert.equal(parseDuration("1.5d", "--timeout", { allowZero: false }), 129_600_000);
  refused(() => parseDuration("1day", "--t"), "--t", /expected a duration such as 500ms/);
});

Deno.test("counts, rates, choices and ports name the option and what it takes", () => {
  assert.equal(parseCount("100", "--n"), 100);
  assert.equal(parseCount("1e6", "--n"), 1_000_000);
  for (const bad of ["-1", "abc", "1e999", "", "1.5", "0x10"]) {
    refused(() => parseCount(bad, "--n"), "--n", /whole number ≥ 0/);
  }
  refused(() => parseCount("0", "--n", { min: 1 }), "--n", /whole number ≥ 1, got "0"/);
  refused(() => parseCount("70000", "--ttl", { max: 65535 }), "--ttl", /from 0 to 65535/);
  assert.equal(parseRate("1000", "--r"), 1000);
  assert.equal(parseRate("2.5", "--r"), 2.5);
  assert.equal(parseRate("1000/s", "--r"), 1000);
  assert.equal(parseRate("0", "--r"), 0);
  for (const bad of ["-1", "abc", "1e999", ""]) {
    refused(() => parseRate(bad, "--r"), "--r", /messages per second, a number ≥ 0/);
  }
  assert.equal(parseChoice("sent", "--d", ["received", "sent", "both"]), "sent");
  refused(
    () => parseChoice("x", "--d", ["received", "sent", "both"]),
    "--d",
    /^expected one of received, sent, both; got "x"$/,
  );
  assert.equal(parsePort("29001/tcp", "--port"), 29001);
  assert.equal(parsePort("0", "--port", { allowZero: true }), 0);
  for (const bad of ["0", "-1", "65536", "abc", "", "80/udp"]) {
    refused(() => parsePort(bad, "--port"), "--port", /expected a port from 1 to 65535/);
  }
});

Deno.test("peers: one syntax everywhere", () => {
  const one = [{ host: "127.0.0.1", port: 9999 }];
  for (
    const text of [
      "127.0.0.1:9999",
      "tcp://127.0.0.1:9999",
      "<tcp://127.0.0.1:9999>",
      '["127.0.0.1:9999"]',
      "[<tcp://127.0.0.1:9999>]",
      '"127.0.0.1:9999"',
    ]
  ) {
    if (text.startsWith('"')) continue; // a bare quoted string is not a peer form
    assert.deepEqual(parsePeerList(text, "--peers"), one, text);
  }
  assert.deepEqual(parsePeerList('["a:1", <tcp://[::1]:2>, "[fe80::1]:3"]', "-p"), [
    { host: "a", port: 1 },
    { host: "::1", port: 2 },
    { host: "fe80::1", port: 3 },
  ]);
  assert.deepEqual(parsePeerList("[::1]:5, h:6", "-p"), [{ host: "::1", port: 5 }, {
    host: "h",
    port: 6,
  }]);
  assert.deepEqual(parsePeerList("[]", "--peers"), []);
  refused(() => parsePeerList("h", "--peers"), "--peers", /no port in "h"/);
  refused(() => parsePeerList("h:0", "--peers"), "--peers", /port 0 out of range/);
  refused(() => parsePeerList("::1:5", "--peers"), "--peers", /IPv6 address needs brackets/);
  refused(() => parsePeerList("udp://h:1", "--peers"), "--peers", /unsupported scheme udp/);
  refused(() => parsePeerList('["h:1"', "--peers"), "--peers", /expected a list of host:port/);
  refused(() => parsePeerList("[1]", "--peers"), "--peers", /quoted "host:port" strings/);
  refused(() => parsePeerList("[1, 2]", "--peers"), "--peers", /quoted "host:port" strings/);
  refused(() => parsePeerList("", "--peers"), "--peers", /expected peers/);
});

Deno.test("bind addresses and topics", () => {
  assert.equal(parseBindAddress("127.0.0.1", "--address"), "127.0.0.1");
  assert.equal(parseBindAddress("::", "--address"), "::");
  assert.equal(parseBindAddress("[::1]", "--address"), "::1");
  assert.equal(parseBindAddress("localhost", "--address"), "localhost");
  refused(() => parseBindAddress("1.2.3.4:80", "--address"), "--address", /port is an option/);
  refused(() => parseBindAddress("300.1.1.1", "--address"), "--address", /IP address or host/);
  refused(() => parseBindAddress("", "--address"), "--address", /IP address or host/);
  assert.deepEqual(parseTopicList('["/a", "/b"]', "-t"), ["/a", "/b"]);
  assert.deepEqual(parseTopicList("/a,/b", "-t"), ["/a", "/b"]);
  assert.deepEqual(parseTopicList('"/a"', "-t"), ["/a"]);
  refused(() => parseTopicList("[1]", "-t"), "-t", /quoted topics/);
});

Deno.test("negativeOperandsLast: -5s and -2.5min are operands, in order, behind one --", () => {
  const takes = new Set(["-p", "--peers", "--timeout"]);
  assert.deepEqual(
    negativeOperandsLast(["kv", "put", "-5s", "-2.5min", "-p", "h:1", "--json"], takes),
    ["-p", "h:1", "--json", "--", "kv", "put", "-5s", "-2.5min"],
  );
  // An option's value stays its value; unknown options stay options (commander refuses them).
  assert.deepEqual(
    negativeOperandsLast(["--timeout", "-5s", "kv", "put", "k", "-1s", "--bogus"], takes),
    ["--timeout", "-5s", "--bogus", "--", "kv", "put", "k", "-1s"],
  );
  // Operands after a -- given already stay operands, after the ones before it.
  assert.deepEqual(
    negativeOperandsLast(["kv", "put", "-1s", "--", "-x", "--y"], takes),
    ["--", "kv", "put", "-1s", "-x", "--y"],
  );
  // Nothing to move: the arguments as they were.
  assert.deepEqual(negativeOperandsLast(["kv", "get", "k", "-p", "h:1"], takes), [
    "kv",
    "get",
    "k",
    "-p",
    "h:1",
  ]);
});
