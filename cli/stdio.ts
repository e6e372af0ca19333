/**
 * Standard output and error for every subcommand: whole writes that never
 * interleave, and whether to colour each stream.
 *
 * @module
 */
const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * Writes synchronously so lines from concurrent tasks never interleave.
 *
 * @example
 * ```ts
 * import { writeToStdio } from "./stdio.ts";
 * writeToStdio("stderr", "a whole line\n");
 * ```
 */
export function writeToStdio(stream: "stdout" | "stderr", text: string): void {
  writeAllSync(stream === "stdout" ? Deno.stdout : Deno.stderr, text);
}

/**
 * Whether to colour each stream: on a TTY, unless `NO_COLOR` is set.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { stdioColors } from "./stdio.ts";
 * const { stdout, stderr } = stdioColors(); // both false when piped
 * equal(typeof stdout, "boolean");
 * equal(typeof stderr, "boolean");
 * ```
 */
export function stdioColors(): { stdout: boolean; stderr: boolean } {
  let noColor = false;
  try {
    noColor = (Deno.env.get("NO_COLOR") ?? "") !== "";
  } catch {
    // Without env permission, go by the TTY alone.
  }
  return {
    stdout: !noColor && Deno.stdout.isTerminal(),
    stderr: !noColor && Deno.stderr.isTerminal(),
  };
}
