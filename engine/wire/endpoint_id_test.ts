import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import {
  compareEndpointIds,
  endpointIdsEqual,
  endpointIdToString,
  isNilEndpointId,
  newEndpointId,
  NIL_ENDPOINT_ID,
  parseEndpointId,
} from "./endpoint_id.ts";

Deno.test("new IDs carry CAF's version 5 and variant bits and differ", () => {
  const ids = Array.from({ length: 64 }, newEndpointId);
  for (const id of ids) {
    assert.equal(id.length, 16);
    assert.equal(id[6] >> 4, 5);
    assert.equal(id[8] >> 6, 0b10);
    assert.match(
      endpointIdToString(id),
      /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-/,
    );
  }
  assert.equal(new Set(ids.map(endpointIdToString)).size, ids.length);
});

Deno.test("text form round-trips; the capture's IDs (version 4) parse", () => {
  const text = "22222222-2222-4222-8222-222222222222";
  const id = parseEndpointId(text);
  assert.deepEqual([...id.subarray(0, 8)], [0x22, 0x22, 0x22, 0x22, 0x22, 0x22, 0x42, 0x22]);
  assert.equal(endpointIdToString(id), text);
  assert.equal(endpointIdToString(parseEndpointId(text.toUpperCase())), text);
  assert.equal(endpointIdToString(NIL_ENDPOINT_ID), "00000000-0000-0000-0000-000000000000");
});

Deno.test("malformed text throws invalid_data", () => {
  for (
    const bad of [
      "",
      "2222",
      "22222222222242228222222222222222",
      "g2222222-2222-4222-8222-222222222222",
    ]
  ) {
    assert.throws(
      () => parseEndpointId(bad),
      (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
    );
  }
});

Deno.test("IDs compare like memcmp", () => {
  const a = parseEndpointId("11111111-1111-4111-8111-111111111111");
  const b = parseEndpointId("22222222-2222-4222-8222-222222222222");
  const hi = parseEndpointId("ff000000-0000-0000-0000-000000000000");
  assert.ok(compareEndpointIds(a, b) < 0);
  assert.ok(compareEndpointIds(b, a) > 0);
  assert.ok(compareEndpointIds(b, hi) < 0); // unsigned bytes
  assert.equal(compareEndpointIds(a, a.slice()), 0);
  assert.ok(endpointIdsEqual(a, a.slice()));
  assert.ok(!endpointIdsEqual(a, b));
  assert.ok(isNilEndpointId(new Uint8Array(16)));
  assert.ok(!isNilEndpointId(a));
});
