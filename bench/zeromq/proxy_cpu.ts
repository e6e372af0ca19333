/**
 * CPU time each proxy spends forwarding: our proxy (`broker zeromq`, a
 * process of its own) and a Zeek 8 manager's proxy thread (the whole Zeek
 * process is counted, its idle script loop included), each forwarding the
 * same bursts between the raw endpoints of `raw.ts`, read from
 * `/proc/<pid>/stat` (user + system time, all threads) before and after.
 * On a shared machine a proxy's rate depends on the CPU it gets; this says
 * what it costs. Linux only.
 *
 * Run: `deno run -A bench/zeromq/proxy_cpu.ts [--events=N] [--rounds=R]`
 * (default 500000 messages, 2 rounds, each proxy warmed up with one burst).
 *
 * @module
 */
import { freePort, waitForPort } from "../../tests/broker_ref.ts";
import { SCRIPTS, ZeekProcess } from "../../tests/zeek/zeek.ts";
import { proxyAt, RawPublisher, RawReceiver } from "./raw.ts";
import { procCpuMs } from "../proc_stat.ts";
import { numberOption } from "../args.ts";

const N = numberOption("--events", 500_000);
const ROUNDS = numberOption("--rounds", 2);
const HERE = new URL("./", import.meta.url).pathname;
const MAIN = new URL("../../cli/main.ts", import.meta.url).pathname;
const cpuSeconds = (pid: number) => procCpuMs(pid) / 1000;

function pidWithCwd(dir: string): number {
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    try {
      if (Deno.realPathSync(`/proc/${e.name}/cwd`) === Deno.realPathSync(dir)) {
        return Number(e.name);
      }
    } catch {
      // gone, or not ours to read
    }
  }
  throw new Error(`no process in ${dir}`);
}

async function burst(p: { xpub: number; xsub: number }) {
  const at = proxyAt(p);
  const receiver = await RawReceiver.connect(at, "/bench/", N);
  const publisher = await RawPublisher.connect(at, "/bench/ev", N);
  await publisher.subscribed;
  publisher.send();
  const r = await receiver.result;
  await publisher.close();
  await receiver.close();
  return r;
}

async function measure(name: string, pid: number, p: { xpub: number; xsub: number }) {
  await burst(p); // warm-up
  const before = cpuSeconds(pid);
  const r = await burst(p);
  const cpu = cpuSeconds(pid) - before;
  console.log(
    `${name}: ${r.received}/${N} at ${Math.round(r.received / r.seconds)} msg/s, ` +
      `${cpu.toFixed(2)} CPU s = ${(cpu / r.received * 1e9).toFixed(0)} ns CPU per message`,
  );
}

for (let round = 0; round < ROUNDS; round++) {
  {
    const p = { xpub: freePort(), xsub: freePort() };
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        MAIN,
        "zeromq",
        `--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:${p.xpub}`,
        `--zeromq.listen-xsub-endpoint=tcp://127.0.0.1:${p.xsub}`,
      ],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    await waitForPort(p.xsub, 20_000);
    await waitForPort(p.xpub, 20_000);
    await measure("our proxy ", child.pid, p);
    child.kill("SIGTERM");
    await child.status;
  }
  {
    const p = { xpub: freePort(), xsub: freePort(), log: freePort() };
    const zeek = await ZeekProcess.start([`${HERE}manager.zeek`], {
      path: [`${SCRIPTS}zeromq`],
      env: {
        CLUSTER_NODE: "manager",
        XPUB_PORT: `${p.xpub}/tcp`,
        XSUB_PORT: `${p.xsub}/tcp`,
        LOG_PULL_PORT: `${p.log}/tcp`,
        BENCH_N: String(N),
      },
    });
    await waitForPort(p.xsub, 20_000);
    await measure("zeek proxy", pidWithCwd(zeek.dir), p);
    await zeek.stop();
  }
}
