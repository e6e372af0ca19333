import assert from "node:assert/strict";
import {
  CONTROL_RESERVE,
  DEMAND_BYTES,
  type OverflowLimits,
  PeerOverflow,
  type PeerQueue,
} from "./overflow.ts";

/** An in-memory send queue that never drains. */
class FakeQueue implements PeerQueue {
  frames: { bytes: Uint8Array; droppable: boolean }[] = [];
  closed = false;
  get queuedFrames(): number {
    return this.frames.length;
  }
  get queuedBytes(): number {
    return this.frames.reduce((n, f) => n + f.bytes.length, 0);
  }
  send(bytes: Uint8Array, droppable = false): void {
    this.frames.push({ bytes, droppable });
  }
  dropOldest(): boolean {
    const i = this.frames.findIndex((f) => f.droppable);
    if (i < 0) return false;
    this.frames.splice(i, 1);
    return true;
  }
  close(): void {
    this.closed = true;
  }
  below(_frames: number, _bytes?: number): Promise<void> {
    return Promise.resolve();
  }
}

function setup(policy: OverflowLimits["overflowPolicy"], size = 2, bytes = 1024) {
  const peer = { tcp: new FakeQueue() };
  const disconnects: string[] = [];
  const overflow = new PeerOverflow(
    { peerBufferSize: size, peerBufferBytes: bytes, overflowPolicy: policy },
    (_, message) => disconnects.push(message),
  );
  // The one peer, matching every topic.
  const peers = { forEachMatch: (_: string, fn: (p: typeof peer) => void) => fn(peer) };
  return { peer, overflow, disconnects, peers };
}

const one = (b: number) => new Uint8Array([b]);

Deno.test("overflow: drop_newest keeps the queue, drop_oldest makes room, disconnect reports and closes", () => {
  const newest = setup("drop_newest");
  for (let i = 0; i < 3; i++) newest.overflow.send(newest.peer, one(i));
  assert.deepEqual(newest.peer.tcp.frames.map((f) => f.bytes[0]), [0, 1]);

  const oldest = setup("drop_oldest");
  for (let i = 0; i < 3; i++) oldest.overflow.send(oldest.peer, one(i));
  assert.deepEqual(oldest.peer.tcp.frames.map((f) => f.bytes[0]), [1, 2]);

  const cut = setup("disconnect");
  for (let i = 0; i < 3; i++) cut.overflow.send(cut.peer, one(i));
  assert.equal(cut.peer.tcp.queuedFrames, 2);
  assert.ok(cut.peer.tcp.closed);
  assert.deepEqual(cut.disconnects, [
    "peer buffer overflow (2 messages or 1024 bytes): disconnecting",
  ]);
});

Deno.test("overflow: the byte limit applies once something is queued", () => {
  const { peer, overflow } = setup("drop_newest", 100, 4);
  overflow.send(peer, new Uint8Array(10)); // alone, a large frame still goes
  overflow.send(peer, one(1));
  assert.equal(peer.tcp.queuedFrames, 1);
});

Deno.test("overflow: a message larger than the byte bound still goes behind small ones, as Broker counts messages only", () => {
  // It cut the peer: the bytes queued plus the new message's passed the bound.
  const { peer, overflow, disconnects } = setup("disconnect", 100, 1024);
  overflow.send(peer, one(0));
  overflow.send(peer, new Uint8Array(5000));
  assert.equal(peer.tcp.queuedFrames, 2);
  assert.deepEqual(disconnects, []);
  // Past the bound, the policy applies to the next one.
  overflow.send(peer, one(2));
  assert.equal(disconnects.length, 1);
});

/** A queue that tells when a frame is written (`writeOldest`), as a TcpConnection does. */
class WatchedQueue extends FakeQueue {
  #waiters = new Map<Uint8Array, () => void>();
  whenWritten(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve) => this.#waiters.set(bytes, resolve));
  }
  /** The writer took the oldest frame and wrote it. */
  writeOldest(): void {
    const f = this.frames.shift()!;
    this.#waiters.get(f.bytes)?.();
    this.#waiters.delete(f.bytes);
  }
}

Deno.test("overflow: while a message larger than the byte bound is queued, smaller ones still go while they fit; a second large one meets the policy", async () => {
  // Broker counts messages only; a small message right behind a 70 MB value cut the peer.
  const disconnects: string[] = [];
  const overflow = new PeerOverflow(
    { peerBufferSize: 100, peerBufferBytes: 1024, overflowPolicy: "disconnect" },
    (_, message) => disconnects.push(message),
  );
  const peer = { tcp: new WatchedQueue() };
  overflow.send(peer, one(0));
  overflow.send(peer, new Uint8Array(5000));
  for (let i = 0; i < 10; i++) overflow.send(peer, new Uint8Array(100));
  assert.deepEqual(disconnects, []);
  assert.equal(peer.tcp.queuedFrames, 12);
  // The small ones fill the bound beside it: the next that does not fit meets the policy.
  const bounded = new PeerOverflow(
    { peerBufferSize: 100, peerBufferBytes: 1024, overflowPolicy: "drop_newest" },
    () => {},
  );
  const q = { tcp: new WatchedQueue() };
  bounded.send(q, new Uint8Array(5000));
  for (let i = 0; i < 20; i++) bounded.send(q, new Uint8Array(100));
  assert.equal(q.tcp.queuedFrames, 1 + 10);
  assert.equal(bounded.drops.drop_newest, 10);
  // One large message at a time: a second waits on the policy until the first is written.
  bounded.send(q, new Uint8Array(5000));
  assert.equal(bounded.drops.drop_newest, 11);
  q.tcp.writeOldest(); // the first large one
  await Promise.resolve();
  while (q.tcp.queuedFrames > 0) q.tcp.writeOldest();
  bounded.send(q, new Uint8Array(5000));
  assert.equal(q.tcp.queuedFrames, 1);
});

Deno.test("overflow: pongs get a reserve past a full buffer, other control frames always go", () => {
  const { peer, overflow } = setup("drop_newest");
  for (let i = 0; i < 2 + CONTROL_RESERVE + 5; i++) overflow.sendControl(peer, one(0), true);
  assert.equal(peer.tcp.queuedFrames, 2 + CONTROL_RESERVE);
  overflow.sendControl(peer, one(0), false);
  assert.equal(peer.tcp.queuedFrames, 2 + CONTROL_RESERVE + 1);
  // Control frames are never droppable.
  assert.ok(peer.tcp.frames.every((f) => !f.droppable));
});

Deno.test("overflow: demand is the least room among matching peers, the buffer size with none", async () => {
  const { overflow } = setup("drop_newest", 8);
  const a = { tcp: new FakeQueue() }, b = { tcp: new FakeQueue() };
  for (let i = 0; i < 3; i++) overflow.send(a, one(i));
  overflow.send(b, one(0));
  const peers = {
    forEachMatch: (topic: string, fn: (p: typeof a) => void) => {
      if (topic.startsWith("/t")) [a, b].forEach(fn);
    },
  };
  assert.equal(overflow.demand(peers, "/t"), 5);
  assert.equal(overflow.demand(peers, "/other"), 8);
  await overflow.ready(peers, "/t"); // room already: resolves at once
});

Deno.test("overflow: demand counts the bytes left too, in messages of the queued ones' average size", () => {
  const { peer, overflow, peers } = setup("disconnect", 1_000_000, 1000);
  assert.equal(overflow.demand(peers, "/t"), 1_000_000); // nothing queued: no size known yet
  overflow.send(peer, new Uint8Array(100));
  overflow.send(peer, new Uint8Array(300));
  assert.equal(overflow.demand(peers, "/t"), 3); // 600 bytes left, 200 a message
  let sent = 2;
  while (overflow.demand(peers, "/t") > 0) overflow.send(peer, new Uint8Array(200)), sent++;
  assert.equal(sent, 5);
  assert.equal(peer.tcp.queuedBytes, 1000);
  assert.equal(peer.tcp.closed, false);
});

Deno.test("overflow: with nothing queued, demand expects frames of the last one's size, and always one", () => {
  const { peer, overflow, peers } = setup("disconnect", 2048, 1000);
  overflow.send(peer, new Uint8Array(100));
  peer.tcp.frames = []; // written
  assert.equal(overflow.demand(peers, "/t"), 10); // a burst of 10 such frames fits 1000 bytes
  overflow.send(peer, new Uint8Array(5000)); // alone, a larger frame still goes
  peer.tcp.frames = [];
  assert.equal(overflow.demand(peers, "/t"), 1); // and the next one may follow it
});

Deno.test("overflow: ready waits for half the bytes, and for a frame to go when one frame is over half", async () => {
  const asked: [number, number | undefined][] = [];
  const { peer, overflow, peers } = setup("disconnect", 100, 1000);
  // A queue that drains to what `below` asks for.
  peer.tcp.below = (frames: number, bytes?: number) => {
    asked.push([frames, bytes]);
    const q = peer.tcp.frames;
    while (q.length > frames || peer.tcp.queuedBytes > (bytes ?? Infinity)) q.shift();
    return Promise.resolve();
  };
  for (let i = 0; i < 10; i++) overflow.send(peer, new Uint8Array(100));
  await overflow.ready(peers, "/t");
  assert.deepEqual(asked, [[9, 500]]); // half the bytes, and a frame at least
  assert.equal(overflow.demand(peers, "/t"), 5);

  peer.tcp.frames = [];
  asked.length = 0;
  overflow.send(peer, new Uint8Array(900)); // alone, it goes; no room is left beside it
  assert.equal(overflow.demand(peers, "/t"), 0);
  await overflow.ready(peers, "/t");
  assert.deepEqual(asked, [[0, 500]]);
  assert.equal(overflow.demand(peers, "/t"), 1); // one such frame at a time
});

Deno.test("overflow: drops are counted by policy (messages dropped; times a peer was cut)", () => {
  const newest = setup("drop_newest");
  for (let i = 0; i < 5; i++) newest.overflow.send(newest.peer, one(i));
  assert.deepEqual(newest.overflow.drops, { drop_newest: 3, drop_oldest: 0, disconnect: 0 });

  const oldest = setup("drop_oldest");
  for (let i = 0; i < 5; i++) oldest.overflow.send(oldest.peer, one(i));
  assert.deepEqual(oldest.overflow.drops, { drop_newest: 0, drop_oldest: 3, disconnect: 0 });

  const cut = setup("disconnect");
  for (let i = 0; i < 3; i++) cut.overflow.send(cut.peer, one(i));
  assert.deepEqual(cut.overflow.drops, { drop_newest: 0, drop_oldest: 0, disconnect: 1 });
});

Deno.test("overflow: demand keeps a deep buffer's queue to DEMAND_BYTES, or 1,024 messages of a larger size", () => {
  const MiB = 1024 * 1024;
  const { peer, overflow, peers } = setup("disconnect", 10_000_000, 64 * MiB);
  overflow.send(peer, new Uint8Array(1000));
  assert.equal(overflow.demand(peers, "/t"), Math.floor((DEMAND_BYTES - 1000) / 1000));
  // A publisher that respects demand stops at the cap...
  let sent = 1;
  while (overflow.demand(peers, "/t") > 0) overflow.send(peer, new Uint8Array(1000)), sent++;
  assert.equal(sent, Math.floor(DEMAND_BYTES / 1000));
  // ...which is not the policy's limit: one that does not is still queued, not cut.
  for (let i = 0; i < 1000; i++) overflow.send(peer, new Uint8Array(1000));
  assert.equal(peer.tcp.closed, false);
  assert.equal(peer.tcp.queuedFrames, sent + 1000);

  // Messages of 16 KiB: 1,024 of them (16 MiB) are welcome.
  peer.tcp.frames = [];
  overflow.send(peer, new Uint8Array(16 * 1024));
  assert.equal(overflow.demand(peers, "/t"), 1023);
  // And the policy's own byte limit stays the bound below that.
  const small = setup("disconnect", 10_000_000, 2 * MiB);
  small.overflow.send(small.peer, new Uint8Array(100));
  assert.equal(small.overflow.demand(small.peers, "/t"), Math.floor((2 * MiB - 100) / 100));
});

Deno.test("overflow: ready waits for half of what demand lets the queue hold", async () => {
  const asked: [number, number | undefined][] = [];
  const { peer, overflow, peers } = setup("disconnect", 10_000_000, 64 * 1024 * 1024);
  peer.tcp.below = (frames: number, bytes?: number) => {
    asked.push([frames, bytes]);
    const q = peer.tcp.frames;
    while (q.length > frames || peer.tcp.queuedBytes > (bytes ?? Infinity)) q.shift();
    return Promise.resolve();
  };
  const frame = new Uint8Array(4096);
  while (overflow.demand(peers, "/t") > 0) overflow.send(peer, frame);
  assert.equal(peer.tcp.queuedBytes, DEMAND_BYTES);
  await overflow.ready(peers, "/t");
  assert.deepEqual(asked, [[DEMAND_BYTES / 4096 - 1, DEMAND_BYTES / 2]]);
  assert.equal(overflow.demand(peers, "/t"), DEMAND_BYTES / 2 / 4096);
});

Deno.test("overflow: demandLimit is what demand reaches once the queue is empty", () => {
  const MiB = 1024 * 1024;
  const { peer, overflow, peers } = setup("disconnect", 10_000_000, 64 * MiB);
  assert.equal(overflow.demandLimit(peers, "/t"), 10_000_000); // nothing sent yet: the buffer's size
  // Messages of 512 KiB: 64 MiB holds 128 of them, however long one waits.
  overflow.send(peer, new Uint8Array(512 * 1024));
  assert.equal(overflow.demandLimit(peers, "/t"), 128);
  peer.tcp.frames = [];
  assert.equal(overflow.demand(peers, "/t"), 128);
  // A small buffer bounds it in messages.
  const small = setup("disconnect", 100, 64 * MiB);
  small.overflow.send(small.peer, new Uint8Array(300));
  assert.equal(small.overflow.demandLimit(small.peers, "/t"), 100);
  assert.equal(small.overflow.demand(small.peers, "/t"), 99);
});
