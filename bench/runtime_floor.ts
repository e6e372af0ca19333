/**
 * The runtime's floor for the latency-bound rows: the same traffic through
 * bare Deno programs with no Broker code in them, on the same machine and in
 * the same run. What a row of ours loses beyond this is ours to win; what
 * the floor itself takes (waking a process that sleeps on a socket, the
 * syscalls, the JS runtime's own promise and op machinery) is not.
 *
 * - **echo**: `--echo --port P` writes back every byte one connection sends;
 *   `--ping --port P -n N -s S` sends N pings of S bytes, one at a time, and
 *   prints each round trip in ns, one per line in send order, as our
 *   `broker node -m ping` does. Both are fresh processes, as in the
 *   ping-pong rows.
 * - **relay**: `relayOneInFlight` spawns `--relay --port P`, which copies
 *   what its first connection sends to its second, and drives both ends
 *   from this process with one message in flight, as the WebSocket bench's
 *   one-client ingest at window 1 does (its client and subscriber live in
 *   the bench process too).
 *
 * Run alone (both, once): `deno run -A bench/runtime_floor.ts [--pings 2000]
 * [--size 300] [--n 20000] [--relay-size 1171]`.
 *
 * @module
 */
import { procCpuMs } from "./proc_stat.ts";
import { freePort } from "../tests/broker_ref.ts";
import { numberOption } from "./args.ts";

const SELF = new URL(import.meta.url).pathname;

/**
 * Arguments of the echo server (`--echo`) and the pinging client
 * (`--ping`) for port `port`: what a bench spawns with `deno run -A` on
 * this file, in place of a pong and a ping node.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { echoArgs } from "./runtime_floor.ts";
 * deepEqual(echoArgs("ping", 9999, 2000, 300).slice(-6), ["--port", "9999", "-n", "2000", "-s", "300"]);
 * ```
 */
export function echoArgs(
  role: "echo" | "ping",
  port: number,
  pings = 0,
  size = 0,
): string[] {
  return role === "echo" ? ["run", "-A", SELF, "--echo", "--port", String(port)] : [
    "run",
    "-A",
    SELF,
    "--ping",
    "--port",
    String(port),
    "-n",
    String(pings),
    "-s",
    String(size),
  ];
}

/** A relay's rate with one message in flight, and the relay process's CPU per message. */
export interface RelayFloor {
  /** Messages relayed per second. */
  rate: number;
  /** The relay process's CPU time (user + system) per message, µs. */
  cpuUs: number;
}

/**
 * Messages of `size` bytes through a bare Deno relay in its own process,
 * one in flight: written to its first connection, read back from its second
 * before the next is written. `warm` unmeasured messages go first.
 *
 * @example
 * ```ts ignore
 * import { relayOneInFlight } from "./runtime_floor.ts";
 * const { rate, cpuUs } = await relayOneInFlight(20_000, 1171, 5_000);
 * console.log(`${rate.toFixed(0)} msgs/s, relay ${cpuUs.toFixed(1)} µs/msg`);
 * ```
 */
export async function relayOneInFlight(n: number, size: number, warm: number): Promise<RelayFloor> {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--relay", "--port", String(port)],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  let a: Deno.TcpConn | undefined, b: Deno.TcpConn | undefined;
  try {
    a = await connectWhenUp(port);
    b = await Deno.connect({ hostname: "127.0.0.1", port });
    for (const c of [a, b]) c.setNoDelay(true);
    const msg = new Uint8Array(size).fill(0x61), buf = new Uint8Array(1 << 16);
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) await roundTrip(a!, b!, msg, buf, "the relay");
    };
    await send(warm);
    const cpu0 = procCpuMs(child.pid), t0 = performance.now();
    await send(n);
    const seconds = (performance.now() - t0) / 1000;
    const cpuMs = procCpuMs(child.pid) - cpu0;
    return { rate: n / seconds, cpuUs: cpuMs * 1000 / n };
  } finally {
    a?.close();
    b?.close();
    try {
      child.kill("SIGTERM");
    } catch {
      // gone already
    }
    await child.status;
  }
}

async function writeAll(c: Deno.Conn, b: Uint8Array): Promise<void> {
  for (let at = 0; at < b.length;) at += await c.write(b.subarray(at));
}

/** Writes `msg` to `out` and reads its length back from `back` (`what` names the far end). */
async function roundTrip(
  out: Deno.Conn,
  back: Deno.Conn,
  msg: Uint8Array,
  buf: Uint8Array,
  what: string,
): Promise<void> {
  await writeAll(out, msg);
  for (let got = 0; got < msg.length;) {
    const r = await back.read(buf);
    if (r === null) throw new Error(`runtime floor: ${what} closed`);
    got += r;
  }
}

async function connectWhenUp(port: number, timeoutMs = 10_000): Promise<Deno.TcpConn> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await Deno.connect({ hostname: "127.0.0.1", port });
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`runtime floor: nothing listens on ${port}: ${e}`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/**
 * The echo server (`relay` false: writes back what its one connection
 * sends) or the relay (copies what its first connection sends to its
 * second), until a connection closes.
 */
async function serve(port: number, relay: boolean): Promise<void> {
  const l = Deno.listen({ hostname: "127.0.0.1", port });
  const from = await l.accept(), to = relay ? await l.accept() : from;
  l.close();
  for (const c of new Set([from, to])) c.setNoDelay(true);
  const buf = new Uint8Array(1 << 16);
  try {
    for (let r; (r = await from.read(buf)) !== null;) await writeAll(to, buf.subarray(0, r));
  } catch {
    // the other end went away: done
  }
  for (const c of new Set([from, to])) c.close();
}

/** The pinging client: `pings` round trips of `size` bytes; prints each in ns. */
async function ping(port: number, pings: number, size: number): Promise<void> {
  const c = await connectWhenUp(port);
  c.setNoDelay(true);
  const msg = new Uint8Array(size).fill(0x70), buf = new Uint8Array(1 << 16);
  const rtts: number[] = [];
  for (let i = 0; i < pings; i++) {
    const t0 = performance.now();
    await roundTrip(c, c, msg, buf, "the echo server");
    rtts.push(Math.round((performance.now() - t0) * 1e6));
  }
  c.close();
  console.log(rtts.join("\n"));
}

if (import.meta.main) {
  const port = numberOption("--port", 0);
  if (Deno.args.includes("--echo") || Deno.args.includes("--relay")) {
    await serve(port, Deno.args.includes("--relay"));
  } else if (Deno.args.includes("--ping")) {
    await ping(port, numberOption("-n", 2000), numberOption("-s", 300));
  } else {
    // Alone: one echo run and one relay run, summarised.
    const pings = numberOption("--pings", 2000), size = numberOption("--size", 300);
    const p = freePort();
    const server = new Deno.Command(Deno.execPath(), { args: echoArgs("echo", p), stdout: "null" })
      .spawn();
    const out = await new Deno.Command(Deno.execPath(), {
      args: echoArgs("ping", p, pings, size),
      stderr: "inherit",
    }).output();
    await server.status;
    const rtts = new TextDecoder().decode(out.stdout).trim().split("\n").map(Number);
    const sorted = rtts.slice().sort((x, y) => x - y);
    const at = (q: number) => (sorted[Math.ceil(q * sorted.length) - 1] / 1000).toFixed(0);
    console.log(`echo, ${pings} pings of ${size} B: p50 ${at(0.5)} µs, p99 ${at(0.99)} µs`);
    const n = numberOption("--n", 20_000), relaySize = numberOption("--relay-size", 1171);
    const r = await relayOneInFlight(n, relaySize, n >> 2);
    console.log(
      `relay, ${n} messages of ${relaySize} B, one in flight: ${r.rate.toFixed(0)} msgs/s, ` +
        `relay CPU ${r.cpuUs.toFixed(1)} µs/msg`,
    );
  }
}
