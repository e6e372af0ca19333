// What we send into a real Zeek 8 over Broker (scripts/into_zeek.zeek): log-creates and
// log-writes that Zeek writes to its own log file, and a batch whose identifier update and
// event Zeek applies in order.
import assert from "node:assert/strict";
import {
  Batch,
  bool,
  count,
  Event,
  IdentifierUpdate,
  LogCreate,
  LogWrite,
  none,
  real,
  str,
  table,
  vector,
} from "../../mod.ts";
import { encodeLogRecord, ZeekType } from "../../engine/zeromq/mod.ts";
import { zeekTest } from "./zeek.ts";

const TOPIC = "zeek/logs/Test::LOG";

/** Test::Info's columns as Zeek describes them: (name, secondary name, type, subtype, optional). */
const FIELDS = vector(
  vector(str("ts"), none(), count(5n), count(0n), bool(false)),
  vector(str("msg"), none(), count(7n), count(0n), bool(false)),
  vector(str("n"), none(), count(3n), count(0n), bool(false)),
  vector(str("tags"), none(), count(14n), count(7n), bool(true)),
);

/** Writer info as Zeek sends it: (path, rotation base, rotation interval, network time, config, post-processor). */
const WRITER_INFO = vector(str("test"), real(0), real(0), real(1700000000), table(), str(""));

/** One Test::LOG line as a log-write (Zeek's binary serialization of the record). */
function line(ts: number, msg: string, n: bigint, tags: string[] | null): LogWrite {
  const record = encodeLogRecord([
    { type: ZeekType.time, subtype: 0, value: ts },
    { type: ZeekType.string, subtype: 0, value: msg },
    { type: ZeekType.count, subtype: 0, value: n },
    {
      type: ZeekType.table,
      subtype: 0,
      value: tags && tags.map((t) => ({ type: ZeekType.string, subtype: 0, value: t })),
    },
  ]);
  return new LogWrite("Test::LOG", "Log::WRITER_ASCII", "test", record);
}

zeekTest(
  "our log-create and log-writes (alone and batched) reach Zeek's test.log; a batch's identifier update and event apply in order",
  async (t) => {
    const zeek = await t.zeek("into_zeek.zeek");
    const zeekPort = await zeek.port();
    const ep = t.endpoint();
    await ep.peer("127.0.0.1", zeekPort);
    await ep.awaitPeerSubscription(TOPIC);
    await ep.awaitPeerSubscription("/zeek/into");

    // Zeek drops a log-write for a writer no log-create announced.
    ep.publish(TOPIC, line(1700000000, "before the create", 0n, null).toData());
    ep.publish(
      TOPIC,
      new LogCreate("Test::LOG", "Log::WRITER_ASCII", WRITER_INFO, FIELDS).toData(),
    );
    ep.publish(TOPIC, line(1700000001, "alone", 1n, null).toData());
    ep.publish(TOPIC, new Batch([line(1700000002.5, "batched", 2n, ["x", "y"])]).toData());
    ep.publish(
      "/zeek/into",
      new Batch([
        new IdentifierUpdate("Test::threshold", count(99n)),
        new Event("Test::done", []),
      ]).toData(),
    );

    await zeek.waitFor("done, 99");
    assert.equal((await zeek.exited()).code, 0, zeek.transcript);
    const log = (await Deno.readTextFile(`${zeek.dir}/test.log`)).split("\n");
    assert.ok(log.includes("#fields\tts\tmsg\tn\ttags"), log.join("\n"));
    const rows = log.filter((l) => !l.startsWith("#") && l !== "");
    // Sets print in hash order.
    assert.deepEqual(rows.map((r) => r.replace("y,x", "x,y")), [
      "1700000001.000000\talone\t1\t-",
      "1700000002.500000\tbatched\t2\tx,y",
    ]);
  },
);
