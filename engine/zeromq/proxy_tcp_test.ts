// Our proxy's bulk forwarding over loopback TCP, with raw ZMTP peers: every message reaches
// exactly the subscribers whose prefixes match, intact and in each publisher's order, with
// short and long frames, two publishers at once, and a PING inside a message.
import assert from "node:assert/strict";
import { encodeCommand } from "./command.ts";
import { encodeFrame, encodeMessage } from "./frame.ts";
import type { ZmtpEvent } from "./session.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { ZmqProxyServer } from "./tcp_proxy.ts";

const te = new TextEncoder(), td = new TextDecoder();
const N = 4000;

function messageOf(pub: string, i: number): Uint8Array[] {
  const topic = i % 3 === 0 ? `b.${pub}` : `a.${pub}.${i % 5}`;
  const body = i % 7 === 0 ? new Uint8Array(400).fill(i & 0xff) : te.encode(`${pub}:${i}`);
  return [te.encode(topic), te.encode(pub), te.encode(String(i)), body];
}

async function subscriber(port: number, prefixes: string[]) {
  const got: Uint8Array[][] = [];
  const ready = Promise.withResolvers<void>();
  const conn = await ZmtpConnection.dial(
    { host: "127.0.0.1", port },
    "XSUB",
    Date.now() + 5000,
    (e: ZmtpEvent) => {
      if (e.type === "ready") ready.resolve();
      else if (e.type === "message") got.push(e.parts.map((p) => p.slice()));
    },
  );
  await ready.promise;
  for (const p of prefixes) conn.write(conn.session.subscribe(p));
  return { conn, got };
}

async function publisher(port: number, waitFor: string[]) {
  const seen = new Set<string>();
  const pongs: string[] = [];
  const all = Promise.withResolvers<void>();
  const conn = await ZmtpConnection.dial(
    { host: "127.0.0.1", port },
    "XPUB",
    Date.now() + 5000,
    (e: ZmtpEvent) => {
      if (e.type === "subscription" && e.subscription.subscribe) {
        seen.add(td.decode(e.subscription.topic));
        if (waitFor.every((t) => seen.has(t))) all.resolve();
      } else if (e.type === "command") pongs.push(e.command.name);
    },
  );
  await all.promise;
  return { conn, pongs };
}

const until = async (what: () => boolean, ms = 20_000) => {
  for (const end = Date.now() + ms; !what();) {
    if (Date.now() > end) throw new Error("timed out waiting");
    await new Promise((r) => setTimeout(r, 10));
  }
};

Deno.test("our proxy forwards in bulk: the right messages to each subscriber, intact and in order", async () => {
  const proxy = ZmqProxyServer.listen();
  const s1 = await subscriber(proxy.xpubPort, ["a."]);
  const s2 = await subscriber(proxy.xpubPort, ["a.", "b.", "b.p"]); // b.p overlaps b.: once
  const p = await publisher(proxy.xsubPort, ["a.", "b.", "b.p"]);
  const q = await publisher(proxy.xsubPort, ["a.", "b.", "b.p"]);
  try {
    // Both publishers at once, each in many writes of many messages.
    for (let i = 0; i < N; i += 500) {
      for (const [name, pub] of [["p", p], ["q", q]] as const) {
        const chunk: number[] = [];
        for (let k = i; k < i + 500; k++) chunk.push(...encodeMessage(messageOf(name, k)));
        pub.conn.write(new Uint8Array(chunk));
      }
    }
    const want = (pub: string, topics: (t: string) => boolean) =>
      Array.from({ length: N }, (_, i) => messageOf(pub, i)).filter((m) => topics(td.decode(m[0])));
    const aOnly = (t: string) => t.startsWith("a.");
    const total = want("p", aOnly).length + want("q", aOnly).length;
    await until(() => s1.got.length >= total && s2.got.length >= 2 * N);
    const from = (got: Uint8Array[][], pub: string) => got.filter((m) => td.decode(m[1]) === pub);
    for (const pub of ["p", "q"]) {
      assert.deepEqual(from(s1.got, pub), want(pub, aOnly), `s1 from ${pub}`);
      assert.deepEqual(from(s2.got, pub), want(pub, () => true), `s2 from ${pub}`);
    }
    assert.equal(s1.got.length, total, "nothing more");
    assert.deepEqual(proxy.errors, []);
  } finally {
    for (const c of [p.conn, q.conn, s1.conn, s2.conn]) await c.closeAfterWrites();
    await proxy.close();
  }
});

Deno.test("our proxy answers a PING sent inside a message, and forwards the message whole", async () => {
  const proxy = ZmqProxyServer.listen();
  const s = await subscriber(proxy.xpubPort, ["t"]);
  const p = await publisher(proxy.xsubPort, ["t"]);
  try {
    const msg = encodeMessage([te.encode("t.1"), te.encode("body")]);
    const ping = encodeFrame({
      command: true,
      more: false,
      body: encodeCommand("PING", new Uint8Array([0, 10, 42])),
    });
    // The first frame (2 + 3 bytes), PING, the last frame.
    p.conn.write(new Uint8Array([...msg.subarray(0, 5), ...ping, ...msg.subarray(5)]));
    await until(() => s.got.length === 1 && p.pongs.length === 1);
    assert.deepEqual(s.got[0].map((x) => td.decode(x)), ["t.1", "body"]);
    assert.deepEqual(p.pongs, ["PONG"]);
  } finally {
    await p.conn.closeAfterWrites();
    await s.conn.closeAfterWrites();
    await proxy.close();
  }
});
