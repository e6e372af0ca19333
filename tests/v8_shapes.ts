// The writers, a builder and the codec on every path that once left V8
// in a slower state for the rest of the process, then a marker. Run by
// v8_shapes_test.ts in a child process under
//   stdbuf -oL deno run -A --v8-flags=--trace-generalization,--trace-protector-invalidation tests/v8_shapes.ts
import { Writer } from "../engine/data/slab.ts";
import { count, DataBuilder, decode, encode, str, validate, vector } from "../engine/data/mod.ts";

// Non-ASCII text through Writer.utf8, and a slab replaced with a message begun in it.
const w = new Writer(64);
for (let i = 0; i < 40; i++) {
  w.begin();
  w.text("h\u00e9llo w\u00f6rld " + i, undefined);
}
// A builder's slab replaced mid-value, with text that is not ASCII or is long.
const b = new DataBuilder(256);
for (let i = 0; i < 2000; i++) {
  b.reset().beginVector().str("\u00e9v\u00e9nement").count(i).str("x".repeat(200)).end();
  b.finishWithPrefix(new Uint8Array(48));
}
encode(vector(str("\u00fcber ".repeat(40)), count(1n)));
// Values for the codec's memory: one over the JS validator's 64 bytes, one of ~800 KB.
const small = encode(vector(str("a".repeat(300))));
const large = encode(vector(...Array.from({ length: 2000 }, (_, i) => str("v".repeat(400) + i))));
if (large.length < 800_000) throw new Error(`the large value is too small: ${large.length}`);
for (let i = 0; i < 3; i++) {
  validate(small);
  decode(small);
  validate(large);
}
console.log("SHAPES_DONE");
