/**
 * `broker record`: peers, subscribes to topics, and writes every frame the
 * endpoint sends and receives to a capture file (FlatBuffers entries, see
 * `engine/recording/capture/capture.fbs`) until `--duration` seconds,
 * `--count` data messages, or Ctrl-C. `broker replay` reads the file back.
 *
 * @module
 */
import { addSslOptions, endpointSslOptions, type SslCliValues } from "./ssl_options.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { Endpoint, type RecordedFrame } from "../mod.ts";
import { CAPTURE_MAGIC, encodeCaptureEntry } from "../engine/recording/capture/mod.ts";
import { parsePeerList } from "./pipe_command.ts";

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
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;
  /** Data messages (node message type 1) recorded so far. */
  dataMessages = 0;
  /** Frames recorded so far. */
  frames = 0;

  private constructor(file: Deno.FsFile) {
    this.#file = file;
  }

  /** Creates (truncates) a capture file and writes its magic. */
  static async create(path: string): Promise<CaptureFile> {
    const f = await Deno.open(path, { write: true, create: true, truncate: true });
    f.writeSync(CAPTURE_MAGIC);
    return new CaptureFile(f);
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
    if (f.frame.length > 32 && f.frame[32] === 1) this.dataMessages++;
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

  /** Flushes and closes. */
  close(): void {
    this.flush();
    this.#file.close();
  }
}

/** Registers `broker record`. */
export function registerRecordCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("record")
    .description("record what an endpoint sends and receives into a capture file")
    .requiredOption("-o, --output <file>", "the capture file to write")
    .option("-t, --topics <list>", "topics to subscribe to, comma-separated", "")
    .option("-p, --peers <list>", "peers to connect to, e.g. '[\"127.0.0.1:9999\"]'")
    .option("-l, --local-port <port>", "also accept peers on this port")
    .option("--duration <s>", "stop after this many seconds")
    .option("-c, --count <n>", "stop after this many data messages")
    .option("--disable-ssl", "use unencrypted communication (the default without a certificate)")
    .option("--json", "print the summary as JSON on stdout");
  addSslOptions(command)
    .action(async (cli) => {
      const enc = new TextEncoder();
      const err = (l: string) => Deno.stderr.writeSync(enc.encode(l + "\n"));
      let ep: Endpoint;
      let file: CaptureFile;
      try {
        file = await CaptureFile.create(cli.output);
        ep = new Endpoint({
          ...endpointSslOptions(cli as SslCliValues),
          recorder: (f) => file.add(f),
        });
      } catch (e) {
        err(`broker record: ${(e as Error).message}`);
        setExitCode(1);
        return;
      }
      let stop!: () => void;
      const stopped = new Promise<void>((r) => stop = r);
      const onSignal = () => stop();
      Deno.addSignalListener("SIGINT", onSignal);
      try {
        const topics = cli.topics
          ? cli.topics.split(",").map((t: string) => t.trim()).filter(Boolean)
          : [];
        const sub = topics.length ? ep.subscribe(topics) : undefined;
        if (cli.localPort) await ep.listen("0.0.0.0", Number(cli.localPort));
        for (const p of cli.peers ? parsePeerList(cli.peers) : []) {
          await ep.peer(p.host, p.port, { retry: 0 });
        }
        if (cli.duration) setTimeout(stop, Number(cli.duration) * 1000);
        const limit = cli.count ? Number(cli.count) : Infinity;
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
        file.close();
        setExitCode(1);
      } finally {
        Deno.removeSignalListener("SIGINT", onSignal);
      }
    });
}
