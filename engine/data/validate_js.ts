/**
 * A JS validator for the common inputs, tried before WASM's: no copy into
 * the codec's memory and no call across, which for a small payload cost more
 * than the validation itself. It accepts only what WASM's validator accepts
 * with the same options, and only values whose sets and tables it can order
 * from their bytes (elements of one type among count, string, address,
 * subnet, port, enum; or of different types); anything else, valid or not,
 * it leaves to WASM (`-1`), which alone reports errors and re-sorts.
 *
 * @module
 */

let vU8: Uint8Array = new Uint8Array(0);
let vEnd = 0;
/** Where the last `varbyteAt` ended. */
let vAfter = 0;

/** Deepest nesting this validator follows (deeper input goes to WASM). */
const JS_MAX_DEPTH = 128;

/** The varbyte at `p` as WASM reads it (at most 32 bits), or -1; `vAfter` gets its end. */
function varbyteAt(p: number): number {
  if (p >= vEnd) return -1;
  const b = vU8[p];
  if (b < 0x80) {
    vAfter = p + 1;
    return b;
  }
  return longVarbyteAt(p);
}

function longVarbyteAt(p: number): number {
  let len = 0, scale = 1;
  for (let k = 0; k < 5; k++, scale *= 128) {
    if (p >= vEnd) return -1;
    const b = vU8[p++];
    if (k === 4 && b > 0x0f) return -1;
    len += (b & 0x7f) * scale;
    if (b < 0x80) {
      vAfter = p;
      return len;
    }
  }
  return -1;
}

/** Bytes after the tag of the types of fixed size, by tag (0: not fixed). */
const FIXED = [0, 1, 8, 8, 8, 0, 16, 17, 3, 8, 8, 0, 0, 0, 0];

/**
 * Whether the valid value at `a` sorts strictly before the valid value at
 * `b` in Broker's order, or undefined when that cannot be told from the
 * bytes here (the same type, other than those whose bytes order them).
 */
function before(a: number, b: number): boolean | undefined {
  const u = vU8, ta = u[a], tb = u[b];
  if (ta !== tb) return ta < tb;
  let pa = a + 1, pb = b + 1, na: number, nb: number;
  switch (ta) {
    case 2: // count: big-endian, so bytewise order is numeric order
    case 6: // address
    case 7: // subnet: address, then length
    case 8: // port: number, then protocol
      na = nb = FIXED[ta];
      break;
    case 5: // string
    case 11: // enum: by the bytes of the text, then by length
      na = varbyteAt(pa);
      pa = vAfter;
      nb = varbyteAt(pb);
      pb = vAfter;
      break;
    default:
      return undefined;
  }
  const n = na < nb ? na : nb;
  for (let k = 0; k < n; k++) {
    const x = u[pa + k], y = u[pb + k];
    if (x !== y) return x < y;
  }
  // Equal bytes over the shorter: the shorter sorts first; the same length is a repeat.
  return na === nb ? undefined : na < nb;
}

// Open containers below the current one: values left, tag, last ordered start.
// One loop over this stack instead of a walk calling itself per container:
// event_1's payload validated in ~40 ns against ~51, its counters in registers.
const openLeft = new Int32Array(JS_MAX_DEPTH);
const openTag = new Int32Array(JS_MAX_DEPTH);
const openPrev = new Int32Array(JS_MAX_DEPTH);

/**
 * Validates the value at the start of `bytes` as WASM's validator would with
 * a nesting limit of `maxDepth` and a budget of `maxValues` values, when the
 * value is of the kind this validator orders (see the module doc). Returns
 * its length in bytes, or -1 when WASM must decide (valid or not).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { validateInJs } from "./validate_js.ts";
 * equal(validateInJs(new Uint8Array([0x0e, 0x01, 0x01, 0x01]), 128, 1 << 20), 4);
 * equal(validateInJs(new Uint8Array([0x0e, 0x01]), 128, 1 << 20), -1); // cut short
 * ```
 */
export function validateInJs(bytes: Uint8Array, maxDepth: number, maxValues: number): number {
  const u = bytes, end = bytes.length;
  vU8 = bytes;
  vEnd = end;
  const maxD = maxDepth < JS_MAX_DEPTH ? maxDepth : JS_MAX_DEPTH;
  let p = 0, values = 0, depth = 0;
  // The container being walked: the top level acts as a vector of one value.
  let left = 1, tag = 14, prev = -1;
  for (;;) {
    if (p >= end) return -1;
    const t = u[p];
    values++;
    // Set elements and table keys must ascend; a repeat or a step back goes to WASM.
    // Checked at the element's start: if the element then proves invalid,
    // the input goes to WASM anyway, and if valid, these are the bytes compared.
    if (tag !== 14 && (tag === 12 || (left & 1) === 0)) {
      if (prev >= 0 && before(prev, p) !== true) return -1;
      prev = p;
    }
    left--;
    p++;
    if (t > 14) return -1;
    const fixed = FIXED[t];
    if (fixed !== 0) {
      if (fixed > end - p || (t === 8 && u[p + 2] > 3)) return -1;
      p += fixed;
    } else if (t !== 0) {
      // A length: of a string's or an enum value's bytes, or of a container's values.
      if (p >= end) return -1;
      let n = u[p];
      if (n < 0x80) p++;
      else {
        n = longVarbyteAt(p);
        if (n < 0) return -1;
        p = vAfter;
      }
      if (t < 12) {
        if (n > end - p) return -1;
        p += n;
      } else {
        // Every value takes a byte at least, so a count beyond the bytes left is a lie.
        const count = t === 13 ? 2 * n : n;
        if (count > end - p) return -1;
        if (count !== 0) {
          if (depth >= maxD) return -1;
          openLeft[depth] = left;
          openTag[depth] = tag;
          openPrev[depth] = prev;
          depth++;
          left = count;
          tag = t;
          prev = -1;
          continue;
        }
      }
    }
    while (left === 0) {
      if (depth === 0) return values <= maxValues ? p : -1;
      depth--;
      left = openLeft[depth];
      tag = openTag[depth];
      prev = openPrev[depth];
    }
  }
}
