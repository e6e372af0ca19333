import assert from "node:assert/strict";
import { statusToData } from "./status_data.ts";
import { errorEvent, StatusCode, statusEvent } from "./status.ts";
import { ErrorCode } from "./errors.ts";
import { dataToString } from "./data/mod.ts";

Deno.test("status data never throws: a port no TCP peer has leaves out the network part", () => {
  // It did throw (RangeError from port()), from the status hub, and took the process down.
  for (const port of [70000, -1, 1.5, NaN]) {
    const e = errorEvent(ErrorCode.peer_unavailable, "cannot connect", { host: "h", port });
    assert.equal(
      dataToString(statusToData(e)),
      "(error, peer_unavailable, ((nil, nil, nil, nil), cannot connect))",
    );
  }
  assert.equal(
    dataToString(
      statusToData(statusEvent(StatusCode.peer_added, "ok", { id: "x", host: "h", port: 1 })),
    ),
    "(status, peer_added, (x, h, 1/tcp, 0), ok)",
  );
});

Deno.test("status data carries the peering's retry in seconds, as Broker's network_info", () => {
  const e = statusEvent(StatusCode.peer_added, "handshake successful", {
    id: "x",
    host: "127.0.0.1",
    port: 9,
    retry: 10,
  });
  assert.equal(
    dataToString(statusToData(e)),
    "(status, peer_added, (x, 127.0.0.1, 9/tcp, 10), handshake successful)",
  );
});
