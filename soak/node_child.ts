/**
 * One of our mesh endpoints in the soak, as its own process: listens on a
 * fixed port (and optionally serves the WebSocket API), dials its peers with
 * retry, publishes `Soak::tick` events at a steady rate, counts what its
 * subscriber gets, and reports once a second on stdout (see `protocol.ts`).
 *
 * Run by the supervisor: `deno run -A soak/node_child.ts '<NodeChildConfig JSON>'`.
 * It leaves errors alone on purpose: an unhandled rejection must kill the
 * process with Deno's "error: Uncaught" on stderr, which the supervisor
 * counts as a violation.
 *
 * @module
 */
import { Endpoint } from "../mod.ts";
import { bindWithRetry, sleep, stopOnce } from "./child_common.ts";
import { emit, type NodeChildConfig, readCommands } from "./protocol.ts";
import {
  burstMessage,
  parseDelivery,
  SeqTracker,
  SOAK_TOPIC_PREFIX,
  tickMessage,
} from "./traffic.ts";

const config: NodeChildConfig = JSON.parse(Deno.args[0]);
const STATS_MS = 1000;
const PUBLISH_MS = 20;
// A process that was starved of CPU does not make up for lost time all at
// once: a catch-up burst of thousands of messages would overflow peer buffers.
const MAX_PER_ROUND = 50;
const BURST_CHUNK = 50;

const ep = new Endpoint({
  handshakeTimeoutMs: config.handshakeTimeoutMs,
  disableSsl: !config.tls,
  ssl: config.tls === "anonymous" ? undefined : config.tls,
});
await bindWithRetry(() => ep.listen("127.0.0.1", config.port));
if (config.wsPort) await bindWithRetry(() => ep.listenWebSocket("127.0.0.1", config.wsPort));

const tracker = new SeqTracker();
const sub = ep.subscribe([SOAK_TOPIC_PREFIX], { queueSize: 4096 });
const consuming = (async () => {
  for await (const m of sub) {
    const d = parseDelivery(m.data);
    if (d) tracker.record(d);
  }
})();

for (const port of config.peers) {
  ep.peerNoWait("127.0.0.1", port, { retryMs: config.retrySeconds * 1000 });
}
emit({ ev: "ready", port: config.port, wsPort: config.wsPort });

const topic = SOAK_TOPIC_PREFIX + config.name;
let seq = 0;
let base = Date.now();
let sentBefore = 0;
const publishTimer = config.rate > 0
  ? setInterval(() => {
    let due = Math.floor(((Date.now() - base) * config.rate) / 1000) - (seq - sentBefore);
    if (due > MAX_PER_ROUND) {
      // Drop the backlog: restart the schedule from now.
      base = Date.now();
      sentBefore = seq;
      due = MAX_PER_ROUND;
    }
    for (let i = 0; i < due; i++) {
      ep.publish(topic, tickMessage(config.name, config.incarnation, seq++));
    }
  }, PUBLISH_MS)
  : undefined;

const peered = () => ep.peers().filter((p) => p.status === "peered").length;
const statsTimer = setInterval(() => {
  emit({ ev: "stats", published: seq, peers: peered(), tracker: tracker.stats() });
}, STATS_MS);

const stop = stopOnce(config.deadline, async () => {
  clearInterval(publishTimer);
  clearInterval(statsTimer);
  emit({ ev: "stats", published: seq, peers: peered(), tracker: tracker.stats() });
  await ep.shutdown();
  sub.close();
  await consuming;
  Deno.exit(0);
});

await readCommands(async (line) => {
  const [cmd, ...args] = line.split(" ");
  if (cmd === "burst") {
    const id = Number(args[0]), n = Number(args[1]);
    const burstTopic = `${topic}/burst`;
    for (let i = 0; i < n; i++) {
      ep.publish(burstTopic, burstMessage(config.name, id, i));
      // Small chunks with a pause keep the burst far below the peer buffers.
      if (i % BURST_CHUNK === BURST_CHUNK - 1) await sleep(5);
    }
    emit({ ev: "burst-sent", id, n });
  } else if (cmd === "stop") {
    await stop();
  }
});
// stdin ended: the supervisor is gone.
await stop();
