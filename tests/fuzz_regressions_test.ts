// Inputs the fuzzer kept (fixtures/fuzz/) and the seed corpus itself must give a
// value or a BrokerError, quickly.
import assert from "node:assert/strict";
import { exercise, seeds } from "./fuzz.ts";

Deno.test("fuzz regressions and seeds decode or fail with a BrokerError", async () => {
  const dir = new URL("../fixtures/fuzz/", import.meta.url);
  const inputs: [string, Uint8Array][] = seeds().map((s, i) => [`seed ${i}`, s]);
  for await (const e of Deno.readDir(dir)) {
    if (e.isFile && e.name.endsWith(".bin")) {
      inputs.push([e.name, await Deno.readFile(new URL(e.name, dir))]);
    }
  }
  for (const [name, bytes] of inputs) assert.equal(exercise(bytes), undefined, name);
});
