import assert from "node:assert/strict";
import { BrokerError, count, decode, encode, Endpoint, ErrorCode, str, vector } from "../mod.ts";
import {
  GeneratorFileWriter,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { generateEncoded } from "../engine/recording/generate_encoded.ts";
import { NIL_ENTITY } from "../engine/store/entity.ts";
import { brokerClusterBenchmark } from "../tests/broker_ref.ts";
import {
  generateClusterConfig,
  isReceiver,
  listGeneratorFiles,
  peeringTree,
  readClusterConfig,
} from "./cluster_config.ts";
import { dumpStats, formatSeconds, NodeRunner } from "./cluster_bench.ts";

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
  assert.equal(mars.disableForwarding, false, "Broker 2.2.0's default: forward = true");
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

Deno.test("cluster config: every check of the C++ tool, in its words", () => {
  const node = (name: string, body: string) => `${name} { id = <local:${name}>, ${body} }`;
  const cfg = (...nodes: string[]) => `nodes {\n${nodes.join("\n")}\n}`;
  const rx = 'topics = ["/t"], num-inputs = 1';
  const tx = 'topics = ["/t"], generator-file = "g.dat"';
  const bad = (name: string, what: string, field: string) =>
    new RegExp(
      `^invalid config for node '${name}': caf::sec::invalid_argument\\("${name}", "${what}", "${field}"\\)$`,
    );
  const illegal = (field: string) => bad("a", "illegal type for field", field);
  const missing = (field: string) => bad("a", "no entry for mandatory field", field);
  rejects(cfg('a { topics = ["/t"] }', node("b", rx)), missing("id"));
  rejects(cfg("a { id = <local:a> }", node("b", rx)), missing("topics"));
  rejects(cfg('a { id = 5, topics = ["/t"] }', node("b", rx)), illegal("id"));
  rejects(cfg(node("a", 'topics = "/t"'), node("b", rx)), illegal("topics"));
  rejects(cfg(node("a", `${rx}, num-inputs = "x"`)), illegal("num-inputs"));
  rejects(cfg(node("a", `${rx}, num-outputs = -1`)), illegal("num-outputs"));
  rejects(cfg(node("a", `${rx}, num-outputs = 1.5`)), illegal("num-outputs"));
  rejects(cfg(node("a", `${rx}, forward = 1`)), illegal("forward"));
  rejects(cfg(node("a", `${rx}, peers = "b"`)), illegal("peers"));
  rejects(cfg(node("a", `${rx}, inputs-by-node = 5`)), illegal("inputs-by-node"));
  rejects(cfg(node("a", `${rx}, inputs-by-node { b = -1 }`)), illegal("inputs-by-node"));
  rejects(cfg(node("a", `${tx}, peers = ["a"]`), node("b", rx)), /^a cannot peer with itself$/);
  rejects(
    cfg(node("a", `${tx}, peers = ["zz"]`), node("b", rx)),
    /^a cannot peer to unknown node zz$/,
  );
  rejects(cfg(node("a", tx), node("b", rx)), /^a has no peering relation to any other node$/);
  rejects(cfg(node("a", `${tx}, peers = ["b"]`), node("b", tx)), /^no node expects to receive/);
  rejects(cfg(node("a", `${rx}, peers = ["b"]`), node("b", rx)), /^no node has a generator file/);
  rejects(
    cfg(node("a", `${tx}, peers = ["b", "c"]`), node("b", rx), node("c", 'topics = ["/t"]')),
    /^c neither receives nor sends$/,
  );
  rejects(cfg(node("a", tx)), /^at least two nodes required$/);
  const many = Array.from({ length: 500 }, (_, i) => node(`n${i}`, `${rx}, peers = ["n0"]`));
  rejects(cfg(...many), /^must configure less than 500 nodes$/);
  rejects(
    cfg(node("a", `${tx}, peers = ["b"]`), node("b", rx), node("c", `${rx}, peers = ["a"]`)),
    /^cannot run partial setup without inputs-by-node fields$/,
    ["c"],
  );
  rejects(cfg(node("a", tx), node("b", rx)), /^no nodes left after applying node filter$/, [
    "a",
    "b",
  ]);
  // A generator file that is neither where the tool runs nor beside the config.
  assert.throws(
    () =>
      readClusterConfig(cfg(node("a", `${tx}, peers = ["b"]`), node("b", rx)), {
        generatorFileExists: (f) => f !== "g.dat",
      }),
    (e: unknown) =>
      e instanceof BrokerError &&
      bad("a", "generator file does not exist", "g.dat").test(e.message),
  );
});

Deno.test("cluster config: mirrored peerings, partial setups and inputs-by-node", () => {
  const text = (bForwards: boolean) =>
    `nodes {
    a { id = <tcp://127.0.0.1:1>, topics = ["/t"], generator-file = "g.dat", peers = ["b"] }
    b { id = <tcp://127.0.0.1:2>, topics = ["/t"], peers = ["a"], num-inputs = 30,
        inputs-by-node { a = 10, c = 10 }, forward = ${bForwards} }
    c { id = <local:c>, topics = ["/t"], generator-file = "g.dat", peers = ["b"] }
  }`;
  // a -> b and b -> a through a b that forwards: a loop to the C++ tool.
  rejects(text(true), /^starting at node 'a' results in a routing loop$/);
  const { nodes, warnings } = readClusterConfig(text(false));
  assert.deepEqual(warnings, [
    "inconsistent data: b expects 30 messages but inputs-by-node only sums up to 20",
  ]);
  const [a, b] = nodes;
  // a -> b and b -> a: only the first direction opens a connection.
  assert.deepEqual(a.right.map((n) => n.name), ["b"]);
  assert.deepEqual(b.right, []);
  assert.deepEqual([...b.peers], []);
  const partial = readClusterConfig(text(false), { excluded: ["c"] }).nodes;
  assert.deepEqual(partial.map((n) => n.name), ["a", "b"]);
  assert.equal(partial.find(isReceiver)!.numInputs, 10, "c's share is gone");
});

Deno.test("cluster config: CAF's conversions, Broker 2.2.0's and newer field names, CAF's order", () => {
  const { nodes } = readClusterConfig(`nodes {
    zed { id = "tcp://127.0.0.1:9", topics = ["/t", 1], generator-file = "g.dat",
          num-outputs = "100", forward = "false", log-verbosity = 3 }
    amy { id = <local:amy>, peers = "[\\"zed\\"]", topics = ["/t"], num-inputs = 1e2,
          disable-forwarding = true, inputs-by-node { zed = "100" } }
    bob { id = <local:bob>, peers = ["zed"], topics = ["/t"], num-inputs = 100.0,
          disable_forwarding = false }
  }`);
  // Nodes in CAF's dictionary order, not the file's.
  assert.deepEqual(nodes.map((n) => n.name), ["amy", "bob", "zed"]);
  const [amy, bob, zed] = nodes;
  assert.equal(zed.id.port, 9);
  assert.deepEqual(zed.topics, ["/t", "1"]);
  assert.equal(zed.numOutputs, 100);
  assert.equal(zed.disableForwarding, true, 'forward = "false"');
  assert.equal(amy.numInputs, 100);
  assert.deepEqual([...amy.peers], ["zed"]);
  assert.equal(amy.disableForwarding, true, "newer Brokers' disable-forwarding");
  assert.equal(amy.inputsByNode.get("zed"), 100);
  assert.equal(bob.numInputs, 100);
  assert.equal(bob.disableForwarding, false, "what newer generate-configs wrote");
  // `forward` wins over the newer names when both are there.
  const both = readClusterConfig(`nodes {
    a { id = <local:a>, peers = ["b"], topics = ["/t"], num-inputs = 1, forward = true,
        disable-forwarding = true }
    b { id = <tcp://127.0.0.1:9>, topics = ["/t"], generator-file = "g.dat" }
  }`).nodes;
  assert.equal(both[0].disableForwarding, false);
});

Deno.test("cluster config: routing loops through forwarding nodes are refused, as the C++ tool does", () => {
  const ring = (forward: string) =>
    `nodes {
    a { id = <tcp://127.0.0.1:1>, topics = ["/t"], generator-file = "g.dat", peers = ["b"] ${forward} }
    b { id = <tcp://127.0.0.1:2>, topics = ["/t"], num-inputs = 1, peers = ["c"] ${forward} }
    c { id = <tcp://127.0.0.1:3>, topics = ["/t"], num-inputs = 1, peers = ["a"] ${forward} }
  }`;
  rejects(ring(""), /^starting at node 'a' results in a routing loop$/);
  assert.equal(readClusterConfig(ring(", forward = false")).nodes.length, 3);
  // A diamond is no loop: no path meets itself.
  const diamond = readClusterConfig(`nodes {
    a { id = <local:a>, topics = ["/t"], generator-file = "g.dat", peers = ["b", "c"] }
    b { id = <tcp://127.0.0.1:2>, topics = ["/t"], num-inputs = 1, peers = ["d"] }
    c { id = <tcp://127.0.0.1:3>, topics = ["/t"], num-inputs = 1, peers = ["d"] }
    d { id = <tcp://127.0.0.1:4>, topics = ["/t"], num-inputs = 2 }
  }`);
  assert.equal(diamond.nodes.length, 4);
});

Deno.test("cluster config: a node's own messages in inputs-by-node are not waited for", () => {
  const { nodes, warnings } = readClusterConfig(`nodes {
    a { id = <local:a>, peers = ["b"], topics = ["/t"], generator-file = "g.dat", num-inputs = 15,
        inputs-by-node { a = 10, b = 5 }, forward = false }
    b { id = <tcp://127.0.0.1:9>, topics = ["/t"], generator-file = "g.dat", num-inputs = 10,
        inputs-by-node { a = 10 }, forward = false }
  }`);
  assert.deepEqual(nodes.map((n) => n.numInputs), [5, 10]);
  assert.deepEqual(warnings, [
    "a expects 10 of its own messages, which Broker never delivers to the node that publishes them: waiting for 5 instead",
  ]);
});

Deno.test("dump-stats reads every generator-file, in CAF's order, repeats included", () => {
  assert.deepEqual(
    listGeneratorFiles(`nodes {
      b { generator-file = "b.dat", x { generator-file = "bx.dat" } }
      a { generator-file = "a.dat" }
      c { generator-file = "a.dat" }
      d { generator-file = 5 }
    }
    generator-file = "top.dat"`),
    ["a.dat", "b.dat", "bx.dat", "a.dat"],
  );
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
    const text = await broker(["bench", "cluster", "--cluster-config-file", conf], { cwd: "/" });
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.trim().split("\n").map((l) => l.replace(/[\d.e+-]+s$/, "Ts"));
    // Node lines come in the order the nodes finish; the totals close the output.
    assert.deepEqual(lines.slice(0, 2).sort(), ["earth (receiving): Ts", "mars (sending): Ts"]);
    assert.equal(lines[2], "system: Ts");
    assert.equal(lines[3].replace(/\d+/g, "N"), "messages: N sent, N received, N msgs/s");
    assert.equal(lines.length, 4);
  });
});

Deno.test("cluster bench: values generated in the clock, in one process and one per node", async () => {
  await inTempDir(async (dir) => {
    const conf = `${dir}/setup.conf`;
    await Deno.copyFile(MARS, `${dir}/mars.dat`);
    for (const extra of [[], ["--processes"]]) {
      await Deno.writeTextFile(conf, twoNodes(freePort(), "mars.dat", 1500, 1500));
      const r = await broker(
        ["bench", "cluster", conf, "--json", "--decode", "--generate-in-clock", ...extra],
        { cwd: dir },
      );
      assert.equal(r.code, 0, r.stderr);
      const result = JSON.parse(r.stdout) as Result;
      assert.equal(result.messagesSent, 1500, extra.join(" "));
      assert.equal(result.messagesReceived, 1500, extra.join(" "));
    }
  });
});

for (const way of ["generateInClock", "generateInWorker"] as const) {
  Deno.test(`cluster bench: values generated in the clock are fresh per message, from the seed (${way})`, async () => {
    // mars alone, publishing the file twice over (2,000 messages), to an
    // endpoint of the test's: every value is new (the second pass over the
    // file's entries made other values), valid, and the one the seed gives,
    // made on the sender's thread or on its Worker alike.
    const port = freePort();
    const { nodes } = readClusterConfig(twoNodes(port, MARS, 2000, 2000));
    const mars = nodes.find((n) => n.name === "mars")!;
    const runner = new NodeRunner(mars, [mars], { [way]: true, seed: 3 });
    const watcher = new Endpoint();
    try {
      await runner.init();
      const sub = watcher.subscribe("/benchmark/events", { queueSize: 4096 });
      await watcher.peer("127.0.0.1", port);
      await runner.endpoint.awaitPeerSubscription("/benchmark/events", 5000);
      await runner.send();
      const payloads: string[] = [];
      while (payloads.length < 2000) {
        const m = await sub.getEncoded(5000);
        assert.ok(m, `only ${payloads.length} of 2000 arrived`);
        for (const x of [m, ...sub.pollEncoded()]) {
          payloads.push(Array.from(x.payload, (b) => b.toString(16).padStart(2, "0")).join(""));
        }
      }
      assert.equal(new Set(payloads).size, 2000, "a value came twice");
      const shapes = readGeneratorFile(Deno.readFileSync(MARS)).entries.map((e) => e.shape!);
      const rnd = seededRandom(3);
      payloads.forEach((hex, i) => {
        const want = generateEncoded(shapes[i % shapes.length], rnd);
        assert.equal(
          hex,
          Array.from(want, (b) => b.toString(16).padStart(2, "0")).join(""),
          `#${i}`,
        );
      });
      const first = Uint8Array.from(payloads[0].match(/../g)!, (h) => parseInt(h, 16));
      assert.deepEqual(encode(decode(first)), first);
    } finally {
      await watcher.shutdown();
      await runner.shutdown();
    }
  });
}

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
    const r = await broker(["bench", "cluster", "setup.conf", "--processes", "--json", "-v"], {
      cwd: dir,
    });
    assert.equal(r.code, 0, r.stderr);
    const result = JSON.parse(r.stdout) as Result;
    assert.equal(result.messagesSent, 1500);
    assert.equal(result.messagesReceived, 1500);
    // Each node's process ran the file's traffic in memory before it came up.
    const warm = [...r.stderr.matchAll(/warm-up: (\d+) messages in \d+ ms, before the clock/g)];
    assert.equal(warm.length, 2, r.stderr);
    for (const m of warm) assert.ok(Number(m[1]) > 0, m[0]);
    assert.ok(r.stderr.lastIndexOf("warm-up:") < r.stderr.indexOf("all nodes are up and running"));
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
    assert.equal(
      missing.stderr,
      `invalid config for node 'mars': caf::sec::invalid_argument("mars", "generator file does not exist", "nope.dat")\n`,
    );
    await Deno.writeFile(`${dir}/bad.dat`, new Uint8Array([1, 2, 3, 4, 5, 6]));
    await Deno.writeTextFile(`${dir}/bad.conf`, twoNodes(port, "bad.dat", 10, 10));
    const bad = await broker(["bench", "cluster", "bad.conf"], { cwd: dir });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /not a Broker generator file/);
    const syntax = await broker(["bench", "cluster", "-"], { stdin: "nodes { a = [ }" });
    assert.equal(syntax.code, 1);
    assert.match(
      syntax.stderr,
      /^unable to parse cluster config from STDIN: <stdin>: line 1, column 15/,
    );
    const none = await broker(["bench", "cluster"]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /cluster-config-file missing/);
    const mode = await broker(["bench", "cluster", "short.conf", "--mode", "nonsense"], {
      cwd: dir,
    });
    // A usage error (exit code 2), naming the modes.
    assert.equal(mode.code, 2);
    assert.equal(
      mode.stderr,
      'broker bench cluster: --mode: expected one of benchmark, dump-stats, generate-config, shrink-generator-file; got "nonsense"\n',
    );
  });
});

Deno.test("generate-config: inputs along the tree, through forwarding nodes only, own ones too", () => {
  const rec = (
    name: string,
    peers: string[],
    topics: string[],
    outputs: [string, number][],
    disableForwarding = true,
  ) => ({
    name,
    handle: `id-${name}`,
    peerHandles: peers.map((p) => `id-${p}`),
    topics,
    disableForwarding,
    generatorFile: `${name}/messages.dat`,
    outputs: new Map(outputs),
  });
  // a -> b -> c, and b forwards: a's messages reach c through b where b subscribes
  // them too. b's own messages on its topics count as its inputs, as the C++ tool
  // counts them. Topics repeat in a recording and are merged; nodes keep the given order.
  const text = generateClusterConfig([
    rec("b", ["c"], ["/z/"], [["/z/2", 5]], false),
    rec("a", ["b"], ["/z/"], [["/z/a", 3]]),
    rec("c", [], ["/z/", "/z/"], [["/z/1", 7], ["/q", 2]]),
  ]);
  assert.equal(
    text,
    `nodes {
  b {
    id = <tcp://127.0.0.1:8000>
    num-inputs = 15
    inputs-by-node {
      a = 3
      b = 5
      c = 7
    }
    forward = true
    topics = [
      "/z/",
    ]
    peers = [
      "c",
    ]
    generator-file = "b/messages.dat"
  }
  a {
    id = <local:a>
    num-inputs = 15
    inputs-by-node {
      a = 3
      b = 5
      c = 7
    }
    forward = false
    topics = [
      "/z/",
    ]
    peers = [
      "b",
    ]
    generator-file = "a/messages.dat"
  }
  c {
    id = <tcp://127.0.0.1:8001>
    num-inputs = 15
    inputs-by-node {
      a = 3
      b = 5
      c = 7
    }
    forward = false
    topics = [
      "/z/",
    ]
    generator-file = "c/messages.dat"
  }
}
`,
  );
  // What it generates reads back, each node's own messages taken off its inputs.
  const { nodes, warnings } = readClusterConfig(text);
  assert.deepEqual(nodes.map((n) => [n.name, n.numInputs, n.disableForwarding]), [
    ["a", 12, true],
    ["b", 10, false],
    ["c", 8, true],
  ]);
  assert.equal(warnings.length, 3);
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
  // Both sides record a peering: through a node that forwards, a loop.
  bad(
    [rec("a", ["b"], ["/z/"], [["/z", 1]], false), rec("b", ["a"], ["/z/"], [])],
    /starting at node 'b' results in a routing loop/,
  );
});

/** A recording directory as Broker's recorder leaves it; `messages` are data or a command per entry. */
async function writeRecording(
  dir: string,
  spec: {
    id: string;
    peers: string;
    topics: string;
    conf: string;
    messages: [string, "data" | "command"][];
  },
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/id.txt`, spec.id);
  await Deno.writeTextFile(`${dir}/peers.txt`, spec.peers);
  await Deno.writeTextFile(`${dir}/topics.txt`, spec.topics);
  await Deno.writeTextFile(`${dir}/broker.conf`, spec.conf);
  const w = new GeneratorFileWriter();
  for (const [topic, kind] of spec.messages) {
    if (kind === "data") w.addData(topic, vector(str("x"), count(1n)));
    else {
      w.addCommand(topic, {
        type: "put",
        key: str("k"),
        value: count(1n),
        expiry: null,
        publisher: NIL_ENTITY,
      });
    }
  }
  await Deno.writeFile(`${dir}/messages.dat`, w.bytes());
}

/** Runs Broker 2.2.0's broker-cluster-benchmark (a test that needs it fails when it is missing). */
async function cxx(
  args: string[],
  options: { cwd?: string; stdin?: string; timeoutMs?: number } = {},
) {
  const child = new Deno.Command(brokerClusterBenchmark(), {
    args,
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
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 30_000);
  const out = await child.output();
  clearTimeout(timer);
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("generate-config writes byte for byte what Broker 2.2.0's tool writes (live)", async () => {
  const root = await Deno.makeTempDir();
  try {
    const many = (topic: string, n: number, kind: "data" | "command" = "data") =>
      Array.from({ length: n }, () => [topic, kind] as [string, "data" | "command"]);
    // a -> b -> c and d -> b; only b forwards. Ids with spaces around, blank lines and
    // repeats in peers.txt and topics.txt, broker.conf in all its spellings, store
    // commands, a topic with a quote in it, and directories given out of order.
    await writeRecording(`${root}/x/a`, {
      id: "  A-ID\n",
      peers: "B-ID\n\nB-ID\n",
      topics: "/z/\n/z/\n",
      conf: "broker {\n  forward = false\n}\n",
      messages: [...many("/z/a", 3), ...many("kv/<$>/data/master", 2, "command")],
    });
    await writeRecording(`${root}/x/b`, {
      id: "B-ID",
      peers: "C-ID\n",
      topics: '/z/\n/q\n/odd"topic\nkv/<$>/data/master\n',
      conf: "broker.forward = true\n",
      messages: [...many("/z/b", 5), ...many("/q/x", 1)],
    });
    await writeRecording(`${root}/x/c`, {
      id: "C-ID\n",
      peers: "",
      topics: "/z/\nkv/<$>/data/clone\n",
      conf: "broker {\n  disable-ssl = true\n}\n",
      messages: [...many("kv/<$>/data/clone", 2, "command"), ...many("/z/c", 4)],
    });
    await writeRecording(`${root}/x/d`, {
      id: "D-ID\n",
      peers: "B-ID\n",
      topics: "/z/1\n/z/\n",
      conf: 'broker { forward = "false" }\n',
      messages: [...many("/z/1", 7), ...many("/other", 2)],
    });
    const dirs = ["x/d", "x/b/", "x/a", "x/c"];
    const theirs = await cxx(["--mode=generate-config", ...dirs], { cwd: root });
    assert.equal(theirs.code, 0, theirs.stderr);
    const ours = await broker(["bench", "cluster", "--mode", "generate-config", ...dirs], {
      cwd: root,
    });
    assert.equal(ours.code, 0, ours.stderr);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stdout, /"\/odd"topic",/, "strings as they are, as the C++ tool prints them");
    // With absolute paths and a routing loop, the two agree too.
    const abs = dirs.map((d) => `${root}/${d}`);
    const [t2, o2] = await Promise.all([
      cxx(["--mode=generate-config", ...abs]),
      broker(["bench", "cluster", "--mode", "generate-config", ...abs]),
    ]);
    assert.equal(o2.stdout, t2.stdout);
    await Deno.writeTextFile(`${root}/x/c/peers.txt`, "B-ID\n");
    const [t3, o3] = await Promise.all([
      cxx(["--mode=generate-config", ...dirs], { cwd: root }),
      broker(["bench", "cluster", "--mode", "generate-config", ...dirs], { cwd: root }),
    ]);
    assert.equal(t3.code, 1);
    assert.equal(o3.code, 1);
    assert.equal(t3.stdout, "");
    assert.equal(o3.stdout, "");
    // The C++ tool colours its error lines (caf::term): compare the words.
    const plain = (t: string) => t.replace(new RegExp("\u001b\\[[0-9;]*m", "g"), "");
    assert.equal(plain(o3.stderr), "starting at node 'a' results in a routing loop\n");
    assert.equal(plain(t3.stderr), plain(o3.stderr));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("generate-config from live recordings of broker node, then the benchmark", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  await inTempDir(async (dir) => {
    const port = freePort();
    // As Zeek runs its nodes: forwarding off (or Broker 2.2.0's tool sees a loop in
    // the peering both sides recorded).
    await Deno.writeTextFile(`${dir}/node.conf`, "broker {\n  disable-forwarding = true\n}\n");
    const node = (name: string, args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "-A",
          MAIN,
          "node",
          "--config-file",
          `${dir}/node.conf`,
          "--disable-ssl",
          '--topics=["/bench/ping"]',
          ...args,
        ],
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
    assert.match(await Deno.readTextFile(`${dir}/server/broker.conf`), /forward = false/);
    const gen = await broker(
      ["bench", "cluster", "--mode", "generate-config", "server", "client"],
      { cwd: dir },
    );
    assert.equal(gen.code, 0, gen.stderr);
    // Pings and pongs go on the topic both subscribe: Broker's tool counts each
    // node's own messages as its inputs; we read them back and do not wait for them.
    assert.match(gen.stdout, /inputs-by-node \{\n {6}client = \d+\n {6}server = \d+\n/);
    const { nodes, warnings } = readClusterConfig(gen.stdout);
    assert.equal(warnings.length, 2);
    const byName = Object.fromEntries(nodes.map((n) => [n.name, n]));
    assert.equal(byName.client.id.text, "local:client");
    assert.equal(byName.server.id.text, "tcp://127.0.0.1:8000");
    assert.deepEqual([...byName.client.peers], ["server"]);
    assert.equal(byName.server.disableForwarding, true);
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
    const missing = await broker(
      ["bench", "cluster", "--mode", "generate-config", "server", "nope"],
      { cwd: dir },
    );
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

// ------------------------------------------------------------------ the Zeek-like recording

const ZEEK = new URL("../fixtures/zeek-cluster", import.meta.url).pathname;
const ZEEK_NODES = ["logger", "manager", "proxy", "worker-1", "worker-2"];

/** The config with a free port for every `tcp://127.0.0.1:` id (tests run side by side). */
function freshPorts(config: string): string {
  const ports = new Map<string, number>();
  return config.replace(/tcp:\/\/127\.0\.0\.1:(\d+)/g, (_, p: string) => {
    if (!ports.has(p)) ports.set(p, freePort());
    return `tcp://127.0.0.1:${ports.get(p)}`;
  });
}

/**
 * Runs `run` on `config` with fresh ports, and again (three tries) when one
 * of them was taken between picking and listening by a test running beside.
 */
async function onFreshPorts(
  config: string,
  run: (config: string) => Promise<{ code: number; stdout: string; stderr: string }>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  for (let attempt = 1;; attempt++) {
    const r = await run(freshPorts(config));
    if (attempt === 3 || !/AddrInUse/.test(r.stderr)) return r;
  }
}

/** Entries per node in the fixture's generator files, and how many are store commands. */
async function zeekEntries(): Promise<{ total: number; commands: number }> {
  let total = 0, commands = 0;
  for (const n of ZEEK_NODES) {
    const file = readGeneratorFile(await Deno.readFile(`${ZEEK}/${n}/messages.dat`));
    total += file.entries.length;
    commands += file.entries.filter((e) => e.kind === "command").length;
  }
  return { total, commands };
}

Deno.test("Zeek-like recording: our benchmark runs its template config, store commands included", async () => {
  const template = await Deno.readTextFile(`${ZEEK}/cluster.conf`);
  const { nodes } = readClusterConfig(template);
  const expected = nodes.reduce((a, n) => a + n.numInputs, 0);
  const { total, commands } = await zeekEntries();
  assert.ok(commands > 0, "the recording holds store commands");
  assert.ok(total >= 300 && total <= 1000, `${total} entries`);
  // Text output, receivers building every value and decoding every command.
  const text = await onFreshPorts(
    template,
    (stdin) => broker(["bench", "cluster", "-", "--decode"], { cwd: ZEEK, stdin }),
  );
  assert.equal(text.code, 0, text.stderr);
  const lines = text.stdout.trim().split("\n").map((l) => l.replace(/[\d.e+-]+s$/, "Ts"));
  assert.deepEqual(
    lines.slice(0, -2).sort(),
    ZEEK_NODES.flatMap((n) => [`${n} (receiving): Ts`, `${n} (sending): Ts`]).sort(),
  );
  assert.equal(lines.at(-2), "system: Ts");
  assert.equal(
    lines.at(-1),
    `messages: ${total} sent, ${expected} received, N msgs/s`.replace(
      "N",
      lines.at(-1)!.match(/(\d+) msgs\/s$/)![1],
    ),
  );
  // Values and store commands made on each sender's Worker: the same counts.
  const worker = await onFreshPorts(
    template,
    (stdin) =>
      broker(["bench", "cluster", "-", "--generate-in-worker", "--decode", "--json"], {
        cwd: ZEEK,
        stdin,
      }),
  );
  assert.equal(worker.code, 0, worker.stderr);
  const byWorker = JSON.parse(worker.stdout) as Result;
  assert.equal(byWorker.messagesSent, total);
  assert.equal(byWorker.messagesReceived, expected);
  // One process per node: the proxy's only inputs are the master's store commands.
  const multi = await onFreshPorts(
    template,
    (stdin) => broker(["bench", "cluster", "-", "--processes", "--json"], { cwd: ZEEK, stdin }),
  );
  assert.equal(multi.code, 0, multi.stderr);
  const result = JSON.parse(multi.stdout) as Result;
  assert.equal(result.messagesSent, total);
  assert.equal(result.messagesReceived, expected);
  const proxy = result.timings.find((t) => t.name === "proxy" && t.role === "receiving")!;
  assert.equal(proxy.messages, nodes.find((n) => n.name === "proxy")!.numInputs);
  assert.ok(proxy.messages > 0);
});

Deno.test("Zeek-like recording: generate-config as Broker 2.2.0 writes it (live), and our run of it", async () => {
  // Directories out of order, one with a trailing slash: the output is the same.
  const dirs = ["worker-2", "proxy/", "logger", "worker-1", "manager"];
  const [theirs, ours] = await Promise.all([
    cxx(["--mode=generate-config", ...dirs], { cwd: ZEEK }),
    broker(["bench", "cluster", "--mode", "generate-config", ...dirs], { cwd: ZEEK }),
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(ours.code, 0, ours.stderr);
  assert.equal(ours.stdout, theirs.stdout);
  assert.match(ours.stdout, /"zeek\/known\/hosts\/<\$>\/data\/master",/);
  // Broker's tool counts each node's own pings and pongs as its inputs (and would
  // wait for them forever); we warn and wait for the rest.
  const run = await onFreshPorts(
    ours.stdout,
    (stdin) => broker(["bench", "cluster", "-"], { cwd: ZEEK, stdin }),
  );
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stderr, /logger expects \d+ of its own messages/);
  const { total } = await zeekEntries();
  const { nodes } = readClusterConfig(ours.stdout);
  const expected = nodes.reduce((a, n) => a + n.numInputs, 0);
  assert.match(run.stdout, /\nsystem: [\d.e+-]+s\n/);
  assert.match(
    run.stdout,
    new RegExp(`\\nmessages: ${total} sent, ${expected} received, \\d+ msgs/s\\n$`),
  );
});

Deno.test("Zeek-like recording: Broker 2.2.0's broker-cluster-benchmark runs its template config and agrees on dump-stats", async () => {
  const template = freshPorts(await Deno.readTextFile(`${ZEEK}/cluster.conf`));
  const run = await cxx(["--cluster-config-file=-"], { cwd: ZEEK, stdin: template });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trim().split("\n").map((l) => l.replace(/[\d.e+-]+s$/, "Ts"));
  assert.deepEqual(
    lines.slice(0, -1).sort(),
    ZEEK_NODES.flatMap((n) => [`${n} (receiving): Ts`, `${n} (sending): Ts`]).sort(),
  );
  assert.equal(lines.at(-1), "system: Ts");
  const [theirs, ours] = await Promise.all([
    cxx(["--cluster-config-file=-", "--mode=dump-stats"], { cwd: ZEEK, stdin: template }),
    broker(["bench", "cluster", "-", "--mode", "dump-stats"], { cwd: ZEEK, stdin: template }),
  ]);
  assert.equal(theirs.code, 0, theirs.stderr);
  assert.equal(ours.stdout, theirs.stdout);
  assert.match(ours.stdout, /command-entries: [1-9]/);
});

Deno.test("Zeek-like recording: a receiver of store commands only still times out instead of hanging", async () => {
  const config = `nodes {
    manager { id = <tcp://127.0.0.1:${freePort()}>, topics = ["zeek/cluster/manager"],
              generator-file = "manager/messages.dat", forward = false }
    proxy { id = <local:proxy>, peers = ["manager"], topics = ["zeek/known/hosts/<$>/data/clone"],
            num-inputs = 1000, forward = false }
  }`;
  const file = readGeneratorFile(await Deno.readFile(`${ZEEK}/manager/messages.dat`));
  const syncs = file.entries.filter((e) => e.commandName === "snapshot_sync").length;
  assert.ok(syncs > 0);
  const r = await broker(["bench", "cluster", "-", "--timeout", "1"], { cwd: ZEEK, stdin: config });
  assert.equal(r.code, 1);
  assert.match(
    r.stderr,
    new RegExp(`proxy received nothing for 1 s, last count: ${syncs} of 1000`),
  );
});
