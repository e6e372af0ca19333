import assert from "node:assert/strict";
import { ClusterGenerator } from "./cluster_generator.ts";
import { generateEncoded } from "../engine/recording/generate_encoded.ts";
import { readGeneratorFile, seededRandom } from "../engine/recording/generator_file.ts";

const MARS = new URL("../fixtures/broker/recordings/mars.dat", import.meta.url);

Deno.test("cluster generator: the worker's payloads are the seed's values in order, across batches", async () => {
  const bytes = await Deno.readFile(MARS);
  const shapes = readGeneratorFile(bytes).entries.map((e) => e.shape!);
  const gen = await ClusterGenerator.open(bytes, 9);
  try {
    gen.start();
    const rnd = seededRandom(9);
    // Several batches of 64, so that batches are asked for and read in turn.
    for (let i = 0; i < 300; i++) {
      let p = gen.next();
      if (p === undefined) {
        await gen.wait();
        p = gen.next();
      }
      assert.ok(p, `payload ${i}`);
      assert.deepEqual(p, generateEncoded(shapes[i % shapes.length], rnd), `payload ${i}`);
    }
  } finally {
    gen.close();
  }
});

Deno.test("cluster generator: a file the worker cannot read fails the opening with its reason", async () => {
  await assert.rejects(
    () => ClusterGenerator.open(new Uint8Array([1, 2, 3]), 1),
    (e: unknown) =>
      e instanceof Error && /^generator worker: generator file truncated/.test(e.message),
  );
});
