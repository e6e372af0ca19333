/**
 * The WebSocket part of the start-up warm-up (`engine/warm_up.ts`): one of
 * the two private endpoints the warm-up peers in memory serves the
 * WebSocket API on a loopback port, a client of ours subscribes there, the
 * other endpoint publishes Zeek events that reach the client as JSON
 * (fan-out), and the client publishes JSON that reaches the other endpoint
 * (ingest). The server, its sessions, the JSON writer and reader and the
 * WebSocket framing are then compiled before a process's first real
 * client. Only 127.0.0.1 is used; the server and the client are closed
 * before it resolves.
 *
 * Why: V8 interprets new code and compiles it only after it has run a
 * while, in several tiers. A `broker node` serving the WebSocket API spent
 * 5.0-5.5 µs of CPU per fan-out message over its first 10,000-40,000
 * messages to one client, 3.0 µs once past 60,000 (`deno task
 * bench:websocket --only fanout --warm N`).
 *
 * @module
 */
import { Conditions } from "../conditions.ts";
import { dataMessageToJson } from "../data/json_write.ts";
import type { Data } from "../data/types.ts";
import { warmUpConnEvent } from "../warm_up.ts";
import { WEB_SOCKET_PATH } from "./protocol.ts";
import { tcpWebSocket } from "./tcp_socket.ts";

/** What the WebSocket warm-up needs of the endpoint that serves (an `Endpoint`). */
export interface WarmUpWebSocketServerEndpoint {
  /** Serves the WebSocket API; resolves with the server once it listens. */
  listenWebSocket(host: string, port: number): Promise<{ port: number; close(): Promise<void> }>;
}

/** What the WebSocket warm-up needs of the endpoint that publishes and subscribes (an `Endpoint`). */
export interface WarmUpWebSocketPeerEndpoint {
  /** Sends a value to the peers. */
  publish(topic: string, data: Data): void;
  /** Resolves once a peer's filter matches `topic`. */
  awaitPeerSubscription(topic: string, timeoutMs?: number): Promise<void>;
  /** Hands each message on the topics, encoded, to a callback. */
  subscribeWith(
    topics: string[],
    onMessage: (topic: string, payload: Uint8Array) => void,
  ): { close(): void };
}

/** How long the WebSocket warm-up runs. */
export interface WebSocketWarmUpOptions {
  /** Messages each way (default `DEFAULT_WEB_SOCKET_WARM_UP_MESSAGES`). */
  messages?: number;
  /** Stop sending once this many ms have passed, each way (default `DEFAULT_WEB_SOCKET_WARM_UP_BUDGET_MS`). */
  budgetMs?: number;
}

/** Default bound on the messages each way. */
export const DEFAULT_WEB_SOCKET_WARM_UP_MESSAGES = 20_000;
/** Default bound on each way's time, ms (connecting and draining come on top). */
export const DEFAULT_WEB_SOCKET_WARM_UP_BUDGET_MS = 60;

const FAN_OUT_TOPIC = "/warm-up/websocket/out";
const INGEST_TOPIC = "/warm-up/websocket/in";
/** Messages in flight: a client's queue holds more (512 by default). */
const WINDOW = 256;

/**
 * Runs the fan-out and then the ingest traffic between `a` (peered with
 * `b`) and a WebSocket client of `b`; resolves with the messages that
 * arrived. Resolves with 0, doing nothing, when the process may not use
 * 127.0.0.1 (it never prompts for the permission); rejects when the
 * traffic stalls for a second.
 *
 * @example
 * ```ts ignore
 * import { warmUp } from "../warm_up.ts";
 * import { Endpoint } from "../endpoint.ts";
 * import { warmUpWebSocketTraffic } from "./warm_up_websocket.ts";
 * await warmUp((id) => new Endpoint({ id, warmUp: false }), {
 *   messages: 0,
 *   then: (a, b) => warmUpWebSocketTraffic(a, b, { messages: 100, budgetMs: 60_000 }),
 * });
 * ```
 */
export async function warmUpWebSocketTraffic(
  a: WarmUpWebSocketPeerEndpoint,
  b: WarmUpWebSocketServerEndpoint,
  options: WebSocketWarmUpOptions = {},
): Promise<number> {
  if (Deno.permissions.querySync({ name: "net", host: "127.0.0.1" }).state !== "granted") return 0;
  const limit = options.messages ?? DEFAULT_WEB_SOCKET_WARM_UP_MESSAGES;
  const budgetMs = options.budgetMs ?? DEFAULT_WEB_SOCKET_WARM_UP_BUDGET_MS;
  const server = await b.listenWebSocket("127.0.0.1", 0);
  // Counts what the client receives (`received`) and what it sends that reaches `a`
  // (`arrived`); a wait gives up after a second without the count it waits for.
  const waits = new Conditions();
  let received = 0, arrived = 0, closed = false;
  const until = async (done: () => boolean) => {
    await waits.until(() => closed || done(), STALL_MS, () => "WebSocket warm-up: traffic stalled");
    if (closed) throw new Error("WebSocket warm-up: the connection closed");
  };
  const ingest = a.subscribeWith([INGEST_TOPIC], () => (arrived++, waits.changed()));
  const socket = tcpWebSocket(`ws://127.0.0.1:${server.port}${WEB_SOCKET_PATH}`);
  try {
    socket.onmessage = () => (received++, waits.changed());
    socket.onclose = () => (closed = true, waits.changed());
    await new Promise<void>((resolve, reject) => {
      socket.onopen = () => resolve();
      socket.onerror = () => reject(new Error("WebSocket warm-up: cannot connect"));
    });
    socket.send(JSON.stringify([FAN_OUT_TOPIC]));
    await until(() => received >= 1); // the ack
    await a.awaitPeerSubscription(FAN_OUT_TOPIC, 1000);
    const values = Array.from({ length: 64 }, (_, i) => warmUpConnEvent(i));
    // Fan-out: the client's subscription at `b`, fed from `a` over the peering.
    let sent = 0;
    const t0 = performance.now();
    while (sent < limit && performance.now() - t0 < budgetMs) {
      const n = Math.min(WINDOW / 4, limit - sent);
      for (let k = 0; k < n; k++, sent++) a.publish(FAN_OUT_TOPIC, values[sent & 63]);
      await until(() => received >= 1 + sent - WINDOW);
    }
    await until(() => received >= 1 + sent);
    // Ingest: the client's JSON, published by `b` to `a`.
    const texts = values.map((v) => dataMessageToJson(INGEST_TOPIC, v));
    let published = 0;
    const t1 = performance.now();
    while (published < limit && performance.now() - t1 < budgetMs) {
      const n = Math.min(WINDOW / 4, limit - published);
      for (let k = 0; k < n; k++, published++) socket.send(texts[published & 63]);
      await until(() => arrived >= published - WINDOW);
    }
    await until(() => arrived >= published);
    return sent + published;
  } finally {
    socket.onclose = null;
    socket.close();
    ingest.close();
    await server.close();
  }
}

/** How long the traffic may stall before the warm-up gives up, ms. */
const STALL_MS = 1000;
