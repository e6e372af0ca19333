import assert from "node:assert/strict";
import { Endpoint } from "../mod.ts";
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
    await source.peer("127.0.0.1", port, { retry: 0 });
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
      args: ["run", "-A", MAIN, "replay", MARS.pathname, "-p", `["127.0.0.1:${port}"]`, "--json"],
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
      args: ["run", "-A", MAIN, "replay", bad, "-p", `["127.0.0.1:${port}"]`],
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
        args: ["run", "-A", MAIN, "replay", bad, "-p", `["127.0.0.1:${port}"]`],
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
    await source.peer("127.0.0.1", port, { retry: 0 });
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
    await source.peer("127.0.0.1", port, { retry: 0 });
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
