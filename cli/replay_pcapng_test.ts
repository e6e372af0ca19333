import assert from "node:assert/strict";
import { Endpoint } from "../mod.ts";
import { brokerMessagesFromPcap } from "../engine/recording/pcap.ts";
import { main } from "./main.ts";

const PCAP_DIR = new URL("../fixtures/broker/pcap/", import.meta.url);

Deno.test("broker replay FILE.pcapng publishes the same data messages as the pcap", async () => {
  const path = new URL("relay-three-nodes.pcapng", PCAP_DIR).pathname;
  const data = brokerMessagesFromPcap(await Deno.readFile(path)).filter((m) => m.frame[32] === 1);
  const classic = await Deno.readFile(new URL("relay-three-nodes.pcap", PCAP_DIR));
  assert.equal(
    data.length,
    brokerMessagesFromPcap(classic).filter((m) => m.frame[32] === 1).length,
  );
  assert.ok(data.length > 0);
  const sink = new Endpoint();
  try {
    const port = await sink.listen();
    const sub = sink.subscribe("/", { queueSize: 4096 });
    const code = await main([
      "replay",
      "--disable-ssl",
      path,
      "-p",
      `["127.0.0.1:${port}"]`,
      "--direction",
      "both",
    ]);
    assert.equal(code, 0);
    let n = 0;
    while (await sub.get(500)) n++;
    assert.equal(n, data.length);
    // A cut pcapng is refused before any peering.
    const cut = await Deno.makeTempFile({ suffix: ".pcapng" });
    try {
      const bytes = await Deno.readFile(path);
      await Deno.writeFile(cut, bytes.subarray(0, bytes.length - 10));
      assert.equal(await main(["replay", "--disable-ssl", cut, "-p", `["127.0.0.1:${port}"]`]), 1);
    } finally {
      await Deno.remove(cut);
    }
  } finally {
    await sink.shutdown();
  }
});
