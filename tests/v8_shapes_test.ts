/**
 * Two process-wide V8 states that slowed every encoder once a peering had
 * run (a conn event's DataBuilder took ~30% longer): a writer's position
 * kept as a double, and the "no buffer was ever detached" assumption lost
 * to a WASM memory growing. Neither shows in a value's bytes, so a child
 * process (tests/v8_shapes.ts) runs the writers with V8's traces on, and
 * the test reads them.
 */
import assert from "node:assert/strict";
import { v8TraceOf } from "./v8_trace.ts";

const SCRIPT = new URL("./v8_shapes.ts", import.meta.url).pathname;

Deno.test("writers keep their positions as small integers, and the codec's memory never grows for values up to ~800 KB", async () => {
  const lines = await v8TraceOf(SCRIPT, "--trace-generalization,--trace-protector-invalidation");
  assert.ok(lines.some((l) => l.includes("SHAPES_DONE")), "the marker in V8's trace");
  // `pos:s{...}->d{...}`: a writer's field turned into a double (`d`), or
  // into any value (`t`), which every read then checks.
  const widened = lines.filter((l) =>
    /\](pos|start|limit):\S*->[dt]\{/.test(l) && /(slab|builder|encode)\.ts/.test(l)
  );
  assert.deepEqual(widened, []);
  assert.ok(!lines.some((l) => l.includes("Invalidating protector cell ArrayBufferDetaching")));
});
