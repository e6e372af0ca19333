/**
 * TLS 1.2's record layer for `TLS_ECDH_anon_WITH_AES_256_CBC_SHA`: records
 * cut out of a byte stream, and each direction's protection (AES-256-CBC
 * with an explicit IV, HMAC-SHA1 over sequence number, header and content,
 * MAC then encrypt). A bad record throws a `TlsAlert` naming the alert the
 * peer gets.
 *
 * @module
 */
import {
  createCipheriv,
  createDecipheriv,
  createHmac,
  randomFillSync,
  timingSafeEqual,
} from "node:crypto";
import { concatBytes } from "../bytes.ts";

/** Record content types. */
export const ContentType = {
  change_cipher_spec: 20,
  alert: 21,
  handshake: 22,
  application_data: 23,
} as const;

/** Alert descriptions this implementation sends (RFC 5246 §7.2). */
export const AlertCode = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  illegal_parameter: 47,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  internal_error: 80,
  no_renegotiation: 100,
  unsupported_extension: 110,
} as const;

/**
 * A `TlsAlert` code that sends the peer nothing: OpenSSL's `SSL_AD_NO_ALERT`,
 * for a first record that is no TLS at all.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { NO_ALERT, RecordReader, TlsAlert } from "./records.ts";
 * const r = new RecordReader();
 * r.push(new Uint8Array([0, 0, 0, 26, 1])); // Broker's plain hello
 * try {
 *   r.next();
 * } catch (e) {
 *   equal((e as TlsAlert).alert, NO_ALERT);
 * }
 * ```
 */
export const NO_ALERT = -1;

/** Longest plaintext in one record. */
export const MAX_PLAINTEXT = 16384;
/** Longest record body a peer may send (RFC 5246 §6.2.3: plaintext + 2048). */
export const MAX_RECORD_BODY: number = MAX_PLAINTEXT + 2048;

/**
 * A fatal protocol failure and the alert that tells the peer.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { AlertCode, TlsAlert } from "./records.ts";
 * equal(new TlsAlert(AlertCode.decode_error, "short").alert, 50);
 * ```
 */
export class TlsAlert extends Error {
  /** The alert description sent to the peer. */
  readonly alert: number;
  /** Makes one. */
  constructor(alert: number, message: string) {
    super(message);
    this.alert = alert;
    this.name = "TlsAlert";
  }
}

/** One record as read: its type and body (still protected once keys are on). */
export interface TlsRecord {
  /** The content type. */
  readonly type: number;
  /** The body. */
  readonly body: Uint8Array;
}

/**
 * Cuts records out of the bytes as they arrive, whatever their chunking.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { RecordReader } from "./records.ts";
 * const r = new RecordReader();
 * r.push(new Uint8Array([23, 3, 3, 0, 2, 9]));
 * equal(r.next(), undefined);
 * r.push(new Uint8Array([9]));
 * equal(r.next()?.body.length, 2);
 * ```
 */
export class RecordReader {
  #buf = new Uint8Array(0);
  #start = 0;
  /** No record read yet: one that is no TLS at all fails without an alert. */
  #first = true;

  /** Appends arrived bytes (copied where a record is cut across them). */
  push(bytes: Uint8Array): void {
    const left = this.#buf.length - this.#start;
    if (left === 0) {
      this.#buf = bytes.slice();
    } else {
      const joined = new Uint8Array(left + bytes.length);
      joined.set(this.#buf.subarray(this.#start));
      joined.set(bytes, left);
      this.#buf = joined;
    }
    this.#start = 0;
  }

  /** The next whole record, or undefined until more bytes arrive. */
  next(): TlsRecord | undefined {
    const b = this.#buf, at = this.#start;
    if (b.length - at < 5) return undefined;
    const type = b[at], length = (b[at + 3] << 8) | b[at + 4];
    const tlsType = type >= ContentType.change_cipher_spec &&
      type <= ContentType.application_data;
    if (b[at + 1] !== 3 || !tlsType) {
      // OpenSSL (ssl3_get_record) checks the version first: a first record
      // that is no 3.x "doesn't look like TLS", and it closes without an
      // alert (a Broker without SSL would read an alert's header as a frame
      // of 352 MB: Zeek allocates that, and reports the failed peering ~1 s
      // later); a later one gets protocol_version, a 3.x record of no
      // content type unexpected_message.
      const code = b[at + 1] !== 3
        ? (this.#first ? NO_ALERT : AlertCode.protocol_version)
        : AlertCode.unexpected_message;
      throw new TlsAlert(
        code,
        tlsType
          ? `record version ${b[at + 1]}.${b[at + 2]}`
          : `not a TLS record (content type ${type})`,
      );
    }
    if (length > MAX_RECORD_BODY) {
      throw new TlsAlert(AlertCode.record_overflow, `record of ${length} bytes`);
    }
    if (b.length - at < 5 + length) return undefined;
    this.#start = at + 5 + length;
    this.#first = false;
    return { type, body: b.subarray(at + 5, at + 5 + length) };
  }
}

/** Header of a record: type, version 3.3, length. */
function header(out: Uint8Array, at: number, type: number, length: number): void {
  out[at] = type;
  out[at + 1] = 3;
  out[at + 2] = 3;
  out[at + 3] = length >> 8;
  out[at + 4] = length & 0xff;
}

/**
 * Records in plain text (the handshake before ChangeCipherSpec), the
 * content cut into records of at most `MAX_PLAINTEXT` bytes.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { plainRecords } from "./records.ts";
 * deepEqual(plainRecords(21, new Uint8Array([1, 0])), new Uint8Array([21, 3, 3, 0, 2, 1, 0]));
 * ```
 */
export function plainRecords(type: number, content: Uint8Array): Uint8Array {
  return concatBytes(
    fragments(content).map((part) => {
      const out = new Uint8Array(5 + part.length);
      header(out, 0, type, part.length);
      out.set(part, 5);
      return out;
    }),
  );
}

/** `content` cut into record-sized parts, at least one (an empty record for empty content). */
function fragments(content: Uint8Array): Uint8Array[] {
  const parts = [content.subarray(0, MAX_PLAINTEXT)];
  for (let at = MAX_PLAINTEXT; at < content.length; at += MAX_PLAINTEXT) {
    parts.push(content.subarray(at, at + MAX_PLAINTEXT));
  }
  return parts;
}

const MAC_SIZE = 20;
const BLOCK = 16;

/**
 * One direction's protection once ChangeCipherSpec is through: a sequence
 * number, a MAC key and a cipher key.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { RecordCipher, RecordReader } from "./records.ts";
 * const mac = new Uint8Array(20).fill(1), key = new Uint8Array(32).fill(2);
 * const reader = new RecordReader();
 * reader.push(new RecordCipher(mac, key).seal(23, new Uint8Array([5, 6])));
 * const record = reader.next()!;
 * deepEqual(new RecordCipher(mac, key).open(record.type, record.body), new Uint8Array([5, 6]));
 * ```
 */
export class RecordCipher {
  readonly #mac: Uint8Array;
  readonly #key: Uint8Array;
  // Sequence numbers stay far below 2^53 (a record a nanosecond for a century).
  #seq = 0;
  readonly #macHeader = new Uint8Array(13);

  /** Takes the keys of one direction. */
  constructor(macKey: Uint8Array, cipherKey: Uint8Array) {
    this.#mac = macKey;
    this.#key = cipherKey;
  }

  #macOf(type: number, content: Uint8Array): Uint8Array {
    const h = this.#macHeader, seq = this.#seq++;
    const hi = Math.floor(seq / 0x100000000), lo = seq >>> 0;
    h[0] = hi >>> 24, h[1] = (hi >>> 16) & 0xff, h[2] = (hi >>> 8) & 0xff, h[3] = hi & 0xff;
    h[4] = lo >>> 24, h[5] = (lo >>> 16) & 0xff, h[6] = (lo >>> 8) & 0xff, h[7] = lo & 0xff;
    h[8] = type, h[9] = 3, h[10] = 3, h[11] = content.length >> 8, h[12] = content.length & 0xff;
    return createHmac("sha1", this.#mac).update(h).update(content).digest();
  }

  /** `content` as protected records (cut at `MAX_PLAINTEXT`), in one buffer. */
  seal(type: number, content: Uint8Array): Uint8Array {
    return concatBytes(fragments(content).map((part) => this.#sealOne(type, part)));
  }

  #sealOne(type: number, content: Uint8Array): Uint8Array {
    const mac = this.#macOf(type, content);
    const unpadded = content.length + MAC_SIZE + 1;
    const pad = (BLOCK - (unpadded % BLOCK)) % BLOCK;
    const plain = new Uint8Array(unpadded + pad);
    plain.set(content);
    plain.set(mac, content.length);
    plain.fill(pad, content.length + MAC_SIZE);
    const iv = randomFillSync(new Uint8Array(BLOCK));
    const cipher = createCipheriv("aes-256-cbc", this.#key, iv).setAutoPadding(false);
    const body = cipher.update(plain);
    const out = new Uint8Array(5 + BLOCK + plain.length);
    header(out, 0, type, BLOCK + plain.length);
    out.set(iv, 5);
    out.set(body, 5 + BLOCK);
    const tail = cipher.final();
    if (tail.length) out.set(tail, 5 + BLOCK + body.length);
    return out;
  }

  /**
   * The content of a protected record, or a `TlsAlert` (`bad_record_mac`
   * for bad padding and a bad MAC alike, as RFC 5246 asks).
   */
  open(type: number, body: Uint8Array): Uint8Array {
    if (body.length < BLOCK + BLOCK || body.length % BLOCK !== 0) {
      throw new TlsAlert(AlertCode.bad_record_mac, `protected record of ${body.length} bytes`);
    }
    const decipher = createDecipheriv("aes-256-cbc", this.#key, body.subarray(0, BLOCK))
      .setAutoPadding(false);
    const first = decipher.update(body.subarray(BLOCK));
    const rest = decipher.final(); // empty: whole blocks, no padding of its own
    const plain = rest.length ? concatBytes([first, rest]) : new Uint8Array(first);
    if (plain.length < MAC_SIZE + 1) {
      throw new TlsAlert(AlertCode.bad_record_mac, "protected record too short for its MAC");
    }
    const pad = plain[plain.length - 1];
    let bad = pad + 1 + MAC_SIZE > plain.length;
    // Where the MAC ends; with bad padding the MAC is still computed (over
    // something) so both failures take about as long.
    const end = bad ? plain.length : plain.length - pad - 1;
    for (let i = end; !bad && i < plain.length - 1; i++) if (plain[i] !== pad) bad = true;
    const content = plain.subarray(0, end - MAC_SIZE);
    const mac = this.#macOf(type, content);
    if (!timingSafeEqual(mac, plain.subarray(end - MAC_SIZE, end)) || bad) {
      throw new TlsAlert(AlertCode.bad_record_mac, "record MAC or padding does not verify");
    }
    return content;
  }
}
