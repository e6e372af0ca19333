// broker_processed_messages_total against the C++ broker-node's, after the same peering.
import assert from "node:assert/strict";
import { Endpoint } from "../mod.ts";
import { brokerRefTool, freePort, waitForPort } from "./broker_ref.ts";

const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

/** The node could not bind a port `freePort` gave: another test took it meanwhile. */
class NodeEnded extends Error {}

/**
 * A node's processed-messages lines after a peer came, said BYE and left
 * (or, with `scanned`, after a bare connect and a garbage frame at its port),
 * tried again with other ports when the node could not keep its own.
 */
async function processedAfterPeering(kind: "C++" | "ours", scanned = false): Promise<string[]> {
  for (let attempt = 1;; attempt++) {
    try {
      return await processedOnce(kind, scanned);
    } catch (e) {
      if (!(e instanceof NodeEnded) || attempt === 3) throw e;
    }
  }
}

async function processedOnce(kind: "C++" | "ours", scanned: boolean): Promise<string[]> {
  const port = freePort(), metrics = freePort();
  const args = [
    "--disable-ssl",
    "-t",
    '["/a"]',
    "-p",
    String(port),
    `--broker.metrics.port=${metrics}`,
  ];
  const child = kind === "C++"
    ? new Deno.Command(brokerRefTool("broker-node"), { args, stdout: "null", stderr: "piped" })
      .spawn()
    : new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "node", ...args],
      stdout: "null",
      stderr: "piped",
    }).spawn();
  const ep = new Endpoint({ warmUp: false });
  const processed = async () => {
    const text = await (await fetch(`http://127.0.0.1:${metrics}/metrics`)).text();
    return text.split("\n").filter((l) => l.startsWith("broker_processed_messages_total"));
  };
  /** Polls until the node counts `n` data messages (its statuses so far). */
  const untilData = async (n: number) => {
    const deadline = Date.now() + 5000;
    let lines = await processed();
    while (!lines.includes(`broker_processed_messages_total{type="data"} ${n}`)) {
      if (Date.now() > deadline) return lines;
      await new Promise((r) => setTimeout(r, 50));
      lines = await processed();
    }
    return lines;
  };
  const observe = async (): Promise<string[]> => {
    // Not waitForPort on the Broker port: a connection that closes without a handshake is a
    // status there too. Dials that find no listener yet are refused before the node sees them.
    await waitForPort(metrics);
    if (scanned) {
      // A port scanner, then garbage: Broker's core logs the failed handshakes, no status.
      await waitForPort(port);
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      await c.write(new Uint8Array([0, 0, 0, 5, 1, 2, 3, 4, 5]));
      await new Promise((r) => setTimeout(r, 300));
      c.close();
      await new Promise((r) => setTimeout(r, 300));
      return await processed();
    }
    for (let tries = 0;; tries++) {
      try {
        await ep.peer("127.0.0.1", port, { retryMs: 0 });
        break;
      } catch (e) {
        if (tries > 100) throw e;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // The node's side of the handshake is done once it reported the peer (two statuses).
    await untilData(2);
    await ep.unpeer("127.0.0.1", port); // BYE: a ping the node answers with a pong
    const lines = await untilData(4);
    return lines;
  };
  let lines: string[] | undefined, failure: unknown;
  try {
    lines = await observe();
  } catch (e) {
    failure = e;
  }
  await ep.shutdown();
  let ended = false;
  try {
    child.kill();
  } catch {
    ended = true; // under a parallel suite, another test took one of its ports first
  }
  const { code, stderr } = await child.output();
  const said = new TextDecoder().decode(stderr);
  // What the test saw then came from another process on those ports.
  if (ended && /in use/i.test(said)) throw new NodeEnded(`${kind} node: ${said}`);
  if (ended) throw new Error(`${kind} node ended by itself (exit ${code}): ${said}`);
  if (failure !== undefined) throw failure;
  return lines!;
}

Deno.test(
  "broker_processed_messages_total: statuses count as data and an answered ping as a pong, as the C++ node counts them",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const [cpp, ours] = [await processedAfterPeering("C++"), await processedAfterPeering("ours")];
    // Four statuses (endpoint_discovered, peer_added, peer_removed, endpoint_unreachable) are
    // data; the BYE ping and its pong one each. Ours counted 0 data and 0 pongs.
    assert.deepEqual(cpp, [
      'broker_processed_messages_total{type="pong"} 1',
      'broker_processed_messages_total{type="ping"} 1',
      'broker_processed_messages_total{type="routing-update"} 0',
      'broker_processed_messages_total{type="command"} 0',
      'broker_processed_messages_total{type="data"} 4',
    ]);
    assert.deepEqual(ours, cpp);
  },
);

Deno.test(
  "failed incoming handshakes (a bare connect, garbage) are no statuses: nothing processed, as on the C++ node",
  { sanitizeOps: false, sanitizeResources: false },
  async () => {
    const [cpp, ours] = [
      await processedAfterPeering("C++", true),
      await processedAfterPeering("ours", true),
    ];
    // Ours counted one error status (a data message) for each: 2.
    assert.ok(cpp.includes('broker_processed_messages_total{type="data"} 0'), cpp.join("\n"));
    assert.deepEqual(ours, cpp);
  },
);
