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
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { BrokerError, Endpoint } from "../mod.ts";
import {
  generateFromShape,
  type GeneratorFile,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { type HostPort, parsePeerList } from "./pipe_command.ts";

/** What a replay did. */
export interface ReplaySummary {
  messages: number;
  bytes: number;
  seconds: number;
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
 * Publishes a generator file's data messages through an endpoint (store
 * commands are counted and skipped: they need a store to replay into).
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
  let messages = 0, bytes = 0, skipped = 0, lastReport = started;
  const total = file.entries.filter((e) => e.kind === "data").length;
  for (const e of file.entries) {
    if (e.kind !== "data" || !e.shape) {
      skipped++;
      continue;
    }
    if (options.rate && options.rate > 0) {
      const due = started + (messages / options.rate) * 1000;
      const wait = due - performance.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    }
    if (ep.demand(e.topic) <= 0) await ep.ready(e.topic);
    const value = generateFromShape(e.shape, rnd);
    ep.publish(e.topic, value);
    messages++;
    bytes += e.topic.length;
    const now = performance.now();
    if (options.progress && now - lastReport > 200) {
      lastReport = now;
      options.progress(messages, total, bytes, (now - started) / 1000);
    }
  }
  return {
    messages,
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
  program
    .command("replay")
    .description("replay a Broker recording (generator file) into live peers")
    .argument("<file>", "a generator file (e.g. mars.dat from the cluster benchmark)")
    .option("-p, --peers <list>", "peers to publish to, e.g. '[\"127.0.0.1:9999\"]'")
    .option("-r, --rate <n>", "messages per second (default: as fast as possible)")
    .option("--seed <n>", "seed of the value generator (default 1)")
    .option("--disable-ssl", "use unencrypted communication (TLS is not implemented yet)")
    .action(async (path: string, cli: { peers?: string; rate?: string; seed?: string }) => {
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l));
      let file: GeneratorFile;
      let peers: HostPort[];
      try {
        file = readGeneratorFile(await Deno.readFile(path));
        peers = cli.peers ? parsePeerList(cli.peers) : [];
        if (peers.length === 0) throw new Error("no peers given (-p)");
      } catch (e) {
        const m = e instanceof BrokerError ? `${e.codeName}: ${e.message}` : (e as Error).message;
        err(`broker replay: ${m}\n`);
        setExitCode(1);
        return;
      }
      const ep = new Endpoint();
      try {
        for (const p of peers) await ep.peer(p.host, p.port, { retry: 0 });
        // Publish only once someone listens to the recorded topics.
        for (const t of file.topics) await ep.awaitPeerSubscription(t, 10_000).catch(() => {});
        const tty = Deno.stderr.isTerminal();
        const summary = await replayGeneratorFile(ep, file, {
          rate: cli.rate ? Number(cli.rate) : undefined,
          seed: cli.seed ? Number(cli.seed) : undefined,
          progress: tty
            ? (n, total, _b, s) => {
              const eta = n > 0 ? ((total - n) * s) / n : 0;
              err(
                `\r${n}/${total} messages, ${Math.round(n / s)} msgs/s, ETA ${eta.toFixed(1)} s `,
              );
            }
            : undefined,
        });
        if (tty) err("\n");
        await ep.shutdown();
        err(
          `replayed ${summary.messages} messages in ${summary.seconds.toFixed(2)} s ` +
            `(${Math.round(summary.messages / Math.max(summary.seconds, 1e-9))} msgs/s)` +
            (summary.skippedCommands ? `, skipped ${summary.skippedCommands} store commands` : "") +
            "\n",
        );
        setExitCode(0);
      } catch (e) {
        err(`broker replay: ${(e as Error).message}\n`);
        setExitCode(1);
        await ep.shutdown();
      }
    });
}
