/**
 * A ping or pong node's warm-ups leave the codec's text reader and its JS
 * validator of small values at V8's top tier: with one tier less, a pong
 * compiled the reader during its ~1,300th real ping and a ping the
 * validator during its ~500th–700th, for 5–8 and ~2 ms on a background
 * thread, and a round trip beside each took 1–4 ms (the cold latency
 * tail). Reads V8's trace of a child process (tests/warm_up_tiers.ts).
 */
import { ok } from "node:assert/strict";
import { v8TraceOf } from "./v8_trace.ts";

const SCRIPT = new URL("./warm_up_tiers.ts", import.meta.url).pathname;

Deno.test({
  name:
    "a ping or pong node's warm-ups get the text reader and the small-value validator to V8's top tier",
  sanitizeResources: false,
  async fn() {
    const lines = await v8TraceOf(SCRIPT, "--allow-natives-syntax,--trace-opt");
    const done = lines.findIndex((l) => l.includes("WARM_UPS_DONE"));
    ok(done > 0, "the marker in V8's trace");
    const topTier = (fn: string) =>
      lines.slice(0, done).some((l) =>
        l.includes("completed compiling") && l.includes(`<JSFunction ${fn} `) &&
        l.includes("TURBOFAN")
      );
    ok(topTier("readText"), "readText at the top tier");
    // The validator: one loop over every value, containers and scalars.
    ok(topTier("validateInJs"), "validateInJs at the top tier");
  },
});
