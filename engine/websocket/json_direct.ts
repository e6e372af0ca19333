/**
 * Broker's WebSocket data message straight from the binary payload: the
 * JSON UTF-8 bytes of `dataMessageToJson(topic, decode(payload))`, framed as
 * a server's text frame, written into a shared output slab with no `Data`
 * objects, no JS string and no `TextEncoder` on the way. Profiles of a
 * fan-out node showed building the JSON text as ~40% of its busy time.
 *
 * It handles payloads validated on arrival whose sets and tables are in
 * order, with text that is UTF-8 (what a node receives from Zeek); anything
 * else (a set to re-sort, bytes that are not UTF-8) goes the old way, through
 * `dataMessageUtf8`, so the bytes are identical for every value. The WASM
 * codec writes the value itself where it can (`../data/json_wasm.ts`); the
 * writer here does the rest (IPv6, small payloads, and what the codec
 * declines).
 *
 * @module
 */
import { realFromWords } from "../data/decode.ts";
import { formatRealFast } from "../data/text.ts";
import { formatAddress, TYPE_NAMES } from "../data/types.ts";
import { JSON_TYPE_NAMES } from "../data/json_write.ts";
import { NONE } from "../data/build.ts";
import { dataMessageToJson } from "../data/json.ts";
import { validateForLater } from "../data/validate.ts";
import { JSON_MAX_EXPANSION, writeJsonMembers } from "../data/json_wasm.ts";
import type { PendingMessage } from "../subscriber.ts";
import { dataMessageUtf8 } from "./json_cache.ts";

const enc = new TextEncoder();
const ascii = (s: string) => enc.encode(s);

/**
 * Constant bytes as big-endian 32-bit words and a tail: written a word at a
 * time, the ~30-byte prefix of every value costs a quarter of a byte loop.
 */
interface Chunk {
  readonly words: Uint32Array;
  readonly tail: Uint8Array;
}

function chunk(b: Uint8Array): Chunk {
  const n = b.length >> 2;
  const words = new Uint32Array(n);
  const view = new DataView(b.buffer, b.byteOffset, b.length);
  for (let i = 0; i < n; i++) words[i] = view.getUint32(i * 4);
  return { words, tail: b.slice(n * 4) };
}

// `"@data-type":"<name>","data":` per tag; nested values add the `{`.
const TYPE_PREFIX: Chunk[] = TYPE_NAMES.map((t) =>
  chunk(ascii(`"@data-type":"${JSON_TYPE_NAMES[t]}","data":`))
);
const KEY = chunk(ascii('{"key":'));
const VALUE = chunk(ascii(',"value":'));
const NONE_DATA = ascii("{}");
const TRUE = ascii("true");
const FALSE = ascii("false");
const PROTO = ["?", "tcp", "udp", "icmp"].map(ascii);
// The escape letter for bytes 0x08..0x0d, Broker's only escaped control bytes.
const CONTROL_ESCAPES = [0x62, 0x74, 0x6e, 0x76, 0x66, 0x72]; // b t n v f r

/**
 * Messages framed so far by the direct writer and by the old path (for
 * tests and profiling; never reset here).
 *
 * @example
 * ```ts
 * import { directStats } from "./json_direct.ts";
 * const share = directStats.direct / Math.max(1, directStats.direct + directStats.fallback);
 * ```
 */
export const directStats = { direct: 0, fallback: 0 };

/** Thrown inside the writer when the payload needs the old path. */
const FALLBACK: unique symbol = Symbol("fallback");

// The writer's state lives at module level, which keeps the hot loop lean.
let o: Uint8Array = new Uint8Array(0);
/** A view of `o`, for writing words. */
let ov: DataView = new DataView(new ArrayBuffer(0));
let op = 0;
let u: Uint8Array = new Uint8Array(0);
let dv: DataView = new DataView(new ArrayBuffer(0));
let ip = 0;
let viewBuffer: ArrayBufferLike | undefined;

function put(b: Uint8Array): void {
  const n = b.length;
  const out = o;
  let p = op;
  for (let i = 0; i < n; i++) out[p++] = b[i];
  op = p;
}

function putChunk(c: Chunk): void {
  const w = c.words, n = w.length, view = ov;
  let p = op;
  for (let i = 0; i < n; i++) {
    view.setUint32(p, w[i]);
    p += 4;
  }
  const t = c.tail, out = o;
  for (let i = 0; i < t.length; i++) out[p++] = t[i];
  op = p;
}

function putAscii(s: string): void {
  const out = o;
  let p = op;
  for (let i = 0; i < s.length; i++) out[p++] = s.charCodeAt(i);
  op = p;
}

/** Writes a non-negative safe integer in decimal. */
function putUint(n: number): void {
  if (n < 10) {
    o[op++] = 0x30 + n;
    return;
  }
  let digits = 1;
  for (let t = n; t >= 10; t = Math.floor(t / 10)) digits++;
  let p = op + digits;
  op = p;
  const out = o;
  while (n >= 10) {
    const q = Math.floor(n / 10);
    out[--p] = 0x30 + (n - q * 10);
    n = q;
  }
  out[--p] = 0x30 + n;
}

function readLength(): number {
  let len = u[ip++];
  if (len < 0x80) return len;
  len &= 0x7f;
  for (let shift = 7;; shift += 7) {
    const b = u[ip++];
    len += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) return len;
  }
}

/** A quoted string with Broker's escapes; FALLBACK if the bytes are not UTF-8. */
function putText(): void {
  const len = readLength();
  const start = ip;
  ip = start + len;
  o[op++] = 0x22;
  putTextBytes(start, start + len);
}

/** A string's bytes `i` to `end`, escaped, checked as strict UTF-8, then the closing quote. */
function putTextBytes(i: number, end: number): void {
  const src = u, out = o;
  let p = op;
  while (i < end) {
    const b = src[i];
    if (b < 0x80) {
      if (b === 0x22 || b === 0x5c) {
        out[p++] = 0x5c;
        out[p++] = b;
      } else if (b >= 0x08 && b <= 0x0d) {
        out[p++] = 0x5c;
        out[p++] = CONTROL_ESCAPES[b - 8];
      } else out[p++] = b;
      i++;
      continue;
    }
    // Well-formed sequences only (Unicode table 3-7), as TextDecoder's fatal mode.
    let n: number, lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      n = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      n = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else throw FALLBACK;
    if (i + n >= end) throw FALLBACK;
    const c1 = src[i + 1];
    if (c1 < lo || c1 > hi) throw FALLBACK;
    for (let k = 2; k <= n; k++) {
      const c = src[i + k];
      if (c < 0x80 || c > 0xbf) throw FALLBACK;
    }
    for (let k = 0; k <= n; k++) out[p++] = src[i + k];
    i += n + 1;
  }
  out[p++] = 0x22;
  op = p;
}

/** An unsigned 64-bit value from its halves. */
function putU64(hi: number, lo: number): void {
  if (hi < 0x200000) putUint(hi * 0x100000000 + lo);
  else putAscii(dv.getBigUint64(ip - 8).toString());
}

/** A signed 64-bit value from its halves (`hi` signed). */
function putI64(hi: number, lo: number): void {
  if (hi >= 0) return putU64(hi, lo);
  if (hi >= -0x200000) {
    o[op++] = 0x2d;
    putUint(-(hi * 0x100000000 + lo));
  } else putAscii(dv.getBigInt64(ip - 8).toString());
}

function putReal(): void {
  putAscii(formatRealFast(realFromWords(dv.getUint32(ip), dv.getUint32(ip + 4))));
  ip += 8;
}

/** Broker's timestamp text, `YYYY-MM-DDTHH:MM:SS.mmm` (see json_write's formatTimestamp). */
function putTimestamp(hi: number, lo: number): void {
  // Milliseconds truncated toward zero, exactly: ns = hi * 4294 * 1e6 + r.
  const r = hi * 967296 + lo;
  const fr = Math.floor(r / 1e6);
  let t = hi * 4294 + fr;
  if (hi < 0 && r - fr * 1e6 !== 0) t++;
  const secs = Math.trunc(t / 1000);
  const ms = t % 1000;
  o[op++] = 0x22;
  // Years 0 to 9999 here; others as toISOString writes them.
  if (secs >= -62167219200 && secs < 253402300800) putDate(secs);
  else putAscii(new Date(secs * 1000).toISOString().slice(0, 19));
  o[op++] = 0x2e;
  if (ms > 0) {
    o[op++] = 0x30 + Math.floor(ms / 100);
    o[op++] = 0x30 + Math.floor(ms / 10) % 10;
    o[op++] = 0x30 + ms % 10;
  } else {
    o[op++] = 0x30;
    o[op++] = 0x30;
    o[op++] = 0x30;
  }
  o[op++] = 0x22;
}

function put2(n: number): void {
  o[op++] = 0x30 + Math.floor(n / 10);
  o[op++] = 0x30 + n % 10;
}

/** `YYYY-MM-DDTHH:MM:SS` of whole seconds since the epoch (Hinnant's civil_from_days). */
function putDate(secs: number): void {
  const days = Math.floor(secs / 86400);
  const sod = secs - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  put2(Math.floor(y / 100));
  put2(y % 100);
  o[op++] = 0x2d;
  put2(m);
  o[op++] = 0x2d;
  put2(d);
  o[op++] = 0x54;
  const h = Math.floor(sod / 3600);
  put2(h);
  o[op++] = 0x3a;
  const mi = Math.floor((sod - h * 3600) / 60);
  put2(mi);
  o[op++] = 0x3a;
  put2(sod - h * 3600 - mi * 60);
}

const TIMESPAN_UNITS = ["ns", "us", "ms"].map(ascii);

/** Broker's timespan text: the largest unit of ns/us/ms/s that is exact. */
function putTimespan(hi: number, lo: number): void {
  o[op++] = 0x22;
  if (hi >= -0x200000 && hi < 0x200000) {
    let v = hi * 0x100000000 + lo;
    if (v === 0) putAscii("0s");
    else {
      let unit = 3;
      for (let k = 0; k < 3; k++) {
        if (v % 1000 !== 0) {
          unit = k;
          break;
        }
        v /= 1000;
      }
      if (v < 0) {
        o[op++] = 0x2d;
        putUint(-v);
      } else putUint(v);
      if (unit < 3) put(TIMESPAN_UNITS[unit]);
      else o[op++] = 0x73;
    }
  } else {
    let v = dv.getBigInt64(ip - 8);
    let text = "";
    for (const unit of ["ns", "us", "ms"]) {
      if (v % 1000n !== 0n) {
        text = `${v}${unit}`;
        break;
      }
      v /= 1000n;
    }
    putAscii(text || `${v}s`);
  }
  o[op++] = 0x22;
}

/** An address at ip (advancing): a dotted quad when v4-mapped. */
function putAddress(): boolean {
  const p = ip, src = u;
  ip = p + 16;
  if (
    dv.getUint32(p) === 0 && dv.getUint32(p + 4) === 0 && src[p + 8] === 0 && src[p + 9] === 0 &&
    src[p + 10] === 0xff && src[p + 11] === 0xff
  ) {
    putUint(src[p + 12]);
    o[op++] = 0x2e;
    putUint(src[p + 13]);
    o[op++] = 0x2e;
    putUint(src[p + 14]);
    o[op++] = 0x2e;
    putUint(src[p + 15]);
    return true;
  }
  putAscii(formatAddress(src.subarray(p, p + 16)));
  return false;
}

/** One value at ip; `nested` values open their own object. */
function putValue(nested: boolean): void {
  const tag = u[ip++];
  if (!(tag <= 14)) throw FALLBACK;
  if (nested) o[op++] = 0x7b;
  putChunk(TYPE_PREFIX[tag]);
  switch (tag) {
    case 0:
      put(NONE_DATA);
      break;
    case 1:
      put(u[ip++] !== 0 ? TRUE : FALSE);
      break;
    case 2: {
      ip += 8;
      putU64(dv.getUint32(ip - 8), dv.getUint32(ip - 4));
      break;
    }
    case 3: {
      ip += 8;
      putI64(dv.getInt32(ip - 8), dv.getUint32(ip - 4));
      break;
    }
    case 4:
      putReal();
      break;
    case 5:
    case 11:
      putText();
      break;
    case 6:
      o[op++] = 0x22;
      putAddress();
      o[op++] = 0x22;
      break;
    case 7: {
      o[op++] = 0x22;
      const v4 = putAddress();
      const raw = u[ip++];
      o[op++] = 0x2f;
      putUint(v4 && raw >= 96 ? raw - 96 : raw);
      o[op++] = 0x22;
      break;
    }
    case 8: {
      o[op++] = 0x22;
      putUint(dv.getUint16(ip));
      o[op++] = 0x2f;
      put(PROTO[u[ip + 2]]);
      ip += 3;
      o[op++] = 0x22;
      break;
    }
    case 9:
      ip += 8;
      putTimestamp(dv.getInt32(ip - 8), dv.getUint32(ip - 4));
      break;
    case 10:
      ip += 8;
      putTimespan(dv.getInt32(ip - 8), dv.getUint32(ip - 4));
      break;
    case 12:
    case 14: {
      const n = readLength();
      o[op++] = 0x5b;
      for (let k = 0; k < n; k++) {
        if (k > 0) o[op++] = 0x2c;
        putValue(true);
      }
      o[op++] = 0x5d;
      break;
    }
    case 13: {
      const n = readLength();
      o[op++] = 0x5b;
      for (let k = 0; k < n; k++) {
        if (k > 0) o[op++] = 0x2c;
        putChunk(KEY);
        putValue(true);
        putChunk(VALUE);
        putValue(true);
        o[op++] = 0x7d;
      }
      o[op++] = 0x5d;
      break;
    }
    default:
      throw FALLBACK;
  }
  o[op++] = 0x7d;
}

// `{"type":"data-message","topic":"...",` per topic, as the old path writes it.
const prefixes = new Map<string, Chunk>();
const NONE_TAIL = '"@data-type":"none","data":{}}'.length;

function topicPrefix(topic: string): Chunk {
  let p = prefixes.get(topic);
  if (p === undefined) {
    const full = enc.encode(dataMessageToJson(topic, NONE));
    p = chunk(full.subarray(0, full.length - NONE_TAIL));
    if (prefixes.size >= 4096) prefixes.clear();
    prefixes.set(topic, p);
  }
  return p;
}

/**
 * Payloads from this size on are written by the WASM codec (`json_wasm.ts`)
 * when it can: a conn event (275 B) took ~0.55 µs there against ~1.4 µs
 * here, but copying in and out costs a fixed ~60 ns, which a 9-byte count
 * did not win back.
 */
const WASM_MIN = 48;

const SLAB_SIZE = 1 << 20;
let slab = new Uint8Array(SLAB_SIZE);
let slabView = new DataView(slab.buffer);
let slabAt = 0;

/**
 * How a slab's frames are used: views of them handed to sockets and not yet
 * written (`holds`), and whether the slab is full and the turn that filled
 * it over (`settled`).
 */
interface SlabUse {
  holds: number;
  settled: boolean;
}

/** The slabs that may come back, by their buffer. */
const uses = new Map<ArrayBufferLike, SlabUse>([[slab.buffer, newUse()]]);
/** Every slab made, so that a view of one no longer tracked is told from foreign bytes. */
const made = new WeakSet<ArrayBufferLike>([slab.buffer]);
/**
 * Full slabs whose frames are all written, kept to be filled again. Why:
 * fresh memory faults in a page at a time (~16 µs a fault on this VM, ~4.5 µs
 * per frame of a fan-out), and the collector frees a dead slab only when it
 * next runs, so a fan-out's first ~50,000 frames ran on fresh pages.
 *
 * Eight: slabs come back in bursts (a socket's writes free several at once,
 * and timers settle them late under load). With four, a one-client fan-out
 * of 320,000 frames let slabs go that came back while four were kept, and
 * then took fresh ones: 36 of 226 slabs; with eight, 7 or 8 of 350.
 */
const spares: Uint8Array<ArrayBuffer>[] = [];
const SPARES = 8;

function newUse(): SlabUse {
  return { holds: 0, settled: false };
}

/**
 * Room for `need` bytes in the output slab. A full slab is left to the
 * frames that still view it (queued on sockets, cached for other clients)
 * until they are written; then it is filled again (`holdFrames`).
 */
function reserve(need: number): void {
  if (slabAt + need > slab.length) {
    retire(slab);
    slab = need <= SLAB_SIZE && spares.length > 0
      ? spares.pop()!
      : new Uint8Array(Math.max(SLAB_SIZE, need));
    uses.set(slab.buffer, newUse());
    made.add(slab.buffer);
    slabView = new DataView(slab.buffer);
    slabAt = 0;
  }
}

function retire(full: Uint8Array): void {
  const use = uses.get(full.buffer);
  if (use === undefined) return;
  // Its frames may still sit in this turn's caches and runs: those are
  // cleared, or handed to sockets (and held), before a timer runs.
  setTimeout(() => {
    use.settled = true;
    recycle(full.buffer, use);
  }, 0);
}

function recycle(buffer: ArrayBufferLike, use: SlabUse): void {
  if (!use.settled || use.holds > 0) return;
  uses.delete(buffer);
  if (buffer.byteLength === SLAB_SIZE && spares.length < SPARES) {
    spares.push(new Uint8Array(buffer as ArrayBuffer));
  }
}

/**
 * Keeps the slab under `frames` (a view of frames this module made, given
 * to a socket) from being filled again until `releaseFrames(frames)`.
 * `"held"`: release it once written; `"foreign"`: not a slab's, nothing to
 * release; `"stale"`: its slab may be refilled already (a view kept past the
 * turn that made it), so send a copy instead.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { dataMessageFrame, holdFrames, releaseFrames } from "./json_direct.ts";
 * const f = dataMessageFrame({ topic: "/t", payload: encode(count(1n)), unsorted: false });
 * equal(holdFrames(f), "held");
 * releaseFrames(f); // written: the slab may come back
 * equal(holdFrames(new Uint8Array(4)), "foreign");
 * ```
 */
export function holdFrames(frames: Uint8Array): "held" | "foreign" | "stale" {
  const use = uses.get(frames.buffer);
  // A settled slab is refilled once nothing holds it; until then it may be held more.
  if (use !== undefined && (!use.settled || use.holds > 0)) {
    use.holds++;
    return "held";
  }
  return made.has(frames.buffer) ? "stale" : "foreign";
}

/** Ends a `holdFrames` that said `"held"`. */
export function releaseFrames(frames: Uint8Array): void {
  const use = uses.get(frames.buffer);
  if (use === undefined) return;
  use.holds--;
  recycle(frames.buffer, use);
}

/**
 * The JSON text of `m` in a server's text frame (RFC 6455, unmasked),
 * byte for byte `dataMessageUtf8(m)` behind its frame header. The frame is a
 * view into a shared slab: callers must not change it. Consecutive calls
 * return adjacent frames while the slab has room, so a run of them can be
 * sent as one view (see `adjacent`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { dataMessageFrame } from "./json_direct.ts";
 * const f = dataMessageFrame({ topic: "/t", payload: encode(count(1n)) });
 * equal(f[0], 0x81); // a final text frame
 * equal(
 *   new TextDecoder().decode(f.subarray(2)),
 *   '{"type":"data-message","topic":"/t","@data-type":"count","data":1}',
 * );
 * ```
 */
export function dataMessageFrame(m: PendingMessage): Uint8Array {
  return dataMessageFrameOf(m.topic, m.payload, m.unsorted);
}

/**
 * `dataMessageFrame` with the message's parts as arguments (no message
 * object to build on the per-message path).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { dataMessageFrame, dataMessageFrameOf } from "./json_direct.ts";
 * const payload = encode(count(1n));
 * equal(
 *   dataMessageFrameOf("/t", payload, false).join(),
 *   dataMessageFrame({ topic: "/t", payload }).join(),
 * );
 * ```
 */
export function dataMessageFrameOf(
  topic: string,
  payload: Uint8Array,
  unsorted: boolean | undefined,
): Uint8Array {
  let direct = unsorted === false;
  if (unsorted === undefined) {
    try {
      direct = !validateForLater(payload);
    } catch {
      // the old path reports it
    }
  }
  if (direct) {
    const prefix = topicPrefix(topic);
    const need = 10 + prefix.words.length * 4 + prefix.tail.length +
      JSON_MAX_EXPANSION * payload.length + 16;
    reserve(need);
    const start = slabAt;
    o = slab;
    ov = slabView;
    op = start + 4;
    putChunk(prefix);
    const n = payload.length >= WASM_MIN ? writeJsonMembers(payload, slab, op) : -1;
    if (n >= 0) {
      directStats.direct++;
      return finishFrame(start, op + n - start - 4);
    }
    if (payload.buffer !== viewBuffer) {
      viewBuffer = payload.buffer;
      u = new Uint8Array(payload.buffer);
      dv = new DataView(payload.buffer);
    }
    ip = payload.byteOffset;
    let ok = true;
    try {
      putValue(false);
    } catch (e) {
      if (e !== FALLBACK) throw e;
      ok = false;
    }
    if (ok && ip === payload.byteOffset + payload.length && op <= start + need) {
      directStats.direct++;
      return finishFrame(start, op - start - 4);
    }
  }
  directStats.fallback++;
  const utf8 = dataMessageUtf8({ topic, payload, unsorted });
  reserve(utf8.length + 10);
  const start = slabAt;
  slab.set(utf8, start + 4);
  return finishFrame(start, utf8.length);
}

/** Puts the header before `len` bytes written at `start + 4`, moving them if needed. */
function finishFrame(start: number, len: number): Uint8Array {
  const s = slab;
  let body = start + 4;
  if (len < 126) {
    s.copyWithin(start + 2, body, body + len);
    body = start + 2;
    s[start + 1] = len;
  } else if (len < 65536) {
    s[start + 1] = 126;
    s[start + 2] = len >> 8;
    s[start + 3] = len & 0xff;
  } else {
    s.copyWithin(start + 10, body, body + len);
    body = start + 10;
    s[start + 1] = 127;
    // Up to 2^53 bytes: the high word, then the low.
    const hiWord = Math.floor(len / 0x100000000);
    new DataView(s.buffer).setUint32(start + 2, hiWord);
    new DataView(s.buffer).setUint32(start + 6, len >>> 0);
  }
  s[start] = 0x81;
  const end = body + len;
  slabAt = end;
  return s.subarray(start, end);
}

/**
 * Whether frame `b` starts right where frame `a` ends, in the same buffer.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { count, encode } from "../data/mod.ts";
 * import { adjacent, dataMessageFrame } from "./json_direct.ts";
 * const a = dataMessageFrame({ topic: "/t", payload: encode(count(1n)), unsorted: false });
 * const b = dataMessageFrame({ topic: "/t", payload: encode(count(2n)), unsorted: false });
 * equal(adjacent(a, b), true); // while the slab has room
 * ```
 */
export function adjacent(a: Uint8Array, b: Uint8Array): boolean {
  return a.buffer === b.buffer && a.byteOffset + a.length === b.byteOffset;
}
