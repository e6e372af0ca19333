import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode, encode, equals, Tag } from "../data/mod.ts";
import {
  generateFromShape,
  GeneratorFileWriter,
  readGeneratorFile,
  seededRandom,
  type Shape,
  shapeOf,
} from "./generator_file.ts";

const mars = () =>
  Deno.readFileSync(new URL("../../fixtures/broker/recordings/mars.dat", import.meta.url));

function depthOf(s: Shape): number {
  return 1 + Math.max(0, ...(s.children ?? []).filter((c) => c.children).map(depthOf));
}

Deno.test("mars.dat (generator file v1) parses to its last byte: 1 topic, 1000 data messages", () => {
  const file = readGeneratorFile(mars());
  assert.equal(file.version, 1);
  assert.deepEqual(file.topics, ["/benchmark/events"]);
  assert.equal(file.entries.length, 1000);
  assert.ok(file.entries.every((e) => e.kind === "data"));
  const first = file.entries[0].shape!;
  // A Zeek event: vector(count, count, vector(name, args))
  assert.equal(first.tag, Tag.vector);
  assert.deepEqual(first.children!.slice(0, 2).map((c) => c.tag), [Tag.count, Tag.count]);
  assert.equal(Math.max(...file.entries.map((e) => depthOf(e.shape!))), 5);
});

Deno.test("every recorded message yields a value of its shape that round-trips", () => {
  const file = readGeneratorFile(mars());
  const rnd = seededRandom(42);
  for (const e of file.entries) {
    const v = generateFromShape(e.shape!, rnd);
    const back = decode(encode(v));
    assert.ok(equals(back, v));
    assert.equal(back.type, v.type);
  }
});

Deno.test("bad generator files give typed errors", () => {
  const good = mars();
  const wrongMagic = good.slice();
  wrongMagic[0] ^= 0xff;
  assert.throws(
    () => readGeneratorFile(wrongMagic),
    (e) => e instanceof BrokerError && e.code === ErrorCode.wrong_magic_number,
  );
  const v9 = good.slice();
  v9[4] = 9;
  assert.throws(
    () => readGeneratorFile(v9),
    (e) => e instanceof BrokerError && e.code === ErrorCode.invalid_data,
  );
  assert.throws(
    () => readGeneratorFile(good.slice(0, 5000)),
    (e) => e instanceof BrokerError && e.code === ErrorCode.end_of_file,
  );
  assert.throws(() => readGeneratorFile(new Uint8Array(2)), BrokerError);
});

Deno.test("a written generator file (v2) reads back with the same topics and shapes", () => {
  const file = readGeneratorFile(mars());
  const w = new GeneratorFileWriter(600);
  const rnd = seededRandom(3);
  const values = file.entries.map((e) => generateFromShape(e.shape!, rnd));
  for (const v of values) w.addData("/benchmark/events", v);
  assert.equal(w.messages, 600, "the cap holds");
  const back = readGeneratorFile(w.bytes());
  assert.equal(back.version, 2);
  assert.deepEqual(back.topics, ["/benchmark/events"]);
  assert.equal(back.entries.length, 600);
  for (let i = 0; i < 600; i++) assert.deepEqual(back.entries[i].shape, shapeOf(values[i]));
});
