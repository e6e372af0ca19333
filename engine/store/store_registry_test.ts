/**
 * Who closes a master's backend: `attachMaster` takes the backend it is
 * given, so one it refuses or does not use is closed at once, and the
 * endpoint's shutdown closes its masters' backends before it resolves. As
 * Broker's core, which opens a backend only for a master it starts
 * (`core_actor_state::attach_master`), no attach leaves a database open.
 * Measured on the file itself: the descriptors this process holds on it.
 */
import assert from "node:assert/strict";
import { BrokerError, count, Endpoint, ErrorCode, SqliteBackend, str } from "../../mod.ts";

/**
 * Descriptors of this process open on `path` (SQLite's journal files
 * aside), listed by a child: reading /proc/self needs --allow-all in Deno,
 * which the test task does not give.
 */
function openHandles(path: string): number {
  const out = new Deno.Command("find", {
    args: [`/proc/${Deno.pid}/fd`, "-lname", path],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l).length;
}

async function withDir(f: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await f(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const refusedWith = (code: ErrorCode) => (e: unknown) =>
  e instanceof BrokerError && e.code === code;

Deno.test("attachMaster on a shut-down endpoint closes the backend it refuses", () =>
  withDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const ep = new Endpoint({ warmUp: false });
    await ep.shutdown();
    const backend = new SqliteBackend({ path });
    assert.equal(openHandles(path), 1);
    assert.throws(() => ep.attachMaster("kv", backend), refusedWith(ErrorCode.shutting_down));
    assert.equal(openHandles(path), 0);
  }));

Deno.test("attachMaster with options no timer can keep closes the backend it refuses", () =>
  withDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const ep = new Endpoint({ warmUp: false });
    try {
      const backend = new SqliteBackend({ path });
      assert.throws(() => ep.attachMaster("kv", backend, { tickIntervalMs: 0 }), RangeError);
      assert.equal(openHandles(path), 0);
    } finally {
      await ep.shutdown();
    }
  }));

Deno.test("attachMaster closes the backend it refuses when a peer has the master", () =>
  withDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
    try {
      const port = await a.listen("127.0.0.1", 0);
      await b.peer("127.0.0.1", port, { retryMs: 0 });
      const master = a.attachMaster("kv");
      await b.awaitPeerSubscription("kv/<$>/data/master", 10_000);
      const backend = new SqliteBackend({ path });
      assert.throws(() => b.attachMaster("kv", backend), refusedWith(ErrorCode.master_exists));
      assert.equal(openHandles(path), 0);
      master.close();
    } finally {
      await b.shutdown();
      await a.shutdown();
    }
  }));

Deno.test("attaching a running master again closes the new backend, never the master's", () =>
  withDir(async (dir) => {
    const first = `${dir}/first.sqlite`, second = `${dir}/second.sqlite`;
    const ep = new Endpoint({ warmUp: false });
    try {
      const own = new SqliteBackend({ path: first });
      const a = ep.attachMaster("kv", own);
      // Broker hands out the master it runs: this backend would never be used.
      const b = ep.attachMaster("kv", new SqliteBackend({ path: second }));
      assert.equal(openHandles(second), 0);
      // The same backend again is the master's own: it stays open.
      const c = ep.attachMaster("kv", own);
      await b.put(str("x"), count(1n));
      assert.equal(openHandles(first), 1);
      assert.deepEqual(own.get(str("x")), count(1n));
      a.close();
      b.close();
      c.close();
      assert.equal(openHandles(first), 0);
    } finally {
      await ep.shutdown();
    }
  }));

Deno.test("an endpoint's shutdown closes its masters' backends before it resolves", () =>
  withDir(async (dir) => {
    const path = `${dir}/kv.sqlite`;
    const ep = new Endpoint({ warmUp: false });
    const kv = ep.attachMaster("kv", new SqliteBackend({ path }));
    await kv.put(str("x"), count(1n));
    assert.equal(openHandles(path), 1);
    await ep.shutdown();
    assert.equal(openHandles(path), 0);
    // What the master had applied is in the file.
    const again = new SqliteBackend({ path });
    assert.deepEqual(again.get(str("x")), count(1n));
    again.close();
  }));
