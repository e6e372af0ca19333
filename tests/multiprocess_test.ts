// Our endpoints in separate OS processes (the `broker node` CLI), peering over TCP.
import assert from "node:assert/strict";
import { freePort, waitForPort } from "./broker_ref.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

function node(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "node", "--disable-ssl", ...args],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  return {
    kill: () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // gone already
      }
    },
    text: async () => {
      const o = await output;
      return {
        code: o.code,
        out: new TextDecoder().decode(o.stdout) + new TextDecoder().decode(o.stderr),
      };
    },
  };
}

const TOPICS = '--topics=["/bench/ping"]';

Deno.test(
  "three processes: ping -> relay -> pong, all ours",
  { sanitizeResources: false },
  async () => {
    const pongPort = freePort(), relayPort = freePort();
    const pong = node(["-m", "pong", TOPICS, "-p", String(pongPort)]);
    await waitForPort(pongPort);
    const relay = node([
      "-m",
      "relay",
      TOPICS,
      "-p",
      String(relayPort),
      `--peers=[<tcp://127.0.0.1:${pongPort}>]`,
    ]);
    await waitForPort(relayPort);
    try {
      const ping = node([
        "-m",
        "ping",
        TOPICS,
        "-n",
        "5",
        "-s",
        "100",
        `--peers=[<tcp://127.0.0.1:${relayPort}>]`,
        "-v",
      ]);
      const { code, out } = await ping.text();
      assert.equal(code, 0, out);
      assert.equal(out.split("\n").filter((l) => /^\d+$/.test(l)).length, 5, out);
      assert.match(out, /AVG: /);
    } finally {
      pong.kill();
      relay.kill();
      await pong.text();
      await relay.text();
    }
  },
);
