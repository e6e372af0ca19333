import assert from "node:assert/strict";
import { type Data, decode, encode } from "../mod.ts";
import { benchMessage, formatBench, runBench } from "./bench_command.ts";

Deno.test("bench messages have broker-throughput's three shapes, stamped", () => {
  for (const shape of [1, 2, 3] as const) {
    const m = decode(encode(benchMessage(shape, 7)));
    assert.equal(m.type, "vector");
    const [stamp] = m.value as readonly Data[];
    assert.equal(stamp.type, "timestamp");
  }
  assert.ok(encode(benchMessage(3, 0)).length > encode(benchMessage(2, 0)).length);
});

Deno.test("broker bench measures every message, in one process and across two", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  for (const twoProcesses of [false, true]) {
    const r = await runBench(2, 2000, { twoProcesses, rate: 20_000 });
    assert.equal(r.messages, 2000);
    assert.ok(r.messagesPerSecond > 0);
    assert.ok(r.latencyUs.p50 > 0 && r.latencyUs.p50 <= r.latencyUs.p99);
    assert.ok(r.latencyUs.p99 <= r.latencyUs.max);
    assert.match(formatBench(r), /msgs\/s/);
  }
});
