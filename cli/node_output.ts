/**
 * `broker node`'s output: broker-node's lines (status events, topic lists,
 * the verbose time prefix, the ping summary) and the printer that writes them.
 *
 * @module
 */
import { formatCafTimespan } from "./cli_values.ts";
import { Address, type Data, dataToString, statusToData, statusTopicOf } from "../mod.ts";
import { writeToStdio } from "./stdio.ts";

/** A data message as a subscriber yields it. */
export interface NodeMessage {
  /** The topic it came on. */
  readonly topic: string;
  /** Its value. */
  readonly data: Data;
}

/**
 * A duration as CAF prints it: the largest unit (h, min, s, ms, us) that
 * gives at least 1, six decimals with trailing zeros cut; else `ns`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatTimespan } from "./node_command.ts";
 * equal(formatTimespan(1_362_169n), "1.362169ms");
 * ```
 */
export function formatTimespan(ns: bigint): string {
  return formatCafTimespan(ns);
}

/**
 * The time prefix of verbose lines: local time with milliseconds, quoted
 * (CAF prints a time point that way).
 *
 * @example
 * ```ts
 * import { formatVerboseTime } from "./node_command.ts";
 * formatVerboseTime(new Date()); // e.g. "\"2024-05-01T12:00:00.123\""
 * ```
 */
export function formatVerboseTime(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `"${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:` +
    `${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}"`;
}

/**
 * A topic list as broker-node prints it: `[/a, /b]`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatTopicList } from "./node_command.ts";
 * equal(formatTopicList(["/a", "/b"]), "[/a, /b]");
 * ```
 */
export function formatTopicList(topics: readonly string[]): string {
  return `[${topics.join(", ")}]`;
}

/** A status or error event, as `Endpoint.statusSubscriber` yields it. */
export interface NodeStatusEvent {
  /** A status or an error. */
  kind: "status" | "error";
  /** Broker's name of its code. */
  codeName: string;
  /** What happened. */
  message: string;
  /** The peer concerned, if any. */
  peer?: { id?: string; host?: string; port?: number };
}

/**
 * A status or error event as the data broker-node's verbose mode prints:
 * it subscribes to `<$>/local/data/statuses` and `errors` and prints each
 * message (`verbose::println(msg)`), which is what `broker-pipe` prints too,
 * behind `*** `. (The reference build prints an empty line there: the
 * message's text is lost on the way to its printer. Ours prints the text.)
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatStatusEvent } from "./node_command.ts";
 * equal(
 *   formatStatusEvent({ kind: "error", codeName: "peer_unavailable", message: "refused" }),
 *   "data(<$>/local/data/errors, (error, peer_unavailable, (refused)))",
 * );
 * ```
 */
export function formatStatusEvent(ev: NodeStatusEvent): string {
  return `data(${statusTopicOf(ev)}, ${dataToString(statusToData(ev))})`;
}

/**
 * The host part of broker-node's disconnect line. It prints CAF's variant
 * form: `anonymous(127.0.0.1)` for addresses, `anonymous("name")` for names.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatVariantHost } from "./node_command.ts";
 * equal(formatVariantHost("localhost"), 'anonymous("localhost")');
 * ```
 */
export function formatVariantHost(host: string): string {
  try {
    Address.parse(host);
    return `anonymous(${host})`;
  } catch {
    return `anonymous("${host}")`;
  }
}

/** Where a printer writes; `stdout` and `stderr` by default. */
export type NodeWrite = (stream: "stdout" | "stderr", text: string) => void;

/**
 * broker-node's three kinds of output lines: plain results on stdout, errors
 * on stderr (red), and verbose lines on stdout (blue, time-prefixed, only
 * when verbose). Colour only where asked, i.e. on a TTY.
 *
 * @example
 * ```ts
 * import { equal, match } from "node:assert/strict";
 * import { NodePrinter } from "./node_command.ts";
 * const out: [string, string][] = [];
 * const p = new NodePrinter({ verbose: true, write: (stream, text) => out.push([stream, text]) });
 * p.verbose("relay messages");
 * equal(out.length, 1);
 * equal(out[0][0], "stdout");
 * match(out[0][1], /^"[-\d:T.]+": relay messages\n$/); // time-prefixed, no colour
 * ```
 */
export class NodePrinter {
  /** Whether verbose lines print. */
  readonly verboseEnabled: boolean;
  /** Whether data messages print as verbose lines (`--print-data`, with `-v`). */
  readonly dataEnabled: boolean;
  readonly #write: NodeWrite;
  readonly #colorOut: boolean;
  readonly #colorErr: boolean;
  readonly #now: () => Date;

  /** A printer; `write` and `color` default to stdio and its TTY-ness, `now` to the clock. */
  constructor(options: {
    verbose: boolean;
    /** Data messages as verbose lines too (with `verbose`). */
    data?: boolean;
    write?: NodeWrite;
    color?: { stdout: boolean; stderr: boolean };
    now?: () => Date;
  }) {
    this.verboseEnabled = options.verbose;
    this.dataEnabled = options.verbose && options.data === true;
    this.#write = options.write ?? writeToStdio;
    this.#colorOut = options.color?.stdout ?? false;
    this.#colorErr = options.color?.stderr ?? false;
    this.#now = options.now ?? (() => new Date());
  }

  /** A result line on stdout. */
  out(text: string): void {
    this.#write("stdout", `${text}${this.#colorOut ? "\x1b[0m" : ""}\n`);
  }

  /** An error line on stderr. */
  err(text: string): void {
    this.#write("stderr", this.#colorErr ? `\x1b[31m${text}\x1b[0m\n` : `${text}\n`);
  }

  /** A verbose line on stdout, if verbose. */
  verbose(text: string): void {
    if (!this.verboseEnabled) return;
    const line = `${formatVerboseTime(this.#now())}: ${text}`;
    this.#write("stdout", this.#colorOut ? `\x1b[34m${line}\x1b[0m\n` : `${line}\n`);
  }

  /** A data message as a verbose line, `data(<topic>, <value>)`, with `--print-data`. */
  data(msg: NodeMessage): void {
    if (this.dataEnabled) this.verbose(`data(${msg.topic}, ${dataToString(msg.data)})`);
  }
}

/**
 * The summary line of `--summary` (after the per-ping lines, which stay as
 * broker-node prints them): round-trip times as CAF prints durations,
 * percentiles by nearest rank.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatPingSummary } from "./node_command.ts";
 * equal(
 *   formatPingSummary([100_000n, 200_000n, 300_000n]),
 *   "rtt min/avg/p50/p99/max = 100us/200us/200us/300us/300us (3 pings)",
 * );
 * ```
 */
export function formatPingSummary(rtts: readonly bigint[]): string {
  const sorted = [...rtts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const n = sorted.length;
  if (n === 0) return "rtt min/avg/p50/p99/max = -/-/-/-/- (0 pings)";
  const rank = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))];
  const avg = sorted.reduce((a, b) => a + b, 0n) / BigInt(n);
  const figures = [sorted[0], avg, rank(0.5), rank(0.99), sorted[n - 1]].map(formatTimespan);
  return `rtt min/avg/p50/p99/max = ${figures.join("/")} (${n} ping${n === 1 ? "" : "s"})`;
}
