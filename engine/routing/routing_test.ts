import assert from "node:assert/strict";
import { extendFilter, filterMatches, isInternalTopic, makeFilter } from "./filter.ts";
import { PrefixTrie } from "./trie.ts";

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

Deno.test("a trie with 100k subscriptions still matches by walking the topic", () => {
  const t = new PrefixTrie<number>();
  for (let i = 0; i < 100_000; i++) t.add(`/topic/${i}/`, i);
  assert.deepEqual([...t.match("/topic/4242/x")], [4242]);
  assert.equal(t.match("/nothing").size, 0);
});
