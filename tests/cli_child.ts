/**
 * Our CLI as a child process for tests: `deno run -A cli/main.ts ...args`,
 * its stdout collected as lines and its stderr as text while it runs.
 *
 * @module
 */
import { lines } from "../cli/self.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** A running CLI child: its lines so far, its stderr, and a SIGTERM stop that waits for it. */
export interface CliChild {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** Lines printed on stdout so far. */
  readonly out: string[];
  /** Text printed on stderr so far. */
  err(): string;
  /** Sends SIGTERM (if it still runs), then waits for its exit and its output. */
  stop(): Promise<{ status: Deno.CommandStatus; out: string[]; err: () => string }>;
}

/**
 * Starts `broker ...args`.
 *
 * @example
 * ```ts ignore
 * import { spawnCli } from "./cli_child.ts";
 * const node = spawnCli(["node", "-p", "9999"]);
 * const { status } = await node.stop();
 * ```
 */
export function spawnCli(args: string[]): CliChild {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const out: string[] = [];
  let err = "";
  const reading = Promise.all([
    (async () => {
      for await (const l of lines(child.stdout)) out.push(l);
    })(),
    (async () => {
      for await (const t of child.stderr.pipeThrough(new TextDecoderStream())) err += t;
    })(),
  ]);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // gone
    }
    const status = await child.status;
    await reading;
    return { status, out, err: () => err };
  };
  return { child, out, stop, err: () => err };
}
