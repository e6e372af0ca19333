/**
 * A second peering must not throw away the code V8 optimised during the
 * first: a `broker node` warms its paths over a loopback peering at start-up,
 * and each such deoptimisation was compiled again on a background thread
 * during the real peering's first few hundred messages, where it took the
 * CPU from them (the cold latency tail). Reads V8's trace of a child process
 * (tests/second_peering.ts).
 */
import { deepEqual, ok } from "node:assert/strict";
import { v8TraceOf } from "./v8_trace.ts";

const SCRIPT = new URL("./second_peering.ts", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;

/** Deoptimisations in this project's code, from V8's `--trace-deopt-verbose` lines. */
function ourDeopts(trace: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < trace.length; i++) {
    const line = trace[i];
    if (!line.includes("[bailout") || !line.includes("begin.")) continue;
    const fn = /<JSFunction (\S+)/.exec(line)?.[1] ?? "?";
    const reason = /reason: ([^)]*\)?)\)/.exec(line)?.[1] ?? "?";
    // The position follows within the bailout's own lines (a lazy one has none).
    const at = trace.slice(i + 1, i + 4).find((l) => l.includes(";;; deoptimize at"));
    const ours = at !== undefined && at.includes(`file://${ROOT}`) &&
      !at.includes(`file://${ROOT}tests/`);
    // A throw through the transport's loops deoptimises them lazily, with no position.
    if (ours || fn === "#readLoop" || fn === "#writeLoop") {
      out.push(`${fn}: ${reason}${at ? ` ${at.trim()}` : ""}`);
    }
  }
  return out;
}

/** Whether V8's trace lines tell that it finished compiling a function whose name holds `name`. */
function compiled(trace: string[], name: string): boolean {
  return trace.some((l) => l.includes("completed compiling") && l.includes(name));
}

Deno.test({
  name: "a second peering over TCP deoptimises none of the engine's code the first one warmed",
  sanitizeResources: false,
  async fn() {
    const lines = await v8TraceOf(
      SCRIPT,
      "--allow-natives-syntax,--trace-opt,--trace-deopt-verbose",
    );
    const from = lines.findIndex((l) => l.includes("<JSFunction FIRST_PEERING_ENDS"));
    const to = lines.findIndex((l) => l.includes("<JSFunction SECOND_PEERING_DONE"));
    ok(from > 0 && to > from, "both marks in V8's trace");
    // The first peering warms the paths: V8 optimised our per-message code by its end.
    ok(
      compiled(lines.slice(0, from), "route"),
      "the router's code was optimised during the first peering",
    );
    deepEqual(ourDeopts(lines.slice(from, to)), []);
  },
});

Deno.test({
  name: "origin tags written and read by code optimised on small words take words of 2^30 or more",
  sanitizeResources: false,
  async fn() {
    const lines = await v8TraceOf(
      new URL("./origin_words.ts", import.meta.url).pathname,
      "--allow-natives-syntax,--trace-opt,--trace-deopt-verbose",
    );
    const from = lines.indexOf("OPTIMISED WITH SMALL WORDS");
    const to = lines.indexOf("LARGE WORDS WRITTEN AND READ");
    ok(from > 0 && to > from, "both marks in V8's trace");
    const before = lines.slice(0, from);
    ok(
      compiled(before, "readOriginTagInto") && compiled(before, "writeOriginWords"),
      "both were optimised on small words",
    );
    deepEqual(ourDeopts(lines.slice(from, to)), []);
  },
});
