/**
 * Broker's error codes (`broker::ec`) and the one error class of the project.
 *
 * @module
 */

/**
 * Broker's `ec` enum, numerically identical to `libbroker/broker/error.hh`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { ErrorCode } from "./errors.ts";
 * equal(ErrorCode.invalid_tag, 19);
 * ```
 */
export enum ErrorCode {
  none = 0,
  unspecified = 1,
  peer_incompatible = 2,
  peer_invalid = 3,
  peer_unavailable = 4,
  peer_disconnect_during_handshake = 5,
  peer_timeout = 6,
  master_exists = 7,
  no_such_master = 8,
  no_such_key = 9,
  request_timeout = 10,
  type_clash = 11,
  invalid_data = 12,
  backend_failure = 13,
  stale_data = 14,
  cannot_open_file = 15,
  cannot_write_file = 16,
  invalid_topic_key = 17,
  end_of_file = 18,
  invalid_tag = 19,
  invalid_message = 20,
  invalid_status = 21,
  conversion_failed = 22,
  consumer_exists = 23,
  connection_timeout = 24,
  bad_member_function_call = 25,
  repeated_request_id = 26,
  broken_clone = 27,
  shutting_down = 28,
  invalid_peering_request = 29,
  repeated_peering_handshake_request = 30,
  unexpected_handshake_message = 31,
  invalid_handshake_state = 32,
  no_path_to_peer = 33,
  no_connector_available = 34,
  cannot_open_resource = 35,
  serialization_failed = 36,
  deserialization_failed = 37,
  wrong_magic_number = 38,
  redundant_connection = 39,
  logic_error = 40,
  invalid_json = 41,
}

/**
 * The project's only error type. `code` is Broker's numeric `ec` value;
 * `codeName` its name as Broker prints it (e.g. `"invalid_tag"`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { BrokerError, ErrorCode } from "./errors.ts";
 * const err = new BrokerError(ErrorCode.type_clash, "expected a count");
 * equal(err.code, 11);
 * equal(err.codeName, "type_clash");
 * ```
 */
export class BrokerError extends Error {
  /** Broker's numeric error code (`ec`). */
  readonly code: ErrorCode;
  /** Where in the input the problem was found, when it applies. */
  readonly offset?: number;

  /** An error with Broker's code, a message, and optionally where and why. */
  constructor(code: ErrorCode, message: string, options?: { offset?: number; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "BrokerError";
    this.code = code;
    if (options?.offset !== undefined) this.offset = options.offset;
  }

  /** The code's name as Broker spells it. */
  get codeName(): string {
    return ErrorCode[this.code] ?? `ec(${this.code})`;
  }
}
