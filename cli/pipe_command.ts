/**
 * `broker pipe`: a drop-in for Broker's `broker-pipe`. Publish mode reads
 * lines from stdin and publishes each as a string (or, with `--json`, as the
 * value the line holds in Broker's JSON); subscribe mode prints every
 * message as `data(<topic>, <value>)` in Broker's text form (or as a JSON
 * data message with `--json`), and endpoint statuses as `*** ...` lines.
 *
 * @module
 */
import { addSslOptions, endpointSslOptions, type SslCliValues } from "./ssl_options.ts";
import { lines } from "./self.ts";
import type { SslOptions } from "../engine/transport/tls.ts";
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import { type Data, dataFromJson, dataMessageToJson, dataToString, Endpoint, str } from "../mod.ts";

// The peer syntax is shared by every subcommand; `broker store` imports it from here.
export { type HostPort, parsePeerList } from "./cli_values.ts";
import { parsePeerList } from "./cli_values.ts";

/** Values of `broker pipe`'s options as commander hands them over. */
export interface PipeCliValues extends SslCliValues {
  /** `--mode`, as given. */
  mode?: string;
  /** `--topic`, as given. */
  topic?: string;
  /** `--peers`, as given. */
  peers?: string;
  /** `--local-port`, as given. */
  localPort?: string;
  /** `--message-cap`, as given. */
  messageCap?: string;
  /** `--rate`, as given. */
  rate?: boolean;
  /** `--json`, as given. */
  json?: boolean;
}

/** Parsed options. */
export interface PipeOptions {
  /** Publish stdin lines, or print what arrives. */
  mode: "publish" | "subscribe";
  /** The topic. */
  topic: string;
  /** Peers to dial. */
  peers: { host: string; port: number }[];
  /** Port to listen on (0: none). */
  localPort: number;
  /** Stop after this many messages (0: never). */
  cap: number;
  /** Print the rate once per second instead of messages. */
  rate: boolean;
  /** Values in Broker's JSON instead of strings and text. */
  json: boolean;
  /** TLS or plain TCP (see `endpointSslOptions`). */
  endpoint?: { disableSsl: boolean; ssl?: SslOptions };
}

/**
 * Checks and converts the options; throws an Error with broker-pipe's kind
 * of message for bad input.
 *
 * @example
 * ```ts
 * import { resolvePipeOptions } from "./pipe_command.ts";
 * const o = resolvePipeOptions({ mode: "subscribe", topic: "/t", peers: '["127.0.0.1:9999"]' });
 * console.log(o.peers); // [{ host: "127.0.0.1", port: 9999 }]
 * ```
 */
export function resolvePipeOptions(cli: PipeCliValues): PipeOptions {
  const mode = cli.mode ?? "";
  if (mode !== "publish" && mode !== "subscribe") {
    throw new Error("invalid mode: expected 'publish' or 'subscribe'");
  }
  if (!cli.topic) throw new Error("no topic given (-t)");
  const peers = cli.peers ? parsePeerList(cli.peers) : [];
  const localPort = Number(cli.localPort ?? 0);
  const cap = Number(cli.messageCap ?? 0);
  if (!Number.isInteger(localPort) || localPort < 0 || localPort > 65535) {
    throw new Error(`invalid local port: ${cli.localPort}`);
  }
  if (!Number.isInteger(cap) || cap < 0) throw new Error(`invalid message cap: ${cli.messageCap}`);
  return {
    mode,
    topic: cli.topic,
    peers,
    localPort,
    cap,
    rate: !!cli.rate,
    json: !!cli.json,
    endpoint: endpointSslOptions(cli),
  };
}

/** How one received message is printed. */
export function formatPipeMessage(topic: string, data: Data, json: boolean): string {
  return json ? dataMessageToJson(topic, data) : `data(${topic}, ${dataToString(data)})`;
}

/** Reads one input line as the value to publish. */
export function parsePipeLine(line: string, json: boolean): Data {
  return json ? dataFromJson(line) : str(line);
}

/** Runs `broker pipe`; returns the exit code. */
export async function runPipe(
  o: PipeOptions,
  out: (line: string) => void,
  err: (line: string) => void,
  input: ReadableStream<Uint8Array> = Deno.stdin.readable,
): Promise<number> {
  let ep: Endpoint;
  try {
    ep = new Endpoint(o.endpoint);
  } catch (e) {
    err(`broker pipe: ${e instanceof Error ? e.message : e}`);
    return 1;
  }
  const statuses = ep.statusSubscriber(true);
  const statusTask = (async () => {
    for await (const s of statuses) {
      err(`*** ${s.kind === "status" ? s.codeName : `error(${s.codeName})`}: ${s.message}`);
    }
  })();
  try {
    if (o.localPort > 0) await ep.listen("0.0.0.0", o.localPort);
    for (const p of o.peers) {
      try {
        await ep.peer(p.host, p.port, { retry: 0 });
      } catch {
        err(`*** unable to connect to ${p.host}:${p.port}`);
        return 1;
      }
    }
    if (o.mode === "subscribe") {
      const sub = ep.subscribe(o.topic);
      let n = 0, window = 0, last = Date.now();
      for await (const m of sub) {
        n++;
        if (o.rate) {
          window++;
          if (Date.now() - last >= 1000) {
            out(`${window} msgs/s`);
            window = 0;
            last = Date.now();
          }
        } else {
          out(formatPipeMessage(m.topic, m.data, o.json));
        }
        if (o.cap > 0 && n >= o.cap) break;
      }
      return 0;
    }
    // Publish: like broker-pipe, wait until someone listens before sending.
    if (o.peers.length > 0) await ep.awaitPeerSubscription(o.topic, 10_000).catch(() => {});
    const pub = ep.publisher(o.topic);
    let n = 0;
    for await (const line of lines(input)) {
      let value: Data;
      try {
        value = parsePipeLine(line, o.json);
      } catch (e) {
        err(`*** invalid input line: ${e instanceof Error ? e.message : e}`);
        continue;
      }
      await pub.write(value);
      n++;
      if (o.cap > 0 && n >= o.cap) break;
    }
    await pub.flush();
    err(`*** published ${n} messages`);
    return 0;
  } finally {
    await ep.shutdown();
    await statusTask;
  }
}

/** Registers `broker pipe` on the program. */
export function registerPipeCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  const command = program
    .command("pipe")
    .description("a drop-in for broker-pipe: publish stdin lines, or print what arrives")
    .option("-m, --mode <mode>", "'publish' or 'subscribe'")
    .option("-t, --topic <topic>", "topic for sending/receiving messages")
    .option("-p, --peers <list>", "peers to connect to, e.g. '[\"127.0.0.1:9999\"]'")
    .option("-l, --local-port <port>", "port to listen on (ignored if 0)")
    .option("-c, --message-cap <n>", "stop after this many messages")
    .option("-r, --rate", "print the message rate once per second instead of the messages")
    .option("--json", "read and print values in Broker's JSON instead of strings/text")
    .option("--disable-ssl", "use unencrypted communication (the default without a certificate)");
  addSslOptions(command)
    .action(async (cli) => {
      let o: PipeOptions;
      try {
        o = resolvePipeOptions(cli);
      } catch (e) {
        console.error(`broker pipe: ${e instanceof Error ? e.message : e}`);
        setExitCode(1);
        return;
      }
      const enc = new TextEncoder();
      setExitCode(
        await runPipe(
          o,
          (l) => Deno.stdout.writeSync(enc.encode(l + "\n")),
          (l) => Deno.stderr.writeSync(enc.encode(l + "\n")),
        ),
      );
    });
}
