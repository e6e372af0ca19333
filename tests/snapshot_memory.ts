// Measures the peak memory of a clone that takes a large snapshot (one
// `ack_clone` of many small entries, count -> none, 10 bytes each) from a raw
// master over real TCP. Run by store_snapshot_memory_test.ts in a child
// process, because reading /proc/self/status needs -A:
//   deno run -A tests/snapshot_memory.ts events 2000000
// Modes: `events` (the clone has a store event reader), `plain` (none),
// `relay` (the snapshot passes through the endpoint to another peer; no clone),
// `repeat` (n entries none -> none, 2 bytes each, the key repeated: refused;
// then a valid snapshot of one entry shows the first was read).
// Prints JSON: { before, peak } (VmHWM before and after, bytes), whether the
// clone attached and how many entries it holds (or whether the relay forwarded it).
import { Endpoint } from "../engine/endpoint.ts";
import { encodeEnvelope, EnvelopeType } from "../engine/wire/mod.ts";
import { encodeAckCloneHeadTransient } from "../engine/store/commands.ts";
import { StoreClone } from "../engine/store/clone.ts";
import { storeTopics } from "../engine/store/store_common.ts";
import { ENDPOINT_ID, LARGER_ID, peerRaw, SMALLER_ID, waitFor } from "./raw_peer.ts";
import { cloneOf, RAW, RAW_MASTER } from "./raw_store_peer.ts";
import { EnvelopeType as E } from "../engine/wire/mod.ts";

const mode = Deno.args[0] ?? "events";
const n = Number(Deno.args[1] ?? 2_000_000);
const TOPICS = storeTopics("kv");

/** Peak resident set so far (VmHWM), in bytes. */
function peakRss(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"));
  return Number(m![1]) * 1024;
}

/** n entries: count i -> none (or none -> none, n times, in `repeat`). */
function entries(): Uint8Array {
  if (mode === "repeat") return new Uint8Array(2 * n);
  const b = new Uint8Array(10 * n);
  const dv = new DataView(b.buffer);
  for (let i = 0; i < n; i++) {
    b[10 * i] = 2;
    dv.setBigUint64(10 * i + 1, BigInt(i));
  }
  return b;
}

const ep = new Endpoint({ id: ENDPOINT_ID });
const port = await ep.listen("127.0.0.1", 0);
const c = await peerRaw(ep, port, LARGER_ID, [TOPICS.master]);
let clone: StoreClone | undefined;
let events: ReturnType<StoreClone["events"]> | undefined;
let receiver = RAW_MASTER; // the relay case: any clone entity
let to: Uint8Array | undefined;
let sink: Awaited<ReturnType<typeof peerRaw>> | undefined;
if (mode === "relay") {
  // A second raw peer subscribes the clone topic: the endpoint relays the snapshot to it.
  sink = await peerRaw(ep, port, SMALLER_ID, [TOPICS.clone]);
} else {
  clone = new StoreClone(ep, "kv");
  if (mode === "events") events = clone.events({ capacity: 16 });
  receiver = await cloneOf(c);
  to = receiver.endpoint;
}
let payloadLength = 0;
/** The raw master's ack_clone of `count` entries lying in `body`. */
function ackClone(count: number, body: Uint8Array): Uint8Array {
  const head = encodeAckCloneHeadTransient(1n, RAW_MASTER, receiver, 1n, 5, count);
  const payload = new Uint8Array(head.length + body.length);
  payloadLength = payload.length;
  payload.set(head);
  payload.set(body, head.length);
  return encodeEnvelope({
    sender: RAW,
    receiver: to,
    type: EnvelopeType.command,
    topic: TOPICS.clone,
    payload,
  }, { prefix: true });
}
const frame = ackClone(n, entries());
const sent = payloadLength;
const before = peakRss();
await c.send(frame);
if (mode === "repeat") await c.send(ackClone(1, new Uint8Array(2)));
let attached = false, relayed = false;
try {
  if (clone) {
    await waitFor(() => clone!.hasMaster, "the clone to attach", 20_000);
    attached = true;
  } else {
    const env = await sink!.envelope((e) => e.type === E.command, 20_000);
    relayed = env.payload.length === sent;
  }
} catch (e) {
  console.error(String(e));
}
console.log(JSON.stringify({
  before,
  peak: peakRss(),
  frame: frame.length,
  attached,
  relayed,
  entries: clone?.metrics().entries ?? 0,
  events: events ? events.dropped + events.poll().length : 0,
}));
clone?.close();
await c.close();
await sink?.close();
await ep.shutdown();
