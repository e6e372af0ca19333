// Broker binary format v1 for `data`, scanned, validated, indexed and encoded in
// linear memory. No allocation happens here: the TypeScript side owns the layout
// and passes pointers, so bytes are read where they lie.
//
// Tape: one 16-byte node per value, in pre-order.
//   +0 u8  tag          +1 u8 flags      +2 u16 (unused)
//   +4 u32 a            +8 u64/i64/f64 b
// a/b by tag: bool a=0|1; count/integer/timestamp/timespan b=value; real b=f64;
// string/enum a=offset b=length; address a=offset; subnet a=offset b=length;
// port a=number|proto<<16; set/table/vector a=element count (pairs for tables),
// b=index of the node after the container's last descendant.

// Errors are negative return values; the glue maps them to BrokerError codes.
export const ERR_EOF: i32 = -1;
export const ERR_TAG: i32 = -2;
export const ERR_VARBYTE: i32 = -3;
export const ERR_LENGTH: i32 = -4;
export const ERR_DEPTH: i32 = -5;
export const ERR_PORT: i32 = -6;
export const ERR_DUPLICATE: i32 = -7;
export const ERR_TRAILING: i32 = -8;
export const ERR_EMPTY: i32 = -9;
export const ERR_CAPACITY: i32 = -10;

export const FLAG_ASCII: u8 = 1;
export const FLAG_UTF8: u8 = 2;
export const FLAG_UNSORTED: u8 = 4;

const TAG_NONE: u8 = 0;
const TAG_BOOL: u8 = 1;
const TAG_COUNT: u8 = 2;
const TAG_INTEGER: u8 = 3;
const TAG_REAL: u8 = 4;
const TAG_STRING: u8 = 5;
const TAG_ADDRESS: u8 = 6;
const TAG_SUBNET: u8 = 7;
const TAG_PORT: u8 = 8;
const TAG_TIMESTAMP: u8 = 9;
const TAG_TIMESPAN: u8 = 10;
const TAG_ENUM: u8 = 11;
const TAG_SET: u8 = 12;
const TAG_TABLE: u8 = 13;
const TAG_VECTOR: u8 = 14;

// CAF's pack754 constants for the special reals (inf and -inf are swapped
// against IEEE-754; every NaN is all ones).
const REAL_POS_INF: u64 = 0xfff0000000000000;
const REAL_NEG_INF: u64 = 0x7ff0000000000000;
const REAL_NAN: u64 = 0xffffffffffffffff;
const REAL_NEG_ZERO: u64 = 0x8000000000000000;
const REAL_FRACTION: u64 = 0x000fffffffffffff;

// Results besides the return value.
let gPos: i32 = 0; // scan: bytes consumed; varbyte: position after it
let gEndA: i32 = 0;
let gEndB: i32 = 0;

export function lastExtent(): i32 {
  return gPos;
}

export function heapBase(): usize {
  return __heap_base;
}

// Reads a varbyte at p (bounded by end). Returns the value as i64 (>= 0) or an
// error code; gPos receives the position after it.

function readVarbyte(p: usize, end: usize): i64 {
  let result: u64 = 0;
  let shift: u32 = 0;
  while (true) {
    if (p >= end) return ERR_EOF;
    const b = <u64> load<u8>(p);
    p++;
    if (shift == 28 && (b & 0xf0) != 0) return ERR_VARBYTE;
    result |= (b & 0x7f) << shift;
    if ((b & 0x80) == 0) break;
    shift += 7;
    if (shift > 28) return ERR_VARBYTE;
  }
  gPos = <i32> p;
  return <i64> result;
}

function loadU64BE(p: usize): u64 {
  return bswap<u64>(load<u64>(p));
}

// Reads 8 bytes as CAF's unpack754 does. With an exponent field of 1..0x7fe the
// bits are IEEE-754's (the fast path); the rest goes through decodeRealEdge.
function decodeReal(bits: u64): f64 {
  const e = (bits >> 52) & 0x7ff;
  if (e != 0 && e != 0x7ff) return reinterpret<f64>(bits);
  return decodeRealEdge(bits);
}

// 2^-1023, a subnormal, exactly.
const TWO_POW_M1023: f64 = reinterpret<f64>(0x0008000000000000);

// unpack754 for an exponent field of 0 or 0x7ff. Besides its five constants it
// knows no special values: it always adds the implicit 1 and scales by
// 2^(e - 1023). So e = 0 is read as (1 + f/2^52) * 2^-1023, not as IEEE's
// subnormal f * 2^-1074 (one rounding, as CAF's last halving), and e = 0x7ff
// overflows to an infinity of the sign bit's sign, so NaN is only all ones.
@inline
function decodeRealEdge(bits: u64): f64 {
  if (bits == 0) return 0.0;
  if (bits == REAL_NEG_ZERO) return -0.0;
  if (bits == REAL_POS_INF) return Infinity;
  if (bits == REAL_NEG_INF) return -Infinity;
  if (bits == REAL_NAN) return NaN;
  const x: f64 = (bits & 0x7ff0000000000000) != 0
    ? Infinity
    : (1.0 + <f64>(bits & REAL_FRACTION) / 4503599627370496.0) * TWO_POW_M1023;
  return (bits >> 63) != 0 ? -x : x;
}

// Writes x as CAF's pack754 does: IEEE-754's bits for normal numbers and ±0,
// the five constants, and for subnormals what its normalisation loop gives:
// x = m * 2^-1074 with 2^k <= m < 2^(k+1) becomes exponent k - 51 (at most 0,
// wrapped to 12 bits, so that it also sets the sign bit when negative) over
// the bits of m below its leading 1. Broker's own decoder does not read that
// back as x (5e-324 is written fcd0000000000000 and read as -2^974).
function encodeRealBits(x: f64): u64 {
  if (isNaN(x)) return REAL_NAN;
  if (x == Infinity) return REAL_POS_INF;
  if (x == -Infinity) return REAL_NEG_INF;
  const bits = reinterpret<u64>(x);
  if ((bits & 0x7ff0000000000000) != 0 || (bits << 1) == 0) return bits;
  const m = bits & REAL_FRACTION;
  const k = <u64>63 - clz<u64>(m);
  const sig = (m << (52 - k)) & REAL_FRACTION;
  const exp = (k - 51) & 0xfff;
  return (bits & REAL_NEG_ZERO) | (exp << 52) | sig;
}

// Classifies n bytes at p: FLAG_ASCII|FLAG_UTF8, FLAG_UTF8 or 0 (invalid UTF-8).
function classifyText(p: usize, n: usize): u8 {
  const end = p + n;
  // Eight bytes at a time while the text is ASCII.
  while (p + 8 <= end) {
    if ((load<u64>(p) & 0x8080808080808080) != 0) break;
    p += 8;
  }
  while (p < end && load<u8>(p) < 0x80) p++;
  if (p == end) return FLAG_ASCII | FLAG_UTF8;
  while (p < end) {
    const c = <u32> load<u8>(p);
    if (c < 0x80) {
      p++;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (p + 2 > end) return 0;
      if ((load<u8>(p + 1) & 0xc0) != 0x80) return 0;
      p += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      if (p + 3 > end) return 0;
      const c1 = <u32> load<u8>(p + 1);
      if ((c1 & 0xc0) != 0x80 || (load<u8>(p + 2) & 0xc0) != 0x80) return 0;
      if (c == 0xe0 && c1 < 0xa0) return 0; // overlong
      if (c == 0xed && c1 > 0x9f) return 0; // surrogate
      p += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      if (p + 4 > end) return 0;
      const c1 = <u32> load<u8>(p + 1);
      if ((c1 & 0xc0) != 0x80 || (load<u8>(p + 2) & 0xc0) != 0x80) return 0;
      if ((load<u8>(p + 3) & 0xc0) != 0x80) return 0;
      if (c == 0xf0 && c1 < 0x90) return 0; // overlong
      if (c == 0xf4 && c1 > 0x8f) return 0; // above U+10FFFF
      p += 4;
    } else {
      return 0;
    }
  }
  return FLAG_UTF8;
}

function cmpU64(a: u64, b: u64): i32 {
  return a < b ? -1 : a > b ? 1 : 0;
}

function cmpI64(a: i64, b: i64): i32 {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Whether cmpF64 met a NaN since the validator last cleared it.
let gNaNMet: bool = false;
// While set, a NaN equals every real, as under Broker's `<` (C++'s on
// doubles), where a NaN is neither below nor above any real: its std::set
// takes the two for one element, and its decoder refuses both in one set.
let gNaNMatches: bool = false;

// Reals in Broker's order; NaN sorts after every number so the order is total.

function cmpF64(a: f64, b: f64): i32 {
  if (a < b) return -1;
  if (a > b) return 1;
  if (a == b) return 0;
  gNaNMet = true;
  if (gNaNMatches) return 0;
  const na = isNaN(a);
  const nb = isNaN(b);
  return na == nb ? 0 : na ? 1 : -1;
}

function cmpBytes(a: usize, na: usize, b: usize, nb: usize): i32 {
  const n = na < nb ? na : nb;
  for (let i: usize = 0; i < n; i++) {
    const x = load<u8>(a + i);
    const y = load<u8>(b + i);
    if (x != y) return x < y ? -1 : 1;
  }
  return na < nb ? -1 : na > nb ? 1 : 0;
}

// Compares two valid encoded values at a and b in Broker's total order. When
// they are equal, gEndA and gEndB receive their ends.
function compareAt(a: usize, b: usize): i32 {
  const ta = load<u8>(a);
  const tb = load<u8>(b);
  if (ta != tb) return ta < tb ? -1 : 1;
  a++;
  b++;
  let r: i32 = 0;
  switch (ta) {
    case TAG_NONE:
      break;
    case TAG_BOOL: {
      const x: i32 = load<u8>(a) != 0 ? 1 : 0;
      const y: i32 = load<u8>(b) != 0 ? 1 : 0;
      r = x - y;
      a += 1;
      b += 1;
      break;
    }
    case TAG_COUNT:
      r = cmpU64(loadU64BE(a), loadU64BE(b));
      a += 8;
      b += 8;
      break;
    case TAG_INTEGER:
    case TAG_TIMESTAMP:
    case TAG_TIMESPAN:
      r = cmpI64(<i64> loadU64BE(a), <i64> loadU64BE(b));
      a += 8;
      b += 8;
      break;
    case TAG_REAL:
      r = cmpF64(decodeReal(loadU64BE(a)), decodeReal(loadU64BE(b)));
      a += 8;
      b += 8;
      break;
    case TAG_STRING:
    case TAG_ENUM: {
      const la = <usize> readVarbyte(a, a + 5);
      a = <usize> gPos;
      const lb = <usize> readVarbyte(b, b + 5);
      b = <usize> gPos;
      r = cmpBytes(a, la, b, lb);
      a += la;
      b += lb;
      break;
    }
    case TAG_ADDRESS:
      r = cmpBytes(a, 16, b, 16);
      a += 16;
      b += 16;
      break;
    case TAG_SUBNET:
      r = cmpBytes(a, 16, b, 16);
      if (r == 0) r = <i32> load<u8>(a + 16) - <i32> load<u8>(b + 16);
      a += 17;
      b += 17;
      break;
    case TAG_PORT: {
      const pa = <i32> bswap<u16>(load<u16>(a));
      const pb = <i32> bswap<u16>(load<u16>(b));
      r = pa != pb ? pa - pb : <i32> load<u8>(a + 2) - <i32> load<u8>(b + 2);
      a += 3;
      b += 3;
      break;
    }
    default: {
      // set, table, vector: lexicographic over the elements (tables: key, value).
      let na = <i64> readVarbyte(a, a + 5);
      a = <usize> gPos;
      let nb = <i64> readVarbyte(b, b + 5);
      b = <usize> gPos;
      if (ta == TAG_TABLE) {
        na *= 2;
        nb *= 2;
      }
      const n = na < nb ? na : nb;
      for (let i: i64 = 0; i < n; i++) {
        r = compareAt(a, b);
        if (r != 0) return r;
        a = <usize> gEndA;
        b = <usize> gEndB;
      }
      r = na < nb ? -1 : na > nb ? 1 : 0;
    }
  }
  if (r != 0) return r < 0 ? -1 : 1;
  gEndA = <i32> a;
  gEndB = <i32> b;
  return 0;
}

// The order check of two neighbours in a set or table: compareAt, with a
// shortcut for two texts of the same tag and one-byte lengths (most set
// elements and table keys): their bytes compared eight at a time, as
// big-endian words. A mars.dat event (341 texts of 10 letters) validated
// in ~3.3 µs instead of ~4.7 (2026-12-05).
@inline
function compareNeighbours(a: usize, b: usize): i32 {
  const ta = load<u8>(a);
  if (ta != load<u8>(b) || (ta != TAG_STRING && ta != TAG_ENUM)) return compareAt(a, b);
  const la = <usize> load<u8>(a + 1);
  const lb = <usize> load<u8>(b + 1);
  if ((la | lb) >= 0x80) return compareAt(a, b);
  a += 2;
  b += 2;
  const n = la < lb ? la : lb;
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) {
    const x = bswap<u64>(load<u64>(a + i));
    const y = bswap<u64>(load<u64>(b + i));
    if (x != y) return x < y ? -1 : 1;
  }
  for (; i < n; i++) {
    const x = load<u8>(a + i);
    const y = load<u8>(b + i);
    if (x != y) return x < y ? -1 : 1;
  }
  return la < lb ? -1 : la > lb ? 1 : 0;
}

// Exported form of compareAt for the glue (e.g. to order values that were
// encoded separately). Both values must be valid.
export function compare(a: usize, b: usize): i32 {
  return compareAt(a, b);
}

// State of the open containers around the current one, spilled to `stack`
// (24 bytes per level): +0 values remaining, +4 node index, +8 tag,
// +12 start of the previous set element or table key (NO_PREV before the first),
// +16 start of the current one. The innermost level lives in locals.
const LEVEL: usize = 24;
const NO_PREV: u32 = 0xffffffff;

// Scans the value at inp[0..len): validates it completely (structure, lengths,
// port protocols, set/table key order and uniqueness), and, when tape != 0,
// writes one node per value. Returns the node count (>= 1) or an error code;
// lastExtent() gives the bytes consumed. Trailing bytes are left to the caller.
export function scan(
  inp: usize,
  len: i32,
  tape: usize,
  tapeCap: i32,
  stack: usize,
  maxDepth: i32,
): i32 {
  return tape != 0
    ? scanImpl<u16>(inp, len, tape, tapeCap, stack, maxDepth)
    : scanImpl<u8>(inp, len, 0, 0, stack, maxDepth);
}

// T only selects the variant at compile time: u16 writes the tape, u8 only
// validates (so the validating loop carries no tape checks at all).

function scanImpl<T>(
  inp: usize,
  len: i32,
  tape: usize,
  tapeCap: i32,
  stack: usize,
  maxDepth: i32,
): i32 {
  const TAPE = sizeof<T>() == 2;
  const end = inp + <usize> len;
  let p = inp;
  let n: i32 = 0;
  let depth: i32 = 0;
  // The innermost open container: values left, tape node, tag, order-check state.
  let rem: u32 = 0;
  let lnode: u32 = 0;
  let ltag: u8 = 0xff;
  let prev: u32 = NO_PREV;
  let cur: u32 = 0;
  let unsorted: u32 = 0;
  if (len <= 0) return ERR_EMPTY;
  while (true) {
    // Where a set element or a table key starts, remember it for the order check.
    if (ltag == TAG_SET || (ltag == TAG_TABLE && (rem & 1) == 0)) cur = <u32> (p - inp);
    if (p >= end) return ERR_EOF;
    if (TAPE && n >= tapeCap) return ERR_CAPACITY;
    const tag = load<u8>(p);
    p++;
    const node = tape + <usize> n * 16;
    n++;
    if (TAPE) store<u16>(node, <u16> tag);
    switch (tag) {
      case TAG_NONE:
        break;
      case TAG_BOOL:
        if (p + 1 > end) return ERR_EOF;
        if (TAPE) store<u32>(node, load<u8>(p) != 0 ? 1 : 0, 4);
        p += 1;
        break;
      case TAG_COUNT:
      case TAG_INTEGER:
      case TAG_TIMESTAMP:
      case TAG_TIMESPAN:
        if (p + 8 > end) return ERR_EOF;
        if (TAPE) store<u64>(node, loadU64BE(p), 8);
        p += 8;
        break;
      case TAG_REAL:
        if (p + 8 > end) return ERR_EOF;
        if (TAPE) store<f64>(node, decodeReal(loadU64BE(p)), 8);
        p += 8;
        break;
      case TAG_STRING:
      case TAG_ENUM: {
        let l: u64;
        // One-byte lengths are the common case.
        if (p < end && load<u8>(p) < 0x80) {
          l = <u64> load<u8>(p);
          p++;
        } else {
          const v = readVarbyte(p, end);
          if (v < 0) return <i32> v;
          l = <u64> v;
          p = <usize> gPos;
        }
        if (l > <u64> (end - p)) return ERR_LENGTH;
        if (TAPE) {
          store<u8>(node, classifyText(p, <usize> l), 1);
          store<u32>(node, <u32> (p - inp), 4);
          store<u64>(node, l, 8);
        }
        p += <usize> l;
        break;
      }
      case TAG_ADDRESS:
        if (p + 16 > end) return ERR_EOF;
        if (TAPE) store<u32>(node, <u32> (p - inp), 4);
        p += 16;
        break;
      case TAG_SUBNET:
        if (p + 17 > end) return ERR_EOF;
        if (TAPE) {
          store<u32>(node, <u32> (p - inp), 4);
          store<u64>(node, <u64> load<u8>(p + 16), 8);
        }
        p += 17;
        break;
      case TAG_PORT: {
        if (p + 3 > end) return ERR_EOF;
        const proto = load<u8>(p + 2);
        if (proto > 3) return ERR_PORT;
        if (TAPE) {
          store<u32>(node, <u32> bswap<u16>(load<u16>(p)) | (<u32> proto << 16), 4);
        }
        p += 3;
        break;
      }
      case TAG_SET:
      case TAG_TABLE:
      case TAG_VECTOR: {
        const c = readVarbyte(p, end);
        if (c < 0) return <i32> c;
        p = <usize> gPos;
        const values: i64 = tag == TAG_TABLE ? c * 2 : c;
        // Every value takes at least one byte: a count beyond the bytes left is a lie.
        if (<u64> values > <u64> (end - p)) return ERR_LENGTH;
        if (TAPE) {
          store<u32>(node, <u32> c, 4);
          store<u64>(node, <u64> n, 8);
        }
        if (values > 0) {
          if (depth >= maxDepth) return ERR_DEPTH;
          const lv = stack + <usize> depth * LEVEL;
          store<u32>(lv, rem);
          store<u32>(lv, lnode, 4);
          store<u32>(lv, <u32> ltag, 8);
          store<u32>(lv, prev, 12);
          store<u32>(lv, cur, 16);
          depth++;
          rem = <u32> values;
          lnode = <u32> (n - 1);
          ltag = tag;
          prev = NO_PREV;
          continue;
        }
        break;
      }
      default:
        return ERR_TAG;
    }
    // A value is complete; close every container it completes.
    while (depth > 0) {
      if (ltag == TAG_SET || (ltag == TAG_TABLE && (rem & 1) == 0)) {
        if (prev != NO_PREV) {
          gNaNMet = false;
          const r = compareNeighbours(inp + <usize> prev, inp + <usize> cur);
          if (r == 0) return ERR_DUPLICATE;
          if (gNaNMet) {
            // A NaN beside a real: one element to Broker (see gNaNMatches).
            gNaNMatches = true;
            const same = compareAt(inp + <usize> prev, inp + <usize> cur) == 0;
            gNaNMatches = false;
            if (same) return ERR_DUPLICATE;
          }
          if (r > 0) {
            unsorted = 1;
            if (TAPE) {
              const cn = tape + <usize> lnode * 16;
              store<u8>(cn, load<u8>(cn, 1) | FLAG_UNSORTED, 1);
            }
          }
        }
        prev = cur;
      }
      if (rem > 1) {
        rem--;
        break;
      }
      if (TAPE) store<u64>(tape + <usize> lnode * 16, <u64> n, 8);
      depth--;
      const lv = stack + <usize> depth * LEVEL;
      rem = load<u32>(lv);
      lnode = load<u32>(lv, 4);
      ltag = <u8> load<u32>(lv, 8);
      prev = load<u32>(lv, 12);
      // The container that just closed is a value of the enclosing one: for
      // sets and table keys, its start was saved in `cur` before we descended.
      cur = load<u32>(lv, 16);
    }
    if (depth == 0) break;
  }
  gPos = <i32> (p - inp);
  // Whether any set or table arrived out of order: the glue re-sorts only then.
  store<u32>(stack - 16, unsorted);
  // How many values the input holds, for the glue's decode budget.
  store<u32>(stack - 12, <u32> n);
  // The extent also goes after the last node, where JS reads it without a call.
  if (TAPE) store<u32>(tape + <usize> n * 16, <u32> (p - inp));
  return n;
}

// Validates the value at inp[0..len) without a tape. Returns the bytes it
// occupies, or an error code.
export function validate(inp: usize, len: i32, stack: usize, maxDepth: i32): i32 {
  const r = scanImpl<u8>(inp, len, 0, 0, stack, maxDepth);
  return r < 0 ? r : gPos;
}

// Returns the offset just past the valid value at inp+off (no checks: the value
// must have been validated). A counter replaces recursion.
export function skip(inp: usize, off: i32): i32 {
  let p = inp + <usize> off;
  let need: i64 = 1;
  while (need > 0) {
    const tag = load<u8>(p);
    p++;
    need--;
    switch (tag) {
      case TAG_NONE:
        break;
      case TAG_BOOL:
        p += 1;
        break;
      case TAG_STRING:
      case TAG_ENUM: {
        const l = readVarbyte(p, p + 5);
        p = <usize> gPos + <usize> l;
        break;
      }
      case TAG_ADDRESS:
        p += 16;
        break;
      case TAG_SUBNET:
        p += 17;
        break;
      case TAG_PORT:
        p += 3;
        break;
      case TAG_SET:
      case TAG_VECTOR:
        need += readVarbyte(p, p + 5);
        p = <usize> gPos;
        break;
      case TAG_TABLE:
        need += readVarbyte(p, p + 5) * 2;
        p = <usize> gPos;
        break;
      default:
        // count, integer, real, timestamp, timespan
        p += 8;
    }
  }
  return <i32> (p - inp);
}

// Offset of element i of the valid container at inp+off (tables: value i of the
// flattened key, value sequence), or -1 if it is not a container or i is out of range.
export function child(inp: usize, off: i32, i: i32): i32 {
  const tag = load<u8>(inp + <usize> off);
  if (tag < TAG_SET || tag > TAG_VECTOR || i < 0) return -1;
  let c = readVarbyte(inp + <usize> off + 1, inp + <usize> off + 6);
  if (tag == TAG_TABLE) c *= 2;
  if (<i64> i >= c) return -1;
  let pos = gPos - <i32> inp;
  for (let k: i32 = 0; k < i; k++) pos = skip(inp, pos);
  return pos;
}

// Element count of the valid container at inp+off (tables: pairs), or -1.
export function childCount(inp: usize, off: i32): i32 {
  const tag = load<u8>(inp + <usize> off);
  if (tag < TAG_SET || tag > TAG_VECTOR) return -1;
  return <i32> readVarbyte(inp + <usize> off + 1, inp + <usize> off + 6);
}

// Offset of the body of a string or enum at inp+off (its length in lastExtent()),
// or -1 for any other tag.
export function textAt(inp: usize, off: i32): i32 {
  const tag = load<u8>(inp + <usize> off);
  if (tag != TAG_STRING && tag != TAG_ENUM) return -1;
  const l = readVarbyte(inp + <usize> off + 1, inp + <usize> off + 6);
  const body = gPos - <i32> inp;
  gPos = <i32> l;
  return body;
}

function writeVarbyte(p: usize, v: u32): usize {
  while (v > 0x7f) {
    store<u8>(p, <u8> (v | 0x80));
    v >>= 7;
    p++;
  }
  store<u8>(p, <u8> v);
  return p + 1;
}

// Encodes n tape nodes (written by the glue, same layout as scan's, with string,
// address and subnet offsets relative to `heap`) into out. Returns the bytes
// written, or ERR_CAPACITY when more than outCap would be needed.
export function encodeTape(tape: usize, n: i32, heap: usize, out: usize, outCap: i32): i32 {
  let p = out;
  const end = out + <usize> outCap;
  for (let i: i32 = 0; i < n; i++) {
    const node = tape + <usize> i * 16;
    const tag = load<u8>(node);
    // 23 bytes cover every fixed part (tag, 5-byte varbyte, 17-byte subnet).
    if (p + 23 > end) return ERR_CAPACITY;
    store<u8>(p, tag);
    p++;
    switch (tag) {
      case TAG_NONE:
        break;
      case TAG_BOOL:
        store<u8>(p, <u8> load<u32>(node, 4));
        p += 1;
        break;
      case TAG_REAL:
        store<u64>(p, bswap<u64>(encodeRealBits(load<f64>(node, 8))));
        p += 8;
        break;
      case TAG_STRING:
      case TAG_ENUM: {
        const l = <u32> load<u64>(node, 8);
        p = writeVarbyte(p, l);
        if (p + <usize> l > end) return ERR_CAPACITY;
        memory.copy(p, heap + <usize> load<u32>(node, 4), <usize> l);
        p += <usize> l;
        break;
      }
      case TAG_ADDRESS:
        memory.copy(p, heap + <usize> load<u32>(node, 4), 16);
        p += 16;
        break;
      case TAG_SUBNET:
        memory.copy(p, heap + <usize> load<u32>(node, 4), 16);
        store<u8>(p + 16, <u8> load<u64>(node, 8));
        p += 17;
        break;
      case TAG_PORT: {
        const a = load<u32>(node, 4);
        store<u16>(p, bswap<u16>(<u16> a));
        store<u8>(p + 2, <u8> (a >> 16));
        p += 3;
        break;
      }
      case TAG_SET:
      case TAG_TABLE:
      case TAG_VECTOR:
        p = writeVarbyte(p, load<u32>(node, 4));
        break;
      default:
        // count, integer, timestamp, timespan
        store<u64>(p, bswap<u64>(load<u64>(node, 8)));
        p += 8;
    }
  }
  return <i32> (p - out);
}

export { JSON_DECLINE, jsonValue } from "./json";
