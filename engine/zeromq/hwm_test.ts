// The node's send high-water marks (Zeek's xpub_sndhwm and log_sndhwm) over loopback TCP: a
// proxy or logger that stops reading makes our node drop and count, hold at most the mark, and
// deliver again, in order and without loss of what it accepted, once the reader reads again.
import assert from "node:assert/strict";
import { str } from "../data/mod.ts";
import { Event } from "../zeek/event.ts";
import { ZeekType } from "./log_batch.ts";
import { type SocketType, ZmtpSession } from "./session.ts";
import { ZmtpConnection } from "./tcp_connection.ts";
import { ZeekZmqNode } from "./tcp_node.ts";
import { LOG_WRITE_TOPIC, parseZeekZmqMessage, zeekZmqEvent } from "./zeek_message.ts";

const HWM = 64;
// Large enough that a few hundred messages fill the kernel's loopback buffers.
const BIG = "x".repeat(16 * 1024);

const tick = () => new Promise((r) => setTimeout(r, 1));

// A peer socket whose reading the test controls: it does the ZMTP handshake, then reads only
// while `resume` runs, reporting each received message.
class StallingPeer {
  readonly session: ZmtpSession;
  readonly conn: Deno.TcpConn;
  constructor(conn: Deno.TcpConn, type: SocketType) {
    this.conn = conn;
    this.session = new ZmtpSession({ socketType: type });
  }

  async handshake(): Promise<void> {
    const buf = new Uint8Array(4096);
    await this.#flush();
    while (!this.session.ready) {
      const n = await this.conn.read(buf);
      if (n === null) throw new Error("closed in the handshake");
      this.session.receive(buf.subarray(0, n));
      await this.#flush();
    }
  }

  async write(bytes: Uint8Array): Promise<void> {
    for (let at = 0; at < bytes.length;) at += await this.conn.write(bytes.subarray(at));
  }

  // Reads until `onMessage` returns true for a message.
  async resume(onMessage: (parts: Uint8Array[]) => boolean): Promise<void> {
    const buf = new Uint8Array(256 * 1024);
    while (true) {
      const n = await this.conn.read(buf);
      if (n === null) throw new Error("closed while reading");
      for (const e of this.session.receive(buf.subarray(0, n))) {
        if (e.type === "message" && onMessage(e.parts)) return;
      }
      await this.#flush();
    }
  }

  async #flush(): Promise<void> {
    const out = this.session.takeOutput();
    if (out) await this.write(out);
  }
}

// A hub for one node: its XSUB side (where the node's XPUB publishes) and log PULL stall on
// demand; its XPUB side (where the node's XSUB receives) is an ordinary connection.
async function hub(withLogger: boolean) {
  const listen = () => Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const xsubL = listen(), xpubL = listen(), logL = listen();
  const port = (l: Deno.Listener) => (l.addr as Deno.NetAddr).port;
  const accepted = Promise.all([
    xsubL.accept(),
    xpubL.accept(),
    withLogger ? logL.accept() : Promise.resolve(undefined),
  ]);
  const nodeP = ZeekZmqNode.connect({
    name: "worker-1",
    nodeType: "worker",
    xpub: { host: "127.0.0.1", port: port(xsubL) },
    xsub: { host: "127.0.0.1", port: port(xpubL) },
    ...(withLogger ? { logger: { host: "127.0.0.1", port: port(logL) } } : {}),
    xpubSndhwm: HWM,
    logSndhwm: HWM,
  });
  const [xsubConn, xpubConn, logConn] = await accepted;
  const xsub = new StallingPeer(xsubConn, "XSUB");
  const xpub = new ZmtpConnection(xpubConn, "XPUB", () => {});
  const log = logConn ? new StallingPeer(logConn, "PULL") : undefined;
  await Promise.all([xsub.handshake(), log?.handshake()]);
  const node = await nodeP;
  // The peers go first: a node's close waits for its writes, which a stalled peer never takes.
  const close = async () => {
    for (const c of [xsubConn, logConn]) {
      try {
        c?.close();
      } catch {
        // closed already
      }
    }
    xpub.close();
    await node.close().catch(() => {});
    for (const l of [xsubL, xpubL, logL]) l.close();
  };
  return { node, xsub, log, close };
}

Deno.test("xpub_sndhwm: a proxy that stops reading -> drops counted, at most the mark held, delivery resumes in order", async () => {
  const { node, xsub, close } = await hub(false);
  try {
    await xsub.write(xsub.session.subscribe("test."));
    for (let i = 0; !node.wants("test.hwm"); i++) {
      assert.ok(i < 10_000, "the subscription never reached the node");
      await tick();
    }
    // The proxy reads nothing now: publish until the kernel's buffers and the mark are full.
    let accepted = 0, seq = 0;
    for (let i = 0; node.stats().xpubDrops === 0; i++) {
      assert.ok(i < 1000, "no drop although nobody reads");
      for (let k = 0; k < 16; k++) {
        if (node.publish("test.hwm", new Event("Test::e", [str(`${seq++}`), str(BIG)]))) {
          accepted++;
        }
      }
      assert.ok(node.xpubQueued <= HWM, `${node.xpubQueued} queued`);
      await tick();
    }
    assert.ok(node.xpubQueued <= HWM, `${node.xpubQueued} queued`);
    // Thousands more (about 80 MB) change nothing but the drop counter.
    const before = node.stats().xpubDrops;
    for (let k = 0; k < 5000; k++) {
      if (node.publish("test.hwm", new Event("Test::e", [str(`${seq++}`), str(BIG)]))) accepted++;
      if (k % 100 === 0) await tick();
    }
    assert.ok(node.xpubQueued <= HWM, `${node.xpubQueued} queued`);
    assert.ok(node.stats().xpubDrops >= before + 5000 - HWM, JSON.stringify(node.stats()));
    assert.equal(accepted + node.stats().xpubDrops, seq);

    // The proxy reads again: everything accepted arrives in order, then a new event gets through.
    let received = 0, last = -1, sawAfter = false;
    const reading = xsub.resume((parts) => {
      const event = zeekZmqEvent(parseZeekZmqMessage(parts));
      if (event.name === "Test::after") return sawAfter = true;
      const n = Number((event.args[0] as { value: string }).value);
      assert.ok(n > last, `${n} after ${last}`);
      last = n;
      received++;
      return false;
    });
    for (let i = 0; !node.publish("test.hwm", new Event("Test::after")); i++) {
      assert.ok(i < 100_000, "the queue never drained");
      await tick();
    }
    await reading;
    assert.ok(sawAfter);
    assert.equal(received, accepted);
    assert.equal(node.xpubQueued, 0);
  } finally {
    await close();
  }
});

Deno.test("log_sndhwm: a logger that stops reading -> batches dropped and counted, at most the mark held, then delivered again", async () => {
  const { node, log, close } = await hub(true);
  const batch = (path: string) => ({
    streamName: "Test::LOG",
    writerName: "Log::WRITER_ASCII",
    filterName: "default",
    path,
    fields: [{ name: "s", type: ZeekType.string, subtype: 0, optional: false }],
    records: [[{ type: ZeekType.string, subtype: 0, value: BIG }]],
  });
  try {
    let accepted = 0, tries = 0;
    for (let i = 0; node.stats().logDrops === 0; i++) {
      assert.ok(i < 1000, "no drop although nobody reads");
      for (let k = 0; k < 16; k++, tries++) if (node.writeLogs(batch("test"))) accepted++;
      assert.ok(node.logQueued <= HWM, `${node.logQueued} queued`);
      await tick();
    }
    assert.ok(node.logQueued <= HWM, `${node.logQueued} queued`);
    for (let k = 0; k < 2000; k++, tries++) {
      if (node.writeLogs(batch("test"))) accepted++;
      if (k % 100 === 0) await tick();
    }
    assert.ok(node.logQueued <= HWM, `${node.logQueued} queued`);
    assert.equal(accepted + node.stats().logDrops, tries);
    assert.equal(node.stats().xpubDrops, 0);

    let received = 0;
    const reading = log!.resume((parts) => {
      const msg = parseZeekZmqMessage(parts);
      assert.equal(msg.topic, LOG_WRITE_TOPIC);
      received++;
      return received === accepted + 1;
    });
    for (let i = 0; !node.writeLogs(batch("after")); i++) {
      assert.ok(i < 100_000, "the queue never drained");
      await tick();
    }
    await reading;
    assert.equal(received, accepted + 1);
  } finally {
    await close();
  }
});
