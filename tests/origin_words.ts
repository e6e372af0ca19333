// Origin tags written and read by code optimised while only small words
// went through it must take words of 2^30 or more (an endpoint ID drawn
// high), which are not V8's small integers. Run by second_peering_test.ts
// in a child process under
//   deno run -A --v8-flags=--allow-natives-syntax,--trace-opt,--trace-deopt-verbose \
//     tests/origin_words.ts
// which reads V8's trace between the two marks this script prints.
import { readOriginTagInto, writeOriginWords } from "../engine/routing/origin_tag.ts";

const natives = (call: string) => new Function("f", call) as (f: unknown) => void;
const env = new Uint8Array(64), big = new Uint8Array(64);
// As the router holds its reused tag: words that start as doubles.
const tag = { hi: 0xffffffff, lo: 0xffffffff, seq: 0xffffffff };
writeOriginWords(big, 0, 0xf0000000, 0xf0000001, 0xfffffffe);
for (const f of [writeOriginWords, readOriginTagInto]) {
  natives("%PrepareFunctionForOptimization(f)")(f);
}
for (let i = 0; i < 10_000; i++) {
  writeOriginWords(env, 0, i & 0xffff, 7, i);
  readOriginTagInto(env, 0, tag);
}
for (const f of [writeOriginWords, readOriginTagInto]) natives("%OptimizeFunctionOnNextCall(f)")(f);
writeOriginWords(env, 0, 1, 2, 3);
readOriginTagInto(env, 0, tag);
console.log("OPTIMISED WITH SMALL WORDS");
writeOriginWords(env, 0, 0xf0000000, 0xf0000001, 0xfffffffe);
readOriginTagInto(big, 0, tag);
console.log("LARGE WORDS WRITTEN AND READ");
