/**
 * The handshake messages of anonymous ECDH in TLS 1.2, written and read:
 * ClientHello, ServerHello, ServerKeyExchange, ServerHelloDone,
 * ClientKeyExchange, Finished, and the framing that joins and cuts them
 * across records. Reading throws `TlsAlert(decode_error)` on a malformed
 * message, never reads past one.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { AlertCode, TlsAlert } from "./records.ts";

/** Handshake message types. */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  new_session_ticket: 4,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  client_key_exchange: 16,
  finished: 20,
} as const;

/** `TLS_ECDH_anon_WITH_AES_256_CBC_SHA`, OpenSSL's `AECDH-AES256-SHA`: Broker's anonymous suite. */
export const AECDH_AES256_SHA = 0xc019;
/** `TLS_EMPTY_RENEGOTIATION_INFO_SCSV`: a client's RFC 5746 support, as a cipher suite. */
export const RENEGOTIATION_SCSV = 0x00ff;
/** secp384r1 (P-384), the one group Broker's anonymous mode sets. */
export const SECP384R1 = 0x0018;
/** TLS 1.2 on the wire. */
export const TLS12 = 0x0303;

/** Extension numbers used here. */
export const Extension = {
  supported_groups: 0x000a,
  ec_point_formats: 0x000b,
  extended_master_secret: 0x0017,
  supported_versions: 0x002b,
  renegotiation_info: 0xff01,
} as const;

function decodeError(what: string): never {
  throw new TlsAlert(AlertCode.decode_error, `malformed ${what}`);
}

/** Reads big-endian fields and length-prefixed vectors, each within bounds. */
class FieldReader {
  #at = 0;
  constructor(readonly bytes: Uint8Array, readonly what: string) {}

  get left(): number {
    return this.bytes.length - this.#at;
  }

  u8(): number {
    if (this.left < 1) decodeError(this.what);
    return this.bytes[this.#at++];
  }

  u16(): number {
    if (this.left < 2) decodeError(this.what);
    const v = (this.bytes[this.#at] << 8) | this.bytes[this.#at + 1];
    this.#at += 2;
    return v;
  }

  take(n: number): Uint8Array {
    if (this.left < n) decodeError(this.what);
    const v = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return v;
  }

  /** A vector with a 1- or 2-byte length. */
  vector(lengthBytes: 1 | 2): Uint8Array {
    return this.take(lengthBytes === 1 ? this.u8() : this.u16());
  }

  end(): void {
    if (this.left !== 0) decodeError(this.what);
  }
}

/** Extensions by number: each once (RFC 5246 §7.4.1.4). */
function readExtensions(r: FieldReader): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  if (r.left === 0) return out; // no extensions block at all
  const block = new FieldReader(r.vector(2), r.what);
  while (block.left > 0) {
    const type = block.u16();
    if (out.has(type)) decodeError(`${r.what} (extension ${type} twice)`);
    out.set(type, block.vector(2));
  }
  r.end();
  return out;
}

function u16s(values: readonly number[]): number[] {
  return values.flatMap((v) => [v >> 8, v & 0xff]);
}

function vec16(body: Uint8Array | number[]): number[] {
  return [body.length >> 8, body.length & 0xff, ...body];
}

function extensionBytes(exts: ReadonlyArray<[number, number[]]>): number[] {
  return vec16(exts.flatMap(([type, data]) => [...u16s([type]), ...vec16(data)]));
}

/**
 * A handshake message: type, 24-bit length, body.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { handshakeMessage } from "./messages.ts";
 * deepEqual(handshakeMessage(14, new Uint8Array(0)), new Uint8Array([14, 0, 0, 0]));
 * ```
 */
export function handshakeMessage(type: number, body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  out[0] = type;
  out[1] = body.length >>> 16;
  out[2] = (body.length >>> 8) & 0xff;
  out[3] = body.length & 0xff;
  out.set(body, 4);
  return out;
}

/** One handshake message as read. */
export interface HandshakeMessage {
  /** Its type. */
  readonly type: number;
  /** Its body. */
  readonly body: Uint8Array;
  /** The whole message, header too (what the transcript hashes). */
  readonly raw: Uint8Array;
}

/** The longest handshake message taken (OpenSSL's ClientHello with every extension is ~2 KB). */
export const MAX_HANDSHAKE_MESSAGE = 65536;

/**
 * Joins handshake records' contents and cuts them into messages (a record
 * may hold several, a message may span records).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { HandshakeReader } from "./messages.ts";
 * const r = new HandshakeReader();
 * r.push(new Uint8Array([14, 0, 0]));
 * equal(r.next(), undefined);
 * r.push(new Uint8Array([0]));
 * equal(r.next()?.type, 14);
 * ```
 */
export class HandshakeReader {
  #buf: Uint8Array = new Uint8Array(0);

  /** Whether part of a message is waiting for the rest. */
  get pending(): boolean {
    return this.#buf.length > 0;
  }

  /** Appends a handshake record's content. */
  push(content: Uint8Array): void {
    this.#buf = this.#buf.length ? concatBytes([this.#buf, content]) : content.slice();
  }

  /** The next whole message, or undefined. */
  next(): HandshakeMessage | undefined {
    const b = this.#buf;
    if (b.length < 4) return undefined;
    const length = (b[1] << 16) | (b[2] << 8) | b[3];
    if (length > MAX_HANDSHAKE_MESSAGE) {
      throw new TlsAlert(AlertCode.decode_error, `handshake message of ${length} bytes`);
    }
    if (b.length < 4 + length) return undefined;
    const raw = b.subarray(0, 4 + length);
    this.#buf = b.subarray(4 + length);
    return { type: b[0], body: raw.subarray(4), raw };
  }
}

/** The fields both hellos begin with: version, random, a session id of at most 32 bytes (not kept). */
function readHelloStart(r: FieldReader): { version: number; random: Uint8Array } {
  const version = r.u16();
  const random = r.take(32);
  if (r.vector(1).length > 32) decodeError(`${r.what} (session id)`);
  return { version, random };
}

/** A ClientHello's fields this implementation looks at. */
export interface ClientHello {
  /** `client_version` (legacy_version in TLS 1.3's). */
  readonly version: number;
  /** 32 random bytes. */
  readonly random: Uint8Array;
  /** Offered cipher suites. */
  readonly suites: readonly number[];
  /** Offered compression methods. */
  readonly compression: Uint8Array;
  /** Extensions by number. */
  readonly extensions: Map<number, Uint8Array>;
}

/**
 * Our ClientHello: TLS 1.2, Broker's one suite, P-384, uncompressed points,
 * extended master secret, secure renegotiation (RFC 5746, which OpenSSL 3
 * servers and clients require).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { clientHello, readClientHello } from "./messages.ts";
 * const hello = readClientHello(clientHello(new Uint8Array(32)).subarray(4));
 * equal(hello.suites[0], 0xc019);
 * ```
 */
export function clientHello(random: Uint8Array): Uint8Array {
  const body = [
    ...u16s([TLS12]),
    ...random,
    0, // no session to resume
    ...vec16(u16s([AECDH_AES256_SHA])),
    1,
    0, // null compression
    ...extensionBytes([
      [Extension.supported_groups, vec16(u16s([SECP384R1]))],
      [Extension.ec_point_formats, [1, 0]],
      [Extension.extended_master_secret, []],
      [Extension.renegotiation_info, [0]],
    ]),
  ];
  return handshakeMessage(HandshakeType.client_hello, new Uint8Array(body));
}

/**
 * Reads a ClientHello body.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { readClientHello } from "./messages.ts";
 * throws(() => readClientHello(new Uint8Array([3, 3])), /malformed ClientHello/);
 * ```
 */
export function readClientHello(body: Uint8Array): ClientHello {
  const r = new FieldReader(body, "ClientHello");
  const { version, random } = readHelloStart(r);
  const suiteBytes = r.vector(2);
  if (suiteBytes.length % 2 !== 0) decodeError("ClientHello (cipher suites)");
  const suites: number[] = [];
  for (let i = 0; i < suiteBytes.length; i += 2) {
    suites.push((suiteBytes[i] << 8) | suiteBytes[i + 1]);
  }
  const compression = r.vector(1);
  return { version, random, suites, compression, extensions: readExtensions(r) };
}

/** A ServerHello's fields. */
export interface ServerHello {
  /** `server_version`. */
  readonly version: number;
  /** 32 random bytes. */
  readonly random: Uint8Array;
  /** The chosen suite. */
  readonly suite: number;
  /** The chosen compression. */
  readonly compression: number;
  /** Extensions by number. */
  readonly extensions: Map<number, Uint8Array>;
}

/**
 * Our ServerHello: TLS 1.2, Broker's suite, no session id (nothing is
 * resumed), the extensions the client offered that we keep.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readServerHello, serverHello } from "./messages.ts";
 * equal(readServerHello(serverHello(new Uint8Array(32), true, true).subarray(4)).suite, 0xc019);
 * ```
 */
export function serverHello(
  random: Uint8Array,
  ems: boolean,
  secureRenegotiation: boolean,
): Uint8Array {
  const exts: Array<[number, number[]]> = [];
  if (secureRenegotiation) exts.push([Extension.renegotiation_info, [0]]);
  exts.push([Extension.ec_point_formats, [1, 0]]);
  if (ems) exts.push([Extension.extended_master_secret, []]);
  const body = [
    ...u16s([TLS12]),
    ...random,
    0,
    ...u16s([AECDH_AES256_SHA]),
    0,
    ...extensionBytes(exts),
  ];
  return handshakeMessage(HandshakeType.server_hello, new Uint8Array(body));
}

/**
 * Reads a ServerHello body.
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { readServerHello } from "./messages.ts";
 * throws(() => readServerHello(new Uint8Array(10)), /malformed ServerHello/);
 * ```
 */
export function readServerHello(body: Uint8Array): ServerHello {
  const r = new FieldReader(body, "ServerHello");
  const { version, random } = readHelloStart(r);
  const suite = r.u16();
  const compression = r.u8();
  return { version, random, suite, compression, extensions: readExtensions(r) };
}

/** The length of an uncompressed P-384 point: 0x04, x, y. */
export const P384_POINT = 97;

/**
 * ServerKeyExchange for ECDH_anon: a named curve and the server's point,
 * unsigned (no certificate to sign with).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { readServerKeyExchange, serverKeyExchange } from "./messages.ts";
 * const point = new Uint8Array(97).fill(4, 0, 1);
 * equal(readServerKeyExchange(serverKeyExchange(point).subarray(4)).length, 97);
 * ```
 */
export function serverKeyExchange(point: Uint8Array): Uint8Array {
  const body = new Uint8Array([3, ...u16s([SECP384R1]), point.length, ...point]);
  return handshakeMessage(HandshakeType.server_key_exchange, body);
}

/** The server's point from a ServerKeyExchange body (P-384 and uncompressed only). */
export function readServerKeyExchange(body: Uint8Array): Uint8Array {
  const r = new FieldReader(body, "ServerKeyExchange");
  const curveType = r.u8();
  const curve = r.u16();
  if (curveType !== 3 || curve !== SECP384R1) {
    throw new TlsAlert(
      AlertCode.illegal_parameter,
      `server chose curve type ${curveType}, curve ${curve}`,
    );
  }
  const point = r.vector(1);
  // An anonymous suite has no signature after the point.
  r.end();
  checkPoint(point);
  return point;
}

/**
 * ClientKeyExchange for ECDH: the client's point.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { clientKeyExchange, readClientKeyExchange } from "./messages.ts";
 * const point = new Uint8Array(97).fill(4, 0, 1);
 * equal(readClientKeyExchange(clientKeyExchange(point).subarray(4))[0], 4);
 * ```
 */
export function clientKeyExchange(point: Uint8Array): Uint8Array {
  return handshakeMessage(
    HandshakeType.client_key_exchange,
    new Uint8Array([point.length, ...point]),
  );
}

/** The client's point from a ClientKeyExchange body. */
export function readClientKeyExchange(body: Uint8Array): Uint8Array {
  const r = new FieldReader(body, "ClientKeyExchange");
  const point = r.vector(1);
  r.end();
  checkPoint(point);
  return point;
}

function checkPoint(point: Uint8Array): void {
  if (point.length !== P384_POINT || point[0] !== 4) {
    throw new TlsAlert(
      AlertCode.illegal_parameter,
      `not an uncompressed P-384 point (${point.length} bytes)`,
    );
  }
}

/**
 * Finished: 12 bytes of verify data.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { finished } from "./messages.ts";
 * equal(finished(new Uint8Array(12)).length, 16);
 * ```
 */
export function finished(verify: Uint8Array): Uint8Array {
  return handshakeMessage(HandshakeType.finished, verify);
}

/**
 * Whether a list of 16-bit values (a supported_groups extension, say) holds `value`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listHas16 } from "./messages.ts";
 * equal(listHas16(new Uint8Array([0, 4, 0, 0x17, 0, 0x18]), 0x18, 2), true);
 * ```
 */
export function listHas16(data: Uint8Array, value: number, lengthBytes: 1 | 2): boolean {
  const r = new FieldReader(data, "extension");
  const list = r.vector(lengthBytes);
  r.end();
  if (list.length % 2 !== 0) decodeError("extension");
  for (let i = 0; i < list.length; i += 2) {
    if (((list[i] << 8) | list[i + 1]) === value) return true;
  }
  return false;
}

/**
 * Whether a list of 8-bit values (ec_point_formats) holds `value`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listHas8 } from "./messages.ts";
 * equal(listHas8(new Uint8Array([2, 1, 0]), 0), true);
 * ```
 */
export function listHas8(data: Uint8Array, value: number): boolean {
  const r = new FieldReader(data, "extension");
  const list = r.vector(1);
  r.end();
  return list.includes(value);
}
