import assert from "node:assert/strict";
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
