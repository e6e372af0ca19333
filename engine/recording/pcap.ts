/**
 * Broker traffic from capture files: reads libpcap files (either byte order,
 * micro- or nanosecond timestamps) and pcapng files (block parsing in
 * `pcapng.ts`) into one packet stream; decodes Ethernet, loopback, Linux
 * cooked (v1 and v2) and raw IP link types, reassembles each TCP direction in
 * sequence order (retransmissions dropped), cuts the streams into Broker
 * frames, skips each side's handshake and returns the node messages.
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import { FrameReader } from "../wire/framing.ts";
import { ENVELOPE_HEADER_SIZE, EnvelopeType, peekEnvelopeType } from "../wire/envelope.ts";
import { MessageType } from "../wire/handshake_messages.ts";
import { isPcapng, pcapngPackets } from "./pcapng.ts";
import type { CapturedPacket } from "./captured_packet.ts";

export type { CapturedPacket };

/** A node message found in a capture. */
export interface PcapMessage {
  /** Capture time of the segment that completed the frame, in ns since the epoch. */
  timeNs: bigint;
  /** `host:port` of the sender and receiver. */
  from: string;
  /** `host:port` of the receiver. */
  to: string;
  /** The frame without its length prefix. */
  frame: Uint8Array;
}

interface Segment {
  seq: number;
  timeNs: bigint;
  data: Uint8Array;
  syn: boolean;
}

function fail(msg: string): never {
  throw new BrokerError(ErrorCode.invalid_data, msg);
}

function ipText(b: Uint8Array, off: number, v6: boolean): string {
  if (!v6) return `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
  const words = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[off + i] << 8) | b[off + i + 1]).toString(16));
  return `[${words.join(":")}]`;
}

function* classicPcapPackets(bytes: Uint8Array): Generator<CapturedPacket> {
  if (bytes.length < 24) {
    throw new BrokerError(ErrorCode.end_of_file, "too short for a pcap header");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean, nano: boolean;
  if (magic === 0xa1b2c3d4) [le, nano] = [true, false];
  else if (magic === 0xa1b23c4d) [le, nano] = [true, true];
  else if (magic === 0xd4c3b2a1) [le, nano] = [false, false];
  else if (magic === 0x4d3cb2a1) [le, nano] = [false, true];
  else throw new BrokerError(ErrorCode.wrong_magic_number, "not a pcap file");
  const linkType = dv.getUint32(20, le) & 0xffff;
  let pos = 24;
  while (pos < bytes.length) {
    if (pos + 16 > bytes.length) {
      throw new BrokerError(ErrorCode.end_of_file, `pcap record header cut at ${pos}`);
    }
    const sec = dv.getUint32(pos, le), frac = dv.getUint32(pos + 4, le);
    const incl = dv.getUint32(pos + 8, le);
    pos += 16;
    if (pos + incl > bytes.length) {
      throw new BrokerError(ErrorCode.end_of_file, `pcap record cut at ${pos}`);
    }
    const timeNs = BigInt(sec) * 1_000_000_000n + BigInt(frac) * (nano ? 1n : 1000n);
    yield { timeNs, linkType, data: bytes.subarray(pos, pos + incl) };
    pos += incl;
  }
}

/**
 * The packets of a pcap or pcapng file, in file order.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { capturedPackets } from "./pcap.ts";
 * const file = new URL("../../fixtures/broker/pcap/ping-pong.nsec.pcapng", import.meta.url);
 * const packets = [...capturedPackets(await Deno.readFile(file))];
 * equal(packets.length, 26);
 * equal(packets[0].timeNs, 1795479441695174000n);
 * ```
 */
export function capturedPackets(bytes: Uint8Array): Iterable<CapturedPacket> {
  return isPcapng(bytes) ? pcapngPackets(bytes) : classicPcapPackets(bytes);
}

/**
 * TCP segments of a pcap or pcapng file, per direction (`from>to`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { tcpStreams } from "./pcap.ts";
 * const file = new URL("../../fixtures/broker/pcap/ping-pong.pcap", import.meta.url);
 * const streams = tcpStreams(await Deno.readFile(file));
 * deepEqual([...streams.keys()], [
 *   "127.0.0.1:49050>127.0.0.1:29001",
 *   "127.0.0.1:29001>127.0.0.1:49050",
 * ]);
 * ```
 */
export function tcpStreams(bytes: Uint8Array): Map<string, Segment[]> {
  const streams = new Map<string, Segment[]>();
  // Packets of link types we do not read are skipped (pcapng mixes interfaces); a file of
  // nothing else is refused, saying which.
  let readable = 0, unknownType = -1;
  for (const { timeNs, linkType, data: pkt } of capturedPackets(bytes)) {
    let ip: number;
    let ethType = 0x0800;
    switch (linkType) {
      case 0: // BSD loopback: 4-byte address family in host order
        ip = 4;
        ethType = pkt[4] >> 4 === 6 ? 0x86dd : 0x0800;
        break;
      case 1: // Ethernet, maybe one VLAN tag
        ethType = (pkt[12] << 8) | pkt[13];
        ip = 14;
        if (ethType === 0x8100) {
          ethType = (pkt[16] << 8) | pkt[17];
          ip = 18;
        }
        break;
      case 113: // Linux cooked
        ethType = (pkt[14] << 8) | pkt[15];
        ip = 16;
        break;
      case 276: // Linux cooked v2, what `-i any` captures in pcapng
        ethType = (pkt[0] << 8) | pkt[1];
        ip = 20;
        break;
      case 101: // raw IP
        ip = 0;
        ethType = pkt[0] >> 4 === 6 ? 0x86dd : 0x0800;
        break;
      default:
        unknownType = linkType;
        continue;
    }
    readable++;
    if (ethType !== 0x0800 && ethType !== 0x86dd) continue;
    const v6 = ethType === 0x86dd;
    if (pkt.length < ip + (v6 ? 40 : 20)) continue;
    const proto = v6 ? pkt[ip + 6] : pkt[ip + 9];
    if (proto !== 6) continue;
    const ipLen = v6 ? 40 + ((pkt[ip + 4] << 8) | pkt[ip + 5]) : (pkt[ip + 2] << 8) | pkt[ip + 3];
    const tcp = ip + (v6 ? 40 : (pkt[ip] & 0x0f) * 4);
    if (pkt.length < tcp + 20) continue;
    const sport = (pkt[tcp] << 8) | pkt[tcp + 1], dport = (pkt[tcp + 2] << 8) | pkt[tcp + 3];
    const seq =
      ((pkt[tcp + 4] << 24) | (pkt[tcp + 5] << 16) | (pkt[tcp + 6] << 8) | pkt[tcp + 7]) >>> 0;
    const dataOff = tcp + (pkt[tcp + 12] >> 4) * 4;
    const end = Math.min(pkt.length, ip + ipLen);
    const from = `${ipText(pkt, ip + (v6 ? 8 : 12), v6)}:${sport}`;
    const to = `${ipText(pkt, ip + (v6 ? 24 : 16), v6)}:${dport}`;
    const key = `${from}>${to}`;
    let list = streams.get(key);
    if (!list) streams.set(key, list = []);
    list.push({
      seq,
      timeNs,
      data: pkt.slice(dataOff, Math.max(dataOff, end)),
      syn: (pkt[tcp + 13] & 2) !== 0,
    });
  }
  if (readable === 0 && unknownType >= 0) fail(`unsupported pcap link type ${unknownType}`);
  return streams;
}

/** Bytes a TCP direction carried, in stream order, with the capture time of their segment. */
export interface StreamChunk {
  /** Capture time of the segment, in ns since the epoch. */
  timeNs: bigint;
  /** Its bytes not seen before (retransmitted ones cut off). */
  data: Uint8Array;
}

/**
 * Each TCP direction of a pcap or pcapng file (`from>to`) reassembled in
 * sequence order from its SYN (or first segment), retransmissions dropped:
 * concatenating a direction's chunks gives the bytes its sender wrote.
 *
 * @example
 * ```ts ignore
 * for (const [key, chunks] of reassembledTcpStreams(await Deno.readFile("capture.pcap"))) {
 *   console.log(key, chunks.reduce((n, c) => n + c.data.length, 0));
 * }
 * ```
 */
export function reassembledTcpStreams(bytes: Uint8Array): Map<string, StreamChunk[]> {
  const out = new Map<string, StreamChunk[]>();
  for (const [key, segments] of tcpStreams(bytes)) {
    // Reassemble in sequence order; a segment before the expected byte is a retransmission.
    const syn = segments.find((s) => s.syn);
    let next = syn ? (syn.seq + 1) >>> 0 : segments[0]?.seq ?? 0;
    const ordered = segments.filter((s) => s.data.length > 0)
      .sort((a, b) => ((a.seq - next) >>> 0) - ((b.seq - next) >>> 0));
    const chunks: StreamChunk[] = [];
    for (const s of ordered) {
      const skip = (next - s.seq) >>> 0;
      // Bytes the capture lost: what follows cannot be framed, so the direction ends here.
      if (skip >= 0x80000000) break;
      if (skip >= s.data.length) continue; // all seen already
      const fresh = s.data.subarray(skip);
      next = (next + fresh.length) >>> 0;
      chunks.push({ timeNs: s.timeNs, data: fresh });
    }
    out.set(key, chunks);
  }
  return out;
}

/**
 * The Broker node messages (after each side's handshake) in a pcap or
 * pcapng file of Broker TCP traffic, in capture order per direction.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { brokerMessagesFromPcap } from "./pcap.ts";
 * const file = new URL("../../fixtures/broker/pcap/ping-pong.nsec.pcapng", import.meta.url);
 * const messages = brokerMessagesFromPcap(await Deno.readFile(file));
 * equal(messages.length, 14);
 * equal(messages[0].from, "127.0.0.1:49050"); // the dialing side speaks first
 * ```
 */
export function brokerMessagesFromPcap(bytes: Uint8Array): PcapMessage[] {
  const out: PcapMessage[] = [];
  for (const [key, chunks] of reassembledTcpStreams(bytes)) {
    const [from, to] = key.split(">");
    const reader = new FrameReader();
    let handshakeDone = false;
    chunks: for (const s of chunks) {
      reader.push(s.data);
      for (let f = readFrame(reader); f !== undefined; f = readFrame(reader)) {
        if (f === null) break chunks; // not Broker's framing: the rest of this direction goes
        if (!handshakeDone) {
          // A side's handshake ends with responder_syn_ack (11) or originator_ack (12); failing
          // those, so does the first frame that looks like a node message (its first byte, of
          // the sender's ID, above every handshake type, and a node message type).
          const type = peekEnvelopeType(f) ?? 0;
          if (
            f.length > 0 && f.length < ENVELOPE_HEADER_SIZE &&
            (f[0] === MessageType.responder_syn_ack || f[0] === MessageType.originator_ack)
          ) handshakeDone = true;
          else if (
            f.length >= ENVELOPE_HEADER_SIZE && type >= EnvelopeType.data &&
            type <= EnvelopeType.pong && f[0] > MessageType.originator_ack
          ) handshakeDone = true;
          if (!handshakeDone || f.length < ENVELOPE_HEADER_SIZE) continue;
        }
        out.push({ timeNs: s.timeNs, from, to, frame: f.slice() });
      }
    }
  }
  return out.sort((a, b) => (a.timeNs < b.timeNs ? -1 : a.timeNs > b.timeNs ? 1 : 0));
}

/** The next frame, undefined when more bytes are needed, null when they cannot be frames. */
function readFrame(reader: FrameReader): Uint8Array | null | undefined {
  try {
    return reader.next();
  } catch {
    return null;
  }
}
