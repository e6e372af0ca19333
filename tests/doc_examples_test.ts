// Runs every code example of the documentation (`doc_examples.ts` finds them
// as `deno test --doc` does), each as a test of its own, all in this one
// isolate. The `test` task type-checks them first with `deno check --doc-only`.
import { docExamples, exampleModule } from "./doc_examples.ts";
import { EventLoopTrips } from "./event_loop_trips.ts";

const ROOT = new URL("../", import.meta.url);
/** Directories that hold no documentation of ours. */
const SKIP = new Set([".git", "node_modules", "dist"]);
/** Files whose examples are looked for (the kinds `deno test --doc` reads). */
const DOCUMENTED = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs|md)$/;

/** Project files that may hold examples, relative to the root, in a stable order. */
function documentedFiles(dir = ""): string[] {
  const out: string[] = [];
  const entries = [...Deno.readDirSync(new URL(dir || ".", ROOT))]
    .sort((a, b) => a.name < b.name ? -1 : 1);
  for (const e of entries) {
    const path = dir + e.name;
    if (e.isDirectory && !SKIP.has(e.name)) out.push(...documentedFiles(path + "/"));
    else if (e.isFile && DOCUMENTED.test(e.name)) out.push(path);
  }
  return out;
}

const dir = Deno.makeTempDirSync({ prefix: "doc-examples-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

/**
 * Rejections no example handled. Left alone, one of them ends the whole
 * file: every example after it is reported failed with it. Caught here, it
 * fails only the example that was running when it surfaced.
 */
const strays: unknown[] = [];
const trips = new EventLoopTrips();
globalThis.addEventListener("unload", () => trips.close());
globalThis.addEventListener("unhandledrejection", (e) => {
  e.preventDefault();
  strays.push(e.reason);
});

for (const file of documentedFiles()) {
  const fileUrl = new URL(file, ROOT);
  for (const example of docExamples(file, Deno.readTextFileSync(fileUrl))) {
    Deno.test(example.name, async () => {
      // Named as the example (`#` is a URL's fragment, so `$`): a failure's stack names it.
      const path = `${dir}/${example.name.replaceAll("/", "__").replace("#", "$")}`;
      await Deno.writeTextFile(path, exampleModule(example, fileUrl));
      await import(new URL(`file://${path}`).href);
      // A rejection nothing handled is reported once the microtasks run out.
      await trips.next();
      if (strays.length > 0) {
        const reasons = strays.splice(0).map((r) => r instanceof Error ? r.stack : String(r));
        throw new Error(`an unhandled rejection:\n${reasons.join("\n")}`);
      }
    });
  }
}
