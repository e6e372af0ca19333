/**
 * ZeroMQ subscriptions, as an (X)SUB socket sends them to an (X)PUB: either a
 * one-part message whose first byte is 1 (subscribe) or 0 (cancel) followed
 * by the topic prefix (ZMTP 3.0, and what libzmq's XSUB sends), or a ZMTP 3.1
 * SUBSCRIBE/CANCEL command (what libzmq sends to a 3.1 peer for an XSUB
 * inside `zmq_proxy`). Zeek's capture shows both; readers take both.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeSubscription, subscriptionFromMessage } from "./subscription.ts";
 * const part = encodeSubscription("zeek.cluster.worker", true);
 * deepEqual(subscriptionFromMessage([part]), {
 *   subscribe: true,
 *   topic: new TextEncoder().encode("zeek.cluster.worker"),
 * });
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { ZmtpCommand } from "./command.ts";

/** A subscription or its cancellation. */
export interface Subscription {
  /** True to subscribe, false to cancel. */
  subscribe: boolean;
  /** The topic prefix, as bytes (ZeroMQ topics are bytes; Zeek's are ASCII). */
  topic: Uint8Array;
}

const utf8 = new TextEncoder();

/**
 * The one-part message form: `\x01topic` or `\x00topic`.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeSubscription } from "./subscription.ts";
 * deepEqual(encodeSubscription("a", false), new Uint8Array([0, 97]));
 * ```
 */
export function encodeSubscription(topic: string | Uint8Array, subscribe = true): Uint8Array {
  const t = typeof topic === "string" ? utf8.encode(topic) : topic;
  const out = new Uint8Array(1 + t.length);
  out[0] = subscribe ? 1 : 0;
  out.set(t, 1);
  return out;
}

/**
 * Reads the message form. Throws `invalid_message` for a message that is
 * not one part starting with 0 or 1 (an XPUB drops such messages).
 */
export function subscriptionFromMessage(parts: readonly Uint8Array[]): Subscription {
  const [p] = parts;
  if (parts.length !== 1 || p.length === 0 || p[0] > 1) {
    throw new BrokerError(
      ErrorCode.invalid_message,
      "a ZeroMQ subscription is one part starting with 0 or 1",
    );
  }
  return { subscribe: p[0] === 1, topic: p.slice(1) };
}

/** Reads the command form, or undefined for a command other than SUBSCRIBE/CANCEL. */
export function subscriptionFromCommand(command: ZmtpCommand): Subscription | undefined {
  if (command.name === "SUBSCRIBE") return { subscribe: true, topic: command.data.slice() };
  if (command.name === "CANCEL") return { subscribe: false, topic: command.data.slice() };
  return undefined;
}
