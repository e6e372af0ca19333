/**
 * Codec benchmarks: our Broker binary codec (`encode`, `decode`, `validate`,
 * lazy `EncodedData`) against general-purpose JS serialisers (msgpackr, cbor-x,
 * JSON) carrying the same logical content.
 *
 * Why: Broker's format is fixed by Zeek, so the question is not which format
 * to pick but whether our implementation costs about what a well-tuned
 * serialiser costs for comparable data. msgpackr is the baseline of every
 * group because it is the fastest widely used binary codec in JS.
 *
 * Comparable content: each Broker value is turned into a plain JS structure
 * that keeps 64-bit integers exact (counts, integers, times as bigint), strings
 * as strings, addresses as 16-byte Uint8Arrays, ports as `[number, protocol]`,
 * subnets as `[address, rawLength]`, sets and vectors as arrays, tables as
 * arrays of `[key, value]`, none as null. JSON cannot carry bigints or bytes,
 * so it gets bigints as decimal strings and bytes as hex; `JSON.parse` is run
 * without a reviver, so it does not restore those types (it does less work).
 *
 * `decodeValidated` is what a subscriber runs on a payload the router
 * validated on arrival (`validateForLater`); both rows are benched, alone and
 * together.
 *
 * `encodeWasm` is the alternative encoder (JS flattens to a tape, WASM writes
 * the bytes); it is benched beside `encode` to show which path is faster.
 *
 * Every case name carries the size of that format's encoding, e.g.
 * `ours decode (302 B)`, so MB/s = bytes / (ns/iter) * 1000.
 *
 * Corpora:
 * - "conn event": a Zeek event (`vector(count 1, count 1, vector(name, args))`)
 *   whose single argument is a conn-log-like record of 21 fields.
 * - "conn event, 1024 distinct uid sets": the conn event with fresh uids in
 *   each of 1,024 messages taken in turn, as a real stream differs between
 *   connections; our decoder caches repeated short text, and this row shows
 *   what it does when the uids never repeat.
 * - "small scalars": one small vector of a count, a short string and a real,
 *   where per-call overhead dominates.
 *
 * Run with `deno task bench`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { Packr } from "msgpackr";
import { Encoder } from "cbor-x";
import { type Data, decode, encode, EncodedData, scanHeader, validate } from "../mod.ts";
// Codec internals, beside the public API: the alternative paths and the validate-once pair.
import {
  decodeValidated,
  decodeViaTape,
  encodeWasm,
  validateForLater,
} from "../engine/data/mod.ts";
import {
  CONN_EVENT,
  connWithUids,
  EVENT_NAME,
  SMALL_SCALARS,
  toPlain,
  uid,
} from "./codec_corpus.ts";

// ------------------------------------------------------------------ corpora

const FRESH_UIDS = 1024;

/** Bytes compared by content: codecs may hand back Buffer instead of Uint8Array. */
function normalize(x: unknown): unknown {
  if (x instanceof Uint8Array) return { bytes: Array.from(x) };
  if (Array.isArray(x)) return x.map(normalize);
  return x;
}

function jsonReplacer(_key: string, v: unknown): unknown {
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Uint8Array) {
    let hex = "";
    for (const b of v) hex += b.toString(16).padStart(2, "0");
    return hex;
  }
  return v;
}

// largeBigIntToFloat: false keeps bigints out of float64; msgpackr writes every
// bigint as int64/uint64, and int64AsType "bigint" reads them back as bigints.
const packr = new Packr({ int64AsType: "bigint", useRecords: false, largeBigIntToFloat: false });
// cbor-x writes bigints as 8-byte ints and reads them back as bigints unless
// `int64AsNumber` is set (it is off by default and missing from its typings).
const cbor = new Encoder({ useRecords: false });

interface Corpus {
  name: string;
  value: Data;
  plain: unknown;
  ours: Uint8Array;
  msgpack: Uint8Array;
  cbor: Uint8Array;
  json: string;
  jsonBytes: number;
}

function corpus(name: string, value: Data): Corpus {
  const plain = toPlain(value);
  // pack/encode may return views of a reused buffer: copy so later calls do not clobber them.
  const ours = encode(value);
  const msgpack = packr.pack(plain).slice();
  const cborBytes = cbor.encode(plain).slice();
  const json = JSON.stringify(plain, jsonReplacer);

  // Check once that every format carries the content it claims to.
  assert.deepStrictEqual(decode(ours), value);
  assert.deepStrictEqual(decodeValidated(ours, validateForLater(ours)), value);
  assert.deepStrictEqual(normalize(packr.unpack(msgpack)), normalize(plain));
  assert.deepStrictEqual(normalize(cbor.decode(cborBytes)), normalize(plain));
  assert.deepStrictEqual(JSON.parse(json), JSON.parse(JSON.stringify(plain, jsonReplacer)));
  assert.equal(validate(ours), ours.length);
  assert.deepStrictEqual(encodeWasm(value), ours);

  return {
    name,
    value,
    plain,
    ours,
    msgpack,
    cbor: cborBytes,
    json,
    jsonBytes: new TextEncoder().encode(json).length,
  };
}

const conn = corpus("conn event", CONN_EVENT);

/**
 * The fresh-uid messages in both formats. Encoding 1,024 values here slowed
 * the encode rows measured later (1.9x -> 1.05x msgpackr), so each message is
 * the encoding of copy 0 with its three 18-byte uids patched in place; a few
 * are checked against a real encoding.
 */
function freshMessages(format: (d: Data) => Uint8Array): Uint8Array[] {
  // Copies, not slice(): msgpackr hands out a Buffer, whose slice is a view of its reused buffer.
  const template = new Uint8Array(format(connWithUids(0)));
  const uids = (i: number) => [uid(i, 0), ...[uid(i, 1), uid(i, 2)].sort()];
  const ascii = (t: string) => Uint8Array.from(t, (c) => c.charCodeAt(0));
  const at = uids(0).map((u) => {
    const needle = ascii(u);
    for (let p = 0; p + needle.length <= template.length; p++) {
      if (needle.every((b, k) => template[p + k] === b)) return p;
    }
    throw new Error(`uid ${u} not found`);
  });
  return Array.from({ length: FRESH_UIDS }, (_, i) => {
    const bytes = new Uint8Array(template);
    uids(i).forEach((u, k) => bytes.set(ascii(u), at[k]));
    return bytes;
  });
}
const fresh = {
  ours: freshMessages((d) => encode(d)),
  msgpack: freshMessages((d) => packr.pack(toPlain(d))),
};
for (const i of [1, 2, FRESH_UIDS - 1]) {
  assert.deepStrictEqual(fresh.ours[i], encode(connWithUids(i)));
  assert.deepStrictEqual(
    normalize(packr.unpack(fresh.msgpack[i])),
    normalize(toPlain(connWithUids(i))),
  );
}
const small = corpus("small scalars", SMALL_SCALARS);

// The peek cases must read the right thing.
assert.equal(EncodedData.from(conn.ours).at(2).at(0).text(), EVENT_NAME);
assert.deepEqual(scanHeader(conn.ours), {
  type: "vector",
  length: 3,
  zeekType: 1,
  eventName: EVENT_NAME,
  argCount: 1,
});
assert.equal((packr.unpack(conn.msgpack) as any)[2][0], EVENT_NAME);

// ------------------------------------------------------------------ benches

// Results go here so the work cannot be optimised away.
const sink: { value: unknown } = { value: undefined };

function registerCodecGroups(c: Corpus): void {
  const decodeGroup = `decode ${c.name}`;
  Deno.bench(`ours decode (${c.ours.length} B)`, { group: decodeGroup }, () => {
    sink.value = decode(c.ours);
  });
  Deno.bench(`ours decodeViaTape (${c.ours.length} B)`, { group: decodeGroup }, () => {
    sink.value = decodeViaTape(c.ours);
  });
  // A subscriber's path: the router validated the payload on arrival
  // (validateForLater), the subscriber builds it later (decodeValidated).
  const unsorted = validateForLater(c.ours);
  Deno.bench(`ours decodeValidated (${c.ours.length} B)`, { group: decodeGroup }, () => {
    sink.value = decodeValidated(c.ours, unsorted);
  });
  Deno.bench(
    `ours validateForLater + decodeValidated (${c.ours.length} B)`,
    { group: decodeGroup },
    () => {
      sink.value = decodeValidated(c.ours, validateForLater(c.ours));
    },
  );
  Deno.bench(
    `msgpackr unpack (${c.msgpack.length} B)`,
    { group: decodeGroup, baseline: true },
    () => {
      sink.value = packr.unpack(c.msgpack);
    },
  );
  Deno.bench(`cbor-x decode (${c.cbor.length} B)`, { group: decodeGroup }, () => {
    sink.value = cbor.decode(c.cbor);
  });
  Deno.bench(`JSON.parse (${c.jsonBytes} B)`, { group: decodeGroup }, () => {
    sink.value = JSON.parse(c.json);
  });

  const encodeGroup = `encode ${c.name}`;
  Deno.bench(`ours encode (${c.ours.length} B)`, { group: encodeGroup }, () => {
    sink.value = encode(c.value);
  });
  Deno.bench(`ours encodeWasm (${c.ours.length} B)`, { group: encodeGroup }, () => {
    sink.value = encodeWasm(c.value);
  });
  Deno.bench(
    `msgpackr pack (${c.msgpack.length} B)`,
    { group: encodeGroup, baseline: true },
    () => {
      sink.value = packr.pack(c.plain);
    },
  );
  Deno.bench(`cbor-x encode (${c.cbor.length} B)`, { group: encodeGroup }, () => {
    sink.value = cbor.encode(c.plain);
  });
  Deno.bench(`JSON.stringify (${c.jsonBytes} B)`, { group: encodeGroup }, () => {
    sink.value = JSON.stringify(c.plain, jsonReplacer);
  });
}

registerCodecGroups(conn);
registerCodecGroups(small);

// The conn event again, with fresh uids in every message (see `connWithUids`).
let next = 0;
const freshGroup = `decode conn event, ${FRESH_UIDS} distinct uid sets`;
Deno.bench(`ours decode (${fresh.ours[0].length} B)`, { group: freshGroup }, () => {
  sink.value = decode(fresh.ours[next++ & (FRESH_UIDS - 1)]);
});
Deno.bench(
  `msgpackr unpack (${fresh.msgpack[0].length} B)`,
  { group: freshGroup, baseline: true },
  () => {
    sink.value = packr.unpack(fresh.msgpack[next++ & (FRESH_UIDS - 1)]);
  },
);

// Peek: a router needs only the event name; the lazy view validates fully but builds nothing else,
// the header scan reads only the bytes before the arguments (and validates no more).
const peekGroup = `peek ${conn.name}`;
Deno.bench(
  `ours scanHeader: type, name, args (${conn.ours.length} B)`,
  { group: peekGroup },
  () => {
    sink.value = scanHeader(conn.ours);
  },
);
Deno.bench(`ours EncodedData.from + name (${conn.ours.length} B)`, { group: peekGroup }, () => {
  sink.value = EncodedData.from(conn.ours).at(2).at(0).text();
});
Deno.bench(`ours validate only (${conn.ours.length} B)`, { group: peekGroup }, () => {
  sink.value = validate(conn.ours);
});
Deno.bench(
  `msgpackr unpack + name (${conn.msgpack.length} B)`,
  { group: peekGroup, baseline: true },
  () => {
    sink.value = (packr.unpack(conn.msgpack) as any)[2][0];
  },
);
Deno.bench(`ours decode + name (${conn.ours.length} B)`, { group: peekGroup }, () => {
  const ev = decode(conn.ours);
  sink.value = ((ev.value as readonly Data[])[2].value as readonly Data[])[0].value;
});
