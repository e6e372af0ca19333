// Broker data stores with a real Zeek 8 (scripts/stores.zeek): Zeek's master with our clone,
// and our master with Zeek's clone (Broker::create_clone), reads and writes both ways.
import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  dataToString,
  type Endpoint,
  type Store,
  type StoreEvent,
  str,
} from "../../mod.ts";
import { type ZeekProcess, zeekTest, type ZeekTestContext } from "./zeek.ts";

/** An insert or update among a store's events as one line, `insert k v` (others: undefined). */
function changeLine(ev: StoreEvent): string | undefined {
  if (ev.type === "insert") return `insert ${dataToString(ev.key)} ${dataToString(ev.value)}`;
  if (ev.type === "update") return `update ${dataToString(ev.key)} ${dataToString(ev.newValue)}`;
  return undefined;
}

/** Zeek running stores.zeek as the master of zeek_kv, our endpoint peered with it, its clone. */
async function cloneOfZeeksMaster(
  t: ZeekTestContext,
): Promise<{ zeek: ZeekProcess; ep: Endpoint; clone: Store }> {
  const zeek = await t.zeek("stores.zeek", { env: { ZEEK_ROLE: "master" } });
  const ep = t.endpoint();
  await ep.peer("127.0.0.1", await zeek.port());
  const clone = ep.attachClone("zeek_kv");
  t.defer(() => clone.close());
  return { zeek, ep, clone };
}

zeekTest(
  "Zeek's master store with our clone: we read Zeek's keys, Zeek sees our writes, we see Zeek's",
  async (t) => {
    const { zeek, ep, clone } = await cloneOfZeeksMaster(t);
    const events = clone.events();

    // Reads wait for the master's snapshot.
    assert.equal(dataToString(await clone.get(str("a"))), "1");
    assert.equal(dataToString(await clone.get(str("s"))), "{x, y}");
    await clone.put(str("b"), count(2n));
    await clone.increment(str("b"), count(40n));
    assert.equal(await clone.putUnique(str("u"), str("first")), true);
    assert.equal(await clone.putUnique(str("u"), str("second")), false);
    assert.ok(await clone.awaitIdle(5000), "the master did not acknowledge our writes");

    await ep.awaitPeerSubscription("/zeek/stores");
    ep.publishEvent("/zeek/stores", "Test::check", []);
    await zeek.waitFor("zeek master sees b, 42");
    await zeek.waitFor("zeek master keys, a,b,s,u");
    await zeek.waitFor("put c");

    // Zeek's own put reaches the clone as a store event, then as the clone's value.
    let ev: StoreEvent | undefined;
    do {
      ev = await events.get(5000);
      assert.ok(ev, "no store event for Zeek's put of c");
    } while (!(ev.type === "insert" && dataToString(ev.key) === "c"));
    assert.equal(dataToString(ev.value), "3");
    assert.equal(dataToString(await clone.get(str("c"))), "3");
    assert.deepEqual(
      (await clone.keys()).map(dataToString).sort(),
      ["a", "b", "c", "s", "u"],
    );
  },
);

zeekTest(
  "our master store with Zeek's clone (Broker::create_clone): Zeek reads ours, we see Zeek's writes",
  async (t) => {
    const ep = t.endpoint();
    const master = ep.attachMaster("deno_kv");
    t.defer(() => master.close());
    await master.put(str("n"), count(37n));
    await master.put(str("h"), addr("2001:db8::7"));
    const events = master.events();
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("stores.zeek", {
      env: { ZEEK_ROLE: "clone", DENO_PORT: `${port}/tcp` },
    });

    await zeek.waitFor("clone attached");
    await zeek.waitFor("zeek clone sees n, 37");
    await zeek.waitFor("zeek clone sees h, 2001:db8::7");
    await zeek.waitFor("wrote");

    // Zeek's clone forwards its writes to our master, which applies them in order.
    const seen: string[] = [];
    while (seen.length < 2) {
      const ev = await events.get(5000);
      assert.ok(ev, `our master saw only ${seen.join("; ")}\n${zeek.transcript}`);
      const line = changeLine(ev);
      if (line) seen.push(line);
    }
    assert.deepEqual(seen, ["insert zeek T", "update n 42"]);
    assert.equal(dataToString(await master.get(str("zeek"))), dataToString(bool(true)));
    assert.equal(dataToString(await master.get(str("n"))), "42");
    assert.equal(master.peers.length, 1, "Zeek's clone is attached to our master");
  },
);

zeekTest(
  "our clone's append on Zeek's master, as Zeek's Broker::append: a missing key starts as an empty string, a value that is no string stays",
  async (t) => {
    const { zeek, clone } = await cloneOfZeeksMaster(t);
    assert.equal(dataToString(await clone.get(str("a"))), "1");
    const events = clone.events();

    // Zeek's master applies the writes in order and tells its clones the results.
    await clone.append(str("a"), str("x")); // a count: the master refuses it
    await clone.append(str("log"), str("ab"));
    await clone.append(str("log"), str("cd"));
    const seen: string[] = [];
    while (!seen.includes("update log abcd")) {
      const ev = await events.get(5000);
      assert.ok(ev, `the clone saw only ${seen.join("; ")}\n${zeek.transcript}`);
      const line = changeLine(ev);
      if (line) seen.push(line);
    }
    assert.deepEqual(seen, ["insert log ab", "update log abcd"]);
    assert.equal(dataToString(await clone.get(str("log"))), "abcd");
    assert.equal(dataToString(await clone.get(str("a"))), "1");
  },
);

/**
 * What Zeek 8.2.2 prints running scripts/store_ops.zeek as a clone of a Zeek master (checked
 * live): broker/store/ops.zeek's baseline (its [10] is a keys line) with the marker key "m" in the
 * keys, then the commands the btest does not run. Decrementing a missing key, popping and removing
 * from one fail; a count decremented below 0 wraps; incrementing a string leaves it.
 */
const ZEEK_OPS_THROUGH_A_CLONE = [
  "[1], one, Broker::SUCCESS, [data=broker::data{110}]",
  "[2], two, Broker::SUCCESS, [data=broker::data{220}]",
  "[3], three, Broker::SUCCESS, [data=broker::data{330}]",
  "[4], four, Broker::SUCCESS, [data=broker::data{{1, 2, 3}}]",
  "[5], five, Broker::FAILURE, [data=<uninitialized>]",
  "[6], {x, y}, Broker::SUCCESS, [data=broker::data{(1/tcp, 2/tcp, 3/tcp)}]",
  "[7], two, Broker::SUCCESS, [data=broker::data{230}]",
  "[8], three, Broker::SUCCESS, [data=broker::data{320}]",
  "[9], four, Broker::SUCCESS, [data=broker::data{{1, 2, 3}}]",
  "keys 1, [status=Broker::SUCCESS, result=[data=broker::data{{four, m, one, set, str, table, three, two, vec, {x, y}}}]]",
  "[11], str, Broker::SUCCESS, [data=broker::data{foobar}]",
  "[12], set, Broker::SUCCESS, [data=broker::data{{A, B, C}}]",
  "[13], table, Broker::SUCCESS, [data=broker::data{{a -> 1, c -> 3}}]",
  "[14], vec, Broker::SUCCESS, [data=broker::data{(1, 2, 3, 4)}]",
  "[15], one, [status=Broker::SUCCESS, result=[data=broker::data{T}]]",
  "[16], NOPE, [status=Broker::SUCCESS, result=[data=broker::data{F}]]",
  "[17], vec, Broker::SUCCESS, [data=broker::data{2}]",
  "[18], set, Broker::SUCCESS, [data=broker::data{T}]",
  "[19], table, Broker::SUCCESS, [data=broker::data{1}]",
  "[20], table, Broker::FAILURE, [data=<uninitialized>]",
  "keys 2, [status=Broker::SUCCESS, result=[data=broker::data{{m, one, set, str, table, three, two, vec, {x, y}}}]]",
  "keys 3, [status=Broker::SUCCESS, result=[data=broker::data{{}}]]",
  "put_unique u 1, Broker::SUCCESS, [data=broker::data{T}]",
  "put_unique u 2, Broker::SUCCESS, [data=broker::data{F}]",
  "inc, Broker::SUCCESS, [data=broker::data{18446744073709551612}]",
  "dec, Broker::FAILURE, [data=<uninitialized>]",
  "newset, Broker::SUCCESS, [data=broker::data{{A}}]",
  "newvec, Broker::SUCCESS, [data=broker::data{(7)}]",
  "pop, Broker::FAILURE, [data=<uninitialized>]",
  "rem, Broker::FAILURE, [data=<uninitialized>]",
  "s, Broker::SUCCESS, [data=broker::data{str}]",
  "u, Broker::SUCCESS, [data=broker::data{1}]",
  "keys 4, [status=Broker::SUCCESS, result=[data=broker::data{{inc, m, newset, newvec, s, u}}]]",
];

zeekTest(
  "Zeek's btest broker/store/ops.zeek through a Zeek clone of our master: Zeek prints what it prints with a Zeek master",
  async (t) => {
    const ep = t.endpoint();
    const master = ep.attachMaster("ops");
    t.defer(() => master.close());
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("store_ops.zeek", { env: { DENO_PORT: `${port}/tcp` } });
    await zeek.waitFor("done");
    // Within a batch of reads Zeek may print in any order; the batches follow one another.
    const printed = zeek.stdout.slice(0, zeek.stdout.indexOf("done"));
    assert.deepEqual(printed.toSorted(), ZEEK_OPS_THROUGH_A_CLONE.toSorted(), zeek.transcript);
    assert.equal(dataToString(await master.get(str("inc"))), "18446744073709551612");
  },
);
