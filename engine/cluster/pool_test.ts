import assert from "node:assert/strict";
import { addr, count, port, str, vector } from "../data/constructors.ts";
import { BrokerError } from "../errors.ts";
import { fnv1a32, fnv1a32String, hrwWeight, zeekKeyBytes } from "./hash.ts";
import { Pool } from "./pool.ts";

// Zeek's formula written again, independently of hash.ts: BigInt arithmetic
// with explicit 2^32 wrapping, and TextEncoder for the bytes.
const M32 = (1n << 32n) - 1n;
function refFnv(bytes: Uint8Array): bigint {
  let h = 2166136261n;
  for (const b of bytes) h = ((h ^ BigInt(b)) * 16777619n) & M32;
  return h;
}
function refWeight(digest: bigint, site: bigint): bigint {
  const a = 1103515245n, b = 12345n;
  const d = digest & 0x7fffffffn;
  const inner = ((a * site + b) & M32) ^ d;
  return ((a * inner + b) & M32) % 2147483648n;
}
function refOwner(names: string[], key: string): string {
  const enc = new TextEncoder();
  const sites: [bigint, string][] = [];
  for (const name of names) {
    for (let c = 0;; c++) {
      const id = refFnv(enc.encode(`${name}.${c}`));
      if (!sites.some(([s]) => s === id)) {
        sites.push([id, name]);
        break;
      }
    }
  }
  const d = refFnv(enc.encode(key));
  let best = "", bestW = -1n, bestId = 0n;
  for (const [id, name] of sites) {
    const w = refWeight(d, id);
    if (w > bestW || (w === bestW && id > bestId)) [best, bestW, bestId] = [name, w, id];
  }
  return best;
}

const POOLS = [
  ["proxy-1", "proxy-2"],
  ["proxy-1", "proxy-2", "proxy-3"],
  ["p-a", "p-b", "p-c", "p-d", "p-e"],
];
const KEYS = [
  "",
  "a",
  "10.0.0.1",
  "192.168.1.255",
  "user@example.com",
  "ünïcødé ✓ 🎉",
  "x".repeat(1000),
  "long key ".repeat(5000),
  ...Array.from({ length: 200 }, (_, i) => `key-${i}`),
];

Deno.test("hrwTopic agrees with Zeek's formula computed independently (2, 3, 5 proxies)", () => {
  for (const names of POOLS) {
    const pool = new Pool(names);
    for (const key of KEYS) {
      const owner = refOwner(names, key);
      assert.deepEqual(pool.hrwNode(key), owner, `${names} ${key.slice(0, 20)}`);
      assert.deepEqual(pool.hrwTopic(key), `zeek/cluster/node/${owner}/`);
      assert.deepEqual(pool.hrwTopic(new TextEncoder().encode(key)), `zeek/cluster/node/${owner}/`);
    }
  }
});

Deno.test("fnv1a32 and hrw_weight match values printed by Zeek 8.2.2", () => {
  // From `zeek -b`: fnv1a32("a"), hrw_weight(0, 0), fnv1a32(1), fnv1a32(1.2.3.4),
  // fnv1a32(80/tcp), fnv1a32([2001:db8::1]).
  assert.deepEqual(fnv1a32String("a"), 3826002220);
  assert.deepEqual(hrwWeight(0, 0), 1406932606);
  assert.deepEqual(fnv1a32(count(1n)), 321532423);
  assert.deepEqual(fnv1a32(addr("1.2.3.4")), 2736400296);
  assert.deepEqual(fnv1a32(port(80, "tcp")), 2818655735);
  assert.deepEqual(fnv1a32(addr("2001:db8::1")), 2362528482);
  for (const [d, s] of [[0, 0], [0xffffffff, 0xffffffff], [123456789, 987654321]]) {
    assert.deepEqual(hrwWeight(d, s), Number(refWeight(BigInt(d), BigInt(s))));
  }
  assert.deepEqual(fnv1a32(str("ab")), fnv1a32String("ab"));
});

Deno.test("lone surrogates hash as TextEncoder's U+FFFD", () => {
  for (const s of ["\ud800", "a\udc00b", "\ud83c\udf89", "\ud83c"]) {
    assert.deepEqual(fnv1a32String(s), Number(refFnv(new TextEncoder().encode(s))));
  }
});

Deno.test("uncovered key types are a BrokerError", () => {
  assert.throws(() => zeekKeyBytes(vector(count(1n))), BrokerError);
});

Deno.test("site ID collision: the second node takes alias .1, as init_pool_node", () => {
  // fnv1a32("proxy-98419.0") === fnv1a32("proxy-835102.0") (found by search).
  assert.deepEqual(fnv1a32String("proxy-98419.0"), fnv1a32String("proxy-835102.0"));
  const pool = new Pool(["proxy-98419", "proxy-835102"]);
  assert.deepEqual(pool.nodes.map((n) => n.alias), ["proxy-98419.0", "proxy-835102.1"]);
  for (const key of KEYS) {
    assert.deepEqual(pool.hrwNode(key), refOwner(["proxy-98419", "proxy-835102"], key));
  }
});

Deno.test("failover moves only the dead node's keys, and back", () => {
  const names = ["p-a", "p-b", "p-c", "p-d", "p-e"];
  const pool = new Pool(names);
  const keys = Array.from({ length: 10_000 }, (_, i) => `10.${i >> 8}.${i & 255}.1`);
  const before = keys.map((k) => pool.hrwNode(k));
  assert(pool.markDead("p-c"));
  const after = keys.map((k) => pool.hrwNode(k));
  let moved = 0;
  for (let i = 0; i < keys.length; i++) {
    if (before[i] === "p-c") {
      assert(after[i] !== "p-c");
      assert.deepEqual(after[i], refOwner(names.filter((n) => n !== "p-c"), keys[i]));
      moved++;
    } else assert.deepEqual(after[i], before[i]);
  }
  assert(moved > 1000 && moved < 3000, `moved ${moved}`);
  pool.markAlive("p-c");
  assert.deepEqual(keys.map((k) => pool.hrwNode(k)), before);
  for (const n of names) pool.markDead(n);
  assert.deepEqual(pool.hrwTopic("x"), "");
  assert.deepEqual(pool.rrTopic(), "");
  assert.deepEqual(pool.markDead("nope"), false);
});

Deno.test("rrTopic cycles alive nodes in pool order, one sequence per key", () => {
  const pool = new Pool(["a", "b", "c"]);
  assert.deepEqual([1, 2, 3, 4].map(() => pool.rrNode()), ["a", "b", "c", "a"]);
  assert.deepEqual(pool.rrNode("other"), "a");
  pool.markDead("c");
  assert.deepEqual([1, 2, 3].map(() => pool.rrNode()), ["b", "a", "b"]);
  assert.deepEqual(pool.rrTopic("other"), "zeek/cluster/node/b/");
  assert.deepEqual(new Pool([]).rrTopic(), "");
  assert.deepEqual(new Pool([]).hrwTopic("k"), "");
});

Deno.test("a pool's local node is alive for round-robin but not an HRW site, as Zeek's", () => {
  const pool = new Pool(["a", "b"], { alive: false, self: "a", backend: "zeromq" });
  assert.deepEqual(pool.rrTopic(), "zeek.cluster.node.a.");
  assert.deepEqual(pool.hrwTopic("k"), "");
  pool.markAlive("b");
  assert.deepEqual(pool.hrwTopic("k"), "zeek.cluster.node.b.");
});
