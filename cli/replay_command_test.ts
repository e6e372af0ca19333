import assert from "node:assert/strict";
import { Endpoint, str } from "../mod.ts";
import { CaptureFile } from "./record_command.ts";
import { readGeneratorFile } from "../engine/recording/generator_file.ts";
import { pcapAsCapture, replayCapture, replayGeneratorFile } from "./replay_command.ts";

const MARS = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("replaying mars.dat publishes its 1000 messages, with the recorded shapes", async () => {
  const file = readGeneratorFile(await Deno.readFile(MARS));
  const sink = new Endpoint(), source = new Endpoint();
  try {
    const port = await sink.listen();
    const sub = sink.subscribe("/benchmark/events", { queueSize: 2000 });
    await source.peer("127.0.0.1", port, { retryMs: 0 });
    await source.awaitPeerSubscription("/benchmark/events");
    const summary = await replayGeneratorFile(source, file);
    assert.equal(summary.messages, 1000);
    let n = 0;
    for (let m = await sub.get(2000); m; m = await sub.get(300)) {
      assert.equal(m.topic, "/benchmark/events");
      // Each message is a Zeek-event-shaped vector, as recorded.
      assert.equal(m.data.type, "vector");
      n++;
    }
    assert.equal(n, 1000);
  } finally {
    await source.shutdown();
    await sink.shutdown();
  }
});

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}

Deno.test("broker replay: a paced replay from the command line, and bad files", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const sink = new Endpoint();
  const port = await sink.listen();
  const sub = sink.subscribe("/benchmark/events", { queueSize: 2000 });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "replay",
        "--disable-ssl",
        MARS.pathname,
        "-p",
        `["127.0.0.1:${port}"]`,
        "--publish-rate",
        "5000",
      ],
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, text);
    assert.match(text, /^replayed 1000 messages \(4\.2 MB\) in [\d.]+ s/m);
    // 1000 messages at 5000/s take at least ~0.2 s.
    const seconds = Number(/in ([\d.]+) s/.exec(text)![1]);
    assert.ok(seconds >= 0.18, `paced replay took only ${seconds} s`);
    assert.equal(sub.poll().length + (sub.available()), 1000);
    // --json: the same summary for scripts, on stdout.
    const json = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "replay",
        "--disable-ssl",
        MARS.pathname,
        "-p",
        `["127.0.0.1:${port}"]`,
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(json.code, 0, new TextDecoder().decode(json.stderr));
    const summary = JSON.parse(new TextDecoder().decode(json.stdout));
    assert.equal(summary.messages, 1000);
    assert.equal(summary.bytes, 4_198_000);
    assert.ok(summary.messagesPerSecond > 0);
    const bad = await Deno.makeTempFile();
    await Deno.writeFile(bad, new Uint8Array([1, 2, 3, 4, 5, 6]));
    const r = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "replay", "--disable-ssl", bad, "-p", `["127.0.0.1:${port}"]`],
      stderr: "piped",
    }).output();
    assert.equal(r.code, 1);
    // An unrecognised file names every format tried.
    assert.equal(
      new TextDecoder().decode(r.stderr),
      "broker replay: wrong_magic_number: not a recording: tried a capture of broker record, " +
        "pcap, pcapng and a Broker generator file; the file starts with 01 02 03 04\n",
    );
    // Truncated and unknown-version generator files, and a truncated pcap: one line, exit 1.
    const mars = await Deno.readFile(MARS);
    const pcap = await Deno.readFile(
      new URL("../fixtures/broker/pcap/ping-pong.pcap", import.meta.url),
    );
    const cases: [Uint8Array, RegExp][] = [
      [
        mars.subarray(0, 2001),
        /^broker replay: (end_of_file|invalid_data): .*(truncated|overruns).*\n$/,
      ],
      [
        withByte(mars, 4, 9),
        /unsupported generator file version 9\n$/,
      ],
      [pcap.subarray(0, pcap.length - 7), /^broker replay: end_of_file: .*\n$/],
    ];
    for (const [bytes, want] of cases) {
      await Deno.writeFile(bad, bytes);
      const c = await new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, "replay", "--disable-ssl", bad, "-p", `["127.0.0.1:${port}"]`],
        stderr: "piped",
      }).output();
      const text = new TextDecoder().decode(c.stderr);
      assert.equal(c.code, 1, text);
      assert.match(text, want);
      assert.equal(text.split("\n").length, 2, `one line: ${text}`);
    }
    await Deno.remove(bad);
  } finally {
    await sink.shutdown();
  }
});

Deno.test("replaying a pcap of Broker traffic publishes its data messages", async () => {
  const pcap = await Deno.readFile(
    new URL("../fixtures/broker/pcap/relay-three-nodes.pcap", import.meta.url),
  );
  const entries = pcapAsCapture(pcap);
  const data = entries.filter((e) => e.frame[32] === 1);
  assert.ok(data.length > 0);
  const sink = new Endpoint(), source = new Endpoint();
  try {
    const port = await sink.listen();
    const sub = sink.subscribe("/", { queueSize: 4096 });
    await source.peer("127.0.0.1", port, { retryMs: 0 });
    await source.awaitPeerSubscription("/bench/ping");
    const summary = await replayCapture(source, entries, { direction: "both" });
    assert.equal(summary.messages, data.length);
    let n = 0;
    while (await sub.get(500)) n++;
    assert.equal(n, data.length);
  } finally {
    await source.shutdown();
    await sink.shutdown();
  }
});

Deno.test("replaying a recording with store command entries sends them as command messages", async () => {
  const file = readGeneratorFile(
    await Deno.readFile(new URL("../fixtures/zeek-cluster/logger/messages.dat", import.meta.url)),
  );
  const master = "zeek/known/hosts/<$>/data/master";
  const commands = file.entries.filter((e) => e.kind === "command" && e.topic === master).length;
  const data = file.entries.filter((e) => e.kind === "data").length;
  assert.ok(commands > 0 && data > 0);
  const sink = new Endpoint(), source = new Endpoint();
  const got: string[] = [];
  try {
    const port = await sink.listen();
    sink.commandBus.onCommands(master, (m) => got.push(m.topic));
    const sub = sink.subscribe("zeek/logs/", { queueSize: 2000 });
    await source.peer("127.0.0.1", port, { retryMs: 0 });
    await source.awaitPeerSubscription(master);
    await source.awaitPeerSubscription("zeek/logs/Conn::LOG");
    const summary = await replayGeneratorFile(source, file);
    assert.equal(summary.messages, data);
    assert.equal(summary.commands, commands);
    let n = 0;
    for (let m = await sub.get(2000); m; m = await sub.get(300)) n++;
    assert.equal(n, data);
    assert.deepEqual(got, Array(commands).fill(master));
  } finally {
    await source.shutdown();
    await sink.shutdown();
  }
});

/** `broker replay ARGS` (or another subcommand) in a child process. */
async function broker(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: r.code, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

/**
 * Writes a capture of frames given as `[direction, envelope type]`: data
 * messages (type 1) are `data`, a real frame; the others a bare header.
 */
async function captureOf(
  path: string,
  frames: ["sent" | "received", number][],
  data: Uint8Array,
): Promise<void> {
  const file = await CaptureFile.create(path);
  for (const [direction, type] of frames) {
    const frame = type === 1 ? data : new Uint8Array(40);
    if (type !== 1) frame[32] = type;
    file.add({ direction, host: "127.0.0.1", port: 1, frame });
  }
  file.close();
}

Deno.test("broker replay: says why nothing was replayed, exits 1 unless --allow-empty", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  const sink = new Endpoint();
  try {
    // One real data frame, as a recorder sees it when an endpoint sends it.
    const recorded: Uint8Array[] = [];
    const a = new Endpoint({
      recorder: (f) => {
        if (f.direction === "sent" && f.frame[32] === 1) recorded.push(f.frame.slice());
      },
    });
    const b = new Endpoint();
    const bport = await b.listen();
    const bsub = b.subscribe("/d");
    await a.peer("127.0.0.1", bport, { retryMs: 0 });
    await a.awaitPeerSubscription("/d");
    a.publish("/d", str("x"));
    await bsub.get(2000);
    await a.shutdown();
    await b.shutdown();
    const data = recorded[0];
    assert.ok(data);

    const port = await sink.listen();
    sink.subscribe("/d");
    const peer = `127.0.0.1:${port}`;
    await captureOf(
      `${dir}/sent.cap`,
      [["sent", 6], ["sent", 1], ["sent", 1], ["received", 3]],
      data,
    );
    await captureOf(`${dir}/commands.cap`, [["received", 2], ["sent", 2]], data);
    await captureOf(`${dir}/handshake.cap`, [["received", 6], ["sent", 7]], data);
    await captureOf(`${dir}/data.cap`, [["received", 1]], data);
    const runs = await Promise.all([
      broker(["replay", "--disable-ssl", `${dir}/sent.cap`, "-p", peer]),
      broker(["replay", "--disable-ssl", `${dir}/sent.cap`, "-p", peer, "--allow-empty"]),
      broker(["replay", "--disable-ssl", `${dir}/commands.cap`, "-p", peer]),
      broker(["replay", "--disable-ssl", `${dir}/handshake.cap`, "-p", peer]),
      // Nobody subscribes to the generator file's topic on this sink.
      broker(["replay", "--disable-ssl", MARS.pathname, "-p", peer, "--timeout", "200ms"]),
      broker(["replay", "--disable-ssl", `${dir}/sent.cap`, "-p", peer, "--direction", "sent"]),
      broker(["replay", "--disable-ssl", `${dir}/data.cap`, "-p", peer, "--json"]),
    ]);
    const [sent, allowed, commands, handshake, unsubscribed, ok, json] = runs;
    assert.deepEqual(sent, {
      code: 1,
      out: "",
      err: "broker replay: nothing replayed: no data messages in direction received " +
        "(the file has 2 sent: try --direction sent or both) (--allow-empty: exit 0 anyway)\n",
    });
    assert.equal(allowed.code, 0);
    assert.match(allowed.err, /^broker replay: nothing replayed: no data messages in direction/);
    assert.equal(commands.code, 1);
    assert.match(
      commands.err,
      /^broker replay: nothing replayed: the file holds only store commands \(2\), which replay sends only from generator files/,
    );
    assert.equal(handshake.code, 1);
    assert.match(
      handshake.err,
      /^broker replay: nothing replayed: the file holds no data messages \(2 frames of handshakes/,
    );
    assert.equal(unsubscribed.code, 1);
    assert.match(
      unsubscribed.err,
      /^broker replay: nothing replayed: no peer subscribed to the recorded topics \(\/benchmark\/events\)/,
    );
    assert.equal(ok.code, 0, ok.err);
    assert.match(ok.err, /^replayed 2 messages/);
    assert.equal(json.code, 0, json.err);
    assert.equal(JSON.parse(json.out).messages, 1);
  } finally {
    await sink.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("broker replay: an unrecognised file names every format tried", async () => {
  const file = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(file, "hello, world\n");
    const r = await broker(["replay", "--disable-ssl", file, "-p", "127.0.0.1:1"]);
    assert.deepEqual(r, {
      code: 1,
      out: "",
      err:
        "broker replay: wrong_magic_number: not a recording: tried a capture of broker record, " +
        "pcap, pcapng and a Broker generator file; the file starts with 68 65 6c 6c\n",
    });
    await Deno.writeFile(file, new Uint8Array());
    assert.match(
      (await broker(["replay", "--disable-ssl", file, "-p", "127.0.0.1:1"])).err,
      /it is empty/,
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("broker replay on a 40-column terminal: the progress line never wraps", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const sink = new Endpoint();
  try {
    const port = await sink.listen();
    const sub = sink.subscribe("/benchmark/events", { queueSize: 4096 });
    // `script` gives the replay a terminal (util-linux); stty makes it 40 columns wide.
    const cmd =
      `stty cols 40; exec ${Deno.execPath()} run -A ${MAIN} replay --disable-ssl ${MARS.pathname} ` +
      `-p 127.0.0.1:${port} --publish-rate 4000`;
    const r = await new Deno.Command("script", {
      args: ["-qec", cmd, "/dev/null"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(r.stdout);
    assert.equal(r.code, 0, text + new TextDecoder().decode(r.stderr));
    const drawings = text.split("\r").map((s) => s.replaceAll("\x1b[K", "").replace(/\n/g, ""))
      .filter((s) => /msgs|%/.test(s) && !s.startsWith("replayed"));
    assert.ok(drawings.length >= 2, JSON.stringify(text));
    for (const d of drawings) assert.ok(d.length <= 39, `${d.length}: ${d}`);
    assert.match(text, /replayed 1000 messages/);
    assert.equal(sub.available() + sub.poll().length > 0, true);
  } finally {
    await sink.shutdown();
  }
});
