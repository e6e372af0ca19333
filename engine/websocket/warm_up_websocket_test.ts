import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";
import { count, dataToString, encode } from "../data/mod.ts";
import { writeJsonMembers } from "../data/json_wasm.ts";
import { warmUp, warmUpConnEvent, warmUpPartOnce } from "../warm_up.ts";
import { connectWebSocket } from "./client.ts";
import { tcpWebSocket } from "./tcp_socket.ts";
import { warmUpWebSocketTraffic } from "./warm_up_websocket.ts";

const make = (id: string) => new Endpoint({ id, warmUp: false });

Deno.test("warmUpWebSocketTraffic: every message reaches the client, then every one of the client's reaches the peer", async () => {
  const report = await warmUp(make, {
    messages: 0,
    // A generous time budget: only the count ends it, however busy the machine.
    then: (a, b) => warmUpWebSocketTraffic(a, b, { messages: 300, budgetMs: 60_000 }),
  });
  assert.equal(report.messages, 600);
});

Deno.test("the warm-up's events take both JSON writers: the WASM codec's, and the JS one for IPv6", () => {
  // A path the warm-up never took is compiled without type feedback and
  // thrown away at its first real message (seen with V8's --trace-deopt).
  const out = new Uint8Array(1 << 16);
  const written = Array.from(
    { length: 64 },
    (_, i) => writeJsonMembers(encode(warmUpConnEvent(i)), out, 0) >= 0,
  );
  assert.ok(written.filter(Boolean).length >= 32, "most go through the WASM codec");
  assert.ok(written.includes(false), "some have an IPv6 address, which the JS writer formats");
});

Deno.test("an endpoint's first WebSocket server waits for the warm-up, which leaves nothing behind", async () => {
  const ep = new Endpoint();
  const server = await ep.listenWebSocket("127.0.0.1", 0);
  try {
    // Once per process: this is the report of the warm-up that just ran.
    const report = await warmUpPartOnce(
      "websocket",
      make,
      () => Promise.reject(new Error("ran twice")),
    );
    assert.ok(report.messages > 0, "the WebSocket warm-up ran");
    assert.ok(!ep.filter.some((t) => t.includes("warm-up")), `filter: ${ep.filter}`);
    assert.equal(server.clientCount, 0);
    const client = await connectWebSocket(`ws://127.0.0.1:${server.port}`, ["/t"], {
      createSocket: tcpWebSocket,
      reconnectMs: 0,
    });
    try {
      ep.publish("/t", count(7n), { local: true });
      assert.equal(dataToString((await client.get(5_000))!.data), "7");
    } finally {
      client.close();
    }
  } finally {
    await server.close();
    await ep.shutdown();
  }
});

Deno.test("without permission for 127.0.0.1 the WebSocket warm-up does nothing, and asks nothing", async () => {
  const here = new URL(".", import.meta.url).href;
  const code = `
    import { Endpoint } from "${here}../endpoint.ts";
    import { warmUp } from "${here}../warm_up.ts";
    import { warmUpWebSocketTraffic } from "${here}warm_up_websocket.ts";
    const report = await warmUp((id) => new Endpoint({ id, warmUp: false }), {
      messages: 0,
      then: (a, b) => warmUpWebSocketTraffic(a, b),
    });
    console.log(report.messages);
  `;
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  await Deno.writeTextFile(file, code);
  // No permission flags: `deno run` grants none (and --no-prompt asks for none).
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-lock", "--no-prompt", file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  const text = new TextDecoder().decode(out.stdout).trim();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.equal(text, "0");
});
