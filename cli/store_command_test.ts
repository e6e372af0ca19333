import assert from "node:assert/strict";
import { count, dataToString, Endpoint, str } from "../mod.ts";
import { freePort, RefProcess, waitForPort } from "../tests/broker_ref.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;

async function broker(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

const opts = { sanitizeOps: false, sanitizeResources: false };

Deno.test(
  "broker store: operations against our master, from separate processes",
  opts,
  async () => {
    const ep = new Endpoint();
    const port = await ep.listen();
    const master = ep.attachMaster("kv");
    const peers = `["127.0.0.1:${port}"]`;
    try {
      await master.put(str("pre"), count(41n));
      assert.deepEqual(await broker("store", "kv", "get", "pre", "-p", peers), {
        code: 0,
        out: "41\n",
        err: "",
      });
      let r = await broker("store", "kv", "put", "k", "v", "-p", peers);
      assert.equal(r.code, 0, r.err);
      assert.equal(dataToString(await master.get(str("k"))), "v");
      r = await broker(
        "store",
        "kv",
        "increment",
        '{"@data-type":"string","data":"pre"}',
        '{"@data-type":"count","data":1}',
        "--json",
        "-p",
        peers,
      );
      assert.equal(r.code, 0, r.err);
      assert.equal(dataToString(await master.get(str("pre"))), "42");
      r = await broker("store", "kv", "keys", "-p", peers);
      assert.deepEqual(r.out.trim().split("\n").sort(), ["k", "pre"]);
      r = await broker("store", "kv", "put-unique", "k", "other", "-p", peers);
      assert.equal(r.out, "F\n");
      r = await broker("store", "kv", "get", "missing", "-p", peers);
      assert.equal(r.code, 1);
      assert.match(r.err, /no_such_key/);
      r = await broker("store", "kv", "frobnicate", "-p", peers);
      assert.equal(r.code, 1);
      assert.match(r.err, /unknown operation/);
    } finally {
      master.close();
      await ep.shutdown();
    }
  },
);

Deno.test("broker store: against a C++ broker-node master", opts, async () => {
  const port = freePort();
  const node = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    '--topics=["/t"]',
    "-p",
    String(port),
    '--master-stores=["kv"]',
  ]);
  const peers = `["127.0.0.1:${port}"]`;
  try {
    await waitForPort(port);
    let r = await broker("store", "kv", "put", "from-cli", "hello", "-p", peers);
    assert.equal(r.code, 0, r.err);
    r = await broker("store", "kv", "get", "from-cli", "-p", peers);
    assert.deepEqual([r.code, r.out], [0, "hello\n"], r.err);
  } finally {
    await node.stop();
  }
});
