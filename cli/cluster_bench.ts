/**
 * Runs Broker's cluster benchmark (`broker-cluster-benchmark`) on our
 * endpoints: every node of a cluster file comes up (listening at its
 * `tcp://` id, peering to its `peers`), receivers subscribe, then the
 * senders publish from their generator files and the clock runs until every
 * receiver has its `num-inputs`. Nodes run in this process, or one child
 * process each (`runClusterProcesses`), speaking a line protocol on stdio.
 *
 * As in Broker 2.2.0's tool, a generator file's store command entries are
 * published too, as command messages (envelope type 2) on their topics
 * (`zeek/known/hosts/<$>/data/master` ...), and count towards `num-outputs`
 * and, at every receiver subscribed to their topic, towards `num-inputs`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { BrokerError, encode, Endpoint, ErrorCode, type Subscriber } from "../mod.ts";
import {
  commandFromEntry,
  generateFromShape,
  type GeneratorFile,
  readGeneratorFile,
  seededRandom,
} from "../engine/recording/generator_file.ts";
import { generateEntryTransient, prepareEncoded } from "../engine/recording/generate_encoded.ts";
import { decodeCommand, encodeCommand } from "../engine/store/commands.ts";
import {
  type ClusterNode,
  isReceiver,
  isSender,
  matchesAny,
  type RecordedNode,
} from "./cluster_config.ts";
import { type CafConfig, parseCafConfig } from "./caf_config.ts";
import { lines, selfCommandArgs } from "./self.ts";
import { warmUpClusterTraffic } from "./cluster_warm_up.ts";
import { ClusterGenerator } from "./cluster_generator.ts";
import { warmUpOnce } from "../engine/warm_up.ts";
import { timerDelay } from "../engine/timer_delay.ts";

/** One node's measurement: time to publish everything, or to receive `num-inputs`. */
export interface NodeTiming {
  /** The node. */
  readonly name: string;
  /** Which side of the node was timed (a node can do both). */
  readonly role: "sending" | "receiving";
  /** Seconds from the start of its part of the run. */
  readonly seconds: number;
  /** Messages it published or received. */
  readonly messages: number;
}

/** What a cluster run reports. */
export interface ClusterResult {
  /** Per-node timings in the order they finished. */
  readonly timings: NodeTiming[];
  /** Wall time from starting the senders until every node finished. */
  readonly systemSeconds: number;
  /** Messages published, all senders together. */
  readonly messagesSent: number;
  /** Messages received, all receivers together. */
  readonly messagesReceived: number;
  /** Received messages per second of system time. */
  readonly messagesPerSecond: number;
}

/**
 * Bytes the sender of a multi-process run publishes between two turns of
 * the event loop. Without turns, a sender stopped only when its peer buffer
 * (2,048 messages, 8.6 MB of mars.dat's events) was full, and its socket was
 * written only then: sending and the receiver's reading took turns instead of
 * overlapping. A turn per 64 KiB (a socket write's worth): example.zip with
 * `--decode --generate-in-clock --processes` went from 9.8-11.9k to
 * 13.2-18.4k msgs/s (alternating runs, 2026-12-05). In one process the
 * receiver shares the thread, so there is nothing to overlap; turns there
 * only split its reads into small batches (decoding runs were slower).
 */
const SEND_TURN_BYTES = 64 * 1024;

/** How long a receiver may get nothing before the run gives up, in ms. */
export const DEFAULT_IDLE_TIMEOUT_MS = 30_000;
/** How long a node waits for its peers' filters to cover the topics its receivers want, in ms. */
export const DEFAULT_AWAIT_ROUTES_MS = 5000;

/** Options shared by in-process and multi-process runs. */
export interface ClusterRunOptions {
  /** Verbose progress lines (the C++ tool's `-v`). */
  verbose?: (line: string) => void;
  /** Warnings (non-fatal). */
  warn?: (line: string) => void;
  /** A timing as soon as a node finishes (the C++ tool prints these as they come). */
  onTiming?: (t: NodeTiming) => void;
  /** Where relative generator-file paths are also looked for (the config's folder). */
  baseDir?: string;
  /**
   * Give up when a receiver gets nothing for this long (ms).
   * @default 30_000 (`DEFAULT_IDLE_TIMEOUT_MS`)
   */
  idleTimeoutMs?: number;
  /**
   * Seed of the value generator.
   * @default 1
   */
  seed?: number;
  /**
   * Receivers build every value (`Subscriber.get`) instead of counting the
   * validated, still encoded messages (`getEncoded`).
   * @default false
   */
  decode?: boolean;
  /**
   * Senders generate and encode each value as they publish it, inside the
   * clock, as Broker 2.2.0's tool does; by default every file entry's value
   * is made once, before the clock starts.
   * @default false
   */
  generateInClock?: boolean;
  /**
   * Senders' values are made in the clock as with `generateInClock`, the
   * same ones, on a Worker thread each (`ClusterGenerator`).
   * @default false
   */
  generateInWorker?: boolean;
  /**
   * The topics of the store command entries in the cluster's generator
   * files (read from them when absent), so that receivers count commands.
   */
  commandTopics?: ReadonlySet<string>;
}

function fail(message: string, code = ErrorCode.invalid_data): never {
  throw new BrokerError(code, message);
}

/** Finds a generator file as given (from the working directory) or beside the config. */
export async function loadGeneratorFile(path: string, baseDir?: string): Promise<GeneratorFile> {
  return readGeneratorFile(await generatorFileBytes(path, baseDir));
}

/** A generator file's bytes, found as `loadGeneratorFile` finds it. */
async function generatorFileBytes(path: string, baseDir?: string): Promise<Uint8Array> {
  const found = generatorFilePath(path, baseDir);
  if (found === undefined) {
    return fail(`generator file does not exist: ${path}`, ErrorCode.cannot_open_file);
  }
  return await Deno.readFile(found);
}

/** Where a generator file is found: as given (from the working directory), else beside the config. */
export function generatorFilePath(path: string, baseDir?: string): string | undefined {
  const candidates = [path];
  if (baseDir && !path.startsWith("/")) candidates.push(`${baseDir}/${path}`);
  for (const p of candidates) {
    try {
      if (Deno.statSync(p).isFile) return p;
    } catch {
      // try the next place
    }
  }
  return undefined;
}

/**
 * The topics of the command entries in the senders' generator files: the
 * exact topics a receiver registers for (store commands are delivered by
 * topic, not by prefix).
 *
 * @example
 * ```ts ignore
 * const topics = await commandTopicsOf(nodes, ".");
 * console.log([...topics]); // e.g. ["zeek/known/hosts/<$>/data/master"]
 * ```
 */
export async function commandTopicsOf(
  nodes: readonly ClusterNode[],
  baseDir: string | undefined,
): Promise<Set<string>> {
  return commandTopicsIn(await senderFiles(nodes, baseDir));
}

/** The topics of the command entries in generator files already read. */
function commandTopicsIn(files: readonly GeneratorFile[]): Set<string> {
  const topics = new Set<string>();
  for (const file of files) {
    for (const e of file.entries) if (e.kind === "command") topics.add(e.topic);
  }
  return topics;
}

/** The senders' generator files, each once; those that cannot be read are left out (their sender reports them). */
async function senderFiles(
  nodes: readonly ClusterNode[],
  baseDir: string | undefined,
): Promise<GeneratorFile[]> {
  const files: GeneratorFile[] = [];
  for (const f of new Set(nodes.filter(isSender).map((n) => n.generatorFile))) {
    try {
      files.push(await loadGeneratorFile(f, baseDir));
    } catch {
      // its sender reports the problem
    }
  }
  return files;
}

/** Data entries of each generator file the warm-up sends (their shapes repeat). */
const WARM_UP_SHAPES_PER_FILE = 100;

/**
 * Runs this process's warm-up (`warmUpOnce`) with the cluster's own traffic
 * (`warmUpClusterTraffic`): events of the senders' generator `files`,
 * received as the run receives them. Before any node comes up, outside the
 * clock.
 */
async function warmUpForRun(
  files: readonly GeneratorFile[],
  options: ClusterRunOptions,
): Promise<void> {
  const shapes = files.flatMap((f) =>
    f.entries.filter((e) => e.kind === "data").slice(0, WARM_UP_SHAPES_PER_FILE).map((e) =>
      e.shape!
    )
  );
  const report = await warmUpOnce((id) => new Endpoint({ id, warmUp: false }), {
    then: (a, b) => warmUpClusterTraffic(a, b, shapes, { decode: options.decode }),
  });
  options.verbose?.(
    `warm-up: ${report.messages} messages in ${Math.round(report.ms)} ms, before the clock`,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * One node of the cluster: its endpoint, its subscriber (opened before it
 * peers, so no early message is lost) and its pre-encoded messages.
 *
 * @example
 * ```ts ignore
 * const runner = new NodeRunner(node, allNodes, { verbose: console.error });
 * await runner.init();
 * const received = runner.receive(); // resolves with a NodeTiming
 * ```
 */
export class NodeRunner {
  /** The node it runs. */
  readonly node: ClusterNode;
  /** Its endpoint. */
  readonly endpoint: Endpoint;
  readonly #all: readonly ClusterNode[];
  readonly #opts: ClusterRunOptions;
  readonly #sub?: Subscriber;
  #messages: { topic: string; payload: Uint8Array; command: boolean }[] = [];
  /** With `generateInClock`: makes message `i`'s payload when it is sent. */
  #generate?: (i: number) => Uint8Array;
  /** With `generateInWorker`: the worker that makes the payloads. */
  #worker?: ClusterGenerator;
  #received = 0;
  #listening = false;
  /** Wakes `receive` when a command arrives (commands come by callback, data by queue). */
  #wake?: () => void;
  #lastInput = 0;
  #unsubscribeCommands: (() => void)[] = [];

  /** A runner for `node` of the cluster `all` (receivers subscribe at once). */
  constructor(node: ClusterNode, all: readonly ClusterNode[], options: ClusterRunOptions = {}) {
    this.node = node;
    this.#all = all;
    this.#opts = options;
    this.endpoint = new Endpoint({
      disableForwarding: node.disableForwarding,
      peerBufferSize: 8192,
    });
    if (isReceiver(node)) {
      this.#sub = this.endpoint.subscribe([...node.topics], { queueSize: 65536 });
    } else if (!node.disableForwarding && node.topics.length > 0) {
      // Broker 2.2.0's tool puts a forwarding node's topics into its filter
      // even when it receives nothing itself, so that peers route through it;
      // what reaches this subscriber is dropped.
      this.endpoint.subscribe([...node.topics], { queueSize: 1, overflowPolicy: "drop_newest" });
    }
  }

  /**
   * Counts the store commands on every topic in `topics` that this
   * receiver's prefixes cover (once per topic, before the run).
   */
  #listenForCommands(topics: ReadonlySet<string>): void {
    if (!this.#sub) return;
    const bus = this.endpoint.commandBus;
    for (const t of topics) {
      if (!matchesAny(t, this.node.topics)) continue;
      this.#unsubscribeCommands.push(bus.onCommands(t, (m) => {
        if (this.#opts.decode) decodeCommand(m.payload);
        // The receiving loop only needs to look at the count when it is
        // reached, and every 1000 for the progress lines: not per command.
        if (++this.#received >= this.node.numInputs || this.#received % 1000 === 0) {
          this.#wake?.();
        }
        this.#lastInput = performance.now();
      }));
    }
  }

  #verbose(line: string): void {
    this.#opts.verbose?.(line);
  }

  /** Listens at a `tcp://` id (nodes with a `local:` id do not). */
  async listen(): Promise<void> {
    const n = this.node;
    if (n.id.scheme !== "tcp" || this.#listening) return;
    this.#listening = true;
    this.#verbose(`${n.name} starts listening at ${hostPort(n)}`);
    const port = await this.endpoint.listen(n.id.host!, n.id.port!);
    if (port !== n.id.port) fail(`${n.name} opened port ${port} instead of ${n.id.port}`);
  }

  /**
   * Listens, registers for the store commands it may receive, peers to every
   * `peers` entry (5 tries each, as the C++ tool), loads the generator file.
   */
  async init(): Promise<void> {
    const n = this.node;
    await this.listen();
    if (this.#sub) {
      this.#listenForCommands(
        this.#opts.commandTopics ?? await commandTopicsOf(this.#all, this.#opts.baseDir),
      );
    }
    for (const peer of n.right) {
      this.#verbose(`${n.name} starts peering to ${hostPort(peer)} (${peer.name})`);
      for (let attempt = 1;; attempt++) {
        try {
          await this.endpoint.peer(peer.id.host!, peer.id.port!, { retryMs: 0 });
          this.#verbose(`${n.name} successfully peered to ${peer.id.text} (${peer.name})`);
          break;
        } catch (e) {
          const why = e instanceof Error ? e.message : String(e);
          if (attempt === 5) {
            fail(
              `${n.name} received an error while trying to peer to ${peer.name} on the 5th try: ${why}`,
              ErrorCode.peer_unavailable,
            );
          }
          this.#verbose(
            `${n.name} received an error while trying to peer to ${peer.name} (try again): ${why}`,
          );
          // Its listener may still be starting (another process): back off, 0.25 s doubling.
          await sleep(250 * 2 ** (attempt - 1));
        }
      }
    }
    if (isSender(n)) await this.#loadMessages();
    this.#verbose(`${n.name} up and running`);
  }

  // By default values are generated once per file entry, before the clock
  // starts, so the run measures messaging; with `generateInClock` each
  // message gets a fresh one as it is sent, as the C++ tool makes them.
  async #loadMessages(): Promise<void> {
    const bytes = await generatorFileBytes(this.node.generatorFile, this.#opts.baseDir);
    const file = readGeneratorFile(bytes);
    if (file.entries.length === 0) fail(`${this.node.generatorFile} holds no messages`);
    if (this.#opts.generateInClock || this.#opts.generateInWorker) {
      const empty = new Uint8Array(0);
      this.#messages = file.entries.map((e) => ({
        topic: e.topic,
        payload: empty,
        command: e.kind === "command",
      }));
    }
    if (this.#opts.generateInWorker) {
      // The same values in the same order, made on a Worker thread; it
      // starts making them when the clock starts (`send`).
      this.#worker = await ClusterGenerator.open(bytes, this.#opts.seed ?? 1);
      return;
    }
    if (this.#opts.generateInClock) {
      // A fresh value per message from the entry's shape, as the C++ tool
      // makes them, written straight into its encoding (no `Data` built).
      // The shapes are read (and readied) before the clock, where the C++
      // tool reads each one from the file as it publishes.
      for (const e of file.entries) if (e.kind === "data") prepareEncoded(e.shape!);
      const gen = seededRandom(this.#opts.seed ?? 1);
      // The bytes are in a buffer that the next value overwrites: publishing
      // and sending a command copy them into their frame at once (no
      // subscriber here asks for the endpoint's own messages, which would
      // keep them).
      this.#generate = (i) => generateEntryTransient(file.entries[i % file.entries.length], gen);
      return;
    }
    const rnd = seededRandom(this.#opts.seed ?? 1);
    this.#messages = file.entries.map((e) =>
      e.kind === "data"
        ? {
          topic: e.topic,
          payload: encode(generateFromShape(e.shape!, rnd)).slice(),
          command: false,
        }
        : { topic: e.topic, payload: encodeCommand(commandFromEntry(e, rnd)), command: true }
    );
  }

  /** Topics this node publishes that some receiver in the cluster subscribes to. */
  #wantedTopics(): string[] {
    const receivers = this.#all.filter(isReceiver);
    const topics = new Set(this.#messages.map((m) => m.topic));
    return [...topics].filter((t) => receivers.some((r) => matchesAny(t, r.topics)));
  }

  /**
   * Waits until a peer's filter covers each topic some receiver wants (a
   * node beyond a non-forwarding hop never shows up: give up after `ms`).
   */
  async awaitRoutes(ms = DEFAULT_AWAIT_ROUTES_MS): Promise<void> {
    for (const t of this.#wantedTopics()) {
      await this.endpoint.awaitPeerSubscription(t, ms).catch(() => {
        this.#opts.warn?.(`${this.node.name}: no peer subscribed to ${t} after ${ms} ms`);
      });
    }
  }

  /**
   * Publishes `num-outputs` messages (or the file once), data and store
   * commands as the file has them, respecting back-pressure, with a turn of
   * the event loop after every `turnBytes` of them.
   */
  async send(turnBytes = Infinity): Promise<NodeTiming> {
    const n = this.node;
    const total = n.numOutputs ?? this.#messages.length;
    this.#verbose(`${n.name} starts publishing`);
    const ep = this.endpoint;
    const msgs = this.#messages;
    const generate = this.#generate;
    // The bus is built on first use: not inside the timed loop.
    if (msgs.some((m) => m.command)) void ep.commandBus;
    const worker = this.#worker;
    const t0 = performance.now();
    worker?.start();
    let next = 1000, sinceTurn = 0;
    for (let i = 0; i < total; i++) {
      const m = msgs[i % msgs.length];
      if (ep.demand(m.topic) <= 0) await ep.ready(m.topic);
      let payload = worker ? worker.next() : generate ? generate(i) : m.payload;
      if (payload === undefined) {
        await worker!.wait();
        payload = worker!.next()!;
      }
      if (m.command) ep.commandBus.sendCommand(m.topic, payload);
      else ep.publishOwnEncoding(m.topic, payload); // written by `encode` or the generator
      sinceTurn += payload.length;
      if (sinceTurn >= turnBytes) {
        sinceTurn = 0;
        await new Promise((r) => setImmediate(r));
      }
      if (i + 1 >= next) {
        this.#verbose(`${n.name} pushed ${i + 1} messages`);
        next += 1000;
      }
    }
    return {
      name: n.name,
      role: "sending",
      seconds: (performance.now() - t0) / 1000,
      messages: total,
    };
  }

  /**
   * Counts arriving messages (data validated on arrival and built into
   * values only with the `decode` option; store commands as they come) and
   * resolves once `num-inputs` arrived. Fails after `idleTimeoutMs` without
   * any message, instead of waiting forever as the C++ tool does.
   */
  async receive(): Promise<NodeTiming> {
    const n = this.node;
    const sub = this.#sub;
    if (!sub) fail(`${n.name} does not receive`);
    this.#verbose(`${n.name} waits for messages`);
    const t0 = performance.now();
    this.#lastInput = t0;
    const idle = this.#opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
    const decode = this.#opts.decode;
    const commands = this.#unsubscribeCommands.length > 0;
    let next = 1000;
    // With commands, a pending read must not be dropped when a command ends
    // the wait: it is kept for the next round (and counted even after the end).
    let pending: Promise<unknown> | undefined;
    let gotData = false;
    const read = () =>
      (decode ? sub.get(idle) : sub.getEncoded(idle)).then((m) => {
        if (m) {
          this.#received += 1 + (decode ? sub.poll() : sub.pollEncoded()).length;
          this.#lastInput = performance.now();
          gotData = true;
        }
        pending = undefined;
      });
    while (this.#received < n.numInputs) {
      gotData = false;
      if (!commands) await read();
      else {
        pending ??= read();
        await Promise.race([pending, new Promise<void>((r) => this.#wake = r)]);
        this.#wake = undefined;
      }
      // Without commands an empty read means `idle` went by; with them, only if none came either.
      if (!gotData && (!commands || performance.now() - this.#lastInput >= idle)) {
        fail(
          `${n.name} received nothing for ${
            idle / 1000
          } s, last count: ${this.#received} of ${n.numInputs}`,
          ErrorCode.request_timeout,
        );
      }
      while (this.#received >= next) {
        this.#verbose(`${n.name} got ${next} messages`);
        next += 1000;
      }
    }
    const seconds = (performance.now() - t0) / 1000;
    this.#verbose(`${n.name} reached its limit`);
    return { name: n.name, role: "receiving", seconds, messages: this.#received };
  }

  /** Closes the endpoint; warns if more messages arrived than expected. */
  async shutdown(): Promise<void> {
    this.#worker?.close();
    if (this.#sub) {
      this.#received += this.#sub.pollEncoded().length;
      if (this.#received > this.node.numInputs) {
        this.#opts.warn?.(
          `${this.node.name} received ${this.#received} messages but only expected ${this.node.numInputs}`,
        );
      }
    }
    this.#unsubscribeCommands.forEach((stop) => stop());
    await this.endpoint.shutdown();
    this.#verbose(`${this.node.name} down`);
  }
}

function hostPort(n: ClusterNode): string {
  const h = n.id.host ?? "";
  return `${h.includes(":") ? `[${h}]` : h}:${n.id.port}`;
}

function summarize(timings: NodeTiming[], systemSeconds: number): ClusterResult {
  const sum = (role: NodeTiming["role"]) =>
    timings.filter((t) => t.role === role).reduce((a, t) => a + t.messages, 0);
  const messagesReceived = sum("receiving");
  return {
    timings,
    systemSeconds,
    messagesSent: sum("sending"),
    messagesReceived,
    messagesPerSecond: messagesReceived / Math.max(systemSeconds, 1e-9),
  };
}

/**
 * Runs every node in this process (as the C++ tool does), over real TCP
 * connections on the configured addresses.
 *
 * @example
 * ```ts ignore
 * const { nodes } = readClusterConfig(await Deno.readTextFile("setup.conf"));
 * const result = await runClusterInProcess(nodes, { baseDir: "." });
 * console.log(result.systemSeconds, result.messagesPerSecond);
 * ```
 */
export async function runClusterInProcess(
  nodes: readonly ClusterNode[],
  options: ClusterRunOptions = {},
): Promise<ClusterResult> {
  // Read once for all runners here; each child of a multi-process run reads them itself.
  const files = await senderFiles(nodes, options.baseDir);
  const commandTopics = options.commandTopics ?? commandTopicsIn(files);
  await warmUpForRun(files, options);
  const runners = nodes.map((n) => new NodeRunner(n, nodes, { ...options, commandTopics }));
  try {
    // Listeners first, so nobody's first peering attempt hits a closed port.
    await Promise.all(runners.map((r) => r.listen()));
    await Promise.all(runners.map((r) => r.init()));
    options.verbose?.("all nodes are up and running, run benchmark");
    const senders = runners.filter((r) => isSender(r.node));
    await Promise.all(senders.map((r) => r.awaitRoutes()));
    const timings: NodeTiming[] = [];
    const record = (t: NodeTiming) => {
      timings.push(t);
      options.onTiming?.(t);
    };
    const receiving = runners.filter((r) => isReceiver(r.node)).map((r) =>
      r.receive().then(record)
    );
    const t0 = performance.now();
    const sending = senders.map((r) => r.send().then(record));
    await Promise.all([...sending, ...receiving]);
    const systemSeconds = (performance.now() - t0) / 1000;
    return summarize(timings, systemSeconds);
  } finally {
    options.verbose?.("shut down all nodes");
    await Promise.all(runners.map((r) => r.shutdown().catch(() => {})));
  }
}

/** Lines a child node writes on stdout, and the commands it reads on stdin. */
const Line = {
  up: "up",
  ack: "ack",
  read: "read",
  write: "write",
  shutdown: "shutdown",
  down: "down",
} as const;

/**
 * The child side of a multi-process run: drives one node by the commands on
 * stdin and reports on stdout (`up`, `ack`, a JSON timing, `down`, or
 * `error <message>`).
 */
export async function runClusterChild(
  node: ClusterNode,
  nodes: readonly ClusterNode[],
  options: ClusterRunOptions = {},
): Promise<void> {
  const enc = new TextEncoder();
  const say = (l: string) => Deno.stdout.writeSync(enc.encode(l + "\n"));
  const files = await senderFiles(nodes, options.baseDir);
  await warmUpForRun(files, options);
  const commandTopics = options.commandTopics ?? commandTopicsIn(files);
  const runner = new NodeRunner(node, nodes, { ...options, commandTopics });
  const pending: Promise<unknown>[] = [];
  const report = (p: Promise<NodeTiming>) =>
    pending.push(
      p.then((t) => say(JSON.stringify(t)), (e) => say(`error ${(e as Error).message}`)),
    );
  try {
    await runner.init();
    if (isSender(node)) await runner.awaitRoutes();
    say(Line.up);
    for await (const cmd of lines(Deno.stdin.readable)) {
      if (cmd === Line.read) {
        report(runner.receive());
        say(Line.ack);
      } else if (cmd === Line.write) {
        report(runner.send(SEND_TURN_BYTES));
      } else if (cmd === Line.shutdown) break;
    }
  } catch (e) {
    say(`error ${(e as Error).message}`);
  }
  await Promise.race([Promise.all(pending), sleep(100)]);
  await runner.shutdown();
  say(Line.down);
}

interface Child {
  readonly node: ClusterNode;
  readonly proc: Deno.ChildProcess;
  readonly out: AsyncGenerator<string>;
  readonly write: (l: string) => Promise<void>;
}

async function expectLine(c: Child, want: string, timeoutMs: number): Promise<void> {
  const l = await nextLine(c, timeoutMs);
  if (l !== want) fail(`${c.node.name}: expected '${want}', got '${l}'`);
}

async function nextLine(c: Child, timeoutMs: number): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new BrokerError(ErrorCode.request_timeout, `${c.node.name} did not answer`)),
      timerDelay(timeoutMs),
    );
  });
  try {
    const r = await Promise.race([c.out.next(), timeout]);
    if (r.done) fail(`${c.node.name}: its process exited early`);
    if (r.value.startsWith("error ")) fail(`${c.node.name}: ${r.value.slice(6)}`);
    return r.value;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs each node in its own `broker bench cluster --node NAME` process.
 * `childArgs` are the arguments that make a child read the same cluster
 * (the config path and `-e` exclusions).
 *
 * @example
 * ```ts ignore
 * const result = await runClusterProcesses(nodes, ["setup.conf"], {});
 * ```
 */
export async function runClusterProcesses(
  nodes: readonly ClusterNode[],
  childArgs: readonly string[],
  options: ClusterRunOptions & { verboseChildren?: boolean } = {},
): Promise<ClusterResult> {
  const enc = new TextEncoder();
  const children: Child[] = nodes.map((node) => {
    const proc = new Deno.Command(Deno.execPath(), {
      args: [
        ...selfCommandArgs(),
        "bench",
        "cluster",
        ...childArgs,
        "--node",
        node.name,
        ...(options.verboseChildren ? ["-v"] : []),
        ...(options.idleTimeoutMs ? ["--timeout", String(options.idleTimeoutMs / 1000)] : []),
        ...(options.decode ? ["--decode"] : []),
        ...(options.generateInClock ? ["--generate-in-clock"] : []),
        ...(options.generateInWorker ? ["--generate-in-worker"] : []),
        ...(options.seed ? ["--seed", String(options.seed)] : []),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const writer = proc.stdin.getWriter();
    return {
      node,
      proc,
      out: lines(proc.stdout),
      write: (l: string) => writer.write(enc.encode(l + "\n")),
    };
  });
  const startTimeout = 60_000;
  try {
    await Promise.all(children.map((c) => expectLine(c, Line.up, startTimeout)));
    options.verbose?.("all nodes are up and running, run benchmark");
    const receivers = children.filter((c) => isReceiver(c.node));
    await Promise.all(receivers.map(async (c) => {
      await c.write(Line.read);
      await expectLine(c, Line.ack, startTimeout);
    }));
    const timings: NodeTiming[] = [];
    const collect = async (c: Child) => {
      const t = JSON.parse(await nextLine(c, 24 * 3600_000)) as NodeTiming;
      timings.push(t);
      options.onTiming?.(t);
    };
    const t0 = performance.now();
    const senders = children.filter((c) => isSender(c.node));
    await Promise.all(senders.map((c) => c.write(Line.write)));
    // A node that both sends and receives reports twice.
    await Promise.all(children.flatMap((c) => {
      const n = (isSender(c.node) ? 1 : 0) + (isReceiver(c.node) ? 1 : 0);
      return Array.from({ length: n }, () => collect(c));
    }));
    const systemSeconds = (performance.now() - t0) / 1000;
    return summarize(timings, systemSeconds);
  } finally {
    options.verbose?.("shut down all nodes");
    await Promise.all(children.map(async (c) => {
      await c.write(Line.shutdown).catch(() => {});
      const killer = setTimeout(() => c.proc.kill("SIGKILL"), 10_000);
      await c.proc.status;
      clearTimeout(killer);
    }));
  }
}

/**
 * `dump-stats`: per generator file, its entries (data and command) and the
 * messages per topic, in the C++ tool's tree layout.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { dumpStats } from "./cluster_bench.ts";
 * import { readGeneratorFile } from "../engine/recording/generator_file.ts";
 * const mars = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
 * deepEqual(dumpStats("mars.dat", readGeneratorFile(await Deno.readFile(mars))), [
 *   "mars.dat",
 *   "├── entries: 1000",
 *   "|   ├── data-entries: 1000",
 *   "|   └── command-entries: 0",
 *   "└── topics:",
 *   "    └── /benchmark/events (1000)",
 * ]);
 * ```
 */
export function dumpStats(name: string, file: GeneratorFile): string[] {
  const data = file.entries.filter((e) => e.kind === "data").length;
  const byTopic = new Map<string, number>();
  for (const e of file.entries) byTopic.set(e.topic, (byTopic.get(e.topic) ?? 0) + 1);
  const topics = [...byTopic].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0);
  return [
    name,
    `├── entries: ${file.entries.length}`,
    `|   ├── data-entries: ${data}`,
    `|   └── command-entries: ${file.entries.length - data}`,
    "└── topics:",
    ...topics.map(([t, k], i) => `    ${i === topics.length - 1 ? "└──" : "├──"} ${t} (${k})`),
  ];
}

/**
 * Seconds the way the C++ tool prints a `std::chrono` duration in seconds:
 * `ostream << double` (six significant digits, no trailing zeros) plus `s`.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { formatSeconds } from "./cluster_bench.ts";
 * equal(formatSeconds(0.1234567), "0.123457s");
 * ```
 */
export function formatSeconds(s: number): string {
  if (s === 0) return "0s";
  const exp = Math.floor(Math.log10(Math.abs(s)));
  let text: string;
  if (exp < -5 || exp >= 6) {
    text = s.toExponential(5).replace(/\.?0+e/, "e").replace(/e([+-])(\d)$/, "e$10$2");
  } else {
    text = s.toFixed(Math.max(0, 5 - exp)).replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, "");
  }
  return `${text}s`;
}

const RECORDING_FILES = ["id.txt", "messages.dat", "peers.txt", "topics.txt", "broker.conf"];

/**
 * Reads one node's recording directory (`BROKER_RECORDING_DIRECTORY` of
 * `broker node`, or of a C++ Broker) for `generate-config`, as Broker
 * 2.2.0's tool reads it: the five files must exist; `id.txt` is trimmed;
 * `peers.txt` and `topics.txt` are taken line by line as they are, empty
 * lines skipped; `broker.conf` gives `broker.forward` (default true; newer
 * Brokers' `broker.disable-forwarding` when it is absent); every entry of
 * `messages.dat`, data or command, counts as an output on its topic.
 *
 * @example
 * ```ts ignore
 * const node = await readRecordingDirectory("recordings/server");
 * console.log(node.name, node.handle, node.outputs);
 * ```
 */
export async function readRecordingDirectory(dir: string): Promise<RecordedNode> {
  dir = dir.replace(/\/+$/, "") || "/";
  try {
    if (!(await Deno.stat(dir)).isDirectory) throw new Error();
  } catch {
    fail(`"${dir}" is not a directory`, ErrorCode.cannot_open_file);
  }
  for (const f of RECORDING_FILES) {
    try {
      if (!(await Deno.stat(`${dir}/${f}`)).isFile) throw new Error();
    } catch {
      fail(`missing file: ${dir}/${f}`, ErrorCode.cannot_open_file);
    }
  }
  const lines = async (f: string) =>
    (await Deno.readTextFile(`${dir}/${f}`)).split("\n").filter((l) => l !== "");
  const handle = (await Deno.readTextFile(`${dir}/id.txt`)).trim();
  if (handle === "") fail(`empty file: ${dir}/id.txt`);
  const confPath = `${dir}/broker.conf`;
  let conf: CafConfig;
  try {
    conf = parseCafConfig(await Deno.readTextFile(confPath), { source: confPath });
  } catch (e) {
    fail(`unable to parse "${confPath}": ${(e as Error).message}`);
  }
  // CAF's get_or: a value of the wrong type counts as absent.
  const bool = (key: string) => {
    try {
      return conf.getBool(key);
    } catch {
      return undefined;
    }
  };
  const forward = bool("broker.forward");
  const generatorFile = `${dir}/messages.dat`;
  const file = readGeneratorFile(await Deno.readFile(generatorFile));
  const outputs = new Map<string, number>();
  for (const e of file.entries) outputs.set(e.topic, (outputs.get(e.topic) ?? 0) + 1);
  return {
    name: dir.slice(dir.lastIndexOf("/") + 1),
    handle,
    peerHandles: await lines("peers.txt"),
    topics: await lines("topics.txt"),
    disableForwarding: forward !== undefined
      ? !forward
      : bool("broker.disable-forwarding") ?? false,
    generatorFile,
    outputs,
  };
}

/**
 * `shrink-generator-file IN OUT N`: the first `N` entries of a generator
 * file, as raw bytes (header, topic definitions and entries unchanged).
 * Refuses to overwrite `OUT`, as the C++ tool does.
 *
 * @example
 * ```ts ignore
 * await shrinkGeneratorFile("mars.dat", "small.dat", 100);
 * ```
 */
export async function shrinkGeneratorFile(input: string, output: string, n: number): Promise<void> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(input);
  } catch {
    return fail(`input file ${input} not found`, ErrorCode.cannot_open_file);
  }
  if (await Deno.stat(output).then(() => true, () => false)) {
    fail(`output file ${output} already exists`, ErrorCode.cannot_write_file);
  }
  const file = readGeneratorFile(bytes);
  const end = n <= 0 ? 5 : file.entryEnds[Math.min(n, file.entryEnds.length) - 1] ?? 5;
  await Deno.writeFile(output, bytes.subarray(0, end), { createNew: true });
}
