/**
 * The receiving side of `bench/peering.ts`, run as its own Deno process so
 * that a benchmark measures two processes talking over loopback TCP (as Zeek
 * nodes do) rather than one event loop talking to itself.
 *
 * It subscribes, then listens (`--listen PORT`, 0 picks one) or peers
 * (`--peer HOST:PORT`), and prints on stdout:
 *
 * - `READY <port>` once it is subscribed and reachable (port 0 when peering);
 * - `TICK <ms> <count>` every `--tick-ms`, counting from the first message;
 * - `CPU <ms>` just before DONE: this process's CPU time (user + system)
 *   from the first message on, so the cost per message can be compared
 *   when the machine's load makes rates swing;
 * - `DONE <count> <ms>` at the end (ms: of the last message counted), after
 *   `--seconds` from the first message, or
 *   after `--idle-ms` without a message (the peer stopped or dropped us),
 *   or after `--wait-ms` if nothing ever arrived (`DONE 0 0`).
 *
 * By default every message is read through a subscriber, which decodes it: a
 * real consumer reads its values, so decoding is part of the cost measured.
 * `--consumer count` counts each message in a callback subscription
 * (`subscribeWith`) and reads no value, as `broker-throughput --server` does
 * (Broker's `endpoint::subscribe(filter, init, on_next, cleanup)`, whose
 * `on_next` only counts).
 *
 * @example
 * ```sh
 * deno run -A bench/peering_receiver.ts --listen 0 --topic /bench --seconds 3
 * ```
 *
 * @module
 */
import type { SslOptions } from "../engine/transport/tls.ts";
import { Endpoint } from "../mod.ts";
import process from "node:process";

/** Options of the receiver, as parsed from its command line. */
export interface ReceiverOptions {
  listen?: number;
  peer?: { host: string; port: number };
  topics: string[];
  seconds: number;
  tickMs: number;
  idleMs: number;
  waitMs: number;
  queueSize: number;
  /** TLS with `node.pem`, `node.key` and `ca.pem` from this directory. */
  sslDir?: string;
  /** TLS in Broker's anonymous mode (`--anon-tls 1`). */
  anonTls?: boolean;
  /** Serve /metrics on this port (0: any), printed as `METRICS <port>` before READY. */
  metricsPort?: number;
  /** `decode` (default): a subscriber whose messages are read as values; `count`: a counting callback. */
  consumer: "decode" | "count";
}

/**
 * Parses `--name value` pairs into receiver options.
 *
 * @example
 * ```ts
 * import { parseReceiverArgs } from "./peering_receiver.ts";
 * parseReceiverArgs(["--listen", "0", "--topic", "/bench"]).topics; // ["/bench"]
 * ```
 */
export function parseReceiverArgs(args: string[]): ReceiverOptions {
  const o: ReceiverOptions = {
    topics: [],
    seconds: 3,
    tickMs: 250,
    idleMs: 2000,
    waitMs: 15_000,
    queueSize: 4096,
    consumer: "decode",
  };
  for (let i = 0; i < args.length; i += 2) {
    const [k, v] = [args[i], args[i + 1]];
    if (v === undefined) throw new Error(`missing value for ${k}`);
    switch (k) {
      case "--listen":
        o.listen = Number(v);
        break;
      case "--peer": {
        const [host, port] = v.split(":");
        o.peer = { host, port: Number(port) };
        break;
      }
      case "--topic":
        o.topics.push(v);
        break;
      case "--ssl-dir":
        o.sslDir = v;
        break;
      case "--anon-tls":
        o.anonTls = v === "1";
        break;
      case "--seconds":
        o.seconds = Number(v);
        break;
      case "--tick-ms":
        o.tickMs = Number(v);
        break;
      case "--idle-ms":
        o.idleMs = Number(v);
        break;
      case "--wait-ms":
        o.waitMs = Number(v);
        break;
      case "--queue-size":
        o.queueSize = Number(v);
        break;
      case "--metrics-port":
        o.metricsPort = Number(v);
        break;
      case "--consumer":
        if (v !== "decode" && v !== "count") {
          throw new Error(`--consumer: decode or count, not ${v}`);
        }
        o.consumer = v;
        break;
      default:
        throw new Error(`unknown option ${k}`);
    }
  }
  if (o.topics.length === 0) throw new Error("no --topic given");
  if ((o.listen === undefined) === (o.peer === undefined)) {
    throw new Error("give exactly one of --listen PORT or --peer HOST:PORT");
  }
  return o;
}

const encoder = new TextEncoder();

/** CPU time of this process so far (user + system), in ms. */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Synchronous, so TICK and DONE lines never interleave or wait behind the receive loop. */
function say(line: string): void {
  let bytes = encoder.encode(line + "\n");
  while (bytes.length > 0) bytes = bytes.subarray(Deno.stdout.writeSync(bytes));
}

/**
 * Runs the receiver until done; returns the number of messages it read.
 *
 * @example
 * ```ts ignore
 * import { parseReceiverArgs, runReceiver } from "./peering_receiver.ts";
 * await runReceiver(parseReceiverArgs(["--listen", "0", "--topic", "/bench"]));
 * ```
 */
export async function runReceiver(o: ReceiverOptions): Promise<number> {
  const ep = new Endpoint({
    ...(o.sslDir ? tlsOptions(o.sslDir) : o.anonTls ? { disableSsl: false } : {}),
    ...(o.metricsPort !== undefined ? { metricsPort: o.metricsPort } : {}),
  });
  if (ep.metricsReady) say(`METRICS ${await ep.metricsReady}`);
  // Subscribing first puts the topics into the handshake's filter, so the
  // sender can publish as soon as the peering is up.
  if (o.consumer === "count") return await countReceiver(ep, o);
  const sub = ep.subscribe(o.topics, { queueSize: o.queueSize });
  say(`READY ${await reachable(ep, o)}`);

  const firstMsg = await sub.get(o.waitMs);
  if (firstMsg === undefined) {
    say("DONE 0 0");
    return 0;
  }
  const first = performance.now();
  const cpu0 = cpuMs();
  let n = 1;
  let lastAt = first;
  // Ticks are taken in the loop, not by setInterval: while bytes keep coming,
  // the read loop runs on resolved promises and timers wait (see the bench's report).
  let nextTick = first + o.tickMs;
  const end = first + o.seconds * 1000;
  for (;;) {
    const now = performance.now();
    if (now >= nextTick) {
      say(`TICK ${(now - first).toFixed(1)} ${n}`);
      nextTick = now + o.tickMs;
    }
    if (now >= end || now - lastAt >= o.idleMs) break;
    // get() only arms a timer when the queue is empty, so the hot path has none.
    const wait = Math.min(end - now, o.idleMs - (now - lastAt), nextTick - now);
    const m = await sub.get(Math.max(1, wait));
    if (m === undefined) {
      if (sub.closed) break;
      continue;
    }
    n += 1 + sub.poll().length;
    lastAt = performance.now();
  }
  sayDone(n, first, Math.min(lastAt, end), cpu0);
  return n;
}

/** The last two lines: CPU ms since the first message, then the count and the ms of the last one. */
function sayDone(n: number, first: number, last: number, cpu0: number): void {
  say(`CPU ${(cpuMs() - cpu0).toFixed(1)}`);
  say(`DONE ${n} ${(last - first).toFixed(1)}`);
}

/** Listens or peers as told; the port listened on (0 when peering). */
async function reachable(ep: Endpoint, o: ReceiverOptions): Promise<number> {
  if (o.listen !== undefined) return await ep.listen("127.0.0.1", o.listen);
  await ep.peer(o.peer!.host, o.peer!.port, { retryMs: 0 });
  return 0;
}

/**
 * `--consumer count`: each message only counted where it arrives. Ticks and
 * the end are checked every few ms by a timer (the endpoint's read loop
 * yields to timers every 10 ms), so `DONE`'s time of the last message is
 * known to within that.
 */
async function countReceiver(ep: Endpoint, o: ReceiverOptions): Promise<number> {
  let n = 0, first = 0, cpu0 = 0;
  let firstSeen!: () => void;
  const arrived = new Promise<void>((resolve) => firstSeen = resolve);
  const sub = ep.subscribeWith(o.topics, () => {
    if (n++ === 0) {
      first = performance.now();
      cpu0 = cpuMs();
      firstSeen();
    }
  });
  say(`READY ${await reachable(ep, o)}`);
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    arrived,
    sub.done,
    new Promise((resolve) => timer = setTimeout(resolve, o.waitMs)),
  ]);
  clearTimeout(timer);
  if (n === 0) {
    say("DONE 0 0");
    return 0;
  }
  let seen = n, lastAt = first, nextTick = first + o.tickMs;
  const end = first + o.seconds * 1000;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, 2));
    const now = performance.now();
    if (n !== seen) {
      seen = n;
      lastAt = now;
    }
    if (now >= nextTick) {
      say(`TICK ${(now - first).toFixed(1)} ${n}`);
      nextTick = now + o.tickMs;
    }
    if (now >= end || now - lastAt >= o.idleMs || sub.closed) break;
  }
  sayDone(n, first, Math.min(lastAt, end), cpu0);
  return n;
}

if (import.meta.main) {
  try {
    await runReceiver(parseReceiverArgs(Deno.args));
  } catch (e) {
    console.error(`peering_receiver: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
  // No graceful shutdown: the BYE handshake would only add time the caller waits for.
  Deno.exit(0);
}

/**
 * Endpoint options for TLS with the certificates in `dir` (`node.pem`,
 * `node.key`, `ca.pem`, as in fixtures/tls).
 *
 * @example
 * ```ts ignore
 * const ep = new Endpoint(tlsOptions("fixtures/tls"));
 * ```
 */
export function tlsOptions(dir: string): { disableSsl: false; ssl: SslOptions } {
  return {
    disableSsl: false,
    ssl: { certificate: `${dir}/node.pem`, key: `${dir}/node.key`, cafile: `${dir}/ca.pem` },
  };
}
