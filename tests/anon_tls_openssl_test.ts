// Broker's anonymous TLS mode (engine/anon_tls/, under a socket) against
// OpenSSL itself, the library Broker and Zeek run it on: the openssl CLI's
// s_server and s_client with Broker's cipher string, with the extended
// master secret (OpenSSL's default) and without (an OpenSSL configured
// with -ExtendedMasterSecret), both ends of ours.
import assert from "node:assert/strict";
import { anonTlsHandshake } from "../engine/transport/anon_tls_stream.ts";
import { freePort, waitForPort } from "./broker_ref.ts";

const CIPHER = "AECDH-AES256-SHA@SECLEVEL=0"; // Broker's, in connector.cc
const dec = new TextDecoder(), enc = new TextEncoder();

/** An OpenSSL config that turns the extended master secret off (removed at the end). */
const NO_EMS = Deno.makeTempFileSync({ suffix: ".cnf" });
Deno.writeTextFileSync(
  NO_EMS,
  "openssl_conf = init\n[init]\nssl_conf = ssl\n[ssl]\nsystem_default = sys\n[sys]\n" +
    "Options = -ExtendedMasterSecret\n",
);
globalThis.addEventListener("unload", () => Deno.removeSync(NO_EMS));
const opensslEnv = (ems: boolean): Record<string, string> => ems ? {} : { OPENSSL_CONF: NO_EMS };

for (const ems of [true, false]) {
  const label = ems ? "with the extended master secret" : "without the extended master secret";

  Deno.test(`anon TLS: our client and openssl s_server -nocert, ${label}`, async () => {
    const port = freePort();
    const server = new Deno.Command("openssl", {
      args: ["s_server", "-accept", String(port), "-nocert", "-cipher", CIPHER, "-rev", "-quiet"],
      env: opensslEnv(ems),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      await waitForPort(port);
      const tls = await anonTlsHandshake(await Deno.connect({ port }), "client", 5000);
      await tls.write(enc.encode("hello broker\n"));
      let got = "";
      while (!got.includes("\n")) got += dec.decode((await tls.readChunk())!);
      assert.equal(got, "rekorb olleh\n");
      tls.close();
    } finally {
      server.kill();
      await server.output();
    }
  });

  Deno.test(`anon TLS: openssl s_client and our server, ${label}`, async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const client = new Deno.Command("openssl", {
      args: ["s_client", "-connect", `127.0.0.1:${listener.addr.port}`, "-cipher", CIPHER],
      env: opensslEnv(ems),
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const tls = await anonTlsHandshake(await listener.accept(), "server", 5000);
      const writer = client.stdin.getWriter();
      await writer.write(enc.encode("ping\n"));
      assert.equal(dec.decode((await tls.readChunk())!), "ping\n");
      await tls.write(enc.encode("pong from deno\n"));
      await new Promise((r) => setTimeout(r, 300));
      await writer.close();
      const out = dec.decode((await client.output()).stdout);
      assert.match(out, /Protocol *: TLSv1\.2/);
      assert.match(out, /Cipher *: AECDH-AES256-SHA/);
      assert.match(out, new RegExp(`Extended master secret: ${ems ? "yes" : "no"}`));
      assert.match(out, /pong from deno/);
      tls.close();
    } finally {
      listener.close();
      try {
        client.kill();
      } catch {
        // already ended
      }
    }
  });
}
