import assert from "node:assert/strict";
import { count, encode, Endpoint, enumValue, str, table, vector } from "../mod.ts";
import {
  formatPipeMessage,
  parsePipeLine,
  type PipeOptions,
  resolvePipeOptions,
  runPipe,
} from "./pipe_command.ts";
import { UsageError } from "./cli_values.ts";
import { connectWebSocket } from "../engine/websocket/client.ts";
import { tcpWebSocket } from "../engine/websocket/tcp_socket.ts";
import { lines } from "./self.ts";
import { brokerRefTool, freePort, RefProcess, waitForPort } from "../tests/broker_ref.ts";

/** `runPipe`'s options for a pipe that dials 127.0.0.1:`port` (no cap, text), and `more`. */
function dialling(
  mode: PipeOptions["mode"],
  topic: string,
  port: number,
  more: Partial<PipeOptions> = {},
): PipeOptions {
  return {
    mode,
    topic,
    peers: [{ host: "127.0.0.1", port }],
    localPort: 0,
    cap: Infinity,
    rate: false,
    json: false,
    ...more,
  };
}

Deno.test("pipe options: modes, peers in CAF list or plain form, caps", () => {
  const o = resolvePipeOptions({ mode: "publish", topic: "/t", peers: '["127.0.0.1:1", "h:2"]' });
  assert.deepEqual(o.peers, [{ host: "127.0.0.1", port: 1 }, { host: "h", port: 2 }]);
  assert.deepEqual(resolvePipeOptions({ mode: "subscribe", topic: "/t", peers: "x:3" }).peers, [
    { host: "x", port: 3 },
  ]);
  assert.throws(
    () => resolvePipeOptions({ mode: "both", topic: "/t" }),
    new UsageError("--mode", 'expected one of publish, subscribe; got "both"'),
  );
  assert.throws(() => resolvePipeOptions({ mode: "publish" }), /--topic: a topic is required/);
  assert.throws(
    () => resolvePipeOptions({ mode: "publish", topic: "/t", messageCap: "-1" }),
    /--message-cap: expected a whole number ≥ 0, got "-1"/,
  );
  // A body publishes, once unless --count (or -c) says otherwise.
  const body = resolvePipeOptions({ topic: "/t" }, "hi");
  assert.deepEqual([body.mode, body.body, body.cap], ["publish", "hi", 1]);
  assert.equal(resolvePipeOptions({ topic: "/t", count: "3" }, "hi").cap, 3);
  assert.throws(() => resolvePipeOptions({ topic: "/t", mode: "subscribe" }, "hi"), /<body>/);
  // Two of its listeners on one port: refused before the first binds.
  assert.throws(
    () =>
      resolvePipeOptions({
        mode: "subscribe",
        topic: "/t",
        localPort: "9999",
        "broker.metrics.port": "9999",
      }),
    new UsageError("--broker.metrics.port", "port 9999 is --local-port's too: give each its own"),
  );
});

Deno.test("pipe lines and output: strings by default, Broker's JSON with --json", () => {
  assert.equal(formatPipeMessage("/t", vector(str("a"), count(1n))), "data(/t, (a, 1))");
  assert.equal(
    formatPipeMessage("/t", count(1n), { json: true }),
    '{"type":"data-message","topic":"/t","@data-type":"count","data":1}',
  );
  assert.deepEqual(parsePipeLine("hello"), str("hello"));
  assert.deepEqual(parsePipeLine('{"@data-type":"count","data":5}', { json: true }), count(5n));
});

Deno.test("broker pipe subscribe prints what our endpoint publishes; publish feeds stdin lines", async () => {
  const ep = new Endpoint();
  const port = await ep.listen();
  const sub = ep.subscribe("/p");
  try {
    const printed: string[] = [];
    const subscribing = runPipe(
      dialling("subscribe", "/p", port, { cap: 2 }),
      (l) => printed.push(l),
      () => {},
    );
    await ep.awaitPeerSubscription("/p");
    ep.publish("/p", str("one"));
    ep.publish("/p/x", count(2n));
    assert.equal(await subscribing, 0);
    assert.deepEqual(printed, ["data(/p, one)", "data(/p/x, 2)"]);
    const input = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(new TextEncoder().encode("first\nsecond\n"));
        c.close();
      },
    });
    const code = await runPipe(
      dialling("publish", "/p", port),
      () => {},
      () => {},
      input,
    );
    assert.equal(code, 0);
    assert.equal((await sub.get(2000))?.data.value, "first");
    assert.equal((await sub.get(2000))?.data.value, "second");
  } finally {
    await ep.shutdown();
  }
});

Deno.test("broker pipe prints what the C++ broker-pipe publishes, like broker-pipe does", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const port = freePort();
  const printed: string[] = [];
  const ours = runPipe(
    {
      mode: "subscribe",
      topic: "/cpp",
      peers: [],
      localPort: port,
      cap: 1,
      rate: false,
      json: false,
    },
    (l) => printed.push(l),
    () => {},
  );
  await waitForPort(port);
  const cpp = new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "publish",
    "-t",
    "/cpp",
    "-p",
    `["127.0.0.1:${port}"]`,
  ], true);
  await cpp.writeLine("from c++");
  assert.equal(await ours, 0);
  assert.deepEqual(printed, ["data(/cpp, from c++)"]);
  await cpp.closeStdin();
  await cpp.stop();
});

const MAIN = new URL("./main.ts", import.meta.url).pathname;

/** `broker pipe ARGS` in a child process. */
function pipeProcess(args: string[]): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "pipe", ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

Deno.test(
  "broker pipe BODY --count N publishes the body N times, to C++ broker-pipe, in every peer syntax",
  {
    sanitizeOps: false,
    sanitizeResources: false,
  },
  async () => {
    for (
      const [form, count] of [
        [(p: number) => `127.0.0.1:${p}`, 3],
        [(p: number) => `<tcp://127.0.0.1:${p}>`, 1],
        [(p: number) => `tcp://127.0.0.1:${p}`, 1],
        [(p: number) => `["127.0.0.1:${p}"]`, 2],
        [(p: number) => `[<tcp://127.0.0.1:${p}>]`, 1],
      ] as const
    ) {
      const port = freePort();
      const cpp = new RefProcess("broker-pipe", [
        "--disable-ssl",
        "-m",
        "subscribe",
        "-t",
        "/body",
        "-l",
        String(port),
        "-c",
        String(count),
      ]);
      try {
        await waitForPort(port);
        const args = ["--disable-ssl", "-t", "/body", "-p", form(port), "hello world"];
        if (count > 1) args.push("--count", String(count));
        const r = await pipeProcess(args);
        const err = new TextDecoder().decode(r.stderr);
        assert.equal(r.code, 0, err);
        // broker-pipe's line (on stdout), word for word.
        const out = new TextDecoder().decode(r.stdout);
        assert.match(out, new RegExp(`^\\*\\*\\* published ${count} messages, byte$`, "m"));
        // Its statuses as broker-pipe prints them: the data on <$>/local/data/statuses, whose
        // network part ends in the peering's retry, 10 s for a peer broker-pipe dials.
        assert.match(
          err,
          /^\*\*\* data\(<\$>\/local\/data\/statuses, \(status, peer_added, \([0-9a-f-]{36}, 127\.0\.0\.1, \d+\/tcp, 10\), handshake successful\)\)$/m,
        );
        assert.equal((await cpp.done).code, 0);
        assert.deepEqual(
          cpp.lines.filter((l) => l.startsWith("data(")),
          Array(count).fill("data(/body, hello world)"),
        );
      } finally {
        await cpp.stop();
      }
    }
  },
);

Deno.test("broker pipe: --long-help and --dump-config as broker-pipe's", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const args = ["-m", "publish", "-t", "/t", '-p=["127.0.0.1:9999"]', "-l", "5", "-c", "3", "-r"];
  const cxx = (a: string[]) =>
    new Deno.Command(brokerRefTool("broker-pipe"), {
      args: a,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
  const ours = (a: string[]) => pipeProcess(a.map((x) => x.replace(/^-p=/, "--peers=")));
  const dec = new TextDecoder();
  const [help, ourHelp, dump, ourDump, none, ourNone] = await Promise.all([
    cxx(["--long-help"]),
    ours(["--long-help"]),
    cxx([
      ...args.map((x) => x.replace(/^-p=/, "--peers=")),
      "-i",
      "stream",
      "--ttl=3",
      "--dump-config",
    ]),
    ours([...args, "-i", "stream", "--ttl=3", "--dump-config"]),
    cxx(["--dump-config"]),
    ours(["--dump-config"]),
  ]);
  const theirs = [...dec.decode(help.stdout).matchAll(/(?:\(-(\S)\|)?--([\w.-]+)/g)];
  const mine = new Map(
    [...dec.decode(ourHelp.stdout).matchAll(/^ {2}(?:-(\S), )?--([\w.-]+)/gm)].map((m) => [
      m[2],
      m[1],
    ]),
  );
  assert.ok(theirs.length >= 70);
  assert.deepEqual(theirs.filter((m) => !mine.has(m[2])).map((m) => m[2]), []);
  for (const [, short, long] of theirs) {
    if (short && short !== "?") assert.equal(mine.get(long), short, `-${short} is --${long}`);
  }
  assert.equal(dump.code, 0, dec.decode(dump.stderr));
  assert.equal(dec.decode(ourDump.stdout), dec.decode(dump.stdout));
  assert.equal(dec.decode(ourNone.stdout), dec.decode(none.stdout));
});

Deno.test("broker pipe: a peer that is not up yet is dialled again until it is, as broker-pipe waits", async () => {
  const port = freePort();
  const errors: string[] = [];
  let reported!: () => void;
  const unavailable = new Promise<void>((r) => reported = r);
  const input = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("a\nb\n"));
      c.close();
    },
  });
  const publishing = runPipe(
    dialling("publish", "/w", port, { retryMs: 100 }),
    () => {},
    (l) => {
      errors.push(l);
      if (l.includes("peer_unavailable")) reported();
    },
    input,
  );
  // broker-pipe prints the failed attempt as its error status, then waits in its blocking peer().
  await unavailable;
  const ep = new Endpoint();
  try {
    const sub = ep.subscribe("/w");
    await ep.listen("127.0.0.1", port);
    assert.equal(await publishing, 0);
    assert.equal((await sub.get(5000))?.data.value, "a");
    assert.equal((await sub.get(5000))?.data.value, "b");
    assert.ok(errors.every((l) => l.startsWith("*** data(<$>/local/data/")), errors.join("\n"));
  } finally {
    await ep.shutdown();
  }
});

Deno.test(
  "broker pipe with a peer that is not up prints broker-pipe's line for it, word for word, and waits",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const port = freePort(); // nobody listens there
    const args = ["--disable-ssl", "-m", "subscribe", "-t", "/a", "-p", `["127.0.0.1:${port}"]`];
    const cpp = new RefProcess("broker-pipe", args);
    const ours = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "pipe", ...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const [theirs] = await cpp.waitFor((l) => l.includes("peer_unavailable"));
      assert.equal(
        theirs,
        `*** data(<$>/local/data/errors, (error, peer_unavailable, ((nil, 127.0.0.1, ${port}/tcp, 10), unable to connect to remote peer)))`,
      );
      // Ours prints the same line, and nothing else: both wait in their blocking peer().
      const reader = ours.stderr.pipeThrough(new TextDecoderStream()).getReader();
      let text = "";
      while (!text.includes("\n")) {
        const { value, done } = await reader.read();
        if (done) break;
        text += value;
      }
      assert.equal(text, `${theirs}\n`);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(await Promise.race([ours.status.then(() => "ended"), "waiting"]), "waiting");
      reader.releaseLock();
    } finally {
      await cpp.stop();
      ours.kill("SIGTERM");
      await ours.status;
      await ours.stderr.cancel().catch(() => {});
      await ours.stdout.cancel();
    }
  },
);

Deno.test("broker pipe: bad values are one line and exit code 2, before any peering", async () => {
  const cases: [string[], string][] = [
    [
      ["-m", "both", "-t", "/t"],
      'broker pipe: --mode: expected one of publish, subscribe; got "both"',
    ],
    [["-m", "publish"], "broker pipe: --topic: a topic is required (-t /topic)"],
    [
      ["-t", "/t", "x", "--count", "-1"],
      'broker pipe: --count: expected a whole number ≥ 0, got "-1"',
    ],
    [
      ["-t", "/t", "-m", "subscribe", "x"],
      "broker pipe: <body>: a body is published: it needs -m publish (or no -m)",
    ],
    [
      // The body is read before the peer is dialled (it was read after: exit 1 once connected).
      ["-m", "publish", "-t", "/t", "--json", "{bad", "-p", "127.0.0.1:1"],
      "broker pipe: <body>: malformed JSON: expected a key at byte 1",
    ],
    [
      ["-m", "publish", "-t", "/t", "-p", "nope"],
      'broker pipe: --peers: no port in "nope" (expected host:port, [v6]:port, tcp://host:port or <tcp://host:port>, e.g. "127.0.0.1:9999")',
    ],
  ];
  const runs = await Promise.all(cases.map(([args]) => pipeProcess(args)));
  for (const [i, r] of runs.entries()) {
    assert.equal(r.code, 2, cases[i][0].join(" "));
    assert.equal(new TextDecoder().decode(r.stderr), `${cases[i][1]}\n`);
    assert.equal(r.stdout.length, 0);
  }
});

Deno.test(
  "broker pipe -m subscribe blocks with no peer, as broker-pipe; -r prints a count each second",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const port = freePort();
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "pipe",
        "--disable-ssl",
        "-m",
        "subscribe",
        "-t",
        "/r",
        "-l",
        String(port),
        "-r",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const alone = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "pipe", "-m", "subscribe", "-t", "/a"],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      await waitForPort(port);
      // 300 messages from a peer once the subscription is known, then quiet seconds.
      const ep = new Endpoint();
      try {
        await ep.peer("127.0.0.1", port, { retryMs: 0 });
        await ep.awaitPeerSubscription("/r");
        for (let i = 0; i < 300; i++) ep.publish("/r", count(BigInt(i)));
        await new Promise((r) => setTimeout(r, 200));
      } finally {
        await ep.shutdown();
      }
      await new Promise((r) => setTimeout(r, 2500));
      // The lone subscriber is still there (it ended with Deno's "Top-level await promise never resolved").
      const early = await Promise.race([alone.status, new Promise((r) => setTimeout(r, 0, "up"))]);
      assert.equal(early, "up");
    } finally {
      for (const c of [child, alone]) c.kill("SIGINT");
      await alone.status;
      await alone.stderr.cancel();
    }
    const out = await child.output();
    const counts = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.ok(counts.every((l) => /^\d+$/.test(l)), counts.join("|"));
    assert.equal(counts.map(Number).reduce((a, b) => a + b, 0), 300, counts.join("|"));
    assert.ok(counts.length >= 2 && counts.at(-1) === "0", counts.join("|"));
  },
);

Deno.test(
  "broker pipe --message-cap=0 sends and receives nothing, as broker-pipe: a subscriber ends at once, a publisher reads stdin and publishes 0",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    /** `tool args` with `stdin` on its standard input. */
    const run = async (cmd: string, args: string[], stdin: string) => {
      const child = new Deno.Command(cmd, {
        args,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const w = child.stdin.getWriter();
      await w.write(new TextEncoder().encode(stdin));
      await w.close();
      const out = await child.output();
      return { code: out.code, out: new TextDecoder().decode(out.stdout) };
    };
    const both = (args: string[], stdin: string) =>
      Promise.all([
        run(brokerRefTool("broker-pipe"), ["--disable-ssl", ...args], stdin),
        run(Deno.execPath(), ["run", "-A", MAIN, "pipe", "--disable-ssl", ...args], stdin),
      ]);
    const [cxxPub, oursPub] = await both(["-m", "publish", "-t", "/t", "-c", "0"], "a\nb\n");
    assert.deepEqual(cxxPub, { code: 0, out: "*** published 0 messages, byte\n" });
    assert.deepEqual(oursPub, cxxPub);
    // Without the cap either would wait for messages until killed.
    const [cxxSub, oursSub] = await both(["-m", "subscribe", "-t", "/t", "-c", "0"], "");
    assert.deepEqual(cxxSub, { code: 0, out: "" });
    assert.deepEqual(oursSub, cxxSub);
  },
);

Deno.test(
  "broker pipe serves Broker's WebSocket API and /metrics when their ports are set, as broker-pipe's endpoint does",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    /** Starts `cmd args`, checks both servers answer, stops it; "ack" once a client is acked. */
    const serves = async (cmd: string, args: string[]) => {
      const [ws, metrics] = [freePort(), freePort()];
      const child = new Deno.Command(cmd, {
        args: [
          ...args,
          "--disable-ssl",
          "-m",
          "subscribe",
          "-t",
          "/t",
          `--broker.web-socket.port=${ws}`,
          `--broker.metrics.port=${metrics}`,
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      let exited = false;
      const status = child.status.then((s) => (exited = true, s));
      try {
        // Up when its WebSocket port is (a guard, not a measure: 10 s).
        await waitForPort(ws, 10_000);
        let text = "";
        while (!text.includes("broker_")) {
          assert.equal(exited, false, `${cmd} exited`);
          text = await fetch(`http://127.0.0.1:${metrics}/metrics`).then(
            (r) => r.text(),
            () => new Promise<string>((r) => setTimeout(() => r(""), 50)),
          );
        }
        // Our client over TCP: the C++ server wants header names in its own spelling.
        const client = await connectWebSocket(`ws://127.0.0.1:${ws}`, ["/t"], {
          reconnectMs: 0,
          createSocket: tcpWebSocket,
        });
        const errors = client.takeErrors();
        client.close();
        return errors.length === 0 ? "ack" : JSON.stringify(errors);
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // already gone
        }
        await status;
        await child.stderr.cancel();
      }
    };
    assert.equal(await serves(brokerRefTool("broker-pipe"), []), "ack");
    assert.equal(await serves(Deno.execPath(), ["run", "-A", MAIN, "pipe"]), "ack");
  },
);

Deno.test(
  "broker pipe -l listens on every interface as broker-pipe's listen({}, port): IPv6 peers too, an IPv4 peer as ::ffff:127.0.0.1",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    /** The addresses `peer_added` names for a peer from 127.0.0.1 and one from ::1. */
    const addresses = async (cmd: string, args: string[]) => {
      const port = freePort();
      const child = new Deno.Command(cmd, {
        args: [...args, "--disable-ssl", "-m", "subscribe", "-t", "/t", "-l", String(port)],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const [v4, v6] = [new Endpoint(), new Endpoint()];
      try {
        await waitForPort(port, 10_000);
        await v4.peer("127.0.0.1", port, { retryMs: 0 });
        // Refused (peer_unavailable) where the listener is IPv4's alone.
        await v6.peer("::1", port, { retryMs: 0 });
        const seen: string[] = [];
        for await (const line of lines(child.stderr)) {
          const m = /peer_added, \([0-9a-f-]+, ([^,]+), \d+\/tcp/.exec(line);
          if (m) seen.push(m[1]);
          if (seen.length === 2) break;
        }
        return seen.sort();
      } finally {
        await v4.shutdown();
        await v6.shutdown();
        try {
          child.kill("SIGKILL");
        } catch {
          // gone: its stderr, which we stopped reading, closed under its peer_lost lines
        }
        await child.status;
      }
    };
    const cxx = await addresses(brokerRefTool("broker-pipe"), []);
    assert.deepEqual(cxx, ["::1", "::ffff:127.0.0.1"]);
    assert.deepEqual(await addresses(Deno.execPath(), ["run", "-A", MAIN, "pipe"]), cxx);
  },
);

Deno.test(
  "broker pipe: strings that are not UTF-8 go out and print as raw bytes, as broker-pipe's (child processes side by side)",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    // We read stdin as UTF-8 text (61 ff 62 went out as 61 ef bf bd 62) and
    // printed such strings with U+FFFD, where broker-pipe keeps the bytes.
    const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    const main = new URL("./main.ts", import.meta.url).pathname;
    const tools = {
      "C++": [brokerRefTool("broker-pipe")],
      ours: [Deno.execPath(), "run", "-A", "--lock=deno.lock", main, "pipe"],
    };
    const seen: Record<string, { sent: string[]; printed: string }> = {};
    for (const [name, [cmd, ...pre]] of Object.entries(tools)) {
      const ep = new Endpoint();
      try {
        const port = await ep.listen("127.0.0.1", 0);
        const sub = ep.subscribe("/in");
        const args = (m: string, t: string, c: string[] = []) => [
          ...pre,
          "--disable-ssl",
          "-m",
          m,
          "-t",
          t,
          "-p",
          `["127.0.0.1:${port}"]`,
          ...c,
        ];
        const pub = new Deno.Command(cmd, { args: args("publish", "/in"), stdin: "piped" })
          .spawn();
        const w = pub.stdin.getWriter();
        await w.write(new Uint8Array([0x61, 0xff, 0x62, 0x0d, 0x0a, 0xc3, 0xa9, 0x0a]));
        await w.close();
        await pub.output();
        const sent: string[] = [];
        for (let i = 0; i < 2; i++) {
          const m = await sub.get(20_000);
          sent.push(m ? hex(encode(m.data)) : "none");
        }
        const subp = new Deno.Command(cmd, {
          args: args("subscribe", "/out", ["-c", "2"]),
          stdout: "piped",
          stderr: "null",
        }).spawn();
        await ep.awaitPeerSubscription("/out", 20_000);
        ep.publish("/out", str(new Uint8Array([0x61, 0xff, 0x62])));
        ep.publish(
          "/out",
          vector(
            enumValue(new Uint8Array([0xfe])),
            table([[str(new Uint8Array([0xc3])), count(1n)]]),
          ),
        );
        seen[name] = { sent, printed: hex((await subp.output()).stdout) };
      } finally {
        await ep.shutdown();
      }
    }
    assert.deepEqual(seen["C++"].sent, ["050461ff620d", "0502c3a9"]);
    assert.deepEqual(seen.ours, seen["C++"]);
  },
);
