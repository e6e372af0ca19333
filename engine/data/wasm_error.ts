/**
 * The WASM codec's error codes (a negative scan result) as `BrokerError`s
 * with Broker's error codes: shared by the validator, the builders and the
 * encoder, apart from them so that none imports another for it.
 *
 * @example
 * ```ts
 * import { WasmError } from "../../codec-wasm/mod.ts";
 * import { wasmError } from "./wasm_error.ts";
 * wasmError(WasmError.eof).message; // "truncated value"
 * ```
 *
 * @module
 */
import { WasmError } from "../../codec-wasm/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";

const MESSAGES: Record<number, [ErrorCode, string]> = {
  [WasmError.eof]: [ErrorCode.deserialization_failed, "truncated value"],
  [WasmError.tag]: [ErrorCode.invalid_tag, "unknown data tag"],
  [WasmError.varbyte]: [ErrorCode.deserialization_failed, "varbyte length overflows 32 bits"],
  [WasmError.length]: [ErrorCode.deserialization_failed, "length beyond the end of the input"],
  [WasmError.depth]: [ErrorCode.deserialization_failed, "nesting deeper than the limit"],
  [WasmError.port]: [ErrorCode.deserialization_failed, "port protocol byte above 3"],
  [WasmError.duplicate]: [ErrorCode.deserialization_failed, "duplicate set element or table key"],
  [WasmError.trailing]: [ErrorCode.deserialization_failed, "trailing bytes after the value"],
  [WasmError.empty]: [ErrorCode.deserialization_failed, "cannot parse null data"],
  [WasmError.capacity]: [ErrorCode.deserialization_failed, "tape capacity exceeded"],
};

/** The `BrokerError` for a codec error code (a negative scan result). */
export function wasmError(code: number): BrokerError {
  const [ec, msg] = MESSAGES[code] ?? [ErrorCode.deserialization_failed, `codec error ${code}`];
  return new BrokerError(ec, msg);
}
