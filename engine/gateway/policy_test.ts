// The gateway's topic policy without a network.
import assert from "node:assert/strict";
import { TopicPolicy } from "./policy.ts";

Deno.test("policy: no lists lets everything cross and advertises every subscription", () => {
  const p = new TopicPolicy();
  assert.equal(p.restricts, false);
  assert.ok(p.permits("/anything"));
  assert.deepEqual(p.advertised(["/a", "/b"]), ["/a", "/b"]);
});

Deno.test("policy: allow narrows broad subscriptions, deny removes those under it and checks each message", () => {
  const p = new TopicPolicy({ allow: ["/zeek/logs/", "/alerts"], deny: ["/zeek/logs/dns"] });
  assert.ok(p.permits("/zeek/logs/conn"));
  assert.ok(!p.permits("/zeek/logs/dns/x"), "deny wins over allow");
  assert.ok(!p.permits("/zeek/events"), "outside allow");
  // Broker's prefixes are byte strings: "/alerts" also covers "/alertsx".
  assert.ok(p.permits("/alertsx"));
  assert.deepEqual(p.advertised(["/"]), ["/zeek/logs/", "/alerts"]);
  assert.deepEqual(p.advertised(["/zeek/logs/dns/q", "/zeek/logs/conn", "/other"]), [
    "/zeek/logs/conn",
  ]);
  // A subscription spanning a denied prefix is advertised; its denied messages are dropped one by one.
  assert.deepEqual(new TopicPolicy({ deny: ["/t/secret"] }).advertised(["/t"]), ["/t"]);
  // An allowed prefix under a denied one is not advertised.
  assert.deepEqual(new TopicPolicy({ allow: ["/a/b"], deny: ["/a"] }).advertised(["/"]), []);
});
