import assert from "node:assert/strict";
import { formatTick, niceTicks, throughputChartSvg } from "./throughput_chart.ts";

/** Checks that tags nest and close properly and attributes are quoted: enough XML for an SVG. */
function assertWellFormed(svg: string): void {
  const stack: string[] = [];
  const withoutText = svg.replace(/>[^<]*</g, "><");
  for (
    const m of withoutText.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g)
  ) {
    const [, closing, name, , selfClosing] = m;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element`);
    else if (!selfClosing) stack.push(name);
  }
  assert.deepEqual(stack, [], "unclosed elements");
  // Every "<" starts a tag the pattern above understood (no stray or malformed markup).
  const tags = withoutText.match(/</g)!.length;
  const parsed = [...withoutText.matchAll(
    /<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g,
  )].length;
  assert.equal(parsed, tags, "malformed tag");
  assert.match(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
}

const viewBox = (svg: string) => /viewBox="0 0 (\d+) (\d+)"/.exec(svg)!.slice(1).map(Number);

const polylines = (svg: string) =>
  [...svg.matchAll(/<polyline class="series" points="([^"]*)"/g)].map((m) =>
    m[1].split(" ").map((p) => p.split(",").map(Number) as [number, number])
  );

const yGrid = (svg: string) =>
  [...svg.matchAll(/<line class="y-grid" x1="[\d.]+" y1="([\d.]+)"/g)].map((m) => Number(m[1]));

Deno.test("nice ticks reach the maximum with round steps", () => {
  assert.deepEqual(niceTicks(1000), [0, 200, 400, 600, 800, 1000]);
  assert.deepEqual(niceTicks(1234), [0, 250, 500, 750, 1000, 1250]);
  assert.deepEqual(niceTicks(0.3, 3), [0, 0.1, 0.2, 0.3]);
  assert.deepEqual(niceTicks(0), [0, 1]);
  assert.deepEqual(niceTicks(NaN), [0, 1]);
  // A time axis ending at 8.1 s stops at 9, not 10.
  assert.deepEqual(niceTicks(8.1, 8), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  for (let i = 0; i < 2000; i++) {
    const max = 10 ** (Math.random() * 12 - 3), count = i % 2 ? 5 : 8;
    const t = niceTicks(max, count), top = t[t.length - 1], step = t[1];
    assert.ok(top >= max && top - max < step, `${max}: ${t}`);
    assert.ok(top <= 1.25 * max, `${max}: ${t} leaves too much empty`);
    assert.ok(
      t.length - 1 >= count / 2 - 1 && t.length - 1 <= Math.ceil(count * 1.5),
      `${max}: ${t}`,
    );
  }
  assert.equal(formatTick(1_250_000), "1.25M");
  assert.equal(formatTick(250_000), "250k");
  assert.equal(formatTick(0), "0");
  assert.equal(formatTick(0.5), "0.5");
});

Deno.test("a chart has one polyline per series, inside the viewBox, and a legend", () => {
  const series = [
    { name: "total", values: [0, 500, 1000, 750], color: "#222", strokeWidth: 2.5 },
    { name: "subscriber 1", values: [0, 250, 500, 375] },
    { name: "subscriber <2> & co", values: [0, 250, 500, 375] },
  ];
  const svg = throughputChartSvg({
    title: "1 publisher → 2 subscribers",
    subtitle: "event_1, 100 ms intervals",
    intervalMs: 100,
    series,
  });
  assertWellFormed(svg);
  assert.match(svg, />1 publisher → 2 subscribers</);
  assert.match(svg, /subscriber &#60;2&#62; &#38; co/);
  const lines = polylines(svg);
  assert.equal(lines.length, 3);
  const [w, h] = viewBox(svg);
  for (const [i, line] of lines.entries()) {
    assert.equal(line.length, series[i].values.length);
    for (const [x, y] of line) assert.ok(x >= 0 && x <= w && y >= 0 && y <= h, `${x},${y}`);
    // Time runs left to right.
    for (let k = 1; k < line.length; k++) assert.ok(line[k][0] > line[k - 1][0]);
  }
  // 1000 is a nice number, so the largest value lies exactly on the top tick, and 0 on the axis.
  const grid = yGrid(svg);
  assert.equal(Math.min(...lines[0].map(([, y]) => y)), Math.min(...grid));
  assert.equal(lines[0][0][1], Math.max(...grid));
  assert.match(svg, /class="y-tick"[^>]*>1k</);
  assert.equal(svg.match(/<text class="legend"/g)!.length, 3);
  assert.equal(svg.match(/<line class="legend"/g)!.length, 3);
  assert.match(svg, /time \(s\)/);
  assert.match(svg, /messages\/s/);
});

Deno.test("the largest value never rises above the top tick", () => {
  const svg = throughputChartSvg({
    title: "t",
    intervalMs: 100,
    series: [{ name: "a", values: [123_456, 98_765, 111_111] }],
  });
  const [line] = polylines(svg);
  const top = Math.min(...yGrid(svg));
  assert.ok(Math.min(...line.map(([, y]) => y)) >= top);
  assert.match(svg, /class="y-tick"[^>]*>125k</);
});

Deno.test("empty and degenerate series", () => {
  const none = throughputChartSvg({ title: "nothing", intervalMs: 100, series: [] });
  assertWellFormed(none);
  assert.equal(polylines(none).length, 0);
  assert.match(none, /no data/);

  const empty = throughputChartSvg({
    title: "one empty",
    intervalMs: 100,
    series: [{ name: "empty", values: [] }, { name: "one", values: [5] }, {
      name: "bad",
      values: [NaN, -3, Infinity],
    }],
  });
  assertWellFormed(empty);
  const lines = polylines(empty);
  // The empty series has a legend entry but no line; the single value gets a dot too.
  assert.equal(lines.length, 2);
  assert.equal(empty.match(/<text class="legend"/g)!.length, 3);
  assert.equal(empty.match(/<circle class="point"/g)!.length, 1);
  const [w, h] = viewBox(empty);
  for (const [x, y] of lines.flat()) {
    assert.ok(Number.isFinite(x) && Number.isFinite(y) && x <= w && y <= h);
  }
  // All zeros: a flat line on the x axis.
  const zeros = throughputChartSvg({
    title: "z",
    intervalMs: 50,
    series: [{ name: "z", values: [0, 0] }],
  });
  assertWellFormed(zeros);
  const [flat] = polylines(zeros);
  assert.equal(flat[0][1], Math.max(...yGrid(zeros)));
});
