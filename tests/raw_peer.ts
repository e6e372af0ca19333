/**
 * A scripted Broker peer for socket tests: a raw TCP connection on which a
 * test writes and reads frames by hand with the wire helpers, so it can send
 * exactly the bytes it wants (including wrong ones) and see exactly what the
 * endpoint answers.
 *
 * Reading is pull-based: bytes are only read from the socket while a test
 * waits for a frame, so a peer that stops asking stops reading (a slow reader).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Endpoint, type EndpointOptions } from "../engine/endpoint.ts";
import { count, str, vector } from "../engine/data/mod.ts";
import type { StatusEvent } from "../engine/status.ts";
import { ErrorCode } from "../engine/errors.ts";
import type { BoundedQueue } from "../engine/queue.ts";
import {
  encodeEnvelope,
  encodeHandshakeMessage,
  type EndpointId,
  endpointIdToString,
  type Envelope,
  EnvelopeType,
  FrameReader,
  type HandshakeMessage,
  MAGIC,
  MessageType,
  messageTypeName,
  parseEndpointId,
  parseEnvelope,
} from "../engine/wire/mod.ts";
import { decodeHandshakeMessage } from "../engine/wire/handshake_messages.ts";

/** The endpoint's ID in these tests, between the two raw IDs below. */
export const ENDPOINT_ID = "55555555-5555-4555-8555-555555555555";
/** A raw peer ID larger than `ENDPOINT_ID`: the endpoint is the originator. */
export const LARGER_ID = "99999999-9999-4999-8999-999999999999";
/** A raw peer ID smaller than `ENDPOINT_ID`: the raw peer is the originator. */
export const SMALLER_ID = "11111111-1111-4111-8111-111111111111";

const READ_SIZE = 64 * 1024;

/** One raw TCP connection speaking Broker frames by hand. */
export class RawConn {
  readonly conn: Deno.Conn;
  readonly #reader = new FrameReader({ maxFrameSize: 0x7fffffff });
  #pending: Promise<number | null> | undefined;
  #eof = false;
  /** The read error that ended the stream, if it did not end cleanly. */
  readError: unknown;

  constructor(conn: Deno.Conn) {
    this.conn = conn;
  }

  /** Dials `127.0.0.1:port`. */
  static async dial(port: number): Promise<RawConn> {
    return new RawConn(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Whether the endpoint closed the stream (seen by a read). */
  get eof(): boolean {
    return this.#eof;
  }

  /** Writes all bytes. */
  async send(bytes: Uint8Array): Promise<void> {
    let off = 0;
    while (off < bytes.length) off += await this.conn.write(bytes.subarray(off));
  }

  /** Writes one handshake message, framed. */
  sendHandshake(msg: HandshakeMessage): Promise<void> {
    return this.send(encodeHandshakeMessage(msg, { prefix: true }));
  }

  /** Writes one node message, framed. */
  sendEnvelope(init: Parameters<typeof encodeEnvelope>[0]): Promise<void> {
    return this.send(encodeEnvelope(init, { prefix: true }));
  }

  /**
   * The next frame payload, or `undefined` once the endpoint closed the
   * stream. Throws when nothing arrives within `timeoutMs`.
   */
  async frame(timeoutMs = 1500): Promise<Uint8Array | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = this.#reader.next();
      if (f !== undefined) return f;
      if (this.#eof) return undefined;
      const buf = await this.#readOnce(deadline);
      if (buf === null) {
        this.#eof = true;
      } else {
        this.#reader.push(buf);
      }
    }
  }

  // One read at a time: a read left pending by a timeout is picked up by the next call.
  #readBuf: Uint8Array | undefined;
  async #readOnce(deadline: number): Promise<Uint8Array | null> {
    if (!this.#readBuf) {
      const buf = new Uint8Array(READ_SIZE);
      this.#readBuf = buf;
      this.#pending = this.conn.read(buf).then((n) => n, (e) => {
        this.readError = e;
        return null;
      });
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), Math.max(0, deadline - Date.now()));
    });
    const n = await Promise.race([this.#pending!, timeout]);
    clearTimeout(timer);
    if (n === "timeout") throw new Error("timed out waiting for a frame from the endpoint");
    const buf = this.#readBuf;
    this.#readBuf = undefined;
    this.#pending = undefined;
    return n === null ? null : buf!.slice(0, n);
  }

  /** The next handshake message; fails if the stream ends first. */
  async handshake(timeoutMs = 1500): Promise<HandshakeMessage> {
    const f = await this.frame(timeoutMs);
    assert.ok(f !== undefined, "the endpoint closed the connection instead of answering");
    return decodeHandshakeMessage(f);
  }

  /** The next handshake message, which must have type `type`. */
  async expect<T extends MessageType>(
    type: T,
    timeoutMs = 1500,
  ): Promise<Extract<HandshakeMessage, { type: T }>> {
    const m = await this.handshake(timeoutMs);
    assert.equal(
      messageTypeName(m.type),
      messageTypeName(type),
      `expected ${messageTypeName(type)}`,
    );
    return m as Extract<HandshakeMessage, { type: T }>;
  }

  /**
   * The next node message accepted by `keep`; others are skipped, and pings
   * that `keep` does not take are answered with a pong, as Broker does.
   */
  async envelope(keep: (e: Envelope) => boolean = () => true, timeoutMs = 1500): Promise<Envelope> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const f = await this.frame(Math.max(1, deadline - Date.now()));
      assert.ok(f !== undefined, "the endpoint closed the connection");
      const e = parseEnvelope(f.slice());
      if (keep(e)) return e;
      if (e.type === EnvelopeType.ping) {
        await this.sendEnvelope({
          sender: e.receiver,
          receiver: e.sender,
          type: EnvelopeType.pong,
          topic: e.topicBytes,
          payload: e.payload,
        });
      }
    }
  }

  /** Every frame until the endpoint closes the stream; throws if it stays open. */
  async framesUntilClose(timeoutMs = 1500): Promise<Uint8Array[]> {
    const deadline = Date.now() + timeoutMs;
    const out: Uint8Array[] = [];
    while (true) {
      const f = await this.frame(Math.max(1, deadline - Date.now()));
      if (f === undefined) return out;
      out.push(f.slice());
    }
  }

  /** Closes our side and waits for a read left pending to settle. */
  async close(): Promise<void> {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
    await this.#pending;
  }
}

/** A raw listener the endpoint can dial. */
export class RawListener {
  readonly listener: Deno.Listener;
  constructor() {
    this.listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  }
  get port(): number {
    return (this.listener.addr as Deno.NetAddr).port;
  }
  async accept(): Promise<RawConn> {
    return new RawConn(await this.listener.accept());
  }
  close(): void {
    try {
      this.listener.close();
    } catch {
      // already closed
    }
  }
}

/** A hello from `id`. */
export function hello(id: string, minVersion = 1, maxVersion = 1, magic = MAGIC): HandshakeMessage {
  return { type: MessageType.hello, magic, senderId: parseEndpointId(id), minVersion, maxVersion };
}

/** A version_select from `id`. */
export function versionSelect(id: string): HandshakeMessage {
  return {
    type: MessageType.version_select,
    magic: MAGIC,
    senderId: parseEndpointId(id),
    selectedVersion: 1,
  };
}

/** A probe. */
export const PROBE: HandshakeMessage = { type: MessageType.probe, magic: MAGIC };

/**
 * Runs the whole handshake from a raw peer that dialled the endpoint (or was
 * dialled, with `acceptor`), in whichever handshake role the IDs give it.
 * Returns the endpoint's filter.
 */
export async function rawHandshake(
  c: RawConn,
  id: string,
  filter: string[],
  acceptor = false,
): Promise<string[]> {
  const ours = parseEndpointId(id);
  if (acceptor) {
    await c.sendHandshake(PROBE);
    const h = await c.expect(MessageType.hello);
    if (cmp(ours, h.senderId) < 0) return await originate(c, id, filter);
    await c.sendHandshake(hello(id));
    // The endpoint (smaller ID) originates: its version_select comes first.
    await c.expect(MessageType.version_select);
    return await respond(c, filter);
  }
  await c.sendHandshake(hello(id));
  let m = await c.handshake();
  if (m.type === MessageType.probe) m = await c.handshake();
  if (m.type === MessageType.hello) return await originate(c, id, filter);
  assert.equal(messageTypeName(m.type), "version_select");
  return await respond(c, filter);
}

async function originate(c: RawConn, id: string, filter: string[]): Promise<string[]> {
  await c.sendHandshake(versionSelect(id));
  await c.sendHandshake({ type: MessageType.originator_syn, filter });
  const ack = await c.expect(MessageType.responder_syn_ack);
  await c.sendHandshake({ type: MessageType.originator_ack });
  return ack.filter;
}

/** After the endpoint's version_select: originator_syn in, syn_ack out, ack in. */
async function respond(c: RawConn, filter: string[]): Promise<string[]> {
  const syn = await c.expect(MessageType.originator_syn);
  await c.sendHandshake({ type: MessageType.responder_syn_ack, filter });
  await c.expect(MessageType.originator_ack);
  return syn.filter;
}

function cmp(a: EndpointId, b: EndpointId): number {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Dials the endpoint, completes the handshake and waits until the endpoint lists the peer. */
export async function peerRaw(
  ep: Endpoint,
  port: number,
  id: string,
  filter: string[] = [],
): Promise<RawConn> {
  const c = await RawConn.dial(port);
  await rawHandshake(c, id, filter);
  await waitFor(() => isPeered(ep, id), "the endpoint to list the raw peer as peered");
  return c;
}

/** Whether `ep` lists `id` as peered. */
export function isPeered(ep: Endpoint, id: string): boolean {
  return ep.peers().some((p) => p.id === id && p.status === "peered");
}

/** Polls `cond` until it holds, failing after `timeoutMs`. */
export async function waitFor(
  cond: () => boolean,
  what: string,
  timeoutMs = 1500,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Reads status events until one matches `match`; returns it and every event
 * seen on the way. Fails after `timeoutMs`.
 */
export async function nextStatus(
  q: BoundedQueue<StatusEvent>,
  match: (e: StatusEvent) => boolean,
  timeoutMs = 1500,
): Promise<{ event: StatusEvent; seen: StatusEvent[] }> {
  const deadline = Date.now() + timeoutMs;
  const seen: StatusEvent[] = [];
  while (true) {
    const left = deadline - Date.now();
    const e = left > 0 ? await q.get(left) : undefined;
    if (e === undefined) {
      throw new Error(
        `no matching status; saw ${JSON.stringify(seen.map((s) => `${s.kind}:${s.codeName}`))}`,
      );
    }
    seen.push(e);
    if (match(e)) return { event: e, seen };
  }
}

/** A matcher for an error event with `code` (optionally about peer `id`). */
export function isError(code: number, id?: string): (e: StatusEvent) => boolean {
  return (e) => e.kind === "error" && e.code === code && (id === undefined || e.peer?.id === id);
}

/** A matcher for a status event with `code` (optionally about peer `id`). */
export function isStatus(code: number, id?: string): (e: StatusEvent) => boolean {
  return (e) => e.kind === "status" && e.code === code && (id === undefined || e.peer?.id === id);
}

/** A ping from `from` to `to` with `payload`. */
export function ping(from: string, to: string, payload: Uint8Array) {
  return {
    sender: parseEndpointId(from),
    receiver: parseEndpointId(to),
    type: EnvelopeType.ping,
    topic: "<$>",
    payload,
  };
}

/** Sends a ping and reads (skipping data) until its pong; returns the data seen before it. */
export async function pingPong(
  c: RawConn,
  from: string,
  to: string,
  token: string,
  timeoutMs = 1500,
): Promise<Envelope[]> {
  const payload = new TextEncoder().encode(token);
  await c.sendEnvelope(ping(from, to, payload));
  const before: Envelope[] = [];
  const pong = await c.envelope((e) => {
    if (e.type === EnvelopeType.pong && new TextDecoder().decode(e.payload) === token) return true;
    if (e.type !== EnvelopeType.ping) before.push(e);
    return false;
  }, timeoutMs);
  assert.equal(endpointIdToString(pong.sender), to);
  assert.equal(endpointIdToString(pong.receiver), from);
  return before;
}

const PAD = "p".repeat(8 * 1024);

/**
 * Publishes `total` messages `(seq, 8 KiB string)` on `/flood` in batches of
 * `batch`, yielding to the event loop between batches so socket writers run,
 * until `until()` holds. Returns how many were published.
 */
export async function flood(
  ep: Endpoint,
  total: number,
  batch: number,
  until: () => boolean = () => false,
): Promise<number> {
  let seq = 0;
  while (seq < total && !until()) {
    for (let i = 0; i < batch && seq < total; i++) {
      ep.publish("/flood", vector(count(seq++), str(PAD)));
    }
    await new Promise((r) => setTimeout(r, 0));
  }
  return seq;
}

/** What `withEndpoint` hands a test: an endpoint and raw peers around it. */
export interface Harness {
  ep: Endpoint;
  port: number;
  status: BoundedQueue<StatusEvent>;
  /** Dials the endpoint; the connection is closed when the test ends. */
  dial(): Promise<RawConn>;
  /** A raw listener for the endpoint to dial; closed when the test ends. */
  listen(): RawListener;
  /** Peers a raw connection with the given ID and filter (closed when the test ends). */
  peer(id: string, filter?: string[]): Promise<RawConn>;
  /** Registers a connection for closing when the test ends. */
  track(c: RawConn): RawConn;
}

/** Runs `fn` against a listening endpoint (ID `ENDPOINT_ID`), cleaning up after it. */
export async function withEndpoint(
  options: EndpointOptions,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const ep = new Endpoint({
    id: ENDPOINT_ID,
    handshakeTimeoutMs: 1000,
    unpeerTimeoutMs: 100,
    ...options,
  });
  const conns: RawConn[] = [];
  const listeners: RawListener[] = [];
  const status = ep.statusSubscriber({ queueSize: 4096 });
  const port = await ep.listen("127.0.0.1", 0);
  const track = (c: RawConn) => (conns.push(c), c);
  try {
    await fn({
      ep,
      port,
      status,
      track,
      dial: async () => track(await RawConn.dial(port)),
      listen: () => {
        const l = new RawListener();
        listeners.push(l);
        return l;
      },
      peer: async (id, filter = []) => track(await peerRaw(ep, port, id, filter)),
    });
  } finally {
    for (const l of listeners) l.close();
    await Promise.all(conns.map((c) => c.close()));
    await ep.shutdown();
  }
}

/** `ep`'s broker_handshake_failures_total, by error code name. */
export function handshakeFailureCounts(ep: Endpoint): Map<string, number> {
  const family = ep.metricFamilies().find((f) => f.name === "broker_handshake_failures_total");
  return new Map((family?.samples ?? []).map((s) => [s.labels.code, s.value as number]));
}

const failuresTaken = new WeakMap<Endpoint, Map<string, number>>();

/**
 * The next failed handshake `ep` counted (with `code`, if given), as the
 * error it failed with. A failed incoming handshake is no status: Broker's
 * core only logs it, so the tests read the endpoint's failure counter.
 */
export async function failedHandshake(
  ep: Endpoint,
  code?: ErrorCode,
  timeoutMs = 5000,
): Promise<{ event: { code: number; codeName: string } }> {
  const taken = failuresTaken.get(ep) ?? new Map<string, number>();
  failuresTaken.set(ep, taken);
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const counts = handshakeFailureCounts(ep);
    for (const [name, n] of counts) {
      if (code !== undefined && name !== ErrorCode[code]) continue;
      if (n > (taken.get(name) ?? 0)) {
        taken.set(name, (taken.get(name) ?? 0) + 1);
        return { event: { code: ErrorCode[name as keyof typeof ErrorCode], codeName: name } };
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        `no failed handshake counted${code === undefined ? "" : ` (${ErrorCode[code]})`}: ${
          JSON.stringify([...counts])
        }`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
}
