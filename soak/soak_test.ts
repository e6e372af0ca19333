// Unit tests of the soak's pure parts (the soak itself runs with `deno task soak`, not here).
import assert from "node:assert/strict";
import { dataToString, str } from "../mod.ts";
import { evaluate, type SoakFacts } from "./invariants.ts";
import { CXX_MAX_LENGTH_PREFIX, PROBE_KINDS, probePayload, type ProbeTarget } from "./probes.ts";
import { Rng } from "./random.ts";
import { passed, renderTable } from "./summary.ts";
import {
  burstMessage,
  parseDelivery,
  parseDeliveryLine,
  SeqTracker,
  tickMessage,
} from "./traffic.ts";
import { clientFrame, FrameReader } from "./websocket_flood.ts";

Deno.test("soak traffic: ticks and bursts read back from values and from printed lines", () => {
  const tick = tickMessage("n1", 3, 17);
  const burst = burstMessage("n2", 1, 5);
  assert.deepEqual(parseDelivery(tick), { pub: "n1", burst: false, stream: 3, seq: 17 });
  assert.deepEqual(parseDelivery(burst), { pub: "n2", burst: true, stream: 1, seq: 5 });
  assert.deepEqual(parseDelivery(str("xp-tick 0 9")), {
    pub: "xp",
    burst: false,
    stream: 0,
    seq: 9,
  });
  assert.equal(parseDelivery(str("hello")), undefined);
  // As broker-pipe prints them, and as `broker node -v` does after a time stamp.
  assert.deepEqual(
    parseDeliveryLine(`data(zeek/event/soak/n1, ${dataToString(tick)})`),
    { pub: "n1", burst: false, stream: 3, seq: 17 },
  );
  assert.deepEqual(
    parseDeliveryLine(`"2026-01-01T00:00:00.000": data(zeek/event/soak/xp, xp-burst 1 4)`),
    { pub: "xp", burst: true, stream: 1, seq: 4 },
  );
  assert.equal(parseDeliveryLine("data(<$>/local/data/statuses, (status, peer_added))"), undefined);
});

Deno.test("soak traffic: the tracker counts duplicates, gaps between lowest and highest, bursts", () => {
  const t = new SeqTracker();
  for (const seq of [5, 6, 8, 8, 10]) t.record({ pub: "n1", burst: false, stream: 0, seq });
  for (const seq of [0, 1]) t.record({ pub: "n1", burst: false, stream: 1, seq });
  for (let i = 0; i < 3; i++) t.record({ pub: "xp", burst: true, stream: 2, seq: i });
  const s = t.stats();
  assert.equal(s.delivered, 10);
  assert.equal(s.duplicates, 1);
  assert.deepEqual(s.dupSamples, ["n1/0#8"]);
  assert.equal(s.gaps, 2); // 7 and 9; nothing before 5 counts
  assert.deepEqual(s.bursts, { "xp/burst2": 3 });
  // Far beyond the bitmap's first size, and an absurd number that is not tracked.
  assert.equal(t.record({ pub: "n1", burst: false, stream: 9, seq: 100_000 }), true);
  assert.equal(t.record({ pub: "n1", burst: false, stream: 9, seq: 2 ** 40 }), false);
});

Deno.test("soak probes: C++ listeners never get a length prefix above the bound", () => {
  const rng = new Rng(1);
  const cxx: ProbeTarget = {
    name: "x1:broker",
    process: "x1",
    port: 1,
    protocol: "broker",
    maxLengthPrefix: CXX_MAX_LENGTH_PREFIX,
  };
  for (let i = 0; i < 200; i++) {
    for (const kind of PROBE_KINDS) {
      const p = probePayload(kind, cxx, rng);
      if (p.length === 0) continue;
      const len = new DataView(p.buffer, p.byteOffset).getUint32(0);
      assert.ok(len <= CXX_MAX_LENGTH_PREFIX && len > p.length - 4, `${kind}: ${len}`);
    }
  }
  const ours: ProbeTarget = { ...cxx, maxLengthPrefix: undefined, closeWithinMs: 1000 };
  const p = probePayload("length", ours, rng);
  assert.ok(new DataView(p.buffer).getUint32(0) > 256 * 1024);
});

Deno.test("soak WebSocket frames: client frames are masked, server frames split anywhere reassemble", () => {
  const payload = new TextEncoder().encode("x".repeat(70_000));
  const f = clientFrame(0x1, payload);
  assert.equal(f[1], 0x80 | 127);
  // A server frame (unmasked) of 300 bytes, then a close frame, fed byte by byte.
  const body = new Uint8Array(300).fill(65);
  const server = new Uint8Array([0x81, 126, 1, 44, ...body, 0x88, 2, 0x03, 0xf3]);
  const r = new FrameReader();
  const frames = [];
  for (const b of server) frames.push(...r.push(new Uint8Array([b])));
  assert.equal(frames.length, 2);
  assert.equal(frames[0].payload.length, 300);
  assert.deepEqual([frames[1].opcode, frames[1].payload[0] << 8 | frames[1].payload[1]], [8, 1011]);
});

Deno.test("soak invariants and summary: a clean run passes, one duplicate fails it", () => {
  const facts: SoakFacts = {
    rss: new Map([["n1", { maxMb: 80, boundMb: 512, samples: 3 }]]),
    rssOver: [],
    problems: [],
    ours: new Set(["n1"]),
    subscribers: [{
      name: "n1",
      ours: true,
      stats: { delivered: 10, duplicates: 0, gaps: 0, bursts: { "n2/burst1": 5 }, dupSamples: [] },
    }],
    bursts: { expected: { n1: ["n2/burst1"] }, n: 5 },
    acked: new Set(["k0-1"]),
    existed: 0,
    lostWrites: [],
    masterRestarts: 1,
    finalMaster: { keys: ["k0-1"], digest: "d" },
    finalClone: { keys: ["k0-1"], digest: "d" },
    probes: [{ target: "n1:broker", process: "n1", kind: "idle", outcome: "closed", ms: 2000 }],
    floods: [{ port: 1, sent: 10, received: 3, outcome: "disconnected", ms: 5 }],
    elapsedMs: 1000,
    boundMs: 2000,
    harnessErrors: [],
  };
  const report = (f: SoakFacts) => ({
    minutes: 1,
    seed: 1,
    elapsedMs: 1000,
    faults: {},
    traffic: {},
    invariants: evaluate(f),
    processes: [],
  });
  const ok = report(facts);
  assert.ok(passed(ok), renderTable(ok));
  facts.subscribers[0].stats.duplicates = 1;
  const bad = report(facts);
  assert.ok(!passed(bad));
  assert.match(renderTable(bad), /no duplicate delivery\s+\|\s+VIOLATED/);
});
