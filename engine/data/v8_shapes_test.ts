// Two process-wide V8 states that slowed every encoder once a peering had
// run (a conn event's DataBuilder took ~30% longer): a writer's position
// kept as a double, and the "no buffer was ever detached" assumption lost
// to a WASM memory growing. Neither shows in a value's bytes, so a child
// process runs the writers with V8's own traces on and the test reads them.
import assert from "node:assert/strict";

const here = (path: string) => new URL(path, import.meta.url).href;

// Every path that once stored a heap number in a writer field, and values
// large enough to load into the codec's memory.
const PROBE = `
import { Writer } from "${here("./slab.ts")}";
import { DataBuilder } from "${here("./builder.ts")}";
import { encode } from "${here("./encode.ts")}";
import { validate } from "${here("./validate.ts")}";
import { decode } from "${here("./decode.ts")}";
import { str, vector, count } from "${here("./constructors.ts")}";
const w = new Writer(64);
for (let i = 0; i < 40; i++) { w.begin(); w.text("h\\u00e9llo w\\u00f6rld " + i, undefined); }
const b = new DataBuilder(256);
for (let i = 0; i < 2000; i++) {
  b.reset().beginVector().str("\\u00e9v\\u00e9nement").count(i).str("x".repeat(200)).end();
  b.finishWithPrefix(new Uint8Array(48));
}
const text = "\\u00fcber ".repeat(40);
encode(vector(str(text), count(1n)));
const small = encode(vector(str("a".repeat(300))));
const large = encode(vector(...Array.from({ length: 2000 }, (_, i) => str("v".repeat(400) + i))));
if (large.length < 800_000) throw new Error("the large value is too small: " + large.length);
for (let i = 0; i < 3; i++) { validate(small); decode(small); validate(large); }
console.log("PROBE DONE");
`;

async function probe(): Promise<string> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      "--v8-flags=--trace-generalization,--trace-protector-invalidation",
      PROBE,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, new TextDecoder().decode(stderr));
  assert.match(out, /PROBE DONE/);
  return out;
}

Deno.test("writers keep their positions as small integers, and the codec's memory never grows for values up to ~800 KB", async () => {
  const out = await probe();
  // `pos:s{...}->d{...}`: a writer's field turned into a double (`d`), or
  // into any value (`t`), which every read then checks.
  const widened = out.split("\n").filter((l) =>
    /\](pos|start|limit):\S*->[dt]\{/.test(l) && /(slab|builder|encode)\.ts/.test(l)
  );
  assert.deepEqual(widened, []);
  assert.doesNotMatch(out, /Invalidating protector cell ArrayBufferDetaching/);
});
