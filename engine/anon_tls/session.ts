/**
 * A TLS 1.2 session in Broker's anonymous mode, sans I/O: what OpenSSL
 * runs for Broker (and Zeek, whose default it is) when SSL is on and no
 * certificate is configured, `AECDH-AES256-SHA` over P-384 and nothing
 * else (`ssl_context_from_cfg` in Broker's `connector.cc`). Bytes from the
 * peer go in; bytes for the peer, application data and what happened come
 * out. No sockets, no timers; `receive` never throws.
 *
 * States, client: start → wait_server_hello → wait_server_key_exchange →
 * wait_server_hello_done → wait_change_cipher_spec → wait_finished →
 * connected. Server: wait_client_hello → wait_client_key_exchange →
 * wait_change_cipher_spec → wait_finished → connected. Then closed (a
 * close_notify either way) or failed (a fatal alert either way).
 *
 * Nothing is authenticated (that is the mode): it keeps a passive observer
 * out, not an active one. Sessions are not resumed and renegotiation is
 * declined with a warning, as a peer may.
 *
 * @module
 */
import { createECDH, randomFillSync, timingSafeEqual } from "node:crypto";
import { concatBytes } from "../bytes.ts";
import {
  AECDH_AES256_SHA,
  clientHello,
  clientKeyExchange,
  Extension,
  finished,
  type HandshakeMessage,
  handshakeMessage,
  HandshakeReader,
  HandshakeType,
  listHas16,
  listHas8,
  readClientHello,
  readClientKeyExchange,
  readServerHello,
  readServerKeyExchange,
  RENEGOTIATION_SCSV,
  SECP384R1,
  serverHello,
  serverKeyExchange,
  TLS12,
} from "./messages.ts";
import { masterSecret, trafficKeys, transcriptHash, verifyData } from "./prf.ts";
import {
  AlertCode,
  ContentType,
  MAX_PLAINTEXT,
  NO_ALERT,
  plainRecords,
  RecordCipher,
  RecordReader,
  TlsAlert,
  type TlsRecord,
} from "./records.ts";

/** Which end of the handshake. */
export type AnonTlsRole = "client" | "server";

/** The session's named states. */
export type AnonTlsState =
  | "start"
  | "wait_client_hello"
  | "wait_server_hello"
  | "wait_server_key_exchange"
  | "wait_server_hello_done"
  | "wait_client_key_exchange"
  | "wait_change_cipher_spec"
  | "wait_finished"
  | "connected"
  | "closed"
  | "failed";

/** What one call of `receive` produced. */
export interface AnonTlsEvents {
  /** Bytes for the peer, in order. */
  readonly send: Uint8Array[];
  /** Application data that arrived, in order. */
  readonly data: Uint8Array[];
  /** The handshake completed in this call. */
  connected: boolean;
  /** The peer closed the session (close_notify). */
  ended: boolean;
  /** Why the session failed, when it did in this call (an alert was sent or received). */
  error?: string;
}

const ALERT_WARNING = 1, ALERT_FATAL = 2;

/** `TLS_ECDH_anon_WITH_AES_256_CBC_SHA` never gets here with another server-chosen extension. */
const OFFERED = new Set<number>([
  Extension.renegotiation_info,
  Extension.ec_point_formats,
  Extension.extended_master_secret,
]);

function alert(code: number, message: string): never {
  throw new TlsAlert(code, message);
}

/**
 * One side of an anonymous TLS 1.2 session.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { AnonTlsSession } from "./session.ts";
 * const client = new AnonTlsSession("client"), server = new AnonTlsSession("server");
 * // Move each side's bytes to the other until both are connected.
 * let toServer = [client.start()], toClient: Uint8Array[] = [];
 * while (toServer.length || toClient.length) {
 *   for (const b of toServer) toClient.push(...server.receive(b).send);
 *   toServer = [];
 *   for (const b of toClient) toServer.push(...client.receive(b).send);
 *   toClient = [];
 * }
 * equal(client.state, "connected");
 * deepEqual(server.receive(client.seal(new Uint8Array([1, 2]))).data, [new Uint8Array([1, 2])]);
 * ```
 */
export class AnonTlsSession {
  /** Which end this session is. */
  readonly role: AnonTlsRole;
  #state: AnonTlsState;
  readonly #records = new RecordReader();
  readonly #handshake = new HandshakeReader();
  readonly #transcript: Uint8Array[] = [];
  readonly #random: (n: number) => Uint8Array;
  #clientRandom: Uint8Array = new Uint8Array(0);
  #serverRandom: Uint8Array = new Uint8Array(0);
  #ems = false;
  #master: Uint8Array = new Uint8Array(0);
  #read?: RecordCipher;
  #write?: RecordCipher;
  #nextRead?: RecordCipher;
  #nextWrite?: RecordCipher;

  /**
   * Makes a session; `random` fills the hello randoms (tests may fix it;
   * the key exchange always draws its own keys).
   */
  constructor(
    role: AnonTlsRole,
    random: (n: number) => Uint8Array = (n) => randomFillSync(new Uint8Array(n)),
  ) {
    this.role = role;
    this.#random = random;
    this.#state = role === "client" ? "start" : "wait_client_hello";
  }

  /** Where the session is. */
  get state(): AnonTlsState {
    return this.#state;
  }

  /** The client's first flight (ClientHello); nothing for a server. */
  start(): Uint8Array {
    if (this.role !== "client" || this.#state !== "start") return new Uint8Array(0);
    this.#clientRandom = this.#random(32);
    const hello = clientHello(this.#clientRandom);
    this.#transcript.push(hello);
    this.#state = "wait_server_hello";
    return plainRecords(ContentType.handshake, hello);
  }

  /** Takes bytes from the peer, in any chunking. Never throws. */
  receive(bytes: Uint8Array): AnonTlsEvents {
    const ev: AnonTlsEvents = { send: [], data: [], connected: false, ended: false };
    if (this.#over()) return ev;
    try {
      this.#records.push(bytes);
      for (let r = this.#records.next(); r; r = this.#records.next()) {
        this.#record(r, ev);
        if (this.#over()) break;
      }
    } catch (e) {
      this.#fail(e, ev);
    }
    return ev;
  }

  /** Application data as protected records (only once connected). */
  seal(data: Uint8Array): Uint8Array {
    if (this.#state !== "connected" || !this.#write) {
      throw new Error(`cannot send on a TLS session that is ${this.#state}`);
    }
    return data.length === 0 ? data : this.#write.seal(ContentType.application_data, data);
  }

  /** Ends the session: the close_notify for the peer (empty before the handshake ends). */
  close(): Uint8Array {
    const open = this.#state === "connected";
    if (this.#state !== "failed") this.#state = "closed";
    if (!open || !this.#write) return new Uint8Array(0);
    return this.#write.seal(
      ContentType.alert,
      new Uint8Array([ALERT_WARNING, AlertCode.close_notify]),
    );
  }

  /** Closed or failed: nothing more is read. */
  #over(): boolean {
    return this.#state === "closed" || this.#state === "failed";
  }

  #record(r: TlsRecord, ev: AnonTlsEvents): void {
    const content = this.#read ? this.#read.open(r.type, r.body) : r.body;
    if (content.length > MAX_PLAINTEXT) {
      alert(AlertCode.record_overflow, `record of ${content.length} bytes`);
    }
    switch (r.type) {
      case ContentType.alert:
        return this.#alert(content, ev);
      case ContentType.change_cipher_spec:
        if (
          this.#state !== "wait_change_cipher_spec" || this.#handshake.pending || !this.#nextRead
        ) {
          alert(AlertCode.unexpected_message, `ChangeCipherSpec in ${this.#state}`);
        }
        if (content.length !== 1 || content[0] !== 1) {
          alert(AlertCode.decode_error, "malformed ChangeCipherSpec");
        }
        this.#read = this.#nextRead;
        this.#state = "wait_finished";
        return;
      case ContentType.handshake:
        if (content.length === 0) alert(AlertCode.unexpected_message, "empty handshake record");
        this.#handshake.push(content);
        for (let m = this.#handshake.next(); m; m = this.#handshake.next()) {
          this.#message(m, ev);
          if (this.#over()) return;
        }
        return;
      default: // application_data, as the record reader admits no other type
        if (this.#state !== "connected") {
          alert(AlertCode.unexpected_message, `application data in ${this.#state}`);
        }
        if (content.length) ev.data.push(content);
    }
  }

  #alert(content: Uint8Array, ev: AnonTlsEvents): void {
    if (content.length === 0 || content.length % 2 !== 0) {
      alert(AlertCode.decode_error, "malformed alert");
    }
    for (let i = 0; i < content.length; i += 2) {
      const level = content[i], code = content[i + 1];
      if (code === AlertCode.close_notify) {
        this.#state = "closed";
        ev.ended = true;
        return;
      }
      if (level === ALERT_FATAL || level !== ALERT_WARNING) {
        this.#state = "failed";
        ev.error = `the peer sent TLS alert ${code}${
          ALERT_NAMES.get(code) ? ` (${ALERT_NAMES.get(code)})` : ""
        }`;
        return;
      }
      // Other warnings (no_renegotiation, say) change nothing here.
    }
  }

  #message(m: HandshakeMessage, ev: AnonTlsEvents): void {
    const s = this.#state;
    if (s === "connected") {
      // A peer asking to renegotiate: declined, the session goes on.
      const asks = this.role === "client"
        ? HandshakeType.hello_request
        : HandshakeType.client_hello;
      if (m.type !== asks) {
        alert(AlertCode.unexpected_message, `handshake message ${m.type} after the handshake`);
      }
      ev.send.push(
        this.#write!.seal(
          ContentType.alert,
          new Uint8Array([ALERT_WARNING, AlertCode.no_renegotiation]),
        ),
      );
      return;
    }
    const expected = EXPECTED[s];
    if (m.type !== expected) {
      alert(
        AlertCode.unexpected_message,
        `handshake message ${m.type} in ${s} (expected ${expected})`,
      );
    }
    switch (s) {
      case "wait_client_hello":
        return this.#onClientHello(m, ev);
      case "wait_server_hello":
        return this.#onServerHello(m);
      case "wait_server_key_exchange":
        return this.#onServerKeyExchange(m);
      case "wait_server_hello_done":
        return this.#onServerHelloDone(m, ev);
      case "wait_client_key_exchange":
        return this.#onClientKeyExchange(m);
      default: // wait_finished
        return this.#onFinished(m, ev);
    }
  }

  #onClientHello(m: HandshakeMessage, ev: AnonTlsEvents): void {
    const hello = readClientHello(m.body);
    const versions = hello.extensions.get(Extension.supported_versions);
    if (versions ? !listHas16(versions, TLS12, 1) : hello.version < TLS12) {
      alert(AlertCode.protocol_version, "the client does not offer TLS 1.2");
    }
    if (!hello.suites.includes(AECDH_AES256_SHA)) {
      alert(
        AlertCode.handshake_failure,
        "no shared cipher: Broker's anonymous mode takes AECDH-AES256-SHA only",
      );
    }
    if (!hello.compression.includes(0)) {
      alert(AlertCode.illegal_parameter, "the client offers no null compression");
    }
    const groups = hello.extensions.get(Extension.supported_groups);
    if (groups && !listHas16(groups, SECP384R1, 2)) {
      alert(AlertCode.handshake_failure, "the client offers no P-384");
    }
    const formats = hello.extensions.get(Extension.ec_point_formats);
    if (formats && !listHas8(formats, 0)) {
      alert(AlertCode.illegal_parameter, "the client takes no uncompressed points");
    }
    const reneg = initialRenegotiationInfo(hello.extensions);
    this.#ems = hello.extensions.has(Extension.extended_master_secret);
    this.#clientRandom = hello.random.slice();
    this.#serverRandom = this.#random(32);
    const ecdh = createECDH("secp384r1");
    const point = new Uint8Array(ecdh.generateKeys());
    const flight = [
      serverHello(
        this.#serverRandom,
        this.#ems,
        reneg !== undefined || hello.suites.includes(RENEGOTIATION_SCSV),
      ),
      serverKeyExchange(point),
      handshakeMessage(HandshakeType.server_hello_done, new Uint8Array(0)),
    ];
    this.#transcript.push(m.raw.slice(), ...flight);
    this.#pending = ecdh;
    ev.send.push(plainRecords(ContentType.handshake, concatBytes(flight)));
    this.#state = "wait_client_key_exchange";
  }

  #pending?: ReturnType<typeof createECDH>;

  #onServerHello(m: HandshakeMessage): void {
    const hello = readServerHello(m.body);
    if (hello.version !== TLS12 || hello.extensions.has(Extension.supported_versions)) {
      alert(
        AlertCode.protocol_version,
        `the server chose version ${hello.version.toString(16)}, not TLS 1.2`,
      );
    }
    if (hello.suite !== AECDH_AES256_SHA) {
      alert(
        AlertCode.handshake_failure,
        `the server chose cipher suite ${hello.suite.toString(16)}`,
      );
    }
    if (hello.compression !== 0) alert(AlertCode.illegal_parameter, "the server chose compression");
    for (const type of hello.extensions.keys()) {
      if (!OFFERED.has(type)) {
        alert(AlertCode.unsupported_extension, `the server sent extension ${type}`);
      }
    }
    initialRenegotiationInfo(hello.extensions); // checked only: we never renegotiate
    this.#ems = hello.extensions.has(Extension.extended_master_secret);
    this.#serverRandom = hello.random.slice();
    this.#transcript.push(m.raw.slice());
    this.#state = "wait_server_key_exchange";
  }

  #peerPoint?: Uint8Array;

  #onServerKeyExchange(m: HandshakeMessage): void {
    this.#peerPoint = readServerKeyExchange(m.body).slice();
    this.#transcript.push(m.raw.slice());
    this.#state = "wait_server_hello_done";
  }

  #onServerHelloDone(m: HandshakeMessage, ev: AnonTlsEvents): void {
    if (m.body.length !== 0) alert(AlertCode.decode_error, "malformed ServerHelloDone");
    this.#transcript.push(m.raw.slice());
    const ecdh = createECDH("secp384r1");
    const point = new Uint8Array(ecdh.generateKeys());
    const exchange = clientKeyExchange(point);
    this.#transcript.push(exchange);
    this.#keys(sharedSecret(ecdh, this.#peerPoint!));
    this.#write = this.#nextWrite;
    const fin = finished(
      verifyData(this.#master, "client finished", transcriptHash(this.#transcript)),
    );
    this.#transcript.push(fin);
    ev.send.push(
      plainRecords(ContentType.handshake, exchange),
      plainRecords(ContentType.change_cipher_spec, new Uint8Array([1])),
      this.#write!.seal(ContentType.handshake, fin),
    );
    this.#state = "wait_change_cipher_spec";
  }

  #onClientKeyExchange(m: HandshakeMessage): void {
    const point = readClientKeyExchange(m.body);
    this.#transcript.push(m.raw.slice());
    this.#keys(sharedSecret(this.#pending!, point));
    this.#pending = undefined;
    this.#state = "wait_change_cipher_spec";
  }

  /** Master secret and both directions' ciphers, once the key exchange is in the transcript. */
  #keys(preMaster: Uint8Array): void {
    const sessionHash = this.#ems ? transcriptHash(this.#transcript) : undefined;
    this.#master = masterSecret(preMaster, this.#clientRandom, this.#serverRandom, sessionHash);
    const k = trafficKeys(this.#master, this.#clientRandom, this.#serverRandom);
    const client = new RecordCipher(k.clientMac, k.clientKey);
    const server = new RecordCipher(k.serverMac, k.serverKey);
    this.#nextWrite = this.role === "client" ? client : server;
    this.#nextRead = this.role === "client" ? server : client;
  }

  #onFinished(m: HandshakeMessage, ev: AnonTlsEvents): void {
    const peer = this.role === "client" ? "server finished" : "client finished";
    const expected = verifyData(this.#master, peer, transcriptHash(this.#transcript));
    if (m.body.length !== expected.length || !timingSafeEqual(m.body, expected)) {
      alert(AlertCode.decrypt_error, "the peer's Finished does not verify");
    }
    if (this.role === "server") {
      this.#transcript.push(m.raw.slice());
      this.#write = this.#nextWrite;
      const fin = finished(
        verifyData(this.#master, "server finished", transcriptHash(this.#transcript)),
      );
      ev.send.push(
        plainRecords(ContentType.change_cipher_spec, new Uint8Array([1])),
        this.#write!.seal(ContentType.handshake, fin),
      );
    }
    this.#transcript.length = 0;
    this.#state = "connected";
    ev.connected = true;
  }

  #fail(e: unknown, ev: AnonTlsEvents): void {
    const code = e instanceof TlsAlert ? e.alert : AlertCode.internal_error;
    const body = new Uint8Array([ALERT_FATAL, code]);
    try {
      if (code !== NO_ALERT) {
        ev.send.push(
          this.#write
            ? this.#write.seal(ContentType.alert, body)
            : plainRecords(ContentType.alert, body),
        );
      }
    } catch {
      // nothing more to tell the peer
    }
    this.#state = "failed";
    ev.error = (e as Error).message;
  }
}

/** The message each waiting state takes. */
const EXPECTED: Partial<Record<AnonTlsState, number>> = {
  wait_client_hello: HandshakeType.client_hello,
  wait_server_hello: HandshakeType.server_hello,
  wait_server_key_exchange: HandshakeType.server_key_exchange,
  wait_server_hello_done: HandshakeType.server_hello_done,
  wait_client_key_exchange: HandshakeType.client_key_exchange,
  wait_finished: HandshakeType.finished,
};

const ALERT_NAMES = new Map<number, string>(Object.entries(AlertCode).map(([k, v]) => [v, k]));

function sharedSecret(ecdh: ReturnType<typeof createECDH>, point: Uint8Array): Uint8Array {
  try {
    return new Uint8Array(ecdh.computeSecret(point));
  } catch {
    return alert(AlertCode.illegal_parameter, "the peer's point is not on P-384");
  }
}

/**
 * A hello's renegotiation_info (RFC 5746), which in an initial handshake
 * must be empty (one zero byte); undefined when the peer sent none.
 */
function initialRenegotiationInfo(extensions: Map<number, Uint8Array>): Uint8Array | undefined {
  const reneg = extensions.get(Extension.renegotiation_info);
  if (reneg && (reneg.length !== 1 || reneg[0] !== 0)) {
    alert(AlertCode.handshake_failure, "renegotiation_info of an initial handshake is not empty");
  }
  return reneg;
}
