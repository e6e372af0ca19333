// Broker's WebSocket JSON text of one valid value, written as UTF-8 from its
// binary form in linear memory: the `"@data-type":...,"data":...}` part of a
// data message, as `engine/data/json_write.ts` writes it. A fan-out node
// writes one per message per topic; in JS that was ~1.4 µs for a conn event.
//
// It declines (returns JSON_DECLINE) what it does not write byte for byte as
// the JS writer: addresses that are not IPv4, text that is not strict UTF-8,
// and anything malformed. The caller then takes the JS path. A real's text
// (printf's exact decimal expansion) comes from the host, `env.realText`.
// Nothing is allocated: constants live in static data.

export const JSON_DECLINE: i32 = -1;

// Writes the text of the real whose encoding's big-endian words are hi and
// lo at out, in at most room bytes; returns its length, or -1 to decline.
@external("env", "realText")
declare function realText(hi: u32, lo: u32, out: usize, room: i32): i32;

// Deeper values are declined rather than risk the engine's call stack.
const MAX_JSON_DEPTH: i32 = 200;

// `{"@data-type":"<name>","data":` per tag (a top-level value starts after
// the brace), each in a 48-byte slot, so that eight-byte copies may read
// past its end.
const PREFIXES: usize = memory.data(15 * 48, 16);
const PREFIX_LENGTHS: usize = memory.data(16);
// Other constants, each in a 16-byte slot: `{"key":`, `,"value":`, the
// port protocols and the timespan units.
const CONSTANTS: usize = memory.data(16 * 16, 16);
const C_KEY: usize = 0;
const C_VALUE: usize = 1;
const C_PROTO: usize = 2; // 2..5
const C_UNIT: usize = 6; // 6..8: ns, us, ms
const C_ESCAPES: usize = 9;
const CONSTANT_LENGTHS: usize = memory.data(16);

let ready = false;

// Bytes kept past oEnd: every check below leaves room for the writes up to
// the next check, and for eight-byte copies that run over.
const SLACK: usize = 64;

// The input cursor and end, and the output's end. The output cursor is
// passed along and returned (0: declined), which keeps it in a register.
let ip: usize = 0;
let iEnd: usize = 0;
let oEnd: usize = 0;

function typeName(tag: i32): string {
  switch (tag) {
    case 0:
      return "none";
    case 1:
      return "boolean";
    case 2:
      return "count";
    case 3:
      return "integer";
    case 4:
      return "real";
    case 5:
      return "string";
    case 6:
      return "address";
    case 7:
      return "subnet";
    case 8:
      return "port";
    case 9:
      return "timestamp";
    case 10:
      return "timespan";
    case 11:
      return "enum-value";
    case 12:
      return "set";
    case 13:
      return "table";
    default:
      return "vector";
  }
}

function asciiAt(d: usize, s: string): usize {
  const n = s.length;
  for (let i = 0; i < n; i++) store<u8>(d + <usize> i, <u8> s.charCodeAt(i));
  return d + <usize> n;
}

function constant(slot: usize, s: string): void {
  const end = asciiAt(CONSTANTS + slot * 16, s);
  store<u8>(CONSTANT_LENGTHS + slot, <u8> (end - (CONSTANTS + slot * 16)));
}

function init(): void {
  for (let t = 0; t < 15; t++) {
    const start = PREFIXES + <usize> t * 48;
    let d = asciiAt(start, "{\"@data-type\":\"");
    d = asciiAt(d, typeName(t));
    d = asciiAt(d, "\",\"data\":");
    store<u8>(PREFIX_LENGTHS + <usize> t, <u8> (d - start));
  }
  constant(C_KEY, "{\"key\":");
  constant(C_VALUE, ",\"value\":");
  constant(C_PROTO, "?");
  constant(C_PROTO + 1, "tcp");
  constant(C_PROTO + 2, "udp");
  constant(C_PROTO + 3, "icmp");
  constant(C_UNIT, "ns");
  constant(C_UNIT + 1, "us");
  constant(C_UNIT + 2, "ms");
  // \b \t \n \v \f \r for bytes 0x08..0x0d.
  asciiAt(CONSTANTS + C_ESCAPES * 16, "btnvfr");
  ready = true;
}

// Copies a constant of up to 16 bytes; the bytes past its length that are
// written too are replaced by the next write (the output keeps SLACK spare).
@inline
function putConstant(p: usize, slot: usize): usize {
  const src = CONSTANTS + slot * 16;
  store<u64>(p, load<u64>(src));
  store<u64>(p + 8, load<u64>(src + 8));
  return p + <usize> load<u8>(CONSTANT_LENGTHS + slot);
}

// Decimal digits of w, by comparisons.
@inline
function digitCount(w: u32): usize {
  if (w < 100000) return w < 100 ? (w < 10 ? 1 : 2) : w < 1000 ? 3 : w < 10000 ? 4 : 5;
  return w < 10000000 ? (w < 1000000 ? 6 : 7) : w < 100000000 ? 8 : w < 1000000000 ? 9 : 10;
}

function putU32(p: usize, w: u32): usize {
  if (w < 10) {
    store<u8>(p, <u8> (0x30 + w));
    return p + 1;
  }
  const end = p + digitCount(w);
  let q = end;
  while (w >= 10) {
    const t = w / 10;
    store<u8>(--q, <u8> (0x30 + w - t * 10));
    w = t;
  }
  store<u8>(--q, <u8> (0x30 + w));
  return end;
}

function putU64(p: usize, v: u64): usize {
  if (v <= 0xffffffff) return putU32(p, <u32> v);
  let digits: usize = 10;
  for (let t = v / 10000000000; t > 0; t /= 10) digits++;
  const end = p + digits;
  let q = end;
  while (v >= 10) {
    const t = v / 10;
    store<u8>(--q, <u8> (0x30 + <u32> (v - t * 10)));
    v = t;
  }
  store<u8>(--q, <u8> (0x30 + <u32> v));
  return end;
}

function putI64(p: usize, v: i64): usize {
  if (v >= 0) return putU64(p, <u64> v);
  store<u8>(p, 0x2d);
  return putU64(p + 1, <u64> -v); // wraps to 2^63 for the least value, as wanted
}

@inline
function put2(p: usize, n: i32): void {
  const t = <u32> n / 10;
  store<u8>(p, <u8> (0x30 + t));
  store<u8>(p + 1, <u8> (0x30 + <u32> n - t * 10));
}

// Reads a varbyte length (at most 32 bits), or -1.
function readLength(): i64 {
  let v: u64 = 0;
  for (let shift: u64 = 0; shift <= 28; shift += 7) {
    if (ip >= iEnd) return -1;
    const b = <u64> load<u8>(ip);
    ip++;
    v |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) return v <= 0xffffffff ? <i64> v : -1;
  }
  return -1;
}

// Escapes as Broker: `"` and `\`, and 0x08..0x0d as \b \t \n \v \f \r; every
// other byte as it is. Strict UTF-8 (TextDecoder's fatal mode) or declined.
function putText(p: usize): usize {
  const n = readLength();
  if (n < 0 || <u64> n > <u64> (iEnd - ip)) return 0;
  const end = ip + <usize> n;
  if (p + <usize> n * 2 + 8 > oEnd) return 0;
  let i = ip;
  store<u8>(p++, 0x22);
  // Eight bytes at a time while none is non-ASCII, a control byte, `"` or `\`.
  while (i + 8 <= end) {
    const w = load<u64>(i);
    const quote = w ^ 0x2222222222222222;
    const slash = w ^ 0x5c5c5c5c5c5c5c5c;
    const special = (w - 0x2020202020202020) | (quote - 0x0101010101010101) & ~quote |
      (slash - 0x0101010101010101) & ~slash | w;
    if ((special & 0x8080808080808080) != 0) break;
    store<u64>(p, w);
    i += 8;
    p += 8;
  }
  while (i < end) {
    const b = <u32> load<u8>(i);
    if (b < 0x80) {
      if (b == 0x22 || b == 0x5c) {
        store<u8>(p++, 0x5c);
        store<u8>(p++, <u8> b);
      } else if (b >= 0x08 && b <= 0x0d) {
        store<u8>(p++, 0x5c);
        store<u8>(p++, <u8> load<u8>(CONSTANTS + C_ESCAPES * 16 + <usize> (b - 8)));
      } else store<u8>(p++, <u8> b);
      i++;
      continue;
    }
    let k: usize;
    let lo: u32 = 0x80;
    let hi: u32 = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) k = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      k = 2;
      if (b == 0xe0) lo = 0xa0;
      else if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      k = 3;
      if (b == 0xf0) lo = 0x90;
      else if (b == 0xf4) hi = 0x8f;
    } else return 0;
    if (i + k >= end) return 0;
    const c1 = <u32> load<u8>(i + 1);
    if (c1 < lo || c1 > hi) return 0;
    for (let j: usize = 2; j <= k; j++) {
      const c = <u32> load<u8>(i + j);
      if (c < 0x80 || c > 0xbf) return 0;
    }
    for (let j: usize = 0; j <= k; j++) store<u8>(p++, load<u8>(i + j));
    i += k + 1;
  }
  store<u8>(p++, 0x22);
  ip = end;
  return p;
}

// A v4-mapped address as a dotted quad; any other address is declined.
function putAddress(p: usize): usize {
  if (iEnd - ip < 16) return 0;
  const a = ip;
  if (load<u64>(a) != 0 || load<u16>(a + 8) != 0 || load<u16>(a + 10) != 0xffff) return 0;
  ip = a + 16;
  p = putU32(p, <u32> load<u8>(a + 12));
  store<u8>(p, 0x2e);
  p = putU32(p + 1, <u32> load<u8>(a + 13));
  store<u8>(p, 0x2e);
  p = putU32(p + 1, <u32> load<u8>(a + 14));
  store<u8>(p, 0x2e);
  return putU32(p + 1, <u32> load<u8>(a + 15));
}

// `"YYYY-MM-DDTHH:MM:SS.mmm"`: seconds and milliseconds truncated toward
// zero, a negative millisecond part as 000 (Broker's to_time_t and
// duration_cast). Dates by Hinnant's civil_from_days, in 32 bits once the
// seconds are split (64-bit divisions cost several times more): 64 bits of
// nanoseconds reach from 1677 to 2262.
function putTimestamp(p: usize, ns: i64): usize {
  const t = ns / 1000000;
  const secs = t / 1000;
  const ms = <i32> (t - secs * 1000);
  const days64 = secs / 86400;
  let sod = <i32> (secs - days64 * 86400);
  let days = <i32> days64;
  if (sod < 0) {
    sod += 86400;
    days--;
  }
  const z = days + 719468;
  const era = (z >= 0 ? z : z - 146096) / 146097;
  const doe = z - era * 146097;
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const mp = (5 * doy + 2) / 153;
  const d = doy - (153 * mp + 2) / 5 + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const h = sod / 3600;
  const mi = (sod - h * 3600) / 60;
  store<u8>(p, 0x22);
  put2(p + 1, y / 100);
  put2(p + 3, y % 100);
  store<u8>(p + 5, 0x2d);
  put2(p + 6, m);
  store<u8>(p + 8, 0x2d);
  put2(p + 9, d);
  store<u8>(p + 11, 0x54);
  put2(p + 12, h);
  store<u8>(p + 14, 0x3a);
  put2(p + 15, mi);
  store<u8>(p + 17, 0x3a);
  put2(p + 18, sod - h * 3600 - mi * 60);
  store<u8>(p + 20, 0x2e);
  if (ms > 0) {
    store<u8>(p + 21, <u8> (0x30 + ms / 100));
    put2(p + 22, ms % 100);
  } else {
    store<u8>(p + 21, 0x30);
    store<u8>(p + 22, 0x30);
    store<u8>(p + 23, 0x30);
  }
  store<u8>(p + 24, 0x22);
  return p + 25;
}

// The largest unit of ns/us/ms/s in which the value is whole.
function putTimespan(p: usize, v: i64): usize {
  store<u8>(p++, 0x22);
  if (v == 0) {
    store<u8>(p++, 0x30);
    store<u8>(p++, 0x73);
  } else {
    let unit: usize = 3;
    for (let k: usize = 0; k < 3; k++) {
      if (v % 1000 != 0) {
        unit = k;
        break;
      }
      v /= 1000;
    }
    p = putI64(p, v);
    if (unit < 3) p = putConstant(p, C_UNIT + unit);
    else store<u8>(p++, 0x73);
  }
  store<u8>(p, 0x22);
  return p + 1;
}

@inline
function loadU64BE(p: usize): u64 {
  return bswap<u64>(load<u64>(p));
}

// One value at ip, written at p; a nested one opens its own object. Returns
// where its text ends, or 0: declined.
function putValue(p: usize, nested: bool, depth: i32): usize {
  // Room for any scalar: `{`, a prefix (34 with it), a 25-byte timestamp, `}`.
  if (ip >= iEnd || p + 96 > oEnd || depth > MAX_JSON_DEPTH) return 0;
  const tag = <usize> load<u8>(ip);
  ip++;
  if (tag > 14) return 0;
  // The prefix, from its `{` when nested: five words (the longest is 34
  // bytes with the brace), read unaligned.
  const src = PREFIXES + tag * 48 + (nested ? 0 : 1);
  store<u64>(p, load<u64>(src));
  store<u64>(p + 8, load<u64>(src + 8));
  store<u64>(p + 16, load<u64>(src + 16));
  store<u64>(p + 24, load<u64>(src + 24));
  store<u64>(p + 32, load<u64>(src + 32));
  p += <usize> load<u8>(PREFIX_LENGTHS + tag) - (nested ? 0 : 1);
  switch (<i32> tag) {
    case 0:
      store<u16>(p, 0x7d7b); // {}
      p += 2;
      break;
    case 1: {
      if (ip >= iEnd) return 0;
      const b = load<u8>(ip);
      ip++;
      if (b != 0) {
        store<u32>(p, 0x65757274); // true
        p += 4;
      } else {
        store<u64>(p, 0x65736c6166); // false
        p += 5;
      }
      break;
    }
    case 2:
      if (iEnd - ip < 8) return 0;
      p = putU64(p, loadU64BE(ip));
      ip += 8;
      break;
    case 3:
      if (iEnd - ip < 8) return 0;
      p = putI64(p, <i64> loadU64BE(ip));
      ip += 8;
      break;
    case 5:
    case 11:
      p = putText(p);
      if (p == 0) return 0;
      break;
    case 6:
      store<u8>(p, 0x22);
      p = putAddress(p + 1);
      if (p == 0) return 0;
      store<u8>(p++, 0x22);
      break;
    case 7: {
      store<u8>(p, 0x22);
      p = putAddress(p + 1);
      if (p == 0 || ip >= iEnd) return 0;
      const raw = <u32> load<u8>(ip);
      ip++;
      store<u8>(p, 0x2f);
      // Only IPv4 networks get here: Broker's length() is raw - 96 as a byte.
      p = putU32(p + 1, (raw - 96) & 0xff);
      store<u8>(p++, 0x22);
      break;
    }
    case 8: {
      if (iEnd - ip < 3) return 0;
      const proto = <usize> load<u8>(ip + 2);
      if (proto > 3) return 0;
      store<u8>(p, 0x22);
      p = putU32(p + 1, <u32> bswap<u16>(load<u16>(ip)));
      store<u8>(p, 0x2f);
      p = putConstant(p + 1, C_PROTO + proto);
      store<u8>(p++, 0x22);
      ip += 3;
      break;
    }
    case 9:
      if (iEnd - ip < 8) return 0;
      p = putTimestamp(p, <i64> loadU64BE(ip));
      ip += 8;
      break;
    case 4: {
      if (iEnd - ip < 8) return 0;
      const n = realText(bswap<u32>(load<u32>(ip)), bswap<u32>(load<u32>(ip + 4)), p, <i32> (oEnd - p));
      if (n < 0) return 0;
      p += <usize> n;
      ip += 8;
      break;
    }
    case 10:
      if (iEnd - ip < 8) return 0;
      p = putTimespan(p, <i64> loadU64BE(ip));
      ip += 8;
      break;
    case 12:
    case 14: {
      const n = readLength();
      if (n < 0) return 0;
      store<u8>(p++, 0x5b);
      for (let k: i64 = 0; k < n; k++) {
        if (k > 0) store<u8>(p++, 0x2c);
        p = putValue(p, true, depth + 1);
        if (p == 0) return 0;
      }
      store<u8>(p++, 0x5d);
      break;
    }
    case 13: {
      const n = readLength();
      if (n < 0) return 0;
      store<u8>(p++, 0x5b);
      for (let k: i64 = 0; k < n; k++) {
        if (k > 0) store<u8>(p++, 0x2c);
        p = putConstant(p, C_KEY);
        p = putValue(p, true, depth + 1);
        if (p == 0) return 0;
        p = putConstant(p, C_VALUE);
        p = putValue(p, true, depth + 1);
        if (p == 0) return 0;
        store<u8>(p++, 0x7d);
      }
      store<u8>(p++, 0x5d);
      break;
    }
    default:
      return 0;
  }
  // Keeps the closing brackets of deep containers within SLACK.
  if (p + 16 > oEnd) return 0;
  store<u8>(p, 0x7d);
  return p + 1;
}

// Writes the JSON of the valid value at inp[0..len) to out[0..cap). Returns
// the bytes written, or JSON_DECLINE when the JS writer must write them (see
// the top of this file), when they do not fit in cap less SLACK bytes,
// or when the value does not end at len. out must not be 0.
export function jsonValue(inp: usize, len: i32, out: usize, cap: i32): i32 {
  if (!ready) init();
  if (cap < 256 || out == 0) return JSON_DECLINE;
  ip = inp;
  iEnd = inp + <usize> len;
  oEnd = out + <usize> cap - SLACK;
  const p = putValue(out, false, 0);
  if (p == 0 || ip != iEnd) return JSON_DECLINE;
  return <i32> (p - out);
}
