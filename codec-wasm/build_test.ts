// The committed codec.wasm and its embedded twin must be what the sources build.
import assert from "node:assert/strict";
import { buildCodec, embedModule } from "./build.ts";

Deno.test("committed codec.wasm and codec_wasm.ts are fresh against assembly/", async () => {
  const built = await buildCodec();
  const committed = await Deno.readFile(new URL("codec.wasm", import.meta.url));
  assert.ok(
    built.length === committed.length && built.every((b, i) => b === committed[i]),
    "codec.wasm is stale: run `deno task build:wasm` and commit the result",
  );
  const embedded = await Deno.readTextFile(new URL("codec_wasm.ts", import.meta.url));
  assert.equal(embedded, embedModule(built), "codec_wasm.ts is stale: run `deno task build:wasm`");
});
