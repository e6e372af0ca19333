import assert from "node:assert/strict";
import fc from "fast-check";
import { anyData, scalarData } from "../../tests/arbitrary.ts";
import { count, type Data, decode, encode, str } from "../data/mod.ts";
import { type Command, decodeCommand, encodeCommand } from "./commands.ts";
import { dataKey, latin1Of } from "./data_key.ts";
import { type Entity, entity, NIL_ENTITY } from "./entity.ts";
import { applyPut, applyPutUnique } from "./operations.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { ContentLog } from "./content_log.ts";
import {
  appendPutContent,
  appendUniqueResult,
  CONTENT_AT,
  entityBytes,
  plainScalarEnd,
  readRawWrite,
} from "./raw_write.ts";

const ent = fc.tuple(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
)
  .map(([id, o]): Entity => entity(id, o));
const keyOrValue = fc.oneof(scalarData, anyData);

function command(content: Command, seq = 7n, sender: Entity = NIL_ENTITY): Uint8Array {
  return encodeCommand({ seq, sender, receiver: NIL_ENTITY, content });
}

Deno.test("raw write: a span read in place is the key's dataKey and the value's encoding", () => {
  fc.assert(
    fc.property(keyOrValue, keyOrValue, ent, (key, value, publisher) => {
      const bytes = command({ type: "put", key, value, expiry: null, publisher });
      const w = readRawWrite(bytes);
      if (!w) return;
      assert.equal(latin1Of(bytes, w.keyAt, w.valueAt), dataKey(key));
      assert.deepEqual(bytes.subarray(w.valueAt, w.valueEnd), encode(value));
      assert.deepEqual(bytes.subarray(w.publisherAt, w.end), entityBytes(publisher));
    }),
    { numRuns: 500 },
  );
});

Deno.test("raw write: plain scalar keys and values without expiry are always read in place", () => {
  const plain = (d: Data) => d.type !== "real" && d.type !== "subnet";
  fc.assert(
    fc.property(scalarData.filter(plain), scalarData.filter(plain), (key, value) => {
      const put = command({ type: "put", key, value, expiry: null, publisher: NIL_ENTITY });
      assert.ok(readRawWrite(put), `put ${key.type} -> ${value.type}`);
      // With an expiry the master's timers need the key decoded: not in place.
      const timed = command({ type: "put", key, value, expiry: 5n, publisher: NIL_ENTITY });
      assert.equal(readRawWrite(timed), undefined);
    }),
  );
});

Deno.test("raw write: whatever is accepted in place re-encodes to the same bytes", () => {
  // Mutated commands: anything read in place must decode, and its spans must
  // be exactly what encode gives for the decoded values (else the master
  // would store, and broadcast, other bytes than Broker's re-encoding).
  const base = command({
    type: "put",
    key: str("key"),
    value: count(5n),
    expiry: null,
    publisher: NIL_ENTITY,
  });
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.nat(base.length + 8), fc.integer({ min: 0, max: 255 })), {
        maxLength: 4,
      }),
      fc.integer({ min: -4, max: 8 }),
      (edits, grow) => {
        const bytes = new Uint8Array(Math.max(CONTENT_AT + 1, base.length + grow));
        bytes.set(base.subarray(0, bytes.length));
        for (const [at, b] of edits) if (at < bytes.length) bytes[at] = b;
        const w = readRawWrite(bytes);
        if (!w) return;
        const cmd = decodeCommand(bytes).content;
        assert.ok(cmd.type === "put" || cmd.type === "put_unique");
        assert.deepEqual(bytes.subarray(w.keyAt, w.valueAt), encode(cmd.key));
        assert.deepEqual(bytes.subarray(w.valueAt, w.valueEnd), encode(cmd.value));
        assert.equal(cmd.expiry, null);
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("raw write: plainScalarEnd accepts only bytes that decode and re-encode unchanged", () => {
  // A tag, then random bytes, or a text length in one to three varbyte bytes
  // (over-long forms included) and that many bytes.
  const scalarLike = fc.oneof(
    fc.tuple(fc.integer({ min: 0, max: 15 }), fc.uint8Array({ maxLength: 20 }))
      .map(([tag, rest]) => Uint8Array.of(tag, ...rest)),
    fc.tuple(
      fc.constantFrom(5, 11),
      fc.integer({ min: 0, max: 3 }),
      fc.integer({ min: 1, max: 3 }),
      fc.uint8Array({ minLength: 3, maxLength: 3 }),
    ).map(([tag, n, width, text]) => {
      const len = Array.from(
        { length: width },
        (_, i) => i === width - 1 ? (i === 0 ? n : 0) : (i === 0 ? 0x80 | n : 0x80),
      );
      return Uint8Array.of(tag, ...len, ...text.subarray(0, n));
    }),
  );
  fc.assert(
    fc.property(scalarLike, (bytes) => {
      const end = plainScalarEnd(bytes, 0);
      if (end < 0) return;
      const span = bytes.subarray(0, end);
      assert.deepEqual(encode(decode(span)), span);
    }),
    { numRuns: 5000 },
  );
});

Deno.test("raw write: the master's broadcasts built from bytes equal the encoded commands", () => {
  fc.assert(
    fc.property(
      scalarData,
      scalarData,
      ent,
      ent,
      fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      ent,
      fc.boolean(),
      (key, value, who, publisher, reqId, self, present) => {
        // put: the master broadcasts the command it got, unchanged.
        const put = { type: "put", key, value, expiry: null, publisher } as const;
        const w = readRawWrite(command(put));
        if (!w) return;
        const log = new ContentLog();
        const applied = applyPut(new MemoryBackend(), put, 0n, false);
        assert.deepEqual(
          log.get(appendPutContent(log, w)),
          command(applied.broadcast[0]).subarray(CONTENT_AT),
        );
        // put_unique: a put with the writer's publisher, and the result from the master.
        const unique = {
          type: "put_unique",
          key,
          value,
          expiry: null,
          who,
          reqId,
          publisher,
        } as const;
        const u = readRawWrite(command(unique))!;
        const backend = new MemoryBackend();
        if (present) backend.put(key, count(0n));
        const r = applyPutUnique(backend, unique, 0n, self);
        const contents = r.broadcast.map((b) => command(b).subarray(CONTENT_AT));
        const raw = r.inserted
          ? [appendPutContent(log, u), appendUniqueResult(log, u, true, entityBytes(self))]
          : [appendUniqueResult(log, u, false, entityBytes(self))];
        assert.deepEqual(raw.map((at) => log.get(at)), contents);
      },
    ),
    { numRuns: 500 },
  );
});
