import assert from "node:assert/strict";
import fc from "fast-check";
import { BrokerError, ErrorCode } from "../errors.ts";
import { brokerMessagesFromPcap, type CapturedPacket, capturedPackets } from "./pcap.ts";
import { captureFrames, CAPTURES, hex, unhex } from "../../tests/fixtures.ts";

const fixture = (file: string) =>
  Deno.readFileSync(new URL(`../../fixtures/broker/pcap/${file}`, import.meta.url));

/** Node messages as comparable lines, with or without their times. */
function messages(bytes: Uint8Array, timed = true): string[] {
  return brokerMessagesFromPcap(bytes).map((m) =>
    `${timed ? `${m.timeNs} ` : ""}${m.from}>${m.to} ${hex(m.frame)}`
  );
}

function errorCode(bytes: Uint8Array): number {
  try {
    brokerMessagesFromPcap(bytes);
    return 0;
  } catch (e) {
    if (e instanceof BrokerError) return e.code;
    throw e;
  }
}

/** A small pcapng writer, so the tests can make what editcap does not: other byte orders, resolutions, blocks. */
class PcapngWriter {
  #parts: Uint8Array[] = [];
  #le = true;

  /** Raw bytes, for breaking things. */
  raw(b: Uint8Array): this {
    this.#parts.push(b);
    return this;
  }

  block(type: number, body: Uint8Array): this {
    const total = 12 + ((body.length + 3) & ~3);
    const b = new Uint8Array(total);
    const dv = new DataView(b.buffer);
    dv.setUint32(0, type, this.#le);
    dv.setUint32(4, total, this.#le);
    b.set(body, 8);
    dv.setUint32(total - 4, total, this.#le);
    return this.raw(b);
  }

  section(le: boolean, major = 1): this {
    this.#le = le;
    return this.block(0x0a0d0d0a, this.#fields([[4, 0x1a2b3c4d], [2, major], [2, 0], [8, -1n]]));
  }

  iface(linkType: number, options: [number, Uint8Array][] = [], snaplen = 0): this {
    const opts = options.map(([code, v]) =>
      concat(this.#fields([[2, code], [2, v.length]]), v, new Uint8Array((4 - v.length % 4) % 4))
    );
    return this.block(
      1,
      concat(this.#fields([[2, linkType], [2, 0], [4, snaplen]]), ...opts, new Uint8Array(4)),
    );
  }

  epb(ifId: number, ticks: bigint, data: Uint8Array): this {
    return this.block(
      6,
      concat(this.#fields([[4, ifId], [8, ticks], [4, data.length], [4, data.length]]), data),
    );
  }

  pb(ifId: number, ticks: bigint, data: Uint8Array): this {
    const head = this.#fields([[2, ifId], [2, 0], [8, ticks], [4, data.length], [4, data.length]]);
    return this.block(2, concat(head, data));
  }

  spb(data: Uint8Array, origLen = data.length): this {
    return this.block(3, concat(this.#fields([[4, origLen]]), data));
  }

  bytes(): Uint8Array {
    return concat(...this.#parts);
  }

  /** Fixed-size fields in the section's byte order; an 8-byte timestamp is high word first. */
  #fields(fields: [2 | 4 | 8, number | bigint][]): Uint8Array {
    const b = new Uint8Array(fields.reduce((n, [size]) => n + size, 0));
    const dv = new DataView(b.buffer);
    let p = 0;
    for (const [size, v] of fields) {
      if (size === 2) dv.setUint16(p, Number(v), this.#le);
      else if (size === 4) dv.setUint32(p, Number(v), this.#le);
      else {
        const big = BigInt.asUintN(64, BigInt(v));
        dv.setUint32(p, Number(big >> 32n), this.#le);
        dv.setUint32(p + 4, Number(big & 0xffffffffn), this.#le);
      }
      p += size;
    }
    return b;
  }
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

const classic = fixture("ping-pong.pcap");
const packets: CapturedPacket[] = [...capturedPackets(classic)];

/** ping-pong's packets as EPBs on interface 0, in µs (the default resolution). */
function pingPong(w = new PcapngWriter().section(true).iface(1)): Uint8Array {
  for (const p of packets) w.epb(0, p.timeNs / 1000n, p.data);
  return w.bytes();
}

for (const name of CAPTURES) {
  Deno.test(`${name}.pcapng: the same node messages as the frame list and the classic pcap`, () => {
    const ng = fixture(`${name}.pcapng`);
    assert.deepEqual(messages(ng), messages(fixture(`${name}.pcap`)));
    const expected = captureFrames(name)
      .filter((f) => f.length >= 37 && unhex(f.hex)[32] >= 1 && unhex(f.hex)[32] <= 5)
      .map((f) => `${f.from}>${f.to} ${f.hex}`);
    assert.deepEqual(messages(ng, false).toSorted(), expected.toSorted());
    assert.ok(expected.length > 0);
  });
}

Deno.test("ping-pong.nsec.pcapng (if_tsresol 9): the same messages and times as the pcap", () => {
  const ng = fixture("ping-pong.nsec.pcapng");
  assert.deepEqual([...capturedPackets(ng)].map((p) => p.timeNs), packets.map((p) => p.timeNs));
  assert.deepEqual(messages(ng), messages(classic));
});

Deno.test("pcapng built here: little-endian, big-endian and the classic pcap agree", () => {
  const le = pingPong(), be = pingPong(new PcapngWriter().section(false).iface(1));
  assert.notDeepEqual(le, be);
  assert.deepEqual(messages(le), messages(classic));
  assert.deepEqual(messages(be), messages(classic));
});

Deno.test("pcapng if_tsresol (powers of ten and two) and if_tsoffset scale the timestamps", () => {
  const times = (resol: number | undefined, ticks: (ns: bigint) => bigint, offset?: bigint) => {
    const opts: [number, Uint8Array][] = [];
    if (resol !== undefined) opts.push([9, new Uint8Array([resol])]);
    if (offset !== undefined) {
      const o = new Uint8Array(8);
      new DataView(o.buffer).setBigInt64(0, offset, false);
      opts.push([14, o]);
    }
    const w = new PcapngWriter().section(false).iface(1, opts);
    for (const p of packets) w.epb(0, ticks(p.timeNs), p.data);
    return [...capturedPackets(w.bytes())].map((p) => p.timeNs);
  };
  const ns = packets.map((p) => p.timeNs);
  assert.deepEqual(times(undefined, (t) => t / 1000n), ns); // 10^-6 by default
  assert.deepEqual(times(9, (t) => t), ns);
  assert.deepEqual(times(3, (t) => t / 1_000_000n), ns.map((t) => t / 1_000_000n * 1_000_000n));
  // Picoseconds since 1970 overflow 64 bits; if_tsoffset moves the epoch closer.
  const base = 1_795_000_000n;
  assert.deepEqual(times(12, (t) => (t - base * 1_000_000_000n) * 1000n, base), ns);
  // 2^-30 s is just under a nanosecond, so rounding down twice loses at most one.
  const pow2 = times(0x80 | 30, (t) => (t << 30n) / 1_000_000_000n);
  pow2.forEach((t, i) => assert.ok(ns[i] - t <= 1n && ns[i] >= t, `${ns[i]} vs ${t}`));
  assert.deepEqual(times(9, (t) => t - 5_000_000_000n, 5n), ns); // if_tsoffset is in seconds
  // The messages still come out the same through the reassembly.
  const w = new PcapngWriter().section(true).iface(1, [[9, new Uint8Array([0x80 | 30])]]);
  for (const p of packets) w.epb(0, (p.timeNs << 30n) / 1_000_000_000n, p.data);
  assert.deepEqual(messages(w.bytes(), false), messages(classic, false));
});

Deno.test("pcapng: several sections, each with its own byte order and interfaces", () => {
  const w = new PcapngWriter().section(true).iface(113).iface(1);
  const half = packets.length >> 1;
  for (const p of packets.slice(0, half)) w.epb(1, p.timeNs / 1000n, p.data);
  w.section(false).iface(1);
  for (const p of packets.slice(half)) w.epb(0, p.timeNs / 1000n, p.data);
  assert.deepEqual(messages(w.bytes()), messages(classic));
  // A new section forgets the old one's interfaces.
  const stale = new PcapngWriter().section(true).iface(1).iface(1).section(true).iface(1)
    .epb(1, 0n, packets[0].data).bytes();
  assert.equal(errorCode(stale), ErrorCode.invalid_data);
});

Deno.test("pcapng: packets of another interface's unknown link type are skipped", () => {
  // A second interface of DLT_USER0 (147), a packet on it between ping-pong's.
  const w = new PcapngWriter().section(true).iface(1).iface(147);
  for (const [i, p] of packets.entries()) {
    w.epb(0, p.timeNs / 1000n, p.data);
    if (i === 3) w.epb(1, p.timeNs / 1000n, new Uint8Array([1, 2, 3, 4, 5]));
  }
  assert.deepEqual(messages(w.bytes()), messages(classic));
});

Deno.test("pcapng: name resolution, statistics, secrets, custom and unknown blocks are skipped", () => {
  const w = new PcapngWriter().section(true)
    .block(4, new Uint8Array([1, 0, 8, 0, 127, 0, 0, 1, 0x6c, 0x6f, 0, 0, 0, 0, 0, 0]))
    .iface(1, [[2, new TextEncoder().encode("lo")], [12, new TextEncoder().encode("Linux")]]);
  packets.forEach((p, i) => {
    w.epb(0, p.timeNs / 1000n, p.data);
    if (i % 5 === 0) w.block(5, new Uint8Array(20)); // interface statistics
    if (i % 7 === 0) w.block(10, new Uint8Array(9)); // decryption secrets
    if (i % 3 === 0) w.block(0xbad, new Uint8Array(6)).block(0x40000bad, new Uint8Array(4));
    if (i === 4) w.block(0x80001234, new Uint8Array(0)).block(9, new Uint8Array(17));
  });
  assert.deepEqual(messages(w.bytes()), messages(classic));
});

Deno.test("pcapng: obsolete and simple packet blocks", () => {
  const pb = new PcapngWriter().section(true).iface(1);
  for (const p of packets) pb.pb(0, p.timeNs / 1000n, p.data);
  assert.deepEqual(messages(pb.bytes()), messages(classic));
  // Simple packet blocks have no timestamp: they keep the previous packet's, so order holds.
  const spb = new PcapngWriter().section(false).iface(1).epb(0, 7n, packets[0].data);
  for (const p of packets.slice(1)) spb.spb(p.data);
  const got = [...capturedPackets(spb.bytes())];
  assert.deepEqual(got.map((p) => p.timeNs), packets.map(() => 7000n));
  assert.deepEqual(got.map((p) => hex(p.data)), packets.map((p) => hex(p.data)));
  assert.deepEqual(messages(spb.bytes(), false).toSorted(), messages(classic, false).toSorted());
  // Their captured length is the original length, cut to the snaplen.
  const cut = new PcapngWriter().section(true).iface(1, [], 60).spb(packets[0].data, 1500);
  assert.equal([...capturedPackets(cut.bytes())][0].data.length, 60);
});

Deno.test("pcapng: Linux cooked v2 (what `-i any` writes) decodes like Ethernet", () => {
  const w = new PcapngWriter().section(true).iface(276);
  for (const p of packets) {
    const sll2 = new Uint8Array(20);
    sll2.set(p.data.subarray(12, 14), 0); // the protocol type
    w.epb(0, p.timeNs / 1000n, concat(sll2, p.data.subarray(14)));
  }
  assert.deepEqual(messages(w.bytes()), messages(classic));
});

Deno.test("bad pcapng files give typed errors", () => {
  const good = fixture("ping-pong.pcapng");
  const dv = new DataView(good.buffer, good.byteOffset, good.byteLength);
  const shbLen = dv.getUint32(4, true),
    idbAt = shbLen,
    epbAt = idbAt + dv.getUint32(idbAt + 4, true);
  const patched = (at: number, v: number) => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(at, v, true);
    return b;
  };
  const eof = ErrorCode.end_of_file, invalid = ErrorCode.invalid_data;
  const cases: [string, Uint8Array, ErrorCode][] = [
    ["the magic alone", good.slice(0, 8), eof],
    ["a truncated block", good.slice(0, good.length - 5), eof],
    ["a block header cut", good.slice(0, epbAt + 6), eof],
    ["a trailing length unlike the leading one", patched(epbAt + 4, 0), invalid],
    ["a mismatched trailing length", patched(good.length - 4, 12), invalid],
    ["block length 0xffffffff", patched(epbAt + 4, 0xffffffff), invalid],
    ["block length 0xfffffff0 (aligned, past the end)", patched(epbAt + 4, 0xfffffff0), eof],
    ["block length 8", patched(epbAt + 4, 8), invalid],
    ["a section header claiming 12 bytes", patched(4, 12), invalid],
    ["a bad byte-order magic", patched(8, 0x12345678), ErrorCode.wrong_magic_number],
    ["EPB naming an undefined interface", patched(epbAt + 8, 1), invalid],
    ["EPB naming interface 2^32-1", patched(epbAt + 8, 0xffffffff), invalid],
    ["EPB captured length past its block", patched(epbAt + 20, 0x10000), invalid],
    ["an unsupported link type", patched(idbAt + 8, 147), invalid],
    [
      "pcapng version 2",
      new PcapngWriter().section(true, 2).iface(1).epb(0, 0n, packets[0].data).bytes(),
      invalid,
    ],
    [
      "EPB before any interface",
      new PcapngWriter().section(true).epb(0, 0n, packets[0].data).bytes(),
      invalid,
    ],
    [
      "SPB without an interface",
      new PcapngWriter().section(false).spb(packets[0].data).bytes(),
      invalid,
    ],
    [
      "an option running past its block",
      new PcapngWriter().section(true).block(
        1,
        new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 9, 0, 99, 0]),
      )
        .bytes(),
      invalid,
    ],
    [
      "an EPB of 16 bytes",
      new PcapngWriter().section(true).iface(1).block(6, new Uint8Array(4)).bytes(),
      invalid,
    ],
    [
      "garbage after the section header",
      concat(good.slice(0, shbLen), new Uint8Array(40).fill(0x5a)),
      invalid,
    ],
    [
      "garbage after the magic",
      concat(good.slice(0, 4), new Uint8Array(60).fill(0xa5)),
      ErrorCode.wrong_magic_number,
    ],
  ];
  for (const [what, bytes, code] of cases) {
    assert.equal(errorCode(bytes), code, what);
  }
});

Deno.test("property: mutated pcapng files give messages or a BrokerError, and terminate", () => {
  const good = fixture("ping-pong.pcapng");
  const interesting = [0, 1, 4, 8, 12, 16, 28, 32, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff];
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), bit: fc.nat(7) }),
    fc.record({ kind: fc.constant("byte" as const), at: fc.nat(), value: fc.nat(255) }),
    fc.record({
      kind: fc.constant("word" as const),
      at: fc.nat(),
      value: fc.oneof(fc.constantFrom(...interesting), fc.nat({ max: 0xffffffff })),
      le: fc.boolean(),
    }),
    fc.record({ kind: fc.constant("cut" as const), at: fc.nat() }),
    fc.record({
      kind: fc.constant("insert" as const),
      at: fc.nat(),
      bytes: fc.uint8Array({ maxLength: 24 }),
    }),
  );
  fc.assert(
    fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (ms) => {
      let b: Uint8Array = good.slice();
      for (const m of ms) {
        const at = m.at % b.length;
        if (m.kind === "flip") b[at] ^= 1 << m.bit;
        else if (m.kind === "byte") b[at] = m.value;
        else if (m.kind === "word" && at + 4 <= b.length) {
          new DataView(b.buffer).setUint32(at, m.value, m.le);
        } else if (m.kind === "cut") b = b.slice(0, at);
        else if (m.kind === "insert") b = concat(b.subarray(0, at), m.bytes, b.subarray(at));
        if (b.length === 0) b = good.slice(0, 1);
      }
      const started = performance.now();
      try {
        brokerMessagesFromPcap(b);
      } catch (e) {
        assert.ok(e instanceof BrokerError, `not a BrokerError: ${e}`);
      }
      assert.ok(performance.now() - started < 2000, "took too long");
    }),
    { numRuns: 500 },
  );
});
