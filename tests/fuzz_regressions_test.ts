// Every fuzz target's seeds and the inputs the fuzzer kept (fixtures/fuzz/, named
// `<target>-crash-<hex>.bin`; unprefixed ones are the data target's) must give a value or a
// BrokerError.
import assert from "node:assert/strict";
import { FUZZ_TARGETS } from "./fuzz_targets.ts";

Deno.test("fuzz regressions and every target's seeds parse or fail with a BrokerError", async () => {
  const dir = new URL("../fixtures/fuzz/", import.meta.url);
  const kept = new Map<string, [string, Uint8Array][]>();
  for await (const e of Deno.readDir(dir)) {
    if (!e.isFile || !e.name.endsWith(".bin")) continue;
    const target = FUZZ_TARGETS.find((t) => e.name.startsWith(`${t.name}-`))?.name ?? "data";
    const list = kept.get(target) ?? [];
    list.push([e.name, await Deno.readFile(new URL(e.name, dir))]);
    kept.set(target, list);
  }
  for (const t of FUZZ_TARGETS) {
    const seeds = t.seeds();
    assert.ok(seeds.length > 0, `${t.name} has seeds`);
    const inputs: [string, Uint8Array][] = seeds.map((s, i) => [`${t.name} seed ${i}`, s]);
    for (const [name, bytes] of [...inputs, ...(kept.get(t.name) ?? [])]) {
      assert.equal(t.exercise(bytes), undefined, name);
    }
  }
});
