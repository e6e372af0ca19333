/**
 * The soak's network: which processes run, on which ports, who dials whom.
 *
 * ```
 *   xp (C++ broker-pipe, publishes) ──┐
 *                                     x1 (C++ broker-node, relay) ── n1
 *   xs (C++ broker-pipe, subscribes) ─┘                           /    \
 *                                              (proxy 3->1)     n3 ──── n2   (proxy 1->2, 2->3)
 *                                                                 \    /
 *                                                                   c1 (our `broker node` CLI)
 *   t1: our node with a TLS listener (probed and killed only)
 *   t2: the same in Broker's anonymous TLS mode (no certificates)
 *   sm: SQLite master of store "kv"  <──  sc: clone writing through it
 * ```
 *
 * n1, n2, n3 and c1 form cycles made only of our endpoints, where each
 * message must arrive once. C++ nodes hang off n1 as a tree, so no cycle
 * passes through them (Broker itself does not handle cycles). The three links
 * of the n-triangle run through cutting proxies. Every n-node also serves the
 * WebSocket API for the floods. Ports are fixed for the whole run, so a
 * restarted process is found again where its peers re-dial.
 *
 * @module
 */
import { brokerRefTool } from "../tests/broker_ref.ts";
import type { Collector } from "./collector.ts";
import type { SoakOptions } from "./config.ts";
import { CXX_MAX_LENGTH_PREFIX, type ProbeTarget } from "./probes.ts";
import type { NodeChildConfig, StoreChildConfig } from "./protocol.ts";
import { CuttingProxy } from "./proxy.ts";
import type { ProcessSpec } from "./supervisor.ts";
import { SOAK_TOPIC_PREFIX } from "./traffic.ts";

/** Our CLI node's handshake timeout: the library default, which `broker node` does not change. */
export const CLI_HANDSHAKE_TIMEOUT_MS = 10_000;

/** Seconds between re-dials of a lost peering. */
const RETRY_SECONDS = 1;

/** Everything the soak runs, and what the chaos loop and the checks need to know about it. */
export interface Topology {
  /** Children, in start order. */
  specs: ProcessSpec[];
  /** The proxies on the triangle's links. */
  proxies: CuttingProxy[];
  /** Listeners the probes go to. */
  probeTargets: ProbeTarget[];
  /** WebSocket ports of our nodes, for the floods. */
  floodTargets: { process: string; port: number }[];
  /** Processes the chaos loop may kill and restart (the store master has its own fault). */
  killable: string[];
  /** Our node children that publish ticks (and bursts). */
  publishers: string[];
  /** The store master and clone. */
  store: { master: string; clone: string };
  /** The C++ publisher, fed through its stdin. */
  cxxPublisher: string;
  /** Subscribers whose deliveries are counted, and whether they are ours. */
  subscribers: { name: string; ours: boolean }[];
  /** Peers each n-node has when the mesh is whole. */
  expectedPeers: Record<string, number>;
}

/** Ports below this are outside Linux's default ephemeral range (32768-60999). */
const EPHEMERAL_START = 32768;
/** Where stable ports are drawn from: below the ephemeral range, above well-known services. */
const STABLE_FIRST = 20000;

/**
 * A free port that no outgoing connection can take: restarted children
 * rebind their predecessor's port, and a port from the ephemeral range may
 * meanwhile be the local end of some client socket (seen: AddrInUse for a
 * whole run). The range start is read from the kernel when it says.
 */
function stablePort(): number {
  // Free now is not enough: the ports drawn before it are free too until their processes start.
  for (;;) {
    const port = freeStablePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}
const handedOut = new Set<number>();

function freeStablePort(): number {
  let below = EPHEMERAL_START;
  try {
    const range = Deno.readTextFileSync("/proc/sys/net/ipv4/ip_local_port_range");
    below = Number(range.trim().split(/\s+/)[0]) || EPHEMERAL_START;
  } catch {
    // not Linux, or no /proc: the default range
  }
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = STABLE_FIRST + Math.floor(Math.random() * Math.max(1, below - STABLE_FIRST));
    try {
      Deno.listen({ hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // taken: draw again
    }
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Builds the network for `opts` with a fresh temp dir for SQLite; nothing runs yet. */
export function buildTopology(
  opts: SoakOptions,
  collector: Collector,
  dir: string,
  deadline: number,
): Topology {
  const deno = Deno.execPath();
  const here = (p: string) => new URL(p, import.meta.url).pathname;
  const hs = opts.handshakeTimeoutMs;
  const port = {
    n1: stablePort(),
    n2: stablePort(),
    n3: stablePort(),
    n1ws: stablePort(),
    n2ws: stablePort(),
    n3ws: stablePort(),
    t1: stablePort(),
    t2: stablePort(),
    c1: stablePort(),
    x1: stablePort(),
    xp: stablePort(),
    xs: stablePort(),
    sm: stablePort(),
  };
  const proxies = [
    new CuttingProxy("n1->n2", 0, port.n2),
    new CuttingProxy("n2->n3", 0, port.n3),
    new CuttingProxy("n3->n1", 0, port.n1),
  ];
  // Children must exit on their own a little after the soak's own deadline.
  const childDeadline = deadline + 10_000;

  const node = (
    name: string,
    cfg: Omit<
      NodeChildConfig,
      "name" | "incarnation" | "deadline" | "handshakeTimeoutMs" | "retrySeconds"
    >,
  ): ProcessSpec => ({
    name,
    kind: "ours",
    stdin: true,
    selfTerminating: true,
    rssBoundMb: opts.rssMb,
    ready: "event",
    onLine: collector.nodeLine(name),
    command: (incarnation) => ({
      cmd: deno,
      args: [
        "run",
        "-A",
        here("./node_child.ts"),
        JSON.stringify(
          {
            name,
            incarnation,
            deadline: childDeadline,
            handshakeTimeoutMs: hs,
            retrySeconds: RETRY_SECONDS,
            ...cfg,
          } satisfies NodeChildConfig,
        ),
      ],
    }),
  });

  const store = (name: string, role: "master" | "clone"): ProcessSpec => ({
    name,
    kind: "ours",
    stdin: true,
    selfTerminating: true,
    rssBoundMb: opts.rssMb,
    ready: "event",
    onLine: collector.storeLine(name),
    command: (incarnation) => ({
      cmd: deno,
      args: [
        "run",
        "-A",
        here("./store_child.ts"),
        JSON.stringify(
          {
            name,
            role,
            incarnation,
            port: port.sm,
            path: `${dir}/kv.sqlite`,
            handshakeTimeoutMs: hs,
            rate: opts.storeRate,
            maxInFlight: 64,
            requestTimeoutMs: 5000,
            deadline: childDeadline,
          } satisfies StoreChildConfig,
        ),
      ],
    }),
  });

  const cxx = (
    name: string,
    tool: "broker-node" | "broker-pipe",
    args: string[],
    listen: number,
    extra: Partial<ProcessSpec> = {},
  ): ProcessSpec => ({
    name,
    kind: "cxx",
    stdin: false,
    selfTerminating: false,
    rssBoundMb: opts.cxxRssMb,
    ready: { port: listen },
    command: () => ({ cmd: brokerRefTool(tool), args }),
    ...extra,
  });

  const tlsDir = here("../fixtures/tls/");
  const specs: ProcessSpec[] = [
    cxx(
      "xp",
      "broker-pipe",
      [
        "--disable-ssl",
        "-m",
        "publish",
        "-t",
        `${SOAK_TOPIC_PREFIX}xp`,
        "-l",
        String(port.xp),
      ],
      port.xp,
      { stdin: true },
    ),
    cxx(
      "xs",
      "broker-pipe",
      [
        "--disable-ssl",
        "-m",
        "subscribe",
        "-t",
        SOAK_TOPIC_PREFIX,
        "-l",
        String(port.xs),
      ],
      port.xs,
      { onLine: collector.textSubscriberLine("xs") },
    ),
    cxx("x1", "broker-node", [
      "--disable-ssl",
      "-p",
      String(port.x1),
      `--topics=["${SOAK_TOPIC_PREFIX}"]`,
      `--peers=[<tcp://127.0.0.1:${port.xp}>, <tcp://127.0.0.1:${port.xs}>]`,
    ], port.x1),
    {
      name: "c1",
      kind: "ours",
      stdin: false,
      selfTerminating: false,
      rssBoundMb: opts.rssMb,
      ready: { port: port.c1 },
      onLine: collector.textSubscriberLine("c1"),
      command: () => ({
        cmd: deno,
        args: [
          "run",
          "-A",
          here("../cli/main.ts"),
          "node",
          "--disable-ssl",
          "-p",
          String(port.c1),
          "-t",
          `["${SOAK_TOPIC_PREFIX}"]`,
          "-N",
          "c1",
          "-v",
          // Its data lines are what the collector counts (broker-node prints none).
          "--print-data",
        ],
      }),
    },
    node("t1", {
      port: port.t1,
      peers: [],
      rate: 0,
      tls: {
        certificate: `${tlsDir}node.pem`,
        key: `${tlsDir}node.key`,
        cafile: `${tlsDir}ca.pem`,
      },
    }),
    node("t2", { port: port.t2, peers: [], rate: 0, tls: "anonymous" }),
    store("sm", "master"),
    store("sc", "clone"),
    node("n1", {
      port: port.n1,
      wsPort: port.n1ws,
      peers: [proxies[0].port, port.x1],
      rate: opts.rate,
    }),
    node("n2", {
      port: port.n2,
      wsPort: port.n2ws,
      peers: [proxies[1].port, port.c1],
      rate: opts.rate,
    }),
    node("n3", {
      port: port.n3,
      wsPort: port.n3ws,
      peers: [proxies[2].port, port.c1],
      rate: opts.rate,
    }),
  ];

  const ours = (process: string, p: number, ms: number): ProbeTarget => ({
    name: `${process}:broker`,
    process,
    port: p,
    protocol: "broker",
    closeWithinMs: ms + opts.slackMs,
  });
  // An HTTP upgrade is the WebSocket API's handshake: held to the same deadline.
  const ws = (process: string, p: number): ProbeTarget => ({
    name: `${process}:websocket`,
    process,
    port: p,
    protocol: "websocket",
    closeWithinMs: hs + opts.slackMs,
  });
  const cxxTarget = (process: string, p: number): ProbeTarget => ({
    name: `${process}:broker`,
    process,
    port: p,
    protocol: "broker",
    maxLengthPrefix: CXX_MAX_LENGTH_PREFIX,
  });
  const probeTargets: ProbeTarget[] = [
    ours("n1", port.n1, hs),
    ours("n2", port.n2, hs),
    ours("n3", port.n3, hs),
    ws("n1", port.n1ws),
    ws("n2", port.n2ws),
    ws("n3", port.n3ws),
    // TLS: the TLS handshake gets the handshake timeout, then Broker's handshake again.
    {
      name: "t1:tls",
      process: "t1",
      port: port.t1,
      protocol: "tls",
      closeWithinMs: 2 * hs + opts.slackMs,
    },
    {
      name: "t2:tls",
      process: "t2",
      port: port.t2,
      protocol: "tls",
      closeWithinMs: 2 * hs + opts.slackMs,
    },
    ours("c1", port.c1, CLI_HANDSHAKE_TIMEOUT_MS),
    ours("sm", port.sm, hs),
    cxxTarget("x1", port.x1),
    cxxTarget("xp", port.xp),
    cxxTarget("xs", port.xs),
  ];

  return {
    specs,
    proxies,
    probeTargets,
    floodTargets: [
      { process: "n1", port: port.n1ws },
      { process: "n2", port: port.n2ws },
      { process: "n3", port: port.n3ws },
    ],
    killable: ["n1", "n2", "n3", "c1", "t1", "t2", "x1"],
    publishers: ["n1", "n2", "n3"],
    store: { master: "sm", clone: "sc" },
    cxxPublisher: "xp",
    subscribers: [
      { name: "n1", ours: true },
      { name: "n2", ours: true },
      { name: "n3", ours: true },
      { name: "c1", ours: true },
      { name: "xs", ours: false },
    ],
    // n1: n2 (via proxy), n3 (dials n1 via proxy), x1; n2: n1, n3, c1; n3: n1, n2, c1.
    expectedPeers: { n1: 3, n2: 3, n3: 3 },
  };
}
