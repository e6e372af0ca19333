// Replays a real Zeek 8.2.2 ZeroMQ cluster's traffic (fixtures/zeek8/zeromq-two-nodes.pcap:
// manager with the XPUB/XSUB proxy and the log PULL, worker-1) through the ZMTP codec: every
// TCP direction's greeting, frames and messages parse, re-encode to the captured bytes, and
// every event payload decodes with our Broker codec and re-encodes identically.
import assert from "node:assert/strict";
import {
  addr,
  count,
  dataToString,
  decode,
  encode,
  integer,
  port,
  real,
  set,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../data/mod.ts";
import { reassembledTcpStreams } from "../recording/pcap.ts";
import { concatBytes } from "../bytes.ts";
import { decodeLogWriteBatch, encodeLogWriteBatch, ZeekType } from "./log_batch.ts";
import {
  BROKER_BIN_V1,
  encodeFrame,
  encodeGreeting,
  FrameDecoder,
  GREETING_SIZE,
  LOG_WRITE_TOPIC,
  parseCommand,
  parseGreeting,
  parseReady,
  parseZeekZmqMessage,
  propertyValue,
  type SocketType,
  ZEEK_BIN_SERIALIZER,
  zeekZmqEvent,
  type ZeekZmqMessage,
  zeekZmqMessageParts,
  type ZmtpEvent,
  ZmtpSession,
} from "./mod.ts";

const CAPTURE = new URL("../../fixtures/zeek8/zeromq-two-nodes.pcap", import.meta.url);
const MANAGER = "zeromq_manager_vm_32128_N0nsJ7rZ7iPSLPGI2";
const WORKER = "zeromq_worker-1_vm_32149_NUHsym2bGyOdxKriFd";

interface Direction {
  key: string;
  /** The captured chunks, as the segments carried them. */
  chunks: Uint8Array[];
  bytes: Uint8Array;
}

async function directions(): Promise<Map<string, Direction>> {
  const out = new Map<string, Direction>();
  for (const [key, chunks] of reassembledTcpStreams(await Deno.readFile(CAPTURE))) {
    const data = chunks.map((c) => c.data);
    out.set(key, { key, chunks: data, bytes: concatBytes(data) });
  }
  return out;
}

function reverse(key: string): string {
  const [from, to] = key.split(">");
  return `${to}>${from}`;
}

/** The socket type a direction's sender announced in its READY (its first frame). */
function senderType(d: Direction): SocketType {
  const decoder = new FrameDecoder();
  decoder.push(d.bytes.subarray(GREETING_SIZE));
  const ready = parseCommand(decoder.next()!.body);
  assert.equal(ready.name, "READY");
  return propertyValue(parseReady(ready.data), "Socket-Type") as SocketType;
}

Deno.test("ZMTP capture: 10 TCP directions, each a ZMTP 3.1 NULL greeting that re-encodes byte for byte", async () => {
  const dirs = await directions();
  // The proxy's XPUB and XSUB ports each have a connection from both nodes, the log PULL
  // one from worker-1 (the manager is the logger itself): 5 connections, 10 directions.
  assert.equal(dirs.size, 10);
  for (const d of dirs.values()) {
    const g = parseGreeting(d.bytes);
    assert.deepEqual(g, { major: 3, minor: 1, mechanism: "NULL", asServer: false }, d.key);
    assert.deepEqual(encodeGreeting(g), d.bytes.subarray(0, GREETING_SIZE), d.key);
  }
});

Deno.test("ZMTP capture: every frame of every direction re-encodes to the captured bytes", async () => {
  let frames = 0;
  for (const d of (await directions()).values()) {
    // Fed as the segments came, so frames split across segments are joined by the decoder.
    const decoder = new FrameDecoder();
    const rewritten: Uint8Array[] = [encodeGreeting(parseGreeting(d.bytes))];
    let skip = GREETING_SIZE;
    for (const chunk of d.chunks) {
      const cut = Math.min(skip, chunk.length);
      skip -= cut;
      decoder.push(chunk.subarray(cut));
      for (let f = decoder.next(); f; f = decoder.next()) {
        rewritten.push(encodeFrame(f));
        frames++;
      }
    }
    assert.equal(decoder.buffered, 0, `${d.key}: bytes left over`);
    assert.deepEqual(concatBytes(rewritten), d.bytes, d.key);
  }
  assert.ok(frames > 40, `only ${frames} frames`);
});

/** Replays each direction into a session of the receiving socket's type; returns its events. */
async function replay(): Promise<Map<string, { sender: SocketType; events: ZmtpEvent[] }>> {
  const dirs = await directions();
  const out = new Map<string, { sender: SocketType; events: ZmtpEvent[] }>();
  for (const d of dirs.values()) {
    const peer = dirs.get(reverse(d.key))!;
    const receiver = senderType(peer);
    const session = new ZmtpSession({ socketType: receiver });
    const events = d.chunks.flatMap((c) => session.receive(c));
    // Our session's greeting and READY are the bytes libzmq sent as that socket.
    const ours = session.takeOutput()!;
    assert.deepEqual(ours, peer.bytes.subarray(0, ours.length), `${peer.key}: our handshake`);
    out.set(d.key, { sender: senderType(d), events });
  }
  return out;
}

Deno.test("ZMTP capture: sessions complete the handshake as XPUB, XSUB, PUSH and PULL, with libzmq's handshake bytes", async () => {
  const types = new Map<string, number>();
  for (const [key, { sender, events }] of await replay()) {
    assert.equal(events[0]?.type, "ready", key);
    assert.equal(events.filter((e) => e.type === "error").length, 0, key);
    types.set(sender, (types.get(sender) ?? 0) + 1);
  }
  assert.deepEqual(Object.fromEntries([...types].sort()), { PULL: 1, PUSH: 1, XPUB: 4, XSUB: 4 });
});

Deno.test("ZMTP capture: subscriptions in both forms (\\x01topic messages and ZMTP 3.1 SUBSCRIBE)", async () => {
  const subs: string[] = [];
  for (const [key, { events }] of await replay()) {
    for (const e of events) {
      if (e.type !== "subscription") continue;
      const topic = new TextDecoder().decode(e.subscription.topic);
      subs.push(
        `${key.split(">")[1].split(":")[1]} ${e.subscription.subscribe ? "+" : "-"}${topic}`,
      );
    }
  }
  // worker-1's XSUB (to the proxy's XPUB, 29711) subscribes to its node-ID topic, among others.
  assert.ok(subs.includes(`29711 +zeek.cluster.nodeid.${WORKER}.`));
  assert.ok(subs.includes("29711 +zeek.cluster.node.worker-1."));
  // The proxy's XSUB forwards them to the nodes' XPUBs as SUBSCRIBE commands...
  for (
    const topic of [
      "zeek.cluster.manager",
      "zeek.cluster.node.manager.",
      "zeek.cluster.node.worker-1.",
      `zeek.cluster.nodeid.${MANAGER}.`,
      `zeek.cluster.nodeid.${WORKER}.`,
      "zeek.cluster.pool.logger",
      "zeek.cluster.pool.worker",
      "zeek.cluster.worker",
      "zeek/supervisor",
      "zeek/table/",
    ]
  ) assert.ok(subs.some((s) => s.endsWith(` +${topic}`)), topic);
  // ...and, once worker-1 has gone, cancels its topics.
  assert.ok(subs.some((s) => s.endsWith(" -zeek.cluster.node.worker-1.")));
  assert.ok(subs.some((s) => s.endsWith(` -zeek.cluster.nodeid.${WORKER}.`)));
});

Deno.test("ZMTP capture: every event decodes with our Broker codec and re-encodes to the same payload", async () => {
  const seen: string[] = [];
  let logs = 0;
  for (const [key, { events }] of await replay()) {
    for (const e of events) {
      if (e.type !== "message") continue;
      const m: ZeekZmqMessage = parseZeekZmqMessage(e.parts);
      // The four parts come back byte for byte.
      assert.deepEqual(zeekZmqMessageParts(m), e.parts, key);
      if (m.topic === LOG_WRITE_TOPIC) {
        assert.equal(m.format, ZEEK_BIN_SERIALIZER);
        assert.equal(m.sender, WORKER);
        logs++;
        continue; // log batches: the next test
      }
      assert.equal(m.format, BROKER_BIN_V1, key);
      assert.deepEqual(encode(decode(m.payload)), m.payload, `${key}: payload re-encodes`);
      const ev = zeekZmqEvent(m);
      seen.push(`${m.topic} ${m.sender === WORKER ? "worker" : "manager"} ${ev.name}`);
      // Zeek 8 sends events on ZeroMQ without a metadata field.
      assert.equal(ev.metadata, undefined);
      if (ev.name === "Test::ping") {
        assert.equal(
          dataToString(vector(...ev.args)),
          dataToString(vector(
            str("hello"),
            count(42n),
            integer(-7n),
            real(1.5),
            addr("10.0.0.1"),
            subnet("10.0.0.0/8"),
            port(443, "tcp"),
            timestamp(1700000000500000000n),
            timespan(2500000000n),
            vector(count(1n), count(2n), count(3n)),
            set(str("a"), str("b")),
            table([[str("k"), count(9n)]]),
          )),
        );
      }
      if (ev.name === "Test::pong") {
        assert.equal(dataToString(vector(...ev.args)), "(pong for hello, 43)");
      }
      if (ev.name.endsWith("hello")) {
        const [name, id] = ev.args.map(dataToString);
        assert.deepEqual(
          [name, id],
          m.sender === WORKER ? ["worker-1", WORKER] : ["manager", MANAGER],
        );
      }
    }
  }
  // Each event crosses the proxy: once from the sender's XPUB into the proxy (29712), once
  // from the proxy's XPUB to the receiver (29711).
  const once = [
    `zeek.cluster.nodeid.${MANAGER}. worker Cluster::Backend::ZeroMQ::hello`,
    `zeek.cluster.nodeid.${MANAGER}. worker Cluster::hello`,
    "zeek.cluster.manager worker Test::ping",
    `zeek.cluster.nodeid.${WORKER}. manager Cluster::Backend::ZeroMQ::hello`,
    `zeek.cluster.nodeid.${WORKER}. manager Cluster::hello`,
    "zeek.cluster.node.worker-1. manager Test::pong",
  ];
  assert.deepEqual(seen.sort(), [...once, ...once].sort());
  assert.equal(logs, 2, "two log batches on the PUSH socket");
});

Deno.test("ZMTP capture: both log batches worker-1 pushed to the logger decode and re-encode byte for byte", async () => {
  const batches = [];
  for (const { events } of (await replay()).values()) {
    for (const e of events) {
      if (e.type !== "message") continue;
      const m = parseZeekZmqMessage(e.parts);
      if (m.topic !== LOG_WRITE_TOPIC) continue;
      const batch = decodeLogWriteBatch(m.payload);
      assert.deepEqual(encodeLogWriteBatch(batch), m.payload);
      batches.push(batch);
    }
  }
  assert.deepEqual(
    batches.map((b) => `${b.streamName} ${b.writerName} ${b.filterName} ${b.path}`),
    [
      "Cluster::LOG Log::WRITER_ASCII default cluster",
      "Test::LOG Log::WRITER_ASCII default test",
    ],
  );
  const test = batches[1];
  assert.deepEqual(test.fields, [
    { name: "ts", type: ZeekType.time, subtype: 0, optional: false },
    { name: "msg", type: ZeekType.string, subtype: 0, optional: false },
    { name: "n", type: ZeekType.count, subtype: 0, optional: false },
  ]);
  // worker.zeek's Log::write, as manager-test.log shows it.
  assert.deepEqual(test.records.map((r) => r.map((v) => v.value)), [[
    1700000001,
    "a log line",
    5n,
  ]]);
  const [, node, message] = batches[0].records[0].map((v) => v.value);
  assert.deepEqual([node, message], ["worker-1", `got hello from manager (${MANAGER})`]);
});
