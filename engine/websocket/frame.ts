/**
 * RFC 6455 frames (section 5.2), written: one final frame with its opcode,
 * its length in 7, 16 or 64 bits, and, from a client, a random mask.
 * Clients must mask what they send and servers must not.
 *
 * @example
 * ```ts
 * import { encodeWebSocketFrame } from "./frame.ts";
 * const f = encodeWebSocketFrame(0x1, new TextEncoder().encode("hi"));
 * if (f.length !== 4 || f[0] !== 0x81 || f[1] !== 2) throw new Error("a server's text frame");
 * ```
 *
 * @module
 */

/**
 * One final frame of `opcode` (0x1 text, 0x8 close, 0x9 ping, 0xa pong)
 * carrying `payload`; masked (a client's frame) when `masked` is true.
 */
export function encodeWebSocketFrame(
  opcode: number,
  payload: Uint8Array,
  masked = false,
): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const maskBytes = masked ? 4 : 0;
  const out = new Uint8Array(head + maskBytes + n);
  const maskBit = masked ? 0x80 : 0;
  out[0] = 0x80 | opcode;
  if (n < 126) out[1] = maskBit | n;
  else if (n < 65536) {
    out[1] = maskBit | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = maskBit | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  if (!masked) {
    out.set(payload, head);
    return out;
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  out.set(mask, head);
  for (let i = 0; i < n; i++) out[head + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}
