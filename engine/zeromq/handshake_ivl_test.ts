// A peer of our proxy that does not finish the ZMTP handshake is disconnected, as libzmq's
// ZMQ_HANDSHAKE_IVL (30 s by default, which Zeek keeps) ends it; a peer that did stays.
import assert from "node:assert/strict";
import type { ZmtpEvent } from "./session.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { ZmqProxyServer } from "./tcp_proxy.ts";

async function untilClosed(c: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(4096);
  while ((await c.read(buf).catch(() => null)) !== null) {
    // the proxy's greeting, then nothing
  }
  c.close();
}

Deno.test("our proxy disconnects peers that do not finish the ZMTP handshake in time", async () => {
  // Silent peers and ones that sent half a greeting stayed for good: each held a descriptor.
  const proxy = ZmqProxyServer.listen({ handshakeIvlMs: 200 });
  const te = new TextEncoder();
  const ready = Promise.withResolvers<void>();
  const got: string[] = [];
  const sub = await ZmtpConnection.dial(
    { host: "127.0.0.1", port: proxy.xpubPort },
    "XSUB",
    Date.now() + 5000,
    (e: ZmtpEvent) => {
      if (e.type === "ready") ready.resolve();
      else if (e.type === "message") got.push(new TextDecoder().decode(e.parts[0]));
    },
  );
  try {
    await ready.promise;
    sub.write(sub.session.subscribe("t"));
    const stuck: Deno.Conn[] = [];
    for (let i = 0; i < 8; i++) {
      const port = i % 2 ? proxy.xpubPort : proxy.xsubPort;
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      if (i % 4 >= 2) await c.write(new Uint8Array([0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0x7f, 3]));
      stuck.push(c);
    }
    await Promise.all(stuck.map(untilClosed));
    // The handshaken subscriber is still there: a publisher's message reaches it.
    const subscribed = Promise.withResolvers<void>();
    const pub = await ZmtpConnection.dial(
      { host: "127.0.0.1", port: proxy.xsubPort },
      "XPUB",
      Date.now() + 5000,
      (e: ZmtpEvent) => {
        if (e.type === "subscription") subscribed.resolve();
      },
    );
    await subscribed.promise;
    pub.write(pub.session.send([te.encode("t.1"), te.encode("x")]));
    while (got.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(got, ["t.1"]);
    assert.equal(sub.closed, false);
    await pub.closeAfterWrites();
  } finally {
    await sub.closeAfterWrites();
    await proxy.close();
  }
});
