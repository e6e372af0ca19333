/**
 * Another process holding a lock on a SQLite file, for the tests of what a
 * store does while it cannot commit, write or read (Broker's backend, like
 * ours, sets no busy timeout: a lock fails a statement at once).
 *
 * @module
 */

/** The locks SQLite takes in its default (rollback journal) mode. */
export type SqliteLock =
  /** A read transaction: others may write, but not commit. */
  | "shared"
  /** `BEGIN IMMEDIATE`: others may read, but not write. */
  | "reserved"
  /** `BEGIN EXCLUSIVE`: others may neither read nor write. */
  | "exclusive";

/** A child process holding `lock` on the database at `path`, until `release`. */
export interface HeldLock {
  /** Ends the child's transaction and waits for the child to exit (once: later calls wait too). */
  release(): Promise<void>;
}

/**
 * Starts a child process (`deno eval`, `node:sqlite`) that takes `lock` on
 * `path` and holds it until `release()`; resolves once it holds it.
 *
 * @example
 * ```ts ignore
 * const held = await holdSqliteLock("/tmp/kv.sqlite", "shared");
 * await held.release();
 * ```
 */
export async function holdSqliteLock(path: string, lock: SqliteLock): Promise<HeldLock> {
  const begin = {
    shared: `db.exec("begin"); db.prepare("select count(*) from store").get();`,
    reserved: `db.exec("begin immediate");`,
    exclusive: `db.exec("begin exclusive");`,
  }[lock];
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import { DatabaseSync } from "node:sqlite";
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("pragma busy_timeout = 10000");
       ${begin}
       console.log("locked");
       for (const b = new Uint8Array(64); (await Deno.stdin.read(b)) !== null;);
       db.exec("commit");
       db.close();`,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while (!out.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the lock holder ended early: ${out}`);
    out += value;
  }
  let released: Promise<void> | undefined;
  return {
    release: () => released ??= end(),
  };
  async function end(): Promise<void> {
    await child.stdin.close();
    while (!(await reader.read()).done);
    const status = await child.status;
    if (!status.success) throw new Error(`the lock holder failed: ${status.code}`);
  }
}
