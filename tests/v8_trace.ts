/**
 * A script run in a child process under V8 flags that trace its compiler,
 * for tests that read that trace.
 *
 * @module
 */
import { ok } from "node:assert/strict";

/**
 * Runs `script` with `deno run -A --v8-flags=<v8Flags>` and returns its
 * stdout's lines; fails when it fails. V8 prints its trace through C's
 * stdio, which `stdbuf -oL` makes line by line, so what the script prints
 * (or makes V8 print) falls where it happened.
 *
 * @example
 * ```ts ignore
 * const lines = await v8TraceOf("tests/warm_up_tiers.ts", "--trace-opt");
 * ```
 */
export async function v8TraceOf(script: string, v8Flags: string): Promise<string[]> {
  const out = await new Deno.Command("stdbuf", {
    args: ["-oL", Deno.execPath(), "run", "-A", `--v8-flags=${v8Flags}`, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  ok(out.success, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n");
}
