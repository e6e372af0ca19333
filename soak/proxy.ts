/**
 * A TCP proxy between two of our nodes that the chaos loop uses to cut a
 * peering mid-frame: armed with a byte count, it forwards exactly that many
 * more bytes (in whichever direction they come) and then closes both sides.
 * With steady traffic the cut lands inside a frame almost always, which is
 * the case a clean close never tests: the receiver holds half a frame when
 * the stream ends.
 *
 * @module
 */

/** What a proxy did. */
export interface ProxyStats {
  /** Connections accepted. */
  connections: number;
  /** Bytes forwarded, both directions. */
  bytes: number;
  /** Cuts carried out. */
  cuts: number;
}

interface Pair {
  client: Deno.Conn;
  server: Deno.Conn;
  closed: boolean;
  /** Bytes still allowed through before the cut, when armed. */
  cutAfter?: number;
  /** Settles an armed cut: true when it happened, false when the connection ended first. */
  settle?: (cut: boolean) => void;
}

const BUFFER = 16 * 1024;

/**
 * Forwards `127.0.0.1:listenPort` to `127.0.0.1:targetPort`.
 *
 * @example
 * ```ts ignore
 * const p = new CuttingProxy("n3->n1", 0, 9999);
 * p.start();
 * await p.cut(777); // true once a connection was cut after 777 more bytes
 * p.close();
 * ```
 */
export class CuttingProxy {
  /** A label for reports. */
  readonly name: string;
  /** The port peers dial. */
  readonly port: number;
  readonly #target: number;
  readonly #listener: Deno.Listener;
  readonly #pairs = new Set<Pair>();
  /** Counters. */
  readonly stats: ProxyStats = { connections: 0, bytes: 0, cuts: 0 };

  /** Listens at once on `listenPort` (0: any). */
  constructor(name: string, listenPort: number, targetPort: number) {
    this.name = name;
    this.#target = targetPort;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: listenPort });
    this.port = (this.#listener.addr as Deno.NetAddr).port;
  }

  /** Accepts connections until `close`. */
  async start(): Promise<void> {
    try {
      for await (const client of this.#listener) void this.#serve(client);
    } catch {
      // closed
    }
  }

  /** Connections open now. */
  get open(): number {
    return this.#pairs.size;
  }

  /**
   * Arms a cut on one open connection: after `bytes` more bytes it closes.
   * Resolves true when the cut happened, false when there was no connection
   * or it closed otherwise first, or nothing flowed within `timeoutMs`.
   */
  cut(bytes: number, timeoutMs = 5000): Promise<boolean> {
    const pair = [...this.#pairs].find((p) => !p.closed && p.cutAfter === undefined);
    if (!pair) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => pair.settle?.(false), timeoutMs);
      pair.cutAfter = bytes;
      pair.settle = (cut) => {
        clearTimeout(timer);
        pair.settle = undefined;
        pair.cutAfter = undefined;
        if (cut) this.stats.cuts++;
        resolve(cut);
      };
    });
  }

  /** Stops listening and closes every connection. */
  close(): void {
    try {
      this.#listener.close();
    } catch {
      // already closed
    }
    for (const p of this.#pairs) this.#end(p);
  }

  async #serve(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.#target });
    } catch {
      client.close();
      return;
    }
    this.stats.connections++;
    const pair: Pair = { client, server, closed: false };
    this.#pairs.add(pair);
    await Promise.all([this.#pump(pair, client, server), this.#pump(pair, server, client)]);
    this.#end(pair);
  }

  async #pump(pair: Pair, from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buf = new Uint8Array(BUFFER);
    try {
      while (!pair.closed) {
        const n = await from.read(buf);
        if (n === null || pair.closed) break;
        let chunk = buf.subarray(0, n);
        let cutNow = false;
        if (pair.cutAfter !== undefined) {
          if (n >= pair.cutAfter) {
            chunk = chunk.subarray(0, pair.cutAfter);
            cutNow = true;
          }
          pair.cutAfter -= chunk.length;
        }
        let off = 0;
        while (off < chunk.length) off += await to.write(chunk.subarray(off));
        this.stats.bytes += chunk.length;
        if (cutNow) {
          pair.settle?.(true);
          break;
        }
      }
    } catch {
      // either side went away
    }
    this.#end(pair);
  }

  #end(pair: Pair): void {
    if (pair.closed) return;
    pair.closed = true;
    pair.settle?.(false);
    this.#pairs.delete(pair);
    for (const c of [pair.client, pair.server]) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  }
}
