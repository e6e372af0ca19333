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
// clone attached and how many entries it holds (or whether the relay forwarded
// it), whether it holds the last entry, how many store events it reported,
// and the endpoint's error events.
import { Endpoint } from "../engine/endpoint.ts";
import { count, none } from "../engine/data/mod.ts";
import type { Store } from "../engine/store/store.ts";
import { encodeEnvelope, EnvelopeType } from "../engine/wire/mod.ts";
import { encodeAckCloneHeadTransient } from "../engine/store/commands.ts";
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
let clone: Store | undefined;
let events: ReturnType<Store["events"]> | undefined;
let receiver = RAW_MASTER; // the relay case: any clone entity
let to: Uint8Array | undefined;
let sink: Awaited<ReturnType<typeof peerRaw>> | undefined;
if (mode === "relay") {
  // A second raw peer subscribes the clone topic: the endpoint relays the snapshot to it.
  sink = await peerRaw(ep, port, SMALLER_ID, [TOPICS.clone]);
} else {
  clone = ep.attachClone("kv");
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
const statuses = ep.statusSubscriber({ queueSize: 64 });
const frame = ackClone(n, entries());
const sent = payloadLength;
const before = peakRss();
await c.send(frame);
if (mode === "repeat") await c.send(ackClone(1, new Uint8Array(2)));
let attached = false, relayed = false;
try {
  if (clone) {
    await waitFor(() => clone!.peers.length > 0, "the clone to attach", 20_000);
    attached = true;
  } else {
    const env = await sink!.envelope((e) => e.type === E.command, 20_000);
    relayed = env.payload.length === sent;
  }
} catch (e) {
  console.error(String(e));
}
const peak = peakRss();
// The last entry is there (repeat: the one entry of the second snapshot), the one after it not.
const last = mode === "repeat" ? none() : count(BigInt(n - 1));
const held = clone ? await clone.exists(last) && !await clone.exists(count(BigInt(n))) : false;
console.log(JSON.stringify({
  before,
  peak,
  frame: frame.length,
  attached,
  relayed,
  held,
  events: events ? events.dropped + events.poll().length : 0,
  errors: statuses.poll().filter((e) => e.kind === "error").map((e) =>
    `${e.codeName}: ${e.message}`
  ),
}));
clone?.close();
await c.close();
await sink?.close();
await ep.shutdown();
