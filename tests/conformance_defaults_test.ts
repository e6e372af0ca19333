// Conformance, spec §9 (error and status codes) and §10 (defaults). The
// codes travel on the wire (drop_conn carries an `ec`, status messages an
// `sc`), so their numbers must be Broker's; the defaults are those of
// Broker's `lb/defaults.hh`, where observable cheaply.
import assert from "node:assert/strict";
import { str } from "../engine/data/constructors.ts";
import { Endpoint } from "../engine/endpoint.ts";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import { StatusCode } from "../engine/status.ts";
import { DEFAULT_SUBSCRIBER_QUEUE_SIZE } from "../engine/subscriber.ts";
import {
  DEFAULT_CONNECTION_TIMEOUT_FACTOR,
  DEFAULT_HEARTBEAT_INTERVAL_TICKS,
  DEFAULT_MAX_GET_DELAY_MS,
  DEFAULT_NACK_TIMEOUT_TICKS,
  DEFAULT_TICK_INTERVAL_MS,
} from "../engine/store/options.ts";
import { DEFAULT_TTL } from "../engine/wire/envelope.ts";

/** Broker's `ec` names in value order, 0 to 41 (spec §9, `lb/error.hh`). */
const EC = [
  "none",
  "unspecified",
  "peer_incompatible",
  "peer_invalid",
  "peer_unavailable",
  "peer_disconnect_during_handshake",
  "peer_timeout",
  "master_exists",
  "no_such_master",
  "no_such_key",
  "request_timeout",
  "type_clash",
  "invalid_data",
  "backend_failure",
  "stale_data",
  "cannot_open_file",
  "cannot_write_file",
  "invalid_topic_key",
  "end_of_file",
  "invalid_tag",
  "invalid_message",
  "invalid_status",
  "conversion_failed",
  "consumer_exists",
  "connection_timeout",
  "bad_member_function_call",
  "repeated_request_id",
  "broken_clone",
  "shutting_down",
  "invalid_peering_request",
  "repeated_peering_handshake_request",
  "unexpected_handshake_message",
  "invalid_handshake_state",
  "no_path_to_peer",
  "no_connector_available",
  "cannot_open_resource",
  "serialization_failed",
  "deserialization_failed",
  "wrong_magic_number",
  "redundant_connection",
  "logic_error",
  "invalid_json",
];

/** Broker's `sc` names in value order (spec §9, `lb/status.hh`). */
const SC = [
  "unspecified",
  "peer_added",
  "peer_removed",
  "peer_lost",
  "endpoint_discovered",
  "endpoint_unreachable",
];

/** A numeric TypeScript enum as [name, value] pairs, in value order. */
function members(e: Record<string, string | number>): [string, number][] {
  return Object.entries(e)
    .filter((kv): kv is [string, number] => typeof kv[1] === "number")
    .sort((a, b) => a[1] - b[1]);
}

// spec §9: every `ec` value, and no other.
Deno.test("§9 error codes (ec) have Broker's names and numbers, 0 to 41", () => {
  assert.deepEqual(members(ErrorCode), EC.map((name, i) => [name, i]));
});

// spec §9: every `sc` value, and no other.
Deno.test("§9 status codes (sc) have Broker's names and numbers, 0 to 5", () => {
  assert.deepEqual(members(StatusCode), SC.map((name, i) => [name, i]));
});

// spec §10: TTL 16; 2048 messages per peer; store tick 100 ms, heartbeat every 5 ticks,
// nack after 2 ticks, a silent store peer dropped after 5 x 100 = 500 ticks (50 s).
Deno.test("§10 defaults: TTL 16, peer buffer 2048, store tick 100 ms, heartbeat 5, nack 2, timeout 500 ticks", async () => {
  assert.equal(DEFAULT_TTL, 16);
  const ep = new Endpoint();
  try {
    assert.equal(ep.demand("/any"), 2048, "room for 2048 messages per peer");
  } finally {
    await ep.shutdown();
  }
  assert.equal(DEFAULT_TICK_INTERVAL_MS, 100);
  assert.equal(DEFAULT_HEARTBEAT_INTERVAL_TICKS, 5);
  assert.equal(DEFAULT_NACK_TIMEOUT_TICKS, 2);
  assert.equal(DEFAULT_HEARTBEAT_INTERVAL_TICKS * DEFAULT_CONNECTION_TIMEOUT_FACTOR, 500);
});

// spec §10: Broker's subscriber queue holds 64 messages. DELIBERATE DIFFERENCE: ours holds
// 1024 by default, with the same blocking back-pressure on the peers that feed it; nothing
// on the wire depends on the size, and a deeper queue keeps throughput up.
Deno.test("§10 the subscriber queue holds 1024 messages by default (deliberate difference: Broker 64)", async () => {
  assert.equal(DEFAULT_SUBSCRIBER_QUEUE_SIZE, 1024);
  const ep = new Endpoint();
  try {
    const sub = ep.subscribe("/q");
    for (let i = 0; i < 1100; i++) {
      ep.publish("/q", { type: "count", value: BigInt(i) }, { local: true });
    }
    assert.equal(sub.available(), 1024, "a local publisher does not wait: the queue keeps 1024");
  } finally {
    await ep.shutdown();
  }
});

// Broker's clone delays a read while it has no master for `broker.store.max-get-delay`
// (`defaults::store::max_get_delay`, 5 s), then fails it with `stale_data`
// (`clone_state::get_impl` in `clone_actor.hh`).
Deno.test("§10 a clone without a master fails a read with stale_data after 5 s (max-get-delay)", async () => {
  assert.equal(DEFAULT_MAX_GET_DELAY_MS, 5_000);
  const ep = new Endpoint({ warmUp: false });
  const clone = ep.attachClone("nobody");
  try {
    const t0 = performance.now();
    const err = await clone.get(str("k")).then(() => undefined, (e: unknown) => e);
    const waited = performance.now() - t0;
    assert.ok(err instanceof BrokerError, `a BrokerError, got ${err}`);
    assert.equal(err.code, ErrorCode.stale_data);
    assert.ok(waited >= 4_900, `waited ${waited.toFixed(0)} ms, not max-get-delay`);
  } finally {
    clone.close();
    await ep.shutdown();
  }
});
