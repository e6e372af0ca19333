import assert from "node:assert/strict";
import fc from "fast-check";
import { anyData, scalarData } from "../../tests/arbitrary.ts";
import {
  addr,
  compare,
  count,
  type Data,
  dataToString,
  encode,
  integer,
  real,
  set,
  str,
  table,
  timestamp,
  vector,
} from "../data/mod.ts";
import { BrokerError, ErrorCode } from "../errors.ts";
import type { StoreBackend } from "./backend.ts";
import type { CommandBus } from "./command_bus.ts";
import { decodeCommand, type StateSpans } from "./commands.ts";
import { NIL_ENTITY } from "./entity.ts";
import { MemoryBackend } from "./memory_backend.ts";
import { SqliteBackend } from "./sqlite_backend.ts";
import { sendAckClone } from "./store_common.ts";

/** Opens a fresh backend; `reopen` gives a new handle on the same storage, if it persists. */
interface Subject {
  backend: StoreBackend;
  reopen?: () => StoreBackend;
  cleanup: () => void;
}

const text = (d: Data | undefined) => (d === undefined ? "undefined" : dataToString(d));
const pairs = (xs: [Data, Data][]) => xs.map(([k, v]) => `${text(k)}=${text(v)}`);

/** What every StoreBackend must do: run against each implementation. */
function backendContract(name: string, open: () => Subject) {
  const t = (what: string, f: (b: StoreBackend, s: Subject) => void) =>
    Deno.test(`${name}: ${what}`, () => {
      const s = open();
      try {
        f(s.backend, s);
      } finally {
        s.backend.close();
        s.cleanup();
      }
    });

  t("put, get, exists, size; put replaces", (b) => {
    assert.equal(b.size(), 0);
    assert.equal(b.get(str("a")), undefined);
    assert.equal(b.exists(str("a")), false);
    b.put(str("a"), count(1n));
    b.put(count(7n), vector(str("x"), real(1.5)));
    assert.equal(text(b.get(str("a"))), "1");
    assert.equal(text(b.get(count(7n))), "(x, 1.500000)");
    assert.ok(b.exists(str("a")));
    b.put(str("a"), str("again"));
    assert.equal(text(b.get(str("a"))), "again");
    assert.equal(b.size(), 2);
  });

  t("keys are compared as Broker data, not as JS objects", (b) => {
    b.put(set(count(2n), count(1n)), str("s"));
    assert.equal(text(b.get(set(count(1n), count(2n)))), "s");
    b.put(table([[str("k"), addr("10.0.0.1")]]), str("t"));
    assert.ok(b.exists(table([[str("k"), addr("10.0.0.1")]])));
    assert.ok(!b.exists(count(1n)));
    assert.ok(!b.exists(integer(1n)), "count 1 and integer 1 are different keys");
  });

  t("erase and clear", (b) => {
    b.put(str("a"), count(1n));
    b.put(str("b"), count(2n));
    assert.equal(b.erase(str("a")), true);
    assert.equal(b.erase(str("a")), false);
    assert.equal(b.size(), 1);
    b.clear();
    assert.equal(b.size(), 0);
    assert.deepEqual(b.keys(), []);
  });

  t("keys in Broker's order, snapshot with values", (b) => {
    b.put(str("b"), count(2n));
    b.put(count(9n), count(0n));
    b.put(str("a"), count(1n));
    assert.deepEqual(b.keys().map(text), ["9", "a", "b"]);
    assert.deepEqual(pairs(b.snapshot()), ["9=0", "a=1", "b=2"]);
  });

  t("expiry: stored, replaced by the next put, expire only when due", (b) => {
    b.put(str("tmp"), count(1n), 1000n);
    b.put(str("keep"), count(2n));
    assert.deepEqual(b.entry(str("tmp")), { value: count(1n), expiry: 1000n });
    assert.deepEqual(b.entry(str("keep"))?.expiry, null);
    assert.deepEqual(b.expiries().map(([k, t]) => [text(k), t]), [["tmp", 1000n]]);
    assert.equal(b.expire(str("tmp"), 999n), false, "not due yet");
    assert.equal(b.expire(str("keep"), 1n << 62n), false, "no expiry");
    assert.equal(b.expire(str("nope"), 0n), false, "absent");
    assert.equal(b.expire(str("tmp"), 1000n), true, "due at the expiry itself");
    assert.equal(b.exists(str("tmp")), false);
    b.put(str("x"), count(1n), 5n);
    b.put(str("x"), count(2n));
    assert.deepEqual(b.expiries(), [], "a put without expiry clears it");
    b.put(str("neg"), count(1n), -5n);
    assert.deepEqual(b.expiries().map(([, t]) => t), [-5n]);
  });

  t("values of every type round-trip", (b) => {
    const values: Data[] = [
      str("unicode ✓"),
      { type: "string", value: "\ufffd", bytes: new Uint8Array([0xff]) },
      real(NaN),
      real(-Infinity),
      timestamp(-1n),
      table([[vector(), set()]]),
    ];
    values.forEach((v, i) => b.put(count(BigInt(i)), v));
    values.forEach((v, i) => {
      assert.deepEqual(encode(b.get(count(BigInt(i)))!).slice(), encode(v).slice());
    });
  });

  t("flush is harmless; closed backends fail with backend_failure", (b) => {
    b.put(str("a"), count(1n));
    b.flush();
    assert.equal(b.size(), 1);
    b.close();
    assert.throws(
      () => b.get(str("a")),
      (e: unknown) => e instanceof BrokerError && e.code === ErrorCode.backend_failure,
    );
  });

  t("data survives a reopen when the backend persists", (b, s) => {
    if (!s.reopen) return;
    b.put(str("a"), set(str("x")), 42n);
    b.put(str("b"), count(2n));
    b.close();
    const again = s.reopen();
    try {
      assert.deepEqual(pairs(again.snapshot()), ["a={x}", "b=2"]);
      assert.deepEqual(again.expiries().map(([k, t]) => [text(k), t]), [["a", 42n]]);
    } finally {
      again.close();
    }
  });
}

backendContract("memory", () => ({ backend: new MemoryBackend(), cleanup: () => {} }));

backendContract("sqlite", () => {
  const dir = Deno.makeTempDirSync({ prefix: "store-backend-" });
  const path = `${dir}/db/store.sqlite`;
  return {
    backend: new SqliteBackend({ path }),
    reopen: () => new SqliteBackend({ path }),
    cleanup: () => Deno.removeSync(dir, { recursive: true }),
  };
});

backendContract("sqlite (wal, batch of 1)", () => {
  const path = Deno.makeTempFileSync({ suffix: ".sqlite" });
  const opts = { path, journalMode: "wal" as const, synchronous: "normal" as const, batchSize: 1 };
  return {
    backend: new SqliteBackend(opts),
    reopen: () => new SqliteBackend(opts),
    cleanup: () => {
      for (const f of [path, `${path}-wal`, `${path}-shm`]) {
        try {
          Deno.removeSync(f);
        } catch { /* not created in every mode */ }
      }
    },
  };
});

Deno.test("memory: 0.0 and -0.0 are one key, equal by Broker's order (its keys() set too)", () => {
  const b = new MemoryBackend();
  b.put(real(0), str("zero"));
  b.put(real(-0), str("negative zero"));
  assert.equal(b.size(), 1);
  assert.equal(text(b.get(real(0))), "negative zero");
  assert.ok(Object.is((b.keys()[0] as { value: number }).value, 0), "the first key stays");
});

Deno.test("memory: a key first stored as -0.0 stays -0.0 in keys, snapshot and expiries", () => {
  const b = new MemoryBackend();
  b.put(vector(real(-0)), str("first"), 5n);
  b.put(vector(real(0)), str("second"), 9n);
  const isNegZeroVector = (d: Data) =>
    d.type === "vector" && Object.is((d.value[0] as { value: number }).value, -0);
  assert.equal(b.size(), 1);
  assert.ok(isNegZeroVector(b.keys()[0]));
  assert.ok(isNegZeroVector(b.snapshot()[0][0]));
  assert.deepEqual(b.expiries().map(([k, at]) => [isNegZeroVector(k), at]), [[true, 9n]]);
  // Erased, the key is new again: the next form given is the one kept.
  assert.ok(b.erase(vector(real(0))));
  b.put(vector(real(0)), str("third"));
  assert.ok(!isNegZeroVector(b.keys()[0]));
});

Deno.test("memory: keys and values of every type come back as stored (encoding equal)", () => {
  const bytes = (d: Data) => Array.from(encode(d));
  // NaN equals nothing by compare(), while its bytes make one key: leave it out of keys.
  const hasNaN = (d: Data): boolean => dataToString(d).includes("nan");
  fc.assert(
    fc.property(
      fc.array(fc.tuple(anyData.filter((k) => !hasNaN(k)), anyData), { maxLength: 8 }),
      (entries) => {
        const b = new MemoryBackend();
        const want: [Data, Data][] = [];
        for (const [k, v] of entries) {
          b.put(k, v);
          // A later put of an equal key replaces the value and keeps the first key.
          const at = want.findIndex(([wk]) => compare(wk, k) === 0);
          if (at >= 0) want[at] = [want[at][0], v];
          else want.push([k, v]);
        }
        for (const [k, v] of want) assert.deepEqual(bytes(b.get(k)!), bytes(v));
        want.sort((x, y) => compare(x[0], y[0]));
        assert.deepEqual(
          b.snapshot().map(([k, v]) => [bytes(k), bytes(v)]),
          want.map(([k, v]) => [bytes(k), bytes(v)]),
        );
        assert.deepEqual(b.keys().map(bytes), want.map(([k]) => bytes(k)));
      },
    ),
    { numRuns: 300 },
  );
});

/**
 * What a master's `ack_clone` of `b` brings a clone (sent as a master sends
 * it): its bytes, and its state read as spans.
 */
function handshakeOf(b: MemoryBackend): { bytes: Uint8Array; spans: StateSpans } {
  let sent: Uint8Array | undefined;
  const bus = { sendCommand: (_t: string, p: Uint8Array) => void (sent = p.slice()) };
  sendAckClone(
    bus as CommandBus,
    "kv/<$>/data/clone",
    1n,
    NIL_ENTITY,
    NIL_ENTITY,
    5,
    b.stateBytes(),
  );
  const bytes = sent!;
  const content = decodeCommand(bytes, { stateSpans: true }).content;
  assert.ok(content.type === "ack_clone" && content.spans && content.state.length === 0);
  return { bytes, spans: content.spans };
}

Deno.test("memory: a snapshot sent as bytes fills a clone's backend with the same entries", () => {
  const bytes = (d: Data) => Array.from(encode(d));
  const hasNaN = (d: Data): boolean => dataToString(d).includes("nan");
  fc.assert(
    fc.property(
      // Plain scalars (copied as they are) and anything else (keys decoded and folded).
      fc.array(fc.tuple(fc.oneof(scalarData, anyData).filter((k) => !hasNaN(k)), anyData), {
        maxLength: 12,
      }),
      (entries) => {
        const master = new MemoryBackend();
        for (const [k, v] of entries) master.put(k, v, 7n);
        const want = master.snapshot().map(([k, v]) => [bytes(k), bytes(v)]);
        const { bytes: wire, spans } = handshakeOf(master);
        // What Broker's clone reads: the same entries (in another order).
        const c = decodeCommand(wire).content;
        assert.ok(c.type === "ack_clone");
        assert.deepEqual(
          [...c.state].sort((x, y) => compare(x[0], y[0])).map(([k, v]) => [bytes(k), bytes(v)]),
          want,
        );
        // Ours: the copy replaced, expiries gone, every key found by its value.
        const clone = new MemoryBackend();
        clone.put(str("old"), count(1n), 5n);
        assert.equal(clone.replaceFromSpans(spans), true);
        assert.deepEqual(clone.snapshot().map(([k, v]) => [bytes(k), bytes(v)]), want);
        assert.deepEqual(clone.expiries(), []);
        for (const [k, v] of master.snapshot()) assert.deepEqual(bytes(clone.get(k)!), bytes(v));
      },
    ),
    { numRuns: 300 },
  );
});

Deno.test("memory: a snapshot with a key twice changes nothing", () => {
  for (const keys of [[count(1n), count(1n)], [set(real(-0)), set(real(-0))]]) {
    const b = new MemoryBackend();
    b.put(str("kept"), count(1n), 9n);
    assert.equal(b.replaceFromSpans(spansOf(keys, ["v", "w"])), false, dataToString(keys[0]));
    assert.deepEqual(pairs(b.snapshot()), ["kept=1"]);
    assert.deepEqual(b.expiries().map(([, at]) => at), [9n]);
  }
});

Deno.test("memory: a snapshot with 0.0 and -0.0 as two keys, as Broker's masters send it, is one key", () => {
  // Broker's unordered_map hashes a zero's sign bit: its masters hold and send both.
  for (const keys of [[real(0), real(-0)], [set(real(-0)), set(real(0))]]) {
    const b = new MemoryBackend();
    b.put(str("gone"), count(1n), 9n);
    assert.equal(b.replaceFromSpans(spansOf([...keys, str("k")], ["v", "w", "x"])), true);
    // As `put` keeps them: the first key's form, the last value.
    assert.deepEqual(pairs(b.snapshot()).sort(), [`${dataToString(keys[0])}=w`, `k=x`].sort());
    assert.equal(
      Object.is(firstReal(b.keys().find((k) => k.type !== "string")!), -0),
      Object.is(firstReal(keys[0]), -0),
    );
    assert.deepEqual(b.expiries(), []);
  }
});

/** Keys with string values, encoded one after another, as an ack_clone's spans. */
function spansOf(keys: Data[], values: string[]): StateSpans {
  const parts: number[] = [];
  keys.forEach((k, i) => parts.push(...encode(k), ...encode(str(values[i]))));
  return { bytes: new Uint8Array(parts), from: 0, to: parts.length, count: keys.length };
}

function firstReal(d: Data): number {
  if (d.type === "real") return d.value;
  if (d.type === "set") return firstReal(d.value[0]);
  throw new Error(`no real in ${dataToString(d)}`);
}
