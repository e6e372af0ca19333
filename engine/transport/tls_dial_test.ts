// Dialling over TLS: what an attempt leaves behind when the server never
// answers the TLS handshake.
import assert from "node:assert/strict";
import { connectTcp } from "./tcp.ts";
import { loadTlsMaterial } from "./tls.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const tls = loadTlsMaterial({
  certificate: `${DIR}node.pem`,
  key: `${DIR}node.key`,
  cafile: `${DIR}ca.pem`,
});

/** Our sockets connected to `port` (ss's view: the kernel's, whatever Deno still holds). */
async function establishedTo(port: number): Promise<number> {
  const out = await new Deno.Command("ss", {
    args: ["-Htn", "state", "established", `( dport = :${port} )`],
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

Deno.test("TLS dial: a server that accepts but never answers the handshake gets its socket closed at the timeout", async () => {
  // A peer that takes the TCP connection and then says nothing (a stopped
  // process, a wrong service): Broker's connector waits on it for good; we
  // give up after the connect timeout, and the socket must go with it. With
  // Deno.connectTls it stayed open (a TlsConn closed during its handshake
  // keeps its socket until the server answers or closes): one more socket
  // per retry.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const accepted = listener.accept();
  await assert.rejects(connectTcp({ host: "127.0.0.1", port }, 300, tls), /timed out/);
  const server = await accepted;
  try {
    // The ClientHello came; the server holds the connection, saying nothing.
    assert.ok((await server.read(new Uint8Array(4096)) ?? 0) > 0, "a ClientHello was sent");
    assert.equal(await establishedTo(port), 0, "our end of the failed attempt is still open");
  } finally {
    server.close();
    listener.close();
  }
});
