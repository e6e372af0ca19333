// broker.ssl.capath as OpenSSL reads it: CA certificates under their
// subject hashes (`<hash>.0`, what `openssl rehash` links), nothing else.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { loadCertificateTls } from "./tls.ts";
import { tlsLoopback } from "../../tests/tls_loopback.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const PAIR = { certificate: `${DIR}node.pem`, key: `${DIR}node.key` };
/** `openssl x509 -hash -noout -in fixtures/tls/ca.pem`. */
const CA_HASH = "6b25a505";

Deno.test("TLS capath: a CA file under a name of its own is not trusted, one under its hash is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // broker-node with such a directory refused a client this CA signed
    // (checked live); ours trusted every file it found there.
    Deno.copyFileSync(`${DIR}ca.pem`, `${dir}/ca.pem`);
    assert.throws(
      () => loadCertificateTls({ ...PAIR, capath: dir }),
      (e: unknown) =>
        e instanceof BrokerError && e.code === ErrorCode.invalid_data &&
        /no CA certificates in broker\.ssl\.capath/.test(e.message),
    );
    // As openssl rehash leaves it: a link by the subject's hash. Peering through it works.
    Deno.symlinkSync("ca.pem", `${dir}/${CA_HASH}.0`);
    const tls = loadCertificateTls({ ...PAIR, capath: dir });
    assert.equal(tls.caCerts.length, 1);
    await (await tlsLoopback(tls)).close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
