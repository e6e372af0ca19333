// The data model's forms against the reference C++ Broker, live: values we
// encode, as broker-node's WebSocket API writes them in JSON and broker-pipe
// prints them in text; and JSON broker-node reads, as the binary it forwards.
import assert from "node:assert/strict";
import {
  addr,
  count,
  type Data,
  dataFromJson,
  dataToJson,
  dataToString,
  decode,
  encode,
  Endpoint,
  enumValue,
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
} from "../mod.ts";
import { tcpWebSocket } from "../engine/websocket/tcp_socket.ts";
import type { SocketLike } from "../engine/websocket/client.ts";
import { freePort, RefProcess, waitForPort } from "./broker_ref.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };
const TOPIC = "/forms";
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const unhex = (s: string) => Uint8Array.from(s.match(/../g)!, (x) => parseInt(x, 16));

/** A WebSocket session with broker-node. */
interface Session {
  socket: SocketLike;
  /** The next text received (an error after 10 s of nothing). */
  next(): Promise<string>;
  /** Texts received and not yet taken. */
  texts: string[];
}

/** A WebSocket session with broker-node that keeps every text it receives. */
async function session(port: number): Promise<Session> {
  const texts: string[] = [];
  let wake = () => {};
  const socket = tcpWebSocket(`ws://127.0.0.1:${port}/v1/messages/json`);
  socket.onmessage = (ev) => {
    texts.push(String(ev.data));
    wake();
  };
  await new Promise<void>((resolve, reject) => {
    socket.onopen = () => resolve();
    socket.onerror = () => reject(new Error("WebSocket to broker-node failed"));
  });
  socket.send(JSON.stringify([TOPIC]));
  const next = async (): Promise<string> => {
    const deadline = Date.now() + 10_000;
    while (texts.length === 0) {
      if (Date.now() > deadline) throw new Error("nothing from broker-node's WebSocket API");
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 100);
      });
    }
    return texts.shift()!;
  };
  assert.match(await next(), /"type":"ack"/);
  return { socket, next, texts };
}

/** Values whose forms differ in details: every one goes out as bytes we encode. */
function edgeValues(): Uint8Array[] {
  const values: Data[] = [
    // Addresses: v4-mapped, IPv4-compatible (hex in CAF's form), zero runs.
    ...["::ffff:1.2.3.4", "::1.2.3.4", "::0.0.1.2", "::fffe:1.2.3.4", "64:ff9b::1.2.3.4"].map(addr),
    ...["1:0:0:1:0:0:0:1", "1:0:0:0:1:0:0:1", "0:0:1:0:0:1:0:0", "::", "::1", "1::"].map(addr),
    subnet("::1.2.3.0/120"),
    subnet("1.2.3.0/24"),
    // Reals: printf's %f, the infinities, NaN, -0, a subnormal as CAF's pack754 writes it.
    ...[1e300, -1e-7, 0.5e-6, 123.4565, 1e22, 1e23, -0, NaN, Infinity, -Infinity, 1e-310]
      .map(real),
    count((1n << 64n) - 1n),
    integer(-(1n << 63n)),
    ...[0n, -1n, -999_999_999n, -1_000_000_001n, -(1n << 63n), (1n << 63n) - 1n]
      .flatMap((ns) => [timestamp(ns), timespan(ns)]),
    timespan(60_000_000_000n),
    timespan(-1000n),
    port(0, "unknown"),
    port(65535, "icmp"),
    str('\x00\x01\x07\x08\t\v\f\x1b\x1f\x7f"\\/é\u2028\u{1F600}'),
    enumValue(""),
    set(),
    table([]),
    vector(set(), table([]), vector()),
    set(str("b"), str("a"), str(""), str("B")),
    table([[integer(-1n), integer(1n)], [integer(-2n), integer(2n)]]),
  ];
  const payloads = values.map((v) => encode(v));
  // Subnets as a peer may send them: an IPv4 network's raw length below 96 or
  // above 128, unmasked, an IPv6 length above 128.
  for (const [v4, raw] of [["00000000", "10"], ["01020304", "81"], ["01020304", "68"]]) {
    payloads.push(unhex(`07${"00".repeat(10)}ffff${v4}${raw}`));
  }
  payloads.push(unhex("0700000000000000000000000000000000c8"));
  return payloads;
}

/** A C++ broker-node relaying TOPIC, with its Broker port `bp` and WebSocket port `wp`. */
function relayNode(): { node: RefProcess; bp: number; wp: number } {
  const bp = freePort(), wp = freePort();
  const node = new RefProcess(
    "broker-node",
    ["--disable-ssl", "-m", "relay", `--topics=["${TOPIC}"]`, "-p", String(bp)],
    false,
    { BROKER_WEB_SOCKET_PORT: String(wp) },
  );
  return { node, bp, wp };
}

/** broker-pipe subscribed to the test's topic through the node's Broker port. */
function pipeSubscriber(bp: number): RefProcess {
  return new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "subscribe",
    "-t",
    TOPIC,
    "-p",
    `["127.0.0.1:${bp}"]`,
  ]);
}

Deno.test(
  "our encoded values: broker-node writes our JSON, broker-pipe prints our text",
  opts,
  async () => {
    const { node, bp, wp } = relayNode();
    let pipe: RefProcess | undefined;
    const ep = new Endpoint();
    let ws: Session | undefined;
    try {
      await Promise.all([waitForPort(bp), waitForPort(wp)]);
      await ep.peer("127.0.0.1", bp);
      pipe = pipeSubscriber(bp);
      ws = await session(wp);
      // Probes until both listeners have one: their subscriptions take effect a while after.
      const probe = encode(str("probe"));
      for (let i = 0;; i++) {
        ep.publishEncoded(TOPIC, probe);
        await new Promise((r) => setTimeout(r, 100));
        if (ws.texts.length > 0 && pipe.lines.some((l) => l.includes("probe"))) break;
        if (i > 100) throw new Error(`probes not seen: ${ws.texts.length} / ${pipe.lines}`);
      }
      // A last marker: what follows it on each connection is ours alone, no late probe.
      ep.publishEncoded(TOPIC, encode(str("sync")));
      while (!(await ws.next()).includes('"sync"'));
      await pipe.waitFor((l) => l.includes("sync"));
      // broker-pipe prints each message on a line of its own (stdout and stderr share `lines`).
      const isData = (l: string) => l.startsWith(`data(${TOPIC}, `);
      const seen = pipe.lines.slice(0, pipe.lines.findIndex((l) => l.includes("sync")) + 1)
        .filter(isData).length;
      const payloads = edgeValues();
      for (const payload of payloads) {
        const v = decode(payload);
        ep.publishEncoded(TOPIC, payload);
        const json: string = await ws.next();
        assert.equal(json, `{"type":"data-message","topic":"${TOPIC}",${dataToJson(v).slice(1)}`);
      }
      const lines = await pipe.waitFor(isData, seen + payloads.length);
      const printed = lines.slice(seen, seen + payloads.length);
      assert.deepEqual(
        printed,
        payloads.map((p) => `data(${TOPIC}, ${dataToString(decode(p))})`),
      );
    } finally {
      ws?.socket.close();
      await ep.shutdown();
      await pipe?.stop();
      await node.stop();
    }
  },
);

Deno.test(
  "JSON broker-node reads: the binary it forwards is what dataFromJson reads",
  opts,
  async () => {
    const { node, bp, wp } = relayNode();
    const ep = new Endpoint();
    const sub = ep.subscribe([TOPIC]);
    let ws: Session | undefined;
    try {
      await Promise.all([waitForPort(bp), waitForPort(wp)]);
      await ep.peer("127.0.0.1", bp);
      ws = await session(wp);
      const c = (n: number) => `{"@data-type":"count","data":${n}}`;
      const values = [
        // A repeated key: the first counts.
        `"@data-type":"count","data":1,"@data-type":"integer"`,
        `"@data-type":"count","data":1,"data":2`,
        `"@data-type":"table","data":[{"key":${c(1)},"key":${c(5)},"value":${c(2)},"value":${
          c(7)
        }}]`,
        // Timespans with a fraction or an exponent.
        ...["1.5s", ".5s", "-1.5s", "1e3ns", "1.5E3ns", "1e-3s", "2.5ns", "1.5min", " 1s"]
          .map((t) => `"@data-type":"timespan","data":"${t}"`),
        // Timespans Broker's double rounds, or takes past int64 to INT64_MIN.
        ...["67292.89351862s", "123456789.123456789s", "9223372036854775807ns", "1e19ns"]
          .map((t) => `"@data-type":"timespan","data":"${t}"`),
        `"@data-type":"address","data":"::1.2.3.4"`,
        `"@data-type":"subnet","data":"::ffff:1.2.3.4/24"`,
        `"@data-type":"timestamp","data":"1969-12-31T23:59:59.999"`,
        `"@data-type":"timestamp","data":"2023-11-14T22:13:20.123456789+01:00"`,
        // Forms Broker's own parsers read their way: CAF's real arithmetic, its
        // surrogate escapes, convert()'s ports and subnets, CAF's octal year.
        ...["0.21672980046384815", "-941989543.432770", "1.7976931348623157e308", "153e-27"]
          .map((x) => `"@data-type":"real","data":${x}`),
        ...[String.raw`a\udc00b`, String.raw`\ud800\ud800`]
          .map((x) => `"@data-type":"string","data":"${x}"`),
        ...["80", "80/TCP", "-1/tcp", " 80/tcp"].map((x) => `"@data-type":"port","data":"${x}"`),
        ...["::ffff:10.0.0.0/104", "10.0.0.0/ 8"].map((x) => `"@data-type":"subnet","data":"${x}"`),
        `"@data-type":"timestamp","data":"03747-11-14T22:13:20."`,
      ];
      for (const members of values) {
        ws.socket.send(`{"type":"data-message","topic":"${TOPIC}",${members}}`);
        const m = await sub.get(10_000);
        assert.ok(m, `broker-node forwarded nothing for ${members}; it said ${ws.texts}`);
        assert.equal(hex(encode(m.data)), hex(encode(dataFromJson(`{${members}}`))), members);
      }
    } finally {
      ws?.socket.close();
      await ep.shutdown();
      await node.stop();
    }
  },
);

Deno.test(
  "a NaN beside another real in a set or among table keys: broker-pipe gets the set Broker would hold",
  opts,
  async () => {
    const { node, bp } = relayNode();
    let pipe: RefProcess | undefined;
    const ep = new Endpoint();
    try {
      await waitForPort(bp);
      await ep.peer("127.0.0.1", bp);
      pipe = pipeSubscriber(bp);
      for (let i = 0; !pipe.lines.some((l) => l.includes("probe")); i++) {
        if (i > 100) throw new Error(`probes not seen: ${pipe.lines}`);
        ep.publish(TOPIC, str("probe"));
        await new Promise((r) => setTimeout(r, 100));
      }
      ep.publish(TOPIC, str("sync"));
      await pipe.waitFor((l) => l.includes("sync"));
      const from = pipe.lines.length;
      // Broker's std::set takes NaN and any real for one element and keeps the
      // first inserted; its decoder drops a message holding both.
      const values = [
        set(real(NaN), real(1)),
        set(real(1), real(2), real(NaN)),
        table([[real(NaN), count(2n)], [real(1), count(1n)]]),
        vector(set(real(1), real(NaN), str("a"))),
        str("last"),
      ];
      for (const v of values) ep.publish(TOPIC, v);
      await pipe.waitFor((l) => l === `data(${TOPIC}, last)`);
      assert.deepEqual(pipe.lines.slice(from).filter((l) => l.startsWith("data(")), [
        `data(${TOPIC}, {nan})`,
        `data(${TOPIC}, {1.000000, 2.000000})`,
        `data(${TOPIC}, {nan -> 2})`,
        `data(${TOPIC}, ({1.000000, a}))`,
        `data(${TOPIC}, last)`,
      ]);
    } finally {
      await ep.shutdown();
      await pipe?.stop();
      await node.stop();
    }
  },
);
