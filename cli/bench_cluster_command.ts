/**
 * `broker bench cluster CONFIG`: Broker's `broker-cluster-benchmark` on our
 * endpoints. It reads the same CAF-syntax cluster file, checks the topology
 * the same way, prints the same result lines (`NAME (sending): 0.1s`,
 * `NAME (receiving): 0.1s`, `system: 0.1s`) plus the message rate, and runs
 * all nodes in one process or, with `--processes`, one process each.
 *
 * @module
 */
import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { dirname, resolve } from "node:path";
import { BrokerError } from "../mod.ts";
import {
  compareBytes,
  generateClusterConfig,
  listGeneratorFiles,
  peeringTree,
  readClusterConfig,
} from "./cluster_config.ts";
import {
  type ClusterResult,
  dumpStats,
  formatSeconds,
  generatorFilePath,
  loadGeneratorFile,
  type NodeTiming,
  readRecordingDirectory,
  runClusterChild,
  runClusterInProcess,
  runClusterProcesses,
  shrinkGeneratorFile,
} from "./cluster_bench.ts";
import { parseCafConfig, parseCafList } from "./caf_config.ts";
import { optional, parseChoice, parseCount, parseDuration } from "./cli_values.ts";

/** Options of `broker bench cluster`, as commander hands them over. */
interface ClusterCli {
  clusterConfigFile?: string;
  mode?: string;
  verbose?: boolean;
  excludedNodes?: string;
  processes?: boolean;
  json?: boolean;
  timeout?: string;
  seed?: string;
  decode?: boolean;
  generateInClock?: boolean;
  generateInWorker?: boolean;
  node?: string;
}

function parseExcluded(text: string | undefined): string[] {
  if (!text) return [];
  if (text.trim().startsWith("[")) {
    return parseCafList(text, { source: "--excluded-nodes" }).map((v) =>
      v.type === "string" ? v.value : String(v.value)
    );
  }
  return text.split(",").map((s) => s.trim()).filter(Boolean);
}

async function readAllStdin(): Promise<string> {
  return await new Response(Deno.stdin.readable).text();
}

/**
 * Registers `cluster` under the `bench` command.
 *
 * @example
 * ```ts ignore
 * const bench = program.command("bench");
 * registerBenchClusterCommand(bench, (code) => exitCode = code);
 * ```
 */
export function registerBenchClusterCommand(
  bench: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  // `bench` has options of its own (`--json`): only those before `cluster` are its.
  bench.enablePositionalOptions();
  bench
    .command("cluster")
    .description(
      "Broker's cluster benchmark: nodes, peerings and generator files from a CAF config",
    )
    .argument(
      "[args...]",
      "the cluster config file (CAF syntax, '-' for stdin); with --mode generate-config, recording directories",
    )
    // Without -c: `-c` is --message-cap in the other subcommands.
    .option(
      "--cluster-config-file <path>",
      "path to the cluster configuration file (or give it as the argument)",
    )
    .option(
      "-m, --mode <mode>",
      "benchmark (default), dump-stats (stats of generator files), generate-config (a config from recording directories: DIR...) or shrink-generator-file (INPUT OUTPUT NEW_SIZE)",
    )
    .option("-v, --verbose", "enable verbose output")
    .option("-e, --excluded-nodes <list>", "excludes given nodes from the setup, e.g. '[\"mars\"]'")
    .option("--processes", "run each node in its own process (default: all in this one)")
    .option("--json", "print the result as JSON")
    .option(
      "--timeout <duration>",
      "give up when a receiver gets nothing for this long, e.g. 500ms (a bare number is seconds; default: 30s)",
    )
    .option("--seed <n>", "seed of the value generator (default: 1)")
    .option("--decode", "receivers build each value instead of counting validated messages")
    .option(
      "--generate-in-clock",
      "senders generate each value as they publish it, inside the clock, as Broker's tool does (default: all values made before the clock starts)",
    )
    .option(
      "--generate-in-worker",
      "as --generate-in-clock, the same values, made on a Worker thread beside each sender",
    )
    .addOption(new Option("--node <name>", "run one node of a multi-process run").hideHelp())
    .action(async (args: string[], cli: ClusterCli) => {
      // Every option first: a bad one is a usage error before anything runs.
      parseChoice(cli.mode ?? "benchmark", "--mode", CLUSTER_MODES);
      const timeoutMs = optional(
        cli.timeout,
        "--timeout",
        (t, o) => parseDuration(t, o, { allowZero: false }),
      ) ?? 30_000;
      const seed = optional(cli.seed, "--seed", parseCount) ?? 1;
      setExitCode(await runClusterCommand(args, cli, { timeoutMs, seed }));
    });
}

/** The modes of Broker's cluster benchmark. */
const CLUSTER_MODES = [
  "benchmark",
  "dump-stats",
  "generate-config",
  "shrink-generator-file",
] as const;

async function runClusterCommand(
  args: string[],
  cli: ClusterCli,
  parsed: { timeoutMs: number; seed: number },
): Promise<number> {
  const enc = new TextEncoder();
  const colorErr = Deno.stderr.isTerminal();
  const paint = (code: string, s: string) => colorErr ? `\x1b[${code}m${s}\x1b[0m` : s;
  const out = (l: string) => Deno.stdout.writeSync(enc.encode(l + "\n"));
  const err = (l: string) => Deno.stderr.writeSync(enc.encode(paint("31", l) + "\n"));
  const warn = (l: string) => Deno.stderr.writeSync(enc.encode(paint("33", l) + "\n"));
  const verbose = cli.verbose
    ? (l: string) => Deno.stderr.writeSync(enc.encode(paint("34", l) + "\n"))
    : undefined;
  const mode = cli.mode ?? "benchmark";
  if (mode === "generate-config") {
    try {
      // As the C++ tool: sorted as given (so the output does not depend on the
      // argument order), trailing slashes dropped, all checked before any is read.
      const dirs = [...args].sort(compareBytes).map((d) => d.replace(/\/+$/, "") || "/");
      verbose?.(`scan ${dirs.length} directories`);
      for (const dir of dirs) {
        if (!(await Deno.stat(dir).then((s) => s.isDirectory, () => false))) {
          throw new Error(`"${dir}" is not a directory`);
        }
      }
      const recorded = [];
      for (const dir of dirs) {
        verbose?.(`scan ${dir}`);
        recorded.push(await readRecordingDirectory(dir));
      }
      Deno.stdout.writeSync(enc.encode(generateClusterConfig(recorded)));
      return 0;
    } catch (e) {
      err((e as Error).message);
      return 1;
    }
  }
  if (mode === "shrink-generator-file") {
    const usage = "expected three positional arguments: INPUT OUTPUT NEW_SIZE";
    if (args.length !== 3) {
      err("invalid arguments to shrink-generator-file mode");
      err(usage);
      return 1;
    }
    if (!/^\d+$/.test(args[2])) {
      err(`unable to parse NEW_SIZE argument: ${args[2]}`);
      err(usage);
      return 1;
    }
    try {
      await shrinkGeneratorFile(args[0], args[1], Number(args[2]));
      return 0;
    } catch (e) {
      err((e as Error).message);
      return 1;
    }
  }
  if (mode !== "benchmark" && mode !== "dump-stats") {
    err("invalid mode");
    return 1;
  }
  const path = args[0] ?? cli.clusterConfigFile;
  if (!path) {
    err("cluster-config-file missing");
    return 1;
  }
  let text: string;
  try {
    text = path === "-" ? await readAllStdin() : await Deno.readTextFile(path);
    parseCafConfig(text, { source: path === "-" ? "<stdin>" : path });
  } catch (e) {
    err(
      path === "-"
        ? `unable to parse cluster config from STDIN: ${(e as Error).message}`
        : `unable to parse cluster config file: ${(e as Error).message}`,
    );
    return 1;
  }
  const baseDir = path === "-" ? Deno.cwd() : dirname(resolve(path));
  if (mode === "dump-stats") {
    // The C++ tool reads only the generator files here, whatever the rest of the config says.
    const files = listGeneratorFiles(text);
    if (files.length === 0) {
      err("no generator files found in config");
      return 1;
    }
    for (const f of files) {
      if (generatorFilePath(f, baseDir) === undefined) {
        err(`unable to open generator file: ${f}`);
        continue;
      }
      try {
        dumpStats(f, await loadGeneratorFile(f, baseDir)).forEach(out);
      } catch (e) {
        err(`error while parsing ${f}: ${(e as Error).message}`);
        return 1;
      }
    }
    return 0;
  }
  try {
    const excluded = parseExcluded(cli.excludedNodes);
    const { nodes, warnings } = readClusterConfig(text, {
      source: path === "-" ? "<stdin>" : path,
      excluded,
      generatorFileExists: (f) => generatorFilePath(f, baseDir) !== undefined,
    });
    if (!cli.node) warnings.forEach(warn);
    const options = {
      verbose,
      warn,
      baseDir,
      idleTimeoutMs: parsed.timeoutMs,
      seed: parsed.seed,
      decode: !!cli.decode,
      generateInClock: !!cli.generateInClock,
      generateInWorker: !!cli.generateInWorker,
      onTiming: cli.json
        ? undefined
        : (t: NodeTiming) => out(`${t.name} (${t.role}): ${formatSeconds(t.seconds)}`),
    };
    if (cli.node) {
      const node = nodes.find((n) => n.name === cli.node);
      if (!node) throw new Error(`no node named ${cli.node}`);
      await runClusterChild(node, nodes, options);
      return 0;
    }
    if (verbose) peeringTree(nodes).forEach(verbose);
    let result: ClusterResult;
    if (cli.processes) {
      // Children re-read the config, so stdin's text goes through a file.
      const file = path === "-" ? await Deno.makeTempFile({ suffix: ".conf" }) : resolve(path);
      if (path === "-") await Deno.writeTextFile(file, text);
      try {
        const args = [file, ...(excluded.length ? ["-e", excluded.join(",")] : [])];
        result = await runClusterProcesses(nodes, args, { ...options, verboseChildren: !!verbose });
      } finally {
        if (path === "-") await Deno.remove(file).catch(() => {});
      }
    } else {
      result = await runClusterInProcess(nodes, options);
    }
    if (cli.json) out(JSON.stringify(result));
    else {
      out(`system: ${formatSeconds(result.systemSeconds)}`);
      out(
        `messages: ${result.messagesSent} sent, ${result.messagesReceived} received, ` +
          `${Math.round(result.messagesPerSecond)} msgs/s`,
      );
    }
    verbose?.("all nodes done, bye");
    return 0;
  } catch (e) {
    const m = e instanceof BrokerError ? e.message : (e as Error).message;
    err(m);
    return 1;
  }
}
