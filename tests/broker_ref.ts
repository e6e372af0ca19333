/**
 * Runs the reference C++ Broker tools (`broker-node`, `broker-pipe`) for
 * interop tests. They live in `../shared/tools/broker-ref/bin/` beside the
 * project (or in `$BROKER_REF_BIN`); a test that needs them and cannot find
 * them fails and says so.
 *
 * @module
 */
import { Endpoint } from "../mod.ts";

/** Where the reference binaries may be, in the order they are tried. */
export function brokerRefCandidates(): string[] {
  const env = Deno.env.get("BROKER_REF_BIN");
  return [
    ...(env ? [env] : []),
    new URL("../../shared/tools/broker-ref/bin/", import.meta.url).pathname,
    // CI runs a clean clone elsewhere; the shared tools stay at their place on the machine.
    "/work/shared/tools/broker-ref/bin/",
  ];
}

/** Directory of the reference binaries (the first candidate that has them). */
export function brokerRefBin(): string {
  const candidates = brokerRefCandidates();
  for (const dir of candidates) {
    try {
      Deno.statSync(`${dir.replace(/\/$/, "")}/broker-node`);
      return dir;
    } catch {
      // try the next place
    }
  }
  return candidates[0];
}

/** Path of one reference tool; throws a clear error when it is missing. */
export function brokerRefTool(name: "broker-node" | "broker-pipe" | "broker-throughput"): string {
  const path = `${brokerRefBin().replace(/\/$/, "")}/${name}`;
  try {
    Deno.statSync(path);
  } catch {
    throw new Error(
      `reference tool ${name} not found (looked in ${brokerRefCandidates().join(", ")}): ` +
        `interop tests need the C++ Broker tools; set BROKER_REF_BIN to their bin directory`,
    );
  }
  return path;
}

/** A free TCP port on 127.0.0.1 (free when this returns; good enough for tests). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Waits until something accepts connections on the port. */
export async function waitForPort(port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      if (Date.now() > deadline) {
        throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/**
 * Waits until a handshake with `broker-node` on `port` carries `topics` (a
 * master's `<name>/<$>/data/master`, a clone's `<name>/<$>/data/clone`).
 *
 * broker-node listens before it attaches its stores (broker-node.cc), and
 * Broker sends no routing update for a filter that grew while a peering's
 * handshake was under way: a capture of a peer that connected in that window
 * showed its `originator_syn` without the master's topic, the master's
 * keepalives reaching the peer afterwards, and no routing update, so the
 * peer's clone never reached the master. Each try peers a fresh probe and
 * waits up to `tryMs` for the topics.
 */
export async function storeTopicsAnnounced(
  port: number,
  topics: readonly string[],
  timeoutMs = 30_000,
  tryMs = 2_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let tries = 1;; tries++) {
    const probe = new Endpoint({ warmUp: false });
    try {
      await probe.peer("127.0.0.1", port, { retryMs: 0 });
      for (const t of topics) await probe.awaitPeerSubscription(t, tryMs);
      return;
    } catch (e) {
      if (Date.now() > deadline) {
        throw new Error(`port ${port} did not announce ${topics.join(", ")} in ${tries} tries`, {
          cause: e,
        });
      }
      // A refused connection fails at once: do not spin.
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await probe.shutdown();
    }
  }
}

/** A running reference process and the lines it printed. */
export class RefProcess {
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #stdin?: WritableStreamDefaultWriter<Uint8Array>;
  readonly done: Promise<Deno.CommandStatus>;
  #waiters: (() => void)[] = [];

  constructor(
    tool: "broker-node" | "broker-pipe",
    args: string[],
    stdin = false,
    env?: Record<string, string>,
  ) {
    this.#child = new Deno.Command(brokerRefTool(tool), {
      args,
      env,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    if (stdin) this.#stdin = this.#child.stdin.getWriter();
    const collect = async (s: ReadableStream<Uint8Array>) => {
      const lines = s.pipeThrough(new TextDecoderStream());
      let rest = "";
      for await (const chunk of lines) {
        rest += chunk;
        const parts = rest.split("\n");
        rest = parts.pop()!;
        for (const p of parts) this.lines.push(p);
        for (const w of this.#waiters.splice(0)) w();
      }
      if (rest) this.lines.push(rest);
      for (const w of this.#waiters.splice(0)) w();
    };
    const out = collect(this.#child.stdout);
    const err = collect(this.#child.stderr);
    this.done = Promise.all([out, err]).then(() => this.#child.status);
  }

  /** Writes a line to the process's stdin. */
  async writeLine(line: string): Promise<void> {
    await this.#stdin!.write(new TextEncoder().encode(line + "\n"));
  }

  /** Closes stdin. */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close();
  }

  /** Waits until `count` printed lines satisfy `pred`. */
  async waitFor(pred: (line: string) => boolean, count = 1, timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const hits = this.lines.filter(pred);
      if (hits.length >= count) return hits;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for output; got:\n${this.lines.join("\n")}`);
      }
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  /** Stops the process (SIGTERM) and waits for it. */
  async stop(): Promise<Deno.CommandStatus> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // already gone
    }
    return await this.done;
  }
}

/** Where Broker 2.2.0's `broker-cluster-benchmark` may be, in the order they are tried. */
export function brokerClusterBenchmarkCandidates(): string[] {
  const env = Deno.env.get("BROKER_2_2_0_BIN");
  return [
    ...(env ? [env] : []),
    new URL("../../shared/tools/broker-2.2.0/bin/", import.meta.url).pathname,
    "/work/shared/tools/broker-2.2.0/bin/",
  ];
}

/**
 * Path of Broker 2.2.0's `broker-cluster-benchmark` (the wrapper that sets
 * its library path): the last Broker whose cluster benchmark runs. Throws a
 * clear error when it is missing, so a test that needs it fails and says so.
 */
export function brokerClusterBenchmark(): string {
  const candidates = brokerClusterBenchmarkCandidates();
  for (const dir of candidates) {
    const path = `${dir.replace(/\/$/, "")}/broker-cluster-benchmark`;
    try {
      Deno.statSync(path);
      return path;
    } catch {
      // try the next place
    }
  }
  throw new Error(
    `Broker 2.2.0's broker-cluster-benchmark not found (looked in ${candidates.join(", ")}): ` +
      `the cluster benchmark tests compare with it; set BROKER_2_2_0_BIN to its bin directory`,
  );
}
