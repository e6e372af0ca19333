import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { captureFrames, CAPTURES, hex, unhex } from "../../tests/fixtures.ts";
import { parseEndpointId } from "./endpoint_id.ts";
import {
  decodeFilter,
  decodeHandshakeMessage,
  encodeFilter,
  encodeHandshakeMessage,
  type HandshakeMessage,
  MAGIC,
  MessageType,
} from "./handshake_messages.ts";

const A = unhex("a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
const B = unhex("b0b1b2b3b4b5b6b7b8b9babbbcbdbebf");

// The hand-built examples of the source reference, section 5.3 (framed).
const EXAMPLES: [HandshakeMessage, string][] = [
  [
    { type: MessageType.hello, magic: MAGIC, senderId: A, minVersion: 1, maxVersion: 1 },
    "00000017065a45454ba0a1a2a3a4a5a6a7a8a9aaabacadaeaf0101",
  ],
  [{ type: MessageType.probe, magic: MAGIC }, "00000005075a45454b"],
  [
    { type: MessageType.version_select, magic: MAGIC, senderId: A, selectedVersion: 1 },
    "00000016085a45454ba0a1a2a3a4a5a6a7a8a9aaabacadaeaf01",
  ],
  [
    {
      type: MessageType.drop_conn,
      magic: MAGIC,
      senderId: B,
      code: 39,
      description: "redundant connection",
    },
    "0000002b095a45454bb0b1b2b3b4b5b6b7b8b9babbbcbdbebf2714" +
    hex(new TextEncoder().encode("redundant connection")),
  ],
  [
    { type: MessageType.originator_syn, filter: ["zeek/cluster/", "zeek/event/"] },
    "0000001c0a020d7a65656b2f636c75737465722f0b7a65656b2f6576656e742f",
  ],
  [
    { type: MessageType.responder_syn_ack, filter: ["mystore/<$>/data/master"] },
    "0000001a0b01176d7973746f72652f3c243e2f646174612f6d6173746572",
  ],
  [{ type: MessageType.responder_syn_ack, filter: [] }, "000000020b00"],
  [{ type: MessageType.originator_ack }, "000000010c"],
];

Deno.test("every handshake message encodes to the reference bytes and round-trips", () => {
  for (const [msg, framed] of EXAMPLES) {
    assert.equal(hex(encodeHandshakeMessage(msg, { prefix: true })), framed, MessageType[msg.type]);
    const payload = encodeHandshakeMessage(msg);
    assert.equal(hex(payload), framed.slice(8));
    assert.deepEqual(decodeHandshakeMessage(payload), msg);
  }
});

Deno.test("long descriptions and filters use multi-byte varbytes", () => {
  const msg: HandshakeMessage = {
    type: MessageType.originator_syn,
    filter: ["x".repeat(300), ...Array.from({ length: 200 }, (_, i) => `/t/${i}`)],
  };
  const bytes = encodeHandshakeMessage(msg);
  assert.deepEqual([...bytes.subarray(0, 5)], [0x0a, 0xc9, 0x01, 0xac, 0x02]);
  assert.deepEqual(decodeHandshakeMessage(bytes), msg);
});

Deno.test("decoding ignores trailing bytes and keeps wrong magic and versions for the state machine", () => {
  assert.deepEqual(decodeHandshakeMessage(unhex("0cffff")), { type: MessageType.originator_ack });
  assert.deepEqual(decodeHandshakeMessage(unhex("07deadbeef00")), {
    type: MessageType.probe,
    magic: 0xdeadbeef,
  });
  const hello = decodeHandshakeMessage(unhex("065a45454b" + "22".repeat(16) + "c8c9"));
  assert.equal(hello.type === MessageType.hello && hello.minVersion, 200);
});

Deno.test("unknown types and truncated fields throw invalid_message with Broker's descriptions", () => {
  const cases: [string, string][] = [
    ["", "invalid message type tag"],
    ["00", "invalid message type tag"],
    ["01", "invalid message type tag"], // node message types are not handshake messages
    ["05", "invalid message type tag"],
    ["0d", "invalid message type tag"],
    ["ff", "invalid message type tag"],
    ["065a45454b" + "22".repeat(16) + "01", "failed to parse hello_msg"],
    ["075a4545", "failed to parse probe_msg"],
    ["085a45454b" + "22".repeat(16), "failed to parse version_select_msg"],
    ["095a45454b" + "22".repeat(16) + "2705616263", "failed to parse drop_conn_msg"],
    ["095a45454b" + "22".repeat(16) + "27", "failed to parse drop_conn_msg"],
    ["0a", "failed to parse v1::originator_syn_msg"],
    ["0a02016101", "failed to parse v1::originator_syn_msg"],
    ["0b0180", "failed to parse v1::responder_syn_ack_msg"],
    ["0a8080808080", "failed to parse v1::originator_syn_msg"], // varbyte over 5 bytes
  ];
  for (const [h, text] of cases) {
    assert.throws(
      () => decodeHandshakeMessage(unhex(h)),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_message && e.message === text,
      h,
    );
  }
});

Deno.test("filters decode strictly", () => {
  assert.deepEqual(decodeFilter(encodeFilter(["/a", "<$>", "ü"])), ["/a", "<$>", "ü"]);
  for (const h of ["", "01", "0102", "020161", "0101610000"]) {
    assert.throws(
      () => decodeFilter(unhex(h)),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
      h,
    );
  }
});

Deno.test("the handshake frames of every capture decode and re-encode identically", () => {
  let seen = 0;
  for (const name of CAPTURES) {
    const done = new Set<string>();
    for (const f of captureFrames(name)) {
      const conn = [f.from, f.to].sort().join(" ");
      if (done.has(conn)) continue;
      const bytes = unhex(f.hex);
      const msg = decodeHandshakeMessage(bytes);
      assert.equal(hex(encodeHandshakeMessage(msg)), f.hex, `${name}: ${f.hex}`);
      if ("magic" in msg) assert.equal(msg.magic, MAGIC);
      if (msg.type === MessageType.originator_ack) done.add(conn);
      seen++;
    }
  }
  assert.equal(seen, 24);
  const hello = decodeHandshakeMessage(unhex(captureFrames("ping-pong")[0].hex));
  assert.deepEqual(hello, {
    type: MessageType.hello,
    magic: MAGIC,
    senderId: parseEndpointId("22222222-2222-4222-8222-222222222222"),
    minVersion: 1,
    maxVersion: 1,
  });
});
