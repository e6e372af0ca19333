/**
 * `broker record`: peers, subscribes to topics, and writes every frame the
 * endpoint sends and receives to a capture file (FlatBuffers entries, see
 * `engine/recording/capture/capture.fbs`) until `--duration`,
 * `--message-cap` data messages, or Ctrl-C. `broker replay` reads the file back.
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
import { Endpoint, type RecordedFrame } from "../mod.ts";
import { CAPTURE_MAGIC, encodeCaptureEntry } from "../engine/recording/capture/mod.ts";
import { EnvelopeType, peekEnvelopeType } from "../engine/wire/envelope.ts";
import {
  optional,
  parseBindAddress,
  parseDuration,
  parsePeerList,
  parsePort,
  parsePositiveCount,
  parseTopicList,
  UsageError,
} from "./cli_values.ts";
import { timerDelay } from "../engine/timer_delay.ts";
import { listenOnAll } from "./listen_all.ts";

/**
 * A recorder that appends capture entries to an open file, batching writes.
 *
 * @example
 * ```ts ignore
 * const rec = await CaptureFile.create("out.cap");
 * const ep = new Endpoint({ recorder: (f) => rec.add(f) });
 * ```
 */
export class CaptureFile {
  readonly #file: Deno.FsFile;
  /** Where the capture goes once closed, and where it is written until then. */
  readonly #path: string;
  readonly #partial: string;
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Data messages (node message type 1) recorded so far. */
  dataMessages = 0;
  /** Frames recorded so far. */
  frames = 0;

  private constructor(file: Deno.FsFile, path: string, partial: string) {
    this.#file = file;
    this.#path = path;
    this.#partial = partial;
  }

  /**
   * Starts a capture for `path`, written to `path.partial` and renamed to
   * `path` by `close`: a recording that fails (a peer not reached) leaves a
   * file of that name as it was, and one cut short keeps what was flushed.
   */
  static async create(path: string): Promise<CaptureFile> {
    const partial = `${path}.partial`;
    const f = await Deno.open(partial, { write: true, create: true, truncate: true });
    f.writeSync(CAPTURE_MAGIC);
    return new CaptureFile(f, path, partial);
  }

  /** Records one frame (a recorder callback). */
  add(f: RecordedFrame): void {
    const entry = encodeCaptureEntry({
      timeNs: BigInt(Date.now()) * 1_000_000n,
      direction: f.direction,
      peerId: f.peerId ?? "",
      peerAddress: `${f.host}:${f.port}`,
      frame: f.frame,
    });
    this.frames++;
    if (peekEnvelopeType(f.frame) === EnvelopeType.data) this.dataMessages++;
    this.#pending.push(entry);
    this.#pendingBytes += entry.length;
    if (this.#pendingBytes > 1 << 20) this.flush();
  }

  /** Writes what is buffered. */
  flush(): void {
    for (const e of this.#pending.splice(0)) {
      let off = 0;
      while (off < e.length) off += this.#file.writeSync(e.subarray(off));
    }
    this.#pendingBytes = 0;
  }

  /** Flushes, closes, and puts the capture in its place. */
  close(): void {
    this.flush();
    this.#file.close();
    Deno.renameSync(this.#partial, this.#path);
  }

  /** Closes and removes what was written: the recording failed. */
  discard(): void {
    this.#file.close();
    Deno.removeSync(this.#partial);
  }
}

/** Values of `broker record`'s options as commander hands them over. */
interface RecordCli extends SslCliValues {
  output: string;
  topics?: string;
  peers?: string;
  localPort?: string;
  address?: string;
  duration?: string;
  messageCap?: string;
  count?: string;
  json?: boolean;
}

/**
 * Registers `broker record`.
 *
 * @example
 * ```ts ignore
 * registerRecordCommand(program, (code) => exitCode = code);
 * ```
 */
export function registerRecordCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("record")
    .description("record what an endpoint sends and receives into a capture file")
    .requiredOption("-o, --output <file>", "the capture file to write")
    .option(
      "-t, --topics <list>",
      'topics to subscribe to (peers send only those), e.g. \'["/a","/b"]\' or /a,/b',
    )
    .option(
      "-p, --peers <list>",
      "peers to connect to: host:port, [v6]:port, tcp://host:port, or a list '[\"h:p\", ...]'",
    )
    .option("-l, --local-port <port>", "also accept peers on this port (default: none)")
    .option(
      "--address <addr>",
      "address to listen on with --local-port (default: 0.0.0.0, all IPv4 interfaces)",
    )
    .option(
      "--duration <duration>",
      "stop after this long, e.g. 30s or 5min (default: until Ctrl-C)",
    )
    .option("-c, --message-cap <n>", "stop after this many data messages (default: no limit)")
    .option("--count <n>", "the same as --message-cap (nats's name)")
    .option("--disable-ssl", DISABLE_SSL_HELP)
    .option("--json", "print the summary as JSON on stdout");
  addSslOptions(command)
    .action(async (cli: RecordCli) => {
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l + "\n"));
      // Every option first: a bad one is a usage error before the file is created.
      if (cli.output === "") throw new UsageError("--output", "a file name is needed");
      const topics = optional(cli.topics, "--topics", parseTopicList) ?? [];
      const peers = optional(cli.peers, "--peers", parsePeerList) ?? [];
      const localPort = optional(cli.localPort, "--local-port", parsePort);
      const address = optional(cli.address, "--address", parseBindAddress) ?? "0.0.0.0";
      if (cli.address !== undefined && localPort === undefined) {
        throw new UsageError("--address", "is where --local-port listens: give --local-port too");
      }
      const durationMs = optional(
        cli.duration,
        "--duration",
        (t, o) => parseDuration(t, o, { allowZero: false }),
      );
      if (cli.messageCap !== undefined && cli.count !== undefined) {
        throw new UsageError("--count", "the same as --message-cap: give one of them");
      }
      const limit = optional(cli.count, "--count", parsePositiveCount) ??
        optional(cli.messageCap, "--message-cap", parsePositiveCount) ?? Infinity;
      if (peers.length === 0 && localPort === undefined) {
        throw new UsageError("--peers", "nothing to record from: give --peers or --local-port");
      }
      if (topics.length === 0) {
        // Peers send an endpoint only what it subscribed to: without topics, no data.
        err(
          "broker record: warning: no --topics: records handshakes and control frames only, " +
            "no data messages (give -t /topic, or -t / for everything)",
        );
      }
      let ep: Endpoint;
      let file: CaptureFile;
      const ssl = endpointSslOptions(cli); // (a usage error, before any file)
      try {
        file = await CaptureFile.create(cli.output);
      } catch (e) {
        // A file we cannot write is a bad --output, found before anything connects
        // (as bench's --chart); Deno's ": open '<path>.partial'" tail is left out.
        const why = e instanceof Error ? e.message.replace(/: open '.*$/, "") : String(e);
        throw new UsageError("--output", `cannot write ${cli.output}: ${why}`);
      }
      try {
        ep = new Endpoint({ ...ssl, recorder: (f) => file.add(f) });
      } catch (e) {
        file.discard();
        err(`broker record: ${(e as Error).message}`);
        setExitCode(1);
        return;
      }
      let stop!: () => void;
      const stopped = new Promise<void>((r) => stop = r);
      const onSignal = () => stop();
      // SIGTERM (kill, a service manager) ends a recording as ^C does: the capture is kept.
      Deno.addSignalListener("SIGINT", onSignal);
      Deno.addSignalListener("SIGTERM", onSignal);
      // What is buffered reaches the file each second: a process killed outright keeps most.
      const flusher = setInterval(() => file.flush(), 1000);
      let timer: ReturnType<typeof setTimeout> | undefined;
      try {
        const sub = topics.length ? ep.subscribe(topics) : undefined;
        if (localPort !== undefined) {
          // 0.0.0.0, every interface: IPv6 too, as broker node's and broker pipe's listeners.
          await listenOnAll(address, (h) => ep.listen(h, localPort));
        }
        for (const p of peers) await ep.peer(p.host, p.port, { retryMs: 0 });
        if (durationMs !== undefined) timer = setTimeout(stop, timerDelay(durationMs));
        (async () => {
          if (!sub) return;
          let n = 0;
          for await (const _ of sub) if (++n >= limit) return stop();
        })();
        await stopped;
        await ep.shutdown();
        file.close();
        if (cli.json) {
          const summary = {
            file: cli.output,
            frames: file.frames,
            dataMessages: file.dataMessages,
          };
          Deno.stdout.writeSync(enc.encode(JSON.stringify(summary) + "\n"));
        } else {
          err(
            `recorded ${file.frames} frames (${file.dataMessages} data messages) to ${cli.output}`,
          );
        }
        setExitCode(0);
      } catch (e) {
        err(`broker record: ${(e as Error).message}`);
        await ep.shutdown();
        file.discard();
        setExitCode(1);
      } finally {
        clearTimeout(timer);
        clearInterval(flusher);
        Deno.removeSignalListener("SIGINT", onSignal);
        Deno.removeSignalListener("SIGTERM", onSignal);
      }
    });
}
