import assert from "node:assert/strict";
import fc from "fast-check";
import { BrokerError, ErrorCode } from "../errors.ts";
import { decode, encode } from "../data/binary.ts";
import {
  count,
  enumValue,
  integer,
  none,
  set,
  str,
  subnet,
  timestamp,
  vector,
} from "../data/constructors.ts";
import type { Data } from "../data/types.ts";
import { anyData } from "../../tests/arbitrary.ts";
import { goldenZeek, hex, unhex } from "../../tests/fixtures.ts";
import {
  Batch,
  Event,
  IdentifierUpdate,
  LogCreate,
  LogWrite,
  parseZeekMessage,
  type ZeekMessage,
  ZeekMessageType,
  zeekMessageType,
} from "./mod.ts";

function throwsCode(f: () => unknown, code: ErrorCode, message?: RegExp, label = ""): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof BrokerError, `${label}: not a BrokerError: ${e}`);
    assert.equal(e.codeName, ErrorCode[code], `${label}: ${e.codeName}: ${e.message}`);
    if (message) assert.match(e.message, message, label);
    return true;
  }, label);
}

/** The kind a golden vector's name announces: "event-ping", "log-write", ... */
function kindOfName(name: string): ZeekMessage["kind"] {
  for (const [prefix, kind] of KIND_PREFIXES) if (name.startsWith(prefix)) return kind;
  throw new Error(`golden zeek ${name}: unknown kind`);
}

const KIND_PREFIXES: [string, ZeekMessage["kind"]][] = [
  ["event", "event"],
  ["log-create", "log_create"],
  ["log-write", "log_write"],
  ["identifier-update", "identifier_update"],
  ["batch", "batch"],
];

const utf8 = new TextEncoder();

/** What each golden vector must parse to. */
const EXPECTED: Record<string, (m: ZeekMessage) => void> = {
  "event-ping": (m) => {
    assert.ok(m instanceof Event);
    assert.equal(m.name, "ping");
    assert.deepEqual(m.args, [count(1n), str("x")]);
    assert.equal(m.metadata, undefined);
    assert.equal(m.networkTimestamp, undefined);
  },
  "event-with-ts": (m) => {
    assert.ok(m instanceof Event);
    assert.equal(m.name, "Conn::new");
    assert.deepEqual(m.args, [count(5n)]);
    assert.deepEqual(m.metadata, [[1n, timestamp(1_700_000_000_000_000_000n)]]);
    assert.equal(m.networkTimestamp, 1_700_000_000_000_000_000n);
  },
  "log-create": (m) => {
    assert.ok(m instanceof LogCreate);
    assert.equal(m.streamId, "Conn::LOG");
    assert.equal(m.writerId, "Log::WRITER_ASCII");
    assert.deepEqual(m.writerInfo, str("writer-info"));
    assert.deepEqual(m.fieldsData, vector(str("ts"), str("uid")));
  },
  "log-write": (m) => {
    assert.ok(m instanceof LogWrite);
    assert.equal(m.streamId, "Conn::LOG");
    assert.equal(m.writerId, "Log::WRITER_ASCII");
    assert.equal(m.path, "conn");
    assert.deepEqual(m.serialData, new Uint8Array([1, 2, ...utf8.encode("serialized")]));
  },
  "identifier-update": (m) => {
    assert.ok(m instanceof IdentifierUpdate);
    assert.equal(m.name, "Site::local_nets");
    assert.deepEqual(encode(m.value), encode(set(subnet("10.0.0.0/8"))));
  },
  "batch": (m) => {
    assert.ok(m instanceof Batch);
    assert.equal(m.messages.length, 2);
    const [a, b] = m.messages;
    assert.ok(a instanceof Event && b instanceof Event);
    assert.equal(a.name, "a");
    assert.deepEqual(a.args, [count(1n)]);
    assert.equal(b.name, "b");
    assert.deepEqual(b.args, [str("two")]);
  },
};

const CLASSES = { Event, LogCreate, LogWrite, IdentifierUpdate, Batch };
const KIND_CLASS: Record<ZeekMessage["kind"], keyof typeof CLASSES> = {
  event: "Event",
  log_create: "LogCreate",
  log_write: "LogWrite",
  identifier_update: "IdentifierUpdate",
  batch: "Batch",
};

for (const g of goldenZeek()) {
  Deno.test(`golden zeek ${g.name}: parses to its kind and fields, re-encodes to the same bytes`, () => {
    const data = decode(unhex(g.hex));
    const msg = parseZeekMessage(data);
    assert.equal(msg.kind, kindOfName(g.name));
    // Vectors added to the fixtures later get the kind and re-encoding checks.
    EXPECTED[g.name]?.(msg);
    assert.equal(hex(encode(msg.toData())), g.hex);
    assert.equal(zeekMessageType(data), ZeekMessageType[msg.kind]);
    // The kind's own parser agrees; every other kind's parser refuses it.
    for (const [kind, name] of Object.entries(KIND_CLASS)) {
      if (kind === msg.kind) {
        assert.equal(hex(encode(CLASSES[name].from(data).toData())), g.hex);
      } else {
        throwsCode(() => CLASSES[name].from(data), ErrorCode.type_clash, /expected a Zeek/);
      }
    }
  });
}

Deno.test("built messages produce Broker's layouts", () => {
  assert.equal(
    hex(encode(new Event("ping", [count(1n), str("x")]).toData())),
    goldenZeek().find((g) => g.name === "event-ping")!.hex,
  );
  assert.equal(
    hex(encode(new Event("Conn::new", [count(5n)], { timestamp: 1_700_000_000n * 10n ** 9n })
      .toData())),
    goldenZeek().find((g) => g.name === "event-with-ts")!.hex,
  );
  const serial = new Uint8Array([1, 2, ...utf8.encode("serialized")]);
  assert.equal(
    hex(encode(new LogWrite("Conn::LOG", "Log::WRITER_ASCII", "conn", serial).toData())),
    goldenZeek().find((g) => g.name === "log-write")!.hex,
  );
  assert.equal(
    hex(encode(new Batch([new Event("a", [count(1n)]), new Event("b", [str("two")])]).toData())),
    goldenZeek().find((g) => g.name === "batch")!.hex,
  );
});

Deno.test("event metadata: timestamp first, user keys kept, lookups by key", () => {
  const ev = new Event("e", [], {
    timestamp: 42n,
    metadata: [[200n, str("user")], [1n, timestamp(7n)]],
  });
  assert.deepEqual(ev.metadata, [[1n, timestamp(42n)], [200n, str("user")], [1n, timestamp(7n)]]);
  assert.equal(ev.networkTimestamp, 42n); // the first key-1 entry, as in Broker
  assert.deepEqual(ev.metadataValue(200), str("user"));
  assert.equal(ev.metadataValue(3n), undefined);
  const back = Event.from(ev.toData());
  assert.deepEqual(back.metadata, ev.metadata);
  // An empty metadata field is kept apart from none.
  const empty = new Event("e", [], { metadata: [] });
  assert.deepEqual(Event.from(empty.toData()).metadata, []);
  assert.equal(encode(empty.toData()).length, encode(new Event("e").toData()).length + 2);
  throwsCode(() => new Event("e", [], { metadata: [[1n, count(1n)]] }), ErrorCode.type_clash);
  throwsCode(() => new Event("e", [], { metadata: [[-1n, none()]] }), ErrorCode.type_clash);
  throwsCode(() => new Event("e", [], { extra: [none()] }), ErrorCode.invalid_message);
});

Deno.test("bytes that are not UTF-8 and extra fields survive a parse and re-encode", () => {
  const bad = new Uint8Array([0x66, 0xff]);
  const messages: (Event | LogCreate | LogWrite | IdentifierUpdate)[] = [
    new Event(bad, [str(bad)], { metadata: [], extra: [count(9n)] }),
    new LogCreate(bad, "w", none(), none(), { extra: [str("x")] }),
    new LogWrite(bad, bad, bad, bad, { extra: [none(), none()] }),
    new IdentifierUpdate(bad, str(bad), { extra: [vector()] }),
  ];
  for (const m of messages) {
    const bytes = encode(m.toData());
    const back = parseZeekMessage(decode(bytes));
    assert.equal(back.kind, m.kind);
    assert.deepEqual(encode(back.toData()), bytes);
    assert.deepEqual(back.extra, m.extra);
  }
  assert.deepEqual(new LogWrite("s", "w", "p", bad).serialData, bad);
  assert.deepEqual(new LogWrite("s", "w", "p", "ab").serialData, utf8.encode("ab"));
});

Deno.test("invalid layouts give typed errors", () => {
  const env = (version: Data, type: Data, content: Data) => vector(version, type, content);
  const ev = (...content: Data[]) => env(count(1n), count(1n), vector(...content));
  const cases: [string, Data, ErrorCode, RegExp][] = [
    ["not a vector", str("ping"), ErrorCode.invalid_message, /is a vector/],
    ["too few fields", vector(count(1n), count(1n)), ErrorCode.invalid_message, /3 fields/],
    ["version 2", env(count(2n), count(1n), vector()), ErrorCode.invalid_message, /version 2/],
    ["version 0", env(count(0n), count(1n), vector()), ErrorCode.invalid_message, /version 0/],
    [
      "version not a count",
      env(integer(1n), count(1n), vector()),
      ErrorCode.type_clash,
      /version must be a count/,
    ],
    ["type 0", env(count(1n), count(0n), vector()), ErrorCode.invalid_message, /type 0/],
    ["type 6", env(count(1n), count(6n), vector()), ErrorCode.invalid_message, /type 6/],
    [
      "type not a count",
      env(count(1n), str("event"), vector()),
      ErrorCode.type_clash,
      /type must be a count/,
    ],
    [
      "content not a vector",
      env(count(1n), count(1n), set()),
      ErrorCode.type_clash,
      /content must be a vector/,
    ],
    ["event without args", ev(str("ping")), ErrorCode.invalid_message, /at least 2/],
    ["event name not a string", ev(enumValue("ping"), vector()), ErrorCode.type_clash, /name/],
    ["event args not a vector", ev(str("ping"), set()), ErrorCode.type_clash, /arguments/],
    [
      "event metadata not a vector",
      ev(str("ping"), vector(), none()),
      ErrorCode.type_clash,
      /metadata must be a vector/,
    ],
    [
      "event metadata entry not a pair",
      ev(str("ping"), vector(), vector(vector(count(1n)))),
      ErrorCode.type_clash,
      /pairs/,
    ],
    [
      "event metadata key not a count",
      ev(str("ping"), vector(), vector(vector(str("k"), none()))),
      ErrorCode.type_clash,
      /key must be a count/,
    ],
    [
      "event network timestamp not a timestamp",
      ev(str("ping"), vector(), vector(vector(count(1n), count(5n)))),
      ErrorCode.type_clash,
      /network timestamp/,
    ],
    [
      "log_create with 3 fields",
      env(count(1n), count(2n), vector(enumValue("a"), enumValue("b"), none())),
      ErrorCode.invalid_message,
      /at least 4/,
    ],
    [
      "log_create stream id a string",
      env(count(1n), count(2n), vector(str("a"), enumValue("b"), none(), none())),
      ErrorCode.type_clash,
      /stream id must be an enum/,
    ],
    [
      "log_write writer id a string",
      env(count(1n), count(3n), vector(enumValue("a"), str("b"), str("p"), str("s"))),
      ErrorCode.type_clash,
      /writer id must be an enum/,
    ],
    [
      "log_write path not a string",
      env(count(1n), count(3n), vector(enumValue("a"), enumValue("b"), none(), str("s"))),
      ErrorCode.type_clash,
      /path must be a string/,
    ],
    [
      "log_write serial data not a string",
      env(count(1n), count(3n), vector(enumValue("a"), enumValue("b"), str("p"), vector())),
      ErrorCode.type_clash,
      /serial data must be a string/,
    ],
    [
      "identifier_update without value",
      env(count(1n), count(4n), vector(str("x"))),
      ErrorCode.invalid_message,
      /at least 2/,
    ],
    [
      "identifier_update name an enum",
      env(count(1n), count(4n), vector(enumValue("x"), none())),
      ErrorCode.type_clash,
      /identifier name must be a string/,
    ],
    [
      "batch with a non-message",
      env(count(1n), count(5n), vector(new Event("a").toData(), str("b"))),
      ErrorCode.invalid_message,
      /is a vector/,
    ],
    [
      "batch with an invalid event",
      env(count(1n), count(5n), vector(env(count(1n), count(1n), vector(str("a"))))),
      ErrorCode.invalid_message,
      /at least 2/,
    ],
    [
      "nested batch with a wrong version",
      env(
        count(1n),
        count(5n),
        vector(new Batch([]).toData(), env(count(9n), count(1n), vector())),
      ),
      ErrorCode.invalid_message,
      /version 9/,
    ],
  ];
  for (const [what, data, code, message] of cases) {
    throwsCode(() => parseZeekMessage(data), code, message, what);
  }
});

Deno.test("Broker's tolerances: outer fields after the third, an empty batch", () => {
  const withTail = vector(count(1n), count(1n), vector(str("a"), vector()), str("tail"));
  const ev = Event.from(withTail);
  assert.equal(ev.name, "a");
  // The outer tail carries nothing Broker reads, so re-encoding drops it.
  assert.deepEqual(ev.toData(), new Event("a").toData());
  const empty = Batch.from(vector(count(1n), count(5n), vector()));
  assert.equal(empty.messages.length, 0);
  assert.equal(zeekMessageType(vector(count(9n), count(2n), none())), 2); // a peek, not a check
  assert.equal(zeekMessageType(vector(count(1n), count(7n), vector())), undefined);
  assert.equal(zeekMessageType(vector(count(1n), count(1n))), undefined);
});

const textArb = fc.oneof(fc.string({ maxLength: 12 }), fc.uint8Array({ maxLength: 8 }));
const messageArb: fc.Arbitrary<ZeekMessage> = fc.letrec<{ msg: ZeekMessage }>((tie) => ({
  msg: fc.oneof(
    { depthSize: "small" },
    fc.tuple(
      textArb,
      fc.array(anyData, { maxLength: 4 }),
      fc.option(fc.array(fc.tuple(fc.bigInt({ min: 2n, max: 300n }), anyData), { maxLength: 3 })),
      fc.option(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n })),
    ).map(([name, args, metadata, ts]) =>
      new Event(name, args, { metadata: metadata ?? undefined, timestamp: ts ?? undefined })
    ),
    fc.tuple(textArb, textArb, anyData, anyData).map(([s, w, i, f]) => new LogCreate(s, w, i, f)),
    fc.tuple(textArb, textArb, textArb, textArb).map(([s, w, p, d]) => new LogWrite(s, w, p, d)),
    fc.tuple(textArb, anyData).map(([n, v]) => new IdentifierUpdate(n, v)),
    fc.array(tie("msg"), { maxLength: 3 }).map((ms) => new Batch(ms)),
  ),
})).msg;

Deno.test("property: any built message parses back to the same kind and the same bytes", () => {
  fc.assert(
    fc.property(messageArb, (m) => {
      const bytes = encode(m.toData());
      const back = parseZeekMessage(decode(bytes));
      assert.equal(back.kind, m.kind);
      assert.deepEqual(encode(back.toData()), bytes);
    }),
    { numRuns: 300 },
  );
});

Deno.test("property: any value either parses as a Zeek message or gives a typed error", () => {
  fc.assert(
    fc.property(anyData, (d) => {
      try {
        const m = parseZeekMessage(d);
        assert.ok(zeekMessageType(d) !== undefined);
        assert.ok(m.kind);
      } catch (e) {
        assert.ok(e instanceof BrokerError, `${e}`);
        assert.ok(e.code === ErrorCode.invalid_message || e.code === ErrorCode.type_clash);
      }
    }),
    { numRuns: 300 },
  );
});
