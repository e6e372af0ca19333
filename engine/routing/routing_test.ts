import assert from "node:assert/strict";
import { extendFilter, filterMatches, isInternalTopic, makeFilter } from "./filter.ts";
import { PrefixTrie } from "./trie.ts";
import {
  isOwnEndpointId,
  newOwnEndpointId,
  readOriginTag,
  SeenOrigins,
  writeOriginTag,
} from "./origin_tag.ts";

Deno.test("filters stay sorted and prefix-minimal, as Broker keeps them", () => {
  assert.deepEqual(makeFilter(["/b", "/a/x", "/a/y"]), ["/a/x", "/a/y", "/b"]);
  assert.deepEqual(makeFilter(["/a/x", "/a/y", "/a"]), ["/a"]);
  const f = makeFilter(["/a"]);
  assert.equal(extendFilter(f, "/a/b"), f, "a covered topic leaves the filter as it was");
  assert.deepEqual(extendFilter(["kv/<$>/data/clone"], "<$>/local/data/statuses"), [
    "kv/<$>/data/clone",
  ]);
  assert.ok(isInternalTopic("<$>/local/data/errors"));
  assert.ok(filterMatches(["zeek/ev"], "zeek/event/x"), "plain prefixes, not path segments");
  assert.ok(!filterMatches(["/a/b"], "/a"));
});

Deno.test("trie matches every registered prefix of a topic", () => {
  const t = new PrefixTrie<string>();
  t.add("", "all");
  t.add("/zeek/", "z");
  t.add("/zeek/event", "e");
  t.add("/zeek/event", "e2");
  t.add("/other", "o");
  assert.deepEqual([...t.match("/zeek/event/x")].sort(), ["all", "e", "e2", "z"]);
  assert.deepEqual([...t.match("/zee")], ["all"]);
  assert.ok(t.remove("", "all"));
  assert.ok(!t.matches("/zee"));
  assert.ok(t.matches("/zeek/x"));
  t.removeAll("e");
  assert.deepEqual([...t.match("/zeek/event")].sort(), ["e2", "z"]);
  assert.deepEqual(t.prefixesOf("z"), ["/zeek/"]);
  assert.equal(t.add("/zeek/", "z"), false);
  assert.equal(t.size, 3);
  t.remove("/zeek/event", "e2");
  t.remove("/zeek/", "z");
  t.remove("/other", "o");
  assert.equal(t.size, 0);
  assert.ok(!t.matches("/zeek/event"));
});

Deno.test("a value under nested prefixes of a topic matches it once", () => {
  const t = new PrefixTrie<string>();
  t.add("/a", "s");
  t.add("/a/b", "s");
  t.add("/a/b", "u");
  const seen: string[] = [];
  t.forEachMatch("/a/b/c", (v) => seen.push(v));
  assert.deepEqual(seen, ["s", "u"]);
  t.remove("/a", "s");
  seen.length = 0;
  t.forEachMatch("/a/b/c", (v) => seen.push(v));
  assert.deepEqual(seen, ["s", "u"], "still there under /a/b after the trie changed");
});

Deno.test("a trie with 100k subscriptions still matches by walking the topic", () => {
  const t = new PrefixTrie<number>();
  for (let i = 0; i < 100_000; i++) t.add(`/topic/${i}/`, i);
  assert.deepEqual([...t.match("/topic/4242/x")], [4242]);
  assert.equal(t.match("/nothing").size, 0);
});

Deno.test("origin tags: read back what was written; each (origin, seq) is new once", () => {
  const env = new Uint8Array(40);
  const origin = new Uint8Array(16).map((_, i) => i + 1);
  assert.equal(readOriginTag(env, 0), undefined, "a nil receiver is not a tag");
  writeOriginTag(env, 0, origin, 0xfffffffe);
  const tag = readOriginTag(env, 0)!;
  assert.deepEqual(tag, { hi: 0x01020304, lo: 0x05060708, seq: 0xfffffffe });
  const seen = new SeenOrigins();
  assert.equal(seen.firstTime(tag), true);
  assert.equal(seen.firstTime(tag), false);
  // wrap-around, out of order arrival, and copies too old to be news
  for (const seq of [0xffffffff, 0, 1, 3, 2]) {
    assert.equal(seen.firstTime({ ...tag, seq }), true, `seq ${seq}`);
  }
  assert.equal(seen.firstTime({ ...tag, seq: 2 }), false);
  assert.equal(seen.firstTime({ ...tag, seq: 10_000 }), true);
  assert.equal(seen.firstTime({ ...tag, seq: 3 }), false, "older than the window");
  assert.equal(seen.firstTime({ hi: 9, lo: 9, seq: 3 }), true, "origins are separate");
});

Deno.test("origin tags: a sequence number seen nowhere is new however far behind the newest, up to 2^20", () => {
  // Two paths from one origin: one brings every other number at once, the
  // other the rest up to 100k numbers late (its reader stalled). Each number
  // is new exactly once, whichever path brings it first; the window was 4096
  // and took the late ones for old copies.
  const seen = new SeenOrigins();
  const origin = { hi: 0xdeadbeef, lo: 7 };
  const start = 0xffffff00; // across the wrap of the 32-bit number too
  const n = 300_000, lag = 100_000;
  const news = new Set<number>();
  const offer = (i: number) => {
    const seq = (start + i) >>> 0;
    const fresh = seen.firstTime({ ...origin, seq });
    assert.equal(fresh, !news.has(i), `seq #${i} (${lag} behind at most)`);
    news.add(i);
  };
  for (let i = 0; i < n + lag; i++) {
    if (i < n && i % 2 === 0) offer(i); // the fast path: even numbers
    if (i >= lag && (i - lag) % 2 === 1) offer(i - lag); // the slow path: odd ones, late
    if (i % 1000 === 0 && i >= lag) offer(i - lag); // and a repeat of an even one, late
  }
  assert.equal(news.size, n);
  assert.equal(seen.firstTime({ ...origin, seq: start >>> 0 }), false);
  // Past the widest window a copy counts as seen without being looked up.
  assert.equal(seen.firstTime({ ...origin, seq: (start + n + (1 << 20)) >>> 0 }), true);
  assert.equal(seen.firstTime({ ...origin, seq: (start + n - 1) >>> 0 }), false);
});

Deno.test("origin tags: a flood of other origins forgets the idle ones first, not one still heard", () => {
  const seen = new SeenOrigins();
  const busy = { hi: 1, lo: 1 };
  assert.equal(seen.firstTime({ ...busy, seq: 5 }), true);
  for (let i = 0; i < 140_000; i++) {
    seen.firstTime({ hi: 2, lo: i, seq: 0 }); // each invented origin heard once
    if (i % 1000 === 0) seen.firstTime({ ...busy, seq: 6 + i / 1000 });
  }
  assert.equal(seen.firstTime({ ...busy, seq: 5 }), false, "the busy origin's window survived");
  assert.equal(seen.firstTime({ hi: 2, lo: 0, seq: 0 }), true, "an idle one was forgotten");
});

Deno.test("our endpoint IDs carry a mark that random and fixed C++-style IDs lack", () => {
  for (let i = 0; i < 1000; i++) {
    const id = newOwnEndpointId();
    assert.ok(isOwnEndpointId(id));
    assert.equal(id[6] >> 4, 5, "a version-5 UUID, as CAF makes them");
    assert.equal(id[8] >> 6, 2, "RFC 4122 variant");
    // Any change to the random part breaks the mark.
    const flipped = id.slice();
    flipped[i % 10] ^= 1 << (i % 8);
    assert.ok(!isOwnEndpointId(flipped));
  }
  let marked = 0;
  for (let i = 0; i < 100_000; i++) {
    if (isOwnEndpointId(crypto.getRandomValues(new Uint8Array(16)))) marked++;
  }
  assert.equal(marked, 0, "48 bits of mark: a random ID carries it with probability 2^-48");
  for (const b of [0x00, 0x11, 0x22, 0x55, 0xff]) {
    assert.ok(!isOwnEndpointId(new Uint8Array(16).fill(b)));
  }
  assert.ok(!isOwnEndpointId(new Uint8Array(15)));
});
