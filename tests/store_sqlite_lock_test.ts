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
  type Endpoint,
  ErrorCode,
  SqliteBackend,
  type StatusEvent,
  type Store,
  str,
} from "../mod.ts";
import type { BoundedQueue } from "../engine/queue.ts";
import { type HeldLock, holdSqliteLock, type SqliteLock } from "./sqlite_lock.ts";
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

/** A SQLite master on `a`, clones on `b`, and a lock another process takes on the file. */
interface Setup {
  path: string;
  a: Endpoint;
  master: Store;
  /** Error events on `a`. */
  errors: BoundedQueue<StatusEvent>;
  /** A clone on the other endpoint (closed after the test). */
  clone(): Store;
  hold(lock: SqliteLock): Promise<void>;
  release(): Promise<void>;
}

async function withLockedMaster(f: (t: Setup) => Promise<void>): Promise<void> {
  const { path, done } = tempDb();
  const [a, b] = await pair();
  const master = a.attachMaster("kv", new SqliteBackend({ path }), FAST);
  const clones: Store[] = [];
  let held: HeldLock | undefined;
  try {
    await f({
      path,
      a,
      master,
      errors: a.statusSubscriber({ statuses: false }),
      clone: () => clones[clones.push(b.attachClone("kv", FAST)) - 1],
      hold: async (lock) => {
        held = await holdSqliteLock(path, lock);
      },
      release: async () => {
        await held?.release();
        held = undefined;
      },
    });
  } finally {
    await held?.release();
    for (const c of clones) c.close();
    master.close();
    await b.shutdown();
    await a.shutdown();
    done();
  }
}

Deno.test(
  "store: a SQLite master whose commits a reader holds up stays one with its clone",
  opts,
  () =>
    withLockedMaster(async ({ path, master, errors, clone: attach, hold, release }) => {
      const clone = attach();
      await master.put(str("before"), count(0n));
      await waitUntil(async () => (await keysOf(clone)).length === 1);
      await hold("shared");
      for (let i = 0; i < 5; i++) await master.put(str(`k${i}`), count(BigInt(i)));
      await clone.put(str("via-clone"), count(9n));
      await waitUntil(async () => (await keysOf(clone)).length === 7);
      await waitUntil(async () => (await keysOf(master)).length === 7);
      assert.deepEqual(await keysOf(master), await keysOf(clone));
      await new Promise((r) => setTimeout(r, 200)); // commits tried, and held up
      await release();
      // Once the reader is gone, the file holds everything the clone was told.
      await waitUntil(() => committedRows(path) === 7);
      assert.deepEqual(await keysOf(master), await keysOf(clone));
      assert.deepEqual(errorsIn(errors), []);
    }),
);

Deno.test(
  "store: an expiry a write lock holds up is reported once and done once the lock goes",
  opts,
  () =>
    withLockedMaster(async ({ path, master, errors, clone: attach, hold, release }) => {
      const clone = attach();
      await master.put(str("stays"), count(1n));
      // Due late enough for the lock to come first on a loaded machine (at
      // 300 ms, a suite run once took longer to get there, and it expired).
      const expiry = 1500, due = Date.now() + expiry;
      await master.put(str("tmp"), count(2n), { expiry });
      await waitUntil(async () => (await keysOf(clone)).length === 2);
      await waitUntil(() => committedRows(path) === 2);
      await hold("reserved");
      assert.ok(Date.now() < due, "the lock came after the expiry was due: nothing to check");
      // Past due by ~20 ticks of failing to expire.
      await new Promise((r) => setTimeout(r, due + 400 - Date.now()));
      assert.deepEqual(await keysOf(master), ["stays", "tmp"]);
      const reported = errorsIn(errors);
      assert.equal(reported.length, 1, reported.map((e) => e.message).join("; "));
      assert.equal(reported[0].code, ErrorCode.backend_failure);
      assert.match(reported[0].message, /store kv: cannot expire a key/);
      await release();
      await waitUntil(async () => (await keysOf(master)).length === 1);
      await waitUntil(async () => (await keysOf(clone)).length === 1);
      assert.deepEqual(await keysOf(clone), ["stays"]);
      await waitUntil(() => committedRows(path) === 1);
    }),
);

Deno.test(
  "store: a clone that attaches while the file is locked gets the state once the lock goes",
  opts,
  () =>
    withLockedMaster(async ({ path, a, master, errors, clone: attach, hold, release }) => {
      await master.put(str("x"), count(1n));
      await waitUntil(() => committedRows(path) === 1);
      await hold("exclusive");
      const clone = attach();
      await waitUntil(() => errorsIn(errors).some((e) => /cannot read the state/.test(e.message)));
      await release();
      assert.deepEqual(await keysOf(clone), ["x"]);
      await waitUntil(() => master.peers.length === 1);
      // The peering carried on: a write through the clone reaches the master.
      await clone.put(str("y"), count(2n));
      await waitUntil(async () => (await keysOf(master)).length === 2);
      assert.equal(a.peers().length, 1);
    }),
);

Deno.test(
  "store: a batch a lock keeps from committing when the endpoint shuts down is reported",
  opts,
  async () => {
    const { path, done } = tempDb();
    const [a, b] = await pair();
    let held: HeldLock | undefined;
    try {
      const errors = a.statusSubscriber({ statuses: false });
      const master = a.attachMaster("kv", new SqliteBackend({ path }), FAST);
      await master.put(str("x"), count(1n));
      await waitUntil(() => committedRows(path) === 1);
      held = await holdSqliteLock(path, "shared");
      await master.put(str("y"), count(2n)); // confirmed, its commit held up
      await a.shutdown();
      // Broker's master logs a write its backend failed; ours tells status subscribers.
      const reported = errorsIn(errors).map((e) => e.message);
      assert.ok(
        reported.some((m) => /store kv: closing the backend: .*1 batched writes lost/.test(m)),
        reported.join("; "),
      );
    } finally {
      await held?.release();
      await b.shutdown();
      await a.shutdown();
      done();
    }
  },
);
