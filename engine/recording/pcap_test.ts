import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { brokerMessagesFromPcap } from "./pcap.ts";
import { captureFrames, CAPTURES, hex, unhex } from "../../tests/fixtures.ts";

for (const name of CAPTURES) {
  Deno.test(`${name}.pcap: the node messages match the capture's frame list`, () => {
    const pcap = Deno.readFileSync(
      new URL(`../../fixtures/broker/pcap/${name}.pcap`, import.meta.url),
    );
    const ours = brokerMessagesFromPcap(pcap).map((m) => `${m.from}>${m.to} ${hex(m.frame)}`);
    // The frame list holds the handshake too; node messages are the frames of 37+ bytes
    // whose type byte (offset 32) is 1..5, after the handshake.
    const expected = captureFrames(name)
      .filter((f) => f.length >= 37 && unhex(f.hex)[32] >= 1 && unhex(f.hex)[32] <= 5)
      .map((f) => `${f.from}>${f.to} ${f.hex}`);
    assert.deepEqual(ours.toSorted(), expected.toSorted());
    assert.ok(ours.length > 0);
  });
}

Deno.test("bad pcap files give typed errors", () => {
  const code = (b: Uint8Array) => {
    try {
      brokerMessagesFromPcap(b);
      return 0;
    } catch (e) {
      return e instanceof BrokerError ? e.code : -1;
    }
  };
  assert.equal(code(new Uint8Array(30)), ErrorCode.wrong_magic_number);
  // pcapng is read now: eight bytes of it are a cut section header.
  assert.equal(code(new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a, 0, 0, 0, 0])), ErrorCode.end_of_file);
  const good = Deno.readFileSync(
    new URL("../../fixtures/broker/pcap/ping-pong.pcap", import.meta.url),
  );
  assert.equal(code(good.slice(0, good.length - 5)), ErrorCode.end_of_file);
  for (let at = 24; at < good.length; at += 7) {
    const bad = good.slice();
    bad[at] ^= 0x5a;
    assert.notEqual(code(bad), -1, `byte ${at}`);
  }
});
