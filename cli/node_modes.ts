/**
 * `broker node`'s modes: the ping, pong and stop messages broker-node
 * exchanges, and the ping, pong and relay loops over a small endpoint port.
 *
 * @module
 */
import process from "node:process";
import { count, type Data, encode, str, vector } from "../mod.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { warmUpReaders } from "../engine/warm_up.ts";

import {
  formatPingSummary,
  formatTimespan,
  formatTopicList,
  type NodeMessage,
  NodePrinter,
  type NodeStatusEvent,
} from "./node_output.ts";
import type { NodeOptions } from "./node_options.ts";

export type { NodeMessage };

/**
 * broker-node's ping: `("ping", id, "xxx…")` with `payloadSize` bytes of `x`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { makePing } from "./node_command.ts";
 * import { dataToString } from "../mod.ts";
 * equal(dataToString(makePing(1, 3)), "(ping, 1, xxx)");
 * ```
 */
export function makePing(id: number | bigint, payloadSize: number): Data {
  return vector(str("ping"), count(BigInt(id)), str("x".repeat(payloadSize)));
}

/**
 * broker-node's pong: `("pong", id)`.
 *
 * @example
 * ```ts
 * import { makePong } from "./node_command.ts";
 * makePong(7);
 * ```
 */
export function makePong(id: number | bigint): Data {
  return vector(str("pong"), count(BigInt(id)));
}

/**
 * broker-node's stop message: the plain string `stop`. It ends relay and pong mode.
 *
 * @example
 * ```ts
 * import { makeStop } from "./node_command.ts";
 * makeStop(); // str("stop")
 * ```
 */
export function makeStop(): Data {
  return str("stop");
}

/**
 * The id of a ping (`("ping", count, string)`), else undefined.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { makePing, pingId } from "./node_command.ts";
 * equal(pingId(makePing(4, 0)), 4n);
 * ```
 */
export function pingId(x: Data): bigint | undefined {
  if (x.type !== "vector" || x.value.length !== 3) return undefined;
  const [tag, id, payload] = x.value;
  if (tag.type !== "string" || tag.value !== "ping" || id.type !== "count") return undefined;
  return payload.type === "string" ? id.value : undefined;
}

/**
 * The id of a pong (`("pong", count)`), else undefined.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { makePong, pongId } from "./node_command.ts";
 * equal(pongId(makePong(4)), 4n);
 * ```
 */
export function pongId(x: Data): bigint | undefined {
  if (x.type !== "vector" || x.value.length !== 2) return undefined;
  const [tag, id] = x.value;
  return tag.type === "string" && tag.value === "pong" && id.type === "count"
    ? id.value
    : undefined;
}

/**
 * Whether `x` is the stop message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isStop, makeStop } from "./node_command.ts";
 * equal(isStop(makeStop()), true);
 * ```
 */
export function isStop(x: Data): boolean {
  return x.type === "string" && x.value === "stop";
}

const STOP_BYTES = encode(makeStop()).slice();

/** `isStop` of a value still encoded: its bytes are the stop message's. */
function isStopBytes(b: Uint8Array): boolean {
  if (b.length !== STOP_BYTES.length) return false;
  for (let i = 0; i < b.length; i++) if (b[i] !== STOP_BYTES[i]) return false;
  return true;
}

/** The part of a subscriber the modes use. */
export interface NodeSubscriber extends AsyncIterable<NodeMessage> {
  /** Next message; undefined (or null) after `timeoutMs` or once closed. */
  get(timeoutMs?: number): Promise<NodeMessage | undefined | null>;
  /** Stops receiving. */
  close(): void;
}

/** The part of an endpoint the modes use (an `Endpoint`, or a fake in tests). */
export interface NodeEndpoint {
  /** Receives the topics. */
  subscribe(topics: string[]): NodeSubscriber;
  /** Hands each message on the topics, encoded, to a callback (an `Endpoint`'s `subscribeWith`). */
  subscribeWith?(
    topics: string[],
    onMessage: (topic: string, payload: Uint8Array) => void,
  ): { close(): void; readonly done: Promise<void> };
  /** Sends a value to the peers. */
  publish(topic: string, data: Data): void;
}

/** A data store the node holds (a `Store`); the node only closes it. */
export interface NodeStore {
  /** Detaches the store. */
  close(): void;
}

/** Everything `runNode` needs from an endpoint. */
export interface NodeHost extends NodeEndpoint {
  /** Puts topics in the filter peers get, before any subscriber (Broker's `endpoint::forward`). */
  advertise?(topics: readonly string[]): void;
  /** Accepts peers on host:port. */
  listen(host: string, port: number): Promise<number>;
  /** Dials a peer. */
  peer(host: string, port: number, options?: { retryMs?: number }): Promise<void>;
  /** Status and error events. */
  statusSubscriber(options?: { statuses?: boolean }): AsyncIterable<NodeStatusEvent>;
  /** Serves Broker's WebSocket API on host:port (Broker's `broker.web-socket.*`). */
  listenWebSocket?(host: string, port: number, options?: { bufferSize?: number }): Promise<unknown>;
  /** Serves `/metrics`, `/v1/status/json` and `/` on host:port (Broker's `broker.metrics.*`). */
  listenMetrics?(host: string, port: number): Promise<number>;
  /** Attaches a master with the in-memory backend (may throw a `BrokerError`). */
  attachMaster(name: string): NodeStore;
  /** Attaches a clone of a store. */
  attachClone(name: string): NodeStore;
  /** Closes everything. */
  shutdown(): Promise<void>;
}

/** Nanoseconds from a monotonic clock. */
export type NanoClock = () => bigint;

const hrtimeNs: NanoClock = () => process.hrtime.bigint();

/**
 * Ping mode: rendezvous by repeating ping 0 until pong 0 arrives, then send
 * `numMessages` pings of `payloadSize` bytes one at a time on the first
 * topic, printing each round-trip time in ns, then `AVG:` (verbose).
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, pingMode } from "./node_command.ts";
 * async function measure(ep: Endpoint): Promise<number> {
 *   const opts = { numMessages: 5, payloadSize: 10, rendezvousRetryMs: 250 };
 *   return await pingMode(ep, ["/t"], opts, new NodePrinter({ verbose: false }));
 * }
 * ```
 */
export async function pingMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  opts: Pick<NodeOptions, "numMessages" | "payloadSize" | "rendezvousRetryMs"> & {
    warmUp?: number;
    summary?: boolean;
  },
  p: NodePrinter,
  clock: NanoClock = hrtimeNs,
): Promise<number> {
  const topic = topics[0];
  p.verbose(`send pings to topic ${topic}`);
  if (opts.numMessages === 0) {
    p.err("send no pings: n = 0");
    return 0;
  }
  const sub = ep.subscribe([topic]);
  try {
    // Ping 0 is not measured: it only tells us that the pong side is up.
    ep.publish(topic, makePing(0, 0));
    for (;;) {
      const m = await sub.get(opts.rendezvousRetryMs);
      if (m == null) {
        ep.publish(topic, makePing(0, 0));
        continue;
      }
      p.data(m);
      if (pongId(m.data) === 0n) break;
    }
    // Both sides compile their hot paths during the first few thousand
    // messages; unmeasured round trips (ping 0 is never measured) move that
    // out of the figures.
    for (let w = 0; w < (opts.warmUp ?? 0); w++) {
      ep.publish(topic, makePing(0, opts.payloadSize));
      for (;;) {
        const m = await sub.get();
        if (m == null) {
          throw new BrokerError(ErrorCode.shutting_down, "subscriber closed in warm-up");
        }
        p.data(m);
        if (pongId(m.data) === 0n) break;
      }
    }
    let total = 0n;
    const rtts: bigint[] = [];
    for (let i = 1; i <= opts.numMessages; i++) {
      const t0 = clock();
      ep.publish(topic, makePing(i, opts.payloadSize));
      for (;;) {
        const m = await sub.get();
        if (m == null) {
          throw new BrokerError(ErrorCode.shutting_down, `no pong ${i}: subscriber closed`);
        }
        p.data(m);
        if (pongId(m.data) === BigInt(i)) break;
      }
      const rtt = clock() - t0;
      total += rtt;
      if (opts.summary) rtts.push(rtt);
      p.out(String(rtt));
    }
    p.verbose(`AVG: ${formatTimespan(total / BigInt(opts.numMessages))}`);
    if (opts.summary) p.out(formatPingSummary(rtts));
    return 0;
  } finally {
    sub.close();
  }
}

/**
 * Pong mode: answer each ping with a pong of the same id on the topic it came
 * on, until a stop message arrives.
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, pongMode } from "./node_command.ts";
 * async function serve(ep: Endpoint): Promise<number> {
 *   return await pongMode(ep, ["/t"], new NodePrinter({ verbose: true }));
 * }
 * ```
 */
export async function pongMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  p: NodePrinter,
): Promise<number> {
  p.verbose(`receive pings from topics ${formatTopicList(topics)}`);
  const sub = ep.subscribe([...topics]);
  try {
    for await (const m of sub) {
      p.data(m);
      const id = pingId(m.data);
      if (id !== undefined) {
        p.verbose(`received ping ${id}`);
        ep.publish(m.topic, makePong(id));
      } else if (isStop(m.data)) {
        p.verbose("received stop");
        break;
      }
    }
    return 0;
  } finally {
    sub.close();
  }
}

/**
 * Relay mode: subscribe (so that peers route the topics through us) and
 * report pings, pongs and the stop message that ends it; with `rate`, print
 * the number of messages of each second as `N/s`.
 *
 * @example
 * ```ts
 * import { Endpoint } from "../mod.ts";
 * import { NodePrinter, relayMode } from "./node_command.ts";
 * async function relay(ep: Endpoint): Promise<number> {
 *   return await relayMode(ep, ["/t"], { rate: true }, new NodePrinter({ verbose: true }));
 * }
 * ```
 */
export async function relayMode(
  ep: NodeEndpoint,
  topics: readonly string[],
  opts: { rate: boolean },
  p: NodePrinter,
): Promise<number> {
  p.verbose("relay messages");
  if (!p.verboseEnabled && ep.subscribeWith) {
    // Nothing is printed, so only a stop matters: each message is looked at
    // where it arrives, with no value built, no queue and no copy (a relay
    // passing WebSocket traffic spent 10-20% of its CPU decoding messages it
    // then dropped, and a third of the rest queueing and copying them).
    let stopped!: () => void;
    const stop = new Promise<void>((resolve) => stopped = resolve);
    const sub = ep.subscribeWith([...topics], (_topic, payload) => {
      if (isStopBytes(payload)) stopped();
    });
    try {
      await Promise.race([stop, sub.done]);
    } finally {
      sub.close();
    }
    return 0;
  }
  const sub = ep.subscribe([...topics]);
  let received = 0;
  const timer = p.verboseEnabled && opts.rate
    ? setInterval(() => {
      p.verbose(`${received}/s`);
      received = 0;
    }, 1000)
    : undefined;
  try {
    for await (const m of sub) {
      p.data(m);
      const ping = pingId(m.data);
      const pong = ping === undefined ? pongId(m.data) : undefined;
      if (ping !== undefined) p.verbose(`received ping ${ping}`);
      else if (pong !== undefined) p.verbose(`received pong ${pong}`);
      else if (isStop(m.data)) {
        p.verbose("received stop");
        break;
      }
      received++;
    }
    return 0;
  } finally {
    clearInterval(timer);
    sub.close();
  }
}

/**
 * Round trips of the ping and pong loops a node makes in memory before it
 * starts: fewer than over loopback (`MODE_LOOPBACK_WARM_UP_ROUND_TRIPS`).
 * Why: part of what V8 optimises in memory is thrown away once the loops
 * run over a socket (another kind of stream), so the loopback round trips
 * are what a node's real peering finds compiled. In 10 runs each, in turn
 * (ours to ours, 2,000 pings of 300 bytes, 2 shared cores), 1,000 here and
 * 2,000 over loopback against the 2,500 and 500 before: the first 500
 * pings' p99 had a median of 216 µs against 257, a run had 5.5 pings over
 * 500 µs against 8 (medians), and a node started 31 ms later.
 */
export const MODE_WARM_UP_ROUND_TRIPS = 1000;
/**
 * Rounds of `warmUpReaders` after each run of the loops' round trips (the
 * in-memory and the loopback ones): with both, the text reader and the
 * small-value validator reach V8's top tier before a node's first real
 * ping. They took 1.6–2.1 ms each here.
 */
export const MODE_WARM_UP_READER_ROUNDS = 700;

/**
 * Idle ms after those round trips: V8 compiles hot functions on background
 * threads, and jobs the warm-up started would otherwise compete with the
 * first real messages for the CPU.
 */
export const MODE_WARM_UP_SETTLE_MS = 100;

/**
 * Round trips of the ping and pong loops over a loopback TCP peering, after
 * the in-memory ones (`warmUpModesOverLoopback`; see `MODE_WARM_UP_ROUND_TRIPS`).
 */
export const MODE_LOOPBACK_WARM_UP_ROUND_TRIPS = 2000;

/**
 * Runs `warmUpModes` once more, between two endpoints made by `make` and
 * peered over a real TCP connection on 127.0.0.1, then shuts them down.
 * Resolves with the round trips made; 0, doing nothing, when the process
 * may not listen on 127.0.0.1 (it never prompts for the permission) or the
 * peering fails.
 *
 * Why: the in-memory warm-up's stream is not a socket, so the transport's
 * read and write loops over Deno's TCP operations were still compiled
 * during a node's first real pings. In 8 alternating pairs of runs against
 * the build before, the p99 of the first 500 of 2,000 pings (ours to ours,
 * 300 bytes) had a median of 504 µs against 836, its worst 882 against
 * 1,818.
 *
 * @example
 * ```ts ignore
 * import { Endpoint } from "../mod.ts";
 * import { warmUpModesOverLoopback } from "./node_modes.ts";
 * await warmUpModesOverLoopback(() => new Endpoint({ warmUp: false }), { payloadSize: 300 });
 * ```
 */
export async function warmUpModesOverLoopback(
  make: () => LoopbackWarmUpEndpoint,
  opts: Pick<NodeOptions, "payloadSize">,
  roundTrips = MODE_LOOPBACK_WARM_UP_ROUND_TRIPS,
  settleMs = MODE_WARM_UP_SETTLE_MS,
): Promise<number> {
  if (Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state !== "granted") return 0;
  const [pinger, ponger] = [make(), make()];
  try {
    const port = await ponger.listen("127.0.0.1", 0);
    await pinger.peer("127.0.0.1", port, { retryMs: 0 });
    return await warmUpModes(pinger, ponger, opts, roundTrips, settleMs);
  } catch {
    return 0; // a warm-up that failed only cost its time
  } finally {
    await Promise.all([pinger.shutdown(), ponger.shutdown()]);
  }
}

/** What `warmUpModesOverLoopback` needs of an endpoint (an `Endpoint`). */
export type LoopbackWarmUpEndpoint =
  & NodeEndpoint
  & Pick<NodeHost, "listen" | "peer" | "shutdown">
  & { awaitPeerSubscription(topic: string): Promise<void> };

/**
 * Runs the ping and pong loops against each other over two endpoints that
 * are peered in memory (the process's start-up warm-up, see
 * `engine/warm_up.ts`), printing nothing: V8 then compiles these loops, the
 * messages they build and parse, and the engine's paths under them before
 * the node's first real message rather than during its first thousand.
 * Resolves with the round trips made.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "../mod.ts";
 * import { warmUp } from "../engine/warm_up.ts";
 * import { warmUpModes } from "./node_modes.ts";
 * const report = await warmUp((id) => new Endpoint({ id, warmUp: false }), {
 *   messages: 0,
 *   then: (a, b) => warmUpModes(a, b, { payloadSize: 300 }, 20, 0),
 * });
 * equal(report.messages, 30); // 10 at the other size, 20 at its own
 * ```
 */
export async function warmUpModes(
  pinger: NodeEndpoint & { awaitPeerSubscription(topic: string): Promise<void> },
  ponger: NodeEndpoint,
  opts: Pick<NodeOptions, "payloadSize">,
  roundTrips = MODE_WARM_UP_ROUND_TRIPS,
  settleMs = MODE_WARM_UP_SETTLE_MS,
): Promise<number> {
  if (roundTrips <= 0) return 0;
  const silent = new NodePrinter({ verbose: false, write: () => {} });
  const topic = "/warm-up/node";
  const pong = pongMode(ponger, [topic], silent);
  // Ping 0 would be lost until the pinger knows the ponger's subscription.
  await pinger.awaitPeerSubscription(topic);
  let made = 0;
  for (const [payloadSize, share] of warmUpPayloads(opts.payloadSize)) {
    const numMessages = Math.max(1, Math.round(roundTrips * share));
    await pingMode(pinger, [topic], { numMessages, payloadSize, rendezvousRetryMs: 50 }, silent);
    made += numMessages;
  }
  pinger.publish(topic, makeStop());
  // The stop ends the pong loop; should it be lost, the endpoints' shutdown
  // after the warm-up ends it too, so this never holds a node's start.
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([pong, new Promise((r) => timer = setTimeout(r, 1000))]);
  clearTimeout(timer);
  // The codec's readers, past the tier the round trips left them at.
  warmUpReaders(
    [...warmUpPayloads(opts.payloadSize).map(([size]) => makePing(0, size)), makePong(0)],
    MODE_WARM_UP_READER_ROUNDS,
  );
  if (settleMs > 0) await new Promise((r) => setTimeout(r, settleMs));
  return made;
}

/**
 * Ping sizes a node warms its loops with, and each one's share of the
 * round trips: half as many at the other size first, then all at its own
 * `-s`. Why: a pong node never knows the size of the pings it will answer
 * (its own `-s` is usually 0), and a 300-byte ping takes other paths than
 * a small one: WASM validation (over 64 bytes) and `TextDecoder` for its
 * text (over 64 bytes). Warmed with small pings only, a pong compiled
 * those paths during the first real pings, a dozen compilations there.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { warmUpPayloads } from "./node_modes.ts";
 * deepEqual(warmUpPayloads(0), [[300, 0.5], [0, 1]]);
 * deepEqual(warmUpPayloads(1000), [[0, 0.5], [1000, 1]]);
 * ```
 */
export function warmUpPayloads(own: number): [size: number, share: number][] {
  const other = own > WARM_UP_LARGE_PING / 2 ? 0 : WARM_UP_LARGE_PING;
  return [[other, 0.5], [own, 1]];
}

/** A ping past the small-value paths: about a Zeek event's size. */
const WARM_UP_LARGE_PING = 300;
