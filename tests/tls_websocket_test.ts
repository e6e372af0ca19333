// The WebSocket API with SSL on: TLS on the WebSocket port too, as broker-node
// runs it (checked live: with broker.ssl.* set, its web-socket port answers a
// plain upgrade with nothing, and a TLS one with 101 only when the client
// presents a certificate its CAs signed, else alert 116 certificate_required).
import assert from "node:assert/strict";
import { Endpoint } from "../mod.ts";

const DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const SSL = { certificate: `${DIR}node.pem`, key: `${DIR}node.key`, cafile: `${DIR}ca.pem` };
const UPGRADE = new TextEncoder().encode(
  "GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
    "Sec-WebSocket-Version: 13\r\n\r\n",
);

/** Sends the upgrade request over `conn`; what comes back until the end or a blank line (errors end it too). */
async function upgrade(conn: Deno.Conn): Promise<string> {
  let text = "";
  try {
    await conn.write(UPGRADE);
    const buf = new Uint8Array(4096);
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } catch {
    // refused: a TLS alert, a reset
  } finally {
    conn.close();
  }
  return text;
}

Deno.test("TLS WebSocket: with SSL on, the WebSocket API is served over TLS to clients with a trusted certificate", async () => {
  const ep = new Endpoint({ disableSsl: false, ssl: SSL, handshakeTimeoutMs: 5000 });
  try {
    const server = await ep.listenWebSocket("127.0.0.1", 0);
    const port = server.port;
    assert.ok(port > 0);
    const caCerts = [Deno.readTextFileSync(SSL.cafile)];
    const cert = Deno.readTextFileSync(SSL.certificate);
    const key = Deno.readTextFileSync(SSL.key);
    // A TLS client with our CA's certificate upgrades.
    const withCert = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts, cert, key });
    assert.match(await upgrade(withCert), /^HTTP\/1\.1 101 /);
    // A plain upgrade gets no answer: the port speaks TLS (ours answered 101 in the clear).
    const plain = await Deno.connect({ hostname: "127.0.0.1", port });
    assert.doesNotMatch(await upgrade(plain), /^HTTP/);
    // Without a client certificate the TLS handshake is refused, as broker-node's is.
    const noCert = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
    assert.equal(await upgrade(noCert), "");
  } finally {
    await ep.shutdown();
  }
});
