/**
 * Broker's status codes and the status/error events an endpoint reports.
 *
 * @module
 */
import { ErrorCode } from "./errors.ts";

/**
 * Broker's `sc` enum, numerically identical to `libbroker/broker/status.hh`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { StatusCode } from "./status.ts";
 * equal(StatusCode.peer_added, 1);
 * ```
 */
export enum StatusCode {
  unspecified = 0,
  peer_added = 1,
  peer_removed = 2,
  peer_lost = 3,
  endpoint_discovered = 4,
  endpoint_unreachable = 5,
}

/** The peer a status or error is about. */
export interface PeerInfo {
  /** Endpoint ID as UUID text (may be absent when the handshake did not get far). */
  id?: string;
  /** Network address, when known. */
  host?: string;
  /** TCP port, when known. */
  port?: number;
  /**
   * The peering's retry interval in whole seconds, as Broker's `network_info`
   * carries it: what `peer()` was given for a peering we dial, 0 (or absent)
   * for one we accepted.
   */
  retry?: number;
}

/**
 * A retry interval in ms as whole seconds, Broker's `timeout::seconds`.
 *
 * @example
 * ```ts
 * import { retrySeconds } from "./status.ts";
 * if (retrySeconds(10_000) !== 10 || retrySeconds(250) !== 0) throw new Error("whole seconds");
 * ```
 */
export function retrySeconds(retryMs: number): number {
  return Math.max(0, Math.floor(retryMs / 1000));
}

/** A status change or an error, as a status subscriber sees it. */
export interface StatusEvent {
  /** `status` carries a `StatusCode`, `error` an `ErrorCode`. */
  kind: "status" | "error";
  /** Numeric code, identical to Broker's. */
  code: number;
  /** The code's name as Broker spells it. */
  codeName: string;
  /** Human-readable context. */
  message: string;
  /** The peer concerned. */
  peer?: PeerInfo;
}

/**
 * Builds a status event.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { statusEvent, StatusCode } from "./status.ts";
 * deepEqual(statusEvent(StatusCode.peer_added, "handshake done", { port: 9999 }), {
 *   kind: "status",
 *   code: 1,
 *   codeName: "peer_added",
 *   message: "handshake done",
 *   peer: { port: 9999 },
 * });
 * ```
 */
export function statusEvent(code: StatusCode, message: string, peer?: PeerInfo): StatusEvent {
  return { kind: "status", code, codeName: StatusCode[code], message, peer };
}

/**
 * Builds an error event.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { errorEvent } from "./status.ts";
 * import { ErrorCode } from "./errors.ts";
 * const e = errorEvent(ErrorCode.peer_unavailable, "connection refused");
 * equal(e.kind, "error");
 * equal(e.codeName, "peer_unavailable");
 * ```
 */
export function errorEvent(code: ErrorCode, message: string, peer?: PeerInfo): StatusEvent {
  return { kind: "error", code, codeName: ErrorCode[code] ?? `ec(${code})`, message, peer };
}
