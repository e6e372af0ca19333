/**
 * Finds the real Zeek for live tests: `$ZEEK_BIN`, or Zeek 8.2.2 in
 * `../shared/tools/zeek-8.2.2/` beside the project.
 *
 * @module
 */

/** Path of the `zeek` binary (the wrapper that sets ZEEKPATH); throws when it is missing. */
export function zeekBin(): string {
  const candidates = [
    Deno.env.get("ZEEK_BIN"),
    new URL("../../shared/tools/zeek-8.2.2/bin/zeek", import.meta.url).pathname,
    "/work/shared/tools/zeek-8.2.2/bin/zeek",
  ].filter((p): p is string => !!p);
  for (const p of candidates) {
    try {
      Deno.statSync(p);
      return p;
    } catch {
      // try the next place
    }
  }
  throw new Error(`zeek not found (looked in ${candidates.join(", ")}); set ZEEK_BIN`);
}

/** A Zeek string literal for arbitrary bytes (`\xHH` for all but plain ASCII). */
export function zeekStringLiteral(bytes: Uint8Array): string {
  let out = '"';
  for (const b of bytes) {
    out += b >= 0x20 && b < 0x7f && b !== 0x22 && b !== 0x5c
      ? String.fromCharCode(b)
      : `\\x${b.toString(16).padStart(2, "0")}`;
  }
  return out + '"';
}

/**
 * Runs a bare-mode Zeek script (`zeek -b`, its lines joined) in a temporary
 * directory and returns the lines it printed; a failing run throws with
 * Zeek's stderr.
 */
export async function zeekPrints(script: readonly string[]): Promise<string[]> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/script.zeek`, script.join("\n") + "\n");
    const out = await new Deno.Command(zeekBin(), {
      args: ["-b", `${dir}/script.zeek`],
      cwd: dir,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    if (out.code !== 0) throw new Error(`zeek exited with ${out.code}: ${stderr}`);
    return new TextDecoder().decode(out.stdout).trimEnd().split("\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}
