// Peerings over TLS with certificates, as Broker's `broker.ssl.*` sets them up:
// ours with ours, and with the C++ broker-node both ways. The test
// certificates are in fixtures/tls (see make.sh there).
import assert from "node:assert/strict";
import { BrokerError, dataToString, Endpoint, ErrorCode, str } from "../mod.ts";
import { brokerRefTool, freePort, waitForPort } from "./broker_ref.ts";
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

Deno.test("TLS: what cannot work is a typed error when the endpoint is made", () => {
  assert.throws(
    () => new Endpoint({ disableSsl: false }),
    (e: unknown) =>
      e instanceof BrokerError && e.code === ErrorCode.invalid_data && /anonymous/.test(e.message),
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

for (const [pinger, ponger] of [["ours", "C++"], ["C++", "ours"]] as const) {
  Deno.test(`TLS interop: ${pinger} ping -> ${ponger} pong with certificates`, {
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
        ...SSL_FLAGS,
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
        ...SSL_FLAGS,
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

Deno.test("TLS: broker node without certificates says what it needs", async () => {
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
