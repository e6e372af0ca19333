// The public API is documented: `deno doc --lint` finds a JSDoc on every
// exported symbol of mod.ts and browser.ts, and no public type that refers
// to an unexported one (it caught MemoryBackend.replaceFromSpans taking an
// unexported SnapshotChanges).
import assert from "node:assert/strict";

Deno.test("deno doc --lint passes on mod.ts and browser.ts", async () => {
  const root = new URL("..", import.meta.url).pathname;
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts", "browser.ts"],
    cwd: root,
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, text);
});
