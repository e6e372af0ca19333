/**
 * SQLite store backend (Broker's `sqlite_backend`) on Deno's built-in
 * `node:sqlite`.
 *
 * The file layout is Broker's: tables `meta(key text primary key, value text)`
 * and `store(key blob primary key, value blob, expiry integer)`, keys and
 * values in binary format v1, expiry as absolute nanoseconds (NULL for none).
 * So a file written by Zeek's master opens here and the other way round.
 *
 * Writes are grouped into transactions: a transaction is opened by the first
 * write and committed after `batchSize` writes, by `flush()`/`close()`, or
 * (with `autoFlush`, the default) when the current synchronous burst of work
 * ends. A commit that another process's lock holds up (`SQLITE_BUSY`) leaves
 * the batch open, and its writes visible here, and is tried again later: the
 * writes were confirmed, and a master told its clones of them. A crash, or a
 * commit that SQLite rolls back (a full disk, an I/O error), loses at most
 * the open batch; `takeFailure` then says so.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { SqliteBackend } from "./sqlite_backend.ts";
 * import { count, str } from "../data/mod.ts";
 * const path = await Deno.makeTempFile({ suffix: ".sqlite" });
 * const b = new SqliteBackend({ path, journalMode: "wal", synchronous: "normal" });
 * b.put(str("a"), count(1n));
 * b.close();
 * const again = new SqliteBackend({ path });
 * equal(again.size(), 1);
 * again.close();
 * ```
 *
 * @module
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { compare, type Data, decode, encode } from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend, StoreEntry } from "./backend.ts";
import { DEFAULT_SQLITE_BATCH_SIZE } from "./options.ts";

/** `PRAGMA synchronous` values. */
export type SqliteSynchronous = "off" | "normal" | "full" | "extra";

/** `PRAGMA journal_mode` values. */
export type SqliteJournalMode = "delete" | "truncate" | "persist" | "memory" | "wal" | "off";

/** What to do when the file cannot be opened as a database: give up, or delete it and start empty. */
export type SqliteFailureMode = "fail" | "delete";

/** Options of the SQLite backend; unset pragmas keep SQLite's defaults, as in Broker. */
export interface SqliteBackendOptions {
  /** Database file; missing parent directories are created. */
  path: string;
  /**
   * `PRAGMA synchronous`.
   * @default SQLite's
   */
  synchronous?: SqliteSynchronous;
  /**
   * `PRAGMA journal_mode`.
   * @default SQLite's
   */
  journalMode?: SqliteJournalMode;
  /**
   * What to do when the file cannot be opened as a database.
   * @default "fail"
   */
  failureMode?: SqliteFailureMode;
  /**
   * Run `PRAGMA integrity_check` when opening; a failed check counts as a failure to open.
   * @default false
   */
  integrityCheck?: boolean;
  /**
   * Most writes per transaction; 1 commits every write on its own.
   * @default 512 (`DEFAULT_SQLITE_BATCH_SIZE`)
   */
  batchSize?: number;
  /**
   * Commit an open batch once the current synchronous work is done (a microtask).
   * @default true
   */
  autoFlush?: boolean;
}

const SYNCHRONOUS: readonly SqliteSynchronous[] = ["off", "normal", "full", "extra"];
const JOURNAL_MODES: readonly SqliteJournalMode[] = [
  "delete",
  "truncate",
  "persist",
  "memory",
  "wal",
  "off",
];
const FAILURE_MODES: readonly SqliteFailureMode[] = ["fail", "delete"];

/** The Broker version written into `meta`, the one whose file format this is. */
const BROKER_VERSION = "2.8.0";

function failure(message: string, cause?: unknown): BrokerError {
  const detail = cause instanceof Error ? `: ${cause.message}` : "";
  return new BrokerError(ErrorCode.backend_failure, message + detail, { cause });
}

/**
 * Reads Broker's backend options (what Zeek passes as `Broker::BackendOptions`):
 * `path` string, `synchronous` enum `Broker::SQLITE_SYNCHRONOUS_<X>`,
 * `journal_mode` enum `Broker::SQLITE_JOURNAL_MODE_<X>`, `failure_mode` enum
 * `Broker::SQLITE_FAILURE_MODE_<DELETE|FAIL>`, `integrity_check` boolean.
 * Throws `BrokerError(backend_failure)` for a missing path or bad values.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { sqliteOptionsFromBroker } from "./sqlite_backend.ts";
 * import { enumValue, str } from "../data/mod.ts";
 * const o = sqliteOptionsFromBroker([
 *   ["path", str("/tmp/x.sqlite")],
 *   ["journal_mode", enumValue("Broker::SQLITE_JOURNAL_MODE_WAL")],
 * ]);
 * equal(o.journalMode, "wal");
 * ```
 */
export function sqliteOptionsFromBroker(
  options: Iterable<readonly [string, Data]>,
): SqliteBackendOptions {
  const map = new Map(options);
  const path = map.get("path");
  if (path?.type !== "string") throw failure("SQLite backend needs a 'path' string");
  const out: SqliteBackendOptions = { path: path.value };
  const pick = <T extends string>(name: string, prefix: string, allowed: readonly T[]) => {
    const v = map.get(name);
    if (v === undefined) return undefined;
    if (v.type !== "enum" || !v.value.startsWith(prefix)) {
      throw failure(`SQLite backend option '${name}' must be an enum ${prefix}*`);
    }
    const x = v.value.slice(prefix.length).toLowerCase() as T;
    if (!allowed.includes(x)) throw failure(`SQLite backend option '${name}' has a bad value`);
    return x;
  };
  out.synchronous = pick("synchronous", "Broker::SQLITE_SYNCHRONOUS_", SYNCHRONOUS);
  out.journalMode = pick("journal_mode", "Broker::SQLITE_JOURNAL_MODE_", JOURNAL_MODES);
  out.failureMode = pick("failure_mode", "Broker::SQLITE_FAILURE_MODE_", FAILURE_MODES);
  const check = map.get("integrity_check");
  if (check !== undefined) {
    if (check.type !== "boolean") throw failure("'integrity_check' must be a boolean");
    out.integrityCheck = check.value;
  }
  return out;
}

interface Statements {
  replace: StatementSync;
  erase: StatementSync;
  expire: StatementSync;
  lookup: StatementSync;
  exists: StatementSync;
  size: StatementSync;
  snapshot: StatementSync;
  expiries: StatementSync;
  clear: StatementSync;
  keys: StatementSync;
}

/**
 * A `StoreBackend` in a SQLite file. Opening fails with
 * `BrokerError(backend_failure)`; so do reads and writes the database
 * refuses.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { SqliteBackend } from "./sqlite_backend.ts";
 * import { str } from "../data/mod.ts";
 * const path = await Deno.makeTempFile();
 * const b = new SqliteBackend({ path, failureMode: "delete" }); // an empty temp file is fine
 * b.put(str("k"), str("v"), 5_000_000_000n);
 * equal(b.expiries()[0][1], 5000000000n);
 * b.close();
 * ```
 */
export class SqliteBackend implements StoreBackend {
  readonly #options: Required<Omit<SqliteBackendOptions, "synchronous" | "journalMode">> & {
    synchronous?: SqliteSynchronous;
    journalMode?: SqliteJournalMode;
  };
  #db: DatabaseSync | undefined;
  #st: Statements;
  #pending = 0;
  #flushScheduled = false;
  /** A commit tried again after a lock held it up (`#retryCommit`), and its delay. */
  #retry: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;
  /** Confirmed writes the database rolled back (see `takeFailure`). */
  #lost: BrokerError | undefined;

  /** Opens (or creates) the database file and Broker's table in it. */
  constructor(options: SqliteBackendOptions) {
    const batchSize = options.batchSize ?? DEFAULT_SQLITE_BATCH_SIZE;
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw failure(`batchSize must be a positive integer, not ${batchSize}`);
    }
    if (options.synchronous !== undefined && !SYNCHRONOUS.includes(options.synchronous)) {
      throw failure(`bad synchronous mode ${options.synchronous}`);
    }
    if (options.journalMode !== undefined && !JOURNAL_MODES.includes(options.journalMode)) {
      throw failure(`bad journal mode ${options.journalMode}`);
    }
    const failureMode = options.failureMode ?? "fail";
    if (!FAILURE_MODES.includes(failureMode)) throw failure(`bad failure mode ${failureMode}`);
    this.#options = {
      ...options,
      failureMode,
      integrityCheck: options.integrityCheck ?? false,
      batchSize,
      autoFlush: options.autoFlush ?? true,
    };
    const db = this.#open();
    this.#db = db;
    this.#st = {
      replace: db.prepare("replace into store(key, value, expiry) values(?, ?, ?)"),
      erase: db.prepare("delete from store where key = ?"),
      expire: db.prepare("delete from store where key = ? and expiry <= ?"),
      lookup: db.prepare("select value, expiry from store where key = ?"),
      exists: db.prepare("select 1 from store where key = ?"),
      size: db.prepare("select count(*) as n from store"),
      snapshot: db.prepare(
        "select rowid as id, key, value from store where rowid > ? order by rowid limit ?",
      ),
      expiries: db.prepare(
        "select rowid as id, key, expiry from store " +
          "where expiry is not null and rowid > ? order by rowid limit ?",
      ),
      clear: db.prepare("delete from store"),
      keys: db.prepare("select rowid as id, key from store where rowid > ? order by rowid limit ?"),
    };
    this.#st.lookup.setReadBigInts(true);
    this.#st.expiries.setReadBigInts(true);
  }

  /** The database file. */
  get path(): string {
    return this.#options.path;
  }

  /** Writes not yet committed. */
  get pendingWrites(): number {
    return this.#pending;
  }

  // -------------------------------------------------------------- opening

  #open(): DatabaseSync {
    const { path } = this.#options;
    const slash = path.lastIndexOf("/");
    if (slash > 0) {
      try {
        Deno.mkdirSync(path.slice(0, slash), { recursive: true });
      } catch (e) {
        throw failure(`cannot create the directory of ${path}`, e);
      }
    }
    try {
      return this.#initialize();
    } catch (first) {
      if (this.#options.failureMode !== "delete") {
        throw failure(`cannot open SQLite database ${path}`, first);
      }
      let info: Deno.FileInfo;
      try {
        info = Deno.statSync(path);
      } catch {
        throw failure(`cannot open SQLite database ${path}`, first);
      }
      if (!info.isFile) throw failure(`${path} is not a file`, first);
      // The journal files belong to the broken database: they go with it.
      for (const f of [path, `${path}-wal`, `${path}-shm`, `${path}-journal`]) {
        try {
          Deno.removeSync(f);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) {
            throw failure(`cannot delete corrupt database ${f}`, e);
          }
        }
      }
      try {
        return this.#initialize();
      } catch (e) {
        throw failure(`cannot initialize ${path} after deleting it`, e);
      }
    }
  }

  #initialize(): DatabaseSync {
    const o = this.#options;
    const db = new DatabaseSync(o.path);
    try {
      if (o.synchronous) db.exec(`PRAGMA synchronous=${o.synchronous.toUpperCase()}`);
      if (o.journalMode) db.exec(`PRAGMA journal_mode=${o.journalMode.toUpperCase()}`);
      db.exec("create table if not exists meta(key text primary key, value text)");
      db.exec("create table if not exists store(key blob primary key, value blob, expiry integer)");
      db.prepare("replace into meta(key, value) values('broker_version', ?)").run(BROKER_VERSION);
      if (o.integrityCheck) {
        const rows = db.prepare("PRAGMA integrity_check").all();
        const messages = rows.map((r) => String(Object.values(r)[0]));
        if (messages.length !== 1 || messages[0] !== "ok") {
          throw new Error(`integrity check failed: ${messages.join("; ")}`);
        }
      }
      return db;
    } catch (e) {
      db.close();
      throw e;
    }
  }

  // -------------------------------------------------------------- batching

  #conn(): DatabaseSync {
    if (!this.#db) throw failure("backend is closed");
    return this.#db;
  }

  /** Runs one write inside the open batch, opening and committing batches as needed. */
  #write<T>(f: () => T): T {
    const db = this.#conn();
    const batching = this.#options.batchSize > 1;
    if (batching && !db.isTransaction) {
      this.#begin(db);
      if (this.#options.autoFlush && !this.#flushScheduled) {
        this.#flushScheduled = true;
        queueMicrotask(() => this.#autoFlush());
      }
    }
    let result: T;
    try {
      result = f();
    } catch (e) {
      // Some errors (disk full, I/O) make SQLite roll the whole transaction back.
      const lost = batching && !db.isTransaction ? this.#pending : 0;
      if (lost) this.#rolledBack(e);
      throw failure(lost ? `write failed, ${lost} batched writes rolled back` : "write failed", e);
    }
    // While a lock holds a commit up, its timer tries again, not every write.
    if (batching && ++this.#pending >= this.#options.batchSize && this.#retry === undefined) {
      this.#tryCommit(db);
    }
    return result;
  }

  /**
   * Commits the open batch; returns the failure rather than throwing it
   * (the writes in the batch succeeded, and were confirmed): a batch a
   * lock held up stays open, and with `autoFlush` is tried again
   * (`#retryCommit`); one SQLite rolled back is kept for `takeFailure`.
   */
  #tryCommit(db: DatabaseSync): BrokerError | undefined {
    if (!db.isTransaction) return undefined;
    try {
      db.exec("COMMIT");
    } catch (e) {
      if (!db.isTransaction) return this.#rolledBack(e);
      if (this.#options.autoFlush && this.#db) this.#retryCommit();
      return failure(`COMMIT failed, ${this.#pending} writes stay in the open batch`, e);
    }
    this.#pending = 0;
    this.#retryMs = 0;
    return undefined;
  }

  /** Tries the held-up commit again after a delay that doubles, up to `RETRY_MAX_MS`. */
  #retryCommit(): void {
    if (this.#retry !== undefined) return;
    this.#retryMs = Math.min(RETRY_MAX_MS, Math.max(RETRY_MIN_MS, this.#retryMs * 2));
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#db) this.#tryCommit(this.#db);
    }, this.#retryMs);
  }

  /** The open batch is gone (SQLite rolled it back): said once, through `takeFailure`. */
  #rolledBack(cause: unknown): BrokerError {
    const n = this.#pending;
    this.#pending = 0;
    return this.#lost = failure(`SQLite rolled back a batch of ${n} confirmed writes`, cause);
  }

  #stopRetry(): void {
    if (this.#retry === undefined) return;
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** Opens a batch (a BEGIN that fails leaves no transaction to roll back). */
  #begin(db: DatabaseSync): void {
    try {
      db.exec("BEGIN");
    } catch (e) {
      throw failure("BEGIN failed", e);
    }
  }

  #autoFlush(): void {
    this.#flushScheduled = false;
    if (this.#db && this.#retry === undefined) this.#tryCommit(this.#db);
  }

  /** Reads see the open batch: it is the same connection. */
  #read<T>(f: () => T): T {
    this.#conn();
    try {
      return f();
    } catch (e) {
      throw e instanceof BrokerError ? e : failure("read failed", e);
    }
  }

  /**
   * Every row of a paged statement (see `rowsOf`), read inside one
   * transaction (the open batch, or one of its own): its pages then agree
   * while another process writes the file, and take one shared lock, as
   * Broker's single statement does, instead of one each.
   */
  #readPaged<T>(st: StatementSync, f: (row: Record<string, unknown>) => T): T[] {
    return this.#read(() => {
      const db = this.#db!;
      if (db.isTransaction) return rowsOf(st, f);
      db.exec("BEGIN");
      try {
        return rowsOf(st, f);
      } finally {
        db.exec("COMMIT");
      }
    });
  }

  // -------------------------------------------------------------- StoreBackend

  /** Inserts or replaces key with an optional absolute expiry (ns). */
  put(key: Data, value: Data, expiry: bigint | null = null): void {
    const k = blob(key), v = blob(value);
    this.#write(() => this.#st.replace.run(k, v, expiry));
  }

  /** The value under key, or undefined. */
  get(key: Data): Data | undefined {
    return this.entry(key)?.value;
  }

  /** The value and its expiry, or undefined. */
  entry(key: Data): StoreEntry | undefined {
    const k = blob(key);
    return this.#read(() => {
      const row = this.#st.lookup.get(k);
      if (!row) return undefined;
      return { value: unblob(row.value), expiry: (row.expiry as bigint | null) ?? null };
    });
  }

  /** Whether key is present. */
  exists(key: Data): boolean {
    const k = blob(key);
    return this.#read(() => this.#st.exists.get(k) !== undefined);
  }

  /** Removes key; returns whether it was present. */
  erase(key: Data): boolean {
    const k = blob(key);
    return this.#write(() => Number(this.#st.erase.run(k).changes) > 0);
  }

  /** Removes key if its expiry is at or before now. */
  expire(key: Data, now: bigint): boolean {
    const k = blob(key);
    return this.#write(() => Number(this.#st.expire.run(k, now).changes) > 0);
  }

  /** Removes every key. */
  clear(): void {
    this.#write(() => this.#st.clear.run());
  }

  /** All keys in Broker's order. */
  keys(): Data[] {
    return this.#readPaged(this.#st.keys, (r) => unblob(r.key)).sort(compare);
  }

  /** Number of entries. */
  size(): number {
    return this.#read(() => Number(this.#st.size.get()!.n));
  }

  /** All pairs, in key order. */
  snapshot(): [Data, Data][] {
    return this.#readPaged(this.#st.snapshot, (r): [Data, Data] => [unblob(r.key), unblob(r.value)])
      .sort((a, b) => compare(a[0], b[0]));
  }

  /** Keys with an expiry. */
  expiries(): [Data, bigint][] {
    return this.#readPaged(
      this.#st.expiries,
      (r): [Data, bigint] => [unblob(r.key), r.expiry as bigint],
    );
  }

  /**
   * Commits the open batch. Throws `backend_failure` when that fails: a
   * lock held it up (the batch stays open, and with `autoFlush` is tried
   * again), or SQLite rolled it back.
   */
  flush(): void {
    const db = this.#conn();
    this.#stopRetry();
    const e = this.#tryCommit(db);
    if (!e) return;
    if (e === this.#lost) this.#lost = undefined; // told here, not again
    throw e;
  }

  /** Confirmed writes the database rolled back since the last call, if any (once). */
  takeFailure(): BrokerError | undefined {
    const e = this.#lost;
    this.#lost = undefined;
    return e;
  }

  /**
   * Commits and closes the file; later calls throw `backend_failure`.
   * Closing twice is fine. A lock that holds the last commit up is waited
   * for up to `CLOSE_WAIT_MS` (nothing waits behind a closing store), then
   * the batch is lost and `backend_failure` thrown.
   */
  close(): void {
    const db = this.#db;
    if (!db) return;
    this.#db = undefined;
    this.#stopRetry();
    try {
      if (!db.isTransaction) return;
      db.exec(`PRAGMA busy_timeout = ${CLOSE_WAIT_MS}`);
      const n = this.#pending;
      this.#pending = 0;
      try {
        db.exec("COMMIT");
      } catch (e) {
        throw failure(`COMMIT failed on close, ${n} batched writes lost`, e);
      }
    } finally {
      db.close();
    }
  }
}

function blob(d: Data): Uint8Array {
  return encode(d);
}

/** The first and the longest delay before a commit a lock held up is tried again. */
const RETRY_MIN_MS = 5;
const RETRY_MAX_MS = 1000;
/** How long `close` waits for a lock that holds its last commit up. */
const CLOSE_WAIT_MS = 1000;

/** Rows a paged read (`rowsOf`) takes at a time. */
const PAGE_ROWS = 1000;

/**
 * Every row of the paged statement `st` (`... where rowid > ? order by
 * rowid limit ?`, its rowid as `id`), converted page by page. One `all()`
 * over the table holds every row's blobs at once, each a buffer of its own
 * outside V8's heap: a snapshot of 200,000 entries grew the process by ~345
 * MiB that way (glibc keeps it after), against ~140-165 MiB by pages, and
 * took longer (`bench/sqlite_reads.ts`).
 */
function rowsOf<T>(st: StatementSync, f: (row: Record<string, unknown>) => T): T[] {
  const out: T[] = [];
  let after: number | bigint = -1;
  for (;;) {
    const rows = st.all(after, PAGE_ROWS);
    for (const row of rows) out.push(f(row));
    if (rows.length < PAGE_ROWS) return out;
    after = rows[rows.length - 1].id as number | bigint;
  }
}

function unblob(x: unknown): Data {
  if (!(x instanceof Uint8Array)) throw failure("stored value is not a blob");
  try {
    return decode(x);
  } catch (e) {
    throw failure("stored value does not decode", e);
  }
}
