/**
 * Builds the `broker` CLI into one file.
 *
 * - `deno task bundle` (works here): `dist/broker`, one executable script
 *   with every dependency inlined (`deno bundle`), run by any Deno 2.
 * - `deno task compile`: `dist/broker-bin`, a self-contained binary from
 *   `deno compile`. Deno downloads its runtime (`denort`) from dl.deno.land
 *   for that, which this machine cannot reach; the task reports it and fails.
 *
 * @module
 */

const root = new URL("../", import.meta.url);
const dist = new URL("dist/", root);

async function deno(args: string[]): Promise<boolean> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: root,
    stdout: "inherit",
    stderr: "inherit",
  })
    .output();
  return code === 0;
}

/**
 * Bundles `cli/main.ts` into `outFile` (default `dist/broker`), marked executable, with a shebang.
 *
 * @example
 * ```ts ignore
 * const path = await bundleCli("/tmp/broker");
 * ```
 */
export async function bundleCli(outFile = new URL("broker", dist).pathname): Promise<string> {
  const js = `${outFile}.js`;
  await Deno.mkdir(new URL(".", `file://${outFile}`), { recursive: true });
  if (!await deno(["bundle", "--quiet", "--platform", "deno", "-o", js, "cli/main.ts"])) {
    throw new Error("deno bundle failed");
  }
  const body = await Deno.readTextFile(js);
  await Deno.writeTextFile(outFile, `#!/usr/bin/env -S deno run -A\n${body}`, { mode: 0o755 });
  await Deno.remove(js);
  return outFile;
}

if (import.meta.main) {
  if (Deno.args[0] === "compile") {
    await Deno.mkdir(dist, { recursive: true });
    const ok = await deno([
      "compile",
      "-A",
      "-o",
      new URL("broker-bin", dist).pathname,
      "cli/main.ts",
    ]);
    if (!ok) {
      console.error(
        "deno compile needs its runtime from dl.deno.land; where that is unreachable, `deno task bundle` builds dist/broker",
      );
      Deno.exit(1);
    }
  } else {
    console.log(await bundleCli());
  }
}
