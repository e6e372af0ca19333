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

/** A little-endian classic pcap's file header and records (each its 16-byte header and data). */
function split(pcap: Uint8Array): { head: Uint8Array; records: Uint8Array[] } {
  const dv = new DataView(pcap.buffer, pcap.byteOffset, pcap.byteLength);
  const records: Uint8Array[] = [];
  for (let at = 24; at < pcap.length;) {
    const n = 16 + dv.getUint32(at + 8, true);
    records.push(pcap.slice(at, at + n));
    at += n;
  }
  return { head: pcap.slice(0, 24), records };
}

const join = (head: Uint8Array, records: Uint8Array[]) =>
  new Uint8Array([...head, ...records.flatMap((r) => [...r])]);

Deno.test("one direction that is not Broker's, or a lost segment: the rest is read", () => {
  const good = Deno.readFileSync(
    new URL("../../fixtures/broker/pcap/ping-pong.pcap", import.meta.url),
  );
  const all = brokerMessagesFromPcap(good);
  assert.equal(all.length, 14);
  const { head, records } = split(good);
  // Ethernet, IPv4 without options: the TCP header at 34 of a record's data, 50 with its header.
  const payload = (r: Uint8Array) => r.length - 16 - 34 - (r[16 + 34 + 12] >> 4) * 4;
  const dataRecords = records.filter((r) => payload(r) > 0);
  // A segment from another port that starts "GET ": a direction whose bytes are no frames.
  const stray = dataRecords[5].slice();
  stray[16 + 34] = 0;
  stray[16 + 35] = 1;
  stray.set(new TextEncoder().encode("GET / HTTP/1.1\r\n"), stray.length - payload(stray));
  assert.deepEqual(brokerMessagesFromPcap(join(head, [...records, stray])), all);
  // A segment the capture lost: its direction ends there, the other is whole.
  const lost = dataRecords[6];
  const gap = brokerMessagesFromPcap(join(head, records.filter((r) => r !== lost)));
  assert.ok(gap.length > 0 && gap.length < all.length, `${gap.length} of ${all.length}`);
  for (const m of gap) assert.ok(all.some((a) => hex(a.frame) === hex(m.frame)));
  // A file of nothing but a link type we do not read (DLT_USER0) says so (pcapng_test.ts has
  // one interface of it beside a readable one: its packets are skipped).
  const user0 = head.slice();
  user0[20] = 147;
  assert.throws(
    () => brokerMessagesFromPcap(join(user0, records)),
    /unsupported pcap link type 147/,
  );
});
