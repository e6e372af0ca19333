/**
 * The ZMTP 3.x greeting (RFC 37, "Version Negotiation"): 64 bytes each side
 * sends first — signature, version, security mechanism, as-server flag,
 * filler. Sans-I/O: bytes in, a value out, and back.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeGreeting, parseGreeting } from "./greeting.ts";
 * const g = parseGreeting(encodeGreeting({ mechanism: "NULL", asServer: false }));
 * deepEqual(g, { major: 3, minor: 1, mechanism: "NULL", asServer: false });
 * ```
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";

/** Size of a ZMTP 3 greeting. */
export const GREETING_SIZE = 64;

/** Bytes of the signature, which a peer can check before the rest (ZMTP 1.0/2.0 peers stop there). */
export const SIGNATURE_SIZE = 10;

/** A greeting's fields. */
export interface Greeting {
  /** Major version: 3 for ZMTP 3.x. */
  major: number;
  /** Minor version: 1 for ZMTP 3.1 (Zeek 8's libzmq), 0 for 3.0. */
  minor: number;
  /** Security mechanism name, e.g. `NULL`, `PLAIN`, `CURVE` (at most 20 ASCII bytes). */
  mechanism: string;
  /** Whether the sender plays the server role of the mechanism (PLAIN, CURVE); false for NULL. */
  asServer: boolean;
}

/** What {@link encodeGreeting} takes; the version defaults to 3.1. */
export type GreetingOptions = Omit<Greeting, "major" | "minor"> & {
  major?: number;
  minor?: number;
};

const ascii = new TextEncoder();

/**
 * Writes a greeting as libzmq does: padding `00 00 00 00 00 00 00 01` (a
 * ZMTP 1.0 peer reads it as a one-byte identity frame), zeros elsewhere.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeGreeting } from "./greeting.ts";
 * const g = encodeGreeting({ mechanism: "NULL", asServer: false });
 * deepEqual([g.length, g[0], g[9], g[10], g[11]], [64, 255, 127, 3, 1]);
 * ```
 */
export function encodeGreeting(options: GreetingOptions): Uint8Array {
  const name = ascii.encode(options.mechanism);
  if (name.length > 20 || /[^\x21-\x7e]/.test(options.mechanism)) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `ZMTP mechanism ${JSON.stringify(options.mechanism)} is not up to 20 printable ASCII bytes`,
    );
  }
  const out = new Uint8Array(GREETING_SIZE);
  out[0] = 0xff;
  out[8] = 0x01;
  out[9] = 0x7f;
  out[10] = options.major ?? 3;
  out[11] = options.minor ?? 1;
  out.set(name, 12);
  out[32] = options.asServer ? 1 : 0;
  return out;
}

/**
 * Whether the first bytes could start a ZMTP 3 greeting: `0xff` then, at
 * byte 9, `0x7f` (the check libzmq makes before it reads on).
 */
export function isSignature(bytes: Uint8Array): boolean {
  return bytes.length >= SIGNATURE_SIZE && bytes[0] === 0xff && (bytes[9] & 1) === 1;
}

/**
 * Reads a 64-byte greeting. Throws a {@link BrokerError}: `end_of_file` when
 * fewer than 64 bytes are given, `wrong_magic_number` for a bad signature,
 * `peer_incompatible` for a major version below 3 or a malformed
 * mechanism or as-server field.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { BrokerError } from "../errors.ts";
 * import { parseGreeting } from "./greeting.ts";
 * throws(() => parseGreeting(new Uint8Array(64)), BrokerError); // bad signature
 * ```
 */
export function parseGreeting(bytes: Uint8Array): Greeting {
  if (bytes.length < GREETING_SIZE) {
    throw new BrokerError(ErrorCode.end_of_file, `ZMTP greeting cut at ${bytes.length} bytes`);
  }
  if (!isSignature(bytes)) {
    throw new BrokerError(ErrorCode.wrong_magic_number, "not a ZMTP greeting: bad signature");
  }
  const major = bytes[10], minor = bytes[11];
  if (major < 3) {
    throw new BrokerError(ErrorCode.peer_incompatible, `ZMTP ${major}.${minor} is not supported`);
  }
  let end = 12;
  while (end < 32 && bytes[end] !== 0) end++;
  for (let i = end; i < 32; i++) {
    if (bytes[i] !== 0) {
      throw new BrokerError(ErrorCode.peer_incompatible, "ZMTP mechanism not padded with zeros");
    }
  }
  const mechanism = String.fromCharCode(...bytes.subarray(12, end));
  if (mechanism.length === 0 || /[^\x21-\x7e]/.test(mechanism)) {
    throw new BrokerError(
      ErrorCode.peer_incompatible,
      "ZMTP mechanism name is not printable ASCII",
    );
  }
  if (bytes[32] > 1) {
    throw new BrokerError(ErrorCode.peer_incompatible, `ZMTP as-server flag ${bytes[32]}`);
  }
  return { major, minor, mechanism, asServer: bytes[32] === 1 };
}
