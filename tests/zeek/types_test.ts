// Broker's 15 types through a real Zeek 8's event handlers, both ways (scripts/types.zeek):
// what we publish, Zeek prints argument by argument and publishes back; what Zeek publishes
// from its own literals arrives as the exact values.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
  dataToString,
  decode,
  encode,
  enumValue,
  equals,
  Event,
  integer,
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
} from "../../mod.ts";
import { zeekTest } from "./zeek.ts";

/** Test::all_types's arguments as we send them: one of each of the 15 types (none in the record). */
const OURS: Data[] = [
  bool(false),
  count(18446744073709551615n),
  integer(-9223372036854775807n),
  real(1.25e300),
  str("from Deno: tab\there"),
  addr("192.168.1.254"),
  addr("2001:db8::ff00:42:8329"),
  subnet("2001:db8::/32"),
  port(53, "udp"),
  // Zeek's time is a double of seconds: 1700000123.25 would come back as ...249999872 ns.
  timestamp(1700000123500000000n),
  timespan(-1500000000n),
  enumValue("Test::BLUE"),
  set(str("x"), str("y"), str("z")),
  table([[str("one"), count(1n)], [str("two"), count(2n)]]),
  vector(count(0n), count(42n)),
  vector(count(5n), none()),
];

/** What Zeek prints for OURS, one line per argument (scripts/types.zeek). */
const OURS_PRINTED = [
  "got all_types",
  "bool, bool, F",
  "count, count, 18446744073709551615",
  "integer, int, -9223372036854775807",
  "real, double, 1.2500000000000001e+300",
  "string, string, 19, from Deno: tab\\x09here",
  "address, addr, 192.168.1.254, T",
  "address6, addr, 2001:db8::ff00:42:8329, T",
  "subnet, subnet, 2001:db8::/32",
  "port, port, 53/udp",
  "timestamp, time, 1700000123.500000",
  "timespan, interval, -1.500000000",
  "enum, Test::Color, Test::BLUE",
  "set, set[string], 3, x,y,z",
  "table, table[string] of count, 2, one=1,two=2",
  "vector, vector of count, 2, 0,42",
  "none, Test::R, 5, F",
  "end all_types",
];

/** What Zeek publishes from its own literals (scripts/types.zeek, Broker::peer_added). */
const ZEEKS: Data[] = [
  bool(true),
  count(18446744073709551615n),
  integer(-9223372036854775807n),
  real(-0.25),
  str("hello, Deno"),
  addr("10.0.0.1"),
  addr("2001:db8::1"),
  subnet("10.0.0.0/8"),
  port(443, "tcp"),
  timestamp(1700000000500000000n),
  timespan(2500000000n),
  enumValue("Test::GREEN"),
  set(str("a"), str("b")),
  table([[str("j"), count(1n)], [str("k"), count(9n)]]),
  vector(count(1n), count(2n), count(3n)),
  vector(count(7n), none()),
];

/** Every one of Broker's 15 type names, to prove the lists above cover them all. */
const ALL_TYPES = [
  "none",
  "boolean",
  "count",
  "integer",
  "real",
  "string",
  "address",
  "subnet",
  "port",
  "timestamp",
  "timespan",
  "enum",
  "set",
  "table",
  "vector",
];

function typesIn(values: Data[]): Set<string> {
  const seen = new Set<string>();
  const walk = (d: Data) => {
    seen.add(d.type);
    if (d.type === "vector" || d.type === "set") d.value.forEach(walk);
  };
  values.forEach(walk);
  return seen;
}

function assertSameArgs(got: readonly Data[], want: Data[], what: string): void {
  assert.equal(dataToString(vector(...got)), dataToString(vector(...want)), what);
  got.forEach((g, i) => assert.ok(equals(g, want[i]), `${what}: argument ${i} differs`));
}

Deno.test("the type lists cover all 15 of Broker's types", () => {
  for (const values of [OURS, ZEEKS]) {
    assert.deepEqual([...typesIn(values)].sort(), [...ALL_TYPES].sort());
  }
});

zeekTest(
  "the 15 types from us reach a Zeek event handler, and Zeek publishes them back intact (we peer to Zeek)",
  async (t) => {
    const zeek = await t.zeek("types.zeek", { env: { ZEEK_ROLE: "listen" } });
    const zeekPort = await zeek.port();
    const ep = t.endpoint();
    const echo = ep.subscribe("/deno/echo");
    await ep.peer("127.0.0.1", zeekPort);
    await ep.awaitPeerSubscription("/zeek/types");
    ep.publish("/zeek/types", new Event("Test::all_types", OURS).toData());
    assert.deepEqual(await zeek.block("got all_types", "end all_types"), OURS_PRINTED);
    const back = await echo.get(5000);
    assert.ok(back, "nothing came back on /deno/echo");
    const ev = Event.from(back.data);
    assert.equal(ev.name, "Test::all_types");
    assertSameArgs(ev.args, OURS, "echo");
    // Zeek 8 sends every event with an (empty) metadata vector.
    assert.deepEqual(ev.metadata, []);
  },
);

zeekTest(
  "the 15 types from a Zeek script's literals reach us intact (Zeek peers to us)",
  async (t) => {
    const ep = t.endpoint();
    const sub = ep.subscribe("/deno/types");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("types.zeek", {
      env: { ZEEK_ROLE: "peer", DENO_PORT: `${port}/tcp` },
    });
    const msg = await sub.get(10_000);
    assert.ok(msg, `nothing arrived on /deno/types\n${zeek.transcript}`);
    assert.equal(msg.topic, "/deno/types");
    const ev = Event.from(msg.data);
    assert.equal(ev.name, "Test::all_types");
    assertSameArgs(ev.args, ZEEKS, "Zeek's literals");
    await zeek.waitFor("peer_added");
  },
);

/** Zeek's btest baseline testing/btest/Baseline/broker.remote_event_index_types/recv.recv.out. */
const INDEX_TYPES_PRINTED = [
  ...["set1, {", "1", "}", "set2, {", "[2, two]", "}", "setvector, {", "[one, two]", "}"],
  ...["setrecord, {", "[a=97, b=B]", "}"],
  ...["setfunction, {", "foo: function() : void", "{ ", "print foo;", "}", "}"],
  ...["setpattern, {", "/^?(foobar)$?/", "}", "table1, {", "[1] = t1", "}"],
  ...["table2, {", "[2, two] = t2", "}", "tablevector, {", "[[one, two]] = tvec", "}"],
  ...["tablerecord, {", "[[a=97, b=B]] = trec", "}"],
  ...["tablefunction, {", "[foo: function() : void", "{ ", "print foo;", "}] = tfunc", "}"],
  ...["tablepattern, {", "[/^?(foobar)$?/] = tpat", "}"],
];

zeekTest(
  "Zeek's btest broker/remote_event_index_types.zeek with us between its sender and receiver: composite, vector, record, function and pattern keys re-encode byte for byte, and Zeek prints the baseline",
  async (t) => {
    const ep = t.endpoint();
    const got: Uint8Array[] = [];
    const arrived = Promise.withResolvers<void>();
    // The payload as Zeek encoded it (valid only during the call, hence the copy).
    ep.subscribeWith("/deno/idx", (_topic, payload) => {
      got.push(payload.slice());
      if (got.length === 13) arrived.resolve();
    });
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("index_types.zeek", { env: { DENO_PORT: `${port}/tcp` } });
    await Promise.race([arrived.promise, zeek.done]);
    assert.equal(got.length, 13, zeek.transcript);
    for (const payload of got) {
      const data = decode(payload);
      assert.deepEqual(encode(data), payload, dataToString(data));
      // Re-published as a value, so Zeek gets our encoding of what we decoded.
      ep.publish("/zeek/idx", data);
    }
    await zeek.waitFor("done");
    assert.deepEqual(zeek.stdout.slice(0, zeek.stdout.indexOf("done")), INDEX_TYPES_PRINTED);
  },
);
