// Zeek's binary log serialization: every type Zeek logs round-trips, errors are typed.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { Address } from "../data/types.ts";
import {
  decodeLogRecord,
  decodeLogWriteBatch,
  encodeLogRecord,
  encodeLogWriteBatch,
  type LogValue,
  type LogWriteBatch,
  ZeekType,
} from "./log_batch.ts";

const v = (type: number, value: LogValue["value"], subtype = 0): LogValue => ({
  type,
  subtype,
  value,
});

const RECORD: LogValue[] = [
  v(ZeekType.bool, true),
  v(ZeekType.int, -9223372036854775808n),
  v(ZeekType.count, 18446744073709551615n),
  v(ZeekType.double, -0.5),
  v(ZeekType.time, 1700000000.25),
  v(ZeekType.interval, 2.5),
  v(ZeekType.string, "grüße\\t"),
  v(ZeekType.string, new Uint8Array([0xff, 0x00])),
  v(ZeekType.enum, "Conn::LOG"),
  v(ZeekType.port, { port: 443n, proto: 1 }),
  v(ZeekType.addr, Address.parse("10.0.0.1")),
  v(ZeekType.addr, Address.parse("2001:db8::1")),
  v(ZeekType.subnet, { prefix: Address.parse("10.0.0.0"), length: 8 }),
  v(ZeekType.subnet, { prefix: Address.parse("2001:db8::"), length: 32 }),
  v(ZeekType.table, [v(ZeekType.string, "a"), v(ZeekType.string, "b")]),
  v(ZeekType.vector, [v(ZeekType.count, 1n), v(ZeekType.count, null)]),
  v(ZeekType.string, null),
];

function text(values: LogValue[]): string {
  return JSON.stringify(
    values,
    (_k, x) =>
      typeof x === "bigint"
        ? `${x}n`
        : x instanceof Address
        ? x.toString()
        : x instanceof Uint8Array
        ? [...x]
        : x,
  );
}

function code(fn: () => unknown): ErrorCode {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof BrokerError, `${e}`);
    return e.code;
  }
  throw new Error("did not throw");
}

Deno.test("a record of every type Zeek logs round-trips as a Broker log-write's serial data", () => {
  const bytes = encodeLogRecord(RECORD);
  assert.equal(text(decodeLogRecord(bytes)), text(RECORD));
  assert.deepEqual(encodeLogRecord(decodeLogRecord(bytes)), bytes);
});

Deno.test("a log batch round-trips, secondary names and optional fields included", () => {
  const batch: LogWriteBatch = {
    streamName: "Test::LOG",
    writerName: "Log::WRITER_ASCII",
    filterName: "default",
    path: "test",
    fields: RECORD.map((x, i) => ({
      name: `f${i}`,
      type: x.type,
      subtype: 0,
      optional: i % 2 === 0,
      ...(i === 3 ? { secondaryName: "second" } : {}),
    })),
    records: [RECORD, RECORD],
  };
  const bytes = encodeLogWriteBatch(batch);
  const back = decodeLogWriteBatch(bytes);
  assert.deepEqual(back.fields, batch.fields);
  assert.equal(text(back.records.flat()), text(batch.records.flat()));
  assert.deepEqual(encodeLogWriteBatch(back), bytes);
});

Deno.test("malformed serializations and impossible values are typed errors", () => {
  const bytes = encodeLogRecord(RECORD);
  for (let cut = 0; cut < bytes.length; cut += 7) {
    assert.equal(code(() => decodeLogRecord(bytes.subarray(0, cut))), ErrorCode.invalid_message);
  }
  assert.equal(
    code(() => decodeLogRecord(new Uint8Array([...bytes, 0]))),
    ErrorCode.invalid_message,
  );
  // Type 16 (list) is not a log type.
  assert.equal(
    code(() => decodeLogRecord(new Uint8Array([0, 0, 0, 1, 0, 0, 0, 16, 0, 0, 0, 0, 1]))),
    ErrorCode.invalid_message,
  );
  assert.equal(code(() => encodeLogRecord([v(ZeekType.count, "5")])), ErrorCode.type_clash);
  assert.equal(
    code(() =>
      encodeLogWriteBatch({
        streamName: "s",
        writerName: "w",
        filterName: "f",
        path: "p",
        fields: [],
        records: [[v(ZeekType.count, 1n)]],
      })
    ),
    ErrorCode.type_clash,
  );
  // Four empty strings, no fields, 2^32 - 1 records of nothing: refused at once (it ran for
  // minutes, into gigabytes); so is a count of records the bytes left cannot hold.
  const empty = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
  const noFields = new Uint8Array([...empty, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
  assert.equal(code(() => decodeLogWriteBatch(noFields)), ErrorCode.invalid_message);
  const batch = encodeLogWriteBatch({
    streamName: "s",
    writerName: "w",
    filterName: "f",
    path: "p",
    fields: [{ name: "n", type: ZeekType.count, subtype: 0, optional: false }],
    records: [[v(ZeekType.count, 1n)]],
  });
  assert.equal(decodeLogWriteBatch(batch).records.length, 1);
  const lying = batch.slice();
  lying.set([0xff, 0xff, 0xff, 0xff], lying.length - 17 - 4); // num_records, before its one value
  assert.equal(code(() => decodeLogWriteBatch(lying)), ErrorCode.invalid_message);
});
