/**
 * `broker replay FILE`: replays a recording into live peers. Broker's
 * generator files (what `BROKER_RECORDING_DIRECTORY` and the cluster
 * benchmark use) keep the shape of each message, so replaying one publishes
 * freshly generated values of those shapes on the recorded topics, as
 * Broker's `broker-cluster-benchmark` does. As fast as possible, or at
 * `--rate` messages per second; a progress line on a TTY and a summary at
 * the end.
 *
 * @module
 */
import {
  addSslOptions,
  DISABLE_SSL_HELP,
  endpointSslOptions,
  type SslCliValues,
} from "./ssl_options.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { BrokerError, encode, Endpoint, ErrorCode } from "../mod.ts";
import { ProgressBar } from "./progress.ts";
import {
  commandFromEntry,
  generateFromShape,
  GENERATOR_MAGIC,
  type GeneratorFile,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import {
  optional,
  parseChoice,
  parseCount,
  parseDuration,
  parsePeerList,
  parseRate,
  required,
  UsageError,
} from "./cli_values.ts";
import { type CaptureEntry, decodeCapture, isCapture } from "../engine/recording/capture/mod.ts";
import { EnvelopeType, parseEnvelope, peekEnvelopeType } from "../engine/wire/mod.ts";
import { encodeCommand } from "../engine/store/commands.ts";
import { brokerMessagesFromPcap } from "../engine/recording/pcap.ts";

const PCAP_MAGICS = [0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1, 0x0a0d0d0a];

/** Whether bytes start like a pcap or pcapng file. */
export function isPcap(bytes: Uint8Array): boolean {
  if (bytes.length < 4) return false;
  const m = new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true);
  return PCAP_MAGICS.includes(m);
}

/** A pcap's node messages as capture entries (what each side received), for `replayCapture`. */
export function pcapAsCapture(bytes: Uint8Array): CaptureEntry[] {
  return brokerMessagesFromPcap(bytes).map((m) => ({
    timeNs: m.timeNs,
    direction: "received" as const,
    peerId: "",
    peerAddress: m.from,
    frame: m.frame,
  }));
}

/**
 * Publishes the data messages of a capture (those the recording endpoint
 * received, by default) with their original topics and payload bytes, as
 * fast as possible, at `rate`, or at the recorded pace.
 *
 * @example
 * ```ts ignore
 * await replayCapture(endpoint, decodeCapture(await Deno.readFile("x.cap")), { pace: true });
 * ```
 */
export async function replayCapture(
  ep: Endpoint,
  entries: readonly CaptureEntry[],
  options: ReplayOptions & { direction?: "received" | "sent" | "both"; pace?: boolean } = {},
): Promise<ReplaySummary> {
  const want = options.direction ?? "received";
  const started = performance.now();
  const bus = ep.commandBus;
  const unsubscribed = new Set<string>();
  let messages = 0, bytes = 0, skipped = 0, dropped = 0;
  const data = entries.filter((e) =>
    (want === "both" || e.direction === want) && peekEnvelopeType(e.frame) === EnvelopeType.data
  );
  const t0 = data[0]?.timeNs ?? 0n;
  for (const e of data) {
    let env;
    try {
      env = parseEnvelope(e.frame);
    } catch {
      skipped++;
      continue;
    }
    const due = options.pace
      ? started + Number(e.timeNs - t0) / 1e6
      : options.rate && options.rate > 0
      ? started + (messages / options.rate) * 1000
      : 0;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    // Broker drops what no peer subscribed to; say so instead of counting it as sent.
    if (!bus.hasPeerSubscriber(env.topic)) {
      unsubscribed.add(env.topic);
      dropped++;
      continue;
    }
    if (ep.demand(env.topic) <= 0) await ep.ready(env.topic);
    try {
      ep.publishEncoded(env.topic, env.payload);
    } catch (e) {
      // A payload that does not parse (a damaged capture) is skipped, never sent.
      if (!(e instanceof BrokerError)) throw e;
      skipped++;
      continue;
    }
    messages++;
    bytes += env.payload.length;
    options.progress?.(messages, data.length, bytes, (performance.now() - started) / 1000);
  }
  return {
    messages,
    commands: 0,
    bytes,
    seconds: (performance.now() - started) / 1000,
    skippedCommands: skipped,
    unsubscribed: dropped,
    unsubscribedTopics: [...unsubscribed],
  };
}

/** What a replay did. */
export interface ReplaySummary {
  /** Data messages published. */
  messages: number;
  /** Store command messages sent (generator files' command entries). */
  commands: number;
  /** Payload bytes published. */
  bytes: number;
  /** How long it took. */
  seconds: number;
  /** Entries not replayed (payloads that do not parse). */
  skippedCommands: number;
  /** Messages not sent because no peer subscribed to their topic (Broker would drop them). */
  unsubscribed: number;
  /** Those topics. */
  unsubscribedTopics: string[];
}

/** Options of a replay. */
export interface ReplayOptions {
  /** Messages per second; 0 or undefined: as fast as the peers take them. */
  rate?: number;
  /** Seed of the value generator, so a replay can be repeated exactly. */
  seed?: number;
  /** Called now and then with the messages sent so far. */
  progress?: (sent: number, total: number, bytes: number, seconds: number) => void;
}

/**
 * Publishes a generator file's entries through an endpoint: data messages
 * with values of the recorded shapes, and store command entries as command
 * messages on their store topics (as Broker's cluster benchmark sends them).
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { replayGeneratorFile } from "./replay_command.ts";
 * import { readGeneratorFile } from "../engine/recording/generator_file.ts";
 * import { Endpoint } from "../mod.ts";
 * const mars = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
 * const file = readGeneratorFile(await Deno.readFile(mars));
 * const endpoint = new Endpoint();
 * const summary = await replayGeneratorFile(endpoint, file, { rate: 0 });
 * equal(summary.unsubscribed, 1000); // nobody subscribed to /benchmark/events
 * await endpoint.shutdown();
 * ```
 */
export async function replayGeneratorFile(
  ep: Endpoint,
  file: GeneratorFile,
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  const rnd = seededRandom(options.seed ?? 1);
  const started = performance.now();
  const bus = ep.commandBus;
  const unsubscribed = new Set<string>();
  let messages = 0, commands = 0, bytes = 0, skipped = 0, dropped = 0, lastReport = started;
  const total = file.entries.length;
  for (const e of file.entries) {
    if (e.kind === "data" && !e.shape) {
      skipped++;
      continue;
    }
    if (options.rate && options.rate > 0) {
      const due = started + ((messages + commands) / options.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    if (!bus.hasPeerSubscriber(e.topic)) {
      unsubscribed.add(e.topic);
      dropped++;
      continue;
    }
    if (ep.demand(e.topic) <= 0) await ep.ready(e.topic);
    if (e.kind === "command") {
      const payload = encodeCommand(commandFromEntry(e, rnd));
      bus.sendCommand(e.topic, payload);
      commands++;
      bytes += payload.length;
      continue;
    }
    const payload = encode(generateFromShape(e.shape!, rnd));
    ep.publishEncoded(e.topic, payload);
    messages++;
    bytes += payload.length;
    const now = performance.now();
    if (options.progress && now - lastReport > 200) {
      lastReport = now;
      options.progress(messages + commands, total, bytes, (now - started) / 1000);
    }
  }
  options.progress?.(messages + commands, total, bytes, (performance.now() - started) / 1000);
  return {
    messages,
    commands,
    bytes,
    seconds: (performance.now() - started) / 1000,
    skippedCommands: skipped,
    unsubscribed: dropped,
    unsubscribedTopics: [...unsubscribed],
  };
}

/** What a capture holds, by envelope type and direction: for saying why nothing was replayed. */
export interface CaptureContents {
  /** Data messages the recording endpoint received. */
  received: number;
  /** Data messages it sent. */
  sent: number;
  /** Store command messages, either way. */
  commands: number;
  /** Frames in all (handshakes, routing updates ... included). */
  frames: number;
}

/**
 * Counts what a capture holds.
 *
 * @example
 * ```ts ignore
 * const c = captureContents(decodeCapture(bytes)); // { received: 3, sent: 0, commands: 0, frames: 9 }
 * ```
 */
export function captureContents(entries: readonly CaptureEntry[]): CaptureContents {
  const c = { received: 0, sent: 0, commands: 0, frames: entries.length };
  for (const e of entries) {
    const type = peekEnvelopeType(e.frame);
    if (type === EnvelopeType.data) c[e.direction]++;
    else if (type === EnvelopeType.command) c.commands++;
  }
  return c;
}

/** The formats `broker replay` reads, in the order it tries them. */
export const REPLAY_FORMATS = [
  "a capture of broker record",
  "pcap",
  "pcapng",
  "a Broker generator file",
] as const;

/**
 * Reads a recording in any format `broker replay` takes; a file in none of
 * them is an error that names every format tried and the first bytes seen.
 *
 * @example
 * ```ts ignore
 * const r = readRecording(await Deno.readFile("x.cap")); // { capture: [...] }
 * ```
 */
export function readRecording(
  bytes: Uint8Array,
): { capture: CaptureEntry[]; file?: undefined } | { file: GeneratorFile; capture?: undefined } {
  if (isCapture(bytes)) return { capture: decodeCapture(bytes) };
  if (isPcap(bytes)) return { capture: pcapAsCapture(bytes) };
  if (
    bytes.length >= 4 &&
    new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === GENERATOR_MAGIC
  ) {
    return { file: readGeneratorFile(bytes) };
  }
  const head = [...bytes.subarray(0, 4)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
  throw new BrokerError(
    ErrorCode.wrong_magic_number,
    `not a recording: tried ${REPLAY_FORMATS.slice(0, -1).join(", ")} and ${
      REPLAY_FORMATS[REPLAY_FORMATS.length - 1]
    }; the file starts with ${bytes.length ? head : "nothing (it is empty)"}`,
  );
}

/**
 * Why a replay sent nothing, in words, from what the file holds and what
 * the replay did.
 *
 * @example
 * ```ts ignore
 * console.log(whyNothingReplayed(summary, { capture: captureContents(entries), direction: "received" }));
 * ```
 */
export function whyNothingReplayed(
  summary: ReplaySummary,
  what: { capture?: CaptureContents; file?: GeneratorFile; direction: string },
): string {
  const c = what.capture;
  if (c) {
    const selected = what.direction === "both"
      ? c.received + c.sent
      : c[what.direction as "received" | "sent"];
    if (selected === 0) {
      const other = what.direction === "received"
        ? c.sent
        : what.direction === "sent"
        ? c.received
        : 0;
      if (other > 0) {
        const dir = what.direction === "received" ? "sent" : "received";
        return `no data messages in direction ${what.direction} (the file has ${other} ${dir}: ` +
          `try --direction ${dir} or both)`;
      }
      if (c.commands > 0) {
        return `the file holds only store commands (${c.commands}), which replay sends only from generator files`;
      }
      return `the file holds no data messages (${c.frames} frames of handshakes and control messages)`;
    }
  }
  if (what.file && what.file.entries.length === 0) return "the generator file has no entries";
  if (summary.unsubscribed > 0) {
    return `no peer subscribed to the recorded topics (${
      summary.unsubscribedTopics.slice(0, 5).join(", ")
    }${summary.unsubscribedTopics.length > 5 ? ", ..." : ""})`;
  }
  if (summary.skippedCommands > 0) {
    return `all ${summary.skippedCommands} entries were skipped (payloads that do not parse)`;
  }
  return "the file has nothing to replay";
}

/** Values of `broker replay`'s options as commander hands them over. */
interface ReplayCli extends SslCliValues {
  peers?: string;
  publishRate?: string;
  seed?: string;
  pace?: boolean;
  direction?: string;
  timeout?: string;
  allowEmpty?: boolean;
  json?: boolean;
}

/**
 * Registers `broker replay`.
 *
 * @example
 * ```ts ignore
 * registerReplayCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerReplayCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("replay")
    .description(
      "replay a capture (broker record), a pcap/pcapng of Broker traffic or a Broker generator file into live peers",
    )
    .argument(
      "<file>",
      "a capture (broker record), a pcap or pcapng of Broker traffic, or a Broker generator file (mars.dat)",
    )
    .option(
      "-p, --peers <list>",
      "peers to publish to: host:port, [v6]:port, tcp://host:port, or a list '[\"h:p\", ...]'",
    )
    .option(
      "--publish-rate <msgs/s>",
      "messages per second, e.g. 1000 (default: 0, as fast as the peers take them)",
    )
    .option("--pace", "captures: keep the recorded timing")
    .option("--direction <dir>", "captures: received, sent or both (default: received)")
    .option("--seed <n>", "generator files: seed of the value generator (default: 1)")
    .option(
      "--timeout <duration>",
      "how long to wait for peers to subscribe to the recorded topics, e.g. 500ms (default: 10s)",
    )
    .option("--allow-empty", "exit 0 even when nothing was replayed")
    .option("--disable-ssl", DISABLE_SSL_HELP)
    .option("--json", "print the summary as JSON on stdout");
  addSslOptions(command)
    .addHelpText(
      "after",
      `
A replay that sends nothing says why (no data messages in that direction, only
store commands, no peer subscribed to the topics) and exits with 1, unless
--allow-empty. Messages on topics no peer subscribed to are not sent and not
counted (Broker would drop them).`,
    )
    .action(async (path: string, cli: ReplayCli) => {
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l));
      // Every option first: a bad one is a usage error before the file is read.
      const peers = parsePeerList(
        required(cli.peers, "--peers", "a peer to publish to"),
        "--peers",
      );
      if (peers.length === 0) throw new UsageError("--peers", "a peer to publish to is required");
      const rate = optional(cli.publishRate, "--publish-rate", parseRate) ?? 0;
      const seed = optional(cli.seed, "--seed", parseCount) ?? 1;
      const direction = optional(
        cli.direction,
        "--direction",
        (t, o) => parseChoice(t, o, ["received", "sent", "both"] as const),
      ) ?? "received";
      const timeoutMs = optional(cli.timeout, "--timeout", parseDuration) ?? 10_000;
      if (cli.pace && rate > 0) {
        throw new UsageError("--pace", "keeps the recorded timing: leave out --publish-rate");
      }
      const ssl = endpointSslOptions(cli);
      let file: GeneratorFile | undefined;
      let capture: CaptureEntry[] | undefined;
      try {
        ({ file, capture } = readRecording(await Deno.readFile(path)));
      } catch (e) {
        const m = e instanceof BrokerError ? `${e.codeName}: ${e.message}` : (e as Error).message;
        err(`broker replay: ${m}\n`);
        setExitCode(1);
        return;
      }
      let ep: Endpoint;
      try {
        ep = new Endpoint(ssl);
      } catch (e) {
        err(`broker replay: ${(e as Error).message}\n`);
        setExitCode(1);
        return;
      }
      try {
        for (const p of peers) await ep.peer(p.host, p.port, { retryMs: 0 });
        // Publish only once someone listens to the recorded topics (all at
        // once, so one silent topic costs the timeout once).
        const topics = file ? file.topics : [
          ...new Set(
            capture!.filter((e) => peekEnvelopeType(e.frame) === EnvelopeType.data).map((e) => {
              try {
                return parseEnvelope(e.frame).topic;
              } catch {
                return "";
              }
            }),
          ),
        ].filter(Boolean);
        await Promise.all(
          topics.map((t) => ep.awaitPeerSubscription(t, timeoutMs).catch(() => {})),
        );
        const bar = Deno.stderr.isTerminal() ? new ProgressBar(err) : undefined;
        const replayOptions = {
          rate,
          seed,
          pace: !!cli.pace,
          direction,
          progress: bar
            ? (done: number, total: number, bytes: number, seconds: number) =>
              bar.update({ done, total, bytes, seconds })
            : undefined,
        };
        const summary = file
          ? await replayGeneratorFile(ep, file, replayOptions)
          : await replayCapture(ep, capture!, replayOptions);
        bar?.finish();
        await ep.shutdown();
        const empty = summary.messages + summary.commands === 0;
        if (cli.json) {
          const rate = summary.messages / Math.max(summary.seconds, 1e-9);
          Deno.stdout.writeSync(
            enc.encode(JSON.stringify({ ...summary, messagesPerSecond: rate }) + "\n"),
          );
        } else if (!empty) {
          err(
            `replayed ${summary.messages} messages (${(summary.bytes / 1e6).toFixed(1)} MB) ` +
              `in ${summary.seconds.toFixed(2)} s ` +
              `(${Math.round(summary.messages / Math.max(summary.seconds, 1e-9))} msgs/s)` +
              (summary.commands ? `, and ${summary.commands} store commands` : "") +
              (summary.skippedCommands
                ? `, skipped ${summary.skippedCommands} entries that do not parse`
                : "") +
              (summary.unsubscribed
                ? `; ${summary.unsubscribed} not sent: no peer subscribed to ${
                  summary.unsubscribedTopics.slice(0, 5).join(", ")
                }${summary.unsubscribedTopics.length > 5 ? ", ..." : ""}`
                : "") +
              "\n",
          );
        }
        if (empty) {
          const why = whyNothingReplayed(summary, {
            capture: capture ? captureContents(capture) : undefined,
            file,
            direction,
          });
          err(
            `broker replay: nothing replayed: ${why}${
              cli.allowEmpty ? "" : " (--allow-empty: exit 0 anyway)"
            }\n`,
          );
          setExitCode(cli.allowEmpty ? 0 : 1);
          return;
        }
        setExitCode(0);
      } catch (e) {
        err(`broker replay: ${(e as Error).message}\n`);
        setExitCode(1);
        await ep.shutdown();
      }
    });
}
