/**
 * Broker's WebSocket JSON API served from an endpoint, on `Deno.serve`:
 * the client's first message is a JSON array of topic prefixes, the server
 * answers with an ack, then data messages flow both ways as JSON. Bad input
 * gets an error message with Broker's codes and the session goes on.
 *
 * Policy for clients that cannot keep up (Broker: 512 messages, then
 * disconnect): each client has a queue of `bufferSize` messages; when it
 * overflows, the client gets an error message and is disconnected. Clients
 * that publish faster than the peers take their messages are limited by the
 * endpoint's per-peer buffers (the peer overflow policy applies).
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { Data } from "../data/mod.ts";
import { dataMessageToJson } from "../data/json.ts";
import type { Subscriber } from "../subscriber.ts";
import { ackText, errorText, readDataMessage, WEB_SOCKET_PATH } from "./protocol.ts";

/** What the server needs from its endpoint. */
export interface WebSocketHost {
  /** The endpoint ID the ack names. */
  readonly id: string;
  /** Subscribes for a client. */
  subscribe(
    topics: string[],
    options: { queueSize: number; overflowPolicy: "drop_newest" },
  ): Subscriber;
  /** Publishes a client's message (also to the other clients). */
  publish(topic: string, data: Data, options: { local: true; except: Subscriber }): void;
}

/** Options of `Endpoint.listenWebSocket`. */
export interface WebSocketServerOptions {
  /** Messages queued per client before it is disconnected. Default 512, as Broker. */
  bufferSize?: number;
  /** Largest text message accepted from a client, in bytes. Default 1 MiB. */
  maxMessageSize?: number;
}

/**
 * A running WebSocket API server.
 *
 * @example
 * ```ts ignore
 * const server = await endpoint.listenWebSocket("127.0.0.1", 0);
 * console.log(`ws://127.0.0.1:${server.port}/v1/messages/json`);
 * await server.close();
 * ```
 */
export class WebSocketServer {
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #sessions = new Set<() => void>();
  /** The bound port. */
  readonly port: number;

  /** Made by `Endpoint.listenWebSocket`. */
  constructor(
    host: WebSocketHost,
    hostname: string,
    port: number,
    options: WebSocketServerOptions = {},
  ) {
    const bufferSize = options.bufferSize ?? 512;
    const maxSize = options.maxMessageSize ?? 1 << 20;
    let resolvePort!: (p: number) => void;
    const bound = new Promise<number>((r) => resolvePort = r);
    this.#server = Deno.serve({
      hostname,
      port,
      onListen: (addr) => resolvePort(addr.port),
    }, (req) => {
      const url = new URL(req.url);
      if (url.pathname !== WEB_SOCKET_PATH) {
        return new Response(`unknown path; the WebSocket API is at ${WEB_SOCKET_PATH}\n`, {
          status: 400,
        });
      }
      // Header names are matched case-insensitively by Deno (Broker's server did not).
      if (req.headers.get("upgrade")?.toLowerCase() !== "websocket") {
        return new Response("expected a WebSocket upgrade\n", { status: 400 });
      }
      const { socket, response } = Deno.upgradeWebSocket(req);
      this.#session(host, socket, bufferSize, maxSize);
      return response;
    });
    this.port = port;
    this.ready = bound.then((p) => {
      (this as { port: number }).port = p;
      return p;
    });
  }

  /** Resolves with the bound port once the server listens. */
  readonly ready: Promise<number>;

  #session(host: WebSocketHost, ws: WebSocket, bufferSize: number, maxSize: number): void {
    let sub: Subscriber | undefined;
    let inputs = 0;
    const close = () => {
      sub?.close();
      this.#sessions.delete(close);
      if (ws.readyState === WebSocket.OPEN) ws.close();
    };
    this.#sessions.add(close);
    const send = (text: string) => {
      if (ws.readyState === WebSocket.OPEN) ws.send(text);
    };
    ws.onclose = () => close();
    ws.onerror = () => close();
    ws.onmessage = (ev) => {
      if (typeof ev.data !== "string") {
        send(errorText("deserialization_failed", "expected text messages"));
        return;
      }
      if (ev.data.length > maxSize) {
        send(errorText("deserialization_failed", `message larger than ${maxSize} bytes`));
        return;
      }
      if (!sub) {
        const topics = parseSubscription(ev.data);
        if (!topics) {
          send(errorText(
            "deserialization_failed",
            "the first message must be a JSON array of topic strings",
          ));
          close();
          return;
        }
        sub = host.subscribe(topics, { queueSize: bufferSize, overflowPolicy: "drop_newest" });
        send(ackText(host.id));
        this.#pump(sub, send, close);
        return;
      }
      inputs++;
      let message: { topic: string; data: Data };
      try {
        message = readDataMessage(ev.data);
      } catch (e) {
        const malformed = e instanceof BrokerError && e.code === ErrorCode.invalid_json;
        send(errorText(
          "deserialization_failed",
          malformed
            ? `input #${inputs} contained malformed JSON -> ${e.message}`
            : `input #${inputs} contained invalid data`,
        ));
        return;
      }
      host.publish(message.topic, message.data, { local: true, except: sub });
    };
  }

  async #pump(sub: Subscriber, send: (text: string) => void, close: () => void): Promise<void> {
    for await (const m of sub) {
      if (sub.dropped > 0) {
        send(errorText("overflow", "the client does not keep up: disconnecting"));
        close();
        return;
      }
      send(dataMessageToJson(m.topic, m.data));
    }
  }

  /** Stops serving and closes every session. */
  async close(): Promise<void> {
    for (const close of [...this.#sessions]) close();
    await this.#server.shutdown();
  }
}

function parseSubscription(text: string): string[] | undefined {
  try {
    const v = JSON.parse(text);
    if (Array.isArray(v) && v.every((t) => typeof t === "string")) return v;
  } catch {
    // not JSON
  }
  return undefined;
}
