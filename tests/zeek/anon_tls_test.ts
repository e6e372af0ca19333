// Zeek with Broker's defaults, SSL on and no certificates, peers in Broker's
// anonymous TLS mode (AECDH-AES256-SHA over P-384): our endpoint with
// disableSsl false and no ssl settings peers with it both ways, and a
// plain-TCP endpoint does not get through (so TLS is really on).
import assert from "node:assert/strict";
import { count, dataToString, Event, vector } from "../../mod.ts";
import { pingsAnswered, zeekTest } from "./zeek.ts";

const SCRIPTS = ["ssl_on.zeek", "peering.zeek"];

zeekTest(
  "a default Zeek (anonymous TLS) peers to us: ping answered, peer_lost at our shutdown",
  async (t) => {
    const ep = t.endpoint({ disableSsl: false });
    const sub = ep.subscribe("/deno/peering");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek(SCRIPTS, { env: { ZEEK_ROLE: "peer", DENO_PORT: `${port}/tcp` } });
    await ep.awaitPeerSubscription("/zeek/peering");
    await zeek.waitFor(`peer_added, ${ep.id}`);
    ep.publishEvent("/zeek/peering", "Test::ping", [count(41n)]);
    await zeek.waitFor("ping, 41");
    const pong = await sub.get(5000);
    assert.ok(pong, "no pong from Zeek");
    assert.equal(dataToString(vector(...Event.from(pong.data).args)), "(42, zeek)");
    await ep.shutdown();
    await zeek.waitFor(`peer_lost, ${ep.id}`);
  },
);

zeekTest(
  "we peer to a default Zeek (anonymous TLS): pings answered; plain TCP is refused",
  async (t) => {
    const zeek = await t.zeek(SCRIPTS, { env: { ZEEK_ROLE: "listen" } });
    const zeekPort = await zeek.port();
    const plain = t.endpoint();
    await assert.rejects(plain.peer("127.0.0.1", zeekPort, { retryMs: 0 }));

    const ep = t.endpoint({ disableSsl: false });
    const sub = ep.subscribe("/deno/peering");
    await ep.peer("127.0.0.1", zeekPort);
    await ep.awaitPeerSubscription("/zeek/peering");
    await zeek.waitFor(`peer_added, ${ep.id}`);
    await pingsAnswered(ep, sub, [1n, 2n, 3n]);
    assert.equal(await ep.unpeer("127.0.0.1", zeekPort), true);
    await zeek.waitFor(`peer_lost, ${ep.id}`);
  },
);

/**
 * What a Broker peer without SSL gets back from the TLS listener at `port`
 * for its first frame (the bytes before the listener closes), as Zeek's
 * Broker::__peer_no_retry with Broker::disable_ssl = T sends it.
 */
async function answerToPlainHello(port: number): Promise<number[]> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // A frame of 26 bytes: 00 00 00 1a, then message type 1 (hello) and its body.
    await conn.write(new Uint8Array([0, 0, 0, 0x1a, 1, ...new Array(21).fill(0x5a)]));
    const got: number[] = [];
    const buf = new Uint8Array(1024);
    for (;;) {
      // The listener closes with bytes unread: a reset ends the answer as a close does.
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return got;
      got.push(...buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

zeekTest(
  "a plain Broker hello to a TLS listener gets no byte back, from Zeek (OpenSSL: no alert for a first record that is no TLS) and from us",
  async (t) => {
    const zeek = await t.zeek(SCRIPTS, { env: { ZEEK_ROLE: "listen" } });
    const zeekPort = await zeek.port();
    assert.deepEqual(await answerToPlainHello(zeekPort), [], "Zeek's answer");
    const ep = t.endpoint({ disableSsl: false });
    const port = await ep.listen("127.0.0.1", 0);
    assert.deepEqual(await answerToPlainHello(port), [], "our answer");
  },
);
