/**
 * The soak's process supervisor: starts each child (our Deno scripts and
 * nodes, the C++ tools), waits until it is ready, reads its stdout line by
 * line, watches its stderr and exit status, samples its RSS, stops it with
 * the signal the chaos loop asks for, and kills everything at the end.
 *
 * What counts as a problem (and later as a violated invariant): an exit the
 * supervisor did not cause, an exit code other than what the signal sent
 * explains, a child that ignores SIGTERM, a child that never becomes ready,
 * and, for our processes, any stderr line with "Uncaught" or "error:" (Deno's
 * report of an uncaught exception or unhandled rejection).
 *
 * Children run detached (their own process group), so a Ctrl-C on the soak
 * reaches only the supervisor, which then stops them in order. Should the
 * supervisor itself die, our child scripts exit when their stdin ends, and
 * the rest (C++ tools, our CLI node) run under `timeout -s KILL`, so nothing
 * outlives the soak's time bound.
 *
 * @module
 */
import { parseEvent } from "./protocol.ts";

/** Ours (Deno, under the invariants) or the C++ reference tools. */
export type ProcessKind = "ours" | "cxx";

/** How to run and judge one child. */
export interface ProcessSpec {
  /** Unique name (`n1`, `x1`, ...). */
  name: string;
  /** Ours or C++. */
  kind: ProcessKind;
  /** Executable and arguments of incarnation `inc` (0 for the first start). */
  command(inc: number): { cmd: string; args: string[] };
  /** Whether the child gets commands on stdin. */
  stdin: boolean;
  /** RSS bound in MiB. */
  rssBoundMb: number;
  /**
   * Whether the child ends by itself when stdin closes or its deadline
   * passes (our child scripts). Others run under `timeout -s KILL` so that
   * they die by the soak's deadline even if the supervisor was killed.
   */
  selfTerminating: boolean;
  /** Ready when it prints a `ready` event, or when the port accepts connections. */
  ready: "event" | { port: number };
  /** Every stdout line, with the incarnation that printed it. */
  onLine?: (line: string, inc: number) => void;
}

/** Something a child did that breaks an invariant. */
export interface ProcessProblem {
  /** The child. */
  process: string;
  /** Its incarnation. */
  incarnation: number;
  /** What happened. */
  what: string;
}

/** Per-child memory figures. */
export interface RssRecord {
  /** Highest VmRSS seen, MiB. */
  maxMb: number;
  /** The bound it is held to, MiB. */
  boundMb: number;
  /** Samples taken. */
  samples: number;
}

/** The signals the supervisor stops children with. */
export type StopSignal = "SIGKILL" | "SIGTERM";

interface Running {
  inc: number;
  child: Deno.ChildProcess;
  /** The process that matters (the tool itself, not `timeout` around it). */
  pid: number;
  expected?: StopSignal;
  status: Promise<Deno.CommandStatus>;
  exited: boolean;
  stdin?: WritableStreamDefaultWriter<Uint8Array>;
  ready: PromiseWithResolvers<void>;
  stderrTail: string[];
}

const STDERR_TAIL = 20;
/** Restarts after exits nobody asked for, per child; a child that keeps dying is left down. */
const MAX_UNEXPECTED_RESTARTS = 5;
const ERROR_LINE = /Uncaught|error:/;
const encoder = new TextEncoder();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Exit statuses a signal we sent explains (directly, or via `timeout`'s 128+N). */
function explained(status: Deno.CommandStatus, sent: StopSignal): boolean {
  if (sent === "SIGKILL") return status.signal === "SIGKILL" || status.code === 137;
  return status.code === 0 || status.signal === "SIGTERM" || status.code === 143;
}

function describe(status: Deno.CommandStatus): string {
  return status.signal ? `signal ${status.signal}` : `exit code ${status.code}`;
}

/**
 * Runs and watches the soak's children.
 *
 * @example
 * ```ts ignore
 * const sup = new Supervisor(Date.now() + 60_000);
 * sup.add({ name: "x1", kind: "cxx", command: () => ({ cmd: "broker-node", args: [] }),
 *   stdin: false, selfTerminating: false, rssBoundMb: 512, ready: { port: 9999 } });
 * await sup.start("x1");
 * await sup.stop("x1", "SIGKILL");
 * await sup.killAll();
 * ```
 */
export class Supervisor {
  readonly #specs = new Map<string, ProcessSpec>();
  readonly #running = new Map<string, Running>();
  readonly #starts = new Map<string, number>();
  readonly #deadline: number;
  #closing = false;
  /** Problems found so far. */
  readonly problems: ProcessProblem[] = [];
  /** Memory per child. */
  readonly rss = new Map<string, RssRecord>();
  /** Restarts after exits nobody asked for. */
  readonly unexpectedRestarts = new Map<string, number>();

  /** `deadline` (epoch ms) is when the C++ tools are killed at the latest. */
  constructor(deadline: number) {
    this.#deadline = deadline;
  }

  /** Registers a child (not started). */
  add(spec: ProcessSpec): void {
    this.#specs.set(spec.name, spec);
    this.rss.set(spec.name, { maxMb: 0, boundMb: spec.rssBoundMb, samples: 0 });
  }

  /** Every registered name. */
  get names(): string[] {
    return [...this.#specs.keys()];
  }

  /** The spec of a child. */
  spec(name: string): ProcessSpec {
    const s = this.#specs.get(name);
    if (!s) throw new Error(`no process ${name}`);
    return s;
  }

  /** Whether the child runs now. */
  isRunning(name: string): boolean {
    const r = this.#running.get(name);
    return !!r && !r.exited;
  }

  /** The current incarnation (starts so far minus one). */
  incarnation(name: string): number {
    return (this.#starts.get(name) ?? 0) - 1;
  }

  /** Starts a child and waits until it is ready (false and a problem after `timeoutMs`). */
  async start(name: string, timeoutMs = 30_000): Promise<boolean> {
    if (this.#closing) return false;
    if (this.isRunning(name)) return true;
    const spec = this.spec(name);
    const inc = this.#starts.get(name) ?? 0;
    this.#starts.set(name, inc + 1);
    const { cmd, args } = spec.command(inc);
    const secondsLeft = Math.max(1, Math.ceil((this.#deadline - Date.now()) / 1000));
    // The C++ tools and our CLI node watch neither stdin nor a deadline; `timeout` does it for them.
    const [exe, argv] = !spec.selfTerminating
      ? ["timeout", ["-s", "KILL", String(secondsLeft), cmd, ...args]]
      : [cmd, args];
    const child = new Deno.Command(exe, {
      args: argv,
      stdin: spec.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }).spawn();
    const r: Running = {
      inc,
      child,
      pid: child.pid,
      status: child.status,
      exited: false,
      stdin: spec.stdin ? child.stdin.getWriter() : undefined,
      ready: Promise.withResolvers<void>(),
      stderrTail: [],
    };
    // Settled by whichever comes first (ready, exit, timeout); only start() awaits it.
    r.ready.promise.catch(() => {});
    this.#running.set(name, r);
    if (!spec.selfTerminating) r.pid = await this.#childPid(child.pid) ?? child.pid;
    void this.#readLines(child.stdout, (line) => {
      if (spec.ready === "event" && parseEvent(line)?.ev === "ready") r.ready.resolve();
      spec.onLine?.(line, inc);
    });
    void this.#readLines(child.stderr, (line) => {
      r.stderrTail.push(line);
      if (r.stderrTail.length > STDERR_TAIL) r.stderrTail.shift();
      if (spec.kind === "ours" && ERROR_LINE.test(line)) {
        this.#problem(name, inc, `stderr: ${line.slice(0, 300)}`);
      }
    });
    void r.status.then((status) => this.#exited(name, r, status));
    if (spec.ready !== "event") void this.#waitForPort(spec.ready.port, r);
    const timer = setTimeout(() => r.ready.reject(new Error("timeout")), timeoutMs);
    try {
      await r.ready.promise;
      return true;
    } catch (e) {
      if (!r.exited) {
        this.#problem(name, inc, `not ready within ${timeoutMs} ms (${(e as Error).message})`);
        await this.stop(name, "SIGKILL");
      }
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Stops a child with `signal` and waits for it; after `waitMs` without an
   * exit it is a problem and the child gets SIGKILL.
   */
  async stop(name: string, signal: StopSignal, waitMs = 10_000): Promise<void> {
    const r = this.#running.get(name);
    if (!r || r.exited) return;
    r.expected = signal;
    this.#signal(r, signal);
    const done = await Promise.race([r.status.then(() => true), sleep(waitMs).then(() => false)]);
    if (done) return;
    this.#problem(name, r.inc, `still running ${waitMs} ms after ${signal}`);
    r.expected = "SIGKILL";
    this.#signal(r, "SIGKILL");
    try {
      r.child.kill("SIGKILL");
    } catch {
      // gone already
    }
    await Promise.race([r.status, sleep(5000)]);
  }

  /** Writes one command line to a child's stdin; false when it is not running. */
  async send(name: string, line: string): Promise<boolean> {
    const r = this.#running.get(name);
    if (!r || r.exited || !r.stdin) return false;
    try {
      await r.stdin.write(encoder.encode(line + "\n"));
      return true;
    } catch {
      return false;
    }
  }

  /** Reads VmRSS of every running child and keeps the maximum; returns violations found now. */
  async sampleRss(): Promise<string[]> {
    const over: string[] = [];
    for (const [name, r] of this.#running) {
      if (r.exited) continue;
      const mb = await readRssMb(r.pid);
      if (mb === undefined) continue;
      const rec = this.rss.get(name)!;
      rec.samples++;
      if (mb > rec.maxMb) rec.maxMb = mb;
      if (mb > rec.boundMb) over.push(`${name}: ${mb.toFixed(0)} MiB > ${rec.boundMb} MiB`);
    }
    return over;
  }

  /** Last stderr lines of a child's current incarnation. */
  stderrTail(name: string): string[] {
    return [...(this.#running.get(name)?.stderrTail ?? [])];
  }

  /**
   * Graceful end: SIGTERM to every child at once (exit codes still checked),
   * SIGKILL to those still there after `waitMs`.
   */
  async stopAll(waitMs = 10_000): Promise<void> {
    this.#closing = true;
    await Promise.all(this.names.map((n) => this.stop(n, "SIGTERM", waitMs)));
  }

  /** SIGKILL to every child that is left; used on every way out of the soak. */
  async killAll(): Promise<void> {
    this.#closing = true;
    const waits: Promise<unknown>[] = [];
    for (const r of this.#running.values()) {
      if (r.exited) continue;
      r.expected = "SIGKILL";
      this.#signal(r, "SIGKILL");
      try {
        r.child.kill("SIGKILL");
      } catch {
        // gone already
      }
      waits.push(Promise.race([r.status, sleep(5000)]));
    }
    await Promise.all(waits);
  }

  #signal(r: Running, signal: StopSignal): void {
    try {
      Deno.kill(r.pid, signal);
    } catch {
      // already gone
    }
  }

  #exited(name: string, r: Running, status: Deno.CommandStatus): void {
    r.exited = true;
    r.ready.reject(new Error(`exited with ${describe(status)}`));
    void r.stdin?.close().catch(() => {});
    if (r.expected) {
      if (!explained(status, r.expected)) {
        this.#problem(name, r.inc, `${describe(status)} after ${r.expected}`);
      }
      return;
    }
    if (this.#closing) return;
    const tail = r.stderrTail.slice(-3).join(" | ");
    this.#problem(name, r.inc, `exited on its own: ${describe(status)}${tail ? `; ${tail}` : ""}`);
    // Keep the mesh whole: start it again, as the chaos loop would (a few times).
    const restarts = (this.unexpectedRestarts.get(name) ?? 0) + 1;
    this.unexpectedRestarts.set(name, restarts);
    if (restarts <= MAX_UNEXPECTED_RESTARTS) setTimeout(() => void this.start(name), 1000);
    else this.#problem(name, r.inc, `left down after ${MAX_UNEXPECTED_RESTARTS} restarts`);
  }

  #problem(process: string, incarnation: number, what: string): void {
    this.problems.push({ process, incarnation, what });
  }

  async #childPid(pid: number): Promise<number | undefined> {
    for (let i = 0; i < 50; i++) {
      try {
        const text = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`);
        const first = text.trim().split(/\s+/)[0];
        if (first) return Number(first);
      } catch {
        return undefined;
      }
      await sleep(10);
    }
    return undefined;
  }

  async #waitForPort(port: number, r: Running): Promise<void> {
    while (!r.exited) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        c.close();
        r.ready.resolve();
        return;
      } catch {
        await sleep(100);
      }
    }
  }

  async #readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void) {
    let rest = "";
    try {
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        const lines = rest.split("\n");
        rest = lines.pop()!;
        for (const line of lines) onLine(line);
      }
    } catch {
      // the pipe broke with the process
    }
    if (rest) onLine(rest);
  }
}

/** VmRSS of a process in MiB, or undefined when it is gone. */
export async function readRssMb(pid: number | "self"): Promise<number | undefined> {
  try {
    const text = await Deno.readTextFile(`/proc/${pid}/status`);
    const m = /VmRSS:\s+(\d+)\s+kB/.exec(text);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
