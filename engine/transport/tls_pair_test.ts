// A certificate and a key that belong together, checked when the TLS settings are read.
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { BrokerError, ErrorCode } from "../errors.ts";
import { loadCertificateTls } from "./tls.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const SSL = { certificate: `${DIR}node.pem`, key: `${DIR}node.key`, cafile: `${DIR}ca.pem` };

const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof BrokerError && e.code === ErrorCode.invalid_data && pattern.test(e.message);

Deno.test("TLS settings: a key that is not the certificate's is an error, as Broker's OpenSSL refuses to load it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // Another P-256 key: a well-formed key, just not this certificate's.
    const other = `${dir}/other.key`;
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    Deno.writeTextFileSync(other, privateKey.export({ type: "pkcs8", format: "pem" }) as string);
    assert.throws(
      () => loadCertificateTls({ ...SSL, key: other }),
      invalid(/key .*other\.key does not match certificate .*node\.pem/),
    );
    // Neither a certificate nor a key where one is named.
    assert.throws(
      () => loadCertificateTls({ ...SSL, certificate: SSL.key }),
      invalid(/cannot parse certificate/),
    );
    assert.throws(
      () => loadCertificateTls({ ...SSL, key: SSL.certificate }),
      invalid(/cannot parse key/),
    );
    // The fixtures' own pair loads.
    assert.equal(loadCertificateTls(SSL).caCerts.length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
