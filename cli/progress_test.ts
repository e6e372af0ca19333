import assert from "node:assert/strict";
import { formatProgress, ProgressBar } from "./progress.ts";

Deno.test("progress: bar, percentage, messages, MB, rate and ETA", () => {
  assert.equal(
    formatProgress({ done: 500, total: 1000, bytes: 2_100_000, seconds: 0.5 }, 10),
    "[#####-----]  50% 500/1000 msgs  2.1 MB  1000 msgs/s  ETA 0.5 s",
  );
  assert.equal(
    formatProgress({ done: 0, total: 7, bytes: 0, seconds: 0 }, 4),
    "[----]   0% 0/7 msgs  0.0 MB  0 msgs/s  ETA ?",
  );
  assert.equal(
    formatProgress({ done: 7, total: 7, bytes: 70, seconds: 2 }, 4),
    "[####] 100% 7/7 msgs  0.0 MB  4 msgs/s  ETA 0.0 s",
  );
  // An empty recording is complete, not a division by zero.
  assert.match(formatProgress({ done: 0, total: 0, bytes: 0, seconds: 1 }, 4), /^\[####\] 100%/);
});

Deno.test("progress: redraws at most once per interval and ends the line", () => {
  const out: string[] = [];
  const bar = new ProgressBar((s) => out.push(s), 60_000);
  for (let i = 1; i <= 100; i++) bar.update({ done: i, total: 100, bytes: i, seconds: i / 100 });
  bar.finish();
  assert.equal(out.length, 2, "the first update and the final state");
  assert.match(out[0], /^\r\[.*\] {3}1% 1\/100 msgs/);
  assert.match(out[1], /^\r\[#+\] 100% 100\/100 msgs.*\n$/);
});
