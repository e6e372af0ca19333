/**
 * The pcapng block parser: turns a pcapng file into the same packet stream
 * as a classic pcap (see `pcap.ts`). Sections in either byte order (several
 * per file, each with its own interfaces), Interface Description Blocks with
 * `if_tsresol` and `if_tsoffset`, Enhanced, Simple and obsolete Packet
 * Blocks; every other block type is skipped. Malformed input gives a
 * `BrokerError` (`end_of_file` when cut short, `wrong_magic_number` for a bad
 * byte-order magic, `invalid_data` otherwise).
 *
 * @module
 */
import { BrokerError, ErrorCode } from "../errors.ts";
import type { CapturedPacket } from "./captured_packet.ts";

/**
 * The Section Header Block's type, also the first four bytes of every pcapng
 * file (a palindrome, so it reads the same in either byte order).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { PCAPNG_MAGIC } from "./pcapng.ts";
 * equal(PCAPNG_MAGIC.toString(16), "a0d0d0a");
 * ```
 */
export const PCAPNG_MAGIC = 0x0a0d0d0a;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const IDB = 1, PB = 2, SPB = 3, EPB = 6;
const OPT_ENDOFOPT = 0, IF_TSRESOL = 9, IF_TSOFFSET = 14;

interface Interface {
  linkType: number;
  snaplen: number;
  /** Timestamp ticks to ns: `ticks * mul / div + offsetNs`. */
  mul: bigint;
  div: bigint;
  offsetNs: bigint;
}

/**
 * Whether bytes start like a pcapng file (a Section Header Block).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { isPcapng } from "./pcapng.ts";
 * equal(isPcapng(new Uint8Array([0x0a, 0x0d, 0x0d, 0x0a])), true);
 * ```
 */
export function isPcapng(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && bytes[0] === 0x0a && bytes[1] === 0x0d && bytes[2] === 0x0d &&
    bytes[3] === 0x0a;
}

function invalid(msg: string, offset: number): never {
  throw new BrokerError(ErrorCode.invalid_data, msg, { offset });
}

function cut(msg: string, offset: number): never {
  throw new BrokerError(ErrorCode.end_of_file, msg, { offset });
}

/** The interface an IDB describes; its options are checked to stay inside the block. */
function readInterface(dv: DataView, le: boolean, pos: number, end: number): Interface {
  const iface: Interface = {
    linkType: dv.getUint16(pos + 8, le),
    snaplen: dv.getUint32(pos + 12, le),
    mul: 1000n, // the default resolution is 10^-6 s
    div: 1n,
    offsetNs: 0n,
  };
  let p = pos + 16;
  while (p + 4 <= end) {
    const code = dv.getUint16(p, le), len = dv.getUint16(p + 2, le);
    p += 4;
    if (code === OPT_ENDOFOPT) break;
    if (p + len > end) invalid(`pcapng option ${code} runs past its block`, p - 4);
    if (code === IF_TSRESOL && len >= 1) {
      const r = dv.getUint8(p);
      const exp = BigInt(r & 0x7f);
      if (r & 0x80) [iface.mul, iface.div] = [1_000_000_000n, 2n ** exp];
      else if (exp <= 9n) [iface.mul, iface.div] = [10n ** (9n - exp), 1n];
      else [iface.mul, iface.div] = [1n, 10n ** (exp - 9n)];
    } else if (code === IF_TSOFFSET && len === 8) {
      iface.offsetNs = dv.getBigInt64(p, le) * 1_000_000_000n;
    }
    p += (len + 3) & ~3;
  }
  return iface;
}

/**
 * The packets of a pcapng file, in file order, each with its interface's
 * link type and its timestamp in ns since the epoch. Simple Packet Blocks
 * carry no timestamp; they get the previous packet's, so a stable sort by
 * time keeps them where they were captured.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { pcapngPackets } from "./pcapng.ts";
 * const file = new URL("../../fixtures/broker/pcap/ping-pong.nsec.pcapng", import.meta.url);
 * const packets = [...pcapngPackets(await Deno.readFile(file))];
 * equal(packets.length, 26);
 * equal(packets[0].linkType, 1); // Ethernet
 * ```
 */
export function* pcapngPackets(bytes: Uint8Array): Generator<CapturedPacket> {
  if (!isPcapng(bytes)) {
    throw new BrokerError(ErrorCode.wrong_magic_number, "not a pcapng file");
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le = true;
  let interfaces: Interface[] = [];
  let lastNs = 0n;
  let pos = 0;
  while (pos < bytes.length) {
    if (pos + 12 > bytes.length) cut(`pcapng block header cut at ${pos}`, pos);
    const isSection = dv.getUint32(pos, true) === PCAPNG_MAGIC;
    if (isSection) {
      // The byte order is only known from the section's own magic, which follows its length.
      const order = dv.getUint32(pos + 8, true);
      if (order === BYTE_ORDER_MAGIC) le = true;
      else if (order === 0x4d3c2b1a) le = false;
      else {
        throw new BrokerError(
          ErrorCode.wrong_magic_number,
          `bad pcapng byte-order magic at ${pos}`,
          { offset: pos + 8 },
        );
      }
    }
    const type = dv.getUint32(pos, le), total = dv.getUint32(pos + 4, le);
    if (total < 12 || total % 4 !== 0) invalid(`bad pcapng block length ${total} at ${pos}`, pos);
    if (pos + total > bytes.length) cut(`pcapng block cut at ${pos}`, pos);
    const end = pos + total - 4; // where the body ends and the trailing length starts
    if (dv.getUint32(end, le) !== total) {
      invalid(`pcapng block at ${pos}: trailing length differs from leading`, end);
    }
    const need = (n: number) => {
      if (total < n) invalid(`pcapng block type ${type} at ${pos} too short (${total})`, pos);
    };
    const iface = (id: number) =>
      interfaces[id] ??
        invalid(`pcapng packet at ${pos} names interface ${id}; ${interfaces.length} defined`, pos);
    const packet = (i: Interface, timeNs: bigint, at: number, len: number): CapturedPacket => {
      if (at + len > end) invalid(`pcapng packet at ${pos} runs past its block`, pos);
      return { timeNs, linkType: i.linkType, data: bytes.subarray(at, at + len) };
    };
    const stamp = (i: Interface, at: number) => {
      const ticks = (BigInt(dv.getUint32(at, le)) << 32n) | BigInt(dv.getUint32(at + 4, le));
      return lastNs = ticks * i.mul / i.div + i.offsetNs;
    };
    if (isSection) {
      need(28);
      const major = dv.getUint16(pos + 12, le), minor = dv.getUint16(pos + 14, le);
      if (major !== 1) invalid(`pcapng version ${major}.${minor} is not supported`, pos + 12);
      interfaces = [];
    } else if (type === IDB) {
      need(20);
      interfaces.push(readInterface(dv, le, pos, end));
    } else if (type === EPB) {
      need(32);
      const i = iface(dv.getUint32(pos + 8, le));
      yield packet(i, stamp(i, pos + 12), pos + 28, dv.getUint32(pos + 20, le));
    } else if (type === PB) {
      need(32);
      const i = iface(dv.getUint16(pos + 8, le));
      yield packet(i, stamp(i, pos + 12), pos + 28, dv.getUint32(pos + 20, le));
    } else if (type === SPB) {
      need(16);
      const i = iface(0);
      // The captured length is implied: the original length cut to the snaplen and the block.
      let len = Math.min(dv.getUint32(pos + 8, le), end - (pos + 12));
      if (i.snaplen !== 0) len = Math.min(len, i.snaplen);
      yield packet(i, lastNs, pos + 12, len);
    }
    pos += total;
  }
}
