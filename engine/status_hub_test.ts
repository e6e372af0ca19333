import assert from "node:assert/strict";
import { evalWithGc } from "../tests/gc_eval.ts";
import { StatusHub } from "./status_hub.ts";
import { StatusCode, statusEvent } from "./status.ts";

Deno.test("a closed status subscriber is forgotten at once, without waiting for a status", () => {
  // Every store handle opens a status subscriber and closes it with the
  // handle: on an endpoint where nothing happens (no peer comes or goes),
  // the hub kept each closed one until the next status, so clones attached
  // and closed in a loop grew it without bound.
  const hub = new StatusHub();
  const live = hub.subscribe();
  for (let i = 0; i < 1000; i++) hub.subscribe({ statuses: i % 2 === 0 }).close();
  assert.equal(hub.size, 1);
  live.close();
  assert.equal(hub.size, 0);
});

Deno.test("status subscribers that stay open keep getting events after others close", () => {
  const hub = new StatusHub();
  const a = hub.subscribe(), b = hub.subscribe({ statuses: false });
  hub.subscribe().close();
  hub.emit(statusEvent(StatusCode.peer_added, "handshake successful"));
  assert.equal(a.length, 1);
  assert.equal(b.length, 0);
  b.close();
  hub.emit(statusEvent(StatusCode.peer_lost, "lost"));
  assert.equal(a.length, 2);
  assert.equal(hub.size, 1);
  hub.close();
  assert.equal(hub.size, 0);
});

Deno.test("a status subscriber dropped without close leaves the hub once collected; one read from stays", async () => {
  // The hub held every status subscriber until close(): one made and let go
  // (to wait for one peering, say) stayed for good, each status pushed to it
  // and up to 256 kept. gc() needs --expose-gc, so this runs in a child process.
  const hubUrl = new URL("./status_hub.ts", import.meta.url).href;
  const statusUrl = new URL("./status.ts", import.meta.url).href;
  const r = await evalWithGc<Record<string, unknown>>(
    `
      import { StatusHub } from ${JSON.stringify(hubUrl)};
      import { StatusCode, statusEvent } from ${JSON.stringify(statusUrl)};
      const hub = new StatusHub();
      const kept = hub.subscribe();
      // Not referenced, but in use: a pending get and a for-await loop.
      const pending = hub.subscribe().get();
      let looped = 0;
      const loop = (async () => {
        for await (const _ of hub.subscribe()) if (++looped === 2) return;
      })();
      // In a function of its own, so that no frame here holds the last one.
      const drop = () => {
        for (let i = 0; i < 100; i++) hub.subscribe();
      };
      drop();
      const made = hub.size;
      await collectUntil(() => hub.size === 3);
      const left = hub.size;
      hub.emit(statusEvent(StatusCode.peer_added, "one"));
      hub.emit(statusEvent(StatusCode.peer_lost, "two"));
      const got = await pending;
      await loop;
      console.log(JSON.stringify({ made, left, pending: got?.message, looped, kept: kept.length }));
      `,
  );
  assert.equal(r.made, 103);
  assert.equal(r.left, 3, "kept, pending, loop");
  assert.equal(r.pending, "one");
  assert.equal(r.looped, 2);
  assert.equal(r.kept, 2);
});
