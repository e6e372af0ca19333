/**
 * `deno task build:capture`: regenerates `generated/` from `capture.fbs` with
 * flatc (Debian's flatbuffers-compiler), then adds the `.ts` extensions that
 * Deno needs to flatc's relative imports.
 *
 * @module
 */
const here = new URL(".", import.meta.url).pathname;
const out = await new Deno.Command("flatc", {
  args: ["--ts", "-o", `${here}generated`, `${here}capture.fbs`],
}).output();
if (!out.success) {
  console.error(new TextDecoder().decode(out.stderr));
  Deno.exit(1);
}
async function* files(dir: string): AsyncIterable<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* files(p);
    else if (p.endsWith(".ts")) yield p;
  }
}
for await (const f of files(`${here}generated`)) {
  const text = await Deno.readTextFile(f);
  await Deno.writeTextFile(f, text.replace(/from '(\.[^']*?)(?:\.ts)?'/g, "from '$1.ts'"));
}
console.log("generated/ is up to date with capture.fbs");
