/**
 * The soak's options and the constants its bounds come from.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * RSS bound for our processes, MiB. An idle node of ours is about 45 MiB.
 * Everything a node buffers is bounded: per peer 2048 messages or 64 MiB
 * (`peerBufferSize`, `peerBufferBytes`), per WebSocket client 512 messages or
 * 16 MiB plus 1 MiB handed to the socket, per subscriber 1024 messages (4096
 * in the soak's children) or 64 MiB. The soak's nodes have at most four peers
 * and a couple of WebSocket clients; with small messages the worst case is a
 * few hundred MiB, and a V8 heap that grows before it collects needs headroom.
 * 512 MiB is conservative against that and still far below what an unbounded
 * buffer reaches under the soak's floods. (The README's per-resource memory
 * budget is the documented figure; this constant stays at or above it.)
 */
export const OUR_RSS_BOUND_MB = 512;

/**
 * RSS bound for the C++ tools, MiB: Broker's own buffers are bounded by
 * message counts (`peer-buffer-size` 2048 per peer, 512 per WebSocket), and
 * `broker-node` idles at a few tens of MiB. Same 512 MiB as ours.
 */
export const CXX_RSS_BOUND_MB = 512;

/**
 * Time the final phase (heal, quiet-phase bursts, store checks, graceful
 * stop) and the teardown may take after `--minutes` have passed. The soak
 * ends within `minutes + FINAL_ALLOWANCE_MS`: a watchdog kills everything then.
 */
export const FINAL_ALLOWANCE_MS = 120_000;

/** The soak's options. */
export interface SoakOptions {
  /** Minutes of traffic and chaos, startup included. */
  minutes: number;
  /** Print the summary as JSON instead of a table. */
  json: boolean;
  /** Seed of the chaos loop's random choices. */
  seed: number;
  /** RSS bound of our processes, MiB. */
  rssMb: number;
  /** RSS bound of the C++ tools, MiB. */
  cxxRssMb: number;
  /** `handshakeTimeoutMs` of our soak endpoints, ms (the library default is 10 s). */
  handshakeTimeoutMs: number;
  /** Slack on top of a close deadline before it counts as missed, ms. */
  slackMs: number;
  /** Ticks per second per publisher. */
  rate: number;
  /** `putUnique` calls per second through the clone. */
  storeRate: number;
  /** Messages per WebSocket flood. */
  floodMessages: number;
  /**
   * Bytes per flood message. The flood must be more than the kernel can
   * hold for one loopback connection (here up to 32 MiB received, `tcp_rmem`,
   * plus 4 MiB sent, `tcp_wmem`) and the server's bounds (16 MiB queued,
   * 1 MiB in the socket): 12,000 messages of 1,000 bytes (13 MB of frames)
   * all reached an unread client in one CI run, so the server never had
   * cause to drop it. 8,000 bytes make 96 MB.
   */
  floodBytes: number;
  /** Progress lines on stderr. */
  verbose: boolean;
}

const USAGE = `usage: deno task soak [-- options]
  --minutes N          minutes of traffic and chaos, startup included (default 1)
  --json               print the summary as JSON
  --seed N             seed of the chaos loop (default: random, printed)
  --rss-mb N           RSS bound of our processes, MiB (default ${OUR_RSS_BOUND_MB})
  --cxx-rss-mb N       RSS bound of the C++ tools, MiB (default ${CXX_RSS_BOUND_MB})
  --handshake-timeout MS  handshakeTimeoutMs of our endpoints (default 2000)
  --slack MS           slack on close deadlines (default 3000)
  --rate N             ticks per second per publisher (default 50)
  --store-rate N       putUnique calls per second (default 50)
  --flood-messages N   messages per WebSocket flood (default 12000)
  --flood-bytes N      bytes per flood message (default 8000)
  -v, --verbose        progress on stderr
  -h, --help           this text`;

/** Parses the command line (a leading `--` from `deno task` is skipped); exits on `--help` or errors. */
export function parseOptions(argv: string[]): SoakOptions {
  const args = argv[0] === "--" ? argv.slice(1) : argv;
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        minutes: { type: "string" },
        json: { type: "boolean" },
        seed: { type: "string" },
        "rss-mb": { type: "string" },
        "cxx-rss-mb": { type: "string" },
        "handshake-timeout": { type: "string" },
        slack: { type: "string" },
        rate: { type: "string" },
        "store-rate": { type: "string" },
        "flood-messages": { type: "string" },
        "flood-bytes": { type: "string" },
        verbose: { type: "boolean", short: "v" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (e) {
    console.error(`${(e as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const num = (name: string, text: string | undefined, dflt: number, min: number): number => {
    if (text === undefined) return dflt;
    const n = Number(text);
    if (!Number.isFinite(n) || n < min) {
      console.error(`--${name} must be a number >= ${min}, not ${text}\n${USAGE}`);
      Deno.exit(2);
    }
    return n;
  };
  return {
    minutes: num("minutes", values.minutes, 1, 0.5),
    json: values.json ?? false,
    seed: num("seed", values.seed, Math.floor(Math.random() * 2 ** 31), 0),
    rssMb: num("rss-mb", values["rss-mb"], OUR_RSS_BOUND_MB, 1),
    cxxRssMb: num("cxx-rss-mb", values["cxx-rss-mb"], CXX_RSS_BOUND_MB, 1),
    handshakeTimeoutMs: num("handshake-timeout", values["handshake-timeout"], 2000, 100),
    slackMs: num("slack", values.slack, 3000, 0),
    rate: num("rate", values.rate, 50, 0),
    storeRate: num("store-rate", values["store-rate"], 50, 1),
    floodMessages: num("flood-messages", values["flood-messages"], 12_000, 1),
    floodBytes: num("flood-bytes", values["flood-bytes"], 8000, 1),
    verbose: values.verbose ?? false,
  };
}
