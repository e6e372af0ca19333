import { deepEqual, equal } from "node:assert/strict";
import fc from "fast-check";
import { DataBuilder } from "./builder.ts";
import { encode } from "./binary.ts";
import {
  addr,
  bool,
  count,
  enumValue,
  port,
  real,
  set,
  str,
  table,
  timespan,
  timestamp,
  vector,
} from "./constructors.ts";
import { dataToJson } from "./json_write.ts";
import { readJsonMessage } from "./json_read.ts";
import { transcodeDataMessage } from "./json_transcode.ts";
import type { Data } from "./types.ts";
import { anyData } from "../../tests/arbitrary.ts";
import { goldenData, goldenZeek } from "../../tests/fixtures.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
const builder = new DataBuilder();

/** A data message's text around a value's JSON (`{"@data-type":...,"data":...}`). */
const message = (valueJson: string, topic = "/t") =>
  `{"type":"data-message","topic":${JSON.stringify(topic)},${valueJson.slice(1)}`;

/** The full reader's outcome: topic and bytes, or the error's message. */
function full(text: string): string {
  try {
    const m = readJsonMessage(text);
    const f = m.fields;
    if (f?.type !== "data-message" || typeof f.topic !== "string") return "not a data message";
    return `${f.topic} ${hex(encode(m.data()))}`;
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

/** The transcoder's outcome in the same form, or undefined when it declines. */
function fast(text: string): string | undefined {
  const topic = transcodeDataMessage(text, builder);
  return topic === undefined ? undefined : `${topic} ${hex(builder.finish())}`;
}

/** What the transcoder writes is what the full reader reads; it may only decline. */
function agrees(text: string): boolean {
  const f = fast(text);
  if (f !== undefined) equal(f, full(text), text);
  return f !== undefined;
}

Deno.test("transcode: any value's data message, the full reader's bytes", () => {
  let written = 0, runs = 0;
  fc.assert(
    fc.property(anyData, (v) => {
      runs++;
      if (agrees(message(dataToJson(v)))) written++;
    }),
    { numRuns: 3000 },
  );
  // It declines escapes, Broker's nan and inf, and a repeated element: not most values.
  if (written < runs / 2) throw new Error(`transcoded only ${written} of ${runs}`);
});

Deno.test("transcode: texts edited at random are written as the full reader reads them, or declined", () => {
  const edit = fc.record({
    at: fc.nat(),
    kind: fc.constantFrom("delete", "insert", "replace"),
    char: fc.constantFrom(...'{}[]":, \\-.e0123456789aftnu/x\u00e9'),
  });
  fc.assert(
    fc.property(anyData, fc.array(edit, { minLength: 1, maxLength: 3 }), (v, edits) => {
      let text = message(dataToJson(v));
      for (const { at, kind, char } of edits) {
        const i = at % (text.length + 1);
        if (kind === "delete") text = text.slice(0, i) + text.slice(i + 1);
        else if (kind === "insert") text = text.slice(0, i) + char + text.slice(i);
        else text = text.slice(0, i) + char + text.slice(i + 1);
      }
      agrees(text);
    }),
    { numRuns: 4000 },
  );
});

Deno.test("transcode: Broker's own JSON of every golden value", () => {
  let written = 0, all = 0;
  for (const g of [...goldenData(), ...goldenZeek()]) {
    if (g.json_text === null || g.json_text_hex) continue; // no text, or not UTF-8
    all++;
    if (agrees(message(g.json_text))) written++;
  }
  if (written < all / 2) throw new Error(`transcoded only ${written} of ${all}`);
});

/** A Zeek event shaped as broker-throughput's event_2 (a conn log entry). */
const connEvent = (i: number) =>
  vector(
    count(1),
    count(1),
    vector(
      str("event_2"),
      vector(
        timestamp(BigInt(1_700_000_000_000 + i) * 1_000_000n),
        str(`C${i}uid`),
        vector(addr("1.2.3.4"), port(4567, "tcp"), addr("3.4.5.6"), port(80, "tcp")),
        enumValue("tcp"),
        str("http"),
        timespan(3_140_000_000n),
        count(i),
        count(2 * i),
        str("SF"),
        bool(true),
        bool(false),
        count(0),
        str("ShADadFf"),
        count(7),
        count(512),
        count(5),
        count(4096),
        set(str(`t${i}`), str(`s${i}`)),
      ),
    ),
  );

Deno.test("transcode: a conn event, with and without spaces, is written", () => {
  for (let i = 0; i < 20; i++) {
    const v = connEvent(i);
    const compact = message(dataToJson(v));
    equal(agrees(compact), true);
    // Python's json.dumps: a space after `,` and `:`; JSON.stringify's indent: newlines.
    const parsed = JSON.parse(compact);
    equal(agrees(JSON.stringify(parsed).replaceAll('","', '", "').replaceAll('":', '": ')), true);
    equal(agrees(JSON.stringify(parsed, null, 2)), true);
  }
});

Deno.test("transcode: what Broker writes for each type is written, not declined", () => {
  const values: Data[] = [
    count(18446744073709551615n),
    count(123456789012345),
    timespan(-1500n),
    timespan(9_000_000_000_000_000_000n),
    real(-0.5),
    real(12345.25),
    port(0, "unknown"),
    table([[str("k"), vector()], [count(1), set(count(2), count(3))]]),
  ];
  for (const v of values) equal(agrees(message(dataToJson(v))), true, dataToJson(v));
  equal(agrees('{"type":"data-message","topic":"/t","@data-type":"none","data":{}}'), true);
  equal(agrees('{"type":"data-message","topic":"/t","@data-type":"integer","data":-0}'), true);
  equal(agrees('{"type":"data-message","topic":"/t","@data-type":"address","data":"::1"}'), true);
  equal(
    agrees(
      '{"type":"data-message","topic":"/t","@data-type":"timestamp","data":"2020-01-01T00:00:00Z"}',
    ),
    true,
  );
});

Deno.test("transcode: declines what the full reader refuses or reads another way", () => {
  const m = (valueJson: string) => `{"type":"data-message","topic":"/t",${valueJson}`;
  const declined = [
    // refused there
    m('"@data-type":"set","data":[{"@data-type":"count","data":1},{"@data-type":"count","data":1}]}'),
    m(
      '"@data-type":"table","data":[{"key":{"@data-type":"count","data":1},"value":{"@data-type":"none","data":{}}},' +
        '{"key":{"@data-type":"count","data":1},"value":{"@data-type":"none","data":{}}}]}',
    ),
    m('"@data-type":"count","data":18446744073709551616}'),
    m('"@data-type":"count","data":-1}'),
    m('"@data-type":"count","data":1.0}'),
    m('"@data-type":"count","data":01}'),
    m('"@data-type":"integer","data":9223372036854775808}'),
    m('"@data-type":"timestamp","data":"2263-01-01T00:00:00.000"}'),
    m('"@data-type":"count","data":1}x'),
    m('"@data-type":"counts","data":1}'),
    '{"type":"data-message","topic":"/t","@data-type":"count"}',
    '{"type":"data-messages","topic":"/t","@data-type":"count","data":1}',
    '{"topic":"/t","@data-type":"count","data":1}',
    '{"type":"data-message","topic":"/t","topic":"/u","@data-type":"count","data":1}',
    // read there, another way
    '{"type":"data-message","topic":"/t","data":1,"@data-type":"count"}',
    '{"type":"data-message","topic":"/t","@data-type":"count","data":1,"extra":2}',
    m('"@data-type":"string","data":"a\\"b"}'),
    m('"@data-type":"real","data":nan}'),
    m('"@data-type":"real","data":"inf"}'),
    m('"@data-type":"none","data":[1]}'),
  ];
  for (const text of declined) {
    equal(fast(text), undefined, text);
    agrees(text);
  }
  // The builder is left empty for the full reader's turn.
  equal(builder.reset().repeats, 0);
});

Deno.test("transcode: the builder holds the value until its next reset", () => {
  const b = new DataBuilder();
  equal(transcodeDataMessage(message(dataToJson(vector(str("a"), count(2)))), b), "/t");
  deepEqual(b.finish(), encode(vector(str("a"), count(2))));
});
