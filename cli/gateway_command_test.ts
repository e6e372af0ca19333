// `broker gateway`: its options (the manual's forms, broker.conf, usage
// errors) and the command end to end as a child process between our endpoints.
import assert from "node:assert/strict";
import { Endpoint, str } from "../mod.ts";
import { freePort, waitForPort } from "../tests/broker_ref.ts";
import { resolveBridgeOptions } from "./bridge_command.ts";
import { parseCafConfig } from "./caf_config.ts";
import { resolveGatewayOptions } from "./gateway_command.ts";
import { main } from "./main.ts";
import { spawnCli } from "../tests/cli_child.ts";

Deno.test("gateway options: the manual's command line and broker.conf give the same gateway", () => {
  const cli = resolveGatewayOptions({
    "internal.port": "8080",
    "internal.peers": "[tcp://mars:1234, tcp://venus:2345]",
    "external.port": "9090",
    "external.peers": "[<tcp://proxima-centauri:3456>]",
    "internal.disableForwarding": true,
  });
  const conf = resolveGatewayOptions(
    {},
    parseCafConfig(`
      internal {
        port = 8080
        peers = [
          <tcp://mars:1234>,
          <tcp://venus:2345>,
        ]
        disable-forwarding = true
      }
      external {
        port = 9090
        peers = [
          <tcp://proxima-centauri:3456>,
        ]
      }
    `),
  );
  assert.deepEqual(cli, conf);
  assert.deepEqual(cli.gateway.internal, {
    port: 8080,
    peers: [{ host: "mars", port: 1234 }, { host: "venus", port: 2345 }],
    disableForwarding: true,
  });
  assert.deepEqual(cli.gateway.external?.peers, [{ host: "proxima-centauri", port: 3456 }]);
  // Both sides run TLS by default, as Broker's endpoints: anonymous without a broker.ssl setting.
  assert.deepEqual(cli.gateway.endpoint, { disableSsl: false, ssl: {} });
  // Plain TCP with --disable-ssl, or broker.conf's broker.disable-ssl, as broker node reads it.
  for (
    const [flags, config] of [
      [{ disableSsl: true }, ""],
      [{}, "broker { disable-ssl = true }"],
    ] as const
  ) {
    const o = resolveGatewayOptions(
      { "internal.port": "8080", "external.port": "9090", ...flags },
      parseCafConfig(config),
    );
    assert.deepEqual(o.gateway.endpoint, { disableSsl: true });
  }
  // The command line wins over the file; policies from either.
  const mixed = resolveGatewayOptions(
    { "internal.port": "7000", "outward.allow": '["/logs/"]' },
    parseCafConfig(`internal { port = 1 } external { port = 2 } inward { deny = ["/secret"] }`),
  );
  assert.equal(mixed.gateway.internal?.port, 7000);
  assert.deepEqual(mixed.gateway.outward, { allow: ["/logs/"] });
  assert.deepEqual(mixed.gateway.inward, { deny: ["/secret"] });
});

Deno.test("gateway options: every bad value is a usage error (exit 2) before anything runs", async () => {
  const port = freePort();
  const run = async (...args: string[]) => {
    let err = "";
    const code = await main(["gateway", ...args], {
      writeErr: (s) => err += s,
      writeOut: () => {},
      colorErr: false,
    });
    return { code, err };
  };
  const cases: [string[], RegExp][] = [
    [["--internal.port=0"], /--external\.port: the external side neither listens nor peers/],
    [["--internal.port=x", "--external.port=0"], /--internal\.port: expected a port/],
    [["--internal.port=0", "--external.peers=nope"], /--external\.peers: no port in "nope"/],
    [
      ["--internal.port=0", "--external.port=0", "--inward.deny="],
      /--inward\.deny: expected topics/,
    ],
    [["--internal.port=0", "--external.port=0", "--retry=soon"], /--retry: expected a duration/],
    [
      ["--internal.port=0", "--internal.address=1.2.3.4:5", "--external.port=0"],
      /--internal\.address: .*the port is an option of its own/,
    ],
    [["--internal.port=0", "--external.port=0", "--bogus"], /--bogus: unknown option/],
    [["--config-file=/no/such/broker.conf"], /--config-file: cannot read configuration file/],
    // Two of its own listeners on one port: the second bind would fail once the first side is up.
    [
      [`--internal.port=${port}`, `--external.port=${port}`],
      new RegExp(`--external\\.port: port ${port} is --internal\\.port's too`),
    ],
    [
      ["--internal.port=0", `--external.port=${port}`, `--broker.metrics.port=${port}`],
      new RegExp(`--broker\\.metrics\\.port: port ${port} is --external\\.port's too`),
    ],
  ];
  for (const [args, expected] of cases) {
    const r = await run(...args);
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, expected);
    assert.match(r.err, /^broker gateway: /);
  }
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/typo.conf`, "internal { prot = 1 } external { port = 2 }");
    const r = await run(`--config-file=${dir}/typo.conf`);
    assert.equal(r.code, 2);
    assert.match(r.err, /internal\.prot: unknown key in the configuration file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  "broker gateway end to end: a child process between our endpoints, broker.conf, policy, -v, SIGTERM",
  {
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    const dir = await Deno.makeTempDir();
    const ext = freePort(), int = freePort();
    await Deno.writeTextFile(
      `${dir}/broker.conf`,
      `internal { port = ${int}\n address = "127.0.0.1" }\nexternal { port = ${ext}\n address = "127.0.0.1" }\n`,
    );
    const gateway = spawnCli([
      "gateway",
      "--disable-ssl",
      `--config-file=${dir}/broker.conf`,
      "--outward.deny=/t/secret",
      "--retry=0",
      "-v",
    ]);
    const out = gateway.out;
    const timer = setTimeout(() => gateway.child.kill("SIGKILL"), 30_000);
    const core = new Endpoint(), sensor = new Endpoint();
    try {
      await waitForPort(ext, 20_000);
      await waitForPort(int, 5000);
      const sub = core.subscribe("/t");
      await core.peer("127.0.0.1", ext, { retryMs: 0 });
      await sensor.peer("127.0.0.1", int, { retryMs: 0 });
      await sensor.awaitPeerSubscription("/t/x", 5000);
      sensor.publish("/t/secret/x", str("denied"));
      sensor.publish("/t/x", str("crossed"));
      const m = await sub.get(5000);
      assert.equal(m?.topic, "/t/x");
      assert.equal(await sub.get(300), undefined, "the denied topic did not cross");
      const gwId = out.find((l) => l.startsWith("*** gateway "))?.slice(12);
      assert.ok(gwId, out.join("\n"));
      assert.deepEqual(core.peers().map((p) => p.id), [gwId]);
      assert.ok(out.includes(`*** external: listening on 127.0.0.1:${ext}`), out.join("\n"));
      assert.ok(out.includes("outward: /t/x crossed"), out.join("\n"));
    } finally {
      await sensor.shutdown();
      await core.shutdown();
      const { status } = await gateway.stop();
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true });
      assert.equal(status.code, 0, gateway.err());
    }
    const err = gateway.err();
    assert.match(
      err,
      /\*\*\* internal: peer_added [0-9a-f-]+ 127\.0\.0\.1:\d+: handshake successful/,
    );
    assert.match(err, /outward 1 messages, \d+ bytes, 1 dropped by policy/);
  },
);

Deno.test("gateway and bridge options: 0.0.0.0, as the default, is every interface (no address to the engine)", () => {
  const gw = resolveGatewayOptions({
    "internal.port": "8080",
    "internal.address": "0.0.0.0",
    "external.port": "9090",
    "external.address": "127.0.0.1",
  });
  assert.equal(gw.gateway.internal?.address, undefined);
  assert.equal(gw.gateway.external?.address, "127.0.0.1");
  const at = {
    topics: "/a",
    "broker.port": "9999",
    "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
    "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
    "cluster.node": "worker-1",
  };
  assert.deepEqual(resolveBridgeOptions(at).bridge.listen, { port: 9999 });
  assert.deepEqual(
    resolveBridgeOptions({ ...at, "broker.address": "0.0.0.0" }).bridge.listen,
    { port: 9999 },
  );
  assert.deepEqual(
    resolveBridgeOptions({ ...at, "broker.address": "::1" }).bridge.listen,
    { host: "::1", port: 9999 },
  );
});

Deno.test("gateway and bridge options: --broker.ssl.passphrase is taken, as by every subcommand now that keys can be decrypted", () => {
  // Both refused it as a usage error ("encrypted keys are not supported").
  const tls = (name: string) => new URL(`../fixtures/tls/${name}`, import.meta.url).pathname;
  const ssl = {
    "broker.ssl.certificate": tls("node.pem"),
    "broker.ssl.key": tls("node.key"),
    "broker.ssl.cafile": tls("ca.pem"),
    "broker.ssl.passphrase": "unused for a key in the clear",
  };
  const gw = resolveGatewayOptions({ "internal.port": "8080", "external.port": "9090", ...ssl });
  assert.equal(gw.gateway.endpoint?.ssl?.passphrase, "unused for a key in the clear");
  const bridge = resolveBridgeOptions({
    topics: "/a",
    "broker.port": "9999",
    "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
    "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
    "cluster.node": "worker-1",
    ...ssl,
  });
  assert.equal(bridge.bridge.endpoint?.ssl?.passphrase, "unused for a key in the clear");
});
