/**
 * Standard output and error for every subcommand: whole writes that never
 * interleave, and whether to colour each stream.
 *
 * @module
 */
const encoder = new TextEncoder();

function writeAllSync(file: { writeSync(p: Uint8Array): number }, text: string | Uint8Array): void {
  let bytes = typeof text === "string" ? encoder.encode(text) : text;
  while (bytes.length > 0) bytes = bytes.subarray(file.writeSync(bytes));
}

/**
 * Writes synchronously so lines from concurrent tasks never interleave
 * (text as UTF-8, bytes as they are).
 *
 * @example
 * ```ts
 * import { writeToStdio } from "./stdio.ts";
 * writeToStdio("stderr", "a whole line\n");
 * ```
 */
export function writeToStdio(stream: "stdout" | "stderr", text: string | Uint8Array): void {
  writeAllSync(stream === "stdout" ? Deno.stdout : Deno.stderr, text);
}

/**
 * Whether to colour each stream: on a TTY, unless `NO_COLOR` is set.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { stdioColors } from "./stdio.ts";
 * const { stdout, stderr } = stdioColors(); // both false when piped
 * equal(typeof stdout, "boolean");
 * equal(typeof stderr, "boolean");
 * ```
 */
export function stdioColors(): { stdout: boolean; stderr: boolean } {
  let noColor = false;
  try {
    noColor = (Deno.env.get("NO_COLOR") ?? "") !== "";
  } catch {
    // Without env permission, go by the TTY alone.
  }
  return {
    stdout: !noColor && Deno.stdout.isTerminal(),
    stderr: !noColor && Deno.stderr.isTerminal(),
  };
}

/** What a long-running subcommand writes to and waits on. */
export interface SignalIo {
  /** A line on stdout. */
  out(line: string): void;
  /** A line on stderr. */
  err(line: string): void;
  /** Resolves when the command should shut down (SIGINT or SIGTERM). */
  stop: Promise<unknown>;
}

/**
 * Runs `run` with lines to stdout and stderr and a stop promise that SIGINT
 * or SIGTERM resolve; hands its result to `setExitCode` and removes the
 * signal listeners, however it ends.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { runUntilSignal } from "./stdio.ts";
 * let code = -1;
 * await runUntilSignal(() => Promise.resolve(3), (c) => code = c);
 * equal(code, 3);
 * ```
 */
export async function runUntilSignal(
  run: (io: SignalIo) => Promise<number>,
  setExitCode: (code: number) => void,
): Promise<void> {
  let stopped: () => void = () => {};
  const stop = new Promise<void>((r) => stopped = r);
  const signals = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const handler = () => stopped();
    Deno.addSignalListener(sig, handler);
    return () => Deno.removeSignalListener(sig, handler);
  });
  try {
    setExitCode(
      await run({
        out: (l) => writeToStdio("stdout", l + "\n"),
        err: (l) => writeToStdio("stderr", l + "\n"),
        stop,
      }),
    );
  } finally {
    signals.forEach((remove) => remove());
  }
}

/**
 * What `starting` gives, or undefined when `stop` (a signal) comes first:
 * ^C while a command dials stops it there. Started after all, the thing is
 * closed, since nobody will use it.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { unlessStopped } from "./stdio.ts";
 * const late = new Promise<{ close(): void }>((r) => setTimeout(() => r({ close() {} }), 10));
 * equal(await unlessStopped(late, Promise.resolve()), undefined);
 * ```
 */
export async function unlessStopped<T extends { close(): unknown }>(
  starting: Promise<T>,
  stop: Promise<unknown>,
): Promise<T | undefined> {
  const first = await Promise.race([starting, stop.then(() => undefined)]);
  if (first === undefined) starting.then((t) => t.close(), () => {});
  return first;
}

/**
 * Waits for `stop` (a signal), or for `lost`, which is then handed back: a
 * command that must end when its connection goes (a ZeroMQ node) says so.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { untilStoppedOrLost } from "./stdio.ts";
 * equal(await untilStoppedOrLost(Promise.resolve(), new Promise(() => {})), undefined);
 * ```
 */
export function untilStoppedOrLost<E>(
  stop: Promise<unknown>,
  lost: Promise<E> | undefined,
): Promise<E | undefined> {
  const stopped = stop.then(() => undefined);
  return lost ? Promise.race([stopped, lost]) : stopped;
}
