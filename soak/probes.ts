/**
 * Idle and garbage connections against every listener: the chaos loop opens
 * them, and each probe measures how long the listener takes to close it.
 *
 * Kinds: `idle` (connect, send nothing), `random` (random bytes), `http` (an
 * HTTP request where none belongs, or an unfinished one on the WebSocket
 * port), `length` (a length prefix beyond every frame limit on Broker ports;
 * a WebSocket frame header claiming 2^40 bytes after a real upgrade).
 *
 * Our listeners must close each within their bound (the handshake timeout
 * plus slack); C++ Broker has no handshake timeout, so probes against it are
 * held for a while and closed by us, only to check that it survives them.
 *
 * C++ Broker (CAF) allocates, and zero-fills, the buffer a length prefix
 * announces before any byte of it arrives: four bytes of garbage cost it up
 * to 4 GiB of RSS (measured: 256 MiB for a 0x10000000 prefix). On a shared
 * machine that is a hazard, so garbage for C++ listeners goes inside a frame
 * whose length prefix is at most {@link CXX_MAX_LENGTH_PREFIX}.
 *
 * @module
 */
import type { Rng } from "./random.ts";

/** The kinds of probe. */
export const PROBE_KINDS = ["idle", "random", "http", "length"] as const;

/** One kind of probe. */
export type ProbeKind = typeof PROBE_KINDS[number];

/** A listener to probe. */
export interface ProbeTarget {
  /** Label, e.g. `n1:broker`. */
  name: string;
  /** The process that owns it. */
  process: string;
  /** Its port on 127.0.0.1. */
  port: number;
  /** What it speaks. */
  protocol: "broker" | "tls" | "websocket";
  /** The close it must perform, ms from connect; undefined: none expected (C++). */
  closeWithinMs?: number;
  /** Wrap every payload in a frame with a length prefix no larger than this (C++ targets). */
  maxLengthPrefix?: number;
}

/** The largest length prefix C++ listeners get (see the module text). */
export const CXX_MAX_LENGTH_PREFIX = 64 * 1024;

/** How a probe ended. */
export interface ProbeResult {
  /** Target label. */
  target: string;
  /** The owning process. */
  process: string;
  /** Probe kind. */
  kind: ProbeKind;
  /**
   * `closed`: the listener closed it in time; `late`: it closed it after the
   * bound; `open`: still open at the bound plus a grace period (we closed it);
   * `held`: no bound (C++), we closed it; `refused`: nothing listened;
   * `restarted`: the process was stopped meanwhile, so its close proves nothing.
   */
  outcome: "closed" | "late" | "open" | "held" | "refused" | "restarted";
  /** Ms from connect to the close (or to our giving up). */
  ms: number;
}

/** How long a C++ listener's probe is held before we close it. */
const HOLD_MS = 3000;
/** Past the bound, how long we still wait to tell a late close from none. */
const GRACE_MS = 5000;

const encoder = new TextEncoder();

/** The bytes a probe sends right after connecting. */
export function probePayload(kind: ProbeKind, target: ProbeTarget, rng: Rng): Uint8Array {
  const raw = rawPayload(kind, target.protocol, rng);
  if (target.maxLengthPrefix === undefined || raw.length === 0) return raw;
  // Garbage inside a frame of bounded length (which never completes).
  const out = new Uint8Array(4 + raw.length);
  new DataView(out.buffer).setUint32(0, rng.int(raw.length + 1, target.maxLengthPrefix));
  out.set(raw, 4);
  return out;
}

function rawPayload(kind: ProbeKind, protocol: ProbeTarget["protocol"], rng: Rng): Uint8Array {
  switch (kind) {
    case "idle":
      return new Uint8Array(0);
    case "random":
      return rng.bytes(rng.int(1, 512));
    case "http":
      return encoder.encode(
        protocol === "websocket" && rng.next() < 0.5
          // Headers never finished: the slow-client case.
          ? "GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          : "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: soak\r\n\r\n",
      );
    case "length": {
      if (protocol === "websocket") {
        const upgrade = encoder.encode(
          "GET /v1/messages/json HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n" +
            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
            "Sec-WebSocket-Version: 13\r\n\r\n",
        );
        // A masked text frame that claims 2^40 bytes of payload, then 4 of them.
        const frame = new Uint8Array([0x81, 0xff, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4, 9, 9, 9, 9]);
        const out = new Uint8Array(upgrade.length + frame.length);
        out.set(upgrade);
        out.set(frame, upgrade.length);
        return out;
      }
      // Broker frames: a 4-byte length. Anything over the 256 KiB handshake
      // frame limit must close the connection at once.
      const len = rng.next() < 0.5 ? 0xfffffff0 : 256 * 1024 + rng.int(1, 1 << 20);
      const out = new Uint8Array(4 + 16);
      new DataView(out.buffer).setUint32(0, len);
      out.set(rng.bytes(16), 4);
      return out;
    }
  }
}

/** Runs one probe to its end (bounded: the target's bound plus grace, or the hold time). */
export async function probe(target: ProbeTarget, kind: ProbeKind, rng: Rng): Promise<ProbeResult> {
  const payload = probePayload(kind, target, rng);
  const t0 = performance.now();
  const result = (outcome: ProbeResult["outcome"]): ProbeResult => ({
    target: target.name,
    process: target.process,
    kind,
    outcome,
    ms: Math.round(performance.now() - t0),
  });
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: "127.0.0.1", port: target.port });
  } catch {
    return result("refused");
  }
  const limit = target.closeWithinMs === undefined ? HOLD_MS : target.closeWithinMs + GRACE_MS;
  let gaveUp = false;
  const timer = setTimeout(() => {
    gaveUp = true;
    try {
      conn.close();
    } catch {
      // closed meanwhile
    }
  }, limit);
  try {
    let off = 0;
    while (off < payload.length) off += await conn.write(payload.subarray(off));
    const buf = new Uint8Array(16 * 1024);
    while ((await conn.read(buf)) !== null) {
      // Whatever the listener answers (an HTTP 400, a TLS alert) is read and dropped.
    }
  } catch {
    // reset by the listener, or closed by our timer
  } finally {
    clearTimeout(timer);
  }
  if (!gaveUp) {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
  if (gaveUp) return result(target.closeWithinMs === undefined ? "held" : "open");
  const r = result("closed");
  if (target.closeWithinMs !== undefined && r.ms > target.closeWithinMs) r.outcome = "late";
  return r;
}
