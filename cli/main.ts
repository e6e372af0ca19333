/**
 * The `broker` command line. Each subcommand lives in its own module and
 * registers itself here; `broker node` is the first.
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * // broker-node's "send no pings" case: prints to stderr, exit code 0.
 * const code = await main(["node", "--disable-ssl", "-m", "ping", "-t", '["/bench/ping"]', "-n", "0"]);
 * ```
 *
 * @module
 */
import { Command, CommanderError } from "@commander-js/extra-typings";
import { registerNodeCommand, stdioColors, writeToStdio } from "./node_command.ts";
import { registerPipeCommand } from "./pipe_command.ts";
import { registerStoreCommand } from "./store_command.ts";
import { registerReplayCommand } from "./replay_command.ts";
import { registerRecordCommand } from "./record_command.ts";
import { registerBenchCommand } from "./bench_command.ts";
import { registerBenchClusterCommand } from "./bench_cluster_command.ts";

/** Where the program writes and whether it colours its errors. */
export interface ProgramIo {
  /** Where help and regular output go (default stdout). */
  writeOut?: (text: string) => void;
  /** Where errors go (default stderr). */
  writeErr?: (text: string) => void;
  /** Whether errors are coloured (default: when stderr is a TTY). */
  colorErr?: boolean;
}

/**
 * Builds the `broker` program. Subcommands report their exit code through
 * `setExitCode`; commander's own errors throw (see `main`).
 *
 * @example
 * ```ts
 * import { buildProgram } from "./main.ts";
 * const program = buildProgram((code) => console.log("exit", code));
 * console.log(program.commands.map((c) => c.name())); // ["node", "pipe", "store", "record", "replay", "bench"]
 * ```
 */
export function buildProgram(setExitCode: (code: number) => void, io: ProgramIo = {}): Command {
  const program = new Command("broker")
    .description("deno-broker: a Deno implementation of Zeek's Broker")
    // Throwing instead of exiting lets `main` return a code, and tests run it in-process.
    .exitOverride()
    // A parent's options only before its subcommand: `bench` and `bench cluster` both take `--json`.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: io.writeOut ?? ((s) => writeToStdio("stdout", s)),
      writeErr: io.writeErr ?? ((s) => writeToStdio("stderr", s)),
      outputError: (s, write) => write(io.colorErr ? `\x1b[31m${s.trimEnd()}\x1b[0m\n` : s),
    });
  registerNodeCommand(program, setExitCode);
  registerPipeCommand(program, setExitCode);
  registerStoreCommand(program, setExitCode);
  registerRecordCommand(program, setExitCode);
  registerReplayCommand(program, setExitCode);
  registerBenchClusterCommand(registerBenchCommand(program, setExitCode), setExitCode);
  return program;
}

/**
 * Runs the command line `args` (without the program name) and returns the
 * exit code: 0 on success, 1 on errors (usage errors included).
 *
 * @example
 * ```ts
 * import { main } from "./main.ts";
 * const code = await main(["node", "--help"]); // 0, help on stdout
 * ```
 */
export async function main(args: string[], io: ProgramIo = {}): Promise<number> {
  let code = 0;
  const colorErr = io.colorErr ?? stdioColors().stderr;
  const program = buildProgram((c) => code = c, { ...io, colorErr });
  try {
    await program.parseAsync(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    throw e;
  }
  return code;
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`broker: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
