/**
 * Runs a script in a child `deno eval` with V8's `gc()` exposed (tests of
 * what becomes of objects let go need a collection they can force) and
 * returns what it printed, parsed as JSON; a failing child fails with its
 * stderr. The script may call `collectUntil(done)` (below).
 *
 * @example
 * ```ts
 * import { evalWithGc } from "./gc_eval.ts";
 * const r = await evalWithGc<{ ok: boolean }>(
 *   "globalThis.gc(); console.log(JSON.stringify({ ok: true }));",
 * );
 * if (!r.ok) throw new Error("the child ran");
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";

/**
 * What every script may call: `collectUntil(done)` runs collections, each in
 * a task of its own (a WeakRef read keeps its target to the end of the task,
 * and finalizers run in tasks after it), until `done()` holds, at most 100.
 */
const PRELUDE = `
const collectUntil = async (done) => {
  const tick = () => new Promise((r) => setTimeout(r, 0));
  for (let i = 0; i < 100; i++) {
    await tick();
    globalThis.gc();
    await tick();
    if (done()) return;
  }
};
`;

/** The JSON the script printed on stdout, once it exited with 0. */
export async function evalWithGc<T>(script: string): Promise<T> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--expose-gc", PRELUDE + script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}
