import assert from "node:assert/strict";
import { MetricsHttpServer } from "./http_server.ts";

const handlers = { metrics: () => "# nothing\n", status: () => ({ id: "x" }) };

/** Everything the server sends until it closes the connection. */
async function untilClosed(c: Deno.Conn): Promise<string> {
  let text = "";
  const buf = new Uint8Array(4096);
  for (let n; (n = await c.read(buf).catch(() => null)) !== null;) {
    text += new TextDecoder().decode(buf.subarray(0, n));
  }
  c.close();
  return text;
}

Deno.test("the metrics server answers one request per connection and then closes it, as Broker's", async () => {
  // Deno's HTTP server kept the connection open after the answer (keep-alive)
  // for good: a scraper that never closed its side held a descriptor each time.
  const server = await MetricsHttpServer.listen("127.0.0.1", 0, handlers);
  try {
    const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await c.write(new TextEncoder().encode("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    const text = await untilClosed(c);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /\r\nconnection: close\r\n/i);
    assert.ok(text.endsWith("\r\n\r\n# nothing\n"), text);
    assert.equal(server.requests, 1);
  } finally {
    await server.close();
  }
});

Deno.test("the metrics server disconnects clients that send no whole request within the request timeout", async () => {
  // Nothing, a request line, half a header: each held a descriptor for good.
  const server = await MetricsHttpServer.listen("127.0.0.1", 0, handlers, {
    requestTimeoutMs: 200,
  });
  try {
    const parts = ["", "GET /metrics HTTP/1.1\r\n", "GET /metrics HTTP/1.1\r\nHo"];
    const conns: Deno.Conn[] = [];
    for (let i = 0; i < 30; i++) {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
      const part = parts[i % parts.length];
      if (part) await c.write(new TextEncoder().encode(part));
      conns.push(c);
    }
    for (const c of conns) assert.equal(await untilClosed(c), "", "closed without an answer");
    while (server.connections > 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(server.requests, 0);
    // And it still serves.
    const res = await fetch(`http://127.0.0.1:${server.port}/v1/status/json`);
    assert.deepEqual(await res.json(), { id: "x" });
  } finally {
    await server.close();
  }
});

Deno.test("the metrics server answers bytes that are no request, and a huge head, without waiting for more", async () => {
  const server = await MetricsHttpServer.listen("127.0.0.1", 0, handlers);
  try {
    const junk = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await junk.write(new Uint8Array(64).fill(0xff));
    assert.match(await untilClosed(junk), /^HTTP\/1\.1 400 /);
    const huge = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const head = `GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(64 * 1024)}\r\n\r\n`;
    await huge.write(new TextEncoder().encode(head)).catch(() => {});
    assert.match(await untilClosed(huge), /^HTTP\/1\.1 431 /);
    const headRequest = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await headRequest.write(new TextEncoder().encode("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
    const answer = await untilClosed(headRequest);
    assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(answer, /\r\ncontent-length: 10\r\n/);
    assert.ok(answer.endsWith("\r\n\r\n"), "no body for HEAD");
  } finally {
    await server.close();
  }
});

Deno.test("past maxConnections open at once, the metrics server closes a new connection as it comes", async () => {
  // Silent clients each wait out the request timeout: without a cap, a flood
  // of them held a descriptor each for that long.
  const server = await MetricsHttpServer.listen("127.0.0.1", 0, handlers, { maxConnections: 4 });
  const silent: Deno.Conn[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      silent.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
    }
    while (server.connections < 4) await new Promise((r) => setTimeout(r, 10));
    const extra = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    assert.equal(await untilClosed(extra), "", "closed without an answer");
    assert.equal(server.refused, 1);
    assert.equal(server.connections, 4);
    // One of the four leaves: a request is served again.
    silent.pop()!.close();
    while (server.connections > 3) await new Promise((r) => setTimeout(r, 10));
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    assert.equal(await res.text(), "# nothing\n");
  } finally {
    for (const c of silent) c.close();
    await server.close();
  }
});
