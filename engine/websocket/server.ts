/**
 * Broker's WebSocket JSON API served from an endpoint (on our own RFC 6455
 * server, `server_socket.ts`, which closes idle and stuck connections):
 * the client's first message is a JSON array of topic prefixes, the server
 * answers with an ack, then data messages flow both ways as JSON. Bad input
 * gets an error message with Broker's codes and the session goes on.
 *
 * Output to each client is bounded. `WebSocket.send` never blocks: it hands
 * the text to a write task, so a client that stops reading would make the
 * server hold every message ever sent to it. Instead, each client has a
 * queue of at most `bufferSize` messages and `bufferBytes` bytes (Broker's
 * per-client buffer: `broker.web-socket-buffer-size`, 512 messages), and the
 * queue feeds the socket only while fewer than `socketBufferBytes` bytes
 * wait in it unsent (`WebSocket.bufferedAmount`). A client that does not
 * read fills its queue, and then Broker's `broker.web-socket-overflow-policy`
 * applies: `disconnect` (the default) ends the session, `drop_newest` and
 * `drop_oldest` drop messages and count them. Clients that publish faster
 * than the peers take their messages are limited by the endpoint's per-peer
 * buffers (the peer overflow policy applies).
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { Data } from "../data/mod.ts";
import { DataBuilder } from "../data/builder.ts";
import type { Subscriber } from "../subscriber.ts";
import { BoundedQueue } from "../queue.ts";
import { StatusCode, type StatusEvent, statusEvent } from "../status.ts";
import { JsonMessageCache } from "./json_cache.ts";
import { dataMessageFrame, dataMessageFrameOf, holdFrames, releaseFrames } from "./json_direct.ts";
import { type FrameTaker, SharedFrames } from "./shared_frames.ts";
import {
  ackText,
  errorText,
  NOT_AN_OBJECT,
  readDataMessage,
  transcodeWebSocketMessage,
  WEB_SOCKET_PATH,
} from "./protocol.ts";
import {
  listenWebSocketUpgrades,
  OPEN,
  type ServerWebSocket,
  type UpgradeListener,
} from "./server_socket.ts";
import { timerDelay } from "../timer_delay.ts";
import type { TlsMaterial } from "../transport/tls.ts";

/** What the server needs from its endpoint. */
export interface WebSocketHost {
  /** The endpoint ID the ack names. */
  readonly id: string;
  /**
   * Subscribes for a client; with `localPublishes` the subscriber also gets
   * what the host's own code publishes (an ordinary local subscriber does not).
   */
  subscribe(
    topics: string[],
    options: {
      queueSize: number;
      maxQueuedBytes: number;
      overflowPolicy: "drop_newest" | "drop_oldest";
      localPublishes: boolean;
    },
  ): Subscriber;
  /**
   * Publishes a client's message (also to the other clients); a promise
   * while a full `block` subscriber holds it, which resolves once it has
   * room: the client's socket is not read meanwhile.
   */
  publish(
    topic: string,
    data: Data,
    options: { local: true; except: Subscriber },
  ): void | Promise<void>;
  /** `publish` for a message written into a builder (see `transcodeDataMessage`). */
  publishBuilt(
    topic: string,
    builder: DataBuilder,
    options: { local: true; except: Subscriber },
  ): void | Promise<void>;
  /**
   * A client's message that was read but cannot be published (a topic no
   * envelope can carry). Broker's server tells the client nothing: the
   * endpoint's error subscribers hear of it.
   */
  refused(error: BrokerError): void;
  /**
   * A client came or went, as Broker's core reports a WebSocket client
   * (`client_added`, `client_removed`): the host's status subscribers and
   * `<$>/local/data/statuses` hear of it.
   */
  status?(event: StatusEvent): void;
  /** The server closed: its host should let go of it. */
  closed?(): void;
}

/**
 * What a full client queue does with the next message, Broker's
 * `overflow_policy` values: `disconnect` ends the session (Broker's
 * default for WebSocket clients), `drop_newest` drops the new message,
 * `drop_oldest` the oldest queued one.
 */
export type WebSocketOverflowPolicy = "disconnect" | "drop_newest" | "drop_oldest";

/** Options of `Endpoint.listenWebSocket`. */
export interface WebSocketServerOptions {
  /**
   * Messages queued per client before `overflowPolicy` applies: Broker's
   * `broker.web-socket-buffer-size` (`broker_options::web_socket_buffer_size`).
   * @default 512 (`DEFAULT_WEB_SOCKET_BUFFER_SIZE`, as Broker)
   */
  bufferSize?: number;
  /**
   * What a full client queue does: Broker's `broker.web-socket-overflow-policy`
   * (`broker_options::web_socket_overflow_policy`).
   * @default "disconnect" (`DEFAULT_WEB_SOCKET_OVERFLOW_POLICY`, as Broker)
   */
  overflowPolicy?: WebSocketOverflowPolicy;
  /**
   * Bytes queued per client (Broker's binary size of the queued messages)
   * before `overflowPolicy` applies, besides the `bufferSize` message count;
   * Broker counts messages only. A single larger message is still queued
   * when the queue is empty.
   * @default 16 MiB (`DEFAULT_WEB_SOCKET_BUFFER_BYTES`)
   */
  bufferBytes?: number;
  /**
   * The queue hands messages to the socket only while fewer than this many
   * bytes of JSON wait there unsent (`WebSocket.bufferedAmount`); the rest
   * waits in the bounded queue.
   * @default 1 MiB (`DEFAULT_WEB_SOCKET_SOCKET_BYTES`)
   */
  socketBufferBytes?: number;
  /**
   * Largest text message accepted from a client, in bytes.
   * @default 1 MiB (`DEFAULT_WEB_SOCKET_MAX_MESSAGE_SIZE`)
   */
  maxMessageSize?: number;
  /**
   * A connection that has not upgraded to a WebSocket within this time (ms)
   * is closed, as one that never sends a request.
   * @default 10_000 (`DEFAULT_WEB_SOCKET_HANDSHAKE_TIMEOUT_MS`; `Endpoint.listenWebSocket` passes its own handshake timeout)
   */
  handshakeTimeoutMs?: number;
  /**
   * Whether clients get what the endpoint's own code publishes (`publish`,
   * `publishEvent`, publishers) on topics they subscribed to. True as
   * in Broker, whose core hands a client every data message that matches
   * its filter, local publishes included, and as a Zeek script's
   * `Broker::publish` reaches WebSocket clients. False: clients get only
   * what comes from peers and from other clients.
   * @default true
   */
  localPublishes?: boolean;
}

/** What the server holds for one client (see `WebSocketServer.clientStats`). */
export interface WebSocketClientStats {
  /** Messages in the client's queue (not yet handed to the socket). */
  queued: number;
  /** Bytes of those messages (Broker's binary form plus topic). */
  queuedBytes: number;
  /** Bytes of JSON handed to the socket and not yet written (`bufferedAmount`). */
  socketBytes: number;
  /** Messages dropped by `drop_newest` / `drop_oldest` so far. */
  dropped: number;
  /** Messages handed to the socket so far. */
  sent: number;
}

/** Messages queued per client: Broker's `defaults::web_socket_buffer_size`. */
export const DEFAULT_WEB_SOCKET_BUFFER_SIZE = 512;
/** What a full client queue does: Broker's `defaults::web_socket_overflow_policy`. */
export const DEFAULT_WEB_SOCKET_OVERFLOW_POLICY: WebSocketOverflowPolicy = "disconnect";
/** Bytes queued per client (ours: Broker bounds messages only). */
export const DEFAULT_WEB_SOCKET_BUFFER_BYTES = 16 << 20;
/** Bytes of JSON left unsent in a client's socket before the queue holds the rest. */
export const DEFAULT_WEB_SOCKET_SOCKET_BYTES = 1 << 20;
/** Largest text message accepted from a client, in bytes. */
export const DEFAULT_WEB_SOCKET_MAX_MESSAGE_SIZE = 1 << 20;
/** How long a connection may take to upgrade, in ms (the endpoint's handshake timeout). */
export const DEFAULT_WEB_SOCKET_HANDSHAKE_TIMEOUT_MS = 10_000;
// RFC 6455 7.4.1: 1011, the server met a condition that keeps it from going on.
// Broker's server closes this way when its backpressure buffer fails.
const CLOSE_OVERFLOW = 1011;
// RFC 6455 7.4.1: 1008, a message that violates the server's policy.
const CLOSE_POLICY = 1008;
// RFC 6455 7.4.1: 1003, a kind of data the server cannot accept (a binary message).
const CLOSE_UNSUPPORTED = 1003;

interface Bounds {
  readonly localPublishes: boolean;
  readonly bufferSize: number;
  readonly bufferBytes: number;
  readonly socketBytes: number;
  readonly policy: WebSocketOverflowPolicy;
}

/**
 * Where a client's waiting frames get their copies (`SharedFrames`): each
 * `own` is one hold on the copy, ended by one `release`.
 */
interface QueuedCopies {
  own(frame: Uint8Array): Uint8Array;
  release(copy: Uint8Array): void;
}

/** A frame waiting in a client's queue, with the bytes it is counted for. */
interface Queued {
  readonly frame: Uint8Array;
  readonly size: number;
}

/**
 * One client's output: frames go to the socket while it has fewer than
 * `socketBytes` unsent, the rest waits in a bounded FIFO that meets the
 * overflow policy when full. Frames handed over within one turn that lie
 * back to back in one slab (one per message, built by the JSON writer in
 * order) go to the socket as one view at the end of the turn: one write
 * queued for many messages.
 */
class Output implements FrameTaker {
  readonly #ws: ServerWebSocket;
  readonly #b: Bounds;
  readonly #onOverflow: () => void;
  /** Frames' copies in memory of their own (shared by the clients of one delivery). */
  readonly #copies: QueuedCopies;
  // Broker's `disconnect` is `drop_newest` here, with the drop ending the session.
  readonly #queue: BoundedQueue<Queued>;
  // The run of adjacent frames taken this turn, not yet handed to the socket.
  #run: ArrayBufferLike | undefined;
  #runStart = 0;
  #runEnd = 0;
  #turnEnding = false;
  /** Whether a flush waits for the socket to drain. */
  #waiting = false;
  #closed = false;
  sent = 0;
  lastShared = 0;

  constructor(
    ws: ServerWebSocket,
    bounds: Bounds,
    onOverflow: () => void,
    copies: QueuedCopies,
  ) {
    this.#ws = ws;
    this.#b = bounds;
    this.#onOverflow = onOverflow;
    this.#copies = copies;
    this.#queue = new BoundedQueue<Queued>(
      bounds.bufferSize,
      bounds.policy === "drop_oldest" ? "drop_oldest" : "drop_newest",
      { maxBytes: bounds.bufferBytes, sizeOf: (q) => q.size },
    );
  }

  get length(): number {
    return this.#queue.length;
  }

  get bytes(): number {
    return this.#queue.bytes;
  }

  /** Messages dropped by `drop_newest` / `drop_oldest`. */
  get dropped(): number {
    return this.#queue.dropped;
  }

  /**
   * Takes a message's frame (counted for `size` bytes) under the bounds;
   * false once the policy ended the session. The frame may be shared with
   * other clients and view a shared slab: it is never changed here.
   */
  offer(frame: Uint8Array, size: number): boolean {
    if (this.#closed) return false;
    if (
      this.#queue.length === 0 &&
      this.#ws.bufferedAmount + (this.#runEnd - this.#runStart) < this.#b.socketBytes
    ) {
      this.#take(frame);
      return true;
    }
    // It waits, behind what this turn took; the socket takes from the queue
    // as it writes.
    this.#sendRun();
    const dropped = this.#queue.dropped;
    // A frame that waits gets a copy of its own: frames view shared slabs,
    // and a queue of views could keep one alive per message, far beyond the
    // bytes counted here. The clients of one delivery share that copy.
    const copy = this.#copies.own(frame);
    this.#queue.push({ frame: copy, size });
    this.#flush();
    // Under drop_newest (and disconnect) a drop means this message was refused.
    if (this.#queue.dropped > dropped && this.#b.policy !== "drop_oldest") {
      this.#copies.release(copy);
      if (this.#b.policy !== "disconnect") return true;
      this.#onOverflow();
      return false;
    }
    return true;
  }

  /** Adds a frame to this turn's run (handing the run over when it is not adjacent). */
  #take(frame: Uint8Array): void {
    this.sent++;
    if (frame.buffer === this.#run && frame.byteOffset === this.#runEnd) {
      this.#runEnd += frame.length;
      return;
    }
    this.#sendRun();
    this.#run = frame.buffer;
    this.#runStart = frame.byteOffset;
    this.#runEnd = this.#runStart + frame.length;
    if (this.#turnEnding) return;
    this.#turnEnding = true;
    queueMicrotask(() => {
      this.#turnEnding = false;
      this.#sendRun();
    });
  }

  #sendRun(): void {
    const run = this.#run;
    if (run === undefined) return;
    this.#run = undefined;
    if (this.#closed || this.#ws.readyState !== OPEN) return;
    let frames = new Uint8Array(run, this.#runStart, this.#runEnd - this.#runStart);
    // The slab is filled again once every socket wrote what it got of it.
    const hold = holdFrames(frames);
    if (hold === "stale") frames = frames.slice();
    this.#ws.sendFrames(frames);
    if (hold === "held") this.#ws.whenWritten(frames).then(() => releaseFrames(frames));
  }

  /** Refills the socket from the queue once it has written what it holds. */
  #awaitDrain(): void {
    // Waking on the write itself, not on a timer, keeps a fast reader's pipe full.
    if (this.#waiting || this.#closed) return;
    this.#waiting = true;
    this.#ws.drained().then(() => {
      this.#waiting = false;
      this.#flush();
    });
  }

  /** Hands queued frames to the socket while it has room. */
  #flush(): void {
    if (this.#closed || this.#ws.readyState !== OPEN) return;
    const ws = this.#ws;
    let unsent = ws.bufferedAmount;
    let sent: Uint8Array[] | undefined;
    while (this.#queue.length > 0 && unsent < this.#b.socketBytes) {
      const { frame } = this.#queue.shift()!;
      ws.sendFrames(frame);
      (sent ??= []).push(frame);
      this.sent++;
      unsent += frame.length;
    }
    // Written in order: once the last is, every copy sent here may be filled again.
    if (sent !== undefined) {
      const copies = sent;
      ws.whenWritten(copies[copies.length - 1]).then(() => {
        for (const c of copies) this.#copies.release(c);
      });
    }
    if (this.#queue.length > 0) this.#awaitDrain();
  }

  /** Drops everything. */
  close(): void {
    this.#closed = true;
    this.#run = undefined;
    for (const q of this.#queue.poll()) this.#copies.release(q.frame);
    this.#queue.close();
  }
}

/** One client's session as the server tracks it. */
interface Session {
  close(): void;
  stats(): WebSocketClientStats | undefined;
}

/**
 * A running WebSocket API server.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { connectWebSocket, count, dataToString, Endpoint } from "../../mod.ts";
 * const endpoint = new Endpoint();
 * const server = await endpoint.listenWebSocket("127.0.0.1", 0);
 * const client = await connectWebSocket(`ws://127.0.0.1:${server.port}/v1/messages/json`, ["/t"]);
 * endpoint.publish("/t", count(1n)); // clients get local publishes, as in Broker
 * for await (const m of client) {
 *   equal(dataToString(m.data), "1");
 *   break;
 * }
 * client.close();
 * await server.close();
 * await endpoint.shutdown();
 * ```
 */
export class WebSocketServer {
  readonly #listener: UpgradeListener;
  readonly #handshakeMs: number;
  readonly #sessions = new Set<Session>();
  readonly #host: WebSocketHost;
  readonly #bounds: Bounds;
  readonly #frameCache = new JsonMessageCache(dataMessageFrame);
  readonly #shared = new SharedFrames();
  /**
   * Where clients' messages are written in binary, one at a time: its frames
   * stay valid after the next message (it writes after them), so peers'
   * queues and local subscribers keep them without a copy.
   */
  readonly #builder = new DataBuilder();
  /** The bound port (known once `ready` resolves, which `Endpoint.listenWebSocket` awaits). */
  get port(): number {
    return this.#listener.port;
  }

  /**
   * Made by `Endpoint.listenWebSocket`; with `tls` (the endpoint's, when SSL
   * is on) it serves wss, as Broker's server does with SSL on.
   */
  constructor(
    host: WebSocketHost,
    hostname: string,
    port: number,
    options: WebSocketServerOptions = {},
    tls?: TlsMaterial,
  ) {
    this.#host = host;
    this.#bounds = {
      localPublishes: options.localPublishes ?? true,
      bufferSize: positive("bufferSize", options.bufferSize ?? DEFAULT_WEB_SOCKET_BUFFER_SIZE),
      bufferBytes: positive("bufferBytes", options.bufferBytes ?? DEFAULT_WEB_SOCKET_BUFFER_BYTES),
      socketBytes: positive(
        "socketBufferBytes",
        options.socketBufferBytes ?? DEFAULT_WEB_SOCKET_SOCKET_BYTES,
      ),
      policy: options.overflowPolicy ?? DEFAULT_WEB_SOCKET_OVERFLOW_POLICY,
    };
    if (!["disconnect", "drop_newest", "drop_oldest"].includes(this.#bounds.policy)) {
      throw new RangeError(`unknown overflowPolicy ${this.#bounds.policy}`);
    }
    const maxSize = options.maxMessageSize ?? DEFAULT_WEB_SOCKET_MAX_MESSAGE_SIZE;
    this.#handshakeMs = positive(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs ?? DEFAULT_WEB_SOCKET_HANDSHAKE_TIMEOUT_MS,
    );
    this.#listener = listenWebSocketUpgrades({
      hostname,
      port,
      path: WEB_SOCKET_PATH,
      handshakeTimeoutMs: this.#handshakeMs,
      maxMessageSize: maxSize,
      tls,
    }, (ws) => this.#session(host, ws, maxSize));
    this.ready = this.#listener.ready;
  }

  /** Resolves with the bound port once the server listens. */
  readonly ready: Promise<number>;

  /** Clients connected now (subscribed or still sending their subscription). */
  get clientCount(): number {
    return this.#sessions.size;
  }

  /**
   * What the server holds for each subscribed client now: queued messages
   * and bytes, bytes unsent in the socket, drops, in the order the clients'
   * upgrades completed. Sessions the overflow policy ended are gone from
   * the list.
   */
  clientStats(): WebSocketClientStats[] {
    const out: WebSocketClientStats[] = [];
    for (const s of this.#sessions) {
      const st = s.stats();
      if (st) out.push(st);
    }
    return out;
  }

  #session(host: WebSocketHost, ws: ServerWebSocket, maxSize: number): void {
    const bounds = this.#bounds;
    let sub: Subscriber | undefined;
    let out: Output | undefined;
    let inputs = 0;
    let ended = false;
    // Broker's session starts with the subscription: a client that never sends it goes.
    const subscribeTimer = setTimeout(
      () => end(CLOSE_POLICY, `no subscription within ${this.#handshakeMs} ms`),
      timerDelay(this.#handshakeMs),
    );
    // The client's own endpoint ID in statuses (Broker gives each client one).
    const client = { id: crypto.randomUUID(), host: ws.remote.host, port: ws.remote.port };
    const end = (code?: number, reason?: string) => {
      if (ended) return;
      ended = true;
      clearTimeout(subscribeTimer);
      sub?.close();
      out?.close();
      this.#sessions.delete(session);
      if (ws.readyState === OPEN) ws.close(code, reason);
      if (sub) {
        host.status?.(statusEvent(StatusCode.peer_lost, "lost connection to client", client));
        host.status?.(
          statusEvent(StatusCode.endpoint_unreachable, "lost the last path", { id: client.id }),
        );
      }
    };
    const session: Session = {
      close: () => end(),
      stats: () =>
        out && {
          queued: out.length,
          queuedBytes: out.bytes,
          socketBytes: ws.readyState === OPEN ? ws.bufferedAmount : 0,
          dropped: out.dropped + (sub?.dropped ?? 0),
          sent: out.sent,
        },
    };
    this.#sessions.add(session);
    // Broker's server ends an overflowing client's connection with a close
    // frame (status 1011, CAF's backpressure_overflow as the reason), no JSON
    // error message: a client that does not read would not see one anyway.
    const overflow = () =>
      end(
        CLOSE_OVERFLOW,
        `backpressure_overflow: over ${bounds.bufferSize} messages or ` +
          `${bounds.bufferBytes} bytes queued`,
      );
    // Replies to the client's own input (the ack, error messages) bypass the
    // queue. A client that sends bad input and never reads must not grow the
    // socket with them either: past the socket's bound they are dropped.
    const send = (text: string) => {
      if (ws.readyState === OPEN && ws.bufferedAmount < bounds.socketBytes) ws.send(text);
    };
    ws.onclose = () => end();
    ws.onmessage = (ev) => {
      if (ended) return;
      // broker-node ends a client's connection at its first binary message, subscribed or
      // not (checked live; its json_client.cc would drop them, the reference build does not).
      if (ev.binary) return end(CLOSE_UNSUPPORTED, "binary messages are not supported");
      const text = ev.data as string | undefined;
      if (!sub) {
        const topics = parseSubscription(text ?? "");
        if (typeof topics === "string") {
          send(errorText("deserialization_failed", topics));
          end();
          return;
        }
        clearTimeout(subscribeTimer);
        host.status?.(statusEvent(
          StatusCode.endpoint_discovered,
          "found a new client in the network",
          { id: client.id },
        ));
        sub = host.subscribe(topics, {
          queueSize: bounds.bufferSize,
          maxQueuedBytes: bounds.bufferBytes,
          overflowPolicy: bounds.policy === "drop_oldest" ? "drop_oldest" : "drop_newest",
          localPublishes: bounds.localPublishes,
        });
        const output = out = new Output(ws, bounds, overflow, this.#shared);
        // Messages skip the subscriber's queue: each is framed as it is
        // delivered and goes to the client's output, whose bounds and
        // overflow policy are the session's.
        const accept = (topic: string, payload: Uint8Array, unsorted: boolean | undefined) => {
          if (!ended) {
            output.offer(
              this.#frame(output, topic, payload, unsorted),
              payload.byteLength + topic.length,
            );
          }
        };
        for (const m of sub.divert({ accept, closed: () => {} })) {
          accept(m.topic, m.payload, m.unsorted);
        }
        send(ackText(host.id));
        host.status?.(statusEvent(StatusCode.peer_added, "handshake successful", client));
        return;
      }
      inputs++;
      if (text === undefined) {
        // Broker's server would pass bytes that are not UTF-8 on as they are; decoded, they
        // would change (each to U+FFFD), so the message is refused rather than altered.
        send(errorText(
          "deserialization_failed",
          ev.notUtf8
            ? `input #${inputs} contained malformed JSON -> not UTF-8`
            : `input #${inputs} was larger than ${maxSize} bytes (maxMessageSize)`,
        ));
        return;
      }
      // Most messages go straight into binary; the rest (and errors) through the full reader.
      const topic = transcodeWebSocketMessage(text, this.#builder);
      let message: { topic: string; data: Data } | undefined;
      if (topic === undefined) {
        try {
          message = readDataMessage(text);
        } catch (e) {
          const malformed = e instanceof BrokerError && e.code === ErrorCode.invalid_json;
          const notObject = e instanceof BrokerError && e.message === NOT_AN_OBJECT;
          send(errorText(
            "deserialization_failed",
            malformed
              ? `input #${inputs} contained malformed JSON -> ${cafParseError(e, text)}`
              : notObject
              ? `input #${inputs} ${NOT_AN_OBJECT}`
              : `input #${inputs} contained invalid data`,
          ));
          return;
        }
      }
      const options = { local: true, except: sub } as const;
      try {
        // A full `block` subscriber holds the message: the socket is read no
        // further until it has room (Broker's flow back-pressure).
        return message
          ? host.publish(message.topic, message.data, options)
          : host.publishBuilt(topic!, this.#builder, options);
      } catch (e) {
        // A topic no envelope can carry (over 65,535 bytes), refused before
        // anything is delivered: as with Broker, the session goes on.
        if (!(e instanceof BrokerError)) throw e;
        host.refused(e);
      }
    };
  }

  /**
   * A message's frame for one client. From a peer (validated on arrival:
   * `unsorted` set) it is built once for all clients of the delivery; a
   * local publish may hand over the publisher's own bytes, so it is matched
   * by content, on a copy, when several clients may share it.
   */
  #frame(
    out: Output,
    topic: string,
    payload: Uint8Array,
    unsorted: boolean | undefined,
  ): Uint8Array {
    if (unsorted !== undefined) return this.#shared.frame(out, topic, payload, unsorted);
    if (this.#sessions.size > 1) return this.#frameCache.utf8({ topic, payload: payload.slice() });
    return dataMessageFrameOf(topic, payload, undefined);
  }

  /** Stops serving and closes every session. */
  async close(): Promise<void> {
    for (const s of [...this.#sessions]) s.close();
    this.#frameCache.clear();
    await this.#listener.close();
    this.#host.closed?.();
  }
}

function positive(name: string, v: number): number {
  if (!(v >= 1)) throw new RangeError(`${name} must be at least 1, got ${v}`);
  return v;
}

/**
 * A JSON syntax error as Broker's server words it (CAF's `to_string` of a
 * `pec`, e.g. `caf::pec::unexpected_character(1, 2)`): the kind, and the line
 * and column of the byte at fault, or of the end for `unexpected_eof`. CAF
 * counts columns from 1 and starts a line at its '\n'. Errors CAF has no
 * such kind for (or would not raise) keep our words.
 */
function cafParseError(e: BrokerError, text: string): string {
  const kind = /unexpected end|unterminated string/.test(e.message)
    ? "unexpected_eof"
    : /trailing characters/.test(e.message)
    ? "trailing_character"
    : /unexpected character|expected (a key|a digit|':'|',')|bad escape/.test(e.message)
    ? "unexpected_character"
    : undefined;
  if (kind === undefined || e.offset === undefined) return e.message;
  const b = new TextEncoder().encode(text);
  let line = 1, column = 1;
  for (let i = 1; i <= e.offset; i++) {
    column++;
    if (b[i] === 0x0a) line++, column = 1;
  }
  return `caf::pec::${kind}(${line}, ${column})`;
}

/** The topics of a client's first message, or what is wrong with it (an error's context). */
function parseSubscription(text: string): string[] | string {
  // Broker's server answers a wrong first message with nothing; Zeek's (the one
  // server of this protocol that answers) with these words, so we use them.
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    // not JSON: no array either
  }
  if (!Array.isArray(v)) return "subscriptions not an array";
  if (!v.every((t) => typeof t === "string")) return "individual subscription not a string";
  return v;
}
