/**
 * The same workload through NATS (Debian's `nats-server`, `npm:nats` under
 * Deno) and through our endpoints, side by side in one run: N small messages
 * (one count) from a publisher to a subscriber, both in this Deno process:
 * two of our endpoints peered over TCP, or two NATS connections through a
 * `nats-server` process. Run with `deno task bench:nats [-- --n N]`;
 * needs `nats-server` on the PATH (`apt-get install nats-server`).
 *
 * @module
 */
import { connect } from "nats";
import { count, encode, Endpoint } from "../mod.ts";
import { numberOption } from "./args.ts";
import { formatRatio } from "./stats.ts";

const N = numberOption("--n", 1_000_000, { min: 1 });

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function nats(): Promise<number> {
  const port = freePort();
  const server = new Deno.Command("nats-server", {
    args: ["-a", "127.0.0.1", "-p", String(port)],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    let nc;
    for (let i = 0; i < 50; i++) {
      try {
        nc = await connect({ servers: `127.0.0.1:${port}` });
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (!nc) throw new Error("nats-server did not start");
    const pubConn = await connect({ servers: `127.0.0.1:${port}` });
    const payload = encode(count(42n)).slice(); // the same 9 bytes as our messages carry
    let got = 0;
    const sub = nc.subscribe("bench");
    const done = (async () => {
      for await (const _ of sub) if (++got >= N) break;
    })();
    await nc.flush();
    const t0 = performance.now();
    for (let i = 0; i < N; i++) {
      pubConn.publish("bench", payload);
      if ((i & 8191) === 0) await pubConn.flush();
    }
    await pubConn.flush();
    await done;
    const rate = got / ((performance.now() - t0) / 1000);
    await pubConn.close();
    await nc.close();
    return rate;
  } finally {
    server.kill();
    await server.status;
  }
}

async function ours(): Promise<number> {
  const receiver = new Endpoint();
  const port = await receiver.listen();
  const sub = receiver.subscribe("/bench", { queueSize: 1 << 16 });
  const sender = new Endpoint({ peerBufferSize: 8192 });
  await sender.peer("127.0.0.1", port, { retryMs: 0 });
  await sender.awaitPeerSubscription("/bench");
  const msg = count(42n);
  let got = 0;
  const t0 = performance.now();
  const receiving = (async () => {
    while (got < N) {
      const m = await sub.get(10_000);
      if (!m) break;
      got += 1 + sub.poll().length;
    }
  })();
  for (let i = 0; i < N; i++) {
    if (sender.demand("/bench") <= 0) await sender.ready("/bench");
    sender.publish("/bench", msg);
  }
  await receiving;
  const rate = got / ((performance.now() - t0) / 1000);
  await sender.shutdown();
  await receiver.shutdown();
  return rate;
}

const natsRate = await nats();
const oursRate = await ours();
console.log(`${N} small messages, publisher and subscriber in one Deno process (2 shared cores):`);
console.log(`NATS (nats-server + nats.js): ${Math.round(natsRate).toLocaleString()} msgs/s`);
console.log(`deno-broker endpoints:        ${Math.round(oursRate).toLocaleString()} msgs/s`);
console.log(`ratio ours / NATS:            ${formatRatio(oursRate / natsRate)}`);
