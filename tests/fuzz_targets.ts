/**
 * What `deno task fuzz` mutates and feeds, one target per parser that reads
 * bytes from outside: Broker's data format, its wire messages (envelopes,
 * handshake messages, routing updates, the length-prefixed framing), store
 * commands, Zeek messages, the ZeroMQ layer (ZMTP greetings and frames, Zeek
 * 8's log batches and messages), the WebSocket JSON reader and recordings
 * (Broker's generator files, pcap), and the anonymous TLS session (both
 * ends). Each target's seeds are real bytes from
 * the fixtures made with the C++ Broker and Zeek; its `exercise` returns a
 * problem when an input raises anything but a `BrokerError`.
 *
 * @example
 * ```ts
 * import { FUZZ_TARGETS } from "./fuzz_targets.ts";
 * for (const t of FUZZ_TARGETS) {
 *   for (const s of t.seeds()) if (t.exercise(s)) throw new Error(`${t.name}: a seed fails`);
 * }
 * ```
 *
 * @module
 */
import {
  BrokerError,
  count,
  dataToString,
  decode,
  encode,
  EncodedData,
  real,
  set,
  str,
  table,
  validate,
  vector,
} from "../mod.ts";
import { dataFromJson, readJsonMessage } from "../engine/data/json_read.ts";
import {
  decodeRoutingUpdate,
  envelopePayloadStart,
  envelopeTopic,
  parseEnvelope,
} from "../engine/wire/envelope.ts";
import { decodeFilter, decodeHandshakeMessage } from "../engine/wire/handshake_messages.ts";
import { FrameReader } from "../engine/wire/framing.ts";
import { decodeCommand, encodeCommand } from "../engine/store/commands.ts";
import { NIL_ENTITY } from "../engine/store/entity.ts";
import { MemoryBackend, stateRepeatsKey } from "../engine/store/memory_backend.ts";
import { parseZeekMessage } from "../engine/zeek/message.ts";
import { FrameDecoder } from "../engine/zeromq/frame.ts";
import { parseGreeting } from "../engine/zeromq/greeting.ts";
import { decodeLogWriteBatch } from "../engine/zeromq/log_batch.ts";
import { parseZeekZmqMessage } from "../engine/zeromq/zeek_message.ts";
import {
  generateFromShape,
  GeneratorFileWriter,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { brokerMessagesFromPcap, reassembledTcpStreams } from "../engine/recording/pcap.ts";
import { AnonTlsSession } from "../engine/anon_tls/session.ts";
import {
  capturedDataPayloads,
  captureFrames,
  CAPTURES,
  fixtureUrl,
  goldenData,
  goldenZeek,
  unhex,
} from "./fixtures.ts";

/** One parser under the fuzzer. */
export interface FuzzTarget {
  /** The target's name (`--target`, and the prefix of the inputs kept for it). */
  readonly name: string;
  /** Real inputs to mutate. */
  seeds(): Uint8Array[];
  /** Runs the parser on `bytes`: a problem, or undefined for a value or a `BrokerError`. */
  exercise(bytes: Uint8Array): string | undefined;
}

/** Runs `fn`; a problem when it raises anything but a `BrokerError`. */
function guarded(what: string, fn: () => void): string | undefined {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof BrokerError)) return `${what}: ${e instanceof Error ? e.stack : e}`;
  }
  return undefined;
}

/**
 * A command read as a clone reads it (`stateSpans`): an `ack_clone`'s state
 * walked where it lies, checked for a repeated key, and taken by a store
 * holding a key, with every change reported (the path of a clone with store
 * event readers).
 */
function exerciseSnapshotSpans(bytes: Uint8Array): void {
  const c = decodeCommand(bytes, { stateSpans: true });
  const spans = c.content.type === "ack_clone" ? c.content.spans : undefined;
  if (!spans) return;
  stateRepeatsKey(spans);
  const store = new MemoryBackend();
  store.put(count(1n), str("held"), null);
  store.replaceFromSpans(spans, {
    erase: (k) => void dataToString(k),
    update: (k, v, old) => void dataToString(vector(k, v, old)),
    insert: (k, v) => void dataToString(vector(k, v)),
  });
  for (const [k, v] of store.snapshot()) dataToString(vector(k, v));
}

/** An `ack_clone` whose keys take every path of a clone's table: plain, container, zeros of both signs. */
function snapshotSeed(): Uint8Array {
  return encodeCommand({
    seq: 1n,
    sender: NIL_ENTITY,
    receiver: NIL_ENTITY,
    content: {
      type: "ack_clone",
      offset: 1n,
      heartbeatInterval: 5,
      state: [
        [count(1n), str("one")],
        [str("k"), vector(count(2n), str("v"))],
        [vector(str("a"), count(3n)), set(str("x"), str("y"))],
        [real(0), count(0n)],
        [real(-0), count(1n)],
        [set(real(-0), str("b")), table([[str("t"), count(4n)]])],
      ],
    },
  });
}

/** Broker's data format through every decoder entry point (`deno task fuzz`'s first target). */
export function exerciseData(bytes: Uint8Array): string | undefined {
  return guarded("decode", () => {
    const v = decode(bytes);
    dataToString(v);
    decode(encode(v));
  }) ?? guarded("validate", () => {
    validate(bytes, { allowTrailing: true });
    const view = EncodedData.from(bytes, { allowTrailing: true });
    if (view.length > 0) view.at(view.length - 1).span();
  });
}

/** Golden values, captured data messages and values of every shape in Broker's recording. */
export function dataSeeds(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const g of [...goldenData(), ...goldenZeek()]) out.push(unhex(g.hex));
  for (const p of capturedDataPayloads()) out.push(p.payload);
  const rec = readGeneratorFile(Deno.readFileSync(fixtureUrl("recordings/mars.dat")));
  const rnd = seededRandom(7);
  for (const e of rec.entries.slice(0, 200)) out.push(encode(generateFromShape(e.shape!, rnd)));
  return out;
}

/** Every message of the three captures (the 4-byte length prefix removed). */
function capturedMessages(): Uint8Array[] {
  return CAPTURES.flatMap((name) => captureFrames(name).map((f) => unhex(f.hex)));
}

/** Each direction of the Zeek 8 ZeroMQ capture, its bytes in order. */
function zeromqStreams(): Uint8Array[] {
  const pcap = Deno.readFileSync(fixtureUrl("../zeek8/zeromq-two-nodes.pcap"));
  return [...reassembledTcpStreams(pcap).values()].map((chunks) => {
    const out = new Uint8Array(chunks.reduce((n, c) => n + c.data.length, 0));
    let at = 0;
    for (const c of chunks) out.set(c.data, (at += c.data.length) - c.data.length);
    return out;
  });
}

/** A ZMTP peer's greeting is 64 bytes; frames follow it. */
const GREETING_SIZE = 64;

/** The frames of each ZeroMQ stream (greeting skipped), as the decoder gives them. */
function zeromqFrames(): { body: Uint8Array; command: boolean; more: boolean }[] {
  const out = [];
  for (const s of zeromqStreams()) {
    const d = new FrameDecoder();
    d.push(s.subarray(GREETING_SIZE));
    for (let f = d.next(); f; f = d.next()) out.push({ ...f, body: f.body.slice() });
  }
  return out;
}

/** Message parts as one byte string: each part a 2-byte length and its bytes. */
function joinParts(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + 2 + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out[at] = p.length >> 8;
    out[at + 1] = p.length & 0xff;
    out.set(p, at + 2);
    at += 2 + p.length;
  }
  return out;
}

/** `joinParts` undone; a short last part is taken as it is. */
function splitParts(bytes: Uint8Array): Uint8Array[] {
  const parts: Uint8Array[] = [];
  for (let at = 0; at + 2 <= bytes.length;) {
    const n = (bytes[at] << 8) | bytes[at + 1];
    parts.push(bytes.subarray(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return parts;
}

const utf8 = new TextDecoder();
const utf8Bytes = new TextEncoder();

/** Every parser `deno task fuzz` feeds, in turn. */
export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: "data", seeds: dataSeeds, exercise: exerciseData },
  {
    // A peer's messages: the envelope, its topic and payload start, a routing update, the
    // handshake messages and their filters.
    name: "wire",
    seeds: capturedMessages,
    exercise: (bytes) =>
      guarded("envelope", () => {
        parseEnvelope(bytes);
        envelopeTopic(bytes, envelopePayloadStart(bytes));
      }) ??
        guarded("routing update", () =>
          decodeRoutingUpdate(bytes.subarray(Math.min(37, bytes.length)))) ??
        guarded("handshake", () =>
          decodeHandshakeMessage(bytes)) ??
        guarded("filter", () => decodeFilter(bytes)),
  },
  {
    // The length-prefixed stream, split into reads of 1 to 7 bytes.
    name: "framing",
    seeds: () =>
      capturedMessages().map((m) => {
        const out = new Uint8Array(4 + m.length);
        new DataView(out.buffer).setUint32(0, m.length);
        out.set(m, 4);
        return out;
      }),
    exercise: (bytes) =>
      guarded("framing", () => {
        const r = new FrameReader();
        r.maxFrameSize = 1 << 20;
        for (let at = 0; at < bytes.length;) {
          const n = 1 + (bytes[at] % 7);
          r.push(bytes.slice(at, at + n));
          at += n;
          while (r.next() !== undefined) { /* frames are only counted */ }
        }
      }),
  },
  {
    // Store channel commands: the payloads of the master/clone capture's command messages.
    name: "store",
    seeds: () => [
      ...capturedMessages().filter((m) => m.length > 37 && m[32] === 2).map((m) =>
        m.subarray(envelopePayloadStart(m))
      ),
      snapshotSeed(),
    ],
    exercise: (bytes) =>
      guarded("command", () => decodeCommand(bytes)) ??
        guarded("snapshot spans", () => exerciseSnapshotSpans(bytes)),
  },
  {
    name: "zeek",
    seeds: () => goldenZeek().map((g) => unhex(g.hex)),
    exercise: (bytes) => guarded("zeek message", () => parseZeekMessage(decode(bytes))),
  },
  {
    // A ZeroMQ peer's stream: its greeting, then frames.
    name: "zmtp",
    seeds: () => zeromqStreams().map((s) => s.subarray(0, 4096)),
    exercise: (bytes) =>
      guarded("greeting", () => parseGreeting(bytes.subarray(0, GREETING_SIZE))) ??
        guarded("frames", () => {
          const d = new FrameDecoder(1 << 20);
          d.push(bytes.subarray(GREETING_SIZE));
          while (d.next() !== undefined) { /* frames are only counted */ }
        }),
  },
  {
    // Zeek 8's messages (topic, sender, format, payload) and log batches from its capture.
    name: "zeek-zmq",
    seeds: () => {
      const messages: Uint8Array[] = [];
      let parts: Uint8Array[] = [];
      for (const f of zeromqFrames()) {
        if (f.command) continue;
        parts.push(f.body);
        if (!f.more) {
          messages.push(joinParts(parts));
          parts = [];
        }
      }
      return messages;
    },
    exercise: (bytes) => {
      const parts = splitParts(bytes);
      return guarded("message", () => parseZeekZmqMessage(parts)) ??
        guarded("log batch", () => decodeLogWriteBatch(parts[parts.length - 1] ?? bytes));
    },
  },
  {
    // The WebSocket API's JSON: Broker's JSON form of every golden value, as a whole message too.
    name: "json",
    seeds: () =>
      goldenData().flatMap((g) => {
        const text = (g as { json_text?: unknown }).json_text;
        return typeof text === "string" ? [utf8Bytes.encode(text)] : [];
      }),
    exercise: (bytes) => {
      const text = utf8.decode(bytes);
      return guarded("dataFromJson", () => dataFromJson(text)) ??
        guarded("message", () => readJsonMessage(text));
    },
  },
  {
    // Recordings: Broker's generator file (the start of mars.dat) and the captures as pcap.
    name: "recording",
    seeds: () => {
      // mars.dat cut after its last entry in the first 16 KiB is a whole generator file.
      const mars = Deno.readFileSync(fixtureUrl("recordings/mars.dat"));
      const ends = readGeneratorFile(mars).entryEnds.filter((e) => e <= 16_384);
      const v2 = new GeneratorFileWriter(Infinity, 2);
      for (const g of goldenData().slice(0, 20)) v2.addData("/fuzz", decode(unhex(g.hex)));
      return [
        mars.subarray(0, ends[ends.length - 1]),
        v2.bytes(),
        ...CAPTURES.map((n) => Deno.readFileSync(fixtureUrl(`pcap/${n}.pcap`))),
        Deno.readFileSync(fixtureUrl("pcap/ping-pong.pcapng")),
      ];
    },
    exercise: (bytes) =>
      guarded("generator file", () => readGeneratorFile(bytes)) ??
        guarded("pcap", () => brokerMessagesFromPcap(bytes)),
  },
  {
    // Anonymous TLS from a peer: the reference broker-node's ClientHello to our listener and its
    // listener's first flight to our client, each read by both ends, in reads of 1 to 64 bytes.
    // `receive` must not throw at all (a bad input is an alert and an error).
    name: "anon-tls",
    seeds: () =>
      ["anon-client-hello.bin", "anon-server-flight.bin"].map((f) =>
        Deno.readFileSync(fixtureUrl(`../tls/${f}`))
      ),
    exercise: (bytes) => {
      for (const role of ["server", "client"] as const) {
        const session = new AnonTlsSession(role);
        try {
          session.start();
          for (let at = 0; at < bytes.length;) {
            const n = 1 + (bytes[at] % 64);
            session.receive(bytes.subarray(at, at + n));
            at += n;
          }
        } catch (e) {
          return `anon TLS ${role}: ${e instanceof Error ? e.stack : e}`;
        }
      }
      return undefined;
    },
  },
];
