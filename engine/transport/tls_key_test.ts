// Encrypted private keys, as Broker's broker.ssl.passphrase decrypts them.
import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { BrokerError, ErrorCode } from "../errors.ts";
import { loadCertificateTls } from "./tls.ts";
import { tlsLoopback } from "../../tests/tls_loopback.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const PLAIN = { certificate: `${DIR}node.pem`, key: `${DIR}node.key`, cafile: `${DIR}ca.pem` };

/** The fixture key encrypted with `passphrase` in a temporary file (PKCS#8, as `openssl pkey -aes256` writes). */
function encryptedKey(dir: string, passphrase: string): string {
  const path = `${dir}/node-enc.key`;
  const pem = createPrivateKey(Deno.readTextFileSync(PLAIN.key))
    .export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase });
  Deno.writeTextFileSync(path, pem as string);
  return path;
}

Deno.test("TLS keys: an encrypted key with its passphrase serves and dials a peering, as in Broker", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const tls = loadCertificateTls({
      ...PLAIN,
      key: encryptedKey(dir, "secret"),
      passphrase: "secret",
    });
    const { client, server, close } = await tlsLoopback(tls);
    const got = Promise.withResolvers<Uint8Array>();
    server.start({ onBytes: (b) => got.resolve(b.slice()), onClose: () => {} });
    client.start({ onBytes: () => {}, onClose: () => {} });
    client.send(new Uint8Array([0, 0, 0, 1, 42]));
    assert.deepEqual(await got.promise, new Uint8Array([0, 0, 0, 1, 42]));
    await close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("TLS keys: an encrypted key without its passphrase, or with a wrong one, is a typed error", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const key = encryptedKey(dir, "secret");
    const invalid = (pattern: RegExp) => (e: unknown) =>
      e instanceof BrokerError && e.code === ErrorCode.invalid_data && pattern.test(e.message);
    assert.throws(
      () => loadCertificateTls({ ...PLAIN, key }),
      invalid(/is encrypted: set broker\.ssl\.passphrase/),
    );
    assert.throws(
      () => loadCertificateTls({ ...PLAIN, key, passphrase: "wrong" }),
      invalid(/cannot decrypt key .* with broker\.ssl\.passphrase/),
    );
    // A passphrase with an unencrypted key is ignored, as OpenSSL does.
    assert.equal(
      loadCertificateTls({ ...PLAIN, passphrase: "unused" }).key,
      Deno.readTextFileSync(PLAIN.key),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
