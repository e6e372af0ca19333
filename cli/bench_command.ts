/**
 * `broker bench`: throughput and latency between endpoints, with the message
 * shapes of Broker's `broker-throughput` (1: a small event, 2: a
 * conn.log-like event, 3: a large table), flat out or at a fixed rate per
 * publisher. Layouts: 1 → 1, N publishers → 1 subscriber (`-P N`) and 1
 * publisher → N subscribers (`-S N`), all endpoints in this process or each
 * in its own child process (`--processes`). Measured where messages arrive:
 * totals, per-subscriber figures, latency percentiles from HDR histograms
 * (`npm:hdr-histogram-js`) merged across subscribers, and a time series of
 * messages/s per interval; a table, JSON, and an SVG chart (`--chart`).
 *
 * @example
 * ```sh
 * deno task broker bench -P 4 --processes --chart n-to-1.svg
 * ```
 *
 * @module
 */
import { type CommandUnknownOpts, Option } from "@commander-js/extra-typings";
import { resolve } from "node:path";
import type { BenchResult } from "./bench_run.ts";
import {
  optional,
  parseChoice,
  parseDuration,
  parsePort,
  parsePositiveCount,
  parseRate,
  UsageError,
} from "./cli_values.ts";

function portList(value: string): number[] {
  return value.split(",").map((p) => parsePort(p, "--send"));
}

/**
 * Checks that `path` can be written, before a run: creates it if missing
 * (and says whether it did, so a failed run can take it away again).
 */
async function checkWritable(path: string, option: string): Promise<{ created: boolean }> {
  let existed = true;
  try {
    await Deno.stat(path);
  } catch {
    existed = false;
  }
  try {
    const f = await Deno.open(path, { write: true, create: true });
    f.close();
  } catch (e) {
    throw new UsageError(
      option,
      `cannot write ${path}: ${e instanceof Error ? e.message.replace(/: .*$/, "") : e}`,
    );
  }
  return { created: !existed };
}
/**
 * Registers `broker bench` and returns its command, so that subcommands
 * (such as a later `bench cluster`) can be added to it. Options of `bench`
 * are positional: they count only before a subcommand's name, so a
 * subcommand may reuse option names.
 *
 * @example
 * ```ts ignore
 * const bench = registerBenchCommand(program, setExitCode);
 * bench.command("cluster").action(() => {});
 * ```
 */
export function registerBenchCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): CommandUnknownOpts {
  const bench = program
    .command("bench")
    .description(
      "throughput and latency between endpoints (broker-throughput's message shapes): " +
        "1 → 1, N publishers → 1 subscriber, or 1 publisher → N subscribers",
    )
    .enablePositionalOptions()
    .option(
      "--event-type <n>",
      "broker-throughput's shapes: 1 (small event), 2 (conn.log-like), 3 (large table) (default: 1)",
    )
    .option(
      "-n, --num-messages <n>",
      "messages each publisher sends (default: 100000)",
    )
    .option(
      "--publish-rate <msgs/s>",
      "messages per second per publisher (default: 0, flat out)",
    )
    .option(
      "-P, --publishers <n>",
      "publishing endpoints, each peered with every subscriber (default: 1)",
    )
    .option(
      "-S, --subscribers <n>",
      "subscribing endpoints, each receiving every message; one of -P and -S must be 1 (default: 1)",
    )
    .option(
      "--processes",
      "each endpoint in its own process (child `deno run -A cli/main.ts bench`)",
    )
    .option("--two-processes", "the same as --processes (its name from 1 → 1 runs)")
    .option(
      "--interval <duration>",
      "interval of the throughput time series, e.g. 250ms (default: 100ms)",
    )
    .option("--chart <file.svg>", "write an SVG chart of throughput over time there")
    .option("--json", "print the result as JSON (with the time series)")
    .addOption(new Option("--receive <n>", "a subscriber of a multi-process run").hideHelp())
    .addOption(new Option("--send <ports>", "a publisher of a multi-process run").hideHelp())
    .addHelpText(
      "after",
      `
Layouts: every publisher peers with every subscriber and sends -n messages on
/bench; every subscriber receives all of them (N × n each). Throughput is
measured where messages arrive: "total" is every delivery from the first
anywhere to the last anywhere; each subscriber also gets its own row. Latency
percentiles come from one HDR histogram of all deliveries. The time series
(--json, --chart) is messages/s per --interval, from the first delivery.
Durations take units (250ms, 1s; a bare number is seconds).

Examples:
  broker bench --event-type 2 -n 200000           1 → 1, one process
  broker bench -P 4 --processes                   4 publishers → 1 subscriber, 5 processes
  broker bench -S 4 --chart fanout.svg --json     1 publisher → 4 subscribers
  broker bench --publish-rate 10000 -n 50000      10k msgs/s for 5 s`,
    )
    .action(async (cli: BenchCli) => {
      // Every option first: a bad one is a usage error before anything runs.
      const eventType = optional(
        cli.eventType,
        "--event-type",
        (t, o) => Number(parseChoice(t, o, ["1", "2", "3"] as const)) as 1 | 2 | 3,
      ) ?? 1;
      const messages = optional(cli.numMessages, "--num-messages", parsePositiveCount);
      const rate = optional(cli.publishRate, "--publish-rate", parseRate) ?? 0;
      const publishers = optional(cli.publishers, "--publishers", parsePositiveCount) ?? 1;
      const subscribers = optional(cli.subscribers, "--subscribers", parsePositiveCount) ?? 1;
      const intervalMs = optional(
        cli.interval,
        "--interval",
        (t, o) => parseDuration(t, o, { allowZero: false }),
      );
      if (intervalMs !== undefined && intervalMs < 1) {
        throw new UsageError(
          "--interval",
          `expected at least 1ms, got ${JSON.stringify(cli.interval)}`,
        );
      }
      const receiving = optional(cli.receive, "--receive", parsePositiveCount);
      const sendTo = optional(cli.send, "--send", portList);
      // Loaded only now: every other command starts without the histogram package.
      const run = await import("./bench_run.ts");
      const numMessages = messages ?? run.DEFAULT_BENCH_MESSAGES;
      if (receiving !== undefined) {
        await run.receiverChild(receiving);
        setExitCode(0);
        return;
      }
      if (sendTo !== undefined) {
        await run.publisherChild(sendTo, eventType, numMessages, rate);
        setExitCode(0);
        return;
      }
      if (publishers > 1 && subscribers > 1) {
        throw new UsageError(
          "--publishers",
          "N publishers → M subscribers is not supported; one of --publishers and --subscribers must be 1",
        );
      }
      // The chart's path is checked before a run that may take minutes.
      const chart = cli.chart !== undefined ? await checkWritable(cli.chart, "--chart") : undefined;
      let r: BenchResult;
      try {
        r = await run.runBench(eventType, numMessages, {
          publishers,
          subscribers,
          processes: !!(cli.processes || cli.twoProcesses),
          rate,
          intervalMs,
        });
      } catch (e) {
        if (chart?.created) await Deno.remove(cli.chart!).catch(() => {});
        throw e;
      }
      if (cli.chart) {
        await Deno.writeTextFile(cli.chart, run.benchChart(r));
        // stderr, so that --json output stays one JSON document.
        console.error(`chart written to ${resolve(cli.chart)}`);
      }
      console.log(cli.json ? JSON.stringify(r) : run.formatBench(r));
      setExitCode(0);
    });
  return bench;
}

/** Values of `broker bench`'s options as commander hands them over. */
interface BenchCli {
  eventType?: string;
  numMessages?: string;
  publishRate?: string;
  publishers?: string;
  subscribers?: string;
  processes?: boolean;
  twoProcesses?: boolean;
  interval?: string;
  chart?: string;
  json?: boolean;
  receive?: string;
  send?: string;
}
