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
import { addSslOptions, endpointSslOptions, type SslCliValues } from "./ssl_options.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { BrokerError, encode, Endpoint } from "../mod.ts";
import { ProgressBar } from "./progress.ts";
import {
  commandFromEntry,
  generateFromShape,
  type GeneratorFile,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { type HostPort, parsePeerList } from "./pipe_command.ts";
import { type CaptureEntry, decodeCapture, isCapture } from "../engine/recording/capture/mod.ts";
import { parseEnvelope } from "../engine/wire/mod.ts";
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
  let messages = 0, bytes = 0, skipped = 0;
  const data = entries.filter((e) =>
    (want === "both" || e.direction === want) && e.frame.length > 32 && e.frame[32] === 1
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
 * ```ts ignore
 * const file = readGeneratorFile(await Deno.readFile("mars.dat"));
 * const summary = await replayGeneratorFile(endpoint, file, { rate: 1000 });
 * ```
 */
export async function replayGeneratorFile(
  ep: Endpoint,
  file: GeneratorFile,
  options: ReplayOptions = {},
): Promise<ReplaySummary> {
  const rnd = seededRandom(options.seed ?? 1);
  const started = performance.now();
  let messages = 0, commands = 0, bytes = 0, skipped = 0, lastReport = started;
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
    if (ep.demand(e.topic) <= 0) await ep.ready(e.topic);
    if (e.kind === "command") {
      const payload = encodeCommand(commandFromEntry(e, rnd));
      ep.commandBus.sendCommand(e.topic, payload);
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
  };
}

/** Registers `broker replay`. */
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
    .option("--pace", "captures: keep the recorded timing")
    .option("--direction <d>", "captures: 'received' (default), 'sent' or 'both'")
    .option("-p, --peers <list>", "peers to publish to, e.g. '[\"127.0.0.1:9999\"]'")
    .option("-r, --rate <n>", "messages per second (default: as fast as possible)")
    .option("--seed <n>", "seed of the value generator (default 1)")
    .option("--disable-ssl", "use unencrypted communication (the default without a certificate)")
    .option("--json", "print the summary as JSON on stdout");
  addSslOptions(command)
    .action(async (
      path: string,
      cli: {
        peers?: string;
        rate?: string;
        seed?: string;
        pace?: boolean;
        direction?: string;
        json?: boolean;
      } & SslCliValues,
    ) => {
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l));
      let file: GeneratorFile | undefined;
      let capture: CaptureEntry[] | undefined;
      let peers: HostPort[];
      try {
        const bytes = await Deno.readFile(path);
        if (isCapture(bytes)) capture = decodeCapture(bytes);
        else if (isPcap(bytes)) capture = pcapAsCapture(bytes);
        else file = readGeneratorFile(bytes);
        peers = cli.peers ? parsePeerList(cli.peers) : [];
        if (peers.length === 0) throw new Error("no peers given (-p)");
      } catch (e) {
        const m = e instanceof BrokerError ? `${e.codeName}: ${e.message}` : (e as Error).message;
        err(`broker replay: ${m}\n`);
        setExitCode(1);
        return;
      }
      let ep: Endpoint;
      try {
        ep = new Endpoint(endpointSslOptions(cli));
      } catch (e) {
        err(`broker replay: ${(e as Error).message}\n`);
        setExitCode(1);
        return;
      }
      try {
        for (const p of peers) await ep.peer(p.host, p.port, { retry: 0 });
        // Publish only once someone listens to the recorded topics.
        const topics = file ? file.topics : [
          ...new Set(
            capture!.filter((e) => e.frame[32] === 1).map((e) => {
              try {
                return parseEnvelope(e.frame).topic;
              } catch {
                return "";
              }
            }),
          ),
        ].filter(Boolean);
        for (const t of topics) await ep.awaitPeerSubscription(t, 10_000).catch(() => {});
        const bar = Deno.stderr.isTerminal() ? new ProgressBar(err) : undefined;
        const replayOptions = {
          rate: cli.rate ? Number(cli.rate) : undefined,
          seed: cli.seed ? Number(cli.seed) : undefined,
          pace: !!cli.pace,
          direction: (cli.direction ?? "received") as "received" | "sent" | "both",
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
        if (cli.json) {
          const rate = summary.messages / Math.max(summary.seconds, 1e-9);
          Deno.stdout.writeSync(
            enc.encode(JSON.stringify({ ...summary, messagesPerSecond: rate }) + "\n"),
          );
        } else {
          err(
            `replayed ${summary.messages} messages (${(summary.bytes / 1e6).toFixed(1)} MB) ` +
              `in ${summary.seconds.toFixed(2)} s ` +
              `(${Math.round(summary.messages / Math.max(summary.seconds, 1e-9))} msgs/s)` +
              (summary.commands ? `, and ${summary.commands} store commands` : "") +
              (summary.skippedCommands
                ? `, skipped ${summary.skippedCommands} entries that do not parse`
                : "") +
              "\n",
          );
        }
        setExitCode(0);
      } catch (e) {
        err(`broker replay: ${(e as Error).message}\n`);
        setExitCode(1);
        await ep.shutdown();
      }
    });
}
