import assert from "node:assert/strict";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("TLS files that cannot be read are one usage line and exit code 2 in every subcommand that peers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const missing = `${dir}/missing.pem`;
    const tls = ["--broker.ssl.certificate", missing, "--broker.ssl.key", missing];
    const runs: [string, string[]][] = [
      ["pipe", ["pipe", "-m", "subscribe", "-t", "/t", "-p", "127.0.0.1:1", ...tls]],
      ["store", ["store", "-p", "127.0.0.1:1", ...tls, "kv", "get", "k"]],
      ["record", ["record", "-p", "127.0.0.1:1", "-t", "/t", "-o", `${dir}/out.pcapng`, ...tls]],
      ["replay", ["replay", "-p", "127.0.0.1:1", ...tls, `${dir}/no-such-recording`]],
      // broker-node's own spelling; the recording directory would be made if the node ran.
      ["node", [
        "node",
        "-m",
        "relay",
        '--topics=["/t"]',
        "-p",
        "0",
        `--recording-directory=${dir}/rec`,
        ...tls.map((x, i) => i % 2 ? "" : `${x}=${tls[i + 1]}`).filter((x) => x),
      ]],
      // A certificate without its key: Broker aborts such an endpoint (no anonymous fallback).
      ["pipe", ["pipe", "-m", "subscribe", "-t", "/t", "--broker.ssl.certificate", missing]],
    ];
    const outputs = await Promise.all(runs.map(([, args]) =>
      new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, ...args],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output()
    ));
    for (const [i, out] of outputs.entries()) {
      const [name, args] = runs[i];
      const text = new TextDecoder().decode(out.stderr);
      assert.equal(out.code, 2, `${args.join(" ")}: ${text}`);
      const expected = i < 5
        ? new RegExp(`^broker ${name}: cannot read certificate ${missing}: [^\\n]+\\n$`)
        : new RegExp(
          `^broker ${name}: SSL needs broker.ssl.certificate and broker.ssl.key: [^\\n]+\\n$`,
        );
      assert.match(text, expected);
      assert.equal(out.stdout.length, 0);
    }
    // Nothing was made: the check comes before record's file, replay's read and node's recording.
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
