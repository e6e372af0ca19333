/**
 * Child processes for the cluster tests: `broker cluster join` and friends,
 * with their stdout read line by line so a test awaits what it needs.
 *
 * @module
 */

import { ClusterLayout, ClusterNode, type ClusterNodeOptions } from "../mod.ts";
import { freePort } from "./broker_ref.ts";
import { zeekBin } from "./zeek_tool.ts";

const CLI = new URL("../cli/main.ts", import.meta.url).pathname;

/** A running child whose stdout lines can be awaited. */
export class LineChild {
  readonly process: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  readonly #done: Promise<void>;
  #stderr = "";
  readonly stderrDone: Promise<void>;

  constructor(
    cmd: string,
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ) {
    const child = this.process = new Deno.Command(cmd, {
      args,
      cwd: options.cwd,
      env: options.env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#done = (async () => {
      let rest = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        rest += chunk;
        let i;
        while ((i = rest.indexOf("\n")) >= 0) {
          this.lines.push(rest.slice(0, i));
          rest = rest.slice(i + 1);
        }
        for (const w of [...this.#waiters]) w();
      }
      if (rest) this.lines.push(rest);
      for (const w of [...this.#waiters]) w();
    })();
    this.stderrDone = (async () => {
      for await (const chunk of child.stderr.pipeThrough(new TextDecoderStream())) {
        this.#stderr += chunk;
      }
    })();
  }

  /** What the child wrote to stderr so far. */
  get stderr(): string {
    return this.#stderr;
  }

  /** Resolves with the first line (from `from` on) that matches, or rejects after `timeoutMs`. */
  waitLine(match: (line: string) => boolean, timeoutMs = 15_000, from = 0): Promise<string> {
    return new Promise((resolve, reject) => {
      let i = from;
      let ended = false;
      this.#done.then(() => ended = true);
      const check = () => {
        for (; i < this.lines.length; i++) {
          if (match(this.lines[i])) {
            finish();
            return resolve(this.lines[i]);
          }
        }
        if (ended) {
          finish();
          reject(
            new Error(
              `child ended without the line; stdout:\n${
                this.lines.join("\n")
              }\nstderr:\n${this.#stderr}`,
            ),
          );
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(
          new Error(
            `no such line after ${timeoutMs} ms; stdout:\n${
              this.lines.join("\n")
            }\nstderr:\n${this.#stderr}`,
          ),
        );
      }, timeoutMs);
      const finish = () => {
        clearTimeout(timer);
        this.#waiters.delete(check);
      };
      this.#waiters.add(check);
      check();
    });
  }

  /** Kills the child (SIGKILL unless told) and waits for it and its pipes. */
  async kill(signal: Deno.Signal = "SIGKILL"): Promise<void> {
    try {
      this.process.kill(signal);
    } catch {
      // already gone
    }
    await this.process.status;
    await this.#done;
    await this.stderrDone;
  }

  /** Waits for the child to exit by itself. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.process.status;
    await this.#done;
    await this.stderrDone;
    return s;
  }
}

/** `broker cluster join LAYOUT NAME --json [...extra]` as a child. */
export function joinChild(layoutPath: string, name: string, extra: string[] = []): LineChild {
  return new LineChild(Deno.execPath(), [
    "run",
    "--allow-all",
    "--no-check",
    CLI,
    "cluster",
    "join",
    layoutPath,
    name,
    "--json",
    ...extra,
  ]);
}

/** A parsed `--json` line of `broker cluster join`. */
export interface JoinLine {
  kind: string;
  name?: string;
  id?: string;
  port?: number;
  up?: string[];
  pools?: { proxy: string[]; worker: string[]; logger: string[] };
  topic?: string;
  data?: string;
}

/** A predicate over join lines. */
export function jsonLine(pred: (l: JoinLine) => boolean): (line: string) => boolean {
  return (line) => {
    try {
      return pred(JSON.parse(line));
    } catch {
      return false;
    }
  };
}

/**
 * What every Zeek node of the live cluster tests loads first: the cluster
 * framework on the Broker backend, plain TCP (our endpoints' default), no
 * log rotation, and an end after 30 s should the test never stop it.
 */
export const ZEEK_BROKER_CLUSTER = `
@load base/frameworks/cluster
@load policy/frameworks/cluster/backend/broker
redef exit_only_after_terminate = T;
redef Broker::disable_ssl = T;
redef Log::default_rotation_interval = 0secs;
event do_exit() { terminate(); }
event zeek_init() { schedule 30sec { do_exit() }; }
`;

/**
 * A fresh directory with Zeek's `cluster-layout.zeek` for a manager on
 * `port` and `workers` (as ZeekControl writes it), and the same layout as
 * ours.
 */
export async function zeekClusterDir(
  port: number,
  workers: readonly string[],
): Promise<{ dir: string; layout: ClusterLayout }> {
  const dir = await Deno.makeTempDir();
  const zeekWorkers = workers.map((w) =>
    `\t["${w}"] = [$node_type=Cluster::WORKER, $ip=127.0.0.1, $manager="manager"],\n`
  ).join("");
  await Deno.writeTextFile(
    `${dir}/cluster-layout.zeek`,
    `redef Cluster::nodes = {
	["manager"] = [$node_type=Cluster::MANAGER, $ip=127.0.0.1, $p=${port}/tcp],
${zeekWorkers}};\n`,
  );
  const nodes: Record<string, { type: string; host: string; port?: number; manager?: string }> = {
    manager: { type: "manager", host: "127.0.0.1", port },
  };
  for (const w of workers) nodes[w] = { type: "worker", host: "127.0.0.1", manager: "manager" };
  return { dir, layout: ClusterLayout.fromObject({ nodes }) };
}

/** Writes `script` to `<dir>/<name>.zeek` and runs it in `dir` as the Zeek cluster node `name`. */
export async function zeekNode(dir: string, name: string, script: string): Promise<LineChild> {
  await Deno.writeTextFile(`${dir}/${name}.zeek`, script);
  return new LineChild(zeekBin(), ["-b", `${name}.zeek`], {
    cwd: dir,
    env: { CLUSTER_NODE: name },
  });
}

/** What a live cluster test gets from `zeekClusterTest`. */
export interface ZeekClusterTest {
  /** The manager's port in the layout. */
  readonly port: number;
  /** The directory of Zeek's `cluster-layout.zeek` (and its nodes' scripts and logs). */
  readonly dir: string;
  /** The same layout as ours. */
  readonly layout: ClusterLayout;
  /** Starts Zeek as layout node `name` with `script` (`zeekNode`). */
  zeek(name: string, script: string): Promise<LineChild>;
  /** Joins our `ClusterNode` as layout node `name`. */
  join(name: string, options?: ClusterNodeOptions): Promise<ClusterNode>;
}

/**
 * A live cluster test: a layout for a manager on a free port and `workers`
 * (`zeekClusterDir`); the Zeek nodes and our nodes it starts are stopped in
 * the reverse order of their start, then the directory goes.
 */
export function zeekClusterTest(
  name: string,
  workers: readonly string[],
  fn: (t: ZeekClusterTest) => Promise<void>,
): void {
  Deno.test({
    name,
    sanitizeResources: false,
    sanitizeOps: false,
    fn: async () => {
      const port = freePort();
      const { dir, layout } = await zeekClusterDir(port, workers);
      const stops: (() => Promise<void>)[] = [];
      try {
        await fn({
          port,
          dir,
          layout,
          zeek: async (node, script) => {
            const z = await zeekNode(dir, node, script);
            stops.push(() => z.kill());
            return z;
          },
          join: async (node, options) => {
            const c = await ClusterNode.join(layout, node, options);
            stops.push(() => c.close());
            return c;
          },
        });
      } finally {
        for (const stop of stops.reverse()) await stop();
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}
