// Dialling over TLS: what an attempt leaves behind when the server never
// answers the TLS handshake.
import assert from "node:assert/strict";
import { connectTcp } from "./tcp.ts";
import { loadCertificateTls } from "./tls.ts";

const DIR = new URL("../../fixtures/tls/", import.meta.url).pathname;
const tls = loadCertificateTls({
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

Deno.test("TLS dial: retries to a server that accepts but never answers the handshake leave at most one socket", async () => {
  // A peer that takes the TCP connection and then says nothing (a stopped
  // process, a wrong service): Broker's connector waits on it for good; we
  // give up after the connect timeout. Deno's TlsConn closed during its
  // handshake keeps its socket until the server answers or closes: with it
  // alone, one more socket per retry. After one such attempt, the address is
  // dialled on node:tls, whose sockets go at the timeout.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const c of listener) held.push(c);
  })();
  try {
    for (let i = 0; i < 3; i++) {
      await assert.rejects(connectTcp({ host: "127.0.0.1", port }, 300, tls), /timed out/);
    }
    // Every ClientHello came; the server holds the connections, saying nothing.
    assert.equal(held.length, 3);
    for (const c of held) assert.ok((await c.read(new Uint8Array(4096)) ?? 0) > 0, "a ClientHello");
    assert.ok(await establishedTo(port) <= 1, "each failed attempt left its socket open");
  } finally {
    for (const c of held) c.close();
    listener.close();
    await accepting.catch(() => {});
  }
});

Deno.test("TLS dial: an address dialled on node:tls after a stall peers, and then on Deno's TLS again", async () => {
  const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = silent.addr.port;
  const accepted = silent.accept();
  await assert.rejects(connectTcp({ host: "127.0.0.1", port }, 300, tls), /timed out/);
  (await accepted).close();
  silent.close();
  // The same port, now a TLS server that answers.
  const server = Deno.listenTls({
    hostname: "127.0.0.1",
    port,
    cert: tls.cert,
    key: tls.key,
  });
  const serving = (async () => {
    for await (const c of server) await c.handshake().catch(() => {}).finally(() => c.close());
  })();
  try {
    for (let i = 0; i < 2; i++) {
      const c = await connectTcp({ host: "127.0.0.1", port }, 5000, tls);
      assert.equal(c.remote.port, port);
      c.close();
    }
  } finally {
    server.close();
    await serving.catch(() => {});
  }
});
