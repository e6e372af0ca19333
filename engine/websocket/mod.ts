/**
 * Broker's WebSocket JSON API: a server on an endpoint and a client for Deno
 * and browsers.
 *
 * @module
 */
export * from "./protocol.ts";
export * from "./server.ts";
export * from "./client.ts";
