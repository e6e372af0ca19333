// Floods a WebSocket client that never reads and samples the process's RSS.
// Run by websocket_bounds_test.ts in a child process (RSS is per process), or
// by hand to measure:
//   deno run -A tests/websocket_flood_memory.ts 15 '{"overflowPolicy":"drop_newest"}'
// Arguments: seconds to flood, then WebSocketServerOptions as JSON.
// Prints JSON: published messages, RSS (bytes) before, at most and at the
// end, and what the server held for the client at the end (`clientStats`).
// With `--v8-flags=--expose-gc` also `retained`: JS heap plus external
// memory after collections, end minus start (RSS includes garbage not yet
// collected; the socket's unsent bytes live outside both).
import { Endpoint } from "../engine/endpoint.ts";
import { count, str, vector } from "../engine/data/mod.ts";
import { stalledClient } from "./ws_stalled_client.ts";

const seconds = Number(Deno.args[0] ?? 3);
const options = JSON.parse(Deno.args[1] ?? "{}");
const PAD = "x".repeat(8 * 1024);

const ep = new Endpoint();
const server = await ep.listenWebSocket("127.0.0.1", 0, options);
const client = await stalledClient(server.port, ["/flood"]);
// The session exists once the server acked: wait a little for it.
await new Promise((r) => setTimeout(r, 200));
// Older servers have no clientStats: the RSS figures still tell.
const stats = () =>
  (server as { clientStats?: () => unknown[] }).clientStats?.() ?? ["(no clientStats)"];

const gc = (globalThis as { gc?: () => void }).gc;
// Array buffers are freed after the collection that finds them dead: collect, settle, again.
const used = async () => {
  if (!gc) return undefined;
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  const m = Deno.memoryUsage();
  return m.external + m.heapUsed;
};
const usedBefore = await used();
const rssBefore = Deno.memoryUsage().rss;
let rssMax = rssBefore;
let published = 0;
let disconnectedAfter: number | undefined;
const t0 = Date.now();
while (Date.now() - t0 < seconds * 1000) {
  for (let i = 0; i < 500; i++) {
    ep.publish("/flood", vector(count(BigInt(published++)), str(PAD)), { local: true });
  }
  await new Promise((r) => setTimeout(r, 0));
  if (published % 10_000 === 0) {
    rssMax = Math.max(rssMax, Deno.memoryUsage().rss);
    if (disconnectedAfter === undefined && stats().length === 0) disconnectedAfter = published;
  }
}
const rssAfter = Deno.memoryUsage().rss;
rssMax = Math.max(rssMax, rssAfter);
const usedAfter = await used();
const retained = usedAfter === undefined ? undefined : usedAfter - usedBefore!;
console.log(JSON.stringify({
  seconds,
  options,
  published,
  rssBefore,
  rssMax,
  rssAfter,
  disconnectedAfter,
  retained,
  clients: stats(),
}));
client.close();
await ep.shutdown();
