import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../mod.ts";
import { readGeneratorFile } from "../engine/recording/generator_file.ts";
import {
  generateClusterConfig,
  isReceiver,
  peeringTree,
  readClusterConfig,
} from "./cluster_config.ts";
import { dumpStats, formatSeconds } from "./cluster_bench.ts";

const MARS = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url).pathname;
const MAIN = new URL("./main.ts", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function broker(args: string[], options: { cwd?: string; stdin?: string } = {}) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: options.cwd,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (options.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(options.stdin));
    await w.close();
  }
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

function rejects(text: string, message: RegExp, excluded?: string[]): void {
  assert.throws(() => readClusterConfig(text, { excluded }), (e: unknown) => {
    assert.ok(e instanceof BrokerError, String(e));
    assert.equal(e.code, ErrorCode.invalid_data);
    assert.match(e.message, message);
    return true;
  });
}

const EXAMPLE = `nodes {
  earth {
    id = <local:earth>
    peers = ["mars"]
    topics = ["/benchmark/events"]
    num-inputs = 10000
  }
  mars {
    id = <tcp://[::1]:8001>
    topics = ["/benchmark/events"]
    generator-file = "mars.dat"
    num-outputs = 10000
  }
}`;

Deno.test("cluster config: the example from Broker's example.zip", () => {
  const { nodes, warnings } = readClusterConfig(EXAMPLE);
  assert.deepEqual(warnings, []);
  const [earth, mars] = nodes;
  assert.equal(earth.name, "earth");
  assert.equal(earth.id.scheme, "local");
  assert.equal(earth.numInputs, 10000);
  assert.deepEqual(earth.right.map((n) => n.name), ["mars"]);
  assert.equal(mars.id.host, "::1");
  assert.equal(mars.id.port, 8001);
  assert.equal(mars.numOutputs, 10000);
  assert.equal(mars.generatorFile, "mars.dat");
  assert.deepEqual(mars.left.map((n) => n.name), ["earth"]);
  assert.equal(mars.disableForwarding, true, "the C++ tool's default");
  assert.deepEqual(peeringTree(nodes), [
    "peering tree (multiple roots are allowed):",
    "earth",
    "├── topics:",
    "│   └── /benchmark/events",
    "└── peers:",
    "    └── mars",
    "        ├── topics:",
    "        │   └── /benchmark/events",
    "        └── peers:",
    "            └── (none)",
    "",
  ]);
});

Deno.test("cluster config: every check of the C++ tool", () => {
  const node = (name: string, body: string) => `${name} { id = <local:${name}>, ${body} }`;
  const cfg = (...nodes: string[]) => `nodes {\n${nodes.join("\n")}\n}`;
  const rx = 'topics = ["/t"], num-inputs = 1';
  const tx = 'topics = ["/t"], generator-file = "g.dat"';
  rejects(cfg('a { topics = ["/t"] }', node("b", rx)), /no entry for mandatory field id/);
  rejects(cfg("a { id = <local:a> }", node("b", rx)), /no entry for mandatory field topics/);
  rejects(cfg('a { id = "x", topics = ["/t"] }', node("b", rx)), /illegal type for field id/);
  rejects(cfg(node("a", 'topics = "/t"'), node("b", rx)), /illegal type for field topics/);
  rejects(cfg(node("a", `${rx}, num-inputs = "x"`)), /illegal type for field num-inputs/);
  rejects(cfg(node("a", `${tx}, peers = ["a"]`), node("b", rx)), /a cannot peer with itself/);
  rejects(cfg(node("a", `${tx}, peers = ["zz"]`), node("b", rx)), /unknown node zz/);
  rejects(cfg(node("a", tx), node("b", rx)), /a has no peering relation/);
  rejects(cfg(node("a", `${tx}, peers = ["b"]`), node("b", tx)), /no node expects to receive/);
  rejects(cfg(node("a", `${rx}, peers = ["b"]`), node("b", rx)), /no node has a generator file/);
  rejects(
    cfg(node("a", `${tx}, peers = ["b", "c"]`), node("b", rx), node("c", 'topics = ["/t"]')),
    /c neither receives nor sends/,
  );
  rejects(cfg(node("a", tx)), /at least two nodes required/);
  const many = Array.from({ length: 500 }, (_, i) => node(`n${i}`, `${rx}, peers = ["n0"]`));
  rejects(cfg(...many), /must configure less than 500 nodes/);
  rejects(
    cfg(node("a", `${tx}, peers = ["b"]`), node("b", rx), node("c", `${rx}, peers = ["a"]`)),
    /cannot run partial setup without inputs-by-node/,
    ["c"],
  );
  rejects(cfg(node("a", tx), node("b", rx)), /no nodes left/, ["a", "b"]);
});

Deno.test("cluster config: mirrored peerings, partial setups and inputs-by-node", () => {
  const text = `nodes {
    a { id = <tcp://127.0.0.1:1>, topics = ["/t"], generator-file = "g.dat", peers = ["b"] }
    b { id = <tcp://127.0.0.1:2>, topics = ["/t"], peers = ["a"], num-inputs = 30,
        inputs-by-node { a = 10, c = 10 } }
    c { id = <local:c>, topics = ["/t"], generator-file = "g.dat", peers = ["b"] }
  }`;
  const { nodes, warnings } = readClusterConfig(text);
  assert.deepEqual(warnings, [
    "inconsistent data: b expects 30 messages but inputs-by-node only sums up to 20",
  ]);
  const [a, b] = nodes;
  // a -> b and b -> a: only the first direction opens a connection.
  assert.deepEqual(a.right.map((n) => n.name), ["b"]);
  assert.deepEqual(b.right, []);
  assert.deepEqual([...b.peers], []);
  const partial = readClusterConfig(text, { excluded: ["c"] }).nodes;
  assert.deepEqual(partial.map((n) => n.name), ["a", "b"]);
  assert.equal(partial.find(isReceiver)!.numInputs, 10, "c's share is gone");
});

Deno.test("cluster bench: durations print as C++ prints doubles", () => {
  assert.equal(formatSeconds(0.1234567), "0.123457s");
  assert.equal(formatSeconds(1.5), "1.5s");
  assert.equal(formatSeconds(12.345678), "12.3457s");
  assert.equal(formatSeconds(2), "2s");
  assert.equal(formatSeconds(0.0000001), "1e-07s");
  assert.equal(formatSeconds(1234567), "1.23457e+06s");
  assert.equal(formatSeconds(0), "0s");
});

Deno.test("cluster bench: dump-stats of mars.dat", async () => {
  const lines = dumpStats("mars.dat", readGeneratorFile(await Deno.readFile(MARS)));
  assert.deepEqual(lines, [
    "mars.dat",
    "├── entries: 1000",
    "|   ├── data-entries: 1000",
    "|   └── command-entries: 0",
    "└── topics:",
    "    └── /benchmark/events (1000)",
  ]);
  await inTempDir(async (dir) => {
    const r = await broker(["bench", "cluster", "-", "--mode", "dump-stats"], {
      cwd: dir,
      stdin: EXAMPLE,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, lines.join("\n") + "\n");
  });
});

/** Runs `fn` in a fresh directory holding a copy of mars.dat, removed afterwards. */
async function inTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(MARS, `${dir}/mars.dat`);
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function twoNodes(port: number, generator: string, outputs: number, inputs: number): string {
  return `# mars publishes, earth receives
nodes {
  earth {
    id = <local:earth>
    peers = ["mars"]
    topics = ["/benchmark/events"]
    num-inputs = ${inputs}
  }
  mars {
    id = <tcp://127.0.0.1:${port}>
    topics = ["/benchmark/events"]
    generator-file = "${generator}"
    num-outputs = ${outputs}
  }
}`;
}

interface Result {
  timings: { name: string; role: string; messages: number; seconds: number }[];
  messagesSent: number;
  messagesReceived: number;
  messagesPerSecond: number;
  systemSeconds: number;
}

Deno.test("cluster bench: two nodes in one process, the file looped 2.5 times", async () => {
  await inTempDir(async (dir) => {
    const conf = `${dir}/setup.conf`;
    await Deno.copyFile(MARS, `${dir}/mars.dat`);
    await Deno.writeTextFile(conf, twoNodes(freePort(), "mars.dat", 2500, 2500));
    // Run from elsewhere: the generator file is found beside the config.
    const r = await broker(["bench", "cluster", conf, "--json"], { cwd: "/" });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Result;
    assert.equal(result.messagesSent, 2500);
    assert.equal(result.messagesReceived, 2500);
    assert.ok(result.messagesPerSecond > 0 && result.systemSeconds > 0);
    const roles = result.timings.map((t) => `${t.name} ${t.role} ${t.messages}`).sort();
    assert.deepEqual(roles, ["earth receiving 2500", "mars sending 2500"]);
    // The text form: the C++ tool's lines, then ours.
    const text = await broker(["bench", "cluster", "-c", conf], { cwd: "/" });
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split("\n").map((l) => l.replace(/[\d.e+-]+s$/, "Ts"));
    // Node lines come in the order the nodes finish; the totals close the output.
    assert.deepEqual(lines.slice(0, 2).sort(), ["earth (receiving): Ts", "mars (sending): Ts"]);
    assert.equal(lines[2], "system: Ts");
    assert.equal(lines[3].replace(/\d+/g, "N"), "messages: N sent, N received, N msgs/s");
    assert.equal(lines.length, 4);
  });
});

Deno.test("cluster bench: a relay that forwards, and two senders into one receiver", async () => {
  await inTempDir(async (dir) => {
    const [pm, pv] = [freePort(), freePort()];
    // mars and venus publish 700 and 300 (venus stops mid-file); jupiter relays
    // to earth with forwarding on, so both it and earth count all 1000.
    await Deno.writeTextFile(
      `${dir}/c.conf`,
      `nodes {
        mars { id = <tcp://127.0.0.1:${pm}>, topics = ["/benchmark"], generator-file = "mars.dat", num-outputs = 700 }
        venus { id = <tcp://127.0.0.1:${pv}>, topics = ["/benchmark"], generator-file = "mars.dat", num-outputs = 300 }
        jupiter { id = <local:jupiter>, peers = ["mars", "venus", "earth"], topics = ["/benchmark/"],
                  num-inputs = 1000, disable-forwarding = false }
        earth { id = <tcp://127.0.0.1:${freePort()}>, topics = ["/benchmark/events"], num-inputs = 1000 }
      }`,
    );
    const r = await broker(["bench", "cluster", `${dir}/c.conf`, "--json", "-v"]);
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Result;
    assert.equal(result.messagesSent, 1000);
    assert.equal(result.messagesReceived, 2000);
    assert.match(r.stderr, /jupiter successfully peered to tcp:\/\/127\.0\.0\.1:\d+ \(earth\)/);
    assert.match(r.stderr, /all nodes are up and running, run benchmark/);
  });
});

Deno.test("cluster bench: one process per node", async () => {
  await inTempDir(async (dir) => {
    await Deno.writeTextFile(`${dir}/setup.conf`, twoNodes(freePort(), "mars.dat", 1500, 1500));
    const r = await broker(["bench", "cluster", "setup.conf", "--processes", "--json"], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Result;
    assert.equal(result.messagesSent, 1500);
    assert.equal(result.messagesReceived, 1500);
  });
});

Deno.test("cluster bench: bad input ends with one line and exit code 1", async () => {
  await inTempDir(async (dir) => {
    const port = freePort();
    // Earth waits for more than mars sends: a timeout, not a hang.
    await Deno.writeTextFile(`${dir}/short.conf`, twoNodes(port, "mars.dat", 10, 20));
    const short = await broker(["bench", "cluster", "short.conf", "--timeout", "1"], { cwd: dir });
    assert.equal(short.code, 1);
    assert.match(short.stderr, /earth received nothing for 1 s, last count: 10 of 20/);
    await Deno.writeTextFile(`${dir}/missing.conf`, twoNodes(port, "nope.dat", 10, 10));
    const missing = await broker(["bench", "cluster", "missing.conf"], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /generator file does not exist: nope\.dat/);
    await Deno.writeFile(`${dir}/bad.dat`, new Uint8Array([1, 2, 3, 4, 5, 6]));
    await Deno.writeTextFile(`${dir}/bad.conf`, twoNodes(port, "bad.dat", 10, 10));
    const bad = await broker(["bench", "cluster", "bad.conf"], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a Broker generator file/);
    const syntax = await broker(["bench", "cluster", "-"], { stdin: "nodes { a = [ }" });
    assert.equal(syntax.code, 1);
    assert.match(syntax.stderr, /<stdin>: line 1, column 15/);
    const none = await broker(["bench", "cluster"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /cluster-config-file missing/);
    const mode = await broker(["bench", "cluster", "short.conf", "--mode", "nonsense"], {
      cwd: dir,
    });
    assert.equal(mode.code, 1);
    assert.equal(mode.stderr, "invalid mode\n");
  });
});

Deno.test("generate-config: inputs along the tree, through forwarding nodes only", () => {
  const rec = (
    name: string,
    peers: string[],
    topics: string[],
    outputs: [string, number][],
    disableForwarding = false,
  ) => ({
    name,
    handle: `id-${name}`,
    peerHandles: peers.map((p) => `id-${p}`),
    topics,
    disableForwarding,
    generatorFile: `${name}/messages.dat`,
    outputs: new Map(outputs),
  });
  // a - b - c, each pair recorded from both sides: in name order a peers to b and
  // b to c. b forwards, a does not. Topics repeat in a recording and are merged.
  const text = generateClusterConfig([
    rec("c", ["b"], ["/z/", "/z/"], [["/z/1", 7], ["/q", 2]]),
    rec("a", ["b"], ["/z/"], [], true),
    rec("b", ["a", "c"], ["/z/"], [["/z/2", 5]]),
  ]);
  assert.equal(
    text,
    `nodes {
  a {
    id = <local:a>
    num-inputs = 12
    inputs-by-node {
      b = 5
      c = 7
    }
    disable_forwarding = true
    topics = [
      "/z/",
    ]
    peers = [
      "b",
    ]
  }
  b {
    id = <tcp://127.0.0.1:8000>
    num-inputs = 7
    inputs-by-node {
      c = 7
    }
    disable_forwarding = false
    topics = [
      "/z/",
    ]
    peers = [
      "c",
    ]
    generator-file = "b/messages.dat"
  }
  c {
    id = <tcp://127.0.0.1:8001>
    num-inputs = 5
    inputs-by-node {
      b = 5
    }
    disable_forwarding = false
    topics = [
      "/z/",
    ]
    generator-file = "c/messages.dat"
  }
}
`,
  );
  // What it generates reads back as a valid cluster.
  const { nodes } = readClusterConfig(text);
  assert.deepEqual(nodes.map((n) => [n.name, n.numInputs, n.disableForwarding]), [
    ["a", 12, true],
    ["b", 7, false],
    ["c", 5, false],
  ]);
  const bad = (list: ReturnType<typeof rec>[], msg: RegExp) =>
    assert.throws(
      () => generateClusterConfig(list),
      (e: unknown) => e instanceof BrokerError && msg.test(e.message),
    );
  bad([rec("a", ["x"], [], []), rec("b", [], [], [])], /missing data: cannot resolve peer ID id-x/);
  bad(
    [rec("a", ["a"], [], []), rec("b", [], [], [])],
    /corrupted data: id-a cannot peer with itself/,
  );
  bad(
    [rec("a", ["b"], [], []), { ...rec("b", [], [], []), handle: "id-a" }],
    /node ID: id-a appears twice/,
  );
  bad([rec("a", ["b"], [], []), rec("a", [], [], [])], /node name "a" appears twice/);
});

Deno.test("generate-config from live recordings of broker node, then the benchmark", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await inTempDir(async (dir) => {
    const port = freePort();
    const node = (name: string, args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "node", "--disable-ssl", '--topics=["/bench/ping"]', ...args],
        env: { BROKER_RECORDING_DIRECTORY: `${dir}/${name}` },
        stdout: "null",
        stderr: "piped",
      });
    const server = node("server", ["-m", "pong", "-p", String(port)]).spawn();
    for (let i = 0; i < 100; i++) {
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const client = await node("client", [
      "-m",
      "ping",
      "-n",
      "40",
      `--peers=[<tcp://127.0.0.1:${port}>]`,
    ]).output();
    assert.equal(client.code, 0, new TextDecoder().decode(client.stderr));
    // A pong node runs until stopped: a signal still leaves its recording complete.
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 143);
    const gen = await broker(
      ["bench", "cluster", "--mode", "generate-config", "server", "client"],
      {
        cwd: dir,
      },
    );
    assert.equal(gen.code, 0, gen.stderr);
    const { nodes } = readClusterConfig(gen.stdout);
    const byName = Object.fromEntries(nodes.map((n) => [n.name, n]));
    assert.equal(byName.client.id.text, "local:client");
    assert.equal(byName.server.id.text, "tcp://127.0.0.1:8000");
    assert.deepEqual([...byName.client.peers], ["server"]);
    // At least ping 0 and pings 1..40 one way, as many pongs the other.
    assert.ok(byName.server.numInputs >= 41, gen.stdout);
    assert.equal(byName.client.numInputs, byName.server.numInputs);
    await Deno.writeTextFile(
      `${dir}/gen.conf`,
      gen.stdout.replace("tcp://127.0.0.1:8000", `tcp://127.0.0.1:${freePort()}`),
    );
    const run = await broker(["bench", "cluster", "gen.conf", "--json"], { cwd: dir });
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as Result;
    assert.equal(result.messagesReceived, 2 * byName.server.numInputs);
    const missing = await broker([
      "bench",
      "cluster",
      "--mode",
      "generate-config",
      "server",
      "nope",
    ], {
      cwd: dir,
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /"nope" is not a directory/);
  });
});

Deno.test("shrink-generator-file: the first N entries, byte for byte", async () => {
  await inTempDir(async (dir) => {
    const r = await broker([
      "bench",
      "cluster",
      "--mode",
      "shrink-generator-file",
      MARS,
      "small.dat",
      "10",
    ], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const mars = await Deno.readFile(MARS);
    const small = await Deno.readFile(`${dir}/small.dat`);
    assert.deepEqual(small, mars.subarray(0, small.length), "a prefix of the original");
    const file = readGeneratorFile(small);
    const full = readGeneratorFile(mars);
    assert.equal(file.entries.length, 10);
    assert.deepEqual(file.entries, full.entries.slice(0, 10));
    const again = await broker([
      "bench",
      "cluster",
      "--mode",
      "shrink-generator-file",
      MARS,
      "small.dat",
      "5",
    ], {
      cwd: dir,
    });
    assert.equal(again.code, 1);
    assert.match(again.stderr, /output file small\.dat already exists/);
    const args = await broker([
      "bench",
      "cluster",
      "--mode",
      "shrink-generator-file",
      MARS,
      "x.dat",
    ], { cwd: dir });
    assert.equal(args.code, 1);
    assert.match(args.stderr, /expected three positional arguments: INPUT OUTPUT NEW_SIZE/);
  });
});
