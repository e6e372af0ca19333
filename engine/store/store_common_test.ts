import assert from "node:assert/strict";
import { storeTopics } from "./store_common.ts";

Deno.test("store topics join the name as Broker's topic::operator/= does", () => {
  assert.deepEqual(storeTopics("kv"), { master: "kv/<$>/data/master", clone: "kv/<$>/data/clone" });
  // No separator after an empty name; a trailing one is kept and another added.
  assert.deepEqual(storeTopics(""), { master: "<$>/data/master", clone: "<$>/data/clone" });
  assert.equal(storeTopics("a/").master, "a//<$>/data/master");
});
