/**
 * Data stores over real endpoints on loopback: master operations, clones,
 * snapshots, convergence, SQLite persistence, errors, and interop with the
 * C++ `broker-node`.
 */
import assert from "node:assert/strict";
import {
  BrokerError,
  count,
  type Data,
  dataToString,
  Endpoint,
  ErrorCode,
  integer,
  real,
  set,
  SqliteBackend,
  type Store,
  str,
  table,
  vector,
} from "../mod.ts";
import { freePort, RefProcess, storeTopicsAnnounced, waitForPort } from "./broker_ref.ts";
import { FAST, opts, pair, settledWithin, waitUntil } from "./store_helpers.ts";

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof BrokerError && e.code === code);
}

/** Text of every key/value, sorted: compares two stores' contents. */
async function dump(s: Store): Promise<string[]> {
  const out: string[] = [];
  for (const k of await s.keys()) out.push(`${dataToString(k)}=${dataToString(await s.get(k))}`);
  return out.sort();
}

async function exercise(s: Store, settle: () => Promise<unknown>): Promise<void> {
  await s.put(str("a"), count(1n));
  await s.increment(str("a"), count(41n));
  await s.decrement(str("a"), count(2n));
  await s.insertInto(str("set"), str("x"));
  await s.insertInto(str("set"), str("y"));
  await s.removeFrom(str("set"), str("x"));
  await s.insertInto(str("tbl"), str("k"), count(7n));
  await s.push(str("vec"), integer(-7n));
  await s.push(str("vec"), integer(8n));
  await s.pop(str("vec"));
  await s.put(str("gone"), str("soon"));
  await s.erase(str("gone"));
  await settle();
  assert.equal(dataToString(await s.get(str("a"))), "40");
  assert.equal(dataToString(await s.get(str("set"))), "{y}");
  assert.equal(dataToString(await s.get(str("tbl"))), "{k -> 7}");
  assert.equal(dataToString(await s.get(str("tbl"), str("k"))), "7");
  assert.equal(dataToString(await s.get(str("vec"))), "(-7)");
  assert.equal(await s.exists(str("gone")), false);
  assert.equal(await s.exists(str("a")), true);
  assert.equal((await s.keys()).length, 4);
  await rejectsWith(s.get(str("gone")), ErrorCode.no_such_key);
  assert.equal(await s.putUnique(str("u"), count(1n)), true);
  assert.equal(await s.putUnique(str("u"), count(2n)), false);
  await settle();
  assert.equal(dataToString(await s.get(str("u"))), "1");
  await s.clear();
  await settle();
  assert.deepEqual(await s.keys(), []);
}

Deno.test("store: every operation on a master", opts, async () => {
  const ep = new Endpoint();
  const kv = ep.attachMaster("kv", undefined, FAST);
  try {
    await exercise(kv, () => Promise.resolve());
    await kv.put(str("s"), str("text"));
    await rejectsWith(kv.increment(str("s")), ErrorCode.type_clash);
    // append, as Broker's store::append: a missing key starts as "".
    await kv.append(str("s"), str("!"));
    await kv.append(str("log"), str("ab"));
    assert.equal(dataToString(await kv.get(str("s"))), "text!");
    assert.equal(dataToString(await kv.get(str("log"))), "ab");
    await kv.put(str("n"), count(1n));
    await rejectsWith(kv.append(str("n"), str("x")), ErrorCode.type_clash);
    await rejectsWith(kv.erase(str("missing")), ErrorCode.no_such_key);
    await kv.put(str("t"), count(1n), { expiry: 60 });
    await waitUntil(async () => !(await kv.exists(str("t"))));
  } finally {
    kv.close();
    await ep.shutdown();
  }
});

Deno.test("store: every operation through a clone, seen by master and clone", opts, async () => {
  const [a, b] = await pair();
  const master = a.attachMaster("kv", undefined, FAST);
  const clone = b.attachClone("kv", FAST);
  try {
    await exercise(clone, () => clone.awaitIdle(5000));
    await clone.put(str("k"), vector(count(1n)));
    // It must outlive the comparison below: at 100 ms it once expired at the
    // master before the clone heard of it (a loaded CI run).
    await clone.put(str("t"), count(1n), { expiry: 1000 });
    assert.equal(await clone.awaitIdle(5000), true);
    assert.deepEqual(await dump(master), await dump(clone));
    assert.equal(dataToString(await master.get(str("k"))), "(1)");
    // The master expires the key and tells the clone.
    await waitUntil(async () => !(await clone.exists(str("t"))));
    assert.equal(await master.exists(str("t")), false);
    // Writes on the master reach the clone too.
    await master.put(str("m"), str("from master"));
    await waitUntil(async () => await clone.exists(str("m")));
  } finally {
    clone.close();
    master.close();
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("store: one actor per name and role, as Broker's core keeps them", opts, async () => {
  const [a, b] = await pair();
  const m1 = a.attachMaster("kv", undefined, FAST);
  const m2 = a.attachMaster("kv", undefined, FAST);
  const c1 = b.attachClone("kv", FAST);
  const c2 = b.attachClone("kv", FAST);
  try {
    // A second handle shares the master (and the clone): same entity, same data.
    assert.deepEqual(m2.id, m1.id);
    assert.deepEqual(c2.id, c1.id);
    await m1.put(str("a"), count(1n));
    assert.equal(dataToString(await m2.get(str("a"))), "1");
    await waitUntil(async () => await c2.exists(str("a")));
    // A clone of a store this endpoint is master of is refused, as by Broker.
    assert.throws(
      () => a.attachClone("kv", FAST),
      (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.no_such_master,
    );
    // Closing one handle leaves the other working; the last one stops the store.
    m1.close();
    assert.equal(m1.closed, true);
    assert.equal(m2.closed, false);
    await rejectsWith(m1.get(str("a")), ErrorCode.shutting_down);
    await m2.put(str("b"), count(2n));
    await waitUntil(async () => await c1.exists(str("b")));
    c1.close();
    assert.equal(await c2.exists(str("b")), true);
    m2.close();
    assert.equal(m2.closed, true);
    // With the master gone, this endpoint may clone the store.
    const late = a.attachClone("kv", { ...FAST, requestTimeoutMs: 200 });
    late.close();
  } finally {
    for (const s of [m1, m2, c1, c2]) s.close();
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("store: a late clone gets the snapshot", opts, async () => {
  const [a, b] = await pair();
  const master = a.attachMaster("kv", undefined, FAST);
  for (let i = 0; i < 500; i++) await master.put(count(BigInt(i)), str(`v${i}`));
  await master.insertInto(str("s"), str("x"));
  const clone = b.attachClone("kv", FAST);
  try {
    assert.equal((await clone.keys()).length, 501);
    assert.equal(dataToString(await clone.get(count(499n))), "v499");
    assert.deepEqual(await dump(clone), await dump(master));
  } finally {
    clone.close();
    master.close();
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test(
  "store: a fresh clone answers its first read when the snapshot arrives",
  opts,
  async () => {
    const [a, b] = await pair();
    const master = a.attachMaster("kv", undefined, FAST);
    await master.put(str("k"), count(7n));
    await b.awaitPeerSubscription("kv/<$>/data/master");
    // Ticks an hour apart: a read that waited for the next tick would not be answered here.
    const clone = b.attachClone("kv", { tickIntervalMs: 3_600_000, maxGetDelayMs: 60_000 });
    try {
      assert.deepEqual(await settledWithin(clone.get(str("k")), 20_000), count(7n));
    } finally {
      clone.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
    }
  },
);

Deno.test(
  "store: an expiry that is no timespan rejects every write, on master and clone, before any change",
  opts,
  async () => {
    const [a, b] = await pair();
    const master = a.attachMaster("kv", undefined, FAST);
    const clone = b.attachClone("kv", FAST);
    try {
      await master.put(str("k"), count(1n));
      await waitUntil(async () => (await clone.keys()).length === 1);
      const bad = [NaN, Infinity, -Infinity, 1e13, 2n ** 63n, -(2n ** 63n) - 1n];
      for (const s of [master, clone]) {
        for (const expiry of bad) {
          const o = { expiry };
          const writes: [string, () => Promise<unknown>][] = [
            ["put", () => s.put(str("x"), count(1n), o)],
            ["putUnique", () => s.putUnique(str("x"), count(1n), o)],
            ["increment", () => s.increment(str("k"), count(1n), o)],
            ["decrement", () => s.decrement(str("k"), count(1n), o)],
            ["insertInto", () => s.insertInto(str("x"), str("e"), undefined, o)],
            ["removeFrom", () => s.removeFrom(str("k"), str("e"), o)],
            ["push", () => s.push(str("x"), count(1n), o)],
            ["pop", () => s.pop(str("k"), o)],
          ];
          for (const [what, write] of writes) {
            let p: Promise<unknown> | undefined;
            assert.doesNotThrow(() => p = write(), `${what} ${expiry} threw`);
            await rejectsWith(p!, ErrorCode.invalid_data);
          }
        }
      }
      // A far expiry (2^62 ns, 146 years) is kept; the largest timespan is accepted too, and
      // expires at once (see "an expiry whose end passes int64 time" below).
      await master.put(str("far"), count(2n), { expiry: 2n ** 62n });
      assert.equal(await clone.awaitIdle(5000), true);
      await waitUntil(async () => (await clone.keys()).length === 2);
      assert.deepEqual(await dump(master), ["far=2", "k=1"]);
      assert.deepEqual(await dump(clone), ["far=2", "k=1"]);
    } finally {
      clone.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
    }
  },
);

Deno.test("store: two clones writing concurrently converge", opts, async () => {
  const m = new Endpoint(), c1 = new Endpoint(), c2 = new Endpoint();
  const port = await m.listen("127.0.0.1", 0);
  await c1.peer("127.0.0.1", port, { retryMs: 0 });
  await c2.peer("127.0.0.1", port, { retryMs: 0 });
  const master = m.attachMaster("kv", undefined, FAST);
  const x = c1.attachClone("kv", FAST), y = c2.attachClone("kv", FAST);
  try {
    await Promise.all([x.keys(), y.keys()]); // both attached
    const writes: Promise<unknown>[] = [];
    for (let i = 0; i < 100; i++) {
      writes.push(x.increment(str("n")), y.increment(str("n")));
      writes.push(x.put(str(`k${i % 10}`), str(`x${i}`)), y.put(str(`k${i % 10}`), str(`y${i}`)));
      writes.push(
        x.insertInto(str("s"), count(BigInt(i))),
        y.insertInto(str("s"), integer(BigInt(i))),
      );
    }
    await Promise.all(writes);
    await Promise.all([x.awaitIdle(10_000), y.awaitIdle(10_000)]);
    await waitUntil(async () => {
      const [dm, dx, dy] = await Promise.all([dump(master), dump(x), dump(y)]);
      return JSON.stringify(dm) === JSON.stringify(dx) && JSON.stringify(dx) === JSON.stringify(dy);
    });
    assert.equal(dataToString(await master.get(str("n"))), "200");
    assert.equal(dataToString(await x.get(str("n"))), "200");
    const s = await y.get(str("s"));
    assert.equal(s.type === "set" ? s.value.length : -1, 200);
  } finally {
    for (const s of [x, y, master]) s.close();
    await Promise.all([c1.shutdown(), c2.shutdown()]);
    await m.shutdown();
  }
});

/**
 * An attached clone's writes issued right before its endpoint shuts down
 * (no awaitIdle) all reach the master `port` listens on, read back through a
 * clone attached afterwards: as a Zeek 8.2.2 clone's puts made just before
 * terminate() reach its master once the clone has attached (3 runs of 3;
 * before the attach, Broker's clone holds them and its shutdown drops them,
 * and so does ours).
 */
async function writesBeforeShutdown(port: number, n: number): Promise<void> {
  const writer = new Endpoint();
  await writer.peer("127.0.0.1", port, { retryMs: 0 });
  const clone = writer.attachClone("kv");
  await clone.keys(); // attached: the master's ack_clone came
  for (let i = 0; i < n; i++) clone.put(str(`k${i}`), count(BigInt(i)));
  await writer.shutdown();
  const reader = new Endpoint();
  try {
    await reader.peer("127.0.0.1", port, { retryMs: 0 });
    const late = reader.attachClone("kv");
    // The master applies the writer's last writes as it reads them: poll the snapshot's successors.
    await waitUntil(async () => (await late.keys()).length === n, 20_000);
    assert.equal(dataToString(await late.get(str(`k${n - 1}`))), String(n - 1));
    late.close();
  } finally {
    await reader.shutdown();
  }
}

Deno.test(
  "store: a clone's writes right before its endpoint shuts down reach the master",
  opts,
  async () => {
    const m = new Endpoint();
    const port = await m.listen("127.0.0.1", 0);
    const master = m.attachMaster("kv");
    try {
      await writesBeforeShutdown(port, 1000);
      assert.equal((await master.keys()).length, 1000);
    } finally {
      master.close();
      await m.shutdown();
    }
  },
);

Deno.test("store: a SQLite master restarted on the same file keeps its data", opts, async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/kv.sqlite`;
  try {
    let ep = new Endpoint();
    let kv = ep.attachMaster("kv", new SqliteBackend({ path }), FAST);
    await kv.put(str("a"), count(1n));
    await kv.insertInto(str("t"), str("k"), set(str("v")));
    kv.close();
    await ep.shutdown();
    ep = new Endpoint();
    kv = ep.attachMaster("kv", new SqliteBackend({ path }), FAST);
    assert.equal(dataToString(await kv.get(str("a"))), "1");
    assert.equal(dataToString(await kv.get(str("t"))), "{k -> {v}}");
    kv.close();
    await ep.shutdown();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "store: a SQLite master restarted mid-expiry still expires the key, with an event",
  opts,
  async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/kv.sqlite`;
    try {
      let ep = new Endpoint();
      let kv = ep.attachMaster("kv", new SqliteBackend({ path }), FAST);
      await kv.put(str("soon"), count(1n), { expiry: 600 });
      await kv.put(str("kept"), count(2n));
      kv.close();
      await ep.shutdown();
      // A new process would start here: the expiry lives only in the file.
      ep = new Endpoint();
      kv = ep.attachMaster("kv", new SqliteBackend({ path }), FAST);
      const events = kv.events({ capacity: 16 });
      try {
        assert.equal(await kv.exists(str("soon")), true, "not yet due");
        await waitUntil(async () => !(await kv.exists(str("soon"))), 5000);
        const ev = await events.get(2000);
        assert.equal(ev?.type, "expire");
        assert.equal(dataToString((ev as { key: Data }).key), "soon");
        assert.equal(dataToString(await kv.get(str("kept"))), "2");
      } finally {
        events.close();
        kv.close();
        await ep.shutdown();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  "store: master_exists, stale_data without a master, request_timeout, stale_data after losing it",
  opts,
  async () => {
    const [a, b] = await pair();
    const master = a.attachMaster("kv", undefined, FAST);
    try {
      await waitUntil(() => b.commandBus.hasPeerSubscriber("kv/<$>/data/master"));
      assert.throws(
        () => b.attachMaster("kv"),
        (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.master_exists,
      );
      // No master for "other": reads give up with stale_data (Broker's clone after
      // max-get-delay), put_unique with request_timeout.
      const lonely = b.attachClone("other", { ...FAST, requestTimeoutMs: 200, maxGetDelayMs: 200 });
      await rejectsWith(lonely.get(str("x")), ErrorCode.stale_data);
      await rejectsWith(lonely.exists(str("x")), ErrorCode.stale_data);
      await rejectsWith(lonely.keys(), ErrorCode.stale_data);
      await rejectsWith(lonely.putUnique(str("x"), count(1n)), ErrorCode.request_timeout);
      lonely.close();
      // A delay of 0 fails a read at once, as Broker's does; a negative one is refused.
      const impatient = b.attachClone("other", { ...FAST, maxGetDelayMs: 0 });
      await rejectsWith(impatient.get(str("x")), ErrorCode.stale_data);
      impatient.close();
      assert.throws(() => b.attachClone("other", { maxGetDelayMs: -1 }), RangeError);
      // Timings a timer cannot keep are refused, not run every millisecond.
      assert.throws(() => b.attachClone("other", { requestTimeoutMs: NaN }), RangeError);
      for (const tickIntervalMs of [0, -5, 3_600_000_000]) {
        assert.throws(() => b.attachClone("other", { tickIntervalMs }), RangeError);
        assert.throws(() => b.attachMaster("mine", undefined, { tickIntervalMs }), RangeError);
      }
      // A clone that lost its master answers from its copy, then reports stale data.
      const clone = b.attachClone("kv", { ...FAST, staleIntervalMs: 300 });
      await master.put(str("k"), count(1n));
      await waitUntil(async () => await clone.exists(str("k")));
      master.close();
      await a.shutdown();
      await waitUntil(async () => {
        try {
          await clone.get(str("k"));
          return false;
        } catch (e) {
          return e instanceof BrokerError && e.code === ErrorCode.stale_data;
        }
      });
      clone.close();
    } finally {
      master.close();
      await b.shutdown();
      await a.shutdown();
    }
  },
);

// ------------------------------------------------------------------ interop

function refNode(port: number, role: "master" | "clone"): RefProcess {
  return new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    '--topics=["/t"]',
    "-p",
    String(port),
    role === "master" ? '--master-stores=["kv"]' : '--clone-stores=["kv"]',
  ]);
}

Deno.test("store interop: our clone of a C++ master", opts, async () => {
  const port = freePort();
  const node = refNode(port, "master");
  const ep = new Endpoint();
  let clone: Store | undefined;
  try {
    await waitForPort(port);
    await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
    await ep.peer("127.0.0.1", port, { retryMs: 0 });
    clone = ep.attachClone("kv", { requestTimeoutMs: 5000 });
    await clone.put(str("a"), count(1n));
    await clone.increment(str("a"), count(41n));
    await clone.insertInto(str("set"), str("x"));
    await clone.push(str("vec"), integer(-7n));
    assert.equal(await clone.putUnique(str("u"), str("first")), true);
    assert.equal(await clone.putUnique(str("u"), str("second")), false);
    assert.equal(await clone.awaitIdle(10_000), true);
    // What we read back came from the C++ master's broadcasts.
    await waitUntil(async () => (await clone!.keys()).length === 4);
    assert.equal(dataToString(await clone.get(str("a"))), "42");
    assert.equal(dataToString(await clone.get(str("set"))), "{x}");
    assert.equal(dataToString(await clone.get(str("vec"))), "(-7)");
    assert.equal(dataToString(await clone.get(str("u"))), "first");
    // A second clone, attached later, gets the C++ master's snapshot.
    const ep2 = new Endpoint();
    await ep2.peer("127.0.0.1", port, { retryMs: 0 });
    const late = ep2.attachClone("kv", { requestTimeoutMs: 5000 });
    assert.deepEqual(await dump(late), await dump(clone));
    late.close();
    await ep2.shutdown();
  } finally {
    clone?.close();
    await ep.shutdown();
    await node.stop();
  }
});

Deno.test(
  "store interop: our clone's writes right before its endpoint shuts down reach a C++ master",
  opts,
  async () => {
    const port = freePort();
    const node = refNode(port, "master");
    try {
      await waitForPort(port);
      await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
      await writesBeforeShutdown(port, 1000);
    } finally {
      await node.stop();
    }
  },
);

Deno.test(
  "store interop: a late clone of a C++ master holding 0.0 and -0.0 as two keys attaches",
  opts,
  async () => {
    const port = freePort();
    const node = refNode(port, "master");
    const ep = new Endpoint(), ep2 = new Endpoint();
    let clone: Store | undefined, late: Store | undefined;
    try {
      await waitForPort(port);
      await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
      await ep.peer("127.0.0.1", port, { retryMs: 0 });
      clone = ep.attachClone("kv", { requestTimeoutMs: 5000 });
      // Broker's memory backend hashes a zero's sign: these are four keys to it.
      await clone.put(real(0), str("zero"));
      await clone.put(real(-0), str("negative zero"));
      await clone.put(set(count(1n), real(-0)), str("set with -0"));
      await clone.put(set(count(1n), real(0)), str("set with 0"));
      await clone.put(str("plain"), count(1n));
      assert.equal(await clone.awaitIdle(10_000), true);
      // Its ack_clone carries all four; a clone that refused it would never attach.
      await ep2.peer("127.0.0.1", port, { retryMs: 0 });
      late = ep2.attachClone("kv", { requestTimeoutMs: 5000 });
      const keys = (await late.keys()).map(dataToString).sort();
      // One key each here, as our tables keep keys equal by Broker's order.
      assert.equal(keys.length, 3, keys.join(" | "));
      assert.match(keys[0], /^-?0\.000000$/);
      assert.equal(keys[1], "plain");
      assert.match(keys[2], /^\{1, -?0\.000000\}$/);
      assert.ok(["zero", "negative zero"].includes(dataToString(await late.get(real(0)))));
    } finally {
      late?.close();
      clone?.close();
      await ep2.shutdown();
      await ep.shutdown();
      await node.stop();
    }
  },
);

Deno.test(
  "store interop: an expiry whose end passes int64 time expires at the next tick, on a C++ master and ours",
  opts,
  async () => {
    // Broker's master takes now + expiry in int64 nanoseconds (master_actor.cc,
    // to_opt_timestamp and set_expire_time): past 2^63 - 1 the sum wraps to a time long gone,
    // and the key expires at the next tick. 2^62 ns from now does not wrap, and stays.
    const port = freePort();
    const node = refNode(port, "master");
    const ours = new Endpoint();
    const ourPort = await ours.listen("127.0.0.1", 0);
    const ourMaster = ours.attachMaster("kv", undefined, FAST);
    const endpoints: Endpoint[] = [];
    try {
      await waitForPort(port);
      await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
      for (const [who, p] of [["C++", port], ["ours", ourPort]] as const) {
        const ep = new Endpoint();
        endpoints.push(ep);
        await ep.peer("127.0.0.1", p, { retryMs: 0 });
        const clone = ep.attachClone("kv", FAST);
        await clone.keys(); // attached: the master's expire reaches this clone
        const events = clone.events({ capacity: 64 });
        await clone.put(str("kept"), count(1n), { expiry: 2n ** 62n });
        await clone.put(str("max"), count(2n), { expiry: 2n ** 63n - 1n });
        let ev;
        do ev = await events.get(10_000); while (ev && ev.type !== "expire");
        assert.equal(ev?.type, "expire", `${who}: no expire event for max`);
        assert.equal(dataToString(ev.key), "max", who);
        assert.deepEqual(await dump(clone), ["kept=1"], who);
        events.close();
        clone.close();
      }
      assert.deepEqual(await dump(ourMaster), ["kept=1"]);
    } finally {
      ourMaster.close();
      for (const ep of endpoints) await ep.shutdown();
      await ours.shutdown();
      await node.stop();
    }
  },
);

Deno.test(
  "store interop: our clone takes a C++ master's snapshot over 64 MiB (80 values of 1 MB)",
  opts,
  async () => {
    // The ack_clone (80,000,832 bytes) is one frame: ours refused frames over
    // 64 MiB, so the peering dropped and the clone never got the store.
    const port = freePort();
    const node = refNode(port, "master");
    const writer = new Endpoint(), reader = new Endpoint();
    let w: Store | undefined, r: Store | undefined;
    try {
      await waitForPort(port);
      await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
      await writer.peer("127.0.0.1", port, { retryMs: 0 });
      w = writer.attachClone("kv", { requestTimeoutMs: 20_000 });
      assert.deepEqual(await w.keys(), []); // attached: writes go to the master, not a buffer
      const mb = "x".repeat(1_000_000);
      for (let i = 0; i < 80; i++) await w.put(count(BigInt(i)), str(mb));
      assert.equal(await w.awaitIdle(30_000), true);
      await reader.peer("127.0.0.1", port, { retryMs: 0 });
      // A clone asks again every 200 ms until the snapshot is in, and Broker's
      // master answers each ask with the whole 80 MB (channel.hh, handle_nack):
      // one ask keeps the C++ master from serialising it again and again while
      // the first copy is on its way, which took over 5 s on a loaded machine.
      r = reader.attachClone("kv", {
        requestTimeoutMs: 20_000,
        maxGetDelayMs: 30_000,
        nackTimeoutTicks: 100,
      });
      assert.equal((await r.keys()).length, 80);
      const v = await r.get(count(79n));
      assert.equal(v.type === "string" ? v.value.length : -1, 1_000_000);
      assert.equal(reader.peers().length, 1);
    } finally {
      r?.close();
      w?.close();
      await reader.shutdown();
      await writer.shutdown();
      await node.stop();
    }
  },
);

Deno.test("store interop: a C++ clone attaches to our master", opts, async () => {
  const ep = new Endpoint();
  const master = ep.attachMaster("kv");
  const port = freePort();
  const node = refNode(port, "clone");
  try {
    await master.put(str("pre-existing"), count(1n));
    await waitForPort(port);
    // Without the clone's topic in the handshake, our broadcasts would not reach it.
    await storeTopicsAnnounced(port, ["kv/<$>/data/clone"]);
    await ep.peer("127.0.0.1", port, { retryMs: 0 });
    // The C++ clone asks (nack [0]), gets ack_clone, acks it and attaches its writer.
    await waitUntil(() => master.peers.length === 1 && master.writers.length === 1, 10_000);
    // It acks our broadcasts: the master's channel drains.
    await master.put(str("b"), table([[str("k"), count(2n)]]));
    await master.increment(str("pre-existing"));
    // (It failed a few times in loaded CI runs, cause not confirmed; a handshake
    // without the clone's topic, awaited above since, would look so. The store's
    // metrics tell unacknowledged updates, sent to the clone, from a gap in
    // what the clone's writer sent.)
    const storeMetrics = () =>
      ep.metricsText().split("\n").filter((l) => l.startsWith("broker_store_")).join("\n");
    assert.equal(await master.awaitIdle(10_000), true, `not idle:\n${storeMetrics()}`);
    // ...and stays attached across keepalives (well past a few heartbeat intervals).
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(master.peers.length, 1);
    assert.equal(master.writers.length, 1);
  } finally {
    master.close();
    await ep.shutdown();
    await node.stop();
  }
});

Deno.test(
  "store: a clone whose link is cut and restored converges with nothing lost",
  opts,
  async () => {
    const a = new Endpoint(), b = new Endpoint();
    const port = await a.listen("127.0.0.1", 0);
    try {
      await b.peer("127.0.0.1", port, { retryMs: 100 });
      const master = a.attachMaster("cut", undefined, FAST);
      const clone = b.attachClone("cut", FAST);
      await master.put(str("before"), count(1n));
      await waitUntil(async () => (await clone.exists(str("before"))));
      // Cut the link: the other side restarts its listener so the clone's endpoint re-dials.
      await b.unpeer("127.0.0.1", port);
      for (let i = 0; i < 50; i++) await master.put(str(`during-${i}`), count(BigInt(i)));
      await b.peer("127.0.0.1", port, { retryMs: 100 });
      await waitUntil(async () => (await dump(clone)).length === 51, 10_000);
      assert.deepEqual(await dump(clone), await dump(master));
      // and writes through the clone reach the master again
      await clone.put(str("after"), count(2n));
      await waitUntil(async () => await master.exists(str("after")), 10_000);
    } finally {
      await a.shutdown();
      await b.shutdown();
    }
  },
);

Deno.test(
  "store: the master's process restarts on its SQLite file; the clone catches up",
  opts,
  async () => {
    const path = await Deno.makeTempFile({ suffix: ".sqlite" });
    const port = freePort();
    let a = new Endpoint();
    await a.listen("127.0.0.1", port);
    const b = new Endpoint();
    try {
      await b.peer("127.0.0.1", port, { retryMs: 100 });
      let master = a.attachMaster("rs", new SqliteBackend({ path }), FAST);
      const clone = b.attachClone("rs", FAST);
      await master.put(str("before"), count(1n));
      await waitUntil(async () => await clone.exists(str("before")));
      master.close();
      await a.shutdown();
      // The clone still answers from its copy while the master is away.
      assert.equal(dataToString(await clone.get(str("before"))), "1");
      a = new Endpoint();
      await a.listen("127.0.0.1", port);
      master = a.attachMaster("rs", new SqliteBackend({ path }), FAST);
      assert.equal(dataToString(await master.get(str("before"))), "1", "the file kept the data");
      await master.put(str("after"), count(2n));
      await waitUntil(async () => await clone.exists(str("after")), 10_000);
      assert.deepEqual(await dump(clone), await dump(master));
      master.close();
    } finally {
      await b.shutdown();
      await a.shutdown();
      await Deno.remove(path).catch(() => {});
    }
  },
);
