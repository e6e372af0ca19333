// Measures what an endpoint retains for a peer that never reads, after a
// garbage collection. Run by faults_test.ts in a child process, because gc()
// needs `--v8-flags=--expose-gc`:
//   deno run -A --v8-flags=--expose-gc tests/slow_reader_memory.ts drop_oldest 100
// Prints JSON: { retained, published } (bytes) and whether the peer is still peered.
import { Endpoint } from "../engine/endpoint.ts";
import { ENDPOINT_ID, flood, isPeered, LARGER_ID, peerRaw } from "./raw_peer.ts";

const policy = (Deno.args[0] ?? "drop_oldest") as "drop_oldest" | "drop_newest";
const peerBufferSize = Number(Deno.args[1] ?? 100);
const total = Number(Deno.args[2] ?? 8000);
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("run with --v8-flags=--expose-gc");

// Array buffers are freed after the collection that finds them dead: collect, let it settle, again.
const used = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 10));
  }
  const m = Deno.memoryUsage();
  return m.external + m.heapUsed;
};

const ep = new Endpoint({
  id: ENDPOINT_ID,
  peerBufferSize,
  overflowPolicy: policy,
  unpeerTimeoutMs: 50,
});
const port = await ep.listen("127.0.0.1", 0);
const c = await peerRaw(ep, port, LARGER_ID, ["/flood"]);
await flood(ep, 200, 50); // warm up the publish path
const before = await used();
await flood(ep, total, 500);
const retained = (await used()) - before;
console.log(
  JSON.stringify({ retained, published: total * 8 * 1024, peered: isPeered(ep, LARGER_ID) }),
);
await c.close();
await ep.shutdown();
