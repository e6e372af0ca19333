/**
 * A client of Broker's WebSocket JSON API that runs anywhere a standard
 * `WebSocket` exists (Deno, browsers): no Deno-only API here. It subscribes
 * with its first message, waits for the ack, and re-connects and
 * re-subscribes when the connection drops.
 *
 * @module
 */
import type { Data } from "../data/types.ts";
import { dataMessageToJson, type JsonMessage, readJsonMessage } from "../data/json.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { BoundedQueue } from "../queue.ts";
import { dataMessageOf, WEB_SOCKET_PATH } from "./protocol.ts";
import { timerDelay } from "../timer_delay.ts";

/** The parts of the standard `WebSocket` the client uses. */
export interface SocketLike {
  /** 1 while open, as `WebSocket.OPEN`. */
  readyState: number;
  /** Called once the socket is open. */
  onopen: ((ev: Event) => void) | null;
  /** Called with each text message. */
  onmessage: ((ev: MessageEvent) => void) | null;
  /** Called when the socket fails. */
  onerror: ((ev: Event) => void) | null;
  /** Called once the socket closed. */
  onclose: ((ev: Event) => void) | null;
  /** Sends one text message. */
  send(text: string): void;
  /** Closes the socket. */
  close(): void;
}

/** Options of `connectWebSocket`. */
export interface WebSocketClientOptions {
  /**
   * Makes the socket. In Deno, pass `tcpWebSocket`
   * (engine/websocket/tcp_socket.ts) to reach the C++ Broker's server,
   * which refuses the lowercase header names Deno's built-in sends.
   * @default the standard `WebSocket`
   */
  createSocket?: (url: string) => SocketLike;
  /**
   * Re-connect after a drop, waiting this many ms (0: never).
   * @default 1000 (`DEFAULT_RECONNECT_MS`)
   */
  reconnectMs?: number;
  /**
   * Messages held for the reader before the oldest are dropped.
   * @default 4096 (`DEFAULT_CLIENT_QUEUE_SIZE`)
   */
  queueSize?: number;
  /**
   * How long to wait for the ack, in ms.
   * @default 10_000 (`DEFAULT_ACK_TIMEOUT_MS`)
   */
  ackTimeoutMs?: number;
}

/** How long a `WebSocketClient` waits before it re-connects after a drop, in ms. */
export const DEFAULT_RECONNECT_MS = 1000;
/** Messages a `WebSocketClient` holds for its reader before dropping the oldest. */
export const DEFAULT_CLIENT_QUEUE_SIZE = 4096;
/** How long a `WebSocketClient` waits for the server's ack, in ms. */
export const DEFAULT_ACK_TIMEOUT_MS = 10_000;

/** Server errors a `WebSocketClient` keeps for `takeErrors` (the latest; older ones are dropped). */
export const MAX_KEPT_SERVER_ERRORS = 1024;

/** An error message the server sent. */
export interface ServerError {
  /** Broker's error code name, e.g. `deserialization_failed`. */
  code: string;
  /** What the server said about it. */
  context: string;
}

/** A data message received. */
export interface WebSocketMessage {
  /** The topic it was published on. */
  topic: string;
  /** Its value. */
  data: Data;
}

/**
 * A WebSocket API session.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectWebSocket, count, dataToString, Endpoint } from "../../mod.ts";
 * const ep = new Endpoint(); // a server to talk to (Zeek's works the same)
 * const server = await ep.listenWebSocket("127.0.0.1", 0);
 * const seen = ep.subscribe(["/zeek/"]);
 * const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/zeek/"]);
 * client.publish("/zeek/x", count(1n));
 * equal(dataToString((await seen.get())!.data), "1");
 * client.close();
 * await server.close();
 * await ep.shutdown();
 * ```
 */
export class WebSocketClient implements AsyncIterable<WebSocketMessage> {
  readonly #url: string;
  readonly #topics: string[];
  readonly #opts: Required<Omit<WebSocketClientOptions, "createSocket">>;
  readonly #createSocket: (url: string) => SocketLike;
  readonly #queue: BoundedQueue<WebSocketMessage>;
  readonly #errors: ServerError[] = [];
  #ws?: SocketLike;
  /** The re-connect waiting to start: one at a time. */
  #retry?: ReturnType<typeof setTimeout>;
  #closed = false;
  #acked?: () => void;
  /** Endpoint ID the server reported in its last ack. */
  endpoint?: string;
  /** Version the server reported in its last ack. */
  version?: string;
  /** How many times the session was (re-)established. */
  sessions = 0;

  /** A client for `url` subscribing to `topics`; `connect()` opens it. */
  constructor(url: string, topics: string[], options: WebSocketClientOptions = {}) {
    const u = new URL(url);
    if (u.pathname === "/" || u.pathname === "") u.pathname = WEB_SOCKET_PATH;
    this.#url = u.toString();
    this.#topics = topics.slice();
    this.#opts = {
      reconnectMs: options.reconnectMs ?? DEFAULT_RECONNECT_MS,
      queueSize: options.queueSize ?? DEFAULT_CLIENT_QUEUE_SIZE,
      ackTimeoutMs: options.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS,
    };
    this.#queue = new BoundedQueue(this.#opts.queueSize, "drop_oldest");
    this.#createSocket = options.createSocket ?? ((u) => new WebSocket(u) as unknown as SocketLike);
  }

  /** Opens the session; resolves after the ack. */
  connect(): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        ws.close();
        reject(new BrokerError(ErrorCode.connection_timeout, `no ack from ${this.#url}`));
      }, timerDelay(this.#opts.ackTimeoutMs));
      const ws = this.#createSocket(this.#url);
      this.#ws = ws;
      this.#acked = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve();
      };
      ws.onopen = () => ws.send(JSON.stringify(this.#topics));
      ws.onmessage = (ev) => this.#onMessage(String(ev.data));
      ws.onerror = () => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        reject(new BrokerError(ErrorCode.peer_unavailable, `cannot connect to ${this.#url}`));
      };
      const errorsBefore = this.#errors.length;
      ws.onclose = () => {
        clearTimeout(timer);
        if (!settled) {
          settled = true;
          // A server that refuses the session may say why first (Zeek's: an
          // `invalid_uri` error for a wrong path): the caller gets no client to ask.
          const why = this.#errors.slice(errorsBefore).at(-1);
          reject(
            new BrokerError(
              ErrorCode.peer_unavailable,
              `${this.#url} closed the session` + (why ? ` (${why.code}: ${why.context})` : ""),
            ),
          );
        }
        this.#reconnect();
      };
    });
  }

  #reconnect(): void {
    if (this.#closed || this.#opts.reconnectMs <= 0 || this.sessions === 0) return;
    // A failed attempt asks twice (its connect rejects, its socket closes):
    // one re-connect, or attempts doubled every reconnectMs.
    if (this.#retry !== undefined) return;
    this.#retry = setTimeout(() => {
      this.#retry = undefined;
      if (this.#closed) return;
      this.connect().catch(() => this.#reconnect());
    }, timerDelay(this.#opts.reconnectMs));
  }

  #onMessage(text: string): void {
    // One parse with Broker's JSON rules: JSON.parse would round 64-bit
    // integers and refuse Broker's bare nan/inf.
    let parsed: JsonMessage;
    try {
      parsed = readJsonMessage(text);
    } catch (e) {
      this.#error("deserialization_failed", String(e));
      return;
    }
    const msg = parsed.fields ?? {};
    switch (msg.type) {
      case "ack":
        this.endpoint = String(msg.endpoint);
        this.version = String(msg.version);
        this.sessions++;
        this.#acked?.();
        return;
      case "error":
        this.#error(String(msg.code), String(msg.context));
        return;
      case "data-message":
        try {
          this.#queue.push(dataMessageOf(parsed, true));
        } catch (e) {
          this.#error("deserialization_failed", String(e));
        }
        return;
    }
  }

  /** Keeps a server error for `takeErrors`, the latest `MAX_KEPT_SERVER_ERRORS` only. */
  #error(code: string, context: string): void {
    if (this.#errors.push({ code, context }) > MAX_KEPT_SERVER_ERRORS) this.#errors.shift();
  }

  /** Publishes a value on a topic through the server. */
  publish(topic: string, data: Data): void {
    if (!this.#ws || this.#ws.readyState !== 1) {
      throw new BrokerError(ErrorCode.peer_unavailable, "the WebSocket session is not open");
    }
    this.#ws.send(dataMessageToJson(topic, data));
  }

  /** Sends raw text (for tests of the server's error handling). */
  sendRaw(text: string): void {
    this.#ws?.send(text);
  }

  /** The next data message (undefined after `timeoutMs` or once closed). */
  get(timeoutMs?: number): Promise<WebSocketMessage | undefined> {
    return this.#queue.get(timeoutMs);
  }

  /** Error messages the server sent so far, the latest `MAX_KEPT_SERVER_ERRORS` (taken out). */
  takeErrors(): ServerError[] {
    return this.#errors.splice(0);
  }

  /** Messages until closed. */
  [Symbol.asyncIterator](): AsyncIterator<WebSocketMessage> {
    return this.#queue[Symbol.asyncIterator]();
  }

  /** Ends the session for good. */
  close(): void {
    this.#closed = true;
    clearTimeout(this.#retry);
    this.#retry = undefined;
    this.#ws?.close();
    this.#queue.close();
  }
}

/**
 * Connects to a WebSocket API endpoint (`ws://host:port`, the path defaults to
 * Broker's) with a subscription list; resolves after the server's ack.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectWebSocket, Endpoint } from "../../mod.ts";
 * const ep = new Endpoint();
 * const server = await ep.listenWebSocket("127.0.0.1", 0);
 * const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/topic"]);
 * equal(client.takeErrors().length, 0); // acked, subscribed, no error
 * client.close();
 * await server.close();
 * await ep.shutdown();
 * ```
 */
export async function connectWebSocket(
  url: string,
  topics: string[],
  options?: WebSocketClientOptions,
): Promise<WebSocketClient> {
  const client = new WebSocketClient(url, topics, options);
  await client.connect();
  return client;
}
