/**
 * Store events on masters and clones: each kind (insert, update, erase,
 * expire) with Broker's fields and publishers, the snapshot diff a clone
 * reports on attach, Broker's data layout, and the bounded reader queue.
 */
import assert from "node:assert/strict";
import { count, type Data, dataToString, Endpoint, type Store, str } from "../mod.ts";
import { type StoreEvent, storeEventToData } from "../engine/store/events.ts";
import { type Entity, entityEquals, NIL_ENTITY } from "../engine/store/entity.ts";
import { endpointIdToString } from "../engine/wire/endpoint_id.ts";
import { FAST, opts, pair, waitUntil } from "./store_helpers.ts";

/** The next event, failing the test when none comes in time. */
async function next(q: { get(ms?: number): Promise<StoreEvent | undefined> }): Promise<StoreEvent> {
  const e = await q.get(3000);
  assert.ok(e, "expected a store event");
  return e;
}

/** A compact text of an event for whole-sequence comparisons. */
function show(e: StoreEvent): string {
  return dataToString(storeEventToData({ ...e, publisher: NIL_ENTITY }));
}

function samePublisher(actual: Entity, expected: Entity): void {
  assert.ok(entityEquals(actual, expected), "unexpected publisher");
}

/** Checks one event's kind, store, key and publisher (and values where given). */
function check(
  e: StoreEvent,
  want: { type: StoreEvent["type"]; key: Data; publisher: Entity; store: string },
): void {
  assert.equal(e.type, want.type);
  assert.equal(e.store, want.store);
  assert.equal(dataToString(e.key), dataToString(want.key));
  samePublisher(e.publisher, want.publisher);
}

Deno.test("store events: every kind on a master, with Broker's fields", opts, async () => {
  const ep = new Endpoint();
  const kv = ep.attachMaster("kv", undefined, FAST);
  const q = kv.events();
  const me = { store: "kv", publisher: kv.id };
  try {
    await kv.put(str("a"), count(1n), { expiry: 60_000 });
    let e = await next(q);
    check(e, { type: "insert", key: str("a"), ...me });
    assert.ok(e.type === "insert");
    assert.equal(dataToString(e.value), "1");
    assert.equal(e.expiry, 60_000_000_000n); // relative, as written

    await kv.put(str("a"), count(2n));
    e = await next(q);
    check(e, { type: "update", key: str("a"), ...me });
    assert.ok(e.type === "update");
    assert.equal(dataToString(e.oldValue), "1");
    assert.equal(dataToString(e.newValue), "2");
    assert.equal(e.expiry, null);

    // add reports the resulting value without expiry, like Broker's master.
    await kv.increment(str("a"), count(5n), { expiry: 60_000 });
    e = await next(q);
    assert.ok(e.type === "update");
    assert.equal(dataToString(e.newValue), "7");
    assert.equal(e.expiry, null);
    await kv.increment(str("n"));
    e = await next(q);
    check(e, { type: "insert", key: str("n"), ...me });

    // put_unique: an insert when it wins, nothing when the key exists.
    assert.equal(await kv.putUnique(str("u"), str("x")), true);
    check(await next(q), { type: "insert", key: str("u"), ...me });
    assert.equal(await kv.putUnique(str("u"), str("y")), false);

    await kv.erase(str("u"));
    check(await next(q), { type: "erase", key: str("u"), ...me });

    // clear: one erase per key.
    await kv.clear();
    const cleared = [await next(q), await next(q)];
    assert.deepEqual(cleared.map((c) => c.type), ["erase", "erase"]);
    assert.deepEqual(cleared.map((c) => dataToString(c.key)).sort(), ["a", "n"]);

    // expire: published by the master itself.
    await kv.put(str("tmp"), count(0n), { expiry: 30 });
    check(await next(q), { type: "insert", key: str("tmp"), ...me });
    check(await next(q), { type: "expire", key: str("tmp"), ...me });
    assert.equal(q.length, 0);
  } finally {
    kv.close();
    await ep.shutdown();
  }
});

Deno.test("store events: Broker's vector layout", () => {
  const pub = { endpoint: new Uint8Array(16).fill(0x11), object: 7n };
  const ep = endpointIdToString(pub.endpoint);
  const insert = storeEventToData({
    type: "insert",
    store: "kv",
    key: str("k"),
    value: count(1n),
    expiry: 5n,
    publisher: pub,
  });
  assert.ok(insert.type === "vector");
  assert.deepEqual(insert.value.map((d) => d.type), [
    "string",
    "string",
    "string",
    "count",
    "timespan",
    "string",
    "count",
  ]);
  assert.equal(dataToString(insert.value[5]), ep);
  assert.equal(insert.value[6].value, 7n);
  const update = storeEventToData({
    type: "update",
    store: "kv",
    key: str("k"),
    oldValue: count(1n),
    newValue: count(2n),
    expiry: null,
    publisher: NIL_ENTITY,
  });
  assert.ok(update.type === "vector");
  assert.equal(update.value.length, 8);
  assert.deepEqual(update.value.slice(5).map((d) => d.type), ["none", "none", "none"]);
  for (const type of ["erase", "expire"] as const) {
    const d = storeEventToData({ type, store: "kv", key: str("k"), publisher: pub });
    assert.ok(d.type === "vector");
    assert.equal(d.value.length, 5);
    assert.equal(dataToString(d.value[0]), type);
    assert.equal(dataToString(d.value[1]), "kv");
  }
});

Deno.test(
  "store events: every kind on a clone, from the master and its own writes",
  opts,
  async () => {
    const [a, b] = await pair();
    const master = a.attachMaster("kv", undefined, FAST);
    const clone = b.attachClone("kv", FAST);
    const q = clone.events();
    try {
      await waitUntil(() => master.peers.length === 1 && clone.peers.length === 1);
      const fromMaster = { store: "kv", publisher: master.id };

      await master.put(str("a"), count(1n), { expiry: 60_000 });
      let e = await next(q);
      check(e, { type: "insert", key: str("a"), ...fromMaster });
      assert.ok(e.type === "insert");
      assert.equal(dataToString(e.value), "1");
      assert.equal(e.expiry, 60_000_000_000n);

      // A clone's own write comes back through the master with the clone as publisher.
      await clone.put(str("a"), count(2n));
      e = await next(q);
      check(e, { type: "update", key: str("a"), store: "kv", publisher: clone.id });
      assert.ok(e.type === "update");
      assert.equal(dataToString(e.oldValue), "1");
      assert.equal(dataToString(e.newValue), "2");

      await clone.increment(str("a"));
      e = await next(q);
      assert.ok(e.type === "update");
      assert.equal(dataToString(e.newValue), "3");
      assert.equal(e.expiry, null);

      assert.equal(await clone.putUnique(str("u"), str("x")), true);
      check(await next(q), { type: "insert", key: str("u"), store: "kv", publisher: clone.id });

      await master.erase(str("u"));
      check(await next(q), { type: "erase", key: str("u"), ...fromMaster });

      await master.put(str("tmp"), count(0n), { expiry: 30 });
      check(await next(q), { type: "insert", key: str("tmp"), ...fromMaster });
      check(await next(q), { type: "expire", key: str("tmp"), ...fromMaster });

      await clone.clear();
      e = await next(q);
      check(e, { type: "erase", key: str("a"), store: "kv", publisher: clone.id });
      assert.equal(await q.get(100), undefined);
    } finally {
      clone.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
    }
  },
);

Deno.test("store events: a clone reports the master's snapshot as inserts", opts, async () => {
  const [a, b] = await pair();
  const master = a.attachMaster("kv", undefined, FAST);
  let clone: Store | undefined;
  try {
    await master.put(str("x"), count(1n));
    await master.put(str("y"), count(2n));
    clone = b.attachClone("kv", FAST);
    const q = clone.events(); // before the handshake's round trip completes
    const got = [await next(q), await next(q)];
    for (const e of got) {
      assert.equal(e.type, "insert");
      samePublisher(e.publisher, master.id);
      assert.ok(e.type === "insert" && e.expiry === null);
    }
    assert.deepEqual(got.map(show).sort(), [
      "(insert, kv, x, 1, nil, nil, nil)",
      "(insert, kv, y, 2, nil, nil, nil)",
    ]);
  } finally {
    clone?.close();
    master.close();
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test(
  "store events: readers are bounded, drop oldest and end with the store",
  opts,
  async () => {
    const ep = new Endpoint();
    const kv = ep.attachMaster("kv", undefined, FAST);
    const small = kv.events({ capacity: 2 });
    const gone = kv.events();
    gone.close(); // unsubscribes
    for (let i = 0; i < 5; i++) await kv.put(str(`k${i}`), count(i));
    assert.equal(small.dropped, 3);
    assert.deepEqual(small.poll().map((e) => dataToString(e.key)), ["k3", "k4"]);
    assert.equal(gone.length, 0);
    kv.close();
    assert.equal(small.closed, true);
    assert.equal(await small.get(10), undefined);
    await ep.shutdown();
  },
);

Deno.test(
  "store events reach the endpoint's subscribers of <$>/local/data/store-events",
  opts,
  async () => {
    const ep = new Endpoint();
    const master = ep.attachMaster("ev", undefined, FAST);
    try {
      const sub = ep.subscribe("<$>/local/data/store-events");
      await master.put(str("k"), count(1n));
      await master.erase(str("k"));
      const insert = await sub.get(3000);
      const erase = await sub.get(3000);
      assert.equal(insert?.topic, "<$>/local/data/store-events/ev");
      const fields = (d: Data | undefined) => (d?.value as Data[]).map(dataToString);
      assert.deepEqual(fields(insert?.data).slice(0, 4), ["insert", "ev", "k", "1"]);
      assert.deepEqual(fields(erase?.data).slice(0, 3), ["erase", "ev", "k"]);
      // Internal topics never reach the filter peers see.
      assert.deepEqual([...ep.filter].filter((t) => t.startsWith("<$>/local")), []);
    } finally {
      master.close();
      await ep.shutdown();
    }
  },
);
