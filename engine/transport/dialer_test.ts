import assert from "node:assert/strict";
import { Endpoint } from "../endpoint.ts";
import { StatusCode } from "../status.ts";

/** Waits for the next status with `code` (other statuses are skipped). */
async function nextOf(
  statuses: ReturnType<Endpoint["statusSubscriber"]>,
  code: StatusCode,
): Promise<void> {
  for (;;) {
    // The bound only ends a failing run; the retry interval below is far longer.
    const s = await statuses.get(20_000);
    assert.ok(s, `no ${StatusCode[code]} status`);
    if (s.code === code) return;
  }
}

Deno.test("a lost peering is re-dialled at once, not after the retry interval (Broker's try_connect)", async () => {
  // Broker's core calls try_connect as soon as a peering it dialled with a
  // retry interval ends (not by unpeering); the interval applies only after
  // that attempt fails. Zeek, which dials with a retry, peers again within
  // milliseconds of a peer dropping it (checked against zeek 8.2.2).
  const a = new Endpoint({ warmUp: false }), b = new Endpoint({ warmUp: false });
  try {
    const port = await a.listen("127.0.0.1", 0);
    const statuses = a.statusSubscriber();
    await b.peer("127.0.0.1", port, { retryMs: 3_600_000 });
    await nextOf(statuses, StatusCode.peer_added);
    const [accepted] = a.peers();
    assert.ok(await a.unpeer(accepted.host, accepted.port));
    await nextOf(statuses, StatusCode.peer_removed);
    await nextOf(statuses, StatusCode.peer_added);
    assert.equal(b.peers().filter((p) => p.status === "peered").length, 1);
  } finally {
    await b.shutdown();
    await a.shutdown();
  }
});
