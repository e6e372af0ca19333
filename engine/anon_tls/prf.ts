/**
 * TLS 1.2's pseudo-random function (RFC 5246 §5, P_SHA256) and the secrets
 * it derives for Broker's anonymous cipher suite: the master secret (with
 * RFC 7627's extended form, which OpenSSL negotiates by default), the key
 * block and the Finished messages' verify data.
 *
 * @module
 */
import { createHash, createHmac } from "node:crypto";
import { concatBytes as concat } from "../bytes.ts";

const encoder = new TextEncoder();

function hmac(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac("sha256", key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

/**
 * `PRF(secret, label, seed)` cut to `length` bytes.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { prf } from "./prf.ts";
 * const out = prf(new Uint8Array(48), "key expansion", new Uint8Array(64), 104);
 * equal(out.length, 104);
 * ```
 */
export function prf(
  secret: Uint8Array,
  label: string,
  seed: Uint8Array,
  length: number,
): Uint8Array {
  const labelSeed = concat([encoder.encode(label), seed]);
  const out = new Uint8Array(length);
  let a = labelSeed;
  for (let at = 0; at < length;) {
    a = hmac(secret, a);
    const block = hmac(secret, a, labelSeed);
    out.set(block.subarray(0, Math.min(block.length, length - at)), at);
    at += block.length;
  }
  return out;
}

/**
 * SHA-256 of the handshake messages so far (the transcript both sides sign
 * their Finished over).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { transcriptHash } from "./prf.ts";
 * equal(transcriptHash([new Uint8Array([1]), new Uint8Array([2])]).length, 32);
 * ```
 */
export function transcriptHash(messages: readonly Uint8Array[]): Uint8Array {
  const h = createHash("sha256");
  for (const m of messages) h.update(m);
  return new Uint8Array(h.digest());
}

/**
 * The 48-byte master secret: RFC 7627's over the session hash when both
 * sides offered `extended_master_secret`, RFC 5246's over the randoms
 * otherwise.
 *
 * @example
 * ```ts
 * import { notDeepEqual } from "node:assert/strict";
 * import { masterSecret } from "./prf.ts";
 * const pre = new Uint8Array(48).fill(7), cr = new Uint8Array(32), sr = new Uint8Array(32).fill(1);
 * notDeepEqual(masterSecret(pre, cr, sr), masterSecret(pre, cr, sr, new Uint8Array(32)));
 * ```
 */
export function masterSecret(
  preMaster: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
  sessionHash?: Uint8Array,
): Uint8Array {
  return sessionHash
    ? prf(preMaster, "extended master secret", sessionHash, 48)
    : prf(preMaster, "master secret", concat([clientRandom, serverRandom]), 48);
}

/** Each direction's MAC and cipher keys (AES-256-CBC with HMAC-SHA1). */
export interface TrafficKeys {
  /** HMAC-SHA1 key of the client's records. */
  readonly clientMac: Uint8Array;
  /** HMAC-SHA1 key of the server's records. */
  readonly serverMac: Uint8Array;
  /** AES-256 key of the client's records. */
  readonly clientKey: Uint8Array;
  /** AES-256 key of the server's records. */
  readonly serverKey: Uint8Array;
}

/**
 * The key block of `TLS_ECDH_anon_WITH_AES_256_CBC_SHA`: 20-byte MAC keys,
 * 32-byte cipher keys (TLS 1.2's CBC records carry their IVs).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { trafficKeys } from "./prf.ts";
 * const keys = trafficKeys(new Uint8Array(48), new Uint8Array(32), new Uint8Array(32));
 * equal(keys.clientMac.length + keys.serverKey.length, 52);
 * ```
 */
export function trafficKeys(
  master: Uint8Array,
  clientRandom: Uint8Array,
  serverRandom: Uint8Array,
): TrafficKeys {
  const block = prf(master, "key expansion", concat([serverRandom, clientRandom]), 104);
  return {
    clientMac: block.slice(0, 20),
    serverMac: block.slice(20, 40),
    clientKey: block.slice(40, 72),
    serverKey: block.slice(72, 104),
  };
}

/**
 * A Finished message's 12 bytes of verify data.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { verifyData } from "./prf.ts";
 * equal(verifyData(new Uint8Array(48), "client finished", new Uint8Array(32)).length, 12);
 * ```
 */
export function verifyData(
  master: Uint8Array,
  label: "client finished" | "server finished",
  handshakeHash: Uint8Array,
): Uint8Array {
  return prf(master, label, handshakeHash, 12);
}
