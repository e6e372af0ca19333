// Peerings over TLS with certificates, as Broker's `broker.ssl.*` sets them up,
// and in Broker's anonymous mode (SSL on, no setting): ours with ours, and
// with the C++ broker-node both ways. The test certificates are in
// fixtures/tls (see make.sh there).
import assert from "node:assert/strict";
import {
  BrokerError,
  connectWebSocket,
  dataToString,
  Endpoint,
  ErrorCode,
  str,
  tcpWebSocket,
} from "../mod.ts";
import { brokerRefTool, freePort, RefProcess, waitForPort } from "./broker_ref.ts";
import { anonTlsHandshake } from "../engine/transport/anon_tls_stream.ts";
import { connectTcp } from "../engine/transport/tcp.ts";
import { loadTlsMaterial } from "../engine/transport/tls.ts";
import { failedHandshake } from "./raw_peer.ts";

const DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const SSL = { certificate: `${DIR}node.pem`, key: `${DIR}node.key`, cafile: `${DIR}ca.pem` };
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;
const SSL_FLAGS = [
  `--broker.ssl.certificate=${SSL.certificate}`,
  `--broker.ssl.key=${SSL.key}`,
  `--broker.ssl.cafile=${SSL.cafile}`,
];

function brokerError(code: ErrorCode) {
  return (e: unknown) => e instanceof BrokerError && e.code === code;
}

Deno.test("TLS: two endpoints with certificates peer and exchange messages", async () => {
  const a = new Endpoint({ disableSsl: false, ssl: SSL });
  const b = new Endpoint({ disableSsl: false, ssl: SSL });
  try {
    const port = await a.listen("127.0.0.1", 0);
    const sub = a.subscribe("/tls");
    await b.peer("127.0.0.1", port, { retryMs: 0 });
    await b.awaitPeerSubscription("/tls/x");
    for (let i = 0; i < 100; i++) b.publish("/tls/x", str(`m${i}`));
    for (let i = 0; i < 100; i++) {
      const m = await sub.get(2000);
      assert.equal(m && dataToString(m.data), `m${i}`);
    }
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});

Deno.test("TLS: plain and TLS endpoints do not peer; an untrusted certificate is refused", async () => {
  const server = new Endpoint({ disableSsl: false, ssl: SSL });
  const plainServer = new Endpoint();
  const plain = new Endpoint({ handshakeTimeoutMs: 2000 });
  const tls = new Endpoint({ disableSsl: false, ssl: SSL });
  const distrustful = new Endpoint({
    disableSsl: false,
    ssl: { ...SSL, cafile: `${DIR}other-ca.pem` },
  });
  try {
    const port = await server.listen("127.0.0.1", 0);
    const plainPort = await plainServer.listen("127.0.0.1", 0);
    await assert.rejects(
      plain.peer("127.0.0.1", port, { retryMs: 0 }),
      brokerError(ErrorCode.peer_unavailable),
    );
    await assert.rejects(
      tls.peer("127.0.0.1", plainPort, { retryMs: 0 }),
      brokerError(ErrorCode.peer_unavailable),
    );
    // Our client checks the server's chain against its CAs, as Broker does.
    await assert.rejects(
      distrustful.peer("127.0.0.1", port, { retryMs: 0 }),
      (e: unknown) =>
        e instanceof BrokerError && e.code === ErrorCode.peer_unavailable &&
        /certificate|issuer/i.test(e.message),
    );
    // The server drops each of those connections once its handshake fails.
    for (let i = 0; i < 100 && server.peers().length > 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepEqual(server.peers(), []);
  } finally {
    await Promise.all([server, plainServer, plain, tls, distrustful].map((e) => e.shutdown()));
  }
});

Deno.test("TLS, anonymous: endpoints with SSL on and no settings peer; plain and certificate endpoints do not get in", async () => {
  const server = new Endpoint({ disableSsl: false, handshakeTimeoutMs: 2000 });
  const anon = new Endpoint({ disableSsl: false, handshakeTimeoutMs: 2000 });
  const plain = new Endpoint({ handshakeTimeoutMs: 2000 });
  const certified = new Endpoint({ disableSsl: false, ssl: SSL, handshakeTimeoutMs: 2000 });
  try {
    const port = await server.listen("127.0.0.1", 0);
    const sub = server.subscribe("/anon");
    await anon.peer("127.0.0.1", port, { retryMs: 0 });
    await anon.awaitPeerSubscription("/anon/x");
    anon.publish("/anon/x", str("hidden from a passive observer"));
    assert.equal(dataToString((await sub.get(2000))!.data), "hidden from a passive observer");
    // Neither a plain peer nor one that offers certificate suites only shares a cipher with it.
    // A plain hello is no TLS record: the listener closes without an alert, as OpenSSL does for
    // Zeek and broker-node (tests/zeek/anon_tls_test.ts), so the plain side sees only the close.
    await assert.rejects(
      plain.peer("127.0.0.1", port, { retryMs: 0 }),
      /peer disconnected during the handshake/,
    );
    await assert.rejects(certified.peer("127.0.0.1", port, { retryMs: 0 }));
    assert.equal(server.peers().length, 1);
    await assert.rejects(
      anon.peer("127.0.0.1", await plain.listen("127.0.0.1", 0), { retryMs: 0 }),
      /the peer does not speak TLS: SSL is off there/,
    );
  } finally {
    await Promise.all([server, anon, plain, certified].map((e) => e.shutdown()));
  }
});

Deno.test("TLS: a certificate dial to a listener without SSL says SSL is off there, as the anonymous dial does (ours and broker-node's)", async () => {
  const plainServer = new Endpoint();
  const tls = new Endpoint({ disableSsl: false, ssl: SSL });
  const port = freePort();
  const node = new RefProcess("broker-node", [
    "-m",
    "relay",
    "--disable-ssl",
    "-p",
    String(port),
    '--topics=["/x"]',
  ]);
  const closing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const closer = (async () => {
    for await (const c of closing) c.close();
  })();
  const plainPeer = /the peer does not speak TLS: SSL is off there/;
  try {
    // Our listener answers the ClientHello with its own first message, at once.
    await assert.rejects(
      tls.peer("127.0.0.1", await plainServer.listen("127.0.0.1", 0), { retryMs: 0 }),
      (e: unknown) =>
        e instanceof BrokerError && e.code === ErrorCode.peer_unavailable &&
        plainPeer.test(e.message),
    );
    // broker-node answers with the same bytes, but about 1 s later (measured 1-2089 ms),
    // often past the endpoint's 1 s to connect: the dial itself, given the time.
    await waitForPort(port);
    await assert.rejects(
      connectTcp({ host: "127.0.0.1", port }, 10_000, loadTlsMaterial(SSL)),
      plainPeer,
    );
    // A listener that closes before a byte.
    await assert.rejects(
      connectTcp(
        { host: "127.0.0.1", port: (closing.addr as Deno.NetAddr).port },
        10_000,
        loadTlsMaterial(SSL),
      ),
      /the server closing before the handshake completed \(as a listener without SSL may, or a TLS server that refused us\)/,
    );
    // After a dial that timed out, the next to that address goes on node:tls (see connectTcp):
    // a listener that keeps its first connection silent, then answers as a plain Broker does.
    const stalling = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const answerer = (async () => {
      for await (const c of stalling) {
        if (held.push(c) > 1) {
          await c.write(new Uint8Array([0, 0, 0, 5, 7, 0x5a, 0x45, 0x45, 0x4b]));
        }
      }
    })();
    try {
      const addr = { host: "127.0.0.1", port: (stalling.addr as Deno.NetAddr).port };
      await assert.rejects(connectTcp(addr, 200, loadTlsMaterial(SSL)), /timed out/);
      await assert.rejects(connectTcp(addr, 10_000, loadTlsMaterial(SSL)), plainPeer);
      assert.equal(held.length, 2);
    } finally {
      stalling.close();
      await answerer.catch(() => {});
      for (const c of held) {
        try {
          c.close();
        } catch {
          // closed by the dialler
        }
      }
    }
  } finally {
    closing.close();
    await closer.catch(() => {});
    await node.stop();
    await Promise.all([plainServer, tls].map((e) => e.shutdown()));
  }
});

Deno.test("TLS: what cannot work is a typed error when the endpoint is made", () => {
  // Any broker.ssl setting asks for certificates (Broker aborts without them).
  assert.throws(
    () => new Endpoint({ disableSsl: false, ssl: { cafile: SSL.cafile } }),
    (e: unknown) =>
      e instanceof BrokerError && e.code === ErrorCode.invalid_data &&
      /SSL needs broker\.ssl\.certificate/.test(e.message),
  );
  assert.throws(
    () => new Endpoint({ disableSsl: false, ssl: { ...SSL, key: `${DIR}missing.key` } }),
    brokerError(ErrorCode.cannot_open_file),
  );
  // An encrypted key needs its passphrase (engine/transport/tls_key_test.ts has more).
  assert.throws(
    () =>
      new Endpoint({ disableSsl: false, ssl: { ...SSL, key: `${DIR}ca.pem`, passphrase: "x" } }),
    (e: unknown) => e instanceof BrokerError && /cannot decrypt key/.test(e.message),
  );
  // capath is OpenSSL's: CAs under their hashed names only, which fixtures/tls has none of
  // (engine/transport/tls_capath_test.ts has a directory that does).
  assert.throws(
    () =>
      new Endpoint({
        disableSsl: false,
        ssl: { certificate: SSL.certificate, key: SSL.key, capath: DIR },
      }),
    (e: unknown) => e instanceof BrokerError && /no CA certificates in/.test(e.message),
  );
});

async function run(cmd: string, args: string[]) {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const MODES = [["with certificates", SSL_FLAGS], [
  "anonymously (SSL on, no settings)",
  [],
]] as const;
for (const [pinger, ponger] of [["ours", "C++"], ["C++", "ours"]] as const) {
  for (const [mode, flags] of MODES) {
    Deno.test(`TLS interop: ${pinger} ping -> ${ponger} pong ${mode}`, {
      sanitizeOps: false,
      sanitizeResources: false,
    }, async () => {
      const port = freePort();
      const tool = (who: "ours" | "C++") =>
        who === "ours"
          ? [Deno.execPath(), "run", "-A", MAIN, "node"]
          : [brokerRefTool("broker-node")];
      const [pongCmd, ...pongArgs] = tool(ponger);
      const pong = new Deno.Command(pongCmd, {
        args: [
          ...pongArgs,
          "-m",
          "pong",
          '--topics=["/bench/ping"]',
          "-p",
          String(port),
          ...flags,
        ],
        stdout: "null",
        stderr: "null",
      }).spawn();
      try {
        await waitForPort(port);
        const [pingCmd, ...pingArgs] = tool(pinger);
        const ping = await run(pingCmd, [
          ...pingArgs,
          "-m",
          "ping",
          '--topics=["/bench/ping"]',
          "-n",
          "5",
          `--peers=[<tcp://127.0.0.1:${port}>]`,
          ...flags,
        ]);
        assert.equal(ping.code, 0, ping.stderr);
        const rtts = ping.stdout.trim().split("\n");
        assert.equal(rtts.length, 5, ping.stdout + ping.stderr);
        assert.ok(rtts.every((l) => /^\d+$/.test(l)));
      } finally {
        pong.kill();
        await pong.status;
      }
    });
  }
}

Deno.test("TLS: broker node with a CA and no certificate says what it needs", async () => {
  const r = await run(Deno.execPath(), [
    "run",
    "-A",
    MAIN,
    "node",
    "-m",
    "ping",
    '--topics=["/t"]',
    "-n",
    "1",
    `--broker.ssl.cafile=${SSL.cafile}`,
  ]);
  // A usage error, as in every subcommand: one line, exit 2, before anything runs.
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^broker node: SSL needs broker\.ssl\.certificate and broker\.ssl\.key/);
});

Deno.test("TLS: broker pipe publishes to a TLS endpoint with the same flags", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const ep = new Endpoint({ disableSsl: false, ssl: SSL });
  try {
    const port = await ep.listen("127.0.0.1", 0);
    const sub = ep.subscribe("/pipe");
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "pipe",
        "-m",
        "publish",
        "-t",
        "/pipe/x",
        "--peers",
        `["127.0.0.1:${port}"]`,
      ]
        .concat(SSL_FLAGS),
      stdin: "piped",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const w = child.stdin.getWriter();
    // Lines sent before the peering is up may be dropped, as with broker-pipe: repeat until one arrives.
    let got;
    for (let i = 0; i < 50 && !got; i++) {
      await w.write(new TextEncoder().encode("hello over tls\n"));
      got = await sub.get(200);
    }
    await w.close();
    assert.equal(got && dataToString(got.data), "hello over tls");
    const status = await child.output();
    assert.equal(status.code, 0, new TextDecoder().decode(status.stderr));
  } finally {
    await ep.shutdown();
  }
});

Deno.test("TLS: our listener verifies the client's certificate too, as Broker does with certificates", async () => {
  // The server trusts only another CA; the client's certificate is signed by ours.
  const server = new Endpoint({
    disableSsl: false,
    ssl: { ...SSL, cafile: `${DIR}other-ca.pem` },
    handshakeTimeoutMs: 2000,
  });
  const client = new Endpoint({ disableSsl: false, ssl: SSL, handshakeTimeoutMs: 2000 });
  const status = server.statusSubscriber({ statuses: false });
  try {
    const port = await server.listen("127.0.0.1", 0);
    await assert.rejects(client.peer("127.0.0.1", port, { retryMs: 0 }));
    // The server refuses during the TLS handshake (the client trusts the server's certificate):
    // it counts the failure and, as Broker's core, reports no status for an incoming one.
    const { event } = await failedHandshake(server);
    assert.ok(
      event.code === ErrorCode.peer_invalid ||
        event.code === ErrorCode.peer_disconnect_during_handshake,
      event.codeName,
    );
    assert.deepEqual(status.poll(), []);
    assert.equal(server.peers().length, 0);
  } finally {
    await client.shutdown();
    await server.shutdown();
  }
});

Deno.test(
  "TLS, anonymous: the WebSocket API is served over the anonymous suite, ours as broker-node's; tcpWebSocket reaches both at wss://",
  {
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    const upgrade = "GET /v1/messages/json HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n" +
      "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
      "Sec-WebSocket-Version: 13\r\n\r\n";
    /** The first line an anonymous TLS client gets for a WebSocket upgrade. */
    const statusLine = async (port: number) => {
      const tls = await anonTlsHandshake(await Deno.connect({ port }), "client", 5000);
      try {
        await tls.write(new TextEncoder().encode(upgrade));
        return new TextDecoder().decode((await tls.readChunk())!).split("\r\n")[0];
      } finally {
        tls.close();
      }
    };
    const ep = new Endpoint({ disableSsl: false });
    const publisher = new Endpoint({ disableSsl: false });
    const cxxPort = freePort(), cxxWsPort = freePort();
    const cxx = new RefProcess(
      "broker-node",
      ["-p", String(cxxPort), '--topics=["/x"]'],
      false,
      {
        BROKER_WEB_SOCKET_PORT: String(cxxWsPort),
      },
    );
    const clients: { close(): void }[] = [];
    try {
      const ours = await ep.listenWebSocket("127.0.0.1", 0);
      const oursPort = await ep.listen("127.0.0.1", 0);
      await Promise.all([waitForPort(cxxWsPort), waitForPort(cxxPort)]);
      assert.deepEqual(
        [await statusLine(ours.port), await statusLine(cxxWsPort)],
        ["HTTP/1.1 101 Switching Protocols", "HTTP/1.1 101 Switching Protocols"],
      );
      // Our client at wss://: a value published by a peer of each server (anonymous TLS too).
      for (const [wsPort, brokerPort] of [[ours.port, oursPort], [cxxWsPort, cxxPort]]) {
        const client = await connectWebSocket(`wss://127.0.0.1:${wsPort}`, ["/x"], {
          createSocket: tcpWebSocket,
          reconnectMs: 0,
        });
        clients.push(client);
        await publisher.peer("127.0.0.1", brokerPort, { retryMs: 0 });
        await publisher.awaitPeerSubscription("/x/y");
        publisher.publish("/x/y", str(`over wss to ${wsPort}`));
        const got = await client.get(5000);
        assert.equal(got && dataToString(got.data), `over wss to ${wsPort}`);
        await publisher.unpeer("127.0.0.1", brokerPort);
      }
    } finally {
      for (const c of clients) c.close();
      await cxx.stop();
      await Promise.all([ep.shutdown(), publisher.shutdown()]);
    }
  },
);
