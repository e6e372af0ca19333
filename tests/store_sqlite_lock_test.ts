/**
 * A SQLite store master while another process holds a lock on its file:
 * confirmed writes stay confirmed, expiries wait, clones attach later, and
 * nothing takes the process or the peering down (errors go to status
 * subscribers, where Broker's master logs them).
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import {
  count,
  type Data,
  dataToString,
  ErrorCode,
  SqliteBackend,
  type StatusEvent,
  type Store,
  str,
} from "../mod.ts";
import type { BoundedQueue } from "../engine/queue.ts";
import { type HeldLock, holdSqliteLock } from "./sqlite_lock.ts";
import { FAST, opts, pair, waitUntil } from "./store_helpers.ts";

function tempDb(): { path: string; done: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "store-lock-" });
  return { path: `${dir}/kv.sqlite`, done: () => Deno.removeSync(dir, { recursive: true }) };
}

async function keysOf(s: Store): Promise<string[]> {
  return (await s.keys()).map((k: Data) => dataToString(k)).sort();
}

/** Rows another process sees in the file (0 while it is locked). */
function committedRows(path: string): number {
  const db = new DatabaseSync(path);
  try {
    return Number(db.prepare("select count(*) as n from store").get()!.n);
  } catch {
    return 0;
  } finally {
    db.close();
  }
}

/** Every error event waiting in `q`. */
function errorsIn(q: BoundedQueue<StatusEvent>): StatusEvent[] {
  return q.poll().filter((e) => e.kind === "error");
}

Deno.test(
  "store: a SQLite master whose commits a reader holds up stays one with its clone",
  opts,
  async () => {
    const { path, done } = tempDb();
    const [a, b] = await pair();
    const errors = a.statusSubscriber({ statuses: false });
    const master = a.attachMaster("kv", new SqliteBackend({ path }), FAST);
    const clone = b.attachClone("kv", FAST);
    let held: HeldLock | undefined;
    try {
      await master.put(str("before"), count(0n));
      await waitUntil(async () => (await keysOf(clone)).length === 1);
      held = await holdSqliteLock(path, "shared");
      for (let i = 0; i < 5; i++) await master.put(str(`k${i}`), count(BigInt(i)));
      await clone.put(str("via-clone"), count(9n));
      await waitUntil(async () => (await keysOf(clone)).length === 7);
      await waitUntil(async () => (await keysOf(master)).length === 7);
      assert.deepEqual(await keysOf(master), await keysOf(clone));
      await new Promise((r) => setTimeout(r, 200)); // commits tried, and held up
      await held.release();
      held = undefined;
      // Once the reader is gone, the file holds everything the clone was told.
      await waitUntil(() => committedRows(path) === 7);
      assert.deepEqual(await keysOf(master), await keysOf(clone));
      assert.deepEqual(errorsIn(errors), []);
    } finally {
      await held?.release();
      clone.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
      done();
    }
  },
);

Deno.test(
  "store: an expiry a write lock holds up is reported once and done once the lock goes",
  opts,
  async () => {
    const { path, done } = tempDb();
    const [a, b] = await pair();
    const errors = a.statusSubscriber({ statuses: false });
    const master = a.attachMaster("kv", new SqliteBackend({ path }), FAST);
    const clone = b.attachClone("kv", FAST);
    let held: HeldLock | undefined;
    try {
      await master.put(str("stays"), count(1n));
      await master.put(str("tmp"), count(2n), { expiry: 300 });
      await waitUntil(async () => (await keysOf(clone)).length === 2);
      await waitUntil(() => committedRows(path) === 2);
      held = await holdSqliteLock(path, "reserved");
      await new Promise((r) => setTimeout(r, 700)); // due at 300 ms, ~20 ticks of failing
      assert.deepEqual(await keysOf(master), ["stays", "tmp"]);
      const reported = errorsIn(errors);
      assert.equal(reported.length, 1, reported.map((e) => e.message).join("; "));
      assert.equal(reported[0].code, ErrorCode.backend_failure);
      assert.match(reported[0].message, /store kv: cannot expire a key/);
      await held.release();
      held = undefined;
      await waitUntil(async () => (await keysOf(master)).length === 1);
      await waitUntil(async () => (await keysOf(clone)).length === 1);
      assert.deepEqual(await keysOf(clone), ["stays"]);
      await waitUntil(() => committedRows(path) === 1);
    } finally {
      await held?.release();
      clone.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
      done();
    }
  },
);

Deno.test(
  "store: a clone that attaches while the file is locked gets the state once the lock goes",
  opts,
  async () => {
    const { path, done } = tempDb();
    const [a, b] = await pair();
    const errors = a.statusSubscriber({ statuses: false });
    const master = a.attachMaster("kv", new SqliteBackend({ path }), FAST);
    let held: HeldLock | undefined;
    let clone: Store | undefined;
    try {
      await master.put(str("x"), count(1n));
      await waitUntil(() => committedRows(path) === 1);
      held = await holdSqliteLock(path, "exclusive");
      clone = b.attachClone("kv", FAST);
      await waitUntil(() => errorsIn(errors).some((e) => /cannot read the state/.test(e.message)));
      await held.release();
      held = undefined;
      assert.deepEqual(await keysOf(clone), ["x"]);
      await waitUntil(() => master.peers.length === 1);
      // The peering carried on: a write through the clone reaches the master.
      await clone.put(str("y"), count(2n));
      await waitUntil(async () => (await keysOf(master)).length === 2);
      assert.equal(a.peers().length, 1);
    } finally {
      await held?.release();
      clone?.close();
      master.close();
      await b.shutdown();
      await a.shutdown();
      done();
    }
  },
);
