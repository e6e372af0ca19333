import assert from "node:assert/strict";
import { OutgoingFrames } from "./outgoing.ts";
import { newEndpointId } from "./endpoint_id.ts";
import { parseEnvelope } from "./envelope.ts";
import { count, decode, encode } from "../data/mod.ts";

Deno.test("dataHeader: each topic's own header, whatever the order of the topics asked for", () => {
  const frames = new OutgoingFrames(newEndpointId(), 16, () => {});
  // The same topic twice in a row, alternation, and a topic built anew (equal text, another string).
  const asked = ["/a", "/a", "/b", "/a", "/bb", "/b", ["/", "b"].join(""), "/a"];
  for (const [i, topic] of asked.entries()) {
    const framed = frames.data(frames.dataHeader(topic), encode(count(BigInt(i))));
    const env = parseEnvelope(framed.subarray(4));
    assert.equal(env.topic, topic);
    assert.equal(decode(env.payload).value, BigInt(i));
  }
});

Deno.test("dataHeader: a topic is vetted once, the first time it is seen", () => {
  const vetted: string[] = [];
  const frames = new OutgoingFrames(newEndpointId(), 16, (t) => {
    if (t.includes("bad")) throw new Error(`refused: ${t}`);
    vetted.push(t);
  });
  for (const t of ["/x", "/x", "/y", "/x"]) frames.dataHeader(t);
  assert.throws(() => frames.dataHeader("/bad"), /refused/);
  assert.throws(() => frames.dataHeader("/bad"), /refused/); // not remembered as the last topic
  frames.dataHeader("/y");
  assert.deepEqual(vetted, ["/x", "/y"]);
});
