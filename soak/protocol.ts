/**
 * How the soak supervisor and its Deno child scripts talk: the child's
 * configuration is one JSON argument; the child answers with JSON lines on
 * stdout (events) and takes plain-text commands, one per line, on stdin.
 * A child whose stdin ends exits: the supervisor is gone, and no child may
 * outlive it.
 *
 * @module
 */
import type { TrackerStats } from "./traffic.ts";

/** Configuration of `node_child.ts`, one of our mesh endpoints. */
export interface NodeChildConfig {
  /** Publisher and process name (`n1`). */
  name: string;
  /** Restart count; part of every tick, so each incarnation is its own stream. */
  incarnation: number;
  /** Broker port to listen on (fixed across restarts, so peers re-dial it). */
  port: number;
  /** WebSocket API port, if the node serves it. */
  wsPort?: number;
  /** Peers to dial, re-dialled every `retrySeconds` while lost. */
  peers: number[];
  /** Seconds between re-dials. */
  retrySeconds: number;
  /** The endpoint's `handshakeTimeoutMs` in ms. */
  handshakeTimeoutMs: number;
  /** Ticks per second (0: publish nothing). */
  rate: number;
  /** PEM paths for TLS, or Broker's anonymous TLS mode; plain TCP without. */
  tls?: { certificate: string; key: string; cafile: string } | "anonymous";
  /** Epoch ms after which the child exits by itself, whatever happens. */
  deadline: number;
}

/** Configuration of `store_child.ts`: a SQLite master or a clone that writes through it. */
export interface StoreChildConfig {
  /** Process name. */
  name: string;
  /** `master` listens and owns the SQLite file; `clone` dials the master and writes. */
  role: "master" | "clone";
  /** Restart count; the clone's keys carry it so each incarnation writes new keys. */
  incarnation: number;
  /** The master's Broker port. */
  port: number;
  /** Master: the SQLite file. */
  path?: string;
  /** The endpoint's `handshakeTimeoutMs` in ms. */
  handshakeTimeoutMs: number;
  /** Clone: `putUnique` calls per second. */
  rate: number;
  /** Clone: most `putUnique` calls waiting for the master at once. */
  maxInFlight: number;
  /** Clone: `requestTimeoutMs` of the clone. */
  requestTimeoutMs: number;
  /** Epoch ms after which the child exits by itself. */
  deadline: number;
}

/** A node's periodic report. */
export interface NodeStatsEvent {
  /** Discriminator. */
  ev: "stats";
  /** Ticks published by this incarnation. */
  published: number;
  /** Peers with a finished handshake. */
  peers: number;
  /** What its subscriber counted. */
  tracker: TrackerStats;
}

/** A store clone's periodic report. */
export interface CloneStatsEvent {
  /** Discriminator. */
  ev: "clone-stats";
  /** `putUnique` calls made. */
  issued: number;
  /** Calls the master answered (acknowledged writes). */
  acked: number;
  /** Of those, answers "already there" (unexpected: every key is new). */
  existed: number;
  /** Calls that failed, by error code. */
  failed: Record<string, number>;
  /** Fire-and-forget `put`/`increment` calls made. */
  blind: number;
}

/** Every line a child prints on stdout. */
export type ChildEvent =
  | { ev: "ready"; port: number; wsPort?: number; size?: number }
  | NodeStatsEvent
  | { ev: "burst-sent"; id: number; n: number }
  | CloneStatsEvent
  | { ev: "acked"; keys: string[] }
  | { ev: "quiesced"; idle: boolean }
  | { ev: "dump"; keys: string[]; digest: string; size: number };

const encoder = new TextEncoder();

/** Prints one event line (synchronously, so a line is never torn by a kill between chunks). */
export function emit(event: ChildEvent): void {
  const bytes = encoder.encode(JSON.stringify(event) + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/** Parses an event line; undefined for anything else (e.g. a stray log line). */
export function parseEvent(line: string): ChildEvent | undefined {
  if (!line.startsWith("{")) return undefined;
  try {
    const v = JSON.parse(line);
    return typeof v === "object" && v !== null && typeof v.ev === "string" ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Calls `onCommand` for each stdin line; resolves when stdin ends (the
 * supervisor closed it or died).
 */
export async function readCommands(
  onCommand: (line: string) => void | Promise<void>,
): Promise<void> {
  let rest = "";
  for await (const chunk of Deno.stdin.readable.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    const lines = rest.split("\n");
    rest = lines.pop()!;
    for (const line of lines) if (line.trim()) await onCommand(line.trim());
  }
}
