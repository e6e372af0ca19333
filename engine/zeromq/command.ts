/**
 * ZMTP 3.x commands (RFC 37): a command frame's body is a name (1-byte
 * length, ASCII) and data. The NULL mechanism's handshake is one READY each
 * way, whose data is metadata properties (name: 1-byte length; value:
 * 4-byte big-endian length); ERROR carries a reason; ZMTP 3.1 adds
 * SUBSCRIBE/CANCEL (a topic prefix) and PING/PONG (heartbeats).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeCommand, encodeReady, parseCommand, parseReady } from "./command.ts";
 * const body = encodeCommand("READY", encodeReady([["Socket-Type", "XSUB"]]));
 * const { name, data } = parseCommand(body);
 * equal(name, "READY");
 * equal(parseReady(data).get("Socket-Type"), "XSUB");
 * ```
 *
 * @module
 */
import { latin1 } from "../bytes.ts";
import { BrokerError, ErrorCode } from "../errors.ts";

/** A command frame's body, split. */
export interface ZmtpCommand {
  /** Command name, e.g. `READY`, `SUBSCRIBE`. */
  name: string;
  /** The rest of the body. */
  data: Uint8Array;
}

/** One metadata property: name and value (values are bytes; socket types are ASCII). */
export type Property = readonly [name: string, value: string | Uint8Array];

const ascii = new TextEncoder();

function bad(msg: string): never {
  throw new BrokerError(ErrorCode.invalid_message, msg);
}

function nameBytes(name: string, what: string): Uint8Array {
  const bytes = ascii.encode(name);
  if (bytes.length === 0 || bytes.length > 255 || bytes.length !== name.length) {
    throw new BrokerError(
      ErrorCode.invalid_data,
      `${what} ${JSON.stringify(name)}: 1 to 255 ASCII bytes`,
    );
  }
  return bytes;
}

/**
 * A command frame's body: name then data.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { encodeCommand } from "./command.ts";
 * deepEqual(encodeCommand("PING", new Uint8Array([0, 1])), new Uint8Array([4, 80, 73, 78, 71, 0, 1]));
 * ```
 */
export function encodeCommand(name: string, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const n = nameBytes(name, "ZMTP command name");
  const out = new Uint8Array(1 + n.length + data.length);
  out[0] = n.length;
  out.set(n, 1);
  out.set(data, 1 + n.length);
  return out;
}

/**
 * Splits a command frame's body. Throws `invalid_message` when the name is
 * empty or runs past the body.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCommand } from "./command.ts";
 * equal(parseCommand(new Uint8Array([4, 80, 73, 78, 71])).name, "PING");
 * ```
 */
export function parseCommand(body: Uint8Array): ZmtpCommand {
  if (body.length === 0 || body[0] === 0) bad("ZMTP command without a name");
  const end = 1 + body[0];
  if (end > body.length) bad("ZMTP command name runs past the frame");
  return { name: latin1(body.subarray(1, end)), data: body.subarray(end) };
}

/**
 * READY's (and INITIATE's) metadata: properties in the order given.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeReady } from "./command.ts";
 * equal(encodeReady([["Socket-Type", "PUSH"]]).length, 1 + 11 + 4 + 4);
 * ```
 */
export function encodeReady(properties: readonly Property[]): Uint8Array {
  const parts = properties.map(([name, value]) => {
    const n = nameBytes(name, "ZMTP property name");
    const v = typeof value === "string" ? ascii.encode(value) : value;
    const out = new Uint8Array(1 + n.length + 4 + v.length);
    out[0] = n.length;
    out.set(n, 1);
    new DataView(out.buffer).setUint32(1 + n.length, v.length);
    out.set(v, 5 + n.length);
    return out;
  });
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * Reads metadata properties. Names are case-insensitive in ZMTP, so the
 * map's keys are as sent and {@link propertyValue} looks them up without
 * case. Throws `invalid_message` when a property runs past the data.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeReady, parseReady, propertyValue } from "./command.ts";
 * const props = parseReady(encodeReady([["Identity", ""]]));
 * equal(propertyValue(props, "identity"), "");
 * ```
 */
export function parseReady(data: Uint8Array): Map<string, string> {
  const props = new Map<string, string>();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let at = 0;
  while (at < data.length) {
    const n = data[at];
    if (n === 0 || at + 1 + n + 4 > data.length) bad("ZMTP property name runs past READY");
    const name = latin1(data.subarray(at + 1, at + 1 + n));
    const len = view.getUint32(at + 1 + n);
    const start = at + 5 + n;
    if (start + len > data.length) bad(`ZMTP property ${name} runs past READY`);
    props.set(name, latin1(data.subarray(start, start + len)));
    at = start + len;
  }
  return props;
}

/** A property by name, ignoring case, as ZMTP compares them. */
export function propertyValue(props: Map<string, string>, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of props) if (k.toLowerCase() === want) return v;
  return undefined;
}

/**
 * An ERROR command's reason (1-byte length, at most 255 bytes).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { encodeError, parseError } from "./command.ts";
 * equal(parseError(encodeError("bad socket type")), "bad socket type");
 * ```
 */
export function encodeError(reason: string): Uint8Array {
  const r = ascii.encode(reason).subarray(0, 255);
  const data = new Uint8Array(1 + r.length);
  data[0] = r.length;
  data.set(r, 1);
  return data;
}

/** Reads an ERROR command's reason; a malformed one reads as what is there. */
export function parseError(data: Uint8Array): string {
  return new TextDecoder("utf-8", { ignoreBOM: true }).decode(data.subarray(1, 1 + (data[0] ?? 0)));
}

/**
 * PING's data: TTL (2 bytes, tenths of a second) and a context echoed by
 * PONG. Returns the PONG's data for a PING's.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { pongFor } from "./command.ts";
 * deepEqual(pongFor(new Uint8Array([0, 10, 42])), new Uint8Array([42]));
 * ```
 */
export function pongFor(pingData: Uint8Array): Uint8Array {
  return pingData.slice(2);
}
