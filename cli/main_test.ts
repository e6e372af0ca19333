import assert from "node:assert/strict";
import { buildProgram, main, VERSION } from "./main.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { DISABLE_SSL_HELP, SSL_KEYS } from "./ssl_options.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** Runs the program in this process: exit code and what it wrote to stderr and stdout. */
async function run(args: string[]): Promise<{ code: number; err: string; out: string }> {
  let err = "", out = "";
  const log = console.log;
  console.log = (...a: unknown[]) => out += a.join(" ") + "\n";
  try {
    const code = await Promise.race([
      main(args, { writeErr: (s) => err += s, writeOut: (s) => out += s, colorErr: false }),
      new Promise<number>((_, reject) =>
        setTimeout(() => reject(new Error(`still running: broker ${args.join(" ")}`)), 10_000)
      ),
    ]);
    return { code, err, out };
  } finally {
    console.log = log;
  }
}

/** Runs `deno run -A cli/main.ts ARGS` in a child process. */
async function child(args: string[]): Promise<{ code: number; err: string; out: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, err: dec.decode(r.stderr), out: dec.decode(r.stdout) };
}

// JavaScript's own error text must never reach a user.
const JS_ERROR = /NaN|BigInt|TimeoutNaNWarning|undefined|Infinity|TypeError|RangeError/;

// Every option that takes a number, a duration, a choice, a port, peers,
// topics or an address, per subcommand: the command line around it (which
// ends quickly when the value is taken), and the name the error must give.
const FREE = "127.0.0.1:1";
const SWEEP: { base: string[]; options: [string, string][] }[] = [
  {
    base: ["node", "--disable-ssl", "-t", "/t", "-m", "ping", "-n", "0"],
    options: [
      ["-n", "--num-messages"],
      ["-s", "--payload-size"],
      ["--rendezvous-retry", "--rendezvous-retry"],
      ["--ttl", "--ttl"],
      ["--peer-buffer-size", "--peer-buffer-size"],
      ["--web_socket-buffer-size", "--web_socket-buffer-size"],
      ["--output-generator-file-cap", "--output-generator-file-cap"],
      ["--max-pending-inputs-per-source", "--max-pending-inputs-per-source"],
      ["-m", "--mode"],
      ["-p", "--port"],
      ["--address", "--address"],
      ["--warm-up", "--warm-up"],
      ["--peers", "--peers"],
      ["-t", "--topics"],
      ["--endpoint-id", "--endpoint-id"],
      ["--broker.web-socket.port", "--broker.web-socket.port"],
      ["--broker.metrics.export.interval", "--broker.metrics.export.interval"],
      ["--caf.scheduler.max-threads", "--caf.scheduler.max-threads"],
      ["--caf.middleman.heartbeat-interval", "--caf.middleman.heartbeat-interval"],
      [
        "--caf.stream.size-based-policy.smoothing-factor",
        "--caf.stream.size-based-policy.smoothing-factor",
      ],
    ],
  },
  {
    base: ["pipe", "-t", "/t", "-m", "publish", "body"],
    options: [
      ["-c", "--message-cap"],
      ["--count", "--count"],
      ["-l", "--local-port"],
      ["-i", "--impl"],
      ["-m", "--mode"],
      ["--ttl", "--ttl"],
      ["--peer-buffer-size", "--peer-buffer-size"],
      ["--address", "--address"],
      ["-p", "--peers"],
      ["-t", "--topic"],
    ],
  },
  {
    base: ["record", "-o", "/dev/null", "-p", FREE],
    options: [
      ["--duration", "--duration"],
      ["-c", "--message-cap"],
      ["--count", "--count"],
      ["-l", "--local-port"],
      ["-p", "--peers"],
      ["-t", "--topics"],
    ],
  },
  {
    base: ["replay", "/no/such/recording", "-p", FREE],
    options: [
      ["--publish-rate", "--publish-rate"],
      ["--seed", "--seed"],
      ["--direction", "--direction"],
      ["--timeout", "--timeout"],
      ["-p", "--peers"],
    ],
  },
  {
    base: ["bench", "-n", "10"],
    options: [
      ["-n", "--num-messages"],
      ["--publish-rate", "--publish-rate"],
      ["-P", "--publishers"],
      ["-S", "--subscribers"],
      ["--interval", "--interval"],
      ["--event-type", "--event-type"],
    ],
  },
  {
    base: ["bench", "cluster", "/no/such/cluster.conf"],
    options: [["--mode", "--mode"], ["--timeout", "--timeout"], ["--seed", "--seed"]],
  },
];

Deno.test("every numeric and choice option refuses -1, abc, 1e999 and '' in one line, exit 2", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  for (const { base, options } of SWEEP) {
    const command = `broker ${
      base[0] === "bench" && base[1] === "cluster" ? "bench cluster" : base[0]
    }`;
    for (const [flag, name] of options) {
      for (const value of ["-1", "abc", "1e999", ""]) {
        // abc and 1e999 are host names as good as any, and any text is a topic.
        if (name === "--address" && (value === "abc" || value === "1e999")) continue;
        if ((name === "--topics" || name === "--topic") && value !== "") continue;
        const args = [...base, flag, value];
        const { code, err } = await run(args);
        const what = `${args.map((a) => JSON.stringify(a)).join(" ")}: ${err}`;
        assert.equal(code, 2, what);
        const lines = err.trimEnd().split("\n");
        assert.equal(lines.length, 1, what);
        assert.ok(lines[0].startsWith(`${command}: ${name}: `), what);
        assert.doesNotMatch(lines[0].slice(command.length + name.length + 4), JS_ERROR, what);
      }
    }
  }
});

Deno.test("commander's own usage errors: one line, the subcommand, exit 2", async () => {
  const cases: [string[], string][] = [
    [["node", "--bogus"], "broker node: --bogus: unknown option (see broker node --help)"],
    [
      ["node", "--tll", "3"],
      "broker node: --tll: unknown option (did you mean --ttl? see broker node --help)",
    ],
    [["node", "-t"], "broker node: --topics: needs a value (see broker node --help)"],
    [["replay"], "broker replay: <file>: missing (see broker replay --help)"],
    [["record", "-p", FREE], "broker record: --output: required (see broker record --help)"],
    [["record", "-o", "", "-p", FREE], "broker record: --output: a file name is needed"],
    [
      ["store", "", "get", "k", "-p", FREE],
      'broker store: <name>: a store needs a name (as --master-stores refuses "")',
    ],
    [
      ["top", FREE, "--interval", "0"],
      'broker top: --interval: expected a positive duration such as 500ms, 2s or 1min (a bare number is seconds), got "0"',
    ],
    [["frobnicate"], "broker: frobnicate: unknown subcommand (see broker --help)"],
    [
      ["bench", "cluster", "-c", "x"],
      "broker bench cluster: -c: unknown option (see broker bench cluster --help)",
    ],
  ];
  for (const [args, want] of cases) {
    const { code, err } = await run(args);
    assert.equal(code, 2, `${args.join(" ")}: ${err}`);
    assert.equal(err, `${want}\n`);
  }
  // Without a subcommand: the help, on stderr, and exit 2.
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.err, /^Usage: broker \[options\] \[command\]/);
});

Deno.test("broker --version, and errors from a child process", async () => {
  const [version, bad, topics] = await Promise.all([
    child(["--version"]),
    child(["node", "--disable-ssl", "-t", "/t", "-n", "-1"]),
    child(["node", "--disable-ssl"]),
  ]);
  assert.deepEqual(version, { code: 0, out: `deno-broker ${VERSION}\n`, err: "" });
  assert.match(VERSION, /^\d+\.\d+\.\d+/);
  assert.equal(bad.code, 2);
  assert.equal(bad.out, "");
  assert.equal(bad.err, 'broker node: --num-messages: expected a whole number ≥ 0, got "-1"\n');
  assert.equal(topics.code, 2);
  assert.equal(topics.err, `broker node: --topics: no topics specified (e.g. -t '["/topic"]')\n`);
});

/** Every option of every command, with its command's path. */
interface OptionSeen {
  command: string;
  short?: string;
  long: string;
  help: string;
  /** A default commander holds and prints itself (strings in quotes). */
  defaultValue?: unknown;
}

function allOptions(): OptionSeen[] {
  const out: OptionSeen[] = [];
  const walk = (cmd: CommandUnknownOpts, path: string) => {
    for (const o of cmd.options) {
      if (o.hidden || !o.long) continue;
      out.push({
        command: path,
        short: o.short,
        long: o.long,
        help: o.description,
        defaultValue: o.defaultValue,
      });
    }
    for (const c of cmd.commands) walk(c, `${path} ${c.name()}`.trim());
  };
  walk(buildProgram(() => {}), "");
  return out;
}

Deno.test("one vocabulary: a letter means one option everywhere, defaults in one style", () => {
  // Where Broker's own tools disagree, ours follow each tool they stand in for.
  const brokerExceptions = new Set(["node -p --port", "pipe -t --topic"]);
  const byShort = new Map<string, Set<string>>();
  const byLong = new Map<string, Set<string>>();
  for (const o of allOptions()) {
    if (!o.short) continue;
    if (brokerExceptions.has(`${o.command} ${o.short} ${o.long}`)) continue;
    (byShort.get(o.short) ?? byShort.set(o.short, new Set()).get(o.short)!).add(o.long);
    (byLong.get(o.long) ?? byLong.set(o.long, new Set()).get(o.long)!).add(o.short);
  }
  for (const [short, longs] of byShort) {
    assert.equal(longs.size, 1, `${short} means ${[...longs].join(" and ")}`);
  }
  for (const [long, shorts] of byLong) {
    assert.equal(shorts.size, 1, `${long} has letters ${[...shorts].join(" and ")}`);
  }
  // An option with a letter somewhere has it everywhere it appears.
  for (const o of allOptions()) {
    const letters = byLong.get(o.long);
    if (!letters || brokerExceptions.has(`${o.command} ${o.short} ${o.long}`)) continue;
    if (o.long === "--peers" && o.command === "node") continue; // -p is broker-node's --port
    if (o.long === "--topics" && o.command === "pipe") continue;
    assert.equal(o.short, [...letters][0], `${o.command} ${o.long}`);
  }
  for (const o of allOptions()) {
    // `(default: 10s)`: one style, no quotes, no "default 1", no bare-number durations.
    assert.doesNotMatch(o.help, /\(default [^:]|\(default: "|default=/i, `${o.command} ${o.long}`);
    // Commander prints a string default as `(default: "10s")`: defaults go in the help text.
    assert.notEqual(typeof o.defaultValue, "string", `${o.command} ${o.long}: ${o.defaultValue}`);
    const d = /\(default: ([^)]*)\)|default: ([^;)]*)/.exec(o.help);
    if (d && /<duration>/.test(o.long)) assert.match(d[1] ?? d[2], /[a-z]/);
  } // Every subcommand that peers over Broker follows Broker's default alike: TLS unless
  // --disable-ssl (one wording), with the same --broker.ssl.* files. bench peers only its own
  // endpoints, zeromq and the rest not over Broker.
  const ssl = allOptions().filter((o) => o.long === "--disable-ssl");
  assert.deepEqual(ssl.map((o) => o.command).sort(), [
    "bridge",
    "cluster join",
    "cluster nodes",
    "gateway",
    "node",
    "pipe",
    "record",
    "replay",
    "store",
  ]);
  assert.deepEqual(new Set(ssl.map((o) => o.help)), new Set([DISABLE_SSL_HELP]));
  for (const { command } of ssl) {
    const longs = new Set(allOptions().filter((o) => o.command === command).map((o) => o.long));
    for (const k of SSL_KEYS) {
      assert.ok(longs.has(`--broker.ssl.${k}`), `${command} --broker.ssl.${k}`);
    }
  }
});
