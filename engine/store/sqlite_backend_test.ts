import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { bool, count, dataToString, decode, encode, enumValue, str } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { SqliteBackend, sqliteOptionsFromBroker } from "./sqlite_backend.ts";
import { type HeldLock, holdSqliteLock, type SqliteLock } from "../../tests/sqlite_lock.ts";

function tempDb(): { path: string; done: () => void } {
  const dir = Deno.makeTempDirSync({ prefix: "sqlite-backend-" });
  return { path: `${dir}/store.sqlite`, done: () => Deno.removeSync(dir, { recursive: true }) };
}

/** Rows as another process would see them: a second connection. */
function committedKeys(path: string): string[] {
  const db = new DatabaseSync(path);
  try {
    return db.prepare("select key from store").all().map((r) =>
      dataToString(decode(r.key as Uint8Array))
    ).sort();
  } finally {
    db.close();
  }
}

const isBackendFailure = (e: unknown) =>
  e instanceof BrokerError && e.code === ErrorCode.backend_failure;

Deno.test("sqlite: the file has Broker's schema, keys and values in binary format v1", () => {
  const { path, done } = tempDb();
  try {
    const b = new SqliteBackend({ path });
    b.put(str("a"), count(1n), 123n);
    b.close();
    const db = new DatabaseSync(path);
    const row = db.prepare("select key, value, expiry from store").get()!;
    assert.deepEqual(row.key, encode(str("a")).slice());
    assert.deepEqual(row.value, encode(count(1n)).slice());
    assert.equal(row.expiry, 123);
    const meta = db.prepare("select value from meta where key = 'broker_version'").get();
    assert.equal(meta?.value, "2.8.0");
    db.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: opens a database written in Broker's layout by someone else", () => {
  const { path, done } = tempDb();
  try {
    const db = new DatabaseSync(path);
    db.exec("create table meta(key text primary key, value text)");
    db.exec("create table store(key blob primary key, value blob, expiry integer)");
    db.prepare("insert into store values(?, ?, ?)").run(
      encode(str("zeek")),
      encode(count(5n)),
      1700000000000000000n,
    );
    db.close();
    const b = new SqliteBackend({ path });
    assert.equal(dataToString(b.get(str("zeek"))!), "5");
    assert.deepEqual(b.expiries()[0][1], 1700000000000000000n);
    b.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: writes are batched; batches commit when full, on flush, and after the burst", async () => {
  const { path, done } = tempDb();
  try {
    const b = new SqliteBackend({ path, batchSize: 3, autoFlush: false });
    b.put(str("a"), count(1n));
    b.put(str("b"), count(2n));
    assert.equal(b.pendingWrites, 2);
    assert.deepEqual(committedKeys(path), [], "not committed yet");
    assert.equal(b.size(), 2, "but visible on this connection");
    b.put(str("c"), count(3n));
    assert.equal(b.pendingWrites, 0);
    assert.deepEqual(committedKeys(path), ["a", "b", "c"]);
    b.erase(str("a"));
    b.flush();
    assert.deepEqual(committedKeys(path), ["b", "c"]);
    b.close();

    const auto = new SqliteBackend({ path });
    auto.put(str("d"), count(4n));
    assert.deepEqual(committedKeys(path), ["b", "c"]);
    await Promise.resolve();
    assert.deepEqual(committedKeys(path), ["b", "c", "d"], "committed after the burst");
    auto.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: 5,000 puts in one burst go through a few transactions", () => {
  const { path, done } = tempDb();
  try {
    const b = new SqliteBackend({ path, synchronous: "full" });
    for (let i = 0; i < 5000; i++) b.put(count(BigInt(i)), str(`v${i}`), BigInt(i));
    b.close();
    const again = new SqliteBackend({ path });
    assert.equal(again.size(), 5000);
    assert.equal(again.expiries().length, 5000);
    again.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: a corrupt file fails to open, or is replaced with failure mode delete", () => {
  const { path, done } = tempDb();
  try {
    Deno.writeTextFileSync(
      path,
      "this is not a database, not even a little bit, no sir".repeat(40),
    );
    assert.throws(() => new SqliteBackend({ path }), isBackendFailure);
    assert.throws(() => new SqliteBackend({ path, failureMode: "fail" }), isBackendFailure);
    const b = new SqliteBackend({ path, failureMode: "delete", integrityCheck: true });
    assert.equal(b.size(), 0);
    b.put(str("fresh"), bool(true));
    b.close();
    assert.deepEqual(committedKeys(path), ["fresh"]);
  } finally {
    done();
  }
});

Deno.test("sqlite: every journal and synchronous mode opens", () => {
  const { path, done } = tempDb();
  try {
    for (const journalMode of ["delete", "truncate", "persist", "memory", "wal", "off"] as const) {
      for (const synchronous of ["off", "normal", "full", "extra"] as const) {
        const b = new SqliteBackend({ path, journalMode, synchronous });
        b.put(str(journalMode), str(synchronous));
        b.close();
      }
    }
    const b = new SqliteBackend({ path });
    assert.equal(b.size(), 6);
    b.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: bad options are rejected with backend_failure", () => {
  const path = "/nonexistent-dir-for-test/x.sqlite";
  assert.throws(() => new SqliteBackend({ path, batchSize: 0 }), isBackendFailure);
  assert.throws(
    () => new SqliteBackend({ path, journalMode: "bogus" as "wal" }),
    isBackendFailure,
  );
  assert.throws(() => new SqliteBackend({ path: "/proc/nope/x.sqlite" }), isBackendFailure);
});

Deno.test("sqlite: Broker's backend options map onto ours", () => {
  const o = sqliteOptionsFromBroker([
    ["path", str("/tmp/s.sqlite")],
    ["synchronous", enumValue("Broker::SQLITE_SYNCHRONOUS_NORMAL")],
    ["journal_mode", enumValue("Broker::SQLITE_JOURNAL_MODE_WAL")],
    ["failure_mode", enumValue("Broker::SQLITE_FAILURE_MODE_DELETE")],
    ["integrity_check", bool(true)],
  ]);
  assert.deepEqual(o, {
    path: "/tmp/s.sqlite",
    synchronous: "normal",
    journalMode: "wal",
    failureMode: "delete",
    integrityCheck: true,
  });
  assert.throws(() => sqliteOptionsFromBroker([]), isBackendFailure);
  assert.throws(
    () =>
      sqliteOptionsFromBroker([["path", str("p")], [
        "synchronous",
        str("Broker::SQLITE_SYNCHRONOUS_OFF"),
      ]]),
    isBackendFailure,
  );
  assert.throws(
    () =>
      sqliteOptionsFromBroker([
        ["path", str("p")],
        ["journal_mode", enumValue("Broker::SQLITE_JOURNAL_MODE_SIDEWAYS")],
      ]),
    isBackendFailure,
  );
});

Deno.test("sqlite: keys, snapshot and expiries read a table of several pages whole", () => {
  const { path, done } = tempDb();
  try {
    const b = new SqliteBackend({ path, batchSize: 900, autoFlush: false });
    // 3,500 rows (four pages of reads), every seventh erased (gaps in the rowids),
    // every third with an expiry; the last batch still uncommitted.
    for (let i = 0; i < 3500; i++) {
      b.put(count(BigInt(i)), str(`v${i}`), i % 3 === 0 ? BigInt(i) : null);
    }
    for (let i = 0; i < 3500; i += 7) b.erase(count(BigInt(i)));
    assert.ok(b.pendingWrites > 0, "a batch is open");
    const live = [...Array(3500).keys()].filter((i) => i % 7 !== 0);
    assert.deepEqual(b.keys().map((k) => dataToString(k)), live.map(String));
    assert.deepEqual(
      b.snapshot().map(([k, v]) => `${dataToString(k)}=${dataToString(v)}`),
      live.map((i) => `${i}=v${i}`),
    );
    assert.deepEqual(
      b.expiries().map(([k, t]) => `${dataToString(k)}@${t}`).sort(),
      live.filter((i) => i % 3 === 0).map((i) => `${i}@${i}`).sort(),
    );
    assert.ok(b.pendingWrites > 0, "reading left the batch open");
    b.close();
  } finally {
    done();
  }
});

Deno.test("sqlite: a snapshot's pages agree while another process writes the file", async () => {
  const { path, done } = tempDb();
  const b = new SqliteBackend({ path, batchSize: 1 });
  // Four pages of `k` keys, and `n` (its rowid on the first page) counting them.
  for (let i = 0; i < 3500; i++) b.put(str(`k${i}`), count(1n));
  b.put(str("n"), count(3500n));
  // Each of the writer's transactions adds a `k` key (on the last page) and bumps `n`.
  const data = new URL("../data/mod.ts", import.meta.url).href;
  const writer = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       import { count, encode, str } from "${data}";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("pragma busy_timeout = 10000");
       const add = db.prepare("insert into store values(?, ?, null)");
       const bump = db.prepare("update store set value = ? where key = ?");
       const pause = new Int32Array(new SharedArrayBuffer(4));
       for (let n = 3500; ; n++) {
         db.exec("begin immediate");
         add.run(encode(str("k" + n)).slice(), encode(count(1n)).slice());
         bump.run(encode(count(BigInt(n + 1))).slice(), encode(str("n")).slice());
         db.exec("commit");
         Atomics.wait(pause, 0, 0, 1); // a commit about every millisecond
       }`,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  try {
    // One read takes a shared lock for all its pages, as Broker's one statement
    // does: read page by page without it, 0-4 of ~3,300 reads got through in 10 s here.
    const deadline = Date.now() + 10_000;
    const sizeNow = () => {
      try {
        return b.size();
      } catch {
        return 0; // locked by the writer's commit
      }
    };
    while (sizeNow() <= 3501) {
      assert.ok(Date.now() < deadline, "the writer never wrote");
      await new Promise((r) => setTimeout(r, 10));
    }
    let read = 0, busy = 0, first = 0, last = 0;
    while (read < 20) {
      assert.ok(Date.now() < deadline, `only ${read} of ${read + busy} reads got through`);
      await new Promise((r) => setTimeout(r, 0));
      let pairs;
      try {
        pairs = b.snapshot();
      } catch (e) {
        // Broker's backend sets no busy timeout either: a read during the writer's commit fails.
        if (isBackendFailure(e) && /locked|busy/i.test(String((e as Error).cause ?? e))) {
          busy++;
          continue;
        }
        throw e;
      }
      const n = pairs.find(([k]) => dataToString(k) === "n")!;
      assert.equal(dataToString(n[1]), String(pairs.length - 1), `snapshot ${read} agrees`);
      if (read++ === 0) first = pairs.length;
      last = pairs.length;
    }
    assert.ok(last > first, `the writer wrote during the reads (${first} then ${last} rows)`);
  } finally {
    try {
      writer.kill();
    } catch { /* already ended */ }
    await writer.status;
    await writer.stderr.cancel();
    b.close();
    done();
  }
});

/**
 * A backend holding key "a", committed, and a lock another process takes
 * on its file (`hold`; released after `f` in any case).
 */
async function withLock(
  f: (
    b: SqliteBackend,
    path: string,
    hold: (lock: SqliteLock) => Promise<HeldLock>,
  ) => Promise<void>,
): Promise<void> {
  const { path, done } = tempDb();
  const b = new SqliteBackend({ path });
  let held: HeldLock | undefined;
  try {
    b.put(str("a"), count(1n));
    await new Promise((r) => setTimeout(r, 0));
    assert.equal(b.pendingWrites, 0);
    await f(b, path, async (lock) => held = await holdSqliteLock(path, lock));
  } finally {
    await held?.release();
    b.close();
    done();
  }
}

Deno.test("sqlite: a commit another process's reader holds up keeps its batch, and lands later", () =>
  withLock(async (b, path, hold) => {
    const held = await hold("shared");
    // The writes go into the batch; its commit waits for the reader.
    b.put(str("b"), count(2n));
    b.put(str("c"), count(3n));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.pendingWrites, 2, "the batch is still open");
    assert.equal(b.takeFailure(), undefined, "nothing was lost");
    assert.equal(dataToString(b.get(str("c"))!), "3", "this connection reads its batch");
    assert.deepEqual(b.keys().map(dataToString), ["a", "b", "c"]);
    // flush() says why it could not, and keeps the batch.
    assert.throws(
      () => b.flush(),
      (e) => isBackendFailure(e) && /stay in the open batch/.test(String(e)),
    );
    assert.equal(b.pendingWrites, 2);
    await held.release();
    const deadline = Date.now() + 5000;
    while (b.pendingWrites > 0) {
      assert.ok(Date.now() < deadline, "the held-up commit was never tried again");
      await new Promise((r) => setTimeout(r, 10));
    }
    assert.deepEqual(committedKeys(path), ["a", "b", "c"]);
    assert.equal(b.takeFailure(), undefined);
  }));

Deno.test("sqlite: a write another process's write lock refuses fails alone; close gives up after a wait", () =>
  withLock(async (b, path, hold) => {
    const held = await hold("reserved");
    assert.throws(
      () => b.put(str("b"), count(2n)),
      (e) => isBackendFailure(e) && /write failed$|locked/.test(String(e)),
    );
    assert.equal(b.get(str("b")), undefined);
    assert.equal(dataToString(b.get(str("a"))!), "1");
    await held.release();
    b.put(str("b"), count(2n));
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(committedKeys(path), ["a", "b"]);
    // A batch whose last commit a lock holds up past close's wait is lost, and close says so.
    await hold("shared");
    b.put(str("c"), count(3n));
    const started = Date.now();
    assert.throws(
      () => b.close(),
      (e) => isBackendFailure(e) && /on close, 1 batched writes lost/.test(String(e)),
    );
    assert.ok(Date.now() - started >= 900, "close waited for the lock");
  }));
