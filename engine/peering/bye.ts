/**
 * Broker's graceful unpeering: a ping carrying a fresh BYE token, and the
 * connection closes when the peer's pong echoes the token (or when the
 * unpeer timeout passes).
 *
 * @example
 * ```ts
 * import { answersBye, sayBye } from "./bye.ts";
 * import { ByeToken, encodePing, encodePong, parseEnvelope } from "../wire/mod.ts";
 * const c: { bye?: { token: Uint8Array; done: () => void } } = {};
 * const ours = new Uint8Array(16).fill(1), theirs = new Uint8Array(16).fill(2);
 * let ping: Uint8Array | undefined;
 * const done = sayBye(c, (token) => (ping = encodePing(ours, theirs, token)), 1000);
 * const pong = parseEnvelope(encodePong(parseEnvelope(ping!), theirs));
 * if (!answersBye(c, pong)) throw new Error("the pong echoes our token");
 * c.bye!.done();
 * await done;
 * ```
 *
 * @module
 */
import { ByeToken, type Envelope, isByePong } from "../wire/mod.ts";
import { timerDelay } from "../timer_delay.ts";

/** A connection as BYE sees it: the BYE ping in flight, if any. */
export interface ByeState {
  /** The token sent and what to do when its pong arrives. */
  bye?: { token: Uint8Array; done: () => void };
}

/**
 * Sends a BYE ping through `send` (given the token to carry) and resolves
 * when `c.bye.done()` is called (the pong came or the connection closed)
 * or after `timeoutMs`.
 */
export function sayBye(
  c: ByeState,
  send: (token: Uint8Array) => void,
  timeoutMs: number,
): Promise<void> {
  const token = ByeToken.next();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, timerDelay(timeoutMs));
    c.bye = {
      token,
      done: () => {
        clearTimeout(timer);
        resolve();
      },
    };
    send(token);
  });
}

/** Whether `pong` answers the BYE ping `c` sent. */
export function answersBye(c: ByeState, pong: Envelope): boolean {
  return !!c.bye && isByePong(pong) && bytesEqual(pong.payload, c.bye.token);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
