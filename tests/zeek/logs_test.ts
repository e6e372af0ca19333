// Zeek's logs and identifier updates to a Broker peer (scripts/logs.zeek, scripts/ids.zeek):
// Log::write arrives as a log-create and a batch of log-writes that our engine/zeek parsers
// read, and Broker::publish_id as identifier updates, which Zeek also applies when we send them.
import assert from "node:assert/strict";
import {
  Batch,
  count,
  dataToString,
  IdentifierUpdate,
  LogCreate,
  LogWrite,
  parseZeekMessage,
  set,
  subnet,
} from "../../mod.ts";
import { zeekTest } from "./zeek.ts";

/** One field of a log record in Zeek's binary serialization (threading::Value::Write). */
type LogValue = null | bigint | number | string | boolean | LogValue[];

/**
 * Reads a log-write's serial data, Zeek's BinarySerializationFormat of a
 * record: num_fields (int32), then per field type (int32), subtype (int32),
 * present (byte) and, when present, the value (`SerialTypes.cc`). Only the
 * types the test's record uses; anything else fails the test.
 */
function readLogRecord(bytes: Uint8Array): LogValue[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const i32 = () => (at += 4, view.getInt32(at - 4));
  const value = (): LogValue => {
    const type = i32();
    i32(); // subtype
    if (bytes[at++] === 0) return null;
    switch (type) {
      case 3: // count
        return (at += 8, view.getBigUint64(at - 8));
      case 5: // time
        return (at += 8, view.getFloat64(at - 8));
      case 7: { // string
        const n = i32();
        return new TextDecoder().decode(bytes.subarray(at, at += n));
      }
      case 14: { // table (a set): int64 size, then the elements
        const n = Number((at += 8, view.getBigInt64(at - 8)));
        return Array.from({ length: n }, value);
      }
      default:
        throw new Error(`log value type ${type} not expected here`);
    }
  };
  const fields = Array.from({ length: i32() }, value);
  assert.equal(at, bytes.length, "trailing bytes after the record");
  return fields;
}

zeekTest(
  "Zeek's Log::write to a Broker peer arrives as a log-create and a batch of log-writes we parse",
  async (t) => {
    const ep = t.endpoint();
    const sub = ep.subscribe("zeek/logs/Test::LOG");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("logs.zeek", { env: { DENO_PORT: `${port}/tcp` } });

    const first = await sub.get(10_000);
    assert.ok(first, `no log-create\n${zeek.transcript}`);
    assert.equal(first.topic, "zeek/logs/Test::LOG");
    const create = parseZeekMessage(first.data);
    assert.ok(create instanceof LogCreate, `expected a log-create, got ${create.kind}`);
    assert.equal(create.streamId, "Test::LOG");
    assert.equal(create.writerId, "Log::WRITER_ASCII");
    // Writer info: (path, rotation base, rotation interval, network time, config, post-processor).
    assert.equal(create.writerInfo.type, "vector");
    assert.equal(dataToString(create.writerInfo.value[0]), "test");
    // Fields: (name, secondary name, type, subtype, optional), Zeek's type tags.
    assert.equal(
      dataToString(create.fieldsData),
      "((ts, nil, 5, 0, F), (msg, nil, 7, 0, F), (n, nil, 3, 0, F), (tags, nil, 14, 7, T))",
    );

    // Zeek's Broker manager batches the writes of a stream (log_batch_size / log_batch_interval).
    const second = await sub.get(10_000);
    assert.ok(second, `no log-writes\n${zeek.transcript}`);
    const batch = parseZeekMessage(second.data);
    assert.ok(batch instanceof Batch, `expected a batch, got ${batch.kind}`);
    assert.equal(batch.messages.length, 2);
    const records = batch.messages.map((m) => {
      assert.ok(m instanceof LogWrite, `expected log-writes in the batch, got ${m.kind}`);
      assert.equal(m.streamId, "Test::LOG");
      assert.equal(m.writerId, "Log::WRITER_ASCII");
      assert.equal(m.path, "test");
      return readLogRecord(m.serialData);
    });
    assert.deepEqual(records, [
      [1700000001, "a log line", 5n, null],
      [1700000002, "another line", 6n, ["x"]],
    ]);
    // The batch re-encodes to the same data (nothing lost in parsing).
    assert.equal(dataToString(batch.toData()), dataToString(second.data));
    await zeek.waitFor("written");
  },
);

zeekTest(
  "Broker::publish_id arrives as identifier updates, and Zeek applies the ones we send",
  async (t) => {
    const ep = t.endpoint();
    const sub = ep.subscribe("/deno/ids");
    const port = await ep.listen("127.0.0.1", 0);
    const zeek = await t.zeek("ids.zeek", { env: { DENO_PORT: `${port}/tcp` } });

    const next = async () => {
      const msg = await sub.get(10_000);
      assert.ok(msg, `no identifier update\n${zeek.transcript}`);
      const update = parseZeekMessage(msg.data);
      assert.ok(
        update instanceof IdentifierUpdate,
        `expected an identifier update, got ${update.kind}`,
      );
      return update;
    };
    const threshold = await next();
    assert.equal(threshold.name, "Test::threshold");
    assert.equal(dataToString(threshold.value), "10");
    assert.equal(threshold.value.type, "count");
    const nets = await next();
    assert.equal(nets.name, "Test::nets");
    assert.equal(
      dataToString(nets.value),
      dataToString(set(subnet("10.0.0.0/8"), subnet("2001:db8::/32"))),
    );
    await zeek.waitFor("publish_id, T, T");

    // A change in Zeek is published again.
    await ep.awaitPeerSubscription("/zeek/ids");
    ep.publishEvent("/zeek/ids", "Test::bump", []);
    await zeek.waitFor("bumped, 11");
    const bumped = await next();
    assert.equal(bumped.name, "Test::threshold");
    assert.equal(dataToString(bumped.value), "11");

    // The other way: Zeek applies identifier updates from its peers to its globals.
    ep.publish("/zeek/ids", new IdentifierUpdate("Test::threshold", count(99n)).toData());
    ep.publish(
      "/zeek/ids",
      new IdentifierUpdate("Test::nets", set(subnet("192.168.0.0/16"))).toData(),
    );
    ep.publishEvent("/zeek/ids", "Test::show", []);
    await zeek.waitFor("show, 99, 192.168.0.0/16");
  },
);
