// Zeek 8's own WebSocket server (Cluster::listen_websocket, scripts/websocket.zeek) with our
// WebSocket client, over Deno's built-in WebSocket and over our TCP-socket transport.
import assert from "node:assert/strict";
import {
  addr,
  connectWebSocket,
  count,
  dataToString,
  Event,
  str,
  table,
  tcpWebSocket,
  vector,
  type WebSocketClientOptions,
} from "../../mod.ts";
import { freePort } from "../broker_ref.ts";
import { zeekTest } from "./zeek.ts";

const ARGS = [
  vector(count(1n), count(2n), count(3n)),
  table([[str("k"), count(9n)]]),
];

const transports: [string, WebSocketClientOptions][] = [
  ["Deno's WebSocket", {}],
  ["our TCP-socket WebSocket", { createSocket: tcpWebSocket }],
];

zeekTest(
  "our WebSocket client with Zeek's WebSocket server: ack, an event each way, events sent just before close(), client_added/lost",
  async (t) => {
    // Zeek's server cannot listen on port 0 and report the port, so free ports it is.
    const wsPort = freePort();
    const zeek = await t.zeek("websocket.zeek", {
      env: {
        CLUSTER_NODE: "manager",
        BROKER_MANAGER_PORT: `${freePort()}/tcp`,
        WEBSOCKET_PORT: `${wsPort}/tcp`,
      },
    });
    await zeek.waitFor("websocket listening, T");
    // Zeek's btest cluster/websocket/bad-url.zeek: a wrong path gets an error, then the close.
    await assert.rejects(
      connectWebSocket(`ws://127.0.0.1:${wsPort}/v0/messages/json`, [], { reconnectMs: 0 }),
      /closed the session \(invalid_uri: Invalid URI - use \/v1\/messages\/json\)/,
    );
    for (const [i, [name, options]] of transports.entries()) {
      const client = await connectWebSocket(`ws://127.0.0.1:${wsPort}/v1/messages/json`, [
        "/ws/out",
      ], { reconnectMs: 0, ...options });
      t.defer(() => client.close());
      // Zeek names each WebSocket client's endpoint after its own ID.
      assert.match(
        client.endpoint ?? "",
        /^[0-9a-f-]{36}-websocket-\d+$/,
        `${name}: ack's endpoint`,
      );
      assert.equal(client.version, "8.2.2", `${name}: Zeek's version in the ack`);
      await zeek.waitFor("client added, /ws/out", { count: i + 1 });

      const who = `deno ${i}`;
      client.publish(
        "/ws/in",
        new Event("Test::from_ws", [str(who), count(41n), addr("10.1.2.3"), ...ARGS]).toData(),
      );
      await zeek.waitFor(`zeek got from_ws, ${who}, 41, 10.1.2.3, 3, 1`);
      const msg = await client.get(5000);
      assert.ok(msg, `${name}: no reply from Zeek\n${zeek.transcript}`);
      assert.equal(msg.topic, "/ws/out");
      const ev = Event.from(msg.data);
      assert.equal(ev.name, "Test::hello_ws");
      assert.equal(
        dataToString(vector(...ev.args)),
        dataToString(vector(str(`reply to ${who}`), count(42n), addr("10.1.2.3"), ...ARGS)),
        name,
      );
      assert.deepEqual(client.takeErrors(), []);
      // Published right before close(), as Zeek's btests broker/oneshot.zeek and
      // broker/no-subscriptions.zeek do: the close must not overtake them.
      const last = `${who} last`;
      for (let n = 0; n < 3; n++) {
        client.publish(
          "/ws/in",
          new Event("Test::from_ws", [str(last), count(BigInt(n)), addr("10.1.2.3"), ...ARGS])
            .toData(),
        );
      }
      client.close();
      await zeek.waitFor(`zeek got from_ws, ${last}, 2, 10.1.2.3, 3, 1`, { timeoutMs: 5000 });
      await zeek.waitFor("client lost", { count: i + 1 });
    }
  },
);
