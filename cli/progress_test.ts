import assert from "node:assert/strict";
import { fitProgress, formatProgress, ProgressBar } from "./progress.ts";

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

Deno.test("progress: the line fits the terminal, never wraps", () => {
  const p = { done: 500_000, total: 1_000_000, bytes: 2_100_000_000, seconds: 50 };
  const full = formatProgress(p);
  assert.equal(fitProgress(p, 200), full);
  for (let columns = 1; columns <= 120; columns++) {
    const line = fitProgress(p, columns);
    assert.ok(line.length <= Math.max(1, columns - 1), `${columns}: ${line}`);
    assert.ok(line.length > 0);
    assert.doesNotMatch(line, /\n/);
  }
  // A shorter bar first, then whole figures go, the ETA first.
  assert.match(fitProgress(p, 80), /^\[#+-+\] {2}50% .* ETA 50\.0 s$/);
  assert.equal(fitProgress(p, 60), "50% 500000/1000000 msgs  2100.0 MB  10000 msgs/s");
  assert.equal(fitProgress(p, 30), "50% 500000/1000000 msgs");
});

Deno.test("progress: the bar asks the terminal's width at each drawing", () => {
  const out: string[] = [];
  let columns = 200;
  const bar = new ProgressBar((s) => out.push(s), 0, () => columns);
  const p = { done: 1, total: 2, bytes: 0, seconds: 1 };
  bar.update(p);
  columns = 20;
  bar.update(p);
  bar.finish();
  assert.equal(out[0], `\r${formatProgress(p)}\x1b[K`);
  assert.equal(out[1], `\r${fitProgress(p, 20)}\x1b[K`);
  assert.ok(fitProgress(p, 20).length <= 19);
  assert.equal(out[2], `\r${fitProgress(p, 20)}\x1b[K\n`);
});
