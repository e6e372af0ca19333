/**
 * Start-up warm-up: before an endpoint's first peering, a process runs its
 * hot paths (publish, encode, the envelope and frame writer, the coalescing
 * writer, the frame reader, the router, validation, local delivery, the
 * subscriber queue, decode) for a few milliseconds between two private
 * endpoints joined by an in-memory byte stream. No socket is opened and no
 * byte leaves the process.
 *
 * Why: V8 runs new code in its interpreter and compiles it only after it ran
 * a while; without this, a process's first ~1,000 messages each cost several
 * times what later ones do (measured with `bench/peering.ts --only=latency`:
 * ~300/2,500 µs p50/p99 round trips in the first 1,000 pings, ~90/500 after),
 * and a latency-sensitive peer sees that as its tail. Compiled code and type
 * feedback are per isolate, so one warm-up per process serves every endpoint
 * in it (`warmUpOnce`).
 *
 * @module
 */
import { type Data, decodeValidated, encode, validateForLater } from "./data/mod.ts";
import {
  addr,
  bool,
  count,
  enumValue,
  integer,
  port,
  real,
  set,
  str,
  table,
  timespan,
  timestamp,
  vector,
} from "./data/constructors.ts";
import type { ByteStream } from "./transport/node_stream.ts";
import { newOwnEndpointId } from "./routing/origin_tag.ts";
import { endpointIdToString } from "./wire/endpoint_id.ts";

/** What the warm-up needs of an endpoint (an `Endpoint`). */
export interface WarmUpEndpoint {
  /** Runs Broker's handshake and then the peering over `stream`. */
  adoptStream(stream: ByteStream, role: "connector" | "acceptor"): void;
  /** Receives the topic prefixes. */
  subscribe(topics: string | string[], options?: { queueSize?: number }): WarmUpSubscriber;
  /** Sends a value to the peers. */
  publish(topic: string, data: Data): void;
  /** Resolves once a peer's filter matches `topic`. */
  awaitPeerSubscription(topic: string, timeoutMs?: number): Promise<void>;
  /** Closes everything. */
  shutdown(): Promise<void>;
}

/** What the warm-up needs of a subscriber (a `Subscriber`). */
export interface WarmUpSubscriber extends AsyncIterable<{ topic: string; data: Data }> {
  /** The next message, or undefined/null once closed or after `timeoutMs`. */
  get(timeoutMs?: number): Promise<{ topic: string; data: Data } | undefined | null>;
  /** Stops receiving. */
  close(): void;
}

/** How long to warm up, and what else to run. */
export interface WarmUpOptions<E extends WarmUpEndpoint = WarmUpEndpoint> {
  /** Stop after this many messages each way (default `DEFAULT_WARM_UP_MESSAGES`). */
  messages?: number;
  /** Stop sending once this many ms have passed (default `DEFAULT_WARM_UP_BUDGET_MS`). */
  budgetMs?: number;
  /**
   * Runs after the generic traffic, on the same two peered endpoints (`a`
   * dialled `b`): an application warms its own loop this way, e.g.
   * `broker node` its ping and pong modes. Resolves with round trips made.
   */
  then?: (a: E, b: E) => Promise<number>;
}

/** What a warm-up did. */
export interface WarmUpReport {
  /** Messages sent each way, plus the round trips `then` reported. */
  messages: number;
  /** Wall time, ms, from the first endpoint made to the last one shut down. */
  ms: number;
}

/** Default bound on the generic traffic's messages each way. */
export const DEFAULT_WARM_UP_MESSAGES = 2000;
/** Default bound on the generic traffic's wall time, ms (`then` comes on top). */
export const DEFAULT_WARM_UP_BUDGET_MS = 20;

/** Three values of this size fill the encoder's 1 MiB output slab at least once. */
const SLAB_FILLER = 400 * 1024;
/** Messages in flight at once: most go in batches, as under load; every fourth batch is one message. */
const BATCH = 8;
const PING_TOPIC = "/warm-up/ping";
const PONG_TOPIC = "/warm-up/pong";
/** The remote address a memory stream reports (nothing listens there). */
const NOWHERE: Deno.NetAddr = { transport: "tcp", hostname: "0.0.0.0", port: 0 };

/**
 * One end of an in-memory byte stream pair: what one end writes, the other
 * reads, in order. A write copies into the reader's buffer (the writer
 * reuses its own, as with a socket) and completes at once; a read waits
 * until bytes or the end arrive. The buffer is reused, so a message costs
 * no allocation here (allocations would bring the garbage collector in,
 * which real sockets do not).
 */
class MemoryStream implements ByteStream {
  readonly remoteAddr: Deno.NetAddr = NOWHERE;
  /** The other end. */
  peer?: MemoryStream;
  #buf = new Uint8Array(64 * 1024);
  #head = 0;
  #tail = 0;
  #ended = false;
  #wake?: () => void;

  read(buf: Uint8Array): Promise<number | null> {
    if (this.#tail > this.#head) return Promise.resolve(this.#take(buf));
    if (this.#ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined;
        resolve(this.#tail > this.#head ? this.#take(buf) : null);
      };
    });
  }

  write(buf: Uint8Array): Promise<number> {
    const to = this.peer;
    if (this.#ended || !to || to.#ended) return Promise.reject(new Error("stream closed"));
    to.#put(buf);
    to.#wake?.();
    return Promise.resolve(buf.length);
  }

  close(): void {
    this.#end();
    if (this.peer) this.peer.#end();
  }

  #end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  #put(bytes: Uint8Array): void {
    const unread = this.#tail - this.#head;
    if (this.#tail + bytes.length > this.#buf.length) {
      // Move the unread bytes to the front, into a bigger buffer if need be.
      const need = unread + bytes.length;
      if (need > this.#buf.length) {
        const next = new Uint8Array(Math.max(need, 2 * this.#buf.length));
        next.set(this.#buf.subarray(this.#head, this.#tail));
        this.#buf = next;
      } else {
        this.#buf.copyWithin(0, this.#head, this.#tail);
      }
      this.#head = 0;
      this.#tail = unread;
    }
    this.#buf.set(bytes, this.#tail);
    this.#tail += bytes.length;
  }

  #take(buf: Uint8Array): number {
    const n = Math.min(buf.length, this.#tail - this.#head);
    buf.set(this.#buf.subarray(this.#head, this.#head + n));
    this.#head += n;
    if (this.#head === this.#tail) this.#head = this.#tail = 0;
    return n;
  }
}

/**
 * Two connected in-memory byte streams (`ByteStream`s): what one writes, the
 * other reads.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { memoryStreamPair } from "./warm_up.ts";
 * const [a, b] = memoryStreamPair();
 * await a.write(new Uint8Array([1, 2, 3]));
 * const buf = new Uint8Array(8);
 * deepEqual(buf.subarray(0, (await b.read(buf))!), new Uint8Array([1, 2, 3]));
 * a.close();
 * deepEqual(await b.read(buf), null);
 * ```
 */
export function memoryStreamPair(): [ByteStream, ByteStream] {
  const a = new MemoryStream(), b = new MemoryStream();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/**
 * A ping as broker-node sends it, with `bytes` bytes of padding.
 * Sizes and types vary so that the codec's paths see what real traffic has.
 */
function ping(i: number, pad: string): Data {
  return vector(str("ping"), count(BigInt(i)), str(pad));
}

/**
 * A Zeek event shaped like a conn.log entry (what Zeek clusters send most),
 * its fields varied by `i`: the warm-ups' sample of real traffic.
 *
 * @example
 * ```ts
 * import { dataToString } from "./data/mod.ts";
 * import { warmUpConnEvent } from "./warm_up.ts";
 * if (!dataToString(warmUpConnEvent(1)).includes("Conn::log_conn")) throw new Error("a conn event");
 * ```
 */
export function warmUpConnEvent(i: number): Data {
  const args = [
    vector(
      str("C" + (i * 2654435761 >>> 0).toString(36)),
      timestamp(1_700_000_000_000_000_000n + BigInt(i) * 1000n),
      vector(
        // IPv6 in one of four: the WebSocket writer's WASM path declines it
        // (the JS writer formats it), and both paths need the warm-up.
        (i & 3) === 3 ? addr("2001:db8::1") : addr("10.0.0.1"),
        port(40000 + (i & 1023), "tcp"),
        addr("192.168.1.7"),
        port(443, "tcp"),
      ),
      enumValue("tcp"),
      str("ssl"),
      timespan(BigInt(i) * 1000n),
      count(BigInt(i & 0xffff)),
      integer(BigInt(-i)),
      real(i / 7),
      bool((i & 1) === 0),
      set(str("a"), str("b")),
      table([[str("k"), count(1n)]]),
    ),
  ];
  return vector(count(1n), count(1n), vector(str("Conn::log_conn"), vector(...args)));
}

/**
 * Two endpoint IDs of ours whose origin tags differ in kind: V8 keeps a
 * 32-bit word that fits a small integer (below 2^30) apart from one that
 * does not, and code compiled having seen only one kind is thrown away
 * (deoptimised) when the other arrives. Real peers' IDs are random, so the
 * warm-up's pair shows the router both.
 */
function warmUpIds(): [string, string] {
  const word = (id: Uint8Array, at: number) =>
    ((id[at] << 24) | (id[at + 1] << 16) | (id[at + 2] << 8) | id[at + 3]) >>> 0;
  const kind = (id: Uint8Array) => word(id, 0) >= 2 ** 30 && word(id, 4) >= 2 ** 30;
  const small = (id: Uint8Array) => word(id, 0) < 2 ** 30 && word(id, 4) < 2 ** 30;
  let a = newOwnEndpointId(), b = newOwnEndpointId();
  // Each try succeeds with probability 1/16: a few dozen tries at most in practice.
  for (let k = 0; k < 1000 && !kind(a); k++) a = newOwnEndpointId();
  for (let k = 0; k < 1000 && !small(b); k++) b = newOwnEndpointId();
  return [endpointIdToString(a), endpointIdToString(b)];
}

/**
 * Runs the hot paths between two endpoints `make` builds with the IDs it
 * is given (each must skip its own warm-up), joined by a memory stream: `a`
 * publishes pings, Zeek-like events and other values, `b` answers each with
 * a pong, until `messages` or `budgetMs` is reached; then values that fill
 * the output slab, then `then`. Both endpoints are shut down before it
 * resolves, and it fails (rejects) rather than wait more than a second for
 * any message.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { Endpoint } from "./endpoint.ts";
 * import { warmUp } from "./warm_up.ts";
 * // A generous time budget, so that only the message count ends it on a busy machine.
 * const report = await warmUp((id) => new Endpoint({ id, warmUp: false }), {
 *   messages: 50,
 *   budgetMs: 60_000,
 * });
 * equal(report.messages, 50);
 * ```
 */
export async function warmUp<E extends WarmUpEndpoint>(
  make: (id: string) => E,
  options: WarmUpOptions<E> = {},
): Promise<WarmUpReport> {
  const limit = options.messages ?? DEFAULT_WARM_UP_MESSAGES;
  const budgetMs = options.budgetMs ?? DEFAULT_WARM_UP_BUDGET_MS;
  const t0 = performance.now();
  const [idA, idB] = warmUpIds();
  const a = make(idA), b = make(idB);
  let done = 0;
  try {
    const pings = b.subscribe(PING_TOPIC, { queueSize: 64 });
    const pongs = a.subscribe(PONG_TOPIC, { queueSize: 64 });
    const [sa, sb] = memoryStreamPair();
    b.adoptStream(sb, "acceptor");
    a.adoptStream(sa, "connector");
    await Promise.all([
      a.awaitPeerSubscription(PING_TOPIC, 1000),
      b.awaitPeerSubscription(PONG_TOPIC, 1000),
    ]);
    // The ponger iterates (`for await`), the pinger waits per message
    // (`get`): both ways of reading a subscriber get compiled.
    const ponger = (async () => {
      for await (const m of pings) {
        b.publish(PONG_TOPIC, vector(str("pong"), (m.data.value as Data[])[1]));
      }
    })();
    const exchange = async (values: Data[]) => {
      for (const v of values) a.publish(PING_TOPIC, v);
      for (let k = 0; k < values.length; k++) {
        if (await pongs.get() == null) throw new Error("warm-up: a pong was lost");
      }
    };
    const pads = ["", "x".repeat(16), "x".repeat(300), "x".repeat(100)];
    const t1 = performance.now(); // the budget is for traffic; peering cost what it cost
    for (let batch = 0; done < limit && performance.now() - t1 < budgetMs; batch++) {
      // One message at a time is the latency path (a frame per read and
      // write); batches are the throughput path (coalesced writes, several
      // frames per read) and cost less per message.
      const n = Math.min(batch % 4 === 3 ? 1 : BATCH, limit - done);
      const values: Data[] = [];
      for (let k = 0; k < n; k++, done++) {
        values.push((done & 7) === 7 ? warmUpConnEvent(done) : ping(done, pads[done & 3]));
      }
      await exchange(values);
    }
    // Values big enough to fill the shared output slab: a full slab is
    // replaced, and code compiled while the first slab was the only one
    // would otherwise be thrown away (deoptimised) at that moment, in the
    // middle of real traffic, thousands of messages in.
    // Encoding them is enough: the slab is the encoder's.
    if (limit > 0) {
      const big = str("x".repeat(SLAB_FILLER));
      for (let k = 0; k < 3; k++) encode(big);
    }
    pings.close();
    pongs.close();
    await ponger;
    if (options.then) done += await options.then(a, b);
  } finally {
    await Promise.all([a.shutdown(), b.shutdown()]);
  }
  return { messages: done, ms: performance.now() - t0 };
}

/**
 * Validates and decodes `values` (encoded once) `rounds` times, as a
 * subscriber does with what arrives: the codec only, no endpoint.
 *
 * Why: V8 gives a function its top tier only after many calls, ~10,000 for
 * the text reader. A `broker node`'s warm-up traffic left it and the JS
 * validator of small values one tier below, so a pong compiled the reader
 * during its ~1,300th real ping and a ping the validator during its
 * ~500th–700th (5–8 and ~2 ms on a background thread; a round trip beside
 * each took 1–4 ms). A round here costs a few µs, a round trip ~100 µs.
 *
 * @example
 * ```ts
 * import { count, str, vector } from "./data/mod.ts";
 * import { warmUpReaders } from "./warm_up.ts";
 * warmUpReaders([vector(str("ping"), count(1n), str("x".repeat(300)))], 10);
 * ```
 */
export function warmUpReaders(values: Data[], rounds: number): void {
  const samples = values.map((v) => encode(v).slice());
  for (let r = 0; r < rounds; r++) {
    for (const b of samples) decodeValidated(b, validateForLater(b));
  }
}

let once: Promise<WarmUpReport> | undefined;

/**
 * `warmUp` once per process: the first call runs it, later calls get the
 * same result. A failed warm-up only costs its time, so it resolves anyway.
 *
 * @example
 * ```ts
 * import { Endpoint } from "./endpoint.ts";
 * import { warmUpOnce } from "./warm_up.ts";
 * const make = (id: string) => new Endpoint({ id, warmUp: false });
 * const first = await warmUpOnce(make, { messages: 20 });
 * const again = await warmUpOnce(make);
 * if (first !== again) throw new Error("one warm-up per process");
 * ```
 */
export function warmUpOnce<E extends WarmUpEndpoint>(
  make: (id: string) => E,
  options?: WarmUpOptions<E>,
): Promise<WarmUpReport> {
  return once ??= warmUp(make, options).catch(() => ({ messages: 0, ms: 0 }));
}

const partsOnce = new Map<string, Promise<WarmUpReport>>();

/**
 * A part of the warm-up once per process (`part` names it: `"store"`,
 * `"websocket"`), after `warmUpOnce` if that started already (it does not
 * start it): two more private endpoints, peered in memory without the
 * generic traffic, run `run` (e.g. `warmUpStoreTraffic` from
 * `engine/store/warm_up_store.ts`). An endpoint starts a part when it first
 * uses what the part warms (a store, the WebSocket API), so a process that
 * never does never pays for it. Like `warmUpOnce`, it always resolves.
 *
 * @example
 * ```ts
 * import { Endpoint } from "./endpoint.ts";
 * import { warmUpPartOnce } from "./warm_up.ts";
 * import { warmUpStoreTraffic } from "./store/warm_up_store.ts";
 * const make = (id: string) => new Endpoint({ id, warmUp: false });
 * const report = await warmUpPartOnce("store", make, (a, b) => warmUpStoreTraffic(a, b, { puts: 100 }));
 * if (report !== await warmUpPartOnce("store", make, () => Promise.resolve(0))) throw new Error("once");
 * ```
 */
export function warmUpPartOnce<E extends WarmUpEndpoint>(
  part: string,
  make: (id: string) => E,
  run: (a: E, b: E) => Promise<number>,
): Promise<WarmUpReport> {
  let report = partsOnce.get(part);
  if (report === undefined) {
    // After the peering warm-up if one started (not concurrently with it),
    // but without starting one: its first caller may bring a `then` of its own.
    report = (once ?? Promise.resolve())
      .then(() => warmUp(make, { messages: 0, then: run }))
      .catch(() => ({ messages: 0, ms: 0 }));
    partsOnce.set(part, report);
  }
  return report;
}
