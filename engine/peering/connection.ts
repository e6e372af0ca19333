/**
 * One TCP connection of an endpoint and where it is in its life: in
 * Broker's handshake, paused behind a parallel connection to the same peer,
 * peered, or closed. The connection driver moves it between these states;
 * the peer table indexes it; the router sends through its queue.
 *
 * @example
 * ```ts
 * import { peerInfo, peerKey } from "./connection.ts";
 * const id = new Uint8Array(16).fill(0xab);
 * if (peerKey(id) !== "ab".repeat(16)) throw new Error("hex key");
 * const info = peerInfo({ address: { host: "127.0.0.1", port: 9999 } });
 * if (info.port !== 9999 || info.id !== undefined) throw new Error("no ID before the handshake");
 * ```
 *
 * @module
 */
import { type PeerInfo, retrySeconds } from "../status.ts";
import type { BrokerError } from "../errors.ts";
import type { NetAddress, TcpConnection } from "../transport/tcp.ts";
import type { DialTarget } from "../transport/dialer.ts";
import { type EndpointId, endpointIdToString, type FrameReader } from "../wire/mod.ts";
import type { Handshake } from "./handshake.ts";

/** Where a connection is in its life. */
export type ConnectionState = "handshake" | "paused" | "peered" | "closed";

/** One TCP connection and its peering state. */
export interface Connection {
  /** The socket and its send queue. */
  readonly tcp: TcpConnection;
  /** Frames out of the byte stream. */
  readonly reader: FrameReader;
  /** Broker's handshake, until it is done. */
  handshake?: Handshake;
  /** Ends a handshake that takes too long. */
  handshakeTimer?: ReturnType<typeof setTimeout>;
  /** Where the connection is in its life. */
  state: ConnectionState;
  /** The peer's endpoint ID, once the handshake told us. */
  peerId?: EndpointId;
  /** `peerKey(peerId)`, once the connection claims that peer. */
  peerKey?: string;
  /** The peer's filter (prefix-minimal). */
  filter: readonly string[];
  /**
   * The address we dialled, or the remote address of an accepted connection
   * (until a redundant dial to the same peer with a retry interval takes it over).
   */
  address: NetAddress;
  /**
   * The dial target: of a connection we dialled, or one whose peering made a
   * later dial with a retry interval redundant (Broker re-dials that address).
   */
  target?: DialTarget<Connection>;
  /** A BYE ping in flight: its token, and what to do when the pong arrives. */
  bye?: { token: Uint8Array; done: () => void };
  /** Why our handshake on a connection we dialled failed, for the dial's callers. */
  handshakeFailure?: BrokerError;
  /** Closed as redundant: another connection to the same peer carries the peering. */
  redundant?: boolean;
  /** An accepted connection that holds one of the `maxPendingHandshakes` slots. */
  pendingSlot?: boolean;
  /** Whether both IDs carry our mark (`isOwnEndpointId`): broadcasts to the peer carry origin tags. */
  ours?: boolean;
  /** Version of our filter last sent; if ours grew since the handshake, the peer gets an update. */
  sentFilterVersion?: number;
  /**
   * Ended by us (`unpeer`, shutdown, the overflow policy `disconnect`):
   * reported as peer_removed rather than peer_lost, and never re-dialled.
   */
  removed?: boolean;
  /** Why we ended it, when not by unpeering: Broker adds it to peer_removed's message. */
  removedReason?: string;
  /** Messages received after the handshake (every type), for the status API. */
  messagesIn: number;
  /** When the connection started (`performance.now()`), for the handshake duration. */
  readonly startedAt: number;
}

/** The peer table's key for an endpoint ID: its hex text. */
export function peerKey(id: EndpointId): string {
  let s = "";
  for (const b of id) s += b.toString(16).padStart(2, "0");
  return s;
}

/** The peer a status event about `c` names. */
export function peerInfo(c: Pick<Connection, "peerId" | "address" | "target">): PeerInfo {
  return {
    id: c.peerId ? endpointIdToString(c.peerId) : undefined,
    host: c.address.host,
    port: c.address.port,
    // Broker's network_info of a dialled peering carries its retry; an accepted one's is 0.
    retry: c.target ? retrySeconds(c.target.retryMs) : 0,
  };
}
