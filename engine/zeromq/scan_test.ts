// The bulk scanner against the frame decoder's reading of the same bytes.
import assert from "node:assert/strict";
import { BrokerError } from "../errors.ts";
import { encodeFrame, encodeMessage, FrameDecoder } from "./frame.ts";
import { frameLength, MessageScanner, RECORD_SIZE } from "./scan.ts";
import { encodeCommand } from "./command.ts";

const te = new TextEncoder(), td = new TextDecoder();

function sampleMessages(): Uint8Array[][] {
  const out: Uint8Array[][] = [];
  for (let i = 0; i < 200; i++) {
    const parts = [te.encode(`topic.${i % 7}`), te.encode(`sender-${i}`)];
    // Short and long frames (a long one has an 8-byte size), and an empty part.
    if (i % 3 === 0) parts.push(new Uint8Array(300 + i).fill(i & 0xff));
    if (i % 5 === 0) parts.push(new Uint8Array(0));
    out.push(parts);
  }
  return out;
}

// Scans `bytes` fed in pieces of `step`, compacting as a connection does; returns each
// message's topic and frames, and the commands seen.
function scanInPieces(bytes: Uint8Array, step: number) {
  const commands: string[] = [];
  const scanner = new MessageScanner((frame) => {
    commands.push(td.decode(frame.subarray(3, 3 + frame[2])));
    return true;
  });
  const buf = new Uint8Array(bytes.length);
  const messages: { topic: string; raw: Uint8Array }[] = [];
  let have = 0;
  for (let at = 0; at < bytes.length; at += step) {
    const piece = bytes.subarray(at, Math.min(at + step, bytes.length));
    buf.set(piece, have);
    have += piece.length;
    const rest = scanner.scan(buf, 0, have);
    for (let i = 0; i < scanner.count; i++) {
      const r = scanner.records.subarray(RECORD_SIZE * i, RECORD_SIZE * (i + 1));
      messages.push({ topic: td.decode(buf.subarray(r[0], r[1])), raw: buf.slice(r[2], r[3]) });
    }
    buf.copyWithin(0, rest, scanner.end);
    have = scanner.end - rest;
  }
  assert.equal(have, 0, "nothing left over");
  return { messages, commands };
}

Deno.test("scanner: whole messages and their topics, however the bytes are cut", () => {
  const msgs = sampleMessages();
  const bytes = new Uint8Array(msgs.flatMap((m) => [...encodeMessage(m)]));
  for (const step of [1, 2, 7, 300, 4096, bytes.length]) {
    const { messages } = scanInPieces(bytes, step);
    assert.equal(messages.length, msgs.length, `step ${step}`);
    messages.forEach((m, i) => {
      assert.equal(m.topic, td.decode(msgs[i][0]));
      assert.deepEqual(m.raw, encodeMessage(msgs[i]), `message ${i}, step ${step}`);
    });
  }
});

Deno.test("scanner: a command between messages goes to the handler; inside a message it is cut out", () => {
  const ping = encodeFrame({
    command: true,
    more: false,
    body: encodeCommand("PING", new Uint8Array([0, 0])),
  });
  const a = [te.encode("t.a"), te.encode("x")], b = [te.encode("t.b"), te.encode("y")];
  // PING, message a, then b with a PING after its first frame.
  const bFirst = encodeMessage([b[0], b[1]]).subarray(0, 5);
  const bRest = encodeMessage([b[0], b[1]]).subarray(5);
  const bytes = new Uint8Array([
    ...ping,
    ...encodeMessage(a),
    ...bFirst,
    ...ping,
    ...bRest,
  ]);
  for (const step of [1, 3, bytes.length]) {
    const { messages, commands } = scanInPieces(bytes, step);
    assert.deepEqual(commands, ["PING", "PING"], `step ${step}`);
    assert.deepEqual(messages.map((m) => m.topic), ["t.a", "t.b"]);
    assert.deepEqual(messages[1].raw, encodeMessage(b), "b's frames are one run again");
  }
});

Deno.test("scanner: the frame decoder's errors, and a handler that stops the scan", () => {
  const bad = (bytes: number[]) => () =>
    new MessageScanner(() => true).scan(new Uint8Array(bytes), 0, bytes.length);
  assert.throws(bad([0x08, 0]), BrokerError, "reserved flag");
  assert.throws(bad([0x05, 0]), BrokerError, "command with MORE");
  assert.throws(bad([0x02, 0, 0, 0, 1, 0, 0, 0, 0]), /over the/, "a 2^32-byte frame");
  assert.throws(() => frameLength(new Uint8Array([0, 200]), 0, 2, 100), /over the 100-byte/);
  assert.throws(
    () => new MessageScanner(() => true, 100).scan(new Uint8Array([1, 200]), 0, 2),
    /over the 100-byte/,
    "a short frame over a small limit, before its body is in",
  );
  // Both read the same bytes alike: the decoder takes what the scanner takes.
  const msg = encodeMessage([te.encode("t"), new Uint8Array(1000)]);
  const d = new FrameDecoder();
  d.push(msg);
  assert.equal(d.next()?.body.length, 1);
  assert.equal(frameLength(msg, 0, msg.length), 3);
  assert.equal(frameLength(msg, 3, msg.length), 1009);
  // A handler returning false (the session failed) ends the scan at once.
  const ping = encodeFrame({ command: true, more: false, body: encodeCommand("ERROR") });
  const bytes = new Uint8Array([...ping, ...msg]);
  const s = new MessageScanner(() => false);
  assert.equal(s.scan(bytes, 0, bytes.length), ping.length);
  assert.equal(s.count, 0);
});
