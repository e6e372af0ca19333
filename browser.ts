/**
 * deno-broker for web pages: the client of Broker's WebSocket JSON API and
 * Broker's data model, nothing that needs Deno or Node (no TCP, no files, no
 * endpoint). `deno task bundle:browser` builds it into one ES module,
 * `dist/broker-browser.js`, that a page loads with
 * `<script type="module">`.
 *
 * A page connects to an endpoint's WebSocket API
 * (`Endpoint.listenWebSocket`, or Zeek's), subscribes with topic prefixes,
 * and then receives and publishes data messages, values being Broker's 15
 * types as tagged values (`count(1n)`, `str("x")`, ...).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectWebSocket, count, dataToString } from "./browser.ts";
 * // The page's server: here an endpoint of ours (Zeek's works the same).
 * import { Endpoint } from "./mod.ts";
 * const ep = new Endpoint();
 * const server = await ep.listenWebSocket("127.0.0.1", 0);
 * const fromPage = ep.subscribe(["/zeek/from-page"]);
 *
 * const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/zeek/"]);
 * client.publish("/zeek/from-page", count(1n));
 * equal(dataToString((await fromPage.get())!.data), "1");
 * ep.publish("/zeek/to-page", count(2n));
 * for await (const { topic, data } of client) {
 *   equal(`${topic} ${dataToString(data)}`, "/zeek/to-page 2");
 *   break;
 * }
 *
 * client.close();
 * await server.close();
 * await ep.shutdown();
 * ```
 *
 * @module
 */
export { BrokerError, ErrorCode } from "./engine/errors.ts";
export * from "./engine/data/api.ts";
export {
  dataFromJson,
  type DataFromJsonOptions,
  dataMessageToJson,
  dataToJson,
  dataToJsonBytes,
  type DataToJsonOptions,
  dataToJsonValue,
  JSON_TYPE_NAMES,
  type JsonDataValue,
} from "./engine/data/json.ts";
export {
  connectWebSocket,
  type ServerError,
  type SocketLike,
  WebSocketClient,
  type WebSocketClientOptions,
  type WebSocketMessage,
} from "./engine/websocket/client.ts";
export { WEB_SOCKET_PATH } from "./engine/websocket/protocol.ts";
