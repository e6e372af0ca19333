/**
 * C++ -> ours against C++ -> C++ with the *same* C++ sender settings, in
 * alternating rounds of one run: `broker-throughput` sends to
 * `broker-throughput --server` and to our `bench/peering_receiver.ts`, once
 * per CAF scheduler setting. Besides each receiver's rate and CPU per
 * message it reports the sender's CPU per message, because on a 2-core
 * machine the sender's own cost bounds what any receiver can get.
 *
 * Why it exists: `bench/peering.ts` compares C++ -> ours (sender on CAF's
 * default scheduler) with the best C++ -> C++ setting (usually one thread,
 * `sharing` on both sides), so its ratio mixes the receiver's speed with the
 * sender's scheduler; here both paths get the same sender.
 *
 * @example
 * ```sh
 * deno run -A bench/cxx_rx.ts --rounds 3 --seconds 3 --type 2
 * ```
 *
 * @module
 */
import { procCpuMs } from "./proc_stat.ts";
import { numberOption } from "./args.ts";

const REF = "/work/shared/tools/broker-ref/bin";
const RECEIVER = new URL("./peering_receiver.ts", import.meta.url).pathname;
const TOPIC = "/benchmark/events";

/** CAF scheduler settings tried for the sender (and for the C++ receiver). */
const SETTINGS: { label: string; caf: string[] }[] = [
  { label: "default", caf: [] },
  {
    label: "1 thread, sharing",
    caf: ["--caf.scheduler.max-threads=1", "--caf.scheduler.policy=sharing"],
  },
];

const ROUNDS = numberOption("--rounds", 3, { min: 1 });
const SECONDS = numberOption("--seconds", 3, { min: 1 });
const TYPE = numberOption("--type", 2, { min: 1 });

/** A child whose stdout lines are collected. */
class Child {
  readonly lines: string[] = [];
  readonly proc: Deno.ChildProcess;
  #waiters: { re: RegExp; resolve: (m: RegExpMatchArray) => void }[] = [];

  constructor(cmd: string, args: string[]) {
    const proc = new Deno.Command(cmd, { args, stdin: "null", stdout: "piped", stderr: "null" })
      .spawn();
    this.proc = proc;
    (async () => {
      let rest = "";
      for await (const chunk of proc.stdout.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        for (const l of parts) {
          this.lines.push(l);
          this.#waiters = this.#waiters.filter((w) => {
            const m = l.match(w.re);
            if (m) w.resolve(m);
            return !m;
          });
        }
      }
    })();
  }

  waitLine(re: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const seen = this.lines.map((l) => l.match(re)).find((m) => m);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no ${re} within ${timeoutMs} ms`)), timeoutMs);
      this.#waiters.push({ re, resolve: (m) => (clearTimeout(t), resolve(m)) });
    });
  }

  async stop(): Promise<void> {
    try {
      this.proc.kill("SIGKILL");
    } catch {
      // already gone
    }
    await this.proc.status;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function sender(port: number, caf: string[]): Child {
  return new Child(`${REF}/broker-throughput`, [
    "--disable-ssl",
    ...caf,
    "--peer-buffer-size=10000000",
    "-t",
    String(TYPE),
    "-r",
    "0",
    `127.0.0.1:${port}`,
  ]);
}

interface Row {
  round: number;
  setting: string;
  path: string;
  rate: number;
  rxUs: number;
  txUs: number;
}

/** C++ -> C++: the server prints one rate line a second; the window skips the first. */
async function cppToCpp(caf: string[]): Promise<Omit<Row, "round" | "setting" | "path">> {
  const p = freePort();
  const srv = new Child(`${REF}/broker-throughput`, [
    "--disable-ssl",
    ...caf,
    "--verbose",
    "--server",
    `127.0.0.1:${p}`,
  ]);
  await srv.waitLine(/listening on/);
  const tx = sender(p, caf);
  await srv.waitLine(/^rate: [1-9]/);
  const rx0 = procCpuMs(srv.proc.pid), tx0 = procCpuMs(tx.proc.pid), l0 = srv.lines.length;
  await sleep(SECONDS * 1000 + 200);
  const rx1 = procCpuMs(srv.proc.pid), tx1 = procCpuMs(tx.proc.pid);
  const rates = srv.lines.slice(l0).map((l) => l.match(/^rate: (\d+)/)).filter((m) => m)
    .map((m) => Number(m![1]));
  await tx.stop();
  await srv.stop();
  const n = rates.reduce((a, b) => a + b, 0);
  return {
    rate: rates.length ? n / rates.length : 0,
    rxUs: n ? (rx1 - rx0) * 1000 / n : NaN,
    txUs: n ? (tx1 - tx0) * 1000 / n : NaN,
  };
}

/** C++ -> ours: our receiver prints TICK lines; the same window after its first message. */
async function cppToOurs(caf: string[]): Promise<Omit<Row, "round" | "setting" | "path">> {
  const rx = new Child(Deno.execPath(), [
    "run",
    "-A",
    RECEIVER,
    "--listen",
    "0",
    "--topic",
    TOPIC,
    "--seconds",
    String(SECONDS + 1.2),
    "--tick-ms",
    "1000",
  ]);
  const port = Number((await rx.waitLine(/^READY (\d+)/))[1]);
  const tx = sender(port, caf);
  const first = await rx.waitLine(/^TICK \S+ (\d+)/);
  const rx0 = procCpuMs(rx.proc.pid), tx0 = procCpuMs(tx.proc.pid), n0 = Number(first[1]);
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const rx1 = procCpuMs(rx.proc.pid), tx1 = procCpuMs(tx.proc.pid);
  const t1 = performance.now();
  const last = rx.lines.map((l) => l.match(/^TICK \S+ (\d+)/)).filter((m) => m).at(-1)!;
  const ticks = rx.lines.filter((l) => l.startsWith("TICK")).length;
  await tx.stop();
  await rx.stop();
  // The rate between the first and the last tick seen (whole seconds); the
  // CPU window is as long, so the messages in it are rate x its length.
  const secs = ticks - 1;
  const rate = secs > 0 ? (Number(last[1]) - n0) / secs : 0;
  const inWindow = rate * (t1 - t0) / 1000;
  return {
    rate,
    rxUs: inWindow ? (rx1 - rx0) * 1000 / inWindow : NaN,
    txUs: inWindow ? (tx1 - tx0) * 1000 / inWindow : NaN,
  };
}

const rows: Row[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  for (const s of SETTINGS) {
    for (const path of ["C++ -> C++", "C++ -> ours"]) {
      const r = path === "C++ -> C++" ? await cppToCpp(s.caf) : await cppToOurs(s.caf);
      rows.push({ round, setting: s.label, path, ...r });
      console.error(
        `round ${round} ${s.label.padEnd(18)} ${path.padEnd(12)} ${
          Math.round(r.rate).toLocaleString("en").padStart(9)
        } msgs/s  rx ${r.rxUs.toFixed(2)} µs/msg  tx ${r.txUs.toFixed(2)} µs/msg`,
      );
    }
  }
}
console.log(
  "round  sender setting      C++->C++ msgs/s  C++->ours msgs/s  ratio  rx µs C++ / ours",
);
for (let round = 1; round <= ROUNDS; round++) {
  for (const s of SETTINGS) {
    const c = rows.find((r) =>
      r.round === round && r.setting === s.label && r.path === "C++ -> C++"
    )!;
    const o = rows.find((r) =>
      r.round === round && r.setting === s.label && r.path === "C++ -> ours"
    )!;
    console.log(
      `${String(round).padEnd(6)} ${s.label.padEnd(18)} ${
        Math.round(c.rate).toLocaleString("en").padStart(15)
      } ${Math.round(o.rate).toLocaleString("en").padStart(17)} ${
        (o.rate / c.rate).toFixed(2).padStart(5)
      }x  ${c.rxUs.toFixed(2)} / ${o.rxUs.toFixed(2)}`,
    );
  }
}
console.log(`JSON ${JSON.stringify(rows)}`);
Deno.exit(0);
