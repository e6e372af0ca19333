/**
 * Shared pieces of the conformance suite (`tests/conformance_*_test.ts`):
 * a node to test (our endpoint in this process, or the C++ `broker-node` /
 * `broker-pipe` as the control), raw peers around it, and node messages
 * written and read by hand.
 *
 * Frames are built and split here from hex, not with our wire encoders, so
 * that an encoder bug cannot hide on both sides of an assertion; the
 * handshake itself comes from `raw_peer.ts` (checked byte by byte in
 * `conformance_test.ts`).
 *
 * @module
 */
import assert from "node:assert/strict";
import { Endpoint, type EndpointOptions } from "../engine/endpoint.ts";
import { dataToString } from "../engine/data/mod.ts";
import { freePort, RefProcess, storeTopicsAnnounced, waitForPort } from "./broker_ref.ts";
import { isPeered, RawConn, rawHandshake, waitFor } from "./raw_peer.ts";

/** Which implementation plays the node: ours, or the C++ reference as the control. */
export type Kind = "ours" | "C++";

/** Both, ours first. */
export const KINDS: readonly Kind[] = ["ours", "C++"];

/** How test names call each kind. */
export function kindName(kind: Kind): string {
  return kind === "ours" ? "our endpoint" : "C++ broker-node";
}

/** Deno.test options: the C++ tools run as child processes with their own streams. */
export function testOptions(kind: Kind): { sanitizeOps: boolean; sanitizeResources: boolean } {
  return { sanitizeOps: kind === "ours", sanitizeResources: kind === "ours" };
}

/** The node's ID (smaller than the raw peers': the node is the originator). */
export const NODE_ID = "55555555-5555-4555-8555-555555555555";
/** Raw peer A. */
export const A_ID = "99999999-9999-4999-8999-999999999999";
/** Raw peer B. */
export const B_ID = "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa";
/** An endpoint that is nobody's direct peer. */
export const C_ID = "cccccccc-cccc-4ccc-8ccc-cccccccccccc";
/** The nil ID, as hex. */
export const NIL = "00".repeat(16);

/** An ID's 16 bytes as hex. */
export function hexId(id: string): string {
  return id.replaceAll("-", "").toLowerCase();
}

/** Hex (spaces ignored) to bytes. */
export function bytes(hex: string): Uint8Array {
  const clean = hex.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/** Bytes to lowercase hex. */
export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/** A string's UTF-8 bytes as hex. */
export function ascii(s: string): string {
  return toHex(new TextEncoder().encode(s));
}

/** Node message types (spec §4). */
export const DATA = 1, COMMAND = 2, ROUTING_UPDATE = 3, PING = 4, PONG = 5;

/** A node message with its IDs and payload as hex. */
export interface NodeMessage {
  sender: string;
  receiver: string;
  type: number;
  ttl: number;
  topic: string;
  payload: string;
}

/** A framed node message (spec §4 layout), written by hand. */
export function nodeMessage(m: {
  sender: string;
  receiver?: string;
  type: number;
  ttl?: number;
  topic: string;
  payload: string;
}): Uint8Array {
  const topic = new TextEncoder().encode(m.topic);
  const head = bytes(
    hexId(m.sender) + hexId(m.receiver ?? NIL) + m.type.toString(16).padStart(2, "0") +
      (m.ttl ?? 16).toString(16).padStart(4, "0") + topic.length.toString(16).padStart(4, "0"),
  );
  const payload = bytes(m.payload);
  const out = new Uint8Array(4 + head.length + topic.length + payload.length);
  new DataView(out.buffer).setUint32(0, out.length - 4);
  out.set(head, 4);
  out.set(topic, 4 + head.length);
  out.set(payload, 4 + head.length + topic.length);
  return out;
}

/** Splits a received frame (no length prefix) into its fields. */
export function splitMessage(f: Uint8Array): NodeMessage {
  assert.ok(f.length >= 37, `a node message has at least 37 bytes, got ${toHex(f)}`);
  const topicLen = (f[35] << 8) | f[36];
  return {
    sender: toHex(f.subarray(0, 16)),
    receiver: toHex(f.subarray(16, 32)),
    type: f[32],
    ttl: (f[33] << 8) | f[34],
    topic: new TextDecoder().decode(f.subarray(37, 37 + topicLen)),
    payload: toHex(f.subarray(37 + topicLen)),
  };
}

/** Broker's filter encoding: varbyte count, then varbyte length + bytes (short lists only). */
export function filterHex(topics: string[]): string {
  return topics.reduce(
    (acc, t) => acc + t.length.toString(16).padStart(2, "0") + ascii(t),
    topics.length.toString(16).padStart(2, "0"),
  );
}

/** The next node message, which must come within `ms`. */
export async function next(c: RawConn, what: string, ms = 3000): Promise<NodeMessage> {
  const f = await c.frame(ms);
  assert.ok(f !== undefined, `the node closed the connection instead of sending ${what}`);
  return splitMessage(f.slice());
}

/** Nothing arrives within `ms` (and the connection stays open). */
export async function expectNothing(c: RawConn, what: string, ms = 300): Promise<void> {
  let f: Uint8Array | undefined;
  try {
    f = await c.frame(ms);
  } catch {
    return; // timed out: nothing came
  }
  assert.fail(
    f === undefined
      ? `${what}: the node closed the connection`
      : `${what}: the node sent ${JSON.stringify(splitMessage(f.slice()))}`,
  );
}

/**
 * Pings the node and returns every message that came before the pong: with
 * one connection processed in order, those are all the node sent this peer
 * for what the peer sent before the ping.
 */
export async function sync(c: RawConn, self: string, token = "sync"): Promise<NodeMessage[]> {
  await c.send(
    nodeMessage({
      sender: self,
      receiver: NODE_ID,
      type: PING,
      topic: "<$>",
      payload: ascii(token),
    }),
  );
  const before: NodeMessage[] = [];
  while (true) {
    const m = await next(c, `the pong to ping(${token})`);
    if (m.type === PONG && m.payload === ascii(token)) return before;
    before.push(m);
  }
}

/** Reads messages until one on `topic` arrives; returns the ones before it. */
export async function until(c: RawConn, topic: string): Promise<NodeMessage[]> {
  const before: NodeMessage[] = [];
  while (true) {
    const m = await next(c, `a message on ${topic}`);
    if (m.topic === topic) return before;
    before.push(m);
  }
}

// ------------------------------------------------------------------ nodes

/** A node under test, listening on `port`, with ID `NODE_ID`. */
export interface Node {
  kind: Kind;
  port: number;
  /** Our endpoint, when `kind` is "ours". */
  ep?: Endpoint;
  /** The C++ process, when `kind` is "C++". */
  proc?: RefProcess;
}

/** What a relay node subscribes to and how it is configured. */
export interface RelayOptions {
  topics: string[];
  disableForwarding?: boolean;
  /** Stores to host as masters (`broker-node --master-stores`, `attachMaster`). */
  masterStores?: string[];
  /** Stores to host as clones (`broker-node --clone-stores`, `attachClone`). */
  cloneStores?: string[];
  /** Broker's `broker.ttl` (`broker-node --ttl`, our `ttl` option). */
  ttl?: number;
  /** Our endpoint's other options. */
  endpoint?: EndpointOptions;
  /** Environment of the C++ process (e.g. BROKER_WEB_SOCKET_PORT). */
  env?: Record<string, string>;
}

/**
 * Runs `fn` against a relay node: our endpoint (subscribed to `topics`) or
 * `broker-node -m relay` with the same topics, ID `NODE_ID`, listening.
 */
export async function withRelay(
  kind: Kind,
  opts: RelayOptions,
  fn: (node: Node) => Promise<void>,
): Promise<void> {
  if (kind === "ours") {
    const ep = new Endpoint({
      id: NODE_ID,
      disableForwarding: opts.disableForwarding,
      ...(opts.ttl !== undefined ? { ttl: opts.ttl } : {}),
      ...opts.endpoint,
    });
    const stores = [
      ...(opts.masterStores ?? []).map((s) => ep.attachMaster(s)),
      ...(opts.cloneStores ?? []).map((s) => ep.attachClone(s)),
    ];
    try {
      if (opts.topics.length) ep.subscribe(opts.topics);
      const port = await ep.listen("127.0.0.1", 0);
      await fn({ kind, port, ep });
    } finally {
      for (const s of stores) s.close();
      await ep.shutdown();
    }
    return;
  }
  const port = freePort();
  const args = [
    "--disable-ssl",
    "-m",
    "relay",
    `--topics=${JSON.stringify(opts.topics)}`,
    "-p",
    String(port),
    `--endpoint-id=${NODE_ID}`,
  ];
  if (opts.disableForwarding) args.push("--disable-forwarding");
  if (opts.ttl !== undefined) args.push(`--ttl=${opts.ttl}`);
  if (opts.masterStores) args.push(`--master-stores=${JSON.stringify(opts.masterStores)}`);
  if (opts.cloneStores) args.push(`--clone-stores=${JSON.stringify(opts.cloneStores)}`);
  const proc = new RefProcess("broker-node", args, false, opts.env);
  try {
    await waitForPort(port);
    const storeTopics = [
      ...(opts.masterStores ?? []).map((s) => `${s}/<$>/data/master`),
      ...(opts.cloneStores ?? []).map((s) => `${s}/<$>/data/clone`),
    ];
    if (storeTopics.length) await storeTopicsAnnounced(port, storeTopics);
    await fn({ kind, port, proc });
  } finally {
    await proc.stop();
  }
}

/**
 * Runs `fn` against a subscribing node that prints what it delivers: our
 * endpoint with a subscriber, or `broker-pipe -m subscribe -l PORT`. The
 * delivered messages come as broker-pipe prints them: `data(topic, value)`.
 * `allPrinted` gets everything broker-pipe printed (its status lines too).
 */
export async function withSubscriber(
  kind: Kind,
  topic: string,
  fn: (port: number, delivered: () => string[]) => Promise<void>,
  allPrinted?: (lines: string[]) => void,
): Promise<void> {
  if (kind === "ours") {
    const ep = new Endpoint();
    const got: string[] = [];
    try {
      const sub = ep.subscribe(topic);
      const reading = (async () => {
        for await (const m of sub) got.push(`data(${m.topic}, ${dataToString(m.data)})`);
      })();
      const port = await ep.listen("127.0.0.1", 0);
      await fn(port, () => got);
      await ep.shutdown();
      await reading;
    } finally {
      await ep.shutdown();
    }
    return;
  }
  const port = freePort();
  const proc = new RefProcess("broker-pipe", [
    "--disable-ssl",
    "-m",
    "subscribe",
    "-t",
    topic,
    "-l",
    String(port),
  ]);
  try {
    await waitForPort(port);
    await fn(port, () => proc.lines.filter((l) => l.startsWith("data(")));
  } finally {
    await proc.stop();
  }
  allPrinted?.(proc.lines);
}

/**
 * Dials the node as raw peer `id` with `filter`, runs the handshake and
 * waits until the node has the peering (a ping answered; for ours, listed).
 * Returns the connection and the node's filter.
 */
export async function peerRaw(
  node: Node,
  id: string,
  filter: string[],
): Promise<{ c: RawConn; nodeFilter: string[] }> {
  const c = await RawConn.dial(node.port);
  const nodeFilter = await rawHandshake(c, id, filter);
  if (node.ep) await waitFor(() => isPeered(node.ep!, id), `the node to list ${id}`);
  const before = await sync(c, id, "peered");
  // Only a routing update may come first (none expected: nothing grew).
  assert.deepEqual(before, [], "nothing before the first pong");
  return { c, nodeFilter };
}

/** Waits until `delivered()` holds a line for `topic`; returns all delivered lines. */
export async function deliveredUntil(
  delivered: () => string[],
  topic: string,
  ms = 5000,
): Promise<string[]> {
  await waitFor(() => delivered().some((l) => l.startsWith(`data(${topic},`)), `${topic}`, ms);
  return delivered();
}

// -------------------------------------------------------- handshake frames

/** Broker's magic number ("ZEEK"), as hex. */
export const MAGIC = "5a45454b";

/** A frame: 4-byte big-endian length, then the bytes (hex, spaces ignored). */
export function framed(hex: string): Uint8Array {
  const body = bytes(hex);
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length);
  out.set(body, 4);
  return out;
}

/** hello from `id` offering versions 1..1. */
export const helloFrame = (id: string) => framed(`06 ${MAGIC} ${hexId(id)} 01 01`);
/** probe. */
export const probeFrame = framed(`07 ${MAGIC}`);
/** version_select from `id` choosing version 1. */
export const versionSelectFrame = (id: string) => framed(`08 ${MAGIC} ${hexId(id)} 01`);
/** originator_syn with a filter. */
export const originatorSynFrame = (topics: string[]) => framed(`0a ${filterHex(topics)}`);
/** responder_syn_ack with a filter. */
export const responderSynAckFrame = (topics: string[]) => framed(`0b ${filterHex(topics)}`);
/** originator_ack. */
export const originatorAckFrame = framed("0c");

/** The next handshake frame as hex; fails if the connection closes first. */
export async function nextHandshake(c: RawConn, what: string, ms = 3000): Promise<string> {
  const f = await c.frame(ms);
  assert.ok(f !== undefined, `the node closed the connection instead of sending ${what}`);
  return toHex(f);
}
