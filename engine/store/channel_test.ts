import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import {
  ChannelConsumer,
  ChannelProducer,
  type ConsumerMessage,
  type ConsumerOptions,
  MAX_HANDSHAKE_HOLD_TICKS,
  type ProducerMessage,
  type ProducerOptions,
} from "./channel.ts";
import { type Entity, NIL_ENTITY } from "./entity.ts";
import { DEFAULT_MAX_BUFFERED_EVENTS } from "./options.ts";

/** Deterministic PRNG (mulberry32), so a failing seed can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A network that loses, duplicates and delays (hence reorders) every message. */
class LossyNet {
  now = 0;
  #queue: { at: number; deliver: () => void }[] = [];
  constructor(
    readonly random: () => number,
    readonly loss: number,
    readonly dup: number,
    readonly maxDelay: number,
  ) {}

  send(deliver: () => void): void {
    if (this.random() < this.loss) return;
    const copies = this.random() < this.dup ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.#queue.push({ at: this.now + Math.floor(this.random() * (this.maxDelay + 1)), deliver });
    }
  }

  /** Delivers what is due, in random order. */
  step(): void {
    const due = this.#queue.filter((m) => m.at <= this.now);
    this.#queue = this.#queue.filter((m) => m.at > this.now);
    for (let i = due.length - 1; i > 0; i--) {
      const j = Math.floor(this.random() * (i + 1));
      [due[i], due[j]] = [due[j], due[i]];
    }
    for (const m of due) m.deliver();
    this.now++;
  }
}

interface Peer {
  consumer: ChannelConsumer<string, number>;
  delivered: number[];
  nils: number[];
  closed: BrokerError[];
  /** When false, everything this consumer sends is lost. */
  online: boolean;
}

/** One producer ("P") and named consumers wired through a network. */
function wire(
  net: { send(deliver: () => void): void },
  names: string[],
  opts: { producer?: ProducerOptions<string>; consumer?: ConsumerOptions } = {},
) {
  const peers = new Map<string, Peer>();
  const drops: [string, ErrorCode][] = [];
  const stats = { gapNacks: 0 };
  const toConsumer = (c: ChannelConsumer<string, number>, m: ProducerMessage<number>) => {
    switch (m.type) {
      case "handshake":
        return void c.handleHandshake(m.offset, m.heartbeatInterval, "P");
      case "event":
        return c.handleEvent(m.seq, m.content);
      case "retransmit_failed":
        return c.handleRetransmitFailed(m.seq);
      case "heartbeat":
        return c.handleHeartbeat(m.seq);
    }
  };
  const producer = new ChannelProducer<string, number>({
    send: (to, m) => {
      const peer = peers.get(to)!;
      net.send(() => toConsumer(peer.consumer, m));
    },
    broadcast: (m) => {
      for (const peer of peers.values()) net.send(() => toConsumer(peer.consumer, m));
    },
    drop: (who, reason) => void drops.push([who, reason]),
  }, opts.producer);
  const toProducer = (name: string, m: ConsumerMessage) => {
    if (m.type === "cumulative_ack") return producer.handleAck(name, m.seq);
    if (m.seqs[0] !== 0) stats.gapNacks++;
    producer.handleNack(name, m.seqs);
  };
  for (const name of names) {
    const peer: Peer = {
      consumer: undefined as unknown as ChannelConsumer<string, number>,
      delivered: [],
      nils: [],
      closed: [],
      online: true,
    };
    peer.consumer = new ChannelConsumer<string, number>({
      consume: (x) => void peer.delivered.push(x),
      consumeNil: (seq) => {
        peer.nils.push(seq);
        return new BrokerError(ErrorCode.broken_clone, "lost an event");
      },
      send: (m) => {
        if (peer.online) net.send(() => toProducer(name, m));
      },
      close: (reason) => void peer.closed.push(reason),
    }, opts.consumer);
    peers.set(name, peer);
  }
  const tickAll = () => {
    producer.tick();
    for (const p of peers.values()) if (p.online) p.consumer.tick();
  };
  return { producer, peers, drops, stats, tickAll };
}

/** Instant, lossless delivery. */
const direct = { send: (deliver: () => void) => deliver() };

for (const seed of [1, 2, 3, 42]) {
  Deno.test(`lossy network (seed ${seed}): two consumers get every event once, in order`, () => {
    const net = new LossyNet(prng(seed), 0.2, 0.15, 3);
    const { producer, peers, drops, stats, tickAll } = wire(net, ["A", "B"]);
    const step = () => {
      net.step();
      tickAll();
    };
    // Join: the consumers nack [0] until the handshake gets through and is acked.
    for (let i = 0; i < 300 && (producer.paths.length < 2 || producer.hasPendingPaths); i++) step();
    assert.equal(producer.paths.length, 2);
    assert.ok(!producer.hasPendingPaths);

    const N = 300;
    let next = 0;
    for (let i = 0; i < 100; i++) {
      for (let k = 0; k < 3; k++) producer.produce(next++);
      step();
    }
    const done = () =>
      [...peers.values()].every((p) => p.delivered.length === N && p.consumer.idle) &&
      producer.idle && producer.buffered === 0;
    let guard = 0;
    while (!done() && guard++ < 3000) step();

    const expected = Array.from({ length: N }, (_, i) => i);
    for (const [name, p] of peers) {
      assert.deepEqual(p.delivered, expected, `consumer ${name}`);
      assert.deepEqual(p.nils, []);
      assert.deepEqual(p.closed, []);
    }
    assert.deepEqual(drops, []);
    assert.equal(producer.buffered, 0, "everything acked by both is released");
    assert.ok(stats.gapNacks > 10, `losses were repaired by nacks (${stats.gapNacks})`);
  });
}

Deno.test("a consumer that went silent is dropped after the connection timeout (500 ticks)", () => {
  const { producer, peers, drops, tickAll } = wire(direct, ["A", "B"]);
  for (let i = 0; i < 2; i++) tickAll(); // nack [0] -> handshake -> ack
  assert.ok(!producer.hasPendingPaths);
  assert.equal(producer.connectionTimeout, 500);
  const b = peers.get("B")!;
  b.online = false; // B's process hangs: no more acks or nacks
  const lastSeen = producer.paths.find((p) => p.handle === "B")!.lastSeen;
  producer.produce(1);
  producer.produce(2);
  assert.equal(producer.buffered, 2);
  let ticks = 0;
  while (drops.length === 0 && ticks < 1000) {
    tickAll();
    ticks++;
  }
  assert.deepEqual(drops, [["B", ErrorCode.connection_timeout]]);
  assert.equal(producer.tickTime - lastSeen, 500);
  assert.deepEqual(producer.paths.map((p) => p.handle), ["A"]);
  assert.equal(producer.buffered, 0, "A had acked: the buffer is released once B is gone");
  assert.deepEqual(peers.get("A")!.delivered, [1, 2]);
});

Deno.test("producer: heartbeats every interval without broadcasts, carrying the latest seq", () => {
  const beats: [number, number][] = [];
  const p = new ChannelProducer<string, string>({
    send: () => {},
    broadcast: (m) => void (m.type === "heartbeat" && beats.push([p.tickTime, m.seq])),
    drop: () => {},
  });
  for (let i = 0; i < 11; i++) p.tick();
  assert.deepEqual(beats, [[6, 1], [11, 1]], "ticks start at 1: beats at 6, 11");
  p.add("c");
  p.produce("x"); // at tick 12: the next beat moves to 17
  for (let i = 0; i < 6; i++) p.tick();
  assert.deepEqual(beats.slice(2), [[17, 2]]);
});

Deno.test("producer: handshake, acks, nacks, retransmit_failed, bad nacks", () => {
  const sent: string[] = [];
  const drops: [string, ErrorCode][] = [];
  const done: string[] = [];
  const p = new ChannelProducer<string, string>({
    send: (to, m) => {
      sent.push(
        `${to} ${m.type} ${m.type === "handshake" ? `${m.offset}/${m.heartbeatInterval}` : m.seq}${
          m.type === "event" ? ` ${m.content}` : ""
        }`,
      );
    },
    broadcast: () => {},
    drop: (who, why) => void drops.push([who, why]),
    handshakeCompleted: (who) => void done.push(who),
  });
  assert.equal(p.produce("nobody"), undefined, "no consumers: nothing sent, no seq used");
  assert.equal(p.seq, 1);
  p.handleNack("c", [5]); // unknown consumer, not [0]: ignored
  p.handleNack("c", [0]); // joins
  assert.deepEqual(sent, ["c handshake 1/5"]);
  assert.throws(
    () => p.add("c"),
    (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.consumer_exists,
  );
  assert.equal(p.produce("a"), 2);
  p.produce("b");
  p.produce("c");
  p.handleNack("c", [0]);
  assert.equal(sent.at(-1), "c handshake 1/5", "repeated handshake keeps the offset");
  p.handleAck("c", 1);
  assert.deepEqual(done, ["c"]);
  p.handleNack("c", [3, 4]); // implies ack 2; 3 and 4 are resent
  assert.deepEqual(sent.slice(-2), ["c event 3 b", "c event 4 c"]);
  assert.equal(p.buffered, 2);
  p.handleNack("c", [1, 9]);
  assert.deepEqual(sent.slice(-2), ["c retransmit_failed 1", "c retransmit_failed 9"]);
  p.handleAck("c", 4);
  assert.ok(p.idle);
  assert.equal(p.buffered, 0);
  p.handleAck("c", 3); // a stale ack changes nothing
  assert.ok(p.idle);
  p.handleNack("c", [4, 3]);
  assert.deepEqual(drops, [["c", ErrorCode.invalid_message]]);
  assert.equal(p.paths.length, 0);
});

Deno.test("producer: one nack is answered for at most the events held or 4096 numbers, not a million", () => {
  // Each number listed got a message of its own: a nack of 1,000,000 (8 MB)
  // made 1,000,000 at once. The consumer nacks again what it still misses.
  let sent = 0;
  const p = new ChannelProducer<string, string>({
    send: () => void sent++,
    broadcast: () => {},
    drop: () => {},
    handshakeCompleted: () => {},
  });
  p.handleNack("c", [0]);
  p.handleAck("c", 1);
  for (let i = 0; i < 10; i++) p.produce(`e${i}`);
  sent = 0;
  p.handleNack("c", Array.from({ length: 1_000_000 }, (_, i) => 2 + i));
  assert.equal(sent, 4096);
  sent = 0;
  p.handleNack("c", [2, 3, 11, 12]); // a few: every one answered, as Broker does
  assert.equal(sent, 4);
});

/** A producer with one consumer, "c", that acked the handshake; `sent` collects the events resent to it. */
function producerWithConsumer(): { p: ChannelProducer<string, string>; sent: string[] } {
  const sent: string[] = [];
  const p = new ChannelProducer<string, string>({
    send: (_to, m) => void (m.type === "event" && sent.push(`${m.seq}:${m.content}`)),
    broadcast: () => {},
    drop: () => {},
  });
  p.handleNack("c", [0]);
  p.handleAck("c", 1);
  return { p, sent };
}

/**
 * Bursts of up to `maxBurst` produces between partial acks, for `rounds`
 * rounds: the kept contents start and end anywhere in their blocks, blocks
 * are added, emptied and taken again; `buffered`, `oldest` and every nack's
 * resends must match what was produced under each sequence number.
 */
function producerAgainstModel(rounds: number, maxBurst: number): void {
  const { p, sent } = producerWithConsumer();
  let acked = 1;
  let x = 7;
  for (let round = 0; round < rounds; round++) {
    x = (x * 1103515245 + 12345) >>> 0;
    const burst = x % (maxBurst + 1);
    for (let k = 0; k < burst; k++) p.produce(`v${p.nextSeq}`);
    assert.equal(p.buffered, p.seq - acked);
    assert.equal(p.oldest, p.buffered > 0 ? `v${acked + 1}` : undefined);
    if (p.buffered > 0) {
      // Two unacked events resent: the oldest and one further on.
      const later = acked + 1 + (x % p.buffered);
      sent.length = 0;
      p.handleNack("c", [acked + 1, later]); // acks everything before the oldest: nothing new
      assert.deepEqual(sent, [`${acked + 1}:v${acked + 1}`, `${later}:v${later}`]);
    }
    acked += Math.floor(((x >>> 8) % 100) / 100 * (p.seq - acked)); // ack a part
    p.handleAck("c", acked);
  }
  p.handleAck("c", p.seq);
  assert.equal(p.buffered, 0);
  assert.equal(p.oldest, undefined);
}

Deno.test("producer: unacked contents kept in order through partial acks (small bursts)", () => {
  producerAgainstModel(200, 96);
});

Deno.test("producer: unacked contents kept in order across many blocks (bursts up to 3 blocks)", () => {
  // A block holds 4,096 contents: bursts up to 12,000 with partial acks keep
  // up to a few blocks' worth unacked, starting mid-block.
  producerAgainstModel(120, 12_000);
});

Deno.test("producer: acks that end exactly at a block's end", () => {
  // 4,096 contents fill a block: acks landing on that boundary leave the
  // next content at the start of the next block.
  const { p, sent } = producerWithConsumer();
  for (let k = 0; k < 3 * 4096; k++) p.produce(`v${p.nextSeq}`);
  for (const acked of [1 + 4096, 1 + 2 * 4096]) {
    p.handleAck("c", acked);
    assert.equal(p.oldest, `v${acked + 1}`);
    sent.length = 0;
    p.handleNack("c", [acked + 1, acked + 4096]);
    assert.deepEqual(sent, [`${acked + 1}:v${acked + 1}`, `${acked + 4096}:v${acked + 4096}`]);
  }
  p.handleAck("c", p.seq);
  assert.equal(p.oldest, undefined);
  p.produce("next");
  assert.equal(p.oldest, "next");
  assert.equal(p.buffered, 1);
});

Deno.test("producer: entity handles compare by value", () => {
  const id = new Uint8Array(16).fill(7);
  const sent: Entity[] = [];
  const p = new ChannelProducer<Entity, string>({
    send: (to) => void sent.push(to),
    broadcast: () => {},
    drop: () => {},
  });
  p.handleNack({ endpoint: id, object: 3n }, [0]);
  p.handleNack({ endpoint: id.slice(), object: 3n }, [0]);
  p.handleNack(NIL_ENTITY, [0]);
  assert.equal(p.paths.length, 2);
  assert.equal(sent.length, 3);
});

function consumerUnderTest(opts: ConsumerOptions = {}, nil?: BrokerError) {
  const log = {
    got: [] as string[],
    sent: [] as string[],
    nils: [] as number[],
    closed: [] as BrokerError[],
  };
  const c = new ChannelConsumer<string, string>({
    consume: (x) => void log.got.push(x),
    consumeNil: (seq) => {
      log.nils.push(seq);
      return nil;
    },
    send: (m) =>
      void log.sent.push(m.type === "nack" ? `nack ${m.seqs.join(",")}` : `ack ${m.seq}`),
    close: (e) => void log.closed.push(e),
  }, opts);
  return { c, log };
}

Deno.test("consumer: nack [0] every nack timeout until the handshake, then an ack", () => {
  const { c, log } = consumerUnderTest();
  for (let i = 0; i < 5; i++) c.tick();
  assert.deepEqual(log.sent, ["nack 0", "nack 0"]);
  c.handleEvent(3, "early"); // before the handshake: buffered
  c.handleHandshake(1, 5, "P");
  assert.equal(c.producer, "P");
  assert.deepEqual(log.sent.slice(2), ["ack 1"]);
  assert.equal(c.handleHandshake(7, 5), false, "repeated handshakes are ignored");
  c.handleEvent(2, "a");
  assert.deepEqual(log.got, ["a", "early"]);
});

Deno.test("consumer: no nack [0] while the handshake may be arriving, for at most MAX_HANDSHAKE_HOLD_TICKS", () => {
  let arriving = true, asked = 0;
  const c = new ChannelConsumer<string, string>({
    consume: () => {},
    consumeNil: () => undefined,
    send: (m) => void (m.type === "nack" && asked++),
    close: () => {},
    arriving: () => arriving,
  });
  // Bytes keep coming: the held ticks do not count towards the nack timeout (2)...
  for (let i = 0; i < MAX_HANDSHAKE_HOLD_TICKS; i++) c.tick();
  assert.equal(asked, 0);
  // ...but no longer than the bound, then it asks every nack timeout as without them.
  c.tick();
  c.tick();
  assert.equal(asked, 1);
  // Nothing arriving: a tick between arrivals counts, two in a row ask.
  arriving = false;
  c.tick();
  arriving = true;
  c.tick();
  assert.equal(asked, 1);
  arriving = false;
  c.tick();
  assert.equal(asked, 2);
});

Deno.test("consumer: reorders, drops duplicates, nacks gaps after the timeout, learns the tail from heartbeats", () => {
  const { c, log } = consumerUnderTest();
  c.handleHandshake(1, 5, "P");
  log.sent.length = 0;
  c.handleEvent(3, "c");
  c.handleEvent(3, "c again");
  c.handleEvent(5, "e");
  assert.equal(c.buffered, 2);
  c.tick(); // progress since start (next 2 > 0): no nack yet
  c.tick();
  c.tick();
  assert.deepEqual(log.sent, ["nack 2,4"]);
  c.handleHeartbeat(7); // events 6 and 7 exist too
  c.tick();
  c.tick();
  assert.deepEqual(log.sent.slice(1), ["nack 2,4,6,7"]);
  for (const [s, x] of [[2, "b"], [4, "d"], [2, "dup"], [7, "g"], [6, "f"]] as const) {
    c.handleEvent(s, x);
  }
  assert.deepEqual(log.got, ["b", "c", "d", "e", "f", "g"]);
  assert.ok(c.idle);
});

Deno.test("consumer: cumulative ack every heartbeat interval", () => {
  const { c, log } = consumerUnderTest();
  c.handleHandshake(1, 5, "P");
  log.sent.length = 0;
  for (let i = 0; i < 10; i++) {
    c.tick();
    if (i === 6) c.handleEvent(2, "x");
  }
  assert.deepEqual(log.sent, ["ack 1", "ack 2"], "at ticks 5 and 10");
});

Deno.test("consumer: a lost event closes a clone-like consumer, or is skipped", () => {
  const broken = new BrokerError(ErrorCode.broken_clone, "out of sync");
  const clone = consumerUnderTest({}, broken);
  clone.c.handleHandshake(1, 5, "P");
  clone.c.handleEvent(3, "c");
  clone.c.handleRetransmitFailed(2);
  assert.deepEqual(clone.log.nils, [2]);
  assert.deepEqual(clone.log.closed, [broken]);
  assert.equal(clone.c.initialized, false, "reset: ready for a new handshake");
  assert.deepEqual(clone.log.got, []);

  const master = consumerUnderTest();
  master.c.handleHandshake(1, 5, "W");
  master.c.handleRetransmitFailed(3); // known lost, buffered
  master.c.handleEvent(3, "late retransmission wins");
  master.c.handleRetransmitFailed(4);
  master.c.handleEvent(5, "e");
  master.c.handleEvent(2, "b");
  assert.deepEqual(master.log.got, ["b", "late retransmission wins", "e"]);
  assert.deepEqual(master.log.nils, [4]);
  assert.deepEqual(master.log.closed, []);
});

Deno.test("consumer: a silent producer times out; nacks are capped", () => {
  const { c, log } = consumerUnderTest({ maxNackSeqs: 3 });
  c.handleHandshake(1, 5, "P");
  c.handleHeartbeat(1 << 62); // claims a huge stream
  c.tick();
  c.tick();
  c.tick();
  assert.equal(log.sent.at(-1), "nack 2,3,4");
  let ticks = 3;
  while (log.closed.length === 0 && ticks < 1000) {
    c.tick();
    ticks++;
  }
  assert.equal(ticks, 500);
  assert.equal(log.closed[0].code, ErrorCode.connection_timeout);
  assert.equal(c.initialized, false);

  const quiet = consumerUnderTest({ producerTimeout: false });
  quiet.c.handleHandshake(1, 5, "P");
  for (let i = 0; i < 600; i++) quiet.c.tick();
  assert.deepEqual(quiet.log.closed, [], "Broker's behaviour: no consumer-side timeout");
});

Deno.test("the master's side of the capture: offset 1, heartbeat 5, keepalive 1, events from 2", () => {
  const out: string[] = [];
  const master = new ChannelProducer<string, string>({
    send: (to, m) =>
      void out.push(
        m.type === "handshake" ? `${to} ack_clone ${m.offset} ${m.heartbeatInterval}` : m.type,
      ),
    broadcast: (m) => void out.push(`${m.type} ${m.seq}`),
    drop: () => {},
  });
  master.handleNack("clone", [0]); // frame 7
  master.handleAck("clone", 1); // frame 9
  for (let i = 0; i < 5; i++) master.tick(); // frame 12, half a second later
  for (const x of ["a", "s", "a", "set", "vec", "tmp"]) master.produce(x); // frames 26-31
  assert.deepEqual(out, [
    "clone ack_clone 1 5",
    "heartbeat 1",
    "event 2",
    "event 3",
    "event 4",
    "event 5",
    "event 6",
    "event 7",
  ]);
});

Deno.test("options are checked", () => {
  const t = { send: () => {}, broadcast: () => {}, drop: () => {} };
  assert.throws(() => new ChannelProducer(t, { heartbeatIntervalTicks: -1 }), RangeError);
  assert.throws(() => new ChannelProducer(t, { connectionTimeoutFactor: 0 }), RangeError);
  const ct = { consume: () => {}, consumeNil: () => undefined, send: () => {}, close: () => {} };
  assert.throws(() => new ChannelConsumer(ct, { nackTimeoutTicks: 0 }), RangeError);
  assert.throws(() => new ChannelConsumer(ct, { maxNackSeqs: 0 }), RangeError);
});

Deno.test("consumer: events far ahead are not buffered (a bound on what a producer can make us hold)", () => {
  const { c, log } = consumerUnderTest();
  c.handleHandshake(1, 5, "P");
  for (let seq = 3; seq < 20_000; seq++) c.handleEvent(seq, `e${seq}`);
  assert.equal(c.buffered, DEFAULT_MAX_BUFFERED_EVENTS, "only the window is kept");
  c.handleEvent(2, "e2");
  assert.equal(log.got.length, DEFAULT_MAX_BUFFERED_EVENTS + 1);
  // The rest comes again once nacked.
  for (let seq = 2 + (log.got.length); seq < 20_000; seq++) c.handleEvent(seq, `e${seq}`);
  assert.equal(log.got.length, 20_000 - 2);
  assert.deepEqual(log.got.slice(0, 3), ["e2", "e3", "e4"]);
});

Deno.test("consumer: keep copies only the events it holds, and the held copies are delivered", () => {
  const got: string[] = [];
  const kept: string[] = [];
  const c = new ChannelConsumer<string, { text: string }>({
    consume: (x) => void got.push(x.text),
    consumeNil: () => undefined,
    send: () => {},
    close: () => {},
    keep: (x) => (kept.push(x.text), { text: `${x.text}'` }),
  });
  c.handleHandshake(1, 5, "master");
  c.handleEvent(3, { text: "b" }); // early: held, so kept
  c.handleRetransmitFailed(5); // a "lost" notice ahead...
  c.handleEvent(5, { text: "d" }); // ...that a retransmission fills: kept
  c.handleEvent(3, { text: "b-dup" }); // a duplicate of a held event: not kept again
  c.handleEvent(2, { text: "a" }); // in order: consumed as given
  c.handleEvent(4, { text: "c" });
  assert.deepEqual(kept, ["b", "d"]);
  assert.deepEqual(got, ["a", "b'", "c", "d'"]);
});
