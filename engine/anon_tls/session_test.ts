// The anonymous TLS session without a network: ours with ours in any
// chunking, the reference broker-node's own ClientHello and server flight
// (fixtures/tls), and bad input as alerts, never a throw.
import assert from "node:assert/strict";
import { AnonTlsSession } from "./session.ts";
import { AlertCode, ContentType, NO_ALERT, RecordReader } from "./records.ts";

const FIXTURES = new URL("../../fixtures/tls/", import.meta.url);
const CLIENT_HELLO = Deno.readFileSync(new URL("anon-client-hello.bin", FIXTURES));
const SERVER_FLIGHT = Deno.readFileSync(new URL("anon-server-flight.bin", FIXTURES));

/** Moves each side's bytes to the other in chunks of `chunk` bytes until neither sends more. */
function pump(client: AnonTlsSession, server: AnonTlsSession, chunk: number, first: Uint8Array[]) {
  let toServer = first, toClient: Uint8Array[] = [];
  const cut = (bytes: Uint8Array[]) =>
    bytes.flatMap((b) =>
      Array.from(
        { length: Math.ceil(b.length / chunk) },
        (_, i) => b.subarray(i * chunk, (i + 1) * chunk),
      )
    );
  const data = { client: [] as Uint8Array[], server: [] as Uint8Array[] };
  while (toServer.length || toClient.length) {
    for (const b of cut(toServer)) {
      const ev = server.receive(b);
      assert.equal(ev.error, undefined);
      toClient.push(...ev.send);
      data.server.push(...ev.data);
    }
    toServer = [];
    for (const b of cut(toClient)) {
      const ev = client.receive(b);
      assert.equal(ev.error, undefined);
      toServer.push(...ev.send);
      data.client.push(...ev.data);
    }
    toClient = [];
  }
  return data;
}

function connected(chunk = 1 << 20) {
  const client = new AnonTlsSession("client"), server = new AnonTlsSession("server");
  pump(client, server, chunk, [client.start()]);
  assert.equal(client.state, "connected");
  assert.equal(server.state, "connected");
  return { client, server };
}

/** The alert records in `bytes` that are still plain text: [level, code] each. */
function plainAlerts(bytes: Uint8Array[]): number[][] {
  const r = new RecordReader();
  for (const b of bytes) r.push(b);
  const out: number[][] = [];
  for (let rec = r.next(); rec; rec = r.next()) {
    if (rec.type === ContentType.alert && rec.body.length === 2) out.push([...rec.body]);
  }
  return out;
}

Deno.test("anon TLS: ours with ours, a byte at a time; data both ways, large writes cut into records; close_notify ends it", () => {
  const { client, server } = connected(1);
  const big = new Uint8Array(40_000).map((_, i) => i * 7);
  const sealed = client.seal(big);
  assert.ok(sealed.length > big.length + 3 * 5, "three records at least");
  const got = pump(client, server, 1, [sealed, client.seal(new Uint8Array([1]))]);
  assert.deepEqual(new Uint8Array(got.server.flatMap((c) => [...c])), new Uint8Array([...big, 1]));
  const back = server.receive(new Uint8Array(0));
  assert.deepEqual(back.data, []);
  assert.deepEqual(client.receive(server.seal(new Uint8Array([9, 8]))).data, [
    new Uint8Array([9, 8]),
  ]);
  const ev = server.receive(client.close());
  assert.equal(ev.ended, true);
  assert.equal(server.state, "closed");
  assert.throws(() => client.seal(new Uint8Array([1])), /closed/);
});

Deno.test("anon TLS: broker-node's ClientHello (TLS 1.3 and 1.2 offered) gets TLS 1.2 with AECDH-AES256-SHA over P-384", () => {
  const server = new AnonTlsSession("server");
  const ev = server.receive(CLIENT_HELLO);
  assert.equal(ev.error, undefined);
  assert.equal(server.state, "wait_client_key_exchange");
  const r = new RecordReader();
  r.push(ev.send[0]);
  const rec = r.next()!;
  assert.equal(rec.type, ContentType.handshake);
  const hello = rec.body;
  assert.equal(hello[0], 2); // ServerHello
  assert.deepEqual([...hello.subarray(4, 6)], [3, 3]); // TLS 1.2
  // session id (empty), then the suite: 0xc019
  assert.equal(hello[38], 0);
  assert.deepEqual([...hello.subarray(39, 41)], [0xc0, 0x19]);
  // ServerKeyExchange: named curve secp384r1, a 97-byte point.
  const ske = hello.subarray(4 + ((hello[1] << 16) | (hello[2] << 8) | hello[3]));
  assert.equal(ske[0], 12);
  assert.deepEqual([...ske.subarray(4, 8)], [3, 0, 0x18, 97]);
});

Deno.test("anon TLS: broker-node's server flight makes our client send its key exchange, ChangeCipherSpec and Finished", () => {
  const client = new AnonTlsSession("client");
  client.start();
  // The flight answered another ClientHello (its random), so only the client's answer is checked.
  const ev = client.receive(SERVER_FLIGHT);
  assert.equal(ev.error, undefined);
  assert.equal(client.state, "wait_change_cipher_spec");
  const r = new RecordReader();
  for (const b of ev.send) r.push(b);
  const types = [];
  for (let rec = r.next(); rec; rec = r.next()) types.push(rec.type);
  assert.deepEqual(types, [
    ContentType.handshake,
    ContentType.change_cipher_spec,
    ContentType.handshake,
  ]);
});

Deno.test("anon TLS: bad input is a fatal alert for the peer and an error, never a throw; a cut record waits", () => {
  const cases: [string, Uint8Array, number][] = [
    // A first record that is no TLS at all gets no alert, as from OpenSSL (Zeek's listener).
    ["garbage", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), NO_ALERT],
    ["Broker's plain hello", new Uint8Array([0, 0, 0, 40, 1, 2, 3, 4, 5, 6]), NO_ALERT],
    ["a first record of version 2.0", new Uint8Array([22, 2, 0, 0, 1, 1]), NO_ALERT],
    [
      "a first record of no content type",
      new Uint8Array([24, 3, 3, 0, 1, 1]),
      AlertCode.unexpected_message,
    ],
    [
      "a record longer than TLS allows",
      new Uint8Array([22, 3, 3, 0xff, 0xff]),
      AlertCode.record_overflow,
    ],
    [
      "a handshake message that claims 16 MiB",
      new Uint8Array([22, 3, 3, 0, 4, 1, 0xff, 0xff, 0xff]),
      AlertCode.decode_error,
    ],
    [
      "a ClientHello cut short inside",
      new Uint8Array([22, 3, 3, 0, 6, 1, 0, 0, 2, 3, 3]),
      AlertCode.decode_error,
    ],
    ["ChangeCipherSpec first", new Uint8Array([20, 3, 3, 0, 1, 1]), AlertCode.unexpected_message],
    ["application data first", new Uint8Array([23, 3, 3, 0, 1, 1]), AlertCode.unexpected_message],
  ];
  // A ClientHello without Broker's suite (a browser's, say): handshake_failure, as broker-node's listener answers.
  const other = CLIENT_HELLO.slice();
  const suites = 5 + 4 + 2 + 32 + 1 + other[5 + 4 + 2 + 32] + 2;
  const n = (other[suites - 2] << 8) | other[suites - 1];
  for (let i = 0; i < n; i += 2) {
    if (other[suites + i] === 0xc0 && other[suites + i + 1] === 0x19) {
      other[suites + i + 1] = 0x2c;
    }
  }
  cases.push(["a ClientHello without AECDH-AES256-SHA", other, AlertCode.handshake_failure]);
  // TLS 1.0 only: protocol_version.
  const old = new AnonTlsSession("client").start();
  old[10] = 1; // client_version 3.1
  const noVersions = old; // our hello has no supported_versions extension
  cases.push(["a TLS 1.0 ClientHello", noVersions, AlertCode.protocol_version]);
  for (const [what, bytes, code] of cases) {
    const server = new AnonTlsSession("server");
    const ev = server.receive(bytes);
    assert.equal(server.state, "failed", what);
    assert.ok(ev.error, what);
    assert.deepEqual(plainAlerts(ev.send), code === NO_ALERT ? [] : [[2, code]], what);
    if (code === NO_ALERT) assert.deepEqual(ev.send, [], what);
    assert.deepEqual(server.receive(CLIENT_HELLO).send, [], `${what}: nothing after failing`);
  }
  // After a first TLS record, one of another version is protocol_version, as from OpenSSL.
  const later = new AnonTlsSession("server");
  later.receive(CLIENT_HELLO);
  const bad = later.receive(new Uint8Array([22, 0, 0, 0, 1, 1]));
  assert.equal(later.state, "failed");
  assert.deepEqual(plainAlerts(bad.send), [[2, AlertCode.protocol_version]]);
  const server = new AnonTlsSession("server");
  const ev = server.receive(CLIENT_HELLO.subarray(0, 100));
  assert.deepEqual([ev.send.length, ev.error, server.state], [0, undefined, "wait_client_hello"]);
  assert.equal(server.receive(CLIENT_HELLO.subarray(100)).send.length, 1);
});

Deno.test("anon TLS: a record changed on the way is bad_record_mac, told to the peer under the keys", () => {
  const { client, server } = connected();
  const sealed = client.seal(new TextEncoder().encode("transfer 100"));
  sealed[sealed.length - 20] ^= 1;
  const ev = server.receive(sealed);
  assert.equal(server.state, "failed");
  assert.match(ev.error!, /MAC or padding/);
  assert.equal(plainAlerts(ev.send).length, 0, "the alert is encrypted");
  const back = client.receive(ev.send[0]);
  assert.equal(client.state, "failed");
  assert.match(back.error!, /alert 20 \(bad_record_mac\)/);
});

Deno.test("anon TLS: the peer's fatal alert during the handshake fails the session without an answer", () => {
  const client = new AnonTlsSession("client");
  client.start();
  const ev = client.receive(new Uint8Array([21, 3, 3, 0, 2, 2, 40]));
  assert.equal(client.state, "failed");
  assert.deepEqual(ev.send, []);
  assert.match(ev.error!, /alert 40 \(handshake_failure\)/);
});
