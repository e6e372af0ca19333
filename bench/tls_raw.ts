/**
 * Raw receive throughput over TLS, without any Broker code: how fast one
 * process can take bytes in through each way this project could read a TLS
 * socket, all in one run (rates swing with the shared cores; compare
 * within a run). A child process sends (`Deno.connectTls`, or
 * `Deno.listenTls` for the dialled case) `--mb` MiB in 256 KiB writes,
 * as the endpoint's coalescing writer does; this process receives and
 * reports MB/s, its own CPU time per MB and the size of what each read
 * delivered.
 *
 * Receivers (`--only=` picks, comma-separated):
 * - `tcp`: plain `Deno.listen`, reads into a 256 KiB buffer (the ceiling).
 * - `deno`: `Deno.listenTls`, same reads (no client certificates, no
 *   handshake timeout: what the listener cannot use).
 * - `client`: `Deno.connectTls` reading what a `Deno.listenTls` child sends
 *   (the dialling side of a peering).
 * - `node`: a `node:tls` server asking for client certificates, `'data'`
 *   events (the listener's old read path).
 * - `engine`: the endpoint's own `listenTcp` + `TcpConnection` (whatever read
 *   path the listener picks on this Deno), counting in `onBytes`.
 * - `engine-node`: the same with the fast path turned off (`NodeSocketStream`).
 * - `engine-tx`, `engine-node-tx`: the other way, the listener's connection
 *   sending to a `Deno.connectTls` reader (CPU: the sender's, this process).
 *
 * Usage: `deno run -A bench/tls_raw.ts [--mb 256] [--runs 1] [--only=...] [--fresh]`
 * (`--fresh`: each case in a new process, as a new endpoint meets it; without,
 * cases after the first find malloc warmed up by the ones before).
 *
 * @module
 */
import { createServer as createTlsServer } from "node:tls";
import { procCpuMs } from "./proc_stat.ts";
import { listenTcp } from "../engine/transport/listener.ts";
import type { TcpConnection } from "../engine/transport/tcp.ts";
import { dialTls, loadCertificateTls } from "../engine/transport/tls.ts";
import { numberOption, stringOption } from "./args.ts";

const DIR = new URL("../fixtures/tls/", import.meta.url).pathname;
const WRITE_SIZE = 256 * 1024;
const READ_SIZE = 256 * 1024;

const material = () =>
  loadCertificateTls({
    certificate: `${DIR}node.pem`,
    key: `${DIR}node.key`,
    cafile: `${DIR}ca.pem`,
  });

/** The sending child: writes `mb` MiB to the receiver, then closes. */
async function send(conn: Deno.Conn, mb: number): Promise<void> {
  const buf = new Uint8Array(WRITE_SIZE).fill(0x5a);
  const total = mb * 1024 * 1024;
  const cpu0 = procCpuMs("self");
  for (let sent = 0; sent < total;) {
    const n = await conn.write(buf.subarray(0, Math.min(buf.length, total - sent)));
    sent += n;
  }
  // The sender's CPU per MB, for the parent's table.
  console.log(`TXCPU ${procCpuMs("self") - cpu0}`);
  // Wait for the receiver to close: closing first could cut off unread bytes.
  const sink = new Uint8Array(64);
  try {
    while ((await conn.read(sink)) !== null);
  } catch {
    // reset by the receiver
  }
  try {
    conn.close();
  } catch {
    // closed
  }
}

async function child(): Promise<void> {
  const role = stringOption("--role", "");
  const mb = numberOption("--mb", 256, { min: 1 });
  const tls = material();
  if (role === "tx-tls" || role === "tx-tcp") {
    const port = numberOption("--port", 0);
    const conn = role === "tx-tcp"
      ? await Deno.connect({ hostname: "127.0.0.1", port })
      : await dialTls("127.0.0.1", port, tls);
    if (role === "tx-tls") await (conn as Deno.TlsConn).handshake();
    await send(conn, mb);
  } else if (role === "rx-tls") {
    // Reads what the engine's listener sends, then closes.
    const conn = await dialTls("127.0.0.1", numberOption("--port", 0), tls);
    const buf = new Uint8Array(READ_SIZE);
    let got = 0;
    while (got < mb * 1024 * 1024) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += n;
    }
    console.log(`RXDONE ${got}`);
    conn.close();
  } else if (role === "tx-server") {
    const l = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key });
    console.log(`PORT ${l.addr.port}`);
    const conn = await l.accept();
    await conn.handshake();
    await send(conn, mb);
    l.close();
  }
}

interface Result {
  name: string;
  mbps: number;
  cpuMsPerMb: number;
  reads: number;
  meanRead: number;
  /** The sending child's CPU per MB sent. */
  txCpuMsPerMb?: number;
}

/** Adds the child's `TXCPU` line to a result. */
function withTx(r: Result, out: string, mb: number): Result {
  const m = /TXCPU (\d+(?:\.\d+)?)/.exec(out);
  return m ? { ...r, txCpuMsPerMb: Number(m[1]) / (mb * 1.048576) } : r;
}

/** Counts what arrives; the clock starts at the first byte. */
class Meter {
  bytes = 0;
  reads = 0;
  t0 = 0;
  cpu0 = 0;
  t1 = 0;
  cpu1 = 0;
  readonly done = Promise.withResolvers<void>();
  constructor(readonly total: number) {}
  add(n: number): void {
    if (this.reads++ === 0) {
      this.t0 = performance.now();
      this.cpu0 = procCpuMs("self");
    }
    this.bytes += n;
    if (this.bytes >= this.total) this.finish();
  }
  finish(): void {
    if (this.t1) return;
    this.t1 = performance.now();
    this.cpu1 = procCpuMs("self");
    this.done.resolve();
  }
  result(name: string): Result {
    if (this.bytes !== this.total) throw new Error(`${name}: ${this.bytes} of ${this.total} bytes`);
    const mb = this.bytes / 1e6;
    return {
      name,
      mbps: mb / ((this.t1 - this.t0) / 1000),
      cpuMsPerMb: (this.cpu1 - this.cpu0) / mb,
      reads: this.reads,
      meanRead: this.bytes / this.reads,
    };
  }
}

function spawn(role: string, mb: number, port?: number): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      import.meta.filename!,
      `--role=${role}`,
      `--mb=${mb}`,
      ...(port !== undefined ? [`--port=${port}`] : []),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
}

async function readLoop(conn: Deno.Conn, m: Meter): Promise<void> {
  const buf = new Uint8Array(READ_SIZE);
  while (m.bytes < m.total) {
    const n = await conn.read(buf);
    if (n === null) break;
    m.add(n);
  }
  m.finish();
}

async function viaDeno(name: "tcp" | "deno", mb: number): Promise<Result> {
  const tls = material();
  const l = name === "tcp"
    ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
    : Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert: tls.cert, key: tls.key });
  const p = spawn(name === "tcp" ? "tx-tcp" : "tx-tls", mb, l.addr.port);
  const conn = await l.accept();
  const m = new Meter(mb * 1024 * 1024);
  await readLoop(conn, m);
  conn.close();
  l.close();
  const out = new TextDecoder().decode((await p.output()).stdout);
  return withTx(m.result(name), out, mb);
}

async function viaClient(mb: number): Promise<Result> {
  const tls = material();
  const p = spawn("tx-server", mb);
  const reader = p.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) text += (await reader.read()).value ?? "";
  const port = Number(/PORT (\d+)/.exec(text)![1]);
  const conn = await dialTls("127.0.0.1", port, tls);
  const m = new Meter(mb * 1024 * 1024);
  await readLoop(conn, m);
  conn.close();
  for (let r = await reader.read(); !r.done; r = await reader.read()) text += r.value;
  await p.status;
  return withTx(m.result("client"), text, mb);
}

async function viaNode(mb: number): Promise<Result> {
  const tls = material();
  const m = new Meter(mb * 1024 * 1024);
  const server = createTlsServer({
    cert: tls.cert,
    key: tls.key,
    ca: tls.caCerts,
    requestCert: true,
    rejectUnauthorized: true,
  }, (s) => {
    s.on("data", (b: Uint8Array) => {
      m.add(b.length);
      if (m.bytes >= m.total) s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  const p = spawn("tx-tls", mb, port);
  await m.done.promise;
  const out = new TextDecoder().decode((await p.output()).stdout);
  await new Promise((r) => server.close(r));
  return withTx(m.result("node"), out, mb);
}

/** Our engine's TLS listener on a free port (`fast`: the native TLS-wrap read path). */
function engineListener(fast: boolean, accepted: (c: TcpConnection) => void) {
  return listenTcp({
    host: "127.0.0.1",
    port: 0,
    tls: material(),
    tlsHandshakeTimeoutMs: 10_000,
    fastTlsReads: fast,
  }, { admit: () => true, accepted, abandoned: () => {} });
}

async function viaEngine(name: string, mb: number, fast: boolean): Promise<Result> {
  const m = new Meter(mb * 1024 * 1024);
  const conns: TcpConnection[] = [];
  const l = await engineListener(fast, (c) => {
    conns.push(c);
    c.start({
      onBytes: (b) => {
        m.add(b.length);
        if (m.bytes >= m.total) c.close();
      },
      onClose: () => m.finish(),
    });
  });
  const p = spawn("tx-tls", mb, l.port);
  await m.done.promise;
  const out = new TextDecoder().decode((await p.output()).stdout);
  for (const c of conns) c.close();
  await l.close();
  return withTx(m.result(name), out, mb);
}

/**
 * One case in a new process: how a fresh endpoint process meets its first
 * megabytes. (In one process, later cases run faster: glibc's malloc raises
 * its mmap threshold after the first large frees, and 'data' events' fresh
 * buffers stop costing page faults.)
 */
async function inChild(name: string, mb: number): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, `--only=${name}`, `--mb=${mb}`, "--json"],
    stderr: "inherit",
  }).output();
  const line = new TextDecoder().decode(out.stdout).split("\n").find((l) =>
    l.startsWith("RESULT ")
  );
  if (!line) throw new Error(`${name}: no result`);
  return JSON.parse(line.slice(7));
}

/**
 * The other direction: the engine's listener sends `mb` MiB in 256 KiB
 * frames through `TcpConnection.send` to a `Deno.connectTls` reader; the
 * CPU column is this (sending) process's, per MB.
 */
async function viaEngineTx(name: string, mb: number, fast: boolean): Promise<Result> {
  const accepted = Promise.withResolvers<TcpConnection>();
  const l = await engineListener(fast, (c) => accepted.resolve(c));
  const p = spawn("rx-tls", mb, l.port);
  const conn = await accepted.promise;
  conn.start({ onBytes: () => {}, onClose: () => {} });
  const frame = new Uint8Array(WRITE_SIZE).fill(0x5a);
  const total = mb * 1024 * 1024;
  const m = new Meter(total);
  for (let sent = 0; sent < total; sent += frame.length) {
    m.add(frame.length);
    conn.send(frame);
    await conn.below(4);
  }
  await conn.drained();
  const out = new TextDecoder().decode((await p.output()).stdout);
  m.finish();
  if (!out.includes(`RXDONE ${total}`)) throw new Error(`${name}: the reader got ${out}`);
  conn.close();
  await l.close();
  return { ...m.result(name), reads: 0, meanRead: 0 };
}

async function main(): Promise<void> {
  const mb = numberOption("--mb", 256, { min: 1 });
  const runs = numberOption("--runs", 1, { min: 1 });
  const only = stringOption(
    "--only",
    "tcp,deno,client,node,engine,engine-node,engine-tx,engine-node-tx",
  )
    .split(",");
  const cases: Record<string, () => Promise<Result>> = {
    tcp: () => viaDeno("tcp", mb),
    deno: () => viaDeno("deno", mb),
    client: () => viaClient(mb),
    node: () => viaNode(mb),
    engine: () => viaEngine("engine", mb, true),
    "engine-node": () => viaEngine("engine-node", mb, false),
    "engine-tx": () => viaEngineTx("engine-tx", mb, true),
    "engine-node-tx": () => viaEngineTx("engine-node-tx", mb, false),
  };
  const fresh = Deno.args.includes("--fresh");
  if (Deno.args.includes("--json")) {
    for (const name of only) console.log(`RESULT ${JSON.stringify(await cases[name]())}`);
    return;
  }
  console.log(
    `${mb} MiB per case, ${new Date().toISOString()}, Deno ${Deno.version.deno}` +
      (fresh ? ", each case in a new process" : ", all cases in this process"),
  );
  for (let run = 1; run <= runs; run++) {
    const rows: Result[] = [];
    for (const name of only) rows.push(fresh ? await inChild(name, mb) : await cases[name]());
    const base = rows.find((r) => r.name === "node");
    console.log(`run ${run}`);
    console.log(
      "case            MB/s   CPU ms/MB   reads  mean read (B)  tx CPU ms/MB" +
        (base ? "  vs node" : ""),
    );
    for (const r of rows) {
      console.log(
        `${r.name.padEnd(14)} ${r.mbps.toFixed(0).padStart(5)}   ${
          r.cpuMsPerMb.toFixed(2).padStart(9)
        }  ${String(r.reads).padStart(6)}  ${r.meanRead.toFixed(0).padStart(13)}  ${
          (r.txCpuMsPerMb?.toFixed(2) ?? "").padStart(12)
        }` +
          (base ? `  ${(r.mbps / base.mbps).toFixed(2)}x` : ""),
      );
    }
  }
}

if (import.meta.main) {
  if (stringOption("--role", "")) await child();
  else await main();
}
