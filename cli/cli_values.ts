/**
 * The values every `broker` subcommand takes, parsed one way for all of them,
 * and the one error they raise for bad input.
 *
 * A parser gets the text as the user typed it and the option's name, and
 * returns the value or throws a `UsageError` that names the option and what
 * it accepts. `cli/main.ts` turns a `UsageError` into one line on stderr,
 * `broker <subcommand>: <option>: <message>`, and exit code 2, before the
 * subcommand does anything.
 *
 * Conventions (the README's "Command line" table lists the options):
 * - durations take CAF's units (`100us`, `500ms`, `2s`, `1min`, `1h`, also
 *   `ns`) and `d`, as store values do; a bare number is in the unit the option documents (seconds unless
 *   its help says otherwise);
 * - counts are whole numbers (`1000`, `1e6`), rates are messages per second
 *   (`1000`, `2.5`, `1000/s`; 0 is as fast as possible);
 * - peers are `host:port`, `[v6]:port`, `tcp://host:port`, `<tcp://host:port>`,
 *   several of them separated by commas or in a CAF list
 *   (`'["h:p", <tcp://h:p>]'`);
 * - bind addresses are IP addresses or host names without a port.
 *
 * @example
 * ```ts
 * import { deepEqual, equal } from "node:assert/strict";
 * import { parseDuration, parsePeerList, UsageError } from "./cli_values.ts";
 * equal(parseDuration("500ms", "--timeout"), 500);
 * deepEqual(parsePeerList("<tcp://127.0.0.1:9999>", "--peers"), [{ host: "127.0.0.1", port: 9999 }]);
 * try {
 *   parseDuration("-1", "--timeout");
 * } catch (e) {
 *   equal(e instanceof UsageError, true);
 *   equal(
 *     (e as UsageError).message,
 *     '--timeout: expected a duration such as 500ms, 2s or 1min (a bare number is seconds), got "-1"',
 *   );
 * }
 * ```
 *
 * @module
 */
import { parseCafList } from "./caf_config.ts";
import { NS_PER_TIMESPAN_UNIT } from "../engine/data/timespan_units.ts";

/**
 * A bad command line: an option with a value it does not take, a missing
 * argument, options that do not go together. The program prints
 * `broker <subcommand>: <option>: <detail>` and exits with code 2.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { UsageError } from "./cli_values.ts";
 * const e = new UsageError("--mode", 'expected one of relay, ping, pong; got "x"');
 * equal(e.option, "--mode");
 * equal(e.message, '--mode: expected one of relay, ping, pong; got "x"');
 * ```
 */
export class UsageError extends Error {
  /** The option or argument at fault (`--rate`, `<file>`), or "" when none is. */
  readonly option: string;
  /** What is wrong, without the option. */
  readonly detail: string;

  /** An error about `option` (may be ""); `detail` says what it accepts. */
  constructor(option: string, detail: string) {
    super(option ? `${option}: ${detail}` : detail);
    this.name = "UsageError";
    this.option = option;
    this.detail = detail;
  }
}

/** The exit code of a usage error, as in BSD's sysexits and most shells' builtins. */
export const USAGE_EXIT_CODE = 2;

/**
 * The one line a usage error prints: `broker node: --rate: ...`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatUsageError, UsageError } from "./cli_values.ts";
 * equal(
 *   formatUsageError("broker replay", new UsageError("--direction", "bad")),
 *   "broker replay: --direction: bad",
 * );
 * ```
 */
export function formatUsageError(command: string, e: UsageError): string {
  return `${command}: ${e.message}`;
}

// The text as it appears in messages: quoted, so that "" and " " show.
function shown(text: string): string {
  return JSON.stringify(text);
}

function empty(text: string | undefined): boolean {
  return text === undefined || text.trim() === "";
}

// ------------------------------------------------------------------ numbers

/** Bounds of a count. */
export interface CountOptions {
  /**
   * Smallest value allowed.
   * @default 0
   */
  min?: number;
  /**
   * Largest value allowed.
   * @default `Number.MAX_SAFE_INTEGER`
   */
  max?: number;
}

/**
 * A whole number (`100`, `1e6`) within `min`..`max`: counts, sizes, seeds.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseCount } from "./cli_values.ts";
 * equal(parseCount("1e3", "--num-messages", { min: 1 }), 1000);
 * ```
 */
export function parseCount(text: string, option: string, options: CountOptions = {}): number {
  const min = options.min ?? 0, max = options.max ?? Number.MAX_SAFE_INTEGER;
  const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
  const t = text.trim();
  const v = /^\+?\d+(?:e\+?\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(option, `expected a whole number ${range}, got ${shown(text)}`);
  }
  return v;
}

/**
 * A count of at least 1.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parsePositiveCount } from "./cli_values.ts";
 * equal(parsePositiveCount("4", "--publishers"), 4);
 * ```
 */
export function parsePositiveCount(text: string, option: string): number {
  return parseCount(text, option, { min: 1 });
}

/**
 * A rate in messages per second: a non-negative number, `/s` allowed
 * (`1000`, `2.5`, `1000/s`); 0 means as fast as possible.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseRate } from "./cli_values.ts";
 * equal(parseRate("1000/s", "--publish-rate"), 1000);
 * ```
 */
export function parseRate(text: string, option: string): number {
  const t = text.trim().replace(/\s*\/\s*s$/, "");
  const v = /^\+?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?$/i.test(t) ? Number(t) : NaN;
  if (!Number.isFinite(v) || v < 0) {
    throw new UsageError(
      option,
      `expected messages per second, a number ≥ 0 such as 1000 (0: as fast as possible), got ${
        shown(text)
      }`,
    );
  }
  return v;
}

// ------------------------------------------------------------------ durations

/**
 * A duration's unit names, as CAF writes them (and `µs`), in nanoseconds:
 * numbers, because these durations are milliseconds as JS numbers. Exact: no
 * unit holds more than 2^53 ns.
 */
const NANOS: Readonly<Record<string, number>> = {
  ...Object.fromEntries(Object.entries(NS_PER_TIMESPAN_UNIT).map(([u, ns]) => [u, Number(ns)])),
  "µs": 1e3,
};

/**
 * A duration option's text: a number and one of `NANOS`' units, the units a
 * store value's timespan takes too (`d` beyond CAF's), so that every
 * subcommand reads `1d` alike. Longer names first: `min` before `ms` before `s`.
 */
const DURATION_RE = new RegExp(
  String.raw`^\+?(\d+\.?\d*|\.\d+)\s*(` +
    Object.keys(NANOS).sort((a, b) => b.length - a.length).join("|") + ")?$",
);

/** What a bare number means and which durations an option takes. */
export interface DurationOptions {
  /**
   * The unit of a number without one.
   * @default `"s"`
   */
  bareUnit?: "ms" | "s";
  /**
   * Whether 0 is allowed.
   * @default true
   */
  allowZero?: boolean;
}

/**
 * A duration as CAF and Broker write them (`100us`, `500ms`, `2s`, `1.5s`,
 * `1min`, `1h`, `ns` too) or in days (`1d`, as store values), in milliseconds. A bare number is in `bareUnit`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseDuration } from "./cli_values.ts";
 * equal(parseDuration("1min", "--duration"), 60000);
 * equal(parseDuration("250", "--x", { bareUnit: "ms" }), 250);
 * ```
 */
export function parseDuration(
  text: string,
  option: string,
  options: DurationOptions = {},
): number {
  const bare = options.bareUnit ?? "s";
  const m = DURATION_RE.exec(text.trim());
  const ms = m ? (Number(m[1]) * NANOS[m[2] ?? bare]) / 1e6 : NaN;
  const zeroOk = options.allowZero ?? true;
  if (!Number.isFinite(ms) || ms > 1e12 || (!zeroOk && ms === 0)) {
    throw new UsageError(
      option,
      `expected ${zeroOk ? "a" : "a positive"} duration such as 500ms, 2s or 1min ` +
        `(a bare number is ${bare === "s" ? "seconds" : "milliseconds"}), got ${shown(text)}`,
    );
  }
  return ms;
}

/**
 * A duration in milliseconds as CAF prints one: the largest unit that gives
 * at least 1 (`1.5s`, `250ms`, `100us`, `2min`), `0s` for zero.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatDuration } from "./cli_values.ts";
 * equal(formatDuration(1500), "1.5s");
 * equal(formatDuration(0.1), "100us");
 * ```
 */
export function formatDuration(ms: number): string {
  return formatCafTimespan(BigInt(Math.round(ms * 1e6)));
}

/**
 * A timespan as CAF prints one (`1.5s`, `250ms`, `-2min`).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatCafTimespan } from "./cli_values.ts";
 * equal(formatCafTimespan(1_362_169n), "1.362169ms");
 * ```
 */
export function formatCafTimespan(ns: bigint): string {
  if (ns === 0n) return "0s";
  const units: [number, string][] = [[3600e9, "h"], [60e9, "min"], [1e9, "s"], [1e6, "ms"], [
    1e3,
    "us",
  ]];
  const x = Number(ns);
  for (const [size, suffix] of units) {
    if (Math.abs(x) / size >= 1) {
      return (x / size).toFixed(6).replace(/0+$/, "").replace(/\.$/, "") + suffix;
    }
  }
  return `${ns}ns`;
}

// ------------------------------------------------------------------ choices

/**
 * One of a fixed set of words (modes, directions).
 *
 * @example
 * ```ts
 * import { parseChoice } from "./cli_values.ts";
 * const d = parseChoice("sent", "--direction", ["received", "sent", "both"] as const); // "sent"
 * ```
 */
export function parseChoice<T extends string>(
  text: string,
  option: string,
  allowed: readonly T[],
): T {
  const t = text.trim();
  if ((allowed as readonly string[]).includes(t)) return t as T;
  throw new UsageError(option, `expected one of ${allowed.join(", ")}; got ${shown(text)}`);
}

// ------------------------------------------------------------------ addresses

/** A peer to dial. */
export interface HostPort {
  /** Host name or address (IPv6 without brackets). */
  host: string;
  /** TCP port. */
  port: number;
}

const PEER_FORMS =
  'host:port, [v6]:port, tcp://host:port or <tcp://host:port>, e.g. "127.0.0.1:9999"';

/**
 * A port: `29001`, or Zeek's `29001/tcp`. 0 only where `allowZero` (e.g.
 * "any free port", or "do not listen").
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parsePort } from "./cli_values.ts";
 * equal(parsePort("29001/tcp", "--port"), 29001);
 * ```
 */
export function parsePort(
  text: string,
  option: string,
  options: { allowZero?: boolean } = {},
): number {
  const m = /^\s*(\d{1,5})(?:\/tcp)?\s*$/.exec(text);
  const v = m ? Number(m[1]) : NaN;
  const min = options.allowZero ? 0 : 1;
  if (!(v >= min && v <= 65535)) {
    throw new UsageError(
      option,
      `expected a port from ${min} to 65535 (e.g. 29001 or 29001/tcp), got ${shown(text)}`,
    );
  }
  return v;
}

function hostPort(entry: string, option: string): HostPort {
  let t = entry.trim();
  const bad = (why: string): never => {
    throw new UsageError(option, `${why} in ${shown(entry)} (expected ${PEER_FORMS})`);
  };
  if (t.startsWith("<") && t.endsWith(">")) t = t.slice(1, -1).trim();
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(t);
  if (scheme) {
    if (scheme[1].toLowerCase() !== "tcp") bad(`unsupported scheme ${scheme[1]}`);
    t = t.slice(scheme[0].length).replace(/\/$/, "");
  }
  const m = /^\[([0-9A-Fa-f:.]+(?:%[\w.-]+)?)\]:(\d+)$/.exec(t) ?? /^([^:\s/\[\]]+):(\d+)$/.exec(t);
  if (!m) {
    if (t.split(":").length > 2) bad("an IPv6 address needs brackets");
    bad(/:\d*$/.test(t) ? "bad host or port" : "no port");
  }
  const port = Number(m![2]);
  if (!(port >= 1 && port <= 65535)) bad(`port ${m![2]} out of range`);
  return { host: m![1], port };
}

/**
 * Peers to dial, in the one syntax all subcommands take: `host:port`,
 * `[v6]:port`, `tcp://host:port` or `<tcp://host:port>`, several separated
 * by commas, or a CAF list of any of these (`'["h:p", <tcp://h:p>]'`, as
 * broker-node and broker-pipe take them). An empty list is an empty array.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parsePeerList } from "./cli_values.ts";
 * deepEqual(parsePeerList('["127.0.0.1:1", <tcp://[::1]:2>]', "--peers"), [
 *   { host: "127.0.0.1", port: 1 },
 *   { host: "::1", port: 2 },
 * ]);
 * ```
 */
export function parsePeerList(text: string, option = "--peers"): HostPort[] {
  const t = text.trim();
  if (t === "") throw new UsageError(option, `expected peers as ${PEER_FORMS}, got ""`);
  // `[::1]:9999` starts with a bracket too, but a CAF list never has `]:` after an address.
  if (t.startsWith("[") && !/^\[[0-9A-Fa-f:.]*(?:%[\w.-]+)?\]:/.test(t)) {
    let items;
    try {
      items = parseCafList(t);
    } catch (e) {
      throw new UsageError(option, `${(e as Error).message} (expected a list of ${PEER_FORMS})`);
    }
    return items.map((v) => {
      if (v.type === "string") return hostPort(v.value, option);
      if (v.type === "uri") return hostPort(v.value.text, option);
      throw new UsageError(
        option,
        `expected quoted "host:port" strings or <tcp://host:port> in ${shown(text)}`,
      );
    });
  }
  return t.split(",").map((p) => hostPort(p, option));
}

/**
 * A peer as a URI, the way broker-node prints peers: `tcp://[::1]:9999`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { peerUri } from "./cli_values.ts";
 * equal(peerUri({ host: "::1", port: 9999 }), "tcp://[::1]:9999");
 * ```
 */
export function peerUri(p: HostPort): string {
  return `tcp://${p.host.includes(":") ? `[${p.host}]` : p.host}:${p.port}`;
}

/**
 * An address to bind a listener to: an IPv4 or IPv6 address (brackets
 * optional) or a host name, without a port. `0.0.0.0` and `::` are all
 * interfaces.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { parseBindAddress } from "./cli_values.ts";
 * equal(parseBindAddress("[::1]", "--address"), "::1");
 * ```
 */
export function parseBindAddress(text: string, option: string): string {
  let t = text.trim();
  if (t.startsWith("[") && t.endsWith("]")) t = t.slice(1, -1);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  const ok = v4
    ? v4.slice(1).every((x) => Number(x) <= 255)
    : t.includes(":")
    ? /^[0-9A-Fa-f:.]+(?:%[\w.-]+)?$/.test(t) && t.split(":").length >= 3 &&
      t.split(":").length <= 9
    : /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*\.?$/.test(t) &&
      // All-numeric names are malformed IPv4 addresses (300.1.1.1), not host names.
      !/^[\d.]+$/.test(t);
  if (!ok) {
    const hint = /^[^:]+:\d+$/.test(t) || /^\[.*\]:\d+$/.test(text.trim())
      ? "; the port is an option of its own"
      : "";
    throw new UsageError(
      option,
      `expected an IP address or host name to listen on (e.g. 127.0.0.1, ::1, 0.0.0.0 for all)${hint}, got ${
        shown(text)
      }`,
    );
  }
  return t;
}

/**
 * A ZeroMQ endpoint as Zeek's `Cluster::Backend::ZeroMQ` options spell them:
 * `tcp://host:port` or `tcp://[v6]:port`. With `listen`, the host may be
 * `*` (all interfaces, given back as `0.0.0.0`) and the port 0 (any free
 * one). Other transports (`ipc://`, `inproc://`) are libzmq's own and
 * refused.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseZmqEndpoint } from "./cli_values.ts";
 * deepEqual(parseZmqEndpoint("tcp://127.0.0.1:5556", "--x"), { host: "127.0.0.1", port: 5556 });
 * deepEqual(parseZmqEndpoint("tcp://*:5556", "--x", { listen: true }), { host: "0.0.0.0", port: 5556 });
 * ```
 */
export function parseZmqEndpoint(
  text: string,
  option: string,
  options: { listen?: boolean } = {},
): HostPort {
  const t = text.trim();
  const forms = options.listen
    ? "tcp://host:port, tcp://[v6]:port or tcp://*:port"
    : "tcp://host:port or tcp://[v6]:port";
  const m = /^tcp:\/\/(?:\[([0-9A-Fa-f:.]+)\]|([^:\s/\[\]]+)):(\d{1,5})$/.exec(t);
  if (!m) {
    throw new UsageError(option, `expected a ZeroMQ endpoint, ${forms}, got ${shown(text)}`);
  }
  const host = m[1] ?? m[2];
  if (host === "*" && !options.listen) {
    throw new UsageError(option, `* (all interfaces) only where we listen, got ${shown(text)}`);
  }
  const port = Number(m[3]);
  if (!(port >= (options.listen ? 0 : 1) && port <= 65535)) {
    throw new UsageError(option, `port ${m[3]} out of range in ${shown(text)}`);
  }
  return { host: host === "*" ? "0.0.0.0" : host, port };
}

// ------------------------------------------------------------------ topics

/**
 * Topics: a CAF list (`'["/a", "/b"]'`, as broker-node takes them), one
 * quoted string, or bare topics separated by commas (`/a,/b`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { parseTopicList } from "./cli_values.ts";
 * deepEqual(parseTopicList('["/a", "/b"]', "--topics"), ["/a", "/b"]);
 * deepEqual(parseTopicList("/a,/b", "--topics"), ["/a", "/b"]);
 * ```
 */
export function parseTopicList(text: string, option: string): string[] {
  const t = text.trim();
  if (t === "") {
    throw new UsageError(option, `expected topics, e.g. '["/a", "/b"]' or /a,/b, got ""`);
  }
  if (/^["'\[]/.test(t)) {
    let items;
    try {
      items = parseCafList(t);
    } catch (e) {
      throw new UsageError(option, `${(e as Error).message} (expected e.g. '["/a", "/b"]')`);
    }
    return items.map((v) =>
      v.type === "string" ? v.value : (() => {
        throw new UsageError(
          option,
          `expected quoted topics, e.g. '["/a", "/b"]', got ${shown(text)}`,
        );
      })()
    );
  }
  return t.split(",").map((s) => s.trim()).filter((s) => s !== "");
}

// ------------------------------------------------------------------ helpers

/**
 * Applies `parse` to an option's text if the option was given.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { optional, parseRate } from "./cli_values.ts";
 * equal(optional(undefined, "--publish-rate", parseRate), undefined);
 * ```
 */
export function optional<T>(
  text: string | undefined,
  option: string,
  parse: (text: string, option: string) => T,
): T | undefined {
  return text === undefined ? undefined : parse(text, option);
}

/**
 * Refuses a missing or empty required value with a usage error.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { required } from "./cli_values.ts";
 * equal(required("/t", "--topic"), "/t");
 * ```
 */
export function required(text: string | undefined, option: string, what = "a value"): string {
  if (empty(text)) throw new UsageError(option, `${what} is required`);
  return text!;
}

/**
 * `args` (a subcommand's, after its name) with the operands that begin with
 * `-` and a digit (`-2.5min`, `-5s`, `-1`) moved behind a `--`, in order:
 * commander reads `-5s` as an unknown option (only bare negative numbers are
 * operands to it). `valueOptions` are the flags that take the next argument
 * as their value (`-p`, `--timeout`): a `-5s` there stays where it is. Other
 * arguments keep their places; arguments after a `--` given already stay
 * operands.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { negativeOperandsLast } from "./cli_values.ts";
 * deepEqual(
 *   negativeOperandsLast(["kv", "put", "k", "-2.5min", "-p", "h:1"], new Set(["-p"])),
 *   ["-p", "h:1", "--", "kv", "put", "k", "-2.5min"],
 * );
 * deepEqual(negativeOperandsLast(["kv", "get", "k"], new Set()), ["kv", "get", "k"]);
 * ```
 */
export function negativeOperandsLast(
  args: readonly string[],
  valueOptions: ReadonlySet<string>,
): string[] {
  const options: string[] = [], operands: string[] = [];
  let moved = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === "--") {
      operands.push(...args.slice(i + 1));
      break;
    }
    if (/^-\.?\d/.test(a)) {
      operands.push(a);
      moved = true;
    } else if (a.startsWith("-")) {
      options.push(a);
      if (valueOptions.has(a) && i + 1 < args.length) options.push(args[++i]);
    } else operands.push(a);
  }
  return moved ? [...options, "--", ...operands] : [...args];
}

// ------------------------------------------------------------------ listeners

/** One listener a subcommand opens: the option that gives its port, the port (0: any), its address. */
export interface ListenerSpec {
  /** The option, for the message (`--local-port`). */
  where: string;
  /** Its port; undefined when it does not listen, 0 for any free one. */
  port?: number;
  /** The address it binds (`0.0.0.0` and `::` are every interface). */
  address?: string;
}

/**
 * The first two of a subcommand's own listeners that would bind one port
 * (the second bind would fail once the first is up): the same port, and the
 * same address or every interface on one side. `[earlier, later]`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { listenerClash } from "./cli_values.ts";
 * const clash = listenerClash([
 *   { where: "--port", port: 9999, address: "127.0.0.1" },
 *   { where: "--broker.metrics.port", port: 9999, address: "127.0.0.2" },
 * ]);
 * equal(clash, undefined); // two addresses
 * ```
 */
export function listenerClash(
  listeners: readonly ListenerSpec[],
): [ListenerSpec, ListenerSpec] | undefined {
  const any = (x: string) => x === "0.0.0.0" || x === "::";
  for (const [i, l] of listeners.entries()) {
    if (l.port === undefined || l.port === 0) continue;
    const a = l.address ?? "0.0.0.0";
    const clash = listeners.slice(0, i).find((m) => {
      const b = m.address ?? "0.0.0.0";
      return m.port === l.port && (a === b || any(a) || any(b));
    });
    if (clash) return [clash, l];
  }
  return undefined;
}

/**
 * Throws a `UsageError` naming the later of two listeners on one port
 * (see {@linkcode listenerClash}).
 *
 * @example
 * ```ts
 * import { throws } from "node:assert/strict";
 * import { checkListenerPorts, UsageError } from "./cli_values.ts";
 * throws(() => checkListenerPorts([
 *   { where: "--local-port", port: 9999, address: "0.0.0.0" },
 *   { where: "--broker.metrics.port", port: 9999, address: "127.0.0.1" },
 * ]), UsageError);
 * ```
 */
export function checkListenerPorts(listeners: readonly ListenerSpec[]): void {
  const clash = listenerClash(listeners);
  if (clash) throw new UsageError(clash[1].where, listenerClashMessage(clash));
}

/** What a clash says: `port 9999 is --local-port's too: give each its own`. */
export function listenerClashMessage([first, second]: [ListenerSpec, ListenerSpec]): string {
  return `port ${second.port} is ${first.where}'s too: give each its own`;
}
