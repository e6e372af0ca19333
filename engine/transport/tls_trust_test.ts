// Whom an endpoint with TLS trusts: the CAs of broker.ssl.cafile and
// broker.ssl.capath, and nobody without them, as in Broker.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { loadCertificateTls } from "./tls.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const PAIR = { certificate: `${DIR}node.pem`, key: `${DIR}node.key` };

const invalid = (pattern: RegExp) => (e: unknown) =>
  e instanceof BrokerError && e.code === ErrorCode.invalid_data && pattern.test(e.message);

Deno.test("TLS trust: a certificate and key without cafile or capath is an error (Broker trusts no peer then; ours checked no client)", async () => {
  // broker-node with only certificate and key refuses every peer in both
  // roles (checked live, also with SSL_CERT_FILE naming the peers' CA: no
  // system roots either). Our listener asked no client for a certificate.
  assert.throws(
    () => loadCertificateTls(PAIR),
    invalid(/needs broker\.ssl\.cafile or broker\.ssl\.capath/),
  );
  const empty = await Deno.makeTempDir();
  try {
    assert.throws(
      () => loadCertificateTls({ ...PAIR, capath: empty }),
      invalid(/no CA certificates in broker\.ssl\.capath/),
    );
  } finally {
    await Deno.remove(empty);
  }
  assert.equal(loadCertificateTls({ ...PAIR, cafile: `${DIR}ca.pem` }).caCerts.length, 1);
});
