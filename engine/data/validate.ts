/**
 * Validation of Broker's binary format v1 in the WASM codec, and the glue
 * every reader shares: decode options and their defaults, codec error codes
 * turned into `BrokerError`s, and the decode budget.
 *
 * @module
 */
import { MAX_DEPTH_LIMIT, WasmCodec, WasmError } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import { validateInJs } from "./validate_js.ts";
import { decodeValidated } from "./build.ts";
import { wasmError } from "./wasm_error.ts";

export { wasmError };

/** Options for decoding and validating. */
export interface DecodeOptions {
  /**
   * Deepest nesting of non-empty containers accepted (Broker itself has no
   * limit and can exhaust its stack on hostile input).
   * @default 128 (`DEFAULT_MAX_DEPTH`)
   */
  maxDepth?: number;
  /**
   * Accept bytes after the value (Broker's data envelopes do not).
   * @default false
   */
  allowTrailing?: boolean;
  /**
   * Most values one input may hold, counting every container and element at
   * every level: a decode budget, because a byte or two per value (an empty
   * vector) becomes an object of tens of bytes. Over it is
   * `deserialization_failed`, found by validation before anything is built.
   * Broker has no limit.
   * @default 1_048_576 (`DEFAULT_MAX_VALUES`)
   */
  maxValues?: number;
}

/** Default nesting limit. */
export const DEFAULT_MAX_DEPTH = 128;

/** Default decode budget (`maxValues`). */
export const DEFAULT_MAX_VALUES = 1 << 20;

/** Checks that the input is bytes: a decoder must throw only `BrokerError`s. */
export function asBytes(input: Uint8Array): Uint8Array {
  if (!(input instanceof Uint8Array)) {
    throw new BrokerError(ErrorCode.deserialization_failed, "input is not a Uint8Array");
  }
  return input;
}

/**
 * Runs one scan of the loaded input (with a tape, or validation only) and
 * turns its outcome into a node count or a BrokerError.
 */
export function scanLoaded(
  c: WasmCodec,
  len: number,
  opts: DecodeOptions | undefined,
  tape: boolean,
) {
  return finishScan(c, runScan(c, len, opts, tape), len, opts, tape);
}

/** One scan's raw result (negative: a `WasmError`). */
function runScan(c: WasmCodec, len: number, opts: DecodeOptions | undefined, tape: boolean) {
  try {
    return tape ? c.scan(len, depthLimit(opts), true) : c.validate(len, depthLimit(opts));
  } catch (e) {
    // A trap (e.g. call stack exhaustion comparing absurdly deep keys) is a bad input too.
    throw new BrokerError(ErrorCode.deserialization_failed, `codec trap: ${e}`, { cause: e });
  }
}

/** A scan's result `r` as a node count, or the BrokerError it stands for. */
function finishScan(
  c: WasmCodec,
  r: number,
  len: number,
  opts: DecodeOptions | undefined,
  tape: boolean,
) {
  if (r < 0) throw wasmError(r);
  const extent = tape ? c.extent() : r;
  if (extent !== len && !opts?.allowTrailing) throw wasmError(WasmError.trailing);
  const values = c.valueCount(), budget = opts?.maxValues ?? DEFAULT_MAX_VALUES;
  if (values > budget) {
    throw new BrokerError(
      ErrorCode.deserialization_failed,
      `${values} values in ${extent} bytes exceed the decode budget of ${budget} (maxValues)`,
    );
  }
  return r;
}

/**
 * Validates one encoded value completely (structure, lengths, tags, ports,
 * order and uniqueness of set elements and table keys) without building it.
 * Returns the bytes it occupies; throws a `BrokerError` when invalid.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { validate } from "./validate.ts";
 * equal(validate(new Uint8Array([0x0e, 0x00])), 2); // an empty vector
 * ```
 */
export function validate(bytes: Uint8Array, options?: DecodeOptions): number {
  const extent = extentInJs(bytes, options, options?.allowTrailing);
  if (extent >= 0) return extent;
  const c = WasmCodec.shared();
  const length = validateLoaded(c, c.load(asBytes(bytes)), options);
  if (c.unsorted()) checkRepeats(bytes);
  return length;
}

/**
 * For valid bytes with a set or table out of order: throws on a repeat in
 * one, as Broker's decoder does (it inserts each element and drops the
 * message at a repeat). WASM checks neighbours as they arrive; only sorting
 * finds a repeat further apart (`{b, a, b}`), so the value is built, as
 * `decodeValidated` would later, and dropped. Broker never sends a set out
 * of order: this is for hand-made bytes, not the common path.
 */
function checkRepeats(bytes: Uint8Array): void {
  decodeValidated(bytes, true);
}

/**
 * The extent of a small value that the JS validator accepts (it accepts only
 * sorted sets and tables, so nothing needs re-sorting), or -1 when WASM must
 * decide: what WASM accepts or rejects, and why, stays WASM's word.
 */
function extentInJs(
  bytes: Uint8Array,
  opts: DecodeOptions | undefined,
  allowTrailing: boolean | undefined,
): number {
  if (!(bytes instanceof Uint8Array) || bytes.length > JS_VALIDATE_MAX) return -1;
  const r = validateInJs(bytes, depthLimit(opts), opts?.maxValues ?? DEFAULT_MAX_VALUES);
  return r === bytes.length || (r >= 0 && allowTrailing) ? r : -1;
}

/**
 * Inputs up to this many bytes are validated in JS first: for small scalars
 * (27 B) it took 37 ns where copying into WASM and validating there took
 * 54 ns; per value WASM is faster (the conn event, 275 B: 147 vs 198 ns).
 */
const JS_VALIDATE_MAX = 64;

function depthLimit(opts: DecodeOptions | undefined): number {
  const d = opts?.maxDepth;
  return d === undefined ? DEFAULT_MAX_DEPTH : Math.min(Math.max(0, d | 0), MAX_DEPTH_LIMIT);
}

/** Validates the loaded input without a tape; returns its extent or throws. */
export function validateLoaded(c: WasmCodec, len: number, opts: DecodeOptions | undefined): number {
  return scanLoaded(c, len, opts, false);
}

/**
 * Validates like `validate` and says whether some set or table arrived out of
 * Broker's order: what `decodeValidated` needs to build the value later
 * without validating the bytes again.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeValidated } from "./build.ts";
 * import { validateForLater } from "./validate.ts";
 * const bytes = new Uint8Array([0x08, 0x00, 0x50, 0x01]);
 * const unsorted = validateForLater(bytes); // false; throws on bad input
 * equal(String(decodeValidated(bytes, unsorted).value), "80/tcp");
 * ```
 */
export function validateForLater(bytes: Uint8Array, options?: DecodeOptions): boolean {
  if (extentInJs(bytes, options, options?.allowTrailing) >= 0) return false;
  const c = WasmCodec.shared();
  validateLoaded(c, c.load(asBytes(bytes)), options);
  const unsorted = c.unsorted();
  if (unsorted) checkRepeats(bytes);
  return unsorted;
}

/**
 * Validates the value at the start of `bytes` (more may follow) and returns
 * its length and, as `validateForLater`, whether `decodeValidated` must re-sort.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decodeValidated } from "./build.ts";
 * import { validatePrefix } from "./validate.ts";
 * const bytes = new Uint8Array([0x02, 0, 0, 0, 0, 0, 0, 0, 7, 0xff]);
 * const { length, unsorted } = validatePrefix(bytes); // length 9
 * equal(decodeValidated(bytes.subarray(0, length), unsorted).value, 7n);
 * ```
 */
export function validatePrefix(
  bytes: Uint8Array,
  options?: DecodeOptions,
): { length: number; unsorted: boolean } {
  asBytes(bytes);
  // What follows the value is not read: a small value is found in the first
  // bytes whatever their number, and WASM gets a window of them that doubles
  // while the value runs past it (a scan copies its input into the codec:
  // each key and value of an ack_clone's state used to copy all the state
  // after it, and a clone of a 300k-entry store froze for ~40 s).
  const head = bytes.length > JS_VALIDATE_MAX ? bytes.subarray(0, JS_VALIDATE_MAX) : bytes;
  const extent = extentInJs(head, options, true);
  if (extent >= 0) return { length: extent, unsorted: false };
  const c = WasmCodec.shared();
  let w = Math.min(bytes.length, PREFIX_WINDOW), len, r;
  for (;;) {
    len = c.load(bytes.subarray(0, w));
    r = runScan(c, len, options, false);
    // Any error may be the window's end (a length or a count past it): only
    // the whole input's is final.
    if (r >= 0 || w === bytes.length) break;
    w = Math.min(bytes.length, w * 2);
  }
  const length = finishScan(c, r, len, { ...options, allowTrailing: true }, false);
  const unsorted = c.unsorted();
  if (unsorted) checkRepeats(bytes.subarray(0, length));
  return { length, unsorted };
}

/** The first window of bytes `validatePrefix` hands WASM (the whole input when shorter). */
const PREFIX_WINDOW = 4096;
