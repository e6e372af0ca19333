/**
 * Broker's binary format v1 for `data`: `encode`, `decode`, `validate`, and
 * lazy access to encoded values (`EncodedData`) without materialising them.
 *
 * JS decodes in one pass that checks the bytes as it builds; the WASM codec
 * validates what that pass leaves to it (and every input larger than 64
 * bytes that is validated without being built), and indexes for the lazy
 * view, crossing the boundary once per message, not once per value.
 *
 * This module is the face of the codec; each concern has its own module:
 * `validate.ts` (validation, options, codec errors), `validate_js.ts` (the
 * JS validator for small inputs), `decode.ts` (the checking JS decoder),
 * `build.ts` (building validated bytes), `read_text.ts` (text out of bytes),
 * `decode_tape.ts` (the WASM tape decoder), `view.ts` (the lazy view),
 * `header.ts` (the header-only scan), `encode.ts` (the JS encoder),
 * `encode_wasm.ts` (the WASM encoder), `builder.ts` (a value written field by
 * field, as Broker's builders do) and `slab.ts` (the shared output slab).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { decode, encode } from "./binary.ts";
 * import { port } from "./constructors.ts";
 * equal(String(decode(encode(port(80, "tcp"))).value), "80/tcp");
 * ```
 *
 * @module
 */
export {
  type DecodeOptions,
  DEFAULT_MAX_DEPTH,
  DEFAULT_MAX_VALUES,
  validate,
  validateForLater,
  validatePrefix,
} from "./validate.ts";
export { decode, decodeLoaded } from "./decode.ts";
export { decodeValidated } from "./build.ts";
export { decodeViaTape } from "./decode_tape.ts";
export { EncodedData } from "./view.ts";
export { type DataHeader, scanHeader } from "./header.ts";
export { encode, encodeAfter, writeData } from "./encode.ts";
export { DataBuilder } from "./builder.ts";
export { encodeWasm } from "./encode_wasm.ts";
export { concatToSlab, copyToSlab } from "./slab.ts";
