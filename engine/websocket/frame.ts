/**
 * RFC 6455 frames (section 5.2), written: one frame with its opcode, its
 * length in 7, 16 or 64 bits, and, from a client, a random mask.
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
 * One frame of `opcode` (0x1 text, 0x8 close, 0x9 ping, 0xa pong, 0x0 a
 * continuation) carrying `payload`; masked (a client's frame) when `masked`
 * is true; final unless `fin` is false (a fragment with more to come).
 */
export function encodeWebSocketFrame(
  opcode: number,
  payload: Uint8Array,
  masked = false,
  fin = true,
): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const maskBytes = masked ? 4 : 0;
  const out = new Uint8Array(head + maskBytes + n);
  const maskBit = masked ? 0x80 : 0;
  out[0] = (fin ? 0x80 : 0) | opcode;
  if (n < 126) out[1] = maskBit | n;
  else if (n < 65536) {
    out[1] = maskBit | 126;
    out[2] = n >> 8;
    out[3] = n & 0xff;
  } else {
    out[1] = maskBit | 127;
    new DataView(out.buffer).setBigUint64(2, BigInt(n));
  }
  out.set(payload, head + maskBytes);
  if (masked) {
    crypto.getRandomValues(out.subarray(head, head + 4));
    xorMask(out, new DataView(out.buffer), head + 4, n, head);
  }
  return out;
}

/**
 * Masks or unmasks (the same XOR, RFC 6455 5.3) the `len` bytes at `at` of
 * `b` in place with the 4-byte mask at `maskAt`: a 32-bit word at a time
 * through `dv` (a view of `b`'s buffer, `b` at its start), then the tail.
 *
 * @example
 * ```ts
 * import { xorMask } from "./frame.ts";
 * const b = new Uint8Array([1, 2, 3, 4, 0x10, 0x20, 0x30, 0x40, 0x50]);
 * xorMask(b, new DataView(b.buffer), 4, 5, 0);
 * if (b.subarray(4).join() !== [0x11, 0x22, 0x33, 0x44, 0x51].join()) throw new Error("masked");
 * ```
 */
export function xorMask(
  b: Uint8Array,
  dv: DataView,
  at: number,
  len: number,
  maskAt: number,
): void {
  const m = dv.getUint32(maskAt);
  let i = 0;
  for (; i + 4 <= len; i += 4) dv.setUint32(at + i, dv.getUint32(at + i) ^ m);
  for (; i < len; i++) b[at + i] ^= b[maskAt + (i & 3)];
}

/**
 * The header of a server's final, unmasked frame of `opcode` carrying
 * `length` payload bytes: sent before a payload that is itself sent as it
 * is (no copy into one frame buffer, and one payload can go to many clients).
 *
 * @example
 * ```ts
 * import { webSocketFrameHeader } from "./frame.ts";
 * const h = webSocketFrameHeader(0x1, 300);
 * if (h.length !== 4 || h[0] !== 0x81 || h[1] !== 126 || h[2] !== 1 || h[3] !== 44) {
 *   throw new Error("a 300-byte text frame's header");
 * }
 * ```
 */
export function webSocketFrameHeader(opcode: number, length: number): Uint8Array {
  // Small typed arrays live on V8's heap: cheap to make, and unlike views
  // into a shared slab, a client that stops reading pins nothing else.
  const n = length < 126 ? 2 : length < 65536 ? 4 : 10;
  const out = new Uint8Array(n);
  out[0] = 0x80 | opcode;
  if (n === 2) out[1] = length;
  else if (n === 4) {
    out[1] = 126;
    out[2] = length >> 8;
    out[3] = length & 0xff;
  } else {
    out[1] = 127;
    new DataView(out.buffer, out.byteOffset).setBigUint64(2, BigInt(length));
  }
  return out;
}
