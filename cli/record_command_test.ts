import assert from "node:assert/strict";
import { count, dataToString, Endpoint, str, vector } from "../mod.ts";
import { decodeCapture, encodeCaptureEntry } from "../engine/recording/capture/mod.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { CaptureFile } from "./record_command.ts";
import { replayCapture } from "./replay_command.ts";

Deno.test("record, then replay: the same messages arrive, in order", async () => {
  const path = await Deno.makeTempFile({ suffix: ".cap" });
  const file = await CaptureFile.create(path);
  const recorder = new Endpoint({ recorder: (f) => file.add(f) });
  const source = new Endpoint();
  const values = [str("one"), count(2n), vector(str("three"), count(3n))];
  try {
    const port = await recorder.listen();
    const sub = recorder.subscribe("/rec");
    await source.peer("127.0.0.1", port, { retryMs: 0 });
    await source.awaitPeerSubscription("/rec");
    for (const v of values) source.publish("/rec/x", v);
    for (let i = 0; i < values.length; i++) assert.ok(await sub.get(2000));
    await source.shutdown();
    await recorder.shutdown();
    file.close();

    const entries = decodeCapture(await Deno.readFile(path));
    assert.equal(file.dataMessages, 3);
    // The handshake is in the capture too, in both directions.
    assert.ok(entries.some((e) => e.direction === "sent" && e.frame[0] === 7), "our probe");
    assert.ok(entries.some((e) => e.direction === "received" && e.frame[0] === 6), "their hello");

    const a = new Endpoint(), b = new Endpoint();
    try {
      const p = await a.listen();
      const replayed = a.subscribe("/rec");
      await b.peer("127.0.0.1", p, { retryMs: 0 });
      await b.awaitPeerSubscription("/rec");
      const summary = await replayCapture(b, entries);
      assert.equal(summary.messages, 3);
      for (const v of values) {
        const m = await replayed.get(2000);
        assert.equal(m?.topic, "/rec/x");
        assert.equal(dataToString(m!.data), dataToString(v));
      }
    } finally {
      await b.shutdown();
      await a.shutdown();
    }
  } finally {
    await source.shutdown();
    await recorder.shutdown();
    await Deno.remove(path);
  }
});

Deno.test("bad capture files give typed errors", () => {
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return e instanceof BrokerError ? e.code : -1;
    }
    return 0;
  };
  assert.equal(code(() => decodeCapture(new Uint8Array([1, 2, 3]))), ErrorCode.wrong_magic_number);
  const entry = encodeCaptureEntry({
    timeNs: 5n,
    direction: "received",
    peerId: "x",
    peerAddress: "h:1",
    frame: new Uint8Array(40),
  });
  const good = new Uint8Array([0x44, 0x42, 0x43, 0x41, 0x50, 0, 0, 1, ...entry]);
  assert.equal(decodeCapture(good)[0].timeNs, 5n);
  assert.equal(code(() => decodeCapture(good.slice(0, good.length - 3))), ErrorCode.end_of_file);
  const garbled = good.slice();
  garbled.fill(0xff, 12, 20);
  // FlatBuffers for JS has no verifier: a garbled entry reads as garbage or fails with
  // invalid_data, but never throws anything other than a BrokerError.
  for (let at = 8; at < good.length; at++) {
    const bad = good.slice();
    bad[at] ^= 0xff;
    assert.notEqual(code(() => decodeCapture(bad)), -1, `byte ${at}`);
  }
  assert.notEqual(code(() => decodeCapture(garbled)), -1);
});

Deno.test("broker record, then broker replay, from the command line", async () => {
  const dir = await Deno.makeTempDir();
  const main = new URL("./main.ts", import.meta.url).pathname;
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const values = [str("one"), count(2n), vector(str("three"), count(3n))];
  const source = new Endpoint(), sink = new Endpoint();
  try {
    const rec = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        main,
        "record",
        "--disable-ssl",
        "-o",
        `${dir}/x.cap`,
        "-t",
        "/rec",
        "-l",
        String(port),
      ]
        .concat(["-c", "3", "--json"]),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (let i = 0;; i++) {
      try {
        await source.peer("127.0.0.1", port, { retryMs: 0 });
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await source.awaitPeerSubscription("/rec");
    for (const v of values) source.publish("/rec/x", v);
    const out = await rec.output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    const summary = JSON.parse(dec.decode(out.stdout));
    assert.equal(summary.dataMessages, 3);
    assert.ok(summary.frames > 3, "handshake frames too");

    const sinkPort = await sink.listen();
    const sub = sink.subscribe("/rec");
    const replay = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        main,
        "replay",
        "--disable-ssl",
        `${dir}/x.cap`,
        "-p",
        `["127.0.0.1:${sinkPort}"]`,
      ],
      stderr: "piped",
    }).output();
    assert.equal(replay.code, 0, dec.decode(replay.stderr));
    assert.match(dec.decode(replay.stderr), /^replayed 3 messages/m);
    for (const v of values) {
      const m = await sub.get(2000);
      assert.equal(m?.topic, "/rec/x");
      assert.equal(dataToString(m!.data), dataToString(v));
    }
  } finally {
    await source.shutdown();
    await sink.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("broker record without topics warns that it records no data; bad options exit 2", {
  sanitizeOps: false,
  sanitizeResources: false,
}, async () => {
  const dir = await Deno.makeTempDir();
  const main = new URL("./main.ts", import.meta.url).pathname;
  const peer = new Endpoint();
  try {
    const port = await peer.listen();
    const run = (args: string[]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", main, "record", "--disable-ssl", ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
    const dec = new TextDecoder();
    const [noTopics, bad, nothing, noDir] = await Promise.all([
      run(["-o", `${dir}/a.cap`, "-p", `<tcp://127.0.0.1:${port}>`, "--duration", "300ms"]),
      run(["-o", `${dir}/b.cap`, "-p", `127.0.0.1:${port}`, "--duration", "-1"]),
      run(["-o", `${dir}/c.cap`, "-t", "/a"]),
      run(["-o", `${dir}/no/d.cap`, "-t", "/a", "-p", `127.0.0.1:${port}`]),
    ]);
    assert.equal(noTopics.code, 0, dec.decode(noTopics.stderr));
    const lines = dec.decode(noTopics.stderr).trimEnd().split("\n");
    assert.deepEqual(
      lines[0],
      "broker record: warning: no --topics: records handshakes and control frames only, " +
        "no data messages (give -t /topic, or -t / for everything)",
    );
    assert.match(lines[1], /^recorded \d+ frames \(0 data messages\) to .*a\.cap$/);
    assert.equal(bad.code, 2);
    assert.match(
      dec.decode(bad.stderr),
      /^broker record: --duration: expected a positive duration/,
    );
    // Nothing is created when the options are wrong.
    await assert.rejects(() => Deno.stat(`${dir}/b.cap`));
    assert.equal(nothing.code, 2);
    assert.equal(
      dec.decode(nothing.stderr),
      "broker record: --peers: nothing to record from: give --peers or --local-port\n",
    );
    // A file it cannot write is a bad --output too, before anything connects.
    assert.equal(noDir.code, 2);
    assert.equal(
      dec.decode(noDir.stderr),
      `broker record: --output: cannot write ${dir}/no/d.cap: No such file or directory (os error 2)\n`,
    );
    await assert.rejects(() => Deno.stat(`${dir}/no`));
  } finally {
    await peer.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test(
  "broker record keeps its capture on SIGTERM, and leaves a file it failed to replace as it was",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/x.cap`;
    const source = new Endpoint();
    try {
      const port = await source.listen("127.0.0.1", 0);
      const record = (peer: string) =>
        new Deno.Command(Deno.execPath(), {
          args: ["run", "-A", MAIN, "record", "--disable-ssl", "-o", path, "-t", "/x", "-p", peer],
          stdin: "null",
          stdout: "null",
          stderr: "piped",
        }).spawn();
      const child = record(`127.0.0.1:${port}`);
      await source.awaitPeerSubscription("/x", 10_000);
      for (let i = 0; i < 3; i++) source.publish("/x", count(BigInt(i)));
      await new Promise((r) => setTimeout(r, 300));
      child.kill("SIGTERM");
      const { code } = await child.status;
      const err = new TextDecoder().decode(await new Response(child.stderr).arrayBuffer());
      assert.equal(code, 0, err);
      const kept = await Deno.readFile(path);
      const data = decodeCapture(kept).filter((e) => e.frame.length > 37 && e.frame[32] === 1);
      assert.equal(data.length, 3, err); // it was the 8-byte header alone
      // A peer not reached: the capture already there stays whole.
      const failed = record("127.0.0.1:1");
      assert.notEqual((await failed.status).code, 0);
      await failed.stderr.cancel();
      assert.deepEqual(await Deno.readFile(path), kept);
      assert.deepEqual([...Deno.readDirSync(dir)].map((e) => e.name), ["x.cap"]);
    } finally {
      await source.shutdown();
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("broker record -l listens on every interface, IPv6 too, as broker node and broker pipe do", async () => {
  const dir = await Deno.makeTempDir();
  const main = new URL("./main.ts", import.meta.url).pathname;
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const source = new Endpoint();
  try {
    const rec = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        main,
        "record",
        "--disable-ssl",
        "-o",
        `${dir}/x.cap`,
        "-t",
        "/rec",
        "-l",
        String(port),
      ]
        .concat(["-c", "1", "--json"]),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    for (let i = 0;; i++) {
      // Until record listens on IPv4 (it opens both families at once); refused on ::1 before.
      try {
        (await Deno.connect({ hostname: "127.0.0.1", port })).close();
        break;
      } catch (e) {
        if (i > 100) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    await source.peer("::1", port, { retryMs: 0 });
    await source.awaitPeerSubscription("/rec");
    source.publish("/rec/x", str("over IPv6"));
    const out = await rec.output();
    const dec = new TextDecoder();
    assert.equal(out.code, 0, dec.decode(out.stderr));
    assert.equal(JSON.parse(dec.decode(out.stdout)).dataMessages, 1);
  } finally {
    await source.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
