import assert from "node:assert/strict";
import { captureFrames, hex, unhex } from "../../tests/fixtures.ts";
import {
  addr,
  bool,
  count,
  type Data,
  dataToString,
  type DataType,
  enumValue,
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
} from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { EnvelopeType, parseEnvelope } from "../wire/envelope.ts";
import type { ActionCommand, AddCommand, SubtractCommand } from "./commands.ts";
import { decodeCommand, encodeCommand, isAction } from "./commands.ts";
import { type Entity, entityToString, NIL_ENTITY } from "./entity.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { SqliteBackend } from "./sqlite_backend.ts";
import { Endpoint } from "../endpoint.ts";
import {
  addTo,
  applyAdd,
  applyClear,
  applyCommand,
  applyErase,
  applyExpire,
  applyPut,
  applyPutUnique,
  applySubtract,
  expiresAt,
  getAspect,
  getValue,
  initialValue,
  subtractFrom,
} from "./operations.ts";

const P = NIL_ENTITY;
const MASTER: Entity = { endpoint: unhex("11111111111141118111111111111111"), object: 6n };
const text = (d: Data | undefined) => (d === undefined ? "undefined" : dataToString(d));
const add = (key: Data, value: Data, initType: DataType = "none", expiry: bigint | null = null) =>
  ({ type: "add", key, value, initType, expiry, publisher: P }) satisfies AddCommand;
const sub = (key: Data, value: Data, expiry: bigint | null = null) =>
  ({ type: "subtract", key, value, expiry, publisher: P }) satisfies SubtractCommand;

function throwsCode(f: () => unknown, code: ErrorCode, why?: string) {
  assert.throws(f, (e: unknown) => e instanceof BrokerError && e.code === code, why);
}

Deno.test("put stores, replaces, and is re-broadcast as it came", () => {
  const b = new MemoryBackend();
  const cmd = { type: "put", key: str("k"), value: count(1n), expiry: null, publisher: P } as const;
  const r = applyPut(b, cmd, 0n);
  assert.deepEqual(r.broadcast, [cmd]);
  assert.equal(r.old, undefined);
  assert.equal(r.expiry, null);
  const r2 = applyPut(b, { ...cmd, value: str("v") }, 0n);
  assert.equal(text(r2.old), "1");
  assert.equal(text(b.get(str("k"))), "v");
});

Deno.test("put_unique: put plus result when inserted, result only when the key exists", () => {
  const b = new MemoryBackend();
  const who: Entity = { endpoint: new Uint8Array(16).fill(2), object: 8n };
  const cmd = {
    type: "put_unique",
    key: str("u"),
    value: str("first"),
    expiry: 5n,
    who,
    reqId: 1n,
    publisher: P,
  } as const;
  const r = applyPutUnique(b, cmd, 10n, MASTER);
  assert.equal(r.inserted, true);
  assert.equal(r.expiry, 15n);
  assert.deepEqual(r.broadcast.map((c) => c.type), ["put", "put_unique_result"]);
  assert.deepEqual(r.broadcast[0], {
    type: "put",
    key: str("u"),
    value: str("first"),
    expiry: 5n,
    publisher: P,
  });
  assert.deepEqual(r.broadcast[1], {
    type: "put_unique_result",
    inserted: true,
    who,
    reqId: 1n,
    publisher: MASTER,
  });
  const again = applyPutUnique(b, { ...cmd, value: str("second"), reqId: 2n }, 20n, MASTER);
  assert.equal(again.inserted, false);
  assert.deepEqual(again.broadcast.map((c) => c.type), ["put_unique_result"]);
  assert.equal(text(b.get(str("u"))), "first");
  assert.equal(b.entry(str("u"))?.expiry, 15n, "a failed put_unique leaves the expiry alone");
});

Deno.test("put_unique: a backend failure broadcasts inserted = false", () => {
  const b = new MemoryBackend();
  b.put = () => {
    throw new BrokerError(ErrorCode.backend_failure, "disk full");
  };
  const r = applyPutUnique(
    b,
    {
      type: "put_unique",
      key: str("u"),
      value: str("x"),
      expiry: null,
      who: P,
      reqId: 3n,
      publisher: P,
    },
    0n,
    MASTER,
  );
  assert.equal(r.inserted, false);
  assert.deepEqual(r.broadcast.map((c) => c.type), ["put_unique_result"]);
});

Deno.test("erase removes and re-broadcasts; a missing key is no_such_key", () => {
  const b = new MemoryBackend();
  b.put(str("k"), count(1n), 99n);
  const cmd = { type: "erase", key: str("k"), publisher: P } as const;
  const r = applyErase(b, cmd);
  assert.deepEqual(r.broadcast, [cmd]);
  assert.equal(text(r.old), "1");
  assert.equal(b.exists(str("k")), false);
  throwsCode(() => applyErase(b, cmd), ErrorCode.no_such_key);
});

Deno.test("clear removes everything and reports the keys", () => {
  const b = new MemoryBackend();
  b.put(str("b"), count(1n));
  b.put(str("a"), count(2n));
  const r = applyClear(b, { type: "clear", publisher: P });
  assert.deepEqual(r.erased.map(text), ["a", "b"]);
  assert.equal(r.broadcast[0].type, "clear");
  assert.equal(b.size(), 0);
});

Deno.test("add: numbers, time, strings, containers; broadcast as a put without expiry", () => {
  const cases: [Data, Data, string][] = [
    [count(40n), count(2n), "42"],
    [integer(-5n), integer(2n), "-3"],
    [real(1.5), real(1), "2.500000"],
    [timespan(10n), timespan(5n), "15ns"],
    [timestamp(100n), timespan(5n), "105ns"],
    [str("ab"), str("cd"), "abcd"],
    [vector(count(1n)), str("x"), "(1, x)"],
    [set(str("b")), str("a"), "{a, b}"],
    [set(str("a")), str("a"), "{a}"],
    [table([[str("a"), count(1n)]]), vector(str("b"), count(2n)), "{a -> 1, b -> 2}"],
    [table([[str("a"), count(1n)]]), vector(str("a"), count(9n)), "{a -> 9}"],
  ];
  for (const [start, value, expected] of cases) {
    const b = new MemoryBackend();
    b.put(str("k"), start);
    const r = applyAdd(b, add(str("k"), value, "none", 7n), 100n);
    assert.equal(text(b.get(str("k"))), expected, `${text(start)} + ${text(value)}`);
    assert.equal(r.broadcast.length, 1);
    const put = r.broadcast[0];
    assert.ok(put.type === "put");
    assert.equal(text(put.value), expected);
    assert.equal(put.expiry, null, "the broadcast put carries no expiry");
    assert.equal(r.expiry, 107n, "but the master stores it");
    assert.equal(text(r.old), text(start));
  }
});

Deno.test("add to a missing key starts from init_type", () => {
  const b = new MemoryBackend();
  applyAdd(b, add(str("n"), count(41n), "count"), 0n);
  applyAdd(b, add(str("s"), str("x"), "set"), 0n);
  applyAdd(b, add(str("v"), integer(-7n), "vector"), 0n);
  applyAdd(b, add(str("t"), vector(str("k"), str("v")), "table"), 0n);
  applyAdd(b, add(str("str"), str("hi"), "string"), 0n);
  applyAdd(b, add(str("ts"), timespan(3n), "timestamp"), 0n);
  assert.deepEqual(
    b.snapshot().map(([k, v]) => `${text(k)}=${text(v)}`),
    ["n=41", "s={x}", "str=hi", "t={k -> v}", "ts=3ns", "v=(-7)"],
  );
  throwsCode(() => applyAdd(b, add(str("nil"), count(1n), "none"), 0n), ErrorCode.type_clash);
  assert.equal(b.exists(str("nil")), false, "a failed add stores nothing");
});

Deno.test("add: every type clash", () => {
  const clashes: [Data, Data][] = [
    [count(1n), integer(1n)],
    [count(1n), real(1)],
    [integer(1n), count(1n)],
    [real(1), count(1n)],
    [timespan(1n), integer(1n)],
    [timespan(1n), timestamp(1n)],
    [timestamp(1n), timestamp(1n)],
    [timestamp(1n), integer(1n)],
    [str("a"), count(1n)],
    [table([]), str("k")],
    [none(), count(1n)],
    [bool(true), bool(true)],
    [addr("10.0.0.1"), count(1n)],
    [subnet("10.0.0.0/8"), count(1n)],
    [port(80, "tcp"), count(1n)],
    [enumValue("x"), enumValue("y")],
  ];
  for (const [current, value] of clashes) {
    throwsCode(
      () => addTo(current, value),
      ErrorCode.type_clash,
      `${current.type} + ${value.type}`,
    );
    const b = new MemoryBackend();
    b.put(str("k"), current);
    throwsCode(() => applyAdd(b, add(str("k"), value), 0n), ErrorCode.type_clash);
    assert.equal(text(b.get(str("k"))), text(current), "unchanged after a clash");
  }
  throwsCode(() => addTo(table([]), vector(str("k"))), ErrorCode.invalid_data);
  throwsCode(() => addTo(table([]), vector(str("k"), str("v"), str("w"))), ErrorCode.invalid_data);
});

Deno.test("add wraps 64-bit arithmetic like C++", () => {
  assert.equal(text(addTo(count((1n << 64n) - 1n), count(1n))), "0");
  assert.equal(text(addTo(integer((1n << 63n) - 1n), integer(1n))), String(-(1n << 63n)));
  assert.equal(text(subtractFrom(count(0n), count(1n))), String((1n << 64n) - 1n));
});

Deno.test("subtract: numbers, time, containers; missing keys and clashes fail", () => {
  const cases: [Data, Data, string][] = [
    [count(5n), count(2n), "3"],
    [integer(1n), integer(3n), "-2"],
    [real(1), real(0.5), "0.500000"],
    [timespan(10n), timespan(4n), "6ns"],
    [timestamp(10n), timespan(4n), "6ns"],
    [vector(count(1n), count(2n)), str("ignored"), "(1)"],
    [vector(), count(1n), "()"],
    [set(str("a"), str("b")), str("a"), "{b}"],
    [set(str("a")), str("zz"), "{a}"],
    [table([[str("a"), count(1n)], [str("b"), count(2n)]]), str("a"), "{b -> 2}"],
    [table([[str("a"), count(1n)]]), str("nope"), "{a -> 1}"],
  ];
  for (const [start, value, expected] of cases) {
    const b = new MemoryBackend();
    b.put(str("k"), start);
    const r = applySubtract(b, sub(str("k"), value), 0n);
    assert.equal(text(b.get(str("k"))), expected, `${text(start)} - ${text(value)}`);
    assert.ok(r.broadcast[0].type === "put" && r.broadcast[0].expiry === null);
  }
  throwsCode(
    () => applySubtract(new MemoryBackend(), sub(str("k"), count(1n)), 0n),
    ErrorCode.no_such_key,
  );
  const clashes: [Data, Data][] = [
    [str("ab"), str("b")],
    [count(1n), integer(1n)],
    [integer(1n), count(1n)],
    [real(1), integer(1n)],
    [timespan(1n), count(1n)],
    [timestamp(1n), timestamp(1n)],
    [none(), none()],
    [bool(false), bool(false)],
    [addr("::1"), addr("::1")],
    [subnet("::/0"), count(0n)],
    [port(1, "udp"), count(1n)],
    [enumValue("e"), enumValue("e")],
  ];
  for (const [current, value] of clashes) {
    throwsCode(
      () => subtractFrom(current, value),
      ErrorCode.type_clash,
      `${current.type} - ${value.type}`,
    );
  }
});

Deno.test("expiry counts from the last modification", () => {
  const b = new MemoryBackend();
  applyPut(b, { type: "put", key: str("c"), value: count(1n), expiry: 100n, publisher: P }, 1_000n);
  assert.equal(b.entry(str("c"))?.expiry, 1_100n);
  applyAdd(b, add(str("c"), count(1n), "count", 100n), 5_000n);
  assert.equal(b.entry(str("c"))?.expiry, 5_100n);
  applySubtract(b, sub(str("c"), count(1n)), 6_000n);
  assert.equal(b.entry(str("c"))?.expiry, null, "a change without expiry clears it, as in Broker");
  // Past the end of int64 time the sum wraps, as Broker's `clock->now() + expiry` does.
  assert.equal(expiresAt(1n << 62n, 1n << 62n), -(1n << 63n), "wraps as an int64");
});

Deno.test("expire: only when due, broadcast with the master as publisher", () => {
  const b = new MemoryBackend();
  b.put(str("tmp"), count(1n), 1_000n);
  assert.deepEqual(applyExpire(b, str("tmp"), 999n, MASTER).broadcast, []);
  const r = applyExpire(b, str("tmp"), 1_000n, MASTER);
  assert.deepEqual(r.broadcast, [{ type: "expire", key: str("tmp"), publisher: MASTER }]);
  assert.deepEqual(applyExpire(b, str("tmp"), 2_000n, MASTER).broadcast, [], "already gone");
});

Deno.test("get with an aspect: vector index, set membership, table lookup", () => {
  const b = new MemoryBackend();
  b.put(str("v"), vector(str("a"), str("b")));
  b.put(str("s"), set(count(1n)));
  b.put(str("t"), table([[str("k"), count(9n)]]));
  b.put(str("n"), count(3n));
  assert.equal(text(getValue(b, str("v"), count(1n))), "b");
  assert.equal(text(getValue(b, str("v"), integer(0n))), "a");
  throwsCode(() => getValue(b, str("v"), count(2n)), ErrorCode.no_such_key);
  throwsCode(() => getValue(b, str("v"), integer(-1n)), ErrorCode.type_clash);
  throwsCode(() => getValue(b, str("v"), str("0")), ErrorCode.type_clash);
  assert.equal(text(getValue(b, str("s"), count(1n))), "T");
  assert.equal(text(getValue(b, str("s"), count(2n))), "F");
  assert.equal(text(getValue(b, str("t"), str("k"))), "9");
  throwsCode(() => getValue(b, str("t"), str("x")), ErrorCode.no_such_key);
  assert.equal(text(getAspect(count(3n), str("anything"))), "3");
  assert.equal(text(getValue(b, str("n"))), "3");
  throwsCode(() => getValue(b, str("missing")), ErrorCode.no_such_key);
});

Deno.test("initial values match Broker's data::from_type", () => {
  const texts = ([
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
  ] as const)
    .map((t) => text(initialValue(t)));
  assert.deepEqual(texts, [
    "nil",
    "F",
    "0",
    "0",
    "0.000000",
    "",
    "::",
    "::/0",
    "0/?",
    "0ns",
    "0ns",
    "",
    "{}",
    "{}",
    "()",
  ]);
});

Deno.test("applyCommand returns errors instead of throwing", () => {
  const b = new MemoryBackend();
  b.put(str("s"), str("x"));
  const clash = applyCommand(b, add(str("s"), count(1n)), 0n, MASTER);
  assert.equal(clash.error?.code, ErrorCode.type_clash);
  assert.deepEqual(clash.broadcast, []);
  const missing = applyCommand(b, { type: "erase", key: str("nope"), publisher: P }, 0n, MASTER);
  assert.equal(missing.error?.code, ErrorCode.no_such_key);
  const bogus = applyCommand(b, { type: "expire", key: str("s"), publisher: P }, 0n, MASTER);
  assert.equal(bogus.error?.code, ErrorCode.invalid_message);
  assert.equal(applyCommand(b, { type: "clear", publisher: P }, 0n, MASTER).error, undefined);
});

Deno.test("replaying the capture's writer commands yields the master's broadcasts byte for byte", () => {
  const frames = captureFrames("store-master-clone").map((f) => unhex(f.hex));
  const cmds = frames.flatMap((b, i) => {
    if (b[32] !== EnvelopeType.command) return [];
    const env = parseEnvelope(b);
    return [{ frame: i, topic: env.topic, payload: env.payload, cmd: decodeCommand(env.payload) }];
  });
  const ack = cmds.find((c) => c.cmd.content.type === "ack_clone")!.cmd.content;
  assert.ok(ack.type === "ack_clone");
  const b = new MemoryBackend();
  for (const [k, v] of ack.state) b.put(k, v);

  const writes = cmds.filter((c) => c.topic.endsWith("/master") && isAction(c.cmd.content));
  const broadcasts = cmds.filter((c) =>
    c.topic.endsWith("/clone") && isAction(c.cmd.content) && c.cmd.seq > 1n
  );
  assert.equal(entityToString(broadcasts[0].cmd.sender), entityToString(MASTER));

  let now = 1_000_000_000n;
  const produced: ActionCommand[] = [];
  for (const w of writes) {
    const r = applyCommand(b, w.cmd.content as ActionCommand, now, MASTER);
    assert.equal(r.error, undefined, `frame ${w.frame}: ${r.error?.message}`);
    produced.push(...r.broadcast);
  }
  // The master's expiry check: tmp was put with 200 ms.
  now += 300_000_000n;
  for (const [key, at] of b.expiries()) {
    if (at <= now) produced.push(...applyExpire(b, key, now, MASTER).broadcast);
  }

  assert.equal(produced.length, broadcasts.length);
  produced.forEach((content, i) => {
    const expected = broadcasts[i];
    const bytes = encodeCommand({
      seq: expected.cmd.seq,
      sender: MASTER,
      receiver: NIL_ENTITY,
      content,
    });
    assert.equal(hex(bytes), hex(expected.payload), `frame ${expected.frame}`);
  });
  assert.deepEqual(
    b.snapshot().map(([k, v]) => `${text(k)}=${text(v)}`),
    ["a=42", "pre-existing=1", "set={x}", "u=first", "vec=(-7)"],
  );
});

// Expiry as Broker's master and backends have it (master_actor.cc set_expire_time,
// memory_backend.cc, sqlite_backend.cc): each applied write replaces the key's expiry
// with its own; none removes it, one restarts the clock; a failed write leaves it.
Deno.test("expiry: every applied write sets the key's expiry from its own, as Broker's master", () => {
  for (const b of [new MemoryBackend(), new SqliteBackend({ path: ":memory:" })]) {
    const put = (value: Data, expiry: bigint | null, now: bigint) =>
      applyCommand(b, { type: "put", key: str("k"), value, expiry, publisher: P }, now, MASTER);
    const at = () => b.entry(str("k"))?.expiry;
    put(count(1n), 100n, 1_000n);
    assert.equal(at(), 1_100n);
    // add with an expiry restarts the clock from the time of the add.
    assert.equal(
      applyCommand(b, add(str("k"), count(1n), "count", 100n), 1_050n, MASTER).expiry,
      1_150n,
    );
    assert.equal(at(), 1_150n);
    // add without one removes the expiry: the key stays (Broker: i->second.second = nullopt).
    assert.equal(applyCommand(b, add(str("k"), count(1n), "count"), 1_060n, MASTER).expiry, null);
    assert.equal(at(), null);
    assert.equal(b.expire(str("k"), 1_000_000n), false);
    // subtract behaves the same way.
    applyCommand(b, sub(str("k"), count(1n), 10n), 2_000n, MASTER);
    assert.equal(at(), 2_010n);
    applyCommand(b, sub(str("k"), count(1n)), 2_001n, MASTER);
    assert.equal(at(), null);
    // put without an expiry clears one that put gave.
    put(count(5n), 10n, 3_000n);
    put(count(6n), null, 3_001n);
    assert.equal(at(), null);
    // A write the master rejects leaves the expiry as it was.
    put(count(7n), 50n, 4_000n);
    const r = applyCommand(b, add(str("k"), str("x"), "string", 999n), 4_001n, MASTER);
    assert.equal(r.error?.codeName, "type_clash");
    assert.equal(at(), 4_050n);
    b.close();
  }
});

Deno.test("expiry on a live master: increment without expiry keeps the key, with one restarts it", async () => {
  const ep = new Endpoint();
  const kv = ep.attachMaster("kv", undefined, { tickIntervalMs: 10 });
  try {
    await kv.put(str("kept"), count(1n), { expiry: 150 });
    await kv.put(str("restarted"), count(1n), { expiry: 150 });
    await new Promise((r) => setTimeout(r, 100));
    await kv.increment(str("kept"));
    await kv.increment(str("restarted"), count(1n), { expiry: 250 });
    await new Promise((r) => setTimeout(r, 150)); // 250 ms in: the first expiry has passed
    assert.equal(text(await kv.get(str("kept"))), "2");
    assert.equal(text(await kv.get(str("restarted"))), "2");
    await new Promise((r) => setTimeout(r, 300)); // 550 ms in: 100 + 250 has passed
    assert.equal(text(await kv.get(str("kept"))), "2");
    assert.equal(await kv.exists(str("restarted")), false);
  } finally {
    kv.close();
    await ep.shutdown();
  }
});

Deno.test("Store.increment and pop send what Broker's store::increment and store::pop send", async () => {
  const ep = new Endpoint();
  const kv = ep.attachMaster("kv");
  try {
    // A timespan amount starts a missing key from the epoch, a timestamp (store.hh).
    await kv.increment(str("t"), timespan(5n));
    assert.deepEqual(await kv.get(str("t")), timestamp(5n));
    await kv.increment(str("r"), real(0.5));
    assert.deepEqual(await kv.get(str("r")), real(0.5));
    // Any other amount has init type none: a missing key is a type clash.
    await assert.rejects(
      kv.increment(str("s"), str("x")),
      (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.type_clash,
    );
    assert.equal(await kv.exists(str("s")), false);
    // pop is subtract(key, key): on a vector it drops the last element, on a
    // set the element equal to the key (what a C++ master does with it too).
    await kv.put(str("v"), vector(count(1n), count(2n)));
    await kv.pop(str("v"));
    assert.equal(text(await kv.get(str("v"))), "(1)");
    await kv.put(str("s"), set(str("s"), str("x")));
    await kv.pop(str("s"));
    assert.equal(text(await kv.get(str("s"))), "{x}");
  } finally {
    kv.close();
    await ep.shutdown();
  }
});
