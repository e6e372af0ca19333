/**
 * The metrics port's HTTP server: `GET /metrics` (Prometheus text),
 * `GET /v1/status/json` (the status API) and `GET /` (the live status page,
 * one self-contained HTML document). Anything else is a 404, other methods
 * a 405, a Host header no URL can hold a 400, a request head over 16 KiB a
 * 431, bytes that are no HTTP request a 400.
 *
 * One request per connection, as Broker's metrics server (civetweb under
 * prometheus-cpp, keep-alive off): the answer says `Connection: close` and
 * the connection ends once it is written. A client that has not sent a
 * whole request head within `requestTimeoutMs` (30 s, civetweb's
 * `request_timeout_ms`) is disconnected, and past `maxConnections` (256)
 * open at once a new one is closed as it comes. Deno's HTTP server, which this
 * replaced, kept a connection that sent nothing, half a request, or idled
 * after an answer open for good: 200 such clients held 200 descriptors.
 *
 * @example
 * ```ts
 * import { MetricsHttpServer } from "./http_server.ts";
 * const server = await MetricsHttpServer.listen("127.0.0.1", 0, {
 *   metrics: () => "# nothing\n",
 *   status: () => ({ id: "x" }),
 * });
 * const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
 * console.log(await res.text()); // "# nothing\n"
 * await server.close();
 * ```
 *
 * @module
 */
import { PROMETHEUS_CONTENT_TYPE } from "./registry.ts";
import { STATUS_PAGE_HTML } from "./status_page.ts";
import { TcpConnection } from "../transport/tcp.ts";
import { timerDelay } from "../timer_delay.ts";

/** What the server serves. */
export interface MetricsHttpHandlers {
  /** The Prometheus text (run at each scrape). */
  metrics(): string;
  /** The status document (run at each request). */
  status(): unknown;
}

/** Status API path, as Broker's. */
export const STATUS_PATH = "/v1/status/json";
/** Prometheus path. */
export const METRICS_PATH = "/metrics";

const NO_CACHE = "no-cache, no-store, must-revalidate, private, max-age=0";

/** How long a client may take to send a whole request head, ms (civetweb's `request_timeout_ms`). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/** Connections served at once; more are closed as they come (the endpoint's `maxPendingHandshakes`). */
export const DEFAULT_MAX_HTTP_CONNECTIONS = 256;

/** Options of `MetricsHttpServer.listen`. */
export interface MetricsHttpOptions {
  /**
   * Connections open at once (reading a request or writing its answer);
   * one more is closed as it is accepted, as Broker's server serves a few
   * at a time and leaves the rest waiting.
   * @default 256 (`DEFAULT_MAX_HTTP_CONNECTIONS`)
   */
  maxConnections?: number;
  /**
   * A connection that has not sent a whole request head within this time
   * (ms) is closed.
   * @default 30_000 (`DEFAULT_REQUEST_TIMEOUT_MS`)
   */
  requestTimeoutMs?: number;
}

/** Largest request head (request line and headers) read; a larger one gets a 431. */
const MAX_HEAD_BYTES = 16 * 1024;
/** How long an answer may take to leave before the socket is dropped, ms. */
const WRITE_TIMEOUT_MS = 5_000;
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** A running metrics HTTP server. */
export class MetricsHttpServer {
  /** The bound port. */
  readonly port: number;
  /** Requests served so far (any path). */
  requests = 0;
  /** Connections closed as they came, `maxConnections` being open. */
  refused = 0;
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<TcpConnection>();
  readonly #loop: Promise<void>;
  #closed?: Promise<void>;

  private constructor(
    listener: Deno.TcpListener,
    handlers: MetricsHttpHandlers,
    timeoutMs: number,
    maxConnections: number,
  ) {
    this.#listener = listener;
    this.port = listener.addr.port;
    this.#loop = (async () => {
      try {
        for await (const raw of listener) {
          // Each waits up to the request timeout: a flood of silent clients must not pile up.
          if (this.#conns.size >= maxConnections) {
            this.refused++;
            raw.close();
            continue;
          }
          this.#serve(new TcpConnection(raw), handlers, timeoutMs);
        }
      } catch {
        // the listener was closed
      }
    })();
  }

  /** Listens on `host:port` (0: any free port); resolves once bound. */
  static listen(
    host: string,
    port: number,
    handlers: MetricsHttpHandlers,
    options: MetricsHttpOptions = {},
  ): Promise<MetricsHttpServer> {
    const timeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    if (!(timeoutMs > 0)) {
      return Promise.reject(new RangeError(`requestTimeoutMs must be > 0, got ${timeoutMs}`));
    }
    const max = options.maxConnections ?? DEFAULT_MAX_HTTP_CONNECTIONS;
    if (!(max >= 1)) {
      return Promise.reject(new RangeError(`maxConnections must be >= 1, got ${max}`));
    }
    try {
      const listener = Deno.listen({ hostname: host, port });
      return Promise.resolve(new MetricsHttpServer(listener, handlers, timeoutMs, max));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** Connections open now (reading a request, or writing its answer). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Stops listening and ends every connection. */
  close(): Promise<void> {
    if (!this.#closed) {
      try {
        this.#listener.close();
      } catch {
        // already closed
      }
      this.#closed = this.#loop.then(() => {
        for (const c of [...this.#conns]) c.close();
      });
    }
    return this.#closed;
  }

  /** Reads one request head, answers it, and closes. */
  #serve(tcp: TcpConnection, handlers: MetricsHttpHandlers, timeoutMs: number): void {
    this.#conns.add(tcp);
    let head = new Uint8Array(0);
    let answered = false;
    const timer = setTimeout(() => tcp.close(), timerDelay(timeoutMs));
    const answer = (a: Answer, withBody = true) => {
      answered = true;
      clearTimeout(timer);
      const body = enc.encode(a.body);
      let text = `HTTP/1.1 ${a.status} ${REASONS[a.status] ?? ""}\r\n`;
      for (const [k, v] of Object.entries(a.headers)) text += `${k}: ${v}\r\n`;
      text += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
      tcp.send(enc.encode(text));
      if (withBody && body.length > 0) tcp.send(body);
      tcp.closeGracefully(WRITE_TIMEOUT_MS);
    };
    tcp.start({
      onBytes: (chunk) => {
        if (answered) return; // the rest of a request we answered (a body): ignored
        const next = new Uint8Array(head.length + chunk.length);
        next.set(head);
        next.set(chunk, head.length);
        head = next;
        const end = headEnd(head);
        if (end < 0) {
          if (head.length > MAX_HEAD_BYTES) answer(text(431, "Request Header Fields Too Large\n"));
          else if (!plausibleStart(head)) answer(text(400, "Bad Request\n"));
          return;
        }
        if (end > MAX_HEAD_BYTES) return answer(text(431, "Request Header Fields Too Large\n"));
        const req = parseHead(latin1.decode(head.subarray(0, end)));
        if (!req) return answer(text(400, "Bad Request\n"));
        this.requests++;
        let a: Answer;
        try {
          a = respond(req, handlers);
        } catch {
          a = text(500, "internal error\n");
        }
        answer(a, req.method !== "HEAD");
      },
      onClose: () => {
        clearTimeout(timer);
        this.#conns.delete(tcp);
      },
    });
  }
}

/** A parsed request head: its method, target and Host header. */
interface RequestHead {
  readonly method: string;
  readonly target: string;
  readonly host: string | undefined;
}

/** What is sent back: status, headers (without length and connection) and body. */
interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

const REASONS: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
};

/** Where the blank line ending the head starts, or -1. */
function headEnd(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** Whether what came so far can still begin a request line (a method token, then a space). */
function plausibleStart(b: Uint8Array): boolean {
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 32) return i > 0;
    if (i >= 16 || b[i] < 65 || b[i] > 90) return false;
  }
  return true;
}

function parseHead(head: string): RequestHead | undefined {
  const [line, ...fields] = head.split("\r\n");
  const m = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]$/.exec(line);
  if (!m) return undefined;
  let host: string | undefined;
  for (const f of fields) {
    const colon = f.indexOf(":");
    if (colon > 0 && f.slice(0, colon).trim().toLowerCase() === "host") {
      host = f.slice(colon + 1).trim();
    }
  }
  return { method: m[1], target: m[2], host };
}

function respond(req: RequestHead, h: MetricsHttpHandlers): Answer {
  let path: string;
  try {
    // The URL is built from the Host header, which the client wrote.
    path = req.target.startsWith("/")
      ? new URL(`http://${req.host ?? "localhost"}${req.target}`).pathname
      : new URL(req.target).pathname;
  } catch {
    return text(400, "Bad Request: invalid Host header\n");
  }
  if (req.method !== "GET" && req.method !== "HEAD") {
    return text(405, "Method Not Allowed\n", { allow: "GET, HEAD" });
  }
  switch (path) {
    case METRICS_PATH:
      return text(200, h.metrics(), { "content-type": PROMETHEUS_CONTENT_TYPE });
    case STATUS_PATH:
      return text(200, JSON.stringify(h.status()), {
        "content-type": "application/json",
      });
    case "/":
    case "/index.html":
      return text(200, STATUS_PAGE_HTML, { "content-type": "text/html; charset=utf-8" });
    default:
      return text(404, "Not Found\n");
  }
}

function text(status: number, body: string, headers: Record<string, string> = {}): Answer {
  return {
    status,
    body,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": NO_CACHE,
      ...headers,
    },
  };
}
