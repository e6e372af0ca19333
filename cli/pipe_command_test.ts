import assert from "node:assert/strict";
import { count, Endpoint, str, vector } from "../mod.ts";
import { formatPipeMessage, parsePipeLine, resolvePipeOptions, runPipe } from "./pipe_command.ts";
import { UsageError } from "./cli_values.ts";
import { freePort, RefProcess, waitForPort } from "../tests/broker_ref.ts";

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
});

Deno.test("pipe lines and output: strings by default, Broker's JSON with --json", () => {
  assert.equal(formatPipeMessage("/t", vector(str("a"), count(1n)), false), "data(/t, (a, 1))");
  assert.equal(
    formatPipeMessage("/t", count(1n), true),
    '{"type":"data-message","topic":"/t","@data-type":"count","data":1}',
  );
  assert.deepEqual(parsePipeLine("hello", false), str("hello"));
  assert.deepEqual(parsePipeLine('{"@data-type":"count","data":5}', true), count(5n));
});

Deno.test("broker pipe subscribe prints what our endpoint publishes; publish feeds stdin lines", async () => {
  const ep = new Endpoint();
  const port = await ep.listen();
  const sub = ep.subscribe("/p");
  try {
    const printed: string[] = [];
    const subscribing = runPipe(
      {
        mode: "subscribe",
        topic: "/p",
        peers: [{ host: "127.0.0.1", port }],
        localPort: 0,
        cap: 2,
        rate: false,
        json: false,
      },
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
      {
        mode: "publish",
        topic: "/p",
        peers: [{ host: "127.0.0.1", port }],
        localPort: 0,
        cap: 0,
        rate: false,
        json: false,
      },
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
