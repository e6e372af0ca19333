import assert from "node:assert/strict";
import { bundleCli } from "./build.ts";

const MARS = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url).pathname;

async function run(cmd: string, args: string[], cwd: string) {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("deno task bundle: one executable file that runs every subcommand outside the project", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const broker = await bundleCli(`${dir}/broker`);
    assert.equal((await Deno.stat(broker)).mode! & 0o111, 0o111, "executable");
    const help = await run(broker, ["--help"], dir);
    assert.equal(help.code, 0, help.stderr);
    for (const c of ["node", "pipe", "store", "record", "replay", "bench", "cluster"]) {
      assert.match(help.stdout, new RegExp(`^  ${c}\\b`, "m"));
    }
    // The multi-process bench starts its children from the bundle itself.
    await Deno.copyFile(MARS, `${dir}/mars.dat`);
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    await Deno.writeTextFile(
      `${dir}/setup.conf`,
      `nodes {
        earth { id = <local:earth>, peers = ["mars"], topics = ["/benchmark/events"], num-inputs = 500 }
        mars { id = <tcp://127.0.0.1:${port}>, topics = ["/benchmark/events"], generator-file = "mars.dat", num-outputs = 500 }
      }`,
    );
    const bench = await run(
      broker,
      ["bench", "cluster", "setup.conf", "--processes", "--json"],
      dir,
    );
    assert.equal(bench.code, 0, bench.stderr);
    assert.equal(JSON.parse(bench.stdout).messagesReceived, 500);
    // The generator's Worker is the bundle too (one file holds its module).
    const worker = await run(
      broker,
      ["bench", "cluster", "setup.conf", "--generate-in-worker", "--decode", "--json"],
      dir,
    );
    assert.equal(worker.code, 0, worker.stderr);
    assert.equal(JSON.parse(worker.stdout).messagesReceived, 500);
    const pair = await run(broker, ["bench", "-n", "2000", "--processes", "--json"], dir);
    assert.equal(pair.code, 0, pair.stderr);
    assert.equal(JSON.parse(pair.stdout).messages, 2000);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
