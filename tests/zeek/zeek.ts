/**
 * Runs the real Zeek 8 (`../shared/tools/zeek-8.2.2`, or `$ZEEK_BIN`) for the
 * live Zeek suite: one child per script, stdout and stderr collected line by
 * line, waits that end on the line they wait for (never on a sleep), and a
 * test wrapper with a hard timeout that kills every child and shuts every
 * endpoint down whatever happens.
 *
 * @example
 * The example registers a test, so it is not run as one (every file of the
 * suite runs it for real):
 * ```ts ignore
 * import { zeekTest } from "./zeek.ts";
 * zeekTest("Zeek starts", async (t) => {
 *   const zeek = await t.zeek("hello.zeek");
 *   await zeek.waitFor("hello");
 * });
 * ```
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  count,
  dataToString,
  Endpoint,
  type EndpointOptions,
  Event,
  type Subscriber,
  vector,
} from "../../mod.ts";
import { waitForPort } from "../broker_ref.ts";

/** Where the Zeek wrapper script may be, in the order they are tried. */
export function zeekCandidates(): string[] {
  const env = Deno.env.get("ZEEK_BIN");
  return [
    ...(env ? [env] : []),
    new URL("../../../shared/tools/zeek-8.2.2/bin/zeek", import.meta.url).pathname,
    // CI runs a clean clone elsewhere; the shared tools stay at their place on the machine.
    "/work/shared/tools/zeek-8.2.2/bin/zeek",
  ];
}

/** Path of the Zeek wrapper (the first candidate that exists); throws a clear error otherwise. */
export function zeekBinary(): string {
  const candidates = zeekCandidates();
  for (const path of candidates) {
    try {
      Deno.statSync(path);
      return path;
    } catch {
      // try the next place
    }
  }
  throw new Error(
    `Zeek 8 not found (looked in ${candidates.join(", ")}): the live Zeek suite needs it; ` +
      `set ZEEK_BIN to its bin/zeek`,
  );
}

/** Zeek's install root (the directory holding bin/, share/, lib/). */
export function zeekRoot(): string {
  return zeekBinary().replace(/\/bin\/zeek$/, "");
}

/** Directory of this suite's Zeek scripts. */
export const SCRIPTS = new URL("./scripts/", import.meta.url).pathname;

/** Options of {@link ZeekProcess.start}. */
export interface ZeekStartOptions {
  /** Environment variables for the script (ports, node names). */
  env?: Record<string, string>;
  /** Extra directories on ZEEKPATH, before the suite's scripts and Zeek's own. */
  path?: string[];
  /** Arguments before the scripts (default `-b`, bare mode). */
  args?: string[];
}

/**
 * One running Zeek. Its working directory is a fresh temporary directory
 * (Zeek writes its logs there), removed by {@link ZeekProcess.stop}.
 */
export class ZeekProcess {
  /** Lines printed on stdout so far. */
  readonly stdout: string[] = [];
  /** Lines printed on stderr so far. */
  readonly stderr: string[] = [];
  /** The working directory. */
  readonly dir: string;
  /** Resolves with the exit status once both streams are drained. */
  readonly done: Promise<Deno.CommandStatus>;
  #exited = false;
  readonly #child: Deno.ChildProcess;
  #waiters: (() => void)[] = [];

  private constructor(child: Deno.ChildProcess, dir: string) {
    this.#child = child;
    this.dir = dir;
    const out = this.#collect(child.stdout, this.stdout);
    const err = this.#collect(child.stderr, this.stderr);
    this.done = Promise.all([out, err]).then(() => child.status).finally(() => {
      this.#exited = true;
      this.#wake();
    });
  }

  /**
   * Starts `zeek -b prelude.zeek SCRIPT...` (scripts relative to
   * {@link SCRIPTS} unless absolute). The prelude makes Zeek wait for
   * `terminate()`, turns SSL off and ends Zeek after 60 s in case this
   * process dies without killing it.
   */
  static async start(scripts: string[], options: ZeekStartOptions = {}): Promise<ZeekProcess> {
    const root = zeekRoot();
    const z = `${root}/share/zeek`;
    const dir = await Deno.makeTempDir({ prefix: "zeek-live-" });
    const zeekPath = [
      ".",
      // Before ours, so a directory's own cluster-layout.zeek wins.
      ...(options.path ?? []),
      SCRIPTS,
      z,
      `${z}/policy`,
      `${z}/site`,
      `${z}/builtin-plugins`,
    ].join(":");
    const files = ["prelude.zeek", ...scripts].map((s) => s.startsWith("/") ? s : SCRIPTS + s);
    const child = new Deno.Command(zeekBinary(), {
      args: [...(options.args ?? ["-b"]), ...files],
      cwd: dir,
      env: { ZEEKPATH: zeekPath, ...options.env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return new ZeekProcess(child, dir);
  }

  async #collect(stream: ReadableStream<Uint8Array>, into: string[]): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      const parts = rest.split("\n");
      rest = parts.pop()!;
      into.push(...parts);
      this.#wake();
    }
    if (rest) into.push(rest);
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** Everything printed so far, stdout then stderr, for failure messages. */
  get transcript(): string {
    return `--- zeek stdout\n${this.stdout.join("\n")}\n--- zeek stderr\n${this.stderr.join("\n")}`;
  }

  /**
   * Waits until `count` stdout lines match (a string matches a line equal
   * to it or starting with it followed by ", "; Zeek's print separates
   * values so) and returns them. Fails at once when Zeek exits first, and
   * after `timeoutMs` otherwise, with Zeek's output in the message.
   */
  async waitFor(
    match: string | RegExp | ((line: string) => boolean),
    { count = 1, timeoutMs = 10_000 }: { count?: number; timeoutMs?: number } = {},
  ): Promise<string[]> {
    const pred = typeof match === "function"
      ? match
      : typeof match === "string"
      ? (l: string) => l === match || l.startsWith(match + ", ")
      : (l: string) => match.test(l);
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const hits = this.stdout.filter(pred);
      if (hits.length >= count) return hits.slice(0, count);
      if (this.#exited) throw new Error(`Zeek exited before printing ${match}\n${this.transcript}`);
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`timed out waiting for Zeek to print ${match}\n${this.transcript}`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /**
   * The stdout lines from the first line equal to `start` up to and
   * including the first `end` after it, once Zeek has printed `end`:
   * for values Zeek prints over several lines (sets, tables).
   */
  async block(start: string, end: string, timeoutMs = 10_000): Promise<string[]> {
    await this.waitFor((l) => {
      const i = this.stdout.indexOf(start);
      return i >= 0 && this.stdout.indexOf(end, i) >= 0 && l === end;
    }, { timeoutMs });
    const i = this.stdout.indexOf(start);
    return this.stdout.slice(i, this.stdout.indexOf(end, i) + 1);
  }

  /** The Zeek-side port a script printed as `<label>, <n>/tcp`. */
  async port(label = "listening", timeoutMs = 10_000): Promise<number> {
    const [line] = await this.waitFor(label, { timeoutMs });
    const m = line.match(/, (\d+)\/tcp$/);
    if (!m) throw new Error(`no port in ${JSON.stringify(line)}\n${this.transcript}`);
    return Number(m[1]);
  }

  /**
   * Waits until Zeek accepts connections on each of `ports` (a port it was
   * told to listen on, such as a ZeroMQ proxy's), `ZEEK_START_MS` at most.
   */
  async listening(...ports: number[]): Promise<void> {
    for (const port of ports) {
      await waitForPort(port, ZEEK_START_MS).catch((e) => {
        throw new Error(`${e instanceof Error ? e.message : e}\n${this.transcript}`);
      });
    }
  }

  /** Waits for Zeek to exit by itself (its script called `terminate()`). */
  async exited(timeoutMs = 10_000): Promise<Deno.CommandStatus> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`Zeek did not exit in ${timeoutMs} ms\n${this.transcript}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.done, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops Zeek (SIGTERM, SIGKILL after 2 s), waits for it and removes its directory. */
  async stop(): Promise<Deno.CommandStatus> {
    const kill = (signal: Deno.Signal) => {
      try {
        this.#child.kill(signal);
      } catch {
        // already gone
      }
    };
    if (!this.#exited) kill("SIGTERM");
    const timer = setTimeout(() => kill("SIGKILL"), 2000);
    try {
      return await this.done;
    } finally {
      clearTimeout(timer);
      await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    }
  }
}

/** What a {@link zeekTest} body gets: Zeeks and endpoints that are cleaned up for it. */
export interface ZeekTestContext {
  /** Starts a Zeek (see {@link ZeekProcess.start}); stopped when the test ends. */
  zeek(scripts: string | string[], options?: ZeekStartOptions): Promise<ZeekProcess>;
  /** A new endpoint, shut down when the test ends. */
  endpoint(options?: EndpointOptions): Endpoint;
  /** Registers cleanup to run when the test ends (last registered runs first). */
  defer(cleanup: () => void | Promise<void>): void;
}

const CLEANUP_MS = 5000;

/** Options of {@link zeekTest}. */
export interface ZeekTestOptions {
  /** Hard limit for the whole test, cleanup excluded. Default 15 s. */
  timeoutMs?: number;
}

/**
 * How long a test waits for a Zeek to listen (`ZeekProcess.listening`). Zeek
 * loads its scripts first: a second or two alone, and in one loaded CI run
 * over 10 s, longer than a ZeroMQ node's re-dialling.
 */
export const ZEEK_START_MS = 30_000;

/**
 * Registers a live Zeek test. The body races a hard timeout; either way
 * every Zeek it started is stopped and every endpoint shut down, so a
 * failing or hanging test leaves no process behind. Deno's op and resource
 * sanitizers are off: Zeek's sockets close on its own schedule.
 */
export function zeekTest(
  name: string,
  body: (t: ZeekTestContext) => Promise<void>,
  { timeoutMs = 15_000 }: ZeekTestOptions = {},
): void {
  Deno.test({ name, sanitizeOps: false, sanitizeResources: false }, async () => {
    const cleanups: (() => void | Promise<void>)[] = [];
    const zeeks: ZeekProcess[] = [];
    const t: ZeekTestContext = {
      async zeek(scripts, options) {
        const z = await ZeekProcess.start(Array.isArray(scripts) ? scripts : [scripts], options);
        zeeks.push(z);
        cleanups.push(() => z.stop().then(() => {}));
        return z;
      },
      endpoint(options) {
        const ep = new Endpoint(options);
        cleanups.push(() => ep.shutdown());
        return ep;
      },
      defer(cleanup) {
        cleanups.push(cleanup);
      },
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const out = zeeks.map((z) => z.transcript).join("\n");
        reject(new Error(`test timed out after ${timeoutMs} ms\n${out}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([body(t), timeout]);
    } finally {
      clearTimeout(timer);
      // In reverse order of registration, each cleanup given 5 s (a Zeek's stop takes at
      // most 2), so a stuck one cannot hang the suite.
      for (const c of cleanups.reverse()) {
        let guard: ReturnType<typeof setTimeout> | undefined;
        try {
          await Promise.race([
            c(),
            new Promise((resolve) => guard = setTimeout(resolve, CLEANUP_MS)),
          ]);
        } catch {
          // cleanup goes on; the test's own outcome is what matters
        } finally {
          clearTimeout(guard);
        }
      }
    }
  });
}

/**
 * Publishes `Test::ping(n)` for each `n` to `/zeek/peering` and checks that
 * `sub` gets Zeek's `Test::pong(n + 1, "zeek")` for each, in order
 * (`scripts/peering.zeek`).
 */
export async function pingsAnswered(ep: Endpoint, sub: Subscriber, ns: bigint[]): Promise<void> {
  for (const n of ns) ep.publishEvent("/zeek/peering", "Test::ping", [count(n)]);
  for (const n of ns) {
    const pong = await sub.get(5000);
    assert.ok(pong, `no pong ${n + 1n}`);
    assert.equal(dataToString(vector(...Event.from(pong.data).args)), `(${n + 1n}, zeek)`);
  }
}
