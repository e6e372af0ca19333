/**
 * The live status page served at `/` of the metrics port: one HTML document
 * with its style and script inline (nothing is fetched from elsewhere) that
 * polls `/v1/status/json` once a second and shows the node, its peers,
 * subscriptions, stores, and messages per second per type, numbers and a
 * chart of the last two minutes.
 *
 * Elements tests and people can rely on: `#node-id`, `#peers tbody tr.peer`
 * (one per peering, `data-status`), `#rates [data-type]` (messages/s of
 * each type, `data-rate` the number), `#subscriptions li`, `#stores tbody tr`,
 * `#chart` (a canvas; `data-points` the samples it draws), `#error` (set
 * when polling fails).
 *
 * @example
 * ```ts
 * import { STATUS_PAGE_HTML } from "./status_page.ts";
 * if (!STATUS_PAGE_HTML.includes("/v1/status/json")) throw new Error("polls the status API");
 * ```
 *
 * @module
 */

/** The page (self-contained HTML). */
export const STATUS_PAGE_HTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Broker node status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
  h1 { font-size: 1.3em; margin: 0 0 .3em; }
  h2 { font-size: 1.05em; margin: 1.2em 0 .4em; }
  code, td.mono { font-family: ui-monospace, monospace; font-size: 12px; }
  table { border-collapse: collapse; background: #fff; }
  th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; }
  th { background: #f0f0f0; }
  td.num { text-align: right; font-variant-numeric: tabular-nums; }
  .cards { display: flex; gap: 1em; flex-wrap: wrap; }
  .card { background: #fff; border: 1px solid #ddd; padding: .5em 1em; min-width: 8em; }
  .card .v { font-size: 1.4em; font-variant-numeric: tabular-nums; }
  #error { color: #b00; }
  .peered { color: #080; } .connecting, .reconnecting { color: #a60; }
  canvas { background: #fff; border: 1px solid #ddd; }
</style>
</head>
<body>
<h1>Broker node <code id="node-id">…</code></h1>
<div>cluster node <code id="cluster-node">…</code>, as of <span id="time">…</span> <span id="error"></span></div>
<div class="cards" id="cards">
  <div class="card">peerings<div class="v" id="native-connections">0</div></div>
  <div class="card">WebSocket clients<div class="v" id="ws-connections">0</div></div>
  <div class="card">subscribers<div class="v" id="local-subscribers">0</div></div>
  <div class="card">publishers<div class="v" id="local-publishers">0</div></div>
</div>
<h2>Messages per second</h2>
<table id="rates"><thead><tr><th>type</th><th>msg/s</th><th>processed</th><th>buffered</th></tr></thead><tbody></tbody></table>
<p><canvas id="chart" width="720" height="180"></canvas></p>
<h2>Peers</h2>
<table id="peers"><thead><tr><th>peer</th><th>address</th><th>status</th><th>in</th><th>in/s</th><th>queued</th><th>queued bytes</th></tr></thead><tbody></tbody></table>
<h2>Subscriptions</h2>
<ul id="subscriptions"></ul>
<h2>Stores</h2>
<table id="stores"><thead><tr><th>name</th><th>role</th><th>entries</th><th>processed updates</th><th>unacknowledged</th><th>channels</th></tr></thead><tbody></tbody></table>
<script>
"use strict";
const TYPES = ["data", "command", "routing_update", "ping", "pong"];
const COLORS = { data: "#1f77b4", command: "#ff7f0e", routing_update: "#2ca02c", ping: "#9467bd", pong: "#8c564b" };
const HISTORY = 120;
const history = [];
let last;
const $ = (id) => document.getElementById(id);
function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function fmt(n) { return n >= 100 ? Math.round(n).toLocaleString("en") : String(Math.round(n * 10) / 10); }
function render(s, now) {
  $("node-id").textContent = s.id;
  $("cluster-node").textContent = s["cluster-node"];
  $("time").textContent = s.time;
  $("native-connections").textContent = s["native-connections"];
  $("ws-connections").textContent = s["web-socket-connections"] ?? 0;
  $("local-subscribers").textContent = s["local-subscribers"] ?? 0;
  $("local-publishers").textContent = s["local-publishers"] ?? 0;
  const dt = last ? (now - last.at) / 1000 : 0;
  const rates = {};
  for (const t of TYPES) {
    const cur = s["message-metrics"][t]?.processed ?? 0;
    const prev = last?.status["message-metrics"][t]?.processed ?? cur;
    rates[t] = dt > 0 ? Math.max(0, cur - prev) / dt : 0;
  }
  if (last) {
    history.push(rates);
    if (history.length > HISTORY) history.shift();
  }
  const rb = $("rates").tBodies[0];
  rb.replaceChildren();
  for (const t of TYPES) {
    const m = s["message-metrics"][t] ?? { processed: 0, buffered: 0 };
    const tr = document.createElement("tr");
    tr.dataset.type = t;
    tr.dataset.rate = String(rates[t]);
    cell(tr, t);
    cell(tr, fmt(rates[t]), "num rate");
    cell(tr, m.processed, "num");
    cell(tr, m.buffered, "num");
    rb.appendChild(tr);
  }
  const pb = $("peers").tBodies[0];
  pb.replaceChildren();
  for (const [id, p] of Object.entries(s.peerings ?? {})) {
    const tr = document.createElement("tr");
    tr.className = "peer";
    tr.dataset.status = p.status;
    cell(tr, id, "mono");
    cell(tr, p.address, "mono");
    cell(tr, p.status, p.status);
    cell(tr, p.input.delivered, "num");
    const before = last?.status.peerings?.[id]?.input.delivered;
    cell(tr, before === undefined || dt <= 0 ? "–" : fmt(Math.max(0, p.input.delivered - before) / dt), "num");
    cell(tr, p.output.buffered, "num");
    cell(tr, p.output["buffered-bytes"], "num");
    pb.appendChild(tr);
  }
  const ul = $("subscriptions");
  ul.replaceChildren();
  for (const t of s.subscriptions ?? []) {
    const li = document.createElement("li");
    li.textContent = t;
    ul.appendChild(li);
  }
  const sb = $("stores").tBodies[0];
  sb.replaceChildren();
  for (const [role, list] of [["master", s.masters ?? {}], ["clone", s.clones ?? {}]]) {
    for (const [name, st] of Object.entries(list)) {
      const tr = document.createElement("tr");
      cell(tr, name, "mono");
      cell(tr, role);
      cell(tr, st.entries, "num");
      cell(tr, st["processed-updates"] ?? 0, "num");
      cell(tr, st.output?.buffered ?? 0, "num");
      cell(tr, role === "master" ? st.output?.paths ?? 0 : st.input?.channels ?? 0, "num");
      sb.appendChild(tr);
    }
  }
  draw();
  last = { status: s, at: now };
}
function draw() {
  const c = $("chart");
  c.dataset.points = String(history.length);
  const g = c.getContext("2d");
  if (!g) return;
  const w = c.width, h = c.height, pad = 30;
  g.clearRect(0, 0, w, h);
  let max = 1;
  for (const r of history) for (const t of TYPES) max = Math.max(max, r[t]);
  g.strokeStyle = "#ccc";
  g.strokeRect(pad, 5, w - pad - 5, h - pad);
  g.fillStyle = "#666";
  g.font = "11px sans-serif";
  g.fillText(fmt(max) + "/s", 2, 14);
  g.fillText("0", 2, h - pad + 4);
  TYPES.forEach((t, i) => {
    g.fillStyle = COLORS[t];
    g.fillText(t, pad + 10 + i * 110, h - 8);
    g.strokeStyle = COLORS[t];
    g.beginPath();
    history.forEach((r, x) => {
      // Newest on the right, scrolling left as samples come in.
      const px = pad + ((HISTORY - history.length + x) / (HISTORY - 1)) * (w - pad - 5);
      const py = 5 + (h - pad) * (1 - r[t] / max);
      if (x === 0) g.moveTo(px, py); else g.lineTo(px, py);
    });
    g.stroke();
  });
}
async function poll() {
  try {
    const res = await fetch("/v1/status/json", { cache: "no-store" });
    if (!res.ok) throw new Error("HTTP " + res.status);
    render(await res.json(), performance.now());
    $("error").textContent = "";
  } catch (e) {
    $("error").textContent = "(status unavailable: " + e.message + ")";
  }
  setTimeout(poll, 1000);
}
poll();
</script>
</body>
</html>
`;
