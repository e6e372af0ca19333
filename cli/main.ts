/**
 * The `broker` command line. Each subcommand lives in its own module and
 * registers itself here; `broker node` is the first.
 *
 * Every usage error, commander's own (unknown option, missing value) and the
 * `UsageError`s of the subcommands (a value an option does not take), ends
 * the program the same way before anything runs: one line on stderr,
 * `broker <subcommand>: <option>: <message>`, and exit code 2.
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
import { Command, CommanderError, type CommandUnknownOpts } from "@commander-js/extra-typings";
import denoJson from "../deno.json" with { type: "json" };
import { registerNodeCommand } from "./node_command.ts";
import { stdioColors, writeToStdio } from "./stdio.ts";
import { registerPipeCommand } from "./pipe_command.ts";
import { registerStoreCommand } from "./store_command.ts";
import { registerReplayCommand } from "./replay_command.ts";
import { registerRecordCommand } from "./record_command.ts";
import { registerGatewayCommand } from "./gateway_command.ts";
import { registerBridgeCommand } from "./bridge_command.ts";
import { registerZeromqCommand } from "./zeromq_command.ts";
import { registerBenchCommand } from "./bench_command.ts";
import { registerBenchClusterCommand } from "./bench_cluster_command.ts";
import { registerClusterCommand } from "./cluster_command.ts";
import { registerTopCommand } from "./top_command.ts";
import { negativeOperandsLast, USAGE_EXIT_CODE, UsageError } from "./cli_values.ts";
import { inWorkerScope, serveGeneratorWorker } from "./cluster_generator_worker.ts";

/** The package's version, as `broker --version` prints it. */
export const VERSION: string = denoJson.version;

/** Where the program writes and whether it colours its errors. */
export interface ProgramIo {
  /**
   * Where help and regular output go.
   * @default stdout
   */
  writeOut?: (text: string) => void;
  /**
   * Where errors go.
   * @default stderr
   */
  writeErr?: (text: string) => void;
  /**
   * Whether errors are coloured.
   * @default when stderr is a TTY
   */
  colorErr?: boolean;
}

/**
 * Builds the `broker` program. Subcommands report their exit code through
 * `setExitCode`; commander's own errors throw (see `main`).
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { buildProgram } from "./main.ts";
 * const codes: number[] = [];
 * const program = buildProgram((code) => codes.push(code));
 * deepEqual(program.commands.map((c) => c.name()), ["node", "pipe", "store", "record", "replay", "gateway", "bench", "cluster", "top", "bridge", "zeromq"]);
 * deepEqual(codes, []); // nothing ran yet
 * ```
 */
export function buildProgram(setExitCode: (code: number) => void, io: ProgramIo = {}): Command {
  const program = new Command("broker")
    .description("deno-broker: a Deno implementation of Zeek's Broker")
    .version(`deno-broker ${VERSION}`, "-V, --version", "print the version and exit")
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
  registerGatewayCommand(program, setExitCode);
  registerBenchClusterCommand(registerBenchCommand(program, setExitCode), setExitCode);
  registerClusterCommand(program, setExitCode);
  registerTopCommand(program, setExitCode);
  registerBridgeCommand(program, setExitCode);
  registerZeromqCommand(program, setExitCode);
  return program;
}

/** `broker bench cluster` for a command. */
function commandPath(cmd: CommandUnknownOpts): string {
  const names: string[] = [];
  for (let c: CommandUnknownOpts | null = cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
}

/** A commander error, with the command that raised it. */
class CommandFailure extends Error {
  constructor(readonly error: CommanderError, readonly command: string) {
    super(error.message);
  }
}

/**
 * A commander error as one line of ours: `broker node: --bogus: unknown
 * option (see broker node --help)`.
 *
 * @example
 * ```ts ignore
 * commanderErrorLine("broker node", "commander.unknownOption", "error: unknown option '--x'");
 * ```
 */
export function commanderErrorLine(command: string, code: string, message: string): string {
  const text = message.replace(/^error: /, "").replace(/\s+/g, " ").trim();
  const long = (flags: string) => /--[\w.-]+/.exec(flags)?.[0] ?? flags.split(/[ ,]/)[0];
  const help = `see ${command} --help`;
  let m: RegExpExecArray | null;
  switch (code) {
    case "commander.unknownOption":
      if ((m = /^unknown option '([^']*)'(?: \(Did you mean (.*)\?\))?/.exec(text))) {
        return `${command}: ${m[1]}: unknown option (${
          m[2] ? `did you mean ${m[2]}? ` : ""
        }${help})`;
      }
      break;
    case "commander.optionMissingArgument":
      if ((m = /^option '([^']*)' argument missing/.exec(text))) {
        return `${command}: ${long(m[1])}: needs a value (${help})`;
      }
      break;
    case "commander.missingMandatoryOptionValue":
      if ((m = /^required option '([^']*)' not specified/.exec(text))) {
        return `${command}: ${long(m[1])}: required (${help})`;
      }
      break;
    case "commander.missingArgument":
      if ((m = /^missing required argument '([^']*)'/.exec(text))) {
        return `${command}: <${m[1]}>: missing (${help})`;
      }
      break;
    case "commander.invalidArgument":
      if ((m = /^option '([^']*)' argument '([^']*)' is invalid\. ?(.*)$/.exec(text))) {
        return `${command}: ${long(m[1])}: ${m[3] || `invalid value ${JSON.stringify(m[2])}`}`;
      }
      break;
    case "commander.excessArguments":
      if ((m = /^too many arguments(?: for '[^']*')?\. (.*)\.$/.exec(text))) {
        return `${command}: too many arguments: ${m[1].replace(/^Expected/, "expected")} (${help})`;
      }
      break;
    case "commander.unknownCommand":
      if ((m = /^unknown command '([^']*)'(?: \(Did you mean (.*)\?\))?/.exec(text))) {
        return `${command}: ${m[1]}: unknown subcommand (${
          m[2] ? `did you mean ${m[2]}? ` : ""
        }${help})`;
      }
      break;
  }
  return `${command}: ${text}`;
}

/**
 * Runs the command line `args` (without the program name) and returns the
 * exit code: 0 on success, 1 on errors while running, 2 on usage errors
 * (which print one line, `broker <subcommand>: <option>: <message>`). An
 * error a subcommand does not handle prints one line too, with the same
 * `broker <subcommand>: ` prefix.
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
  const writeErr = io.writeErr ?? ((s: string) => writeToStdio("stderr", s));
  const errorLine = (line: string) => writeErr(colorErr ? `\x1b[31m${line}\x1b[0m\n` : `${line}\n`);
  const program = buildProgram((c) => code = c, { ...io, colorErr });
  // The command being parsed or run, for the error line; every command says
  // which one failed, and prints nothing itself (main prints the line).
  let current: CommandUnknownOpts = program;
  const visit = (cmd: CommandUnknownOpts) => {
    const path = commandPath(cmd);
    cmd.exitOverride((e) => {
      throw new CommandFailure(e, path);
    });
    cmd.configureOutput({ outputError: () => {} });
    if (cmd.commands.length > 0) {
      cmd.hook("preSubcommand", (_parent, sub) => {
        current = sub;
      });
    }
    cmd.commands.forEach(visit);
  };
  visit(program);
  try {
    await program.parseAsync(valuesAsOperands(program, args), { from: "user" });
  } catch (e) {
    if (e instanceof UsageError) {
      errorLine(`${commandPath(current)}: ${e.message}`);
      return USAGE_EXIT_CODE;
    }
    if (e instanceof CommandFailure) {
      const c = e.error;
      // Help and version asked for: success.
      if (c.code === "commander.helpDisplayed" || c.code === "commander.version") return 0;
      // `broker` or `broker bench`-like parents without a subcommand printed their help to stderr.
      if (c.code === "commander.help") return USAGE_EXIT_CODE;
      errorLine(commanderErrorLine(e.command, c.code, c.message));
      return c.code === "commander.error" ? c.exitCode : USAGE_EXIT_CODE;
    }
    if (e instanceof CommanderError) return e.exitCode;
    // Anything else a subcommand let through: one line with its prefix, exit 1.
    const prefix = `${commandPath(current)}: `;
    const message = e instanceof Error ? e.message : String(e);
    errorLine(message.startsWith(prefix) ? message : prefix + message);
    return 1;
  }
  return code;
}

/**
 * `broker store`'s values may begin with `-` (`-2.5min`, `-5s`): given as
 * operands, not as options (see `negativeOperandsLast`).
 */
function valuesAsOperands(program: CommandUnknownOpts, args: string[]): string[] {
  if (args[0] !== "store") return args;
  const store = program.commands.find((c) => c.name() === "store");
  if (!store) return args;
  const takesValue = new Set(
    store.options.filter((o) => o.required || o.optional).flatMap((o) =>
      [o.short, o.long].filter((f): f is string => f !== undefined)
    ),
  );
  return ["store", ...negativeOperandsLast(args.slice(1), takesValue)];
}

if (import.meta.main && inWorkerScope()) {
  // The bundled CLI started as `--generate-in-worker`'s Worker (see `ClusterGenerator`).
  serveGeneratorWorker();
} else if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (e) {
    console.error(`broker: ${e instanceof Error ? e.message : e}`);
    Deno.exit(1);
  }
}
