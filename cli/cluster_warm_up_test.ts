import assert from "node:assert/strict";
import { Endpoint } from "../mod.ts";
import { warmUp } from "../engine/warm_up.ts";
import { readGeneratorFile } from "../engine/recording/generator_file.ts";
import { warmUpClusterTraffic } from "./cluster_warm_up.ts";

const MARS = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);
const make = (id: string) => new Endpoint({ id, warmUp: false });

Deno.test("cluster warm-up: mars.dat's events go across in batches and all arrive, built or counted", async () => {
  const shapes = readGeneratorFile(await Deno.readFile(MARS)).entries
    .filter((e) => e.kind === "data").slice(0, 10).map((e) => e.shape!);
  for (const decode of [true, false]) {
    // A generous budget on a busy machine still ends after whole batches of 64.
    const report = await warmUp(make, {
      messages: 0,
      then: (a, b) => warmUpClusterTraffic(a, b, shapes, { decode, budgetMs: 30 }),
    });
    assert.ok(report.messages >= 64, `decode ${decode}: ${report.messages} events`);
    assert.equal(report.messages % 64, 0, "every batch went whole (and was received whole)");
  }
});

Deno.test("cluster warm-up: a cluster without data to send sends nothing", async () => {
  const report = await warmUp(make, {
    messages: 0,
    then: (a, b) => warmUpClusterTraffic(a, b, []),
  });
  assert.equal(report.messages, 0);
});
