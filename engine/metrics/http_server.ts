/**
 * The metrics port's HTTP server: `GET /metrics` (Prometheus text),
 * `GET /v1/status/json` (the status API) and `GET /` (the live status page,
 * one self-contained HTML document). Anything else is a 404, other methods
 * a 405, a Host header no URL can hold a 400. It runs on Deno's HTTP
 * server, which bounds request heads (431 for huge headers) and serves each
 * connection on its own, so a slow or broken client holds nothing but its
 * own connection.
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

/** A running metrics HTTP server. */
export class MetricsHttpServer {
  /** The bound port. */
  readonly port: number;
  /** Requests served so far (any path). */
  requests = 0;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;
  readonly #abort: AbortController;
  #closed?: Promise<void>;

  private constructor(
    server: Deno.HttpServer<Deno.NetAddr>,
    abort: AbortController,
    port: number,
  ) {
    this.#server = server;
    this.#abort = abort;
    this.port = port;
  }

  /** Listens on `host:port` (0: any free port); resolves once bound. */
  static listen(
    host: string,
    port: number,
    handlers: MetricsHttpHandlers,
  ): Promise<MetricsHttpServer> {
    const abort = new AbortController();
    let self: MetricsHttpServer | undefined;
    return new Promise((resolve, reject) => {
      try {
        const server = Deno.serve({
          hostname: host,
          port,
          signal: abort.signal,
          onListen: () => {},
          onError: () => new Response("internal error\n", { status: 500 }),
        }, (req) => {
          if (self) self.requests++;
          return respond(req, handlers);
        });
        self = new MetricsHttpServer(server, abort, server.addr.port);
        resolve(self);
      } catch (e) {
        reject(e);
      }
    });
  }

  /** Stops listening and ends every connection. */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#abort.abort();
      this.#closed = this.#server.finished.catch(() => {});
    }
    return this.#closed;
  }
}

function respond(req: Request, h: MetricsHttpHandlers): Response {
  let path: string;
  try {
    path = new URL(req.url).pathname;
  } catch {
    // The URL is built from the Host header, which the client wrote.
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

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, {
    status,
    headers: {
      "content-type": "text/plain; charset=utf-8",
      "cache-control": NO_CACHE,
      ...headers,
    },
  });
}
