/**
 * The packet both capture readers hand out (`pcap.ts` for classic pcap,
 * `pcapng.ts` for pcapng), kept apart so neither reader imports the other's types.
 *
 * @module
 */

/**
 * One captured packet, whichever file format it came from.
 *
 * @example
 * ```ts
 * import type { CapturedPacket } from "./captured_packet.ts";
 * const p: CapturedPacket = { timeNs: 0n, linkType: 101, data: new Uint8Array(40) };
 * ```
 */
export interface CapturedPacket {
  /** Capture time in ns since the epoch. */
  timeNs: bigint;
  /** The LINKTYPE_ value of the packet's interface (1 is Ethernet). */
  linkType: number;
  /** The captured bytes, starting with the link-layer header. */
  data: Uint8Array;
}
