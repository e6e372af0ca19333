// The ZMTP codec's own rules: greetings, frames, commands and sessions, errors included.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import {
  encodeCommand,
  encodeFrame,
  encodeGreeting,
  encodeMessage,
  encodeReady,
  FrameDecoder,
  parseCommand,
  parseGreeting,
  parseReady,
  type SocketType,
  type ZmtpEvent,
  ZmtpSession,
} from "./mod.ts";

const te = new TextEncoder();

function code(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BrokerError, `not a BrokerError: ${e}`);
    return e.code;
  }
  throw new Error("did not throw");
}

/** Runs two sessions against each other until neither has output; returns each side's events. */
function pair(a: ZmtpSession, b: ZmtpSession): [ZmtpEvent[], ZmtpEvent[]] {
  const ea: ZmtpEvent[] = [], eb: ZmtpEvent[] = [];
  for (let i = 0; i < 10; i++) {
    const fromA = a.takeOutput(), fromB = b.takeOutput();
    if (!fromA && !fromB) break;
    if (fromB) ea.push(...a.receive(fromB));
    if (fromA) eb.push(...b.receive(fromA));
  }
  return [ea, eb];
}

Deno.test("greeting: bad signature, old versions, bad mechanism fields are typed errors", () => {
  const good = encodeGreeting({ mechanism: "NULL", asServer: false });
  assert.equal(code(() => parseGreeting(good.subarray(0, 63))), ErrorCode.end_of_file);
  assert.equal(code(() => parseGreeting(new Uint8Array(64))), ErrorCode.wrong_magic_number);
  const v2 = good.slice();
  v2[10] = 2;
  assert.equal(code(() => parseGreeting(v2)), ErrorCode.peer_incompatible);
  const gap = good.slice();
  gap[20] = 0x41; // a byte after the NUL that ends "NULL"
  assert.equal(code(() => parseGreeting(gap)), ErrorCode.peer_incompatible);
  const server = good.slice();
  server[32] = 2;
  assert.equal(code(() => parseGreeting(server)), ErrorCode.peer_incompatible);
  assert.equal(
    code(() => encodeGreeting({ mechanism: "X".repeat(21), asServer: false })),
    ErrorCode.invalid_data,
  );
  assert.deepEqual(parseGreeting(encodeGreeting({ mechanism: "CURVE", asServer: true })), {
    major: 3,
    minor: 1,
    mechanism: "CURVE",
    asServer: true,
  });
});

Deno.test("frames: short and long sizes, byte by byte, and the decoder's errors", () => {
  const big = new Uint8Array(300).fill(7);
  const bytes = [
    encodeFrame({ command: false, more: true, body: te.encode("a") }),
    encodeFrame({ command: false, more: false, body: big }),
    encodeFrame({ command: true, more: false, body: encodeCommand("PING") }),
    // A long size for a short body is legal, and kept for re-encoding.
    encodeFrame({ command: false, more: false, body: te.encode("x"), long: true }),
  ];
  assert.equal(bytes[1][0], 0x02);
  assert.equal(bytes[1].length, 9 + 300);
  const d = new FrameDecoder();
  const got = [];
  for (const b of bytes.flatMap((f) => [...f])) {
    d.push(new Uint8Array([b]));
    for (let f = d.next(); f; f = d.next()) got.push(f);
  }
  assert.equal(got.length, 4);
  assert.deepEqual(got.map((f) => [f.command, f.more, f.body.length, f.long]), [
    [false, true, 1, false],
    [false, false, 300, true],
    [true, false, 5, false],
    [false, false, 1, true],
  ]);
  assert.deepEqual(got.map(encodeFrame), bytes);

  const reserved = new FrameDecoder();
  reserved.push(new Uint8Array([0x08, 0]));
  assert.equal(code(() => reserved.next()), ErrorCode.invalid_message);
  const commandMore = new FrameDecoder();
  commandMore.push(new Uint8Array([0x05, 0]));
  assert.equal(code(() => commandMore.next()), ErrorCode.invalid_message);
  const huge = new FrameDecoder(1024);
  huge.push(new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0x04, 0x01]));
  assert.equal(code(() => huge.next()), ErrorCode.invalid_message);
  const beyond = new FrameDecoder();
  beyond.push(new Uint8Array([0x02, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
  assert.equal(code(() => beyond.next()), ErrorCode.invalid_message);
  assert.equal(
    code(() => encodeFrame({ command: false, more: false, body: big, long: false })),
    ErrorCode.invalid_data,
  );
  assert.equal(code(() => encodeMessage([])), ErrorCode.invalid_data);
});

Deno.test("commands and READY properties: round trips and malformed bodies", () => {
  const body = encodeCommand(
    "READY",
    encodeReady([["Socket-Type", "XPUB"], ["Identity", ""], ["X-Bytes", new Uint8Array([0, 255])]]),
  );
  // libzmq's READY of an XPUB, as the capture has it.
  assert.deepEqual(
    body.subarray(0, 26),
    new Uint8Array([
      5,
      ...te.encode("READY"),
      11,
      ...te.encode("Socket-Type"),
      0,
      0,
      0,
      4,
      ...te.encode("XPUB"),
    ]),
  );
  const { name, data } = parseCommand(body);
  assert.equal(name, "READY");
  assert.deepEqual([...parseReady(data)], [["Socket-Type", "XPUB"], ["Identity", ""], [
    "X-Bytes",
    "\x00\xff",
  ]]);
  assert.equal(code(() => parseCommand(new Uint8Array([]))), ErrorCode.invalid_message);
  assert.equal(code(() => parseCommand(new Uint8Array([9, 65]))), ErrorCode.invalid_message);
  assert.equal(code(() => parseReady(new Uint8Array([3, 65, 66]))), ErrorCode.invalid_message);
  assert.equal(
    code(() => parseReady(new Uint8Array([1, 65, 0, 0, 0, 9, 1]))),
    ErrorCode.invalid_message,
  );
  // A well-formed READY with a megabyte value is read (a spread of it overflowed the stack).
  const big = parseReady(
    encodeReady([["Socket-Type", "XPUB"], ["X-Big", new Uint8Array(1 << 20)]]),
  );
  assert.equal(big.get("X-Big")?.length, 1 << 20);
});

Deno.test("session: XSUB and XPUB complete the handshake, then messages and subscriptions flow", () => {
  const sub = new ZmtpSession({ socketType: "XSUB" });
  const pub = new ZmtpSession({ socketType: "XPUB" });
  assert.throws(() => sub.send([te.encode("early")]), BrokerError);
  const [es, ep] = pair(sub, pub);
  assert.ok(sub.ready && pub.ready);
  assert.equal(es[0].type === "ready" && es[0].properties.get("Socket-Type"), "XPUB");
  assert.equal(ep[0].type === "ready" && ep[0].properties.get("Socket-Type"), "XSUB");

  const evs = pub.receive(sub.subscribe("zeek.cluster."));
  assert.equal(evs.length, 1);
  assert.ok(evs[0].type === "subscription" && evs[0].subscription.subscribe);
  // SUBSCRIBE and CANCEL commands too (ZMTP 3.1).
  const cancel = pub.receive(encodeFrame({
    command: true,
    more: false,
    body: encodeCommand("CANCEL", te.encode("zeek.cluster.")),
  }));
  assert.ok(cancel[0].type === "subscription" && !cancel[0].subscription.subscribe);

  const parts = [
    te.encode("topic"),
    te.encode("sender"),
    te.encode("broker-bin-v1"),
    new Uint8Array(300),
  ];
  const got = sub.receive(pub.send(parts));
  assert.equal(got.length, 1);
  assert.ok(got[0].type === "message");
  assert.deepEqual(got[0].parts, parts);
  // An XSUB takes a one-part message starting with 1 as data, not as a subscription.
  const data = sub.receive(pub.send([new Uint8Array([1, 2])]));
  assert.equal(data[0].type, "message");
});

Deno.test("session: PING gets a PONG with the context, other commands are reported", () => {
  const a = new ZmtpSession({ socketType: "PUSH" });
  const b = new ZmtpSession({ socketType: "PULL" });
  pair(a, b);
  assert.deepEqual(
    a.receive(encodeFrame({
      command: true,
      more: false,
      body: encodeCommand("PING", new Uint8Array([0, 100, 42, 43])),
    })),
    [],
  );
  const d = new FrameDecoder();
  d.push(a.takeOutput()!);
  const pong = parseCommand(d.next()!.body);
  assert.equal(pong.name, "PONG");
  assert.deepEqual(pong.data, new Uint8Array([42, 43]));
  const other = a.receive(encodeFrame({ command: true, more: false, body: encodeCommand("PONG") }));
  assert.ok(other[0].type === "command" && other[0].command.name === "PONG");
});

Deno.test("session: protocol errors are events, never exceptions, and the session stops", () => {
  const errorOf = (s: ZmtpSession, bytes: Uint8Array) => {
    const evs = s.receive(bytes);
    const e = evs.find((e) => e.type === "error");
    assert.ok(e && e.type === "error", `no error in ${JSON.stringify(evs)}`);
    assert.ok(s.failed);
    assert.deepEqual(s.receive(bytes), [], "a failed session ignores input");
    return e.error.code;
  };
  // Not ZMTP at all: known from the first 10 bytes.
  assert.equal(
    errorOf(new ZmtpSession({ socketType: "XSUB" }), te.encode("GET / HTTP/1.1\r\n")),
    ErrorCode.wrong_magic_number,
  );
  // Another mechanism.
  assert.equal(
    errorOf(
      new ZmtpSession({ socketType: "XSUB" }),
      encodeGreeting({ mechanism: "PLAIN", asServer: true }),
    ),
    ErrorCode.peer_incompatible,
  );
  // A message before READY.
  const early = new ZmtpSession({ socketType: "XSUB" });
  assert.equal(
    errorOf(
      early,
      new Uint8Array([...encodeGreeting({ mechanism: "NULL", asServer: false }), 0, 1, 65]),
    ),
    ErrorCode.invalid_message,
  );
  // Socket types that do not match: the session also tells the peer with ERROR.
  const push = new ZmtpSession({ socketType: "PUSH" });
  const xsub = new ZmtpSession({ socketType: "XSUB" });
  const [ep] = pair(push, xsub);
  const err = ep.find((e) => e.type === "error");
  assert.ok(err && err.type === "error" && err.error.code === ErrorCode.peer_incompatible);
  // The peer's ERROR command ends the session on the other side too.
  const other = new ZmtpSession({ socketType: "PULL" as SocketType });
  other.receive(encodeGreeting({ mechanism: "NULL", asServer: false }));
  assert.equal(
    errorOf(
      other,
      encodeFrame({
        command: true,
        more: false,
        body: encodeCommand("ERROR", new Uint8Array([3, 98, 97, 100])),
      }),
    ),
    ErrorCode.peer_invalid,
  );
});

Deno.test("session: random input never throws", () => {
  let seed = 1;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const greeting = encodeGreeting({ mechanism: "NULL", asServer: false });
  const ready = encodeFrame({
    command: true,
    more: false,
    body: encodeCommand("READY", encodeReady([["Socket-Type", "XPUB"]])),
  });
  for (let i = 0; i < 2000; i++) {
    const s = new ZmtpSession({ socketType: "XSUB" });
    const noise = Uint8Array.from(
      { length: Math.floor(rand() * 64) },
      () => Math.floor(rand() * 256),
    );
    const input = i % 2 ? new Uint8Array([...greeting, ...ready, ...noise]) : noise;
    s.receive(input);
  }
});

Deno.test("session: a message's raw frames are the bytes received, byte by byte too", () => {
  const sub = new ZmtpSession({ socketType: "XSUB" });
  const pub = new ZmtpSession({ socketType: "XPUB" });
  pair(sub, pub);
  const parts = [te.encode("topic"), te.encode("sender"), new Uint8Array(300).fill(7)];
  const wire = pub.send(parts);
  const whole = sub.receive(wire);
  assert.ok(whole[0].type === "message");
  assert.deepEqual(whole[0].raw, wire);
  // Split in pieces, the frames still end up contiguous in the decoder's buffer.
  const events: ZmtpEvent[] = [];
  for (let i = 0; i < wire.length; i++) events.push(...sub.receive(wire.subarray(i, i + 1)));
  assert.ok(events[0].type === "message");
  assert.deepEqual(events[0].parts, parts);
  assert.deepEqual(events[0].raw, wire);
  // A command inside a message: no raw bytes (they are not contiguous), the parts as ever.
  const ping = encodeFrame({
    command: true,
    more: false,
    body: encodeCommand("PING", te.encode("\0\0")),
  });
  const first = encodeFrame({ command: false, more: true, body: parts[0] });
  const last = encodeFrame({ command: false, more: false, body: parts[1] });
  const mixed = sub.receive(new Uint8Array([...first, ...ping, ...last]));
  const msg = mixed.find((e) => e.type === "message");
  assert.ok(msg?.type === "message");
  assert.deepEqual(msg.parts, parts.slice(0, 2));
  assert.equal(msg.raw, undefined);
});
