/**
 * Reading a raw connection to its end, for tests that watch what a server
 * writes and whether it hangs up (WebSocket servers, ours and broker-node's).
 *
 * @example
 * ```ts
 * import { untilClosed } from "./read_to_close.ts";
 * const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
 * const c = await Deno.connect({ hostname: "127.0.0.1", port: (l.addr as Deno.NetAddr).port });
 * const s = await l.accept();
 * await s.write(new Uint8Array([1, 2]));
 * s.close();
 * const { closed, bytes } = await untilClosed(c, 1000);
 * if (!closed || bytes.length !== 2) throw new Error("read to the end");
 * c.close();
 * l.close();
 * ```
 *
 * @module
 */

/** Every byte the server sends until it closes the connection (`closed`) or `ms` pass. */
export async function untilClosed(
  conn: Deno.Conn,
  ms: number,
): Promise<{ closed: boolean; bytes: Uint8Array }> {
  const chunks: Uint8Array[] = [];
  const deadline = Date.now() + ms;
  const buf = new Uint8Array(256 * 1024);
  let closed = false;
  while (Date.now() < deadline) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const n = await Promise.race([
      conn.read(buf).catch(() => null),
      new Promise<"wait">((r) => timer = setTimeout(() => r("wait"), deadline - Date.now())),
    ]);
    clearTimeout(timer);
    if (n === "wait") break;
    if (n === null) {
      closed = true;
      break;
    }
    chunks.push(buf.slice(0, n));
  }
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) bytes.set(c, (at += c.length) - c.length);
  return { closed, bytes };
}
