/**
 * WebSocket API throughput: events/s into the server from 1 and 32 clients,
 * and out of it to 1 and 32 subscribed clients (fan-out from a TCP peer).
 * Run with `deno run -A bench/websocket_throughput.ts [--n N]`.
 *
 * @module
 */
import { connectWebSocket, count, Endpoint, str, vector } from "../mod.ts";
import { numberOption } from "./args.ts";

const N = numberOption("--n", 20_000, { min: 1 });
const event = vector(count(1n), count(1n), vector(str("ping"), vector(count(42n), str("x"))));

async function inbound(clients: number): Promise<number> {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  const sub = ep.subscribe("/ws", { queueSize: 1 << 20 });
  const cs = await Promise.all(
    Array.from(
      { length: clients },
      () => connectWebSocket(`ws://127.0.0.1:${server.port}`, [], { reconnectMs: 0 }),
    ),
  );
  const per = Math.ceil(N / clients);
  const t0 = performance.now();
  for (let i = 0; i < per; i++) for (const c of cs) c.publish("/ws/in", event);
  let got = 0;
  while (got < per * clients) {
    const m = await sub.get(5000);
    if (!m) break;
    got += 1 + sub.poll().length;
  }
  const rate = got / ((performance.now() - t0) / 1000);
  for (const c of cs) c.close();
  await ep.shutdown();
  return rate;
}

async function outbound(clients: number): Promise<number> {
  const ep = new Endpoint();
  // A flat-out burst overflows Broker's 512-message client buffer (which disconnects): measure
  // the path, not the policy.
  const server = await ep.listenWebSocket("127.0.0.1", 0, { bufferSize: 1 << 20 });
  const port = await ep.listen();
  const cs = await Promise.all(
    Array.from(
      { length: clients },
      () =>
        connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/ws"], {
          reconnectMs: 0,
          queueSize: 1 << 20,
        }),
    ),
  );
  const peer = new Endpoint({ peerBufferSize: 1 << 16 });
  await peer.peer("127.0.0.1", port, { retryMs: 0 });
  await peer.awaitPeerSubscription("/ws/out");
  const per = Math.ceil(N / clients);
  const t0 = performance.now();
  for (let i = 0; i < per; i++) {
    if (peer.demand("/ws/out") <= 0) await peer.ready("/ws/out");
    peer.publish("/ws/out", event);
  }
  let got = 0;
  for (const c of cs) {
    for (let k = 0; k < per; k++) {
      if (!(await c.get(10_000))) break;
      got++;
    }
  }
  const rate = got / ((performance.now() - t0) / 1000);
  for (const c of cs) c.close();
  await peer.shutdown();
  await ep.shutdown();
  return rate;
}

console.log(`WebSocket API, ${N} events per case (2 shared cores):`);
for (const k of [1, 32]) {
  console.log(`in  from ${k} client(s): ${Math.round(await inbound(k))} events/s`);
}
for (const k of [1, 32]) {
  console.log(`out to   ${k} client(s): ${Math.round(await outbound(k))} events/s delivered`);
}
