/**
 * TLS settings as Broker names them (`broker.ssl.certificate`, `key`,
 * `cafile`, `capath`, `passphrase`), read into the PEM texts Deno's TLS
 * needs. With any of them set, Broker authenticates peers with
 * certificates; with none, it runs its anonymous mode (ECDH, no
 * certificates), which Deno's TLS stack (rustls) lacks, so it runs on
 * `../anon_tls/` instead. An encrypted key is decrypted here with
 * `passphrase`, as Broker has OpenSSL do, and handed on unencrypted.
 *
 * @module
 */
import { connect as connectNodeTls } from "node:tls";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { BrokerError, ErrorCode } from "../errors.ts";
import { type ByteStream, NodeSocketStream } from "./node_stream.ts";
import { wrapTlsSocket } from "./tls_wrap_stream.ts";
import { timerDelay } from "../timer_delay.ts";

/** Broker's `broker.ssl.*` options: paths of PEM files. */
export interface SslOptions {
  /** This endpoint's certificate chain (PEM). */
  certificate?: string;
  /** Its private key (PEM; encrypted ones need `passphrase`). */
  key?: string;
  /** A file of trusted CA certificates (PEM, concatenated). */
  cafile?: string;
  /** An OpenSSL CA directory: PEM files named `<subject hash>.<n>` (`openssl rehash`). */
  capath?: string;
  /** Decrypts an encrypted `key` (ignored for an unencrypted one, as in OpenSSL). */
  passphrase?: string;
}

/** The PEM texts for `Deno.listenTls` and `Deno.connectTls`: Broker's authenticated mode. */
export interface CertificateTls {
  /** Not the anonymous mode. */
  readonly anonymous?: false;
  /** This endpoint's certificate chain. */
  readonly cert: string;
  /** Its private key (unencrypted). */
  readonly key: string;
  /** Trusted CAs (never empty: without them Broker trusts no peer). */
  readonly caCerts: string[];
}

/**
 * Broker's anonymous mode: SSL on and no `broker.ssl.*` setting, so
 * OpenSSL runs `AECDH-AES256-SHA` with no certificates either way.
 */
export interface AnonymousTls {
  /** The anonymous mode. */
  readonly anonymous: true;
}

/** What an endpoint with SSL on runs: certificates, or Broker's anonymous mode. */
export type TlsMaterial = CertificateTls | AnonymousTls;

function fail(message: string, code = ErrorCode.invalid_data): never {
  throw new BrokerError(code, message);
}

function readPem(path: string, what: string): string {
  try {
    return Deno.readTextFileSync(path);
  } catch (e) {
    return fail(`cannot read ${what} ${path}: ${(e as Error).message}`, ErrorCode.cannot_open_file);
  }
}

/** A certificate's name in an OpenSSL CA directory: subject hash, then a sequence number. */
const HASHED_NAME = /^[0-9a-f]{8}\.[0-9]+$/;

function isFile(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false; // a dangling link
  }
}

/** Whether a PEM key is encrypted (PKCS#8, or OpenSSL's traditional `Proc-Type` form). */
function encrypted(pem: string): boolean {
  return pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") ||
    /^Proc-Type: *4, *ENCRYPTED/m.test(pem);
}

/**
 * The key as unencrypted PEM: decrypted with `passphrase` (OpenSSL's
 * `SSL_CTX_use_PrivateKey_file` with Broker's password callback), as it is
 * when unencrypted. A key that cannot be decrypted is an error here, where
 * Broker's connector fails to load it and no peering works.
 */
function decryptKey(pem: string, path: string, passphrase?: string): string {
  if (!passphrase) {
    if (encrypted(pem)) fail(`key ${path} is encrypted: set broker.ssl.passphrase`);
    return pem;
  }
  try {
    return createPrivateKey({ key: pem, format: "pem", passphrase })
      .export({ type: "pkcs8", format: "pem" }) as string;
  } catch (e) {
    return fail(`cannot decrypt key ${path} with broker.ssl.passphrase: ${(e as Error).message}`);
  }
}

/**
 * Reads the files an endpoint with SSL on needs. With no setting at all
 * (Broker's `authentication_enabled()` false) that is the anonymous mode.
 * Throws a `BrokerError` naming what is missing or unreadable.
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { loadTlsMaterial } from "./tls.ts";
 * const dir = new URL("../../fixtures/tls/", import.meta.url).pathname; // the test certificates
 * const tls = loadTlsMaterial({
 *   certificate: `${dir}node.pem`,
 *   key: `${dir}node.key`,
 *   cafile: `${dir}ca.pem`,
 * });
 * if (tls.anonymous) throw new Error("certificates were given");
 * equal(tls.caCerts.length, 1);
 * const { cert, key } = tls;
 * const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
 * listener.close();
 * equal(loadTlsMaterial({}).anonymous, true);
 * throws(() => loadTlsMaterial({ cafile: `${dir}ca.pem` }), /SSL needs broker.ssl.certificate and broker.ssl.key/);
 * ```
 */
export function loadTlsMaterial(ssl: SslOptions = {}): TlsMaterial {
  // Broker counts empty strings as unset (`.empty()`).
  if (!ssl.certificate && !ssl.key && !ssl.cafile && !ssl.capath && !ssl.passphrase) {
    return { anonymous: true };
  }
  if (!ssl.certificate || !ssl.key) {
    // Broker aborts such an endpoint ("No certificate configured for SSL endpoint").
    fail(
      "SSL needs broker.ssl.certificate and broker.ssl.key: any broker.ssl setting asks for " +
        "certificates, as in Broker (with none, Broker's anonymous mode runs)",
    );
  }
  const caCerts: string[] = [];
  if (ssl.cafile) caCerts.push(readPem(ssl.cafile, "CA file"));
  if (ssl.capath) {
    let entries: Deno.DirEntry[];
    try {
      entries = [...Deno.readDirSync(ssl.capath)];
    } catch (e) {
      return fail(
        `cannot read CA directory ${ssl.capath}: ${(e as Error).message}`,
        ErrorCode.cannot_open_file,
      );
    }
    // OpenSSL looks a CA up in capath by its subject's hash, as `<hash>.<n>`
    // (what `openssl rehash` links): a file by any other name is not
    // trusted there, whatever it holds. The links are followed.
    const names = entries.map((e) => e.name).filter((n) => HASHED_NAME.test(n)).sort();
    for (const name of names) {
      const path = `${ssl.capath}/${name}`;
      if (!isFile(path)) continue;
      const text = readPem(path, "CA file");
      if (text.includes("-----BEGIN CERTIFICATE-----")) caCerts.push(text);
    }
  }
  const cert = readPem(ssl.certificate, "certificate");
  const key = decryptKey(readPem(ssl.key, "key"), ssl.key, ssl.passphrase);
  checkPair(cert, key, ssl.certificate, ssl.key);
  if (caCerts.length === 0) {
    // Broker then verifies peers against nothing (not the system's roots):
    // every handshake fails, both ways. Ours had no client check at all.
    fail(
      ssl.capath
        ? `no CA certificates in broker.ssl.capath ${ssl.capath} (OpenSSL reads <hash>.0 ` +
          "files there, as openssl rehash names them): no peer could be verified"
        : "SSL needs broker.ssl.cafile or broker.ssl.capath: Broker verifies every peer's " +
          "certificate against them and, without, trusts none",
    );
  }
  return { cert, key, caCerts };
}

/**
 * `loadTlsMaterial` where certificates are wanted: the anonymous mode (no
 * setting given) is an error here.
 *
 * @example
 * ```ts
 * import { equal, throws } from "node:assert/strict";
 * import { loadCertificateTls } from "./tls.ts";
 * const dir = new URL("../../fixtures/tls/", import.meta.url).pathname;
 * const tls = loadCertificateTls({ certificate: `${dir}node.pem`, key: `${dir}node.key`, cafile: `${dir}ca.pem` });
 * equal(tls.caCerts.length, 1);
 * throws(() => loadCertificateTls({}), /certificate/);
 * ```
 */
export function loadCertificateTls(ssl: SslOptions): CertificateTls {
  const tls = loadTlsMaterial(ssl);
  if (tls.anonymous) fail("SSL with certificates needs broker.ssl.certificate and broker.ssl.key");
  return tls;
}

/**
 * Fails unless `key` is the private key of the chain's first certificate:
 * OpenSSL's `SSL_CTX_use_PrivateKey_file` refuses such a pair, so Broker's
 * connector never runs with it; TLS here would start and fail every
 * handshake, with nothing to say why.
 */
function checkPair(cert: string, key: string, certPath: string, keyPath: string): void {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (e) {
    return fail(`cannot parse certificate ${certPath}: ${(e as Error).message}`);
  }
  let ok: boolean;
  try {
    ok = x509.checkPrivateKey(createPrivateKey(key));
  } catch (e) {
    return fail(`cannot parse key ${keyPath}: ${(e as Error).message}`);
  }
  if (!ok) fail(`key ${keyPath} does not match certificate ${certPath}`);
}

/**
 * Opens a TLS connection as Broker's client does: with our certificate for
 * mutual authentication, checking the peer's chain against `tls.caCerts`
 * but not its host name, since Broker's
 * certificates name nodes, not hosts. The handshake runs on first use.
 *
 * @example
 * ```ts ignore
 * import { dialTls, loadTlsMaterial } from "./tls.ts";
 * const conn = await dialTls("127.0.0.1", 9999, loadTlsMaterial({ certificate, key, cafile }));
 * ```
 */
export function dialTls(host: string, port: number, tls: CertificateTls): Promise<Deno.TlsConn> {
  return Deno.connectTls({
    hostname: host,
    port,
    cert: tls.cert,
    key: tls.key,
    caCerts: tls.caCerts,
    unsafelyDisableHostnameVerification: true,
  });
}

/**
 * Dials a peering over TLS as `dialTls` does (our certificate for mutual
 * authentication, the peer's chain checked against `tls.caCerts`, not its
 * host name), with the TLS handshake done within `timeoutMs`. On `node:tls`,
 * as the listener is: a `Deno.TlsConn` closed while its handshake waits
 * keeps its socket open until the server answers or closes (Deno 2.9.6), so
 * a server that accepts and then says nothing (a stopped process, another
 * service) kept one socket per attempt. Here the socket is destroyed at the
 * timeout. The connected socket is read as the listener reads its own.
 *
 * @example
 * ```ts ignore
 * import { connectTlsStream, loadTlsMaterial } from "./tls.ts";
 * const stream = await connectTlsStream("127.0.0.1", 9999, loadTlsMaterial(ssl), 1000);
 * ```
 */
export function connectTlsStream(
  host: string,
  port: number,
  tls: CertificateTls,
  timeoutMs: number,
): Promise<ByteStream> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const socket = connectNodeTls({
      host,
      port,
      cert: tls.cert,
      key: tls.key,
      ca: tls.caCerts,
      rejectUnauthorized: true,
      // Broker's certificates name nodes, not hosts.
      checkServerIdentity: () => undefined,
    });
    const fail = (e: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new Error(`connect to ${host}:${port} timed out`)),
      timerDelay(timeoutMs),
    );
    // Errors after the handshake go to the stream's own listener.
    socket.on("error", fail);
    socket.once("secureConnect", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(wrapTlsSocket(socket) ?? new NodeSocketStream(socket));
    });
  });
}
