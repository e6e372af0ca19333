/**
 * WebSocket JSON API, ours beside the C++ Broker in one run: `broker node`
 * (our CLI, its own process) and `broker-node`, each serving the API on
 * `BROKER_WEB_SOCKET_PORT`, driven by the same clients in this process.
 *
 * - **ingest**: K WebSocket clients publish Zeek `event_2` (conn-log-like)
 *   data messages; a native subscriber (our endpoint, peered over TCP) counts
 *   them.
 * - **fan-out**: a native publisher (our endpoint, peered) publishes the same
 *   events; K WebSocket clients count every one.
 * - With one client at window 1, every message is a round trip through the
 *   node, so that row also shows the runtime floor: the same frames through
 *   a bare Deno TCP relay, one in flight (`runtime_floor.ts`).
 *
 * The clients are minimal RFC 6455 clients that write pre-built masked
 * frames and count received text frames without parsing their JSON, so the
 * node, not the client, is what is measured. Each row also gives the CPU
 * time each node spent per message (user + system, all its threads, from
 * `/proc/<pid>/stat` over the measured part), how many cores that was, its
 * busiest thread's share, and the cores this bench process used meanwhile:
 * if that were near a core, the clients and the publisher here would be the
 * limit, not the node. Both sides keep a window of
 * messages in flight (sent but not yet counted), below the node's buffers,
 * so neither node ever sheds or disconnects: the rate is what it keeps up
 * with. Node order alternates per round; only same-run ratios mean anything
 * on a shared machine.
 *
 * The C++ node runs once per CAF scheduler setting (`caf_settings.ts`), and
 * the fastest of them is the round's C++ figure.
 *
 * Run: `deno task bench:websocket [--n 100000] [--rounds 3] [--clients 1,16]
 * [--only ingest|fanout] [--warm 60000] [--cxx-settings all|default]`.
 *
 * @module
 */
import { cafSettingsFor, CPP_CONFIGS } from "./caf_settings.ts";
import { CLK_TCK, statMinorFaults, statTicks } from "./proc_stat.ts";
import { relayOneInFlight } from "./runtime_floor.ts";
import { dataMessageToJson, Endpoint } from "../mod.ts";
import { numberListOption, numberOption, stringOption } from "./args.ts";
import { connEvent } from "./throughput_events.ts";
import { formatRatio } from "./stats.ts";

const N = numberOption("--n", 100_000, { min: 1 });
const ROUNDS = numberOption("--rounds", 1, { min: 1 });
const CLIENTS = numberListOption("--clients", [1, 16], { min: 1 });
const ONLY = stringOption("--only", "");
/** Messages in flight; the nodes buffer more than this (see startNode). */
const WINDOW = numberOption("--window", 2048, { min: 1 });
/**
 * Fan-out messages sent before the clock starts (default: a quarter of
 * `--n`, at most 20,000). Our node runs its first ~50,000 messages at 2-3x
 * the CPU of later ones (V8 compiles the path while it runs), a fresh C++
 * node has no such phase, so a larger value shows both nodes warm.
 */
const WARM = numberOption("--warm", Math.min(20_000, N >> 2), { min: 0 });
const NODE_BUFFER = WINDOW * 4;
/**
 * CAF scheduler settings the C++ node runs with, each in turn, the fastest
 * kept (`--cxx-settings all`, the default; `default`: CAF's default only).
 * One worker thread fanned out 139-146k msgs/s to one client here, the
 * default 95-107k.
 */
const CXX_SETTINGS = cafSettingsFor(stringOption("--cxx-settings", "all"));
/** Frames per write of an ingesting client (fewer when its window is smaller). */
const BATCH = 64;
/** Messages in flight per ingesting client, one row each. */
const INGEST_WINDOWS = numberListOption("--ingest-windows", [1, 64], { min: 1 });
/** Our CLI (env OURS_CLI: another checkout's, for before/after runs). */
const CLI = Deno.env.get("OURS_CLI") || new URL("../cli/main.ts", import.meta.url).pathname;
const LOCK = new URL("../deno.lock", import.meta.url).pathname;
const CPP_NODE = Deno.env.get("BROKER_NODE") ?? "/work/shared/tools/broker-ref/bin/broker-node";
/** Extra `deno run` flags for our node, e.g. `--cpu-prof` (env OURS_DENO_FLAGS). */
const OURS_FLAGS = (Deno.env.get("OURS_DENO_FLAGS") ?? "").split(" ").filter(Boolean);
/** Which nodes to run (`--kinds ours` while profiling ours). */
const KINDS = stringOption("--kinds", "C++,ours").split(",");
const DEBUG = Deno.env.get("DEBUG") !== undefined;
const IN_TOPIC = "/bench/in", OUT_TOPIC = "/bench/out";

type Kind = "C++" | "ours";

// ------------------------------------------------------------------ workload

/** broker-throughput's event type 2 ("resembles a line in conn.log"), as Zeek frames it. */
const EVENTS = Array.from({ length: 256 }, () => connEvent());

/** A client's text frame: masked with a fresh random key, as RFC 6455 wants. */
function maskedTextFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const out = new Uint8Array(head + 4 + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = 0x80 | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

/** `n` frames of distinct events, concatenated: one write of an ingesting client. */
function ingestBatch(topic: string, offset: number, n: number): Uint8Array {
  const frames = Array.from(
    { length: n },
    (_, i) => maskedTextFrame(dataMessageToJson(topic, EVENTS[(offset + i) & 255])),
  );
  const out = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    out.set(f, at);
    at += f.length;
  }
  return out;
}

// ------------------------------------------------------------------ progress

/** Wakes whoever waits for a count to move. */
class Progress {
  #waiters: (() => void)[] = [];
  wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }
  notify(): void {
    const w = this.#waiters;
    if (w.length === 0) return;
    this.#waiters = [];
    for (const r of w) r();
  }
}

// ------------------------------------------------------------------ client

const DATA_MESSAGE = new TextEncoder().encode('"data-message"');

/** True when `"data-message"` occurs in the first bytes of a frame's payload. */
function isDataMessage(b: Uint8Array, from: number, to: number): boolean {
  const end = Math.min(to, from + 48) - DATA_MESSAGE.length;
  outer: for (let i = from; i <= end; i++) {
    for (let j = 0; j < DATA_MESSAGE.length; j++) {
      if (b[i + j] !== DATA_MESSAGE[j]) continue outer;
    }
    return true;
  }
  return false;
}

/** A minimal WebSocket client: handshake, subscription, counting reader, raw writes. */
class RawClient {
  received = 0;
  errors = 0;
  closed = false;
  #conn: Deno.TcpConn;
  #buf = new Uint8Array(1 << 20);
  #len = 0;
  #progress: Progress;
  #acked!: Promise<void>;

  private constructor(conn: Deno.TcpConn, progress: Progress) {
    this.#conn = conn;
    this.#progress = progress;
  }

  static async connect(port: number, topics: string[], progress: Progress): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    const c = new RawClient(conn, progress);
    const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
    // Header names as RFC 7230 spells them: the C++ server matches them case-sensitively.
    await c.write(
      new TextEncoder().encode(
        `GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    await c.#readHttpResponse();
    let ack!: () => void;
    c.#acked = new Promise((r) => ack = r);
    c.#readLoop(ack);
    await c.write(maskedTextFrame(JSON.stringify(topics)));
    await c.#acked;
    return c;
  }

  async write(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.#conn.write(bytes.subarray(off));
  }

  async #fill(): Promise<void> {
    if (this.#len === this.#buf.length) {
      const bigger = new Uint8Array(this.#buf.length * 2);
      bigger.set(this.#buf);
      this.#buf = bigger;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#len));
    if (n === null) throw new Error("closed");
    this.#len += n;
  }

  async #readHttpResponse(): Promise<void> {
    while (true) {
      await this.#fill();
      const text = new TextDecoder().decode(this.#buf.subarray(0, this.#len));
      const end = text.indexOf("\r\n\r\n");
      if (end < 0) continue;
      if (!text.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${text}`);
      const rest = this.#buf.slice(end + 4, this.#len);
      this.#buf.set(rest);
      this.#len = rest.length;
      return;
    }
  }

  async #readLoop(ack: () => void): Promise<void> {
    let acked = false;
    try {
      while (true) {
        let at = 0;
        const b = this.#buf;
        while (true) {
          if (this.#len - at < 2) break;
          let len = b[at + 1] & 0x7f, off = 2;
          if (len === 126) {
            if (this.#len - at < 4) break;
            len = (b[at + 2] << 8) | b[at + 3];
            off = 4;
          } else if (len === 127) {
            if (this.#len - at < 10) break;
            len = Number(new DataView(b.buffer, at + 2, 8).getBigUint64(0));
            off = 10;
          }
          if (this.#len - at < off + len) break;
          const opcode = b[at] & 0x0f;
          if (opcode === 0x8) {
            if (DEBUG) console.error("close", b.subarray(at + off, at + off + len));
            throw new Error("closed by server");
          }
          if (opcode === 0x1) {
            if (!acked) {
              acked = true;
              ack();
            } else if (isDataMessage(b, at + off, at + off + len)) this.received++;
            else {
              this.errors++;
              if (DEBUG) {
                console.error(new TextDecoder().decode(b.subarray(at + off, at + off + len)));
              }
            }
          }
          at += off + len;
        }
        if (at > 0) {
          b.copyWithin(0, at, this.#len);
          this.#len -= at;
          this.#progress.notify();
        }
        await this.#fill();
      }
    } catch (e) {
      if (DEBUG) console.error("reader:", e);
      this.closed = true;
      this.#progress.notify();
    }
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }
}

// ------------------------------------------------------------------ nodes

interface Node {
  tcpPort: number;
  wsPort: number;
  /** Its process, for its CPU time (none for a node started by hand). */
  pid?: number;
  stop(): Promise<void>;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

async function waitForPort(p: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port: p })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing listens on ${p}`);
}

let config: string | undefined;
function configFile(): string {
  if (config) return config;
  config = Deno.makeTempFileSync({ prefix: "ws-compare-", suffix: ".conf" });
  Deno.writeTextFileSync(config, `broker {\n  web-socket-buffer-size = ${NODE_BUFFER}\n}\n`);
  return config;
}

/**
 * A relay node with the WebSocket API: its own subscription is a topic no
 * one publishes on, so it only routes between peers and WebSocket clients.
 */
async function startNode(kind: Kind, relayTopic: string, caf: string[]): Promise<Node> {
  const external = Deno.env.get("OURS_NODE"); // "tcpPort:wsPort" of a node started by hand
  if (kind === "ours" && external) {
    const [tcpPort, wsPort] = external.split(":").map(Number);
    return { tcpPort, wsPort, stop: () => Promise.resolve() };
  }
  const tcpPort = freePort(), wsPort = freePort();
  const nodeArgs = [
    "--disable-ssl",
    "-m",
    "relay",
    `--topics=${JSON.stringify([relayTopic])}`,
    "-p",
    String(tcpPort),
    `--peer-buffer-size=${NODE_BUFFER}`,
    // broker-node's --web_socket-buffer-size sets a key its core never reads
    // (it reads broker.web-socket-buffer-size): only a config file sets that.
    `--config-file=${configFile()}`,
  ];
  const [cmd, args] = kind === "C++"
    ? [CPP_NODE, [...nodeArgs, ...caf]]
    : [Deno.execPath(), ["run", `--lock=${LOCK}`, "-A", ...OURS_FLAGS, CLI, "node", ...nodeArgs]];
  const child = new Deno.Command(cmd, {
    args,
    env: { BROKER_WEB_SOCKET_PORT: String(wsPort) },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  await waitForPort(tcpPort);
  await waitForPort(wsPort);
  return {
    tcpPort,
    wsPort,
    pid: child.pid,
    async stop() {
      try {
        // SIGINT: our node exits as after Ctrl-C (with OURS_CLI=bench/websocket_profiled_node.ts
        // it writes its --cpu-prof profile first).
        child.kill(kind === "ours" ? "SIGINT" : "SIGTERM");
      } catch {
        // gone
      }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // gone
        }
      }, 3000);
      await child.status;
      clearTimeout(t);
    },
  };
}

// ------------------------------------------------------------------ CPU

/** One thread's ticks, and its ns waiting for a CPU while runnable (/proc/.../schedstat). */
interface ThreadTimes {
  ticks: number;
  waitNs: number;
}

interface CpuSnapshot {
  /** The whole process, threads that ended included. */
  total: number;
  /** Minor page faults of the whole process so far. */
  faults: number;
  /** Per live thread. */
  threads: Map<string, ThreadTimes>;
  at: number;
}

function cpuSnapshot(pid: number): CpuSnapshot {
  const threads = new Map<string, ThreadTimes>();
  for (const t of Deno.readDirSync(`/proc/${pid}/task`)) {
    try {
      const dir = `/proc/${pid}/task/${t.name}`;
      threads.set(t.name, {
        ticks: statTicks(Deno.readTextFileSync(`${dir}/stat`)),
        waitNs: Number(Deno.readTextFileSync(`${dir}/schedstat`).split(" ")[1]),
      });
    } catch {
      // the thread ended meanwhile
    }
  }
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  return {
    total: statTicks(stat),
    faults: statMinorFaults(stat),
    threads,
    at: performance.now(),
  };
}

/** What a node and this bench process used over a measured part. */
interface CpuUse {
  /** The node's CPU µs per message. */
  us: number;
  /** The node's cores (CPU seconds per second). */
  cores: number;
  /** Its busiest thread's cores: near 1 means that thread is the limit. */
  busiest: number;
  /**
   * The share of the time that thread was runnable but waited for a CPU
   * (taken by other processes on the shared cores): busy + waiting near 1
   * means it had work all along.
   */
  busiestWaited: number;
  /** This bench process's cores (publisher or subscriber, and all the clients). */
  bench: number;
  /**
   * The node's minor page faults per 1,000 messages: fresh memory touched
   * (~11 µs a fault on this VM), which reused buffers avoid.
   */
  faults: number;
}

/** Starts measuring `pid` and this process; the result's `stop(messages)` gives the use. */
function cpuMeter(pid: number | undefined): { stop(messages: number): CpuUse | undefined } {
  if (pid === undefined) return { stop: () => undefined };
  const node0 = cpuSnapshot(pid), bench0 = cpuSnapshot(Deno.pid);
  return {
    stop(messages: number): CpuUse {
      const node1 = cpuSnapshot(pid), bench1 = cpuSnapshot(Deno.pid);
      const secs = (node1.at - node0.at) / 1000;
      let busiest = 0, waitedNs = 0;
      for (const [t, now] of node1.threads) {
        const before = node0.threads.get(t) ?? { ticks: 0, waitNs: 0 };
        if (now.ticks - before.ticks <= busiest) continue;
        busiest = now.ticks - before.ticks;
        waitedNs = now.waitNs - before.waitNs;
      }
      const cpuSecs = (node1.total - node0.total) / CLK_TCK;
      return {
        us: cpuSecs * 1e6 / messages,
        cores: cpuSecs / secs,
        busiest: busiest / CLK_TCK / secs,
        busiestWaited: waitedNs / 1e9 / secs,
        bench: (bench1.total - bench0.total) / CLK_TCK / secs,
        faults: (node1.faults - node0.faults) * 1000 / messages,
      };
    },
  };
}

// ------------------------------------------------------------------ cases

/** Thrown when a node cut a client off: reported as such, not as a rate. */
class CutOff extends Error {}

/** A case's rate (msgs/s) and the CPU it took. */
interface Measured {
  rate: number;
  cpu?: CpuUse;
}

/**
 * WebSocket clients publish; a native subscriber counts. Each client keeps
 * at most `window` of its messages in flight (published on its own topic, so
 * the subscriber can tell whose arrived). The rate is msgs/s in total, the
 * CPU per message received.
 */
async function ingest(
  kind: Kind,
  clients: number,
  window: number,
  caf: string[],
): Promise<Measured> {
  const node = await startNode(kind, "/bench/relay", caf);
  const ep = new Endpoint();
  const progress = new Progress();
  const cs: RawClient[] = [];
  try {
    const sub = ep.subscribe(IN_TOPIC, { queueSize: 1 << 20 });
    await ep.peer("127.0.0.1", node.tcpPort, { retryMs: 0 });
    for (let i = 0; i < clients; i++) {
      cs.push(await RawClient.connect(node.wsPort, [], progress));
    }
    const topics = cs.map((_, i) => `${IN_TOPIC}/${i}`);
    const received = new Array<number>(clients).fill(0);
    let total = 0;
    const counting = (async () => {
      while (true) {
        const m = await sub.getEncoded();
        if (!m) return;
        for (const x of [m, ...sub.pollEncoded()]) {
          // Topics are "/bench/in/<client>".
          received[Number(x.topic.slice(IN_TOPIC.length + 1))]++;
          total++;
        }
        progress.notify();
      }
    })();
    const batch = Math.min(window, BATCH);
    const batches = topics.map((t, i) => ingestBatch(t, i * BATCH, batch));
    const sent = new Array<number>(clients).fill(0);
    // Until the node routes our subscription, what clients publish goes nowhere.
    while (received[0] === 0) {
      await cs[0].write(batches[0].subarray(0, frameLen(batches[0])));
      sent[0]++;
      await new Promise((r) => setTimeout(r, 20));
    }
    await new Promise((r) => setTimeout(r, 100));
    sent[0] = received[0];
    const run = async (perClient: number) => {
      const loop = async (i: number) => {
        const c = cs[i], target = sent[i] + perClient;
        while (sent[i] < target) {
          while (sent[i] - received[i] + batch > window) {
            if (c.closed) throw new CutOff(`cut off after ${total} messages`);
            await progress.wait();
          }
          sent[i] += batch;
          await c.write(batches[i]);
        }
        while (received[i] < sent[i]) {
          const moved = await Promise.race([
            progress.wait().then(() => true),
            new Promise((r) => setTimeout(() => r(false), 10_000)),
          ]);
          if (c.closed) throw new CutOff(`cut off after ${total} messages`);
          if (!moved) throw new Error(`${kind}: ${sent[i] - received[i]} messages never arrived`);
        }
      };
      await Promise.all(cs.map((_, i) => loop(i)));
    };
    // Warm-up (JIT on our side, buffers on both), then the measured part.
    const per = Math.ceil(N / clients / batch) * batch;
    await run(Math.ceil(per / 4 / batch) * batch);
    const start = total, t0 = performance.now();
    const meter = cpuMeter(node.pid);
    await run(per);
    const rate = (total - start) / ((performance.now() - t0) / 1000);
    const cpu = meter.stop(total - start);
    const errors = cs.reduce((n, c) => n + c.errors, 0);
    if (errors) throw new Error(`${kind}: the node answered ${errors} errors`);
    sub.close();
    await counting;
    return { rate, cpu };
  } finally {
    for (const c of cs) c.close();
    await ep.shutdown();
    await node.stop();
  }
}

/** Length of the first frame in a run of client frames. */
function frameLen(b: Uint8Array): number {
  const len = b[1] & 0x7f;
  if (len < 126) return 2 + 4 + len;
  if (len === 126) return 4 + 4 + ((b[2] << 8) | b[3]);
  return 10 + 4 + Number(new DataView(b.buffer, b.byteOffset + 2, 8).getBigUint64(0));
}

/**
 * A native publisher publishes; K WebSocket clients count. The rate is msgs/s
 * per client, the CPU per message published (each goes to K clients).
 */
async function fanout(kind: Kind, clients: number, caf: string[]): Promise<Measured> {
  const node = await startNode(kind, OUT_TOPIC, caf);
  const ep = new Endpoint({ peerBufferSize: 1 << 16 });
  const progress = new Progress();
  const cs: RawClient[] = [];
  try {
    for (let i = 0; i < clients; i++) {
      cs.push(await RawClient.connect(node.wsPort, [OUT_TOPIC], progress));
    }
    await ep.peer("127.0.0.1", node.tcpPort, { retryMs: 0 });
    await ep.awaitPeerSubscription(OUT_TOPIC);
    const slowest = () => {
      let m = Infinity;
      for (const c of cs) {
        if (c.closed) throw new Error(`${kind}: the node closed a client`);
        if (c.received < m) m = c.received;
      }
      return m;
    };
    let published = 0;
    const run = async (target: number) => {
      while (published < target) {
        while (published - slowest() >= WINDOW) {
          const moved = await Promise.race([
            progress.wait().then(() => true),
            new Promise((r) => setTimeout(() => r(false), 2000)),
          ]);
          if (!moved && DEBUG) console.error("stalled", published, cs.map((c) => c.received));
        }
        if (ep.demand(OUT_TOPIC) <= 0) {
          if (DEBUG) console.error("no demand", published);
          await ep.ready(OUT_TOPIC);
        }
        ep.publish(OUT_TOPIC, EVENTS[published & 255]);
        published++;
      }
      while (slowest() < target) {
        const moved = await Promise.race([
          progress.wait().then(() => true),
          new Promise((r) => setTimeout(() => r(false), 10_000)),
        ]);
        if (!moved) throw new Error(`${kind}: ${target - slowest()} messages never arrived`);
      }
    };
    // The first messages may beat the node's routes to the clients: warm up first.
    await run(WARM);
    const start = published, t0 = performance.now();
    const meter = cpuMeter(node.pid);
    await run(start + N);
    const secs = (performance.now() - t0) / 1000;
    const cpu = meter.stop(N);
    const errors = cs.reduce((n, c) => n + c.errors, 0);
    if (errors) throw new Error(`${kind}: the node sent ${errors} errors`);
    return { rate: N / secs, cpu };
  } finally {
    for (const c of cs) c.close();
    await ep.shutdown();
    await node.stop();
  }
}

// ------------------------------------------------------------------ main

interface Row {
  name: string;
  /** One measurement; `caf`: the C++ node's CAF setting (ignored for ours). */
  run: (kind: Kind, caf: string[]) => Promise<Measured>;
  /**
   * One message in flight in all (one client, window 1): each is a round
   * trip, so the row also gets the runtime floor for one (`runtime_floor.ts`).
   */
  oneInFlight?: boolean;
}

/** Bytes of one ingest frame (the client's masked frame of `event_2`'s JSON). */
const FRAME_BYTES = ingestBatch(`${IN_TOPIC}/0`, 0, 1).length;
/** The runtime floor's rates, one per one-in-flight row and round. */
const floors: number[] = [];

const rows: Row[] = [];
if (ONLY !== "fanout") {
  for (const w of INGEST_WINDOWS) {
    for (const k of CLIENTS) {
      rows.push({
        name: `ingest: ${k} client${k > 1 ? "s" : ""} (window ${w} each) -> native subscriber`,
        run: (kind, caf) => ingest(kind, k, w, caf),
        oneInFlight: k === 1 && w === 1,
      });
    }
  }
}
if (ONLY !== "ingest") {
  for (const k of CLIENTS) {
    rows.push({
      name: `fan-out: native publisher -> ${k} client${k > 1 ? "s" : ""} (msgs/s each)`,
      run: (kind, caf) => fanout(kind, k, caf),
    });
  }
}

/** A measurement, or why there is none. */
type Result = Measured | string;
const k = (r: number) => `${Math.round(r / 100) / 10}k`;
const show = (r: Result) => typeof r === "string" ? r : k(r.rate);
const showUs = (r: Result) => typeof r === "string" || !r.cpu ? "-" : r.cpu.us.toFixed(1);
const showUse = (r: Result) =>
  typeof r === "string" || !r.cpu
    ? "-"
    : `${k(r.rate)} msgs/s, ${r.cpu.us.toFixed(1)} µs/msg (${r.cpu.cores.toFixed(2)} cores, ` +
      `busiest thread ${r.cpu.busiest.toFixed(2)}, waited for a CPU ${
        r.cpu.busiestWaited.toFixed(2)
      }; ${r.cpu.faults.toFixed(1)} page faults per 1,000; bench ${r.cpu.bench.toFixed(2)} cores)`;

console.log(
  `WebSocket API, event_2 (${dataMessageToJson(IN_TOPIC, EVENTS[0]).length} B of JSON), ` +
    `${N} messages per case, fan-out window ${WINDOW} after ${WARM} unmeasured, ${ROUNDS} round(s)`,
);
const results = new Map<string, { cpp: Result[]; ours: Result[] }>();
for (let r = 0; r < ROUNDS; r++) {
  for (const row of rows) {
    const order: Kind[] = r % 2 === 0 ? ["C++", "ours"] : ["ours", "C++"];
    const got: Record<Kind, Result> = { "C++": "not run", ours: "not run" };
    const settings: string[] = [];
    for (const kind of order) {
      if (!KINDS.includes(kind)) continue;
      // C++: once per CAF scheduler setting, the fastest kept (ours: once).
      for (const caf of kind === "C++" ? CXX_SETTINGS : [CPP_CONFIGS[0]]) {
        let one: Result;
        try {
          one = await row.run(kind, caf.args);
        } catch (e) {
          if (!(e instanceof CutOff)) throw e;
          one = e.message;
        }
        if (kind === "C++") settings.push(`${caf.label} ${show(one)}`);
        const best = got[kind];
        if (typeof best === "string" || (typeof one !== "string" && one.rate > best.rate)) {
          got[kind] = one;
        }
      }
    }
    const e = results.get(row.name) ?? { cpp: [], ours: [] };
    e.cpp.push(got["C++"]);
    e.ours.push(got.ours);
    results.set(row.name, e);
    console.log(`round ${r + 1}: ${row.name}: ${ratio(got.ours, got["C++"])}`);
    console.log(`  C++:  ${showUse(got["C++"])}, its fastest CAF setting (${settings.join(", ")})`);
    console.log(`  ours: ${showUse(got.ours)}`);
    if (row.oneInFlight) {
      const f = await relayOneInFlight(N, FRAME_BYTES, N >> 2);
      floors.push(f.rate);
      console.log(
        `  runtime floor (a bare Deno TCP relay, ${FRAME_BYTES} B, one in flight): ` +
          `${k(f.rate)} msgs/s, the relay's CPU ${f.cpuUs.toFixed(1)} µs/msg`,
      );
    }
  }
}

function ratio(ours: Result, cpp: Result): string {
  return typeof ours !== "string" && typeof cpp !== "string"
    ? formatRatio(ours.rate / cpp.rate)
    : "-";
}

/** C++'s CPU per message over ours: how many times less CPU ours took for one. */
function cpuRatio(ours: Result, cpp: Result): string {
  return typeof ours !== "string" && typeof cpp !== "string" && ours.cpu && cpp.cpu
    ? formatRatio(cpp.cpu.us / ours.cpu.us)
    : "-";
}

console.log(
  "\n| case | C++ msgs/s | ours msgs/s | ours / C++ | C++ µs/msg | ours µs/msg | C++ / ours CPU per msg |",
);
console.log("| --- | --- | --- | --- | --- | --- | --- |");
for (const [name, e] of results) {
  console.log(
    `| ${name} | ${e.cpp.map(show).join(", ")} | ${e.ours.map(show).join(", ")} | ${
      e.ours.map((o, i) => ratio(o, e.cpp[i])).join(", ")
    } | ${e.cpp.map(showUs).join(", ")} | ${e.ours.map(showUs).join(", ")} | ${
      e.ours.map((o, i) => cpuRatio(o, e.cpp[i])).join(", ")
    } |`,
  );
}
if (floors.length) {
  console.log(
    `\nOne message in flight through a bare Deno TCP relay (the runtime floor for the ` +
      `one-client window-1 row): ${floors.map(k).join(", ")} msgs/s.`,
  );
}
if (config) Deno.removeSync(config);
