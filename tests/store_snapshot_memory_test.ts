/**
 * A store snapshot (`ack_clone`) of many small entries, from a raw master
 * over real TCP, read by a clone with and without store event readers and
 * relayed by an endpoint, must cost memory of the order of its bytes, not
 * of the values it holds (decoded whole, 2M entries of 10 bytes took
 * 580–700 MB). Each case runs in a child process (`snapshot_memory.ts`),
 * which reads its peak RSS (VmHWM) from /proc.
 */
import assert from "node:assert/strict";

interface Measured {
  before: number;
  peak: number;
  frame: number;
  attached: boolean;
  relayed: boolean;
  held: boolean;
  events: number;
  errors: string[];
}

async function measure(mode: string, n: number): Promise<Measured> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("./snapshot_memory.ts", import.meta.url).pathname, mode, `${n}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, stderr);
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Growth of the peak RSS over the frame's size. */
const growth = (m: Measured) => (m.peak - m.before) / m.frame;

Deno.test("store snapshot: a clone with an event reader takes 2M entries at a few times their bytes", async () => {
  const m = await measure("events", 2_000_000);
  assert.equal(m.attached, true);
  assert.equal(m.held, true);
  // Every entry reported (the reader keeps the last 16 and counts the rest).
  assert.equal(m.events, 2_000_000);
  // Its table (~40 bytes an entry) and the frame: ~4x; decoded whole ~35x.
  assert.ok(growth(m) < 8, `peak RSS grew ${(growth(m)).toFixed(1)}x the frame's ${m.frame} bytes`);
});

Deno.test("store snapshot: an endpoint relays one of 2M entries at a few times its bytes", async () => {
  const m = await measure("relay", 2_000_000);
  assert.equal(m.relayed, true);
  // The frame read, copied for the peer, and a table of its keys: ~7x; decoded whole ~29x.
  assert.ok(
    growth(m) < 12,
    `peak RSS grew ${(growth(m)).toFixed(1)}x the frame's ${m.frame} bytes`,
  );
});

Deno.test("store snapshot: a key repeated 25M times (2-byte entries) is refused at its second entry, and said", async () => {
  const m = await measure("repeat", 25_000_000);
  // The next, valid snapshot of one entry is taken: the first was read and refused.
  assert.equal(m.attached, true);
  assert.equal(m.held, true);
  // Said, not only dropped: the master asked again would send the same.
  assert.equal(m.errors.length, 1, m.errors.join("\n"));
  assert.match(
    m.errors[0],
    /^deserialization_failed: store kv: the ack_clone from .* holds a key twice/,
  );
  assert.ok(growth(m) < 1, `peak RSS grew ${(growth(m)).toFixed(1)}x the frame's ${m.frame} bytes`);
});
