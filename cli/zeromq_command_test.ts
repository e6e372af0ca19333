// `broker zeromq`'s options: conflicts found before anything runs.
import assert from "node:assert/strict";
import { freePort } from "../tests/broker_ref.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

Deno.test("broker zeromq: both proxy sockets on one port is a usage error (exit 2) before anything binds", async () => {
  const port = freePort();
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "zeromq",
      `--zeromq.listen-xpub-endpoint=tcp://127.0.0.1:${port}`,
      `--zeromq.listen-xsub-endpoint=tcp://127.0.0.1:${port}`,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  assert.equal(out.code, 2, dec.decode(out.stderr));
  assert.equal(
    dec.decode(out.stderr),
    `broker zeromq: --zeromq.listen-xsub-endpoint: port ${port} is the XPUB's too: ` +
      "the proxy's sockets need a port each\n",
  );
  assert.equal(dec.decode(out.stdout), "");
});
