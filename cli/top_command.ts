/**
 * `broker top`: a terminal view of a node's numbers, refreshing in place
 * like `top`, for machines with no browser. It polls the node's metrics
 * port (`/v1/status/json` and `/metrics`, see `--broker.metrics.port`) and
 * shows the node, messages per second per type, its peers, stores, and,
 * for a collector (`broker.metrics.import.topics`), one row per endpoint it
 * imports.
 *
 * @example
 * ```ts
 * import { renderTopFrame } from "./top_command.ts";
 * const frame = renderTopFrame({
 *   url: "http://127.0.0.1:9100",
 *   status: { id: "x", "cluster-node": "unknown", time: "t", "message-metrics": {}, peerings: {} },
 *   metrics: new Map(),
 * });
 * if (!frame.includes("node x")) throw new Error(frame);
 * ```
 *
 * @module
 */
import type { CommandUnknownOpts } from "@commander-js/extra-typings";
import http from "node:http";
import https from "node:https";
import { parsePrometheus } from "../engine/metrics/registry.ts";
import { parseDuration, UsageError } from "./cli_values.ts";
import { timerDelay } from "../engine/timer_delay.ts";

const TYPES = ["data", "command", "routing_update", "ping", "pong"] as const;

/** One poll of a node. */
export interface TopSample {
  /** The node's base URL. */
  readonly url: string;
  /** Its status document (`/v1/status/json`). */
  readonly status: any;
  /** Its metrics (`/metrics`), `name{labels}` to value. */
  readonly metrics: Map<string, number>;
  /** When it was taken (ms, monotonic). */
  readonly at?: number;
}

/** Reads a node: its status and metrics. */
export async function pollNode(url: string): Promise<TopSample> {
  const [status, metrics] = await Promise.all([
    httpGet(`${url}/v1/status/json`).then((t) => JSON.parse(t)),
    httpGet(`${url}/metrics`),
  ]);
  return { url, status, metrics: parsePrometheus(metrics), at: performance.now() };
}

/**
 * The body of a GET, in at most 5 s. Over `node:http`, not `fetch`: fetch
 * refuses the ports browsers block (6000, 6665-6669, 10080 ...), where a
 * node may well serve its metrics.
 */
function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith("https:") ? https : http).get(url, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        reject(new Error(`${url}: HTTP ${res.statusCode}`));
        return;
      }
      res.setEncoding("utf8");
      let body = "";
      res.on("data", (chunk: string) => body += chunk);
      res.on("end", () => resolve(body));
      res.on("error", reject);
    });
    req.setTimeout(5000, () => req.destroy(new Error("no answer in 5 s")));
    req.on("error", reject);
  });
}

function pad(s: string | number, n: number, right = false): string {
  const t = String(s);
  if (t.length >= n) return t;
  return right ? t.padStart(n) : t.padEnd(n);
}

function rate(cur: number, prev: number | undefined, dtSec: number): string {
  if (prev === undefined || dtSec <= 0) return "-";
  const r = Math.max(0, cur - prev) / dtSec;
  return r >= 100 ? Math.round(r).toLocaleString("en") : r.toFixed(1);
}

/** Imported endpoints of a collector: label `endpoint` on its series. */
function importedEndpoints(m: Map<string, number>): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  for (const [k, v] of m) {
    const e = /endpoint="((?:[^"\\]|\\.)*)"/.exec(k);
    if (!e) continue;
    const key = k.replace(/,?endpoint="(?:[^"\\]|\\.)*"/, "").replace("{,", "{").replace("{}", "");
    let byKey = out.get(e[1]);
    if (!byKey) out.set(e[1], byKey = new Map());
    byKey.set(key, v);
  }
  return out;
}

/** One frame of `broker top` (plain text, no escape codes), with rates against `prev`. */
export function renderTopFrame(cur: TopSample, prev?: TopSample): string {
  const s = cur.status;
  const dt = prev?.at !== undefined && cur.at !== undefined ? (cur.at - prev.at) / 1000 : 0;
  const lines: string[] = [];
  lines.push(
    `broker top: node ${s.id} (cluster node ${s["cluster-node"]}) at ${cur.url}, ${s.time}`,
  );
  lines.push(
    `peerings ${s["native-connections"] ?? 0}   WebSocket clients ${
      s["web-socket-connections"] ?? 0
    }   subscribers ${s["local-subscribers"] ?? 0}   publishers ${s["local-publishers"] ?? 0}`,
  );
  lines.push("");
  lines.push(
    `${pad("TYPE", 16)}${pad("MSG/S", 12, true)}${pad("PROCESSED", 14, true)}${
      pad("BUFFERED", 10, true)
    }`,
  );
  for (const t of TYPES) {
    const m = s["message-metrics"]?.[t] ?? { processed: 0, buffered: 0 };
    const before = prev?.status["message-metrics"]?.[t]?.processed;
    lines.push(
      `${pad(t, 16)}${pad(rate(m.processed, before, dt), 12, true)}${pad(m.processed, 14, true)}${
        pad(m.buffered, 10, true)
      }`,
    );
  }
  lines.push("");
  const peers = Object.entries(s.peerings ?? {}) as [string, any][];
  lines.push(
    `${pad("PEER", 38)}${pad("ADDRESS", 24)}${pad("STATUS", 14)}${pad("IN", 12, true)}${
      pad("IN/S", 10, true)
    }${pad("QUEUED", 9, true)}`,
  );
  if (peers.length === 0) lines.push("(no peers)");
  for (const [id, p] of peers) {
    const before = prev?.status.peerings?.[id]?.input?.delivered;
    lines.push(
      `${pad(id, 38)}${pad(p.address ?? "", 24)}${pad(p.status ?? "", 14)}${
        pad(p.input?.delivered ?? 0, 12, true)
      }${pad(rate(p.input?.delivered ?? 0, before, dt), 10, true)}${
        pad(p.output?.buffered ?? 0, 9, true)
      }`,
    );
  }
  const stores = [
    ...Object.entries(s.masters ?? {}).map(([n, v]) => [n, "master", v] as const),
    ...Object.entries(s.clones ?? {}).map(([n, v]) => [n, "clone", v] as const),
  ] as [string, string, any][];
  if (stores.length > 0) {
    lines.push("");
    lines.push(
      `${pad("STORE", 24)}${pad("ROLE", 8)}${pad("ENTRIES", 10, true)}${pad("UPDATES", 10, true)}`,
    );
    for (const [name, role, v] of stores) {
      lines.push(
        `${pad(name, 24)}${pad(role, 8)}${pad(v.entries ?? 0, 10, true)}${
          pad(v["processed-updates"] ?? 0, 10, true)
        }`,
      );
    }
  }
  const imported = importedEndpoints(cur.metrics);
  if (imported.size > 0) {
    const before = prev ? importedEndpoints(prev.metrics) : undefined;
    const DATA = 'broker_processed_messages_total{type="data"}';
    lines.push("");
    lines.push(
      `${pad("IMPORTED ENDPOINT", 24)}${pad("PEERINGS", 10, true)}${pad("DATA/S", 12, true)}${
        pad("DATA", 14, true)
      }`,
    );
    for (const [name, m] of [...imported].sort(([a], [b]) => a.localeCompare(b))) {
      const data = m.get(DATA) ?? 0;
      lines.push(
        `${pad(name, 24)}${pad(m.get('broker_connections{type="native"}') ?? 0, 10, true)}${
          pad(rate(data, before?.get(name)?.get(DATA), dt), 12, true)
        }${pad(data, 14, true)}`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

/** Options of `runTop`. */
export interface TopOptions {
  /** The node's metrics URL, e.g. `http://127.0.0.1:9100`. */
  url: string;
  /** Time between polls, ms. */
  intervalMs: number;
  /** Frames to show before stopping (default: until stopped). */
  iterations?: number;
  /** Refresh in place (clear the screen before each frame). */
  inPlace: boolean;
  /** Where frames go. */
  write(text: string): void;
  /** Where the line for a node that cannot be read goes (default: `write`; the CLI: stderr). */
  error?(text: string): void;
  /** Stops the loop when aborted. */
  signal?: AbortSignal;
}

/** Polls and prints until `iterations` frames were shown or `signal` aborts; returns the exit code. */
export async function runTop(o: TopOptions): Promise<number> {
  let prev: TopSample | undefined;
  for (let i = 0; o.iterations === undefined || i < o.iterations; i++) {
    if (o.signal?.aborted) break;
    let cur: TopSample;
    try {
      cur = await pollNode(o.url);
    } catch (e) {
      (o.error ?? o.write)(
        `broker top: cannot read ${o.url}: ${e instanceof Error ? e.message : e}\n`,
      );
      if (prev === undefined) return 1;
      await sleep(o.intervalMs, o.signal);
      continue;
    }
    const frame = renderTopFrame(cur, prev);
    o.write(o.inPlace ? `\x1b[H\x1b[2J${frame}` : i > 0 ? `\n${frame}` : frame);
    prev = cur;
    if (o.iterations !== undefined && i + 1 >= o.iterations) break;
    await sleep(o.intervalMs, o.signal);
  }
  return 0;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, timerDelay(ms));
    function done() {
      clearTimeout(t);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    signal?.addEventListener("abort", done, { once: true });
  });
}

/**
 * The node's metrics URL from `host:port`, `:port`, a bare port or a URL.
 *
 * @example
 * ```ts
 * import { parseTopTarget } from "./top_command.ts";
 * console.log(parseTopTarget("9100")); // "http://127.0.0.1:9100"
 * ```
 */
export function parseTopTarget(text: string): string {
  const bad = () => new UsageError("<node>", `expected host:port, a port or a URL, got "${text}"`);
  let url: string;
  if (/^https?:\/\//.test(text)) url = text.replace(/\/+$/, "");
  else {
    const m = /^(?:(\[[^\]]+\]|[^:[\]]+)?:)?(\d+)$/.exec(text);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) throw bad();
    url = `http://${m[1] ?? "127.0.0.1"}:${m[2]}`;
  }
  // Checked here, so that a URL fetch would refuse is a usage error before the first poll.
  if (!URL.canParse(`${url}/metrics`)) throw bad();
  return url;
}

/** Registers `broker top` on the program. */
export function registerTopCommand(
  program: CommandUnknownOpts,
  setExitCode: (code: number) => void,
): void {
  program
    .command("top")
    .description(
      "a live terminal view of a node's metrics port (--broker.metrics.port): messages/s, peers, " +
        "stores, and the endpoints a collector imports",
    )
    .argument("<node>", "the node's metrics port: host:port, a port (on 127.0.0.1) or a URL")
    .option("--interval <duration>", "time between refreshes (default: 1s)")
    .option("--iterations <n>", "stop after this many frames (default: until Ctrl-C)")
    .action(async (node: string, cli: { interval?: string; iterations?: string }) => {
      const url = parseTopTarget(node);
      const intervalMs = cli.interval === undefined
        ? 1000
        : parseDuration(cli.interval, "--interval", { allowZero: false });
      let iterations: number | undefined;
      if (cli.iterations !== undefined) {
        iterations = Number(cli.iterations);
        if (!Number.isInteger(iterations) || iterations < 1) {
          throw new UsageError(
            "--iterations",
            `expected a whole number ≥ 1, got "${cli.iterations}"`,
          );
        }
      }
      const abort = new AbortController();
      const stop = () => abort.abort();
      // SIGTERM as ^C: it ends a view, not a run (it killed top with 143 while ^C gave 0).
      const signals = ["SIGINT", "SIGTERM"] as const;
      for (const sig of signals) Deno.addSignalListener(sig, stop);
      const enc = new TextEncoder();
      try {
        setExitCode(
          await runTop({
            url,
            intervalMs,
            iterations,
            inPlace: Deno.stdout.isTerminal(),
            write: (t) => {
              let b = enc.encode(t);
              while (b.length > 0) b = b.subarray(Deno.stdout.writeSync(b));
            },
            // An error line is the program's, as every subcommand's: on stderr, not among the frames.
            error: (t) => {
              let b = enc.encode(t);
              while (b.length > 0) b = b.subarray(Deno.stderr.writeSync(b));
            },
            signal: abort.signal,
          }),
        );
      } finally {
        for (const sig of signals) Deno.removeSignalListener(sig, stop);
      }
    });
}
