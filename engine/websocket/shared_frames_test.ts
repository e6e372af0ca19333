import { equal, notEqual } from "node:assert/strict";
import { connectWebSocket, count, dataToString, Endpoint, str, vector } from "../../mod.ts";
import { encode } from "../data/mod.ts";
import { dataMessageFrame } from "./json_direct.ts";
import { SharedFrames } from "./shared_frames.ts";

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("SharedFrames: one frame per delivery, a new one per view or per second take", () => {
  const frames = new SharedFrames();
  const a = { lastShared: 0 }, b = { lastShared: 0 };
  const payload = encode(vector(count(1n), str("x")));
  const fa = frames.frame(a, "/t", payload, false);
  equal(text(fa), text(dataMessageFrame({ topic: "/t", payload })));
  equal(frames.frame(b, "/t", payload, false), fa, "the second client shares it");
  // The same bytes in another view are another message: built again.
  const copy = payload.slice();
  const fc = frames.frame(a, "/t", copy, false);
  notEqual(fc, fa);
  equal(text(fc), text(fa));
  // The same view on another topic is another message.
  equal(text(frames.frame(b, "/u", copy, false)), text(dataMessageFrame({ topic: "/u", payload })));
  // A client taking the same view twice sees a new delivery, whose bytes may have changed.
  const again = encode(count(1n));
  const first = frames.frame(a, "/t", again, false);
  again[again.length - 1] = 2;
  const second = frames.frame(a, "/t", again, false);
  notEqual(second, first);
  equal(text(second), text(dataMessageFrame({ topic: "/t", payload: encode(count(2n)) })));
});

Deno.test("SharedFrames.own: one copy per delivery, apart from the slab, a new one per frame", () => {
  const frames = new SharedFrames();
  const a = { lastShared: 0 }, b = { lastShared: 0 };
  const payload = encode(vector(count(1n), str("x")));
  const f = frames.frame(a, "/t", payload, false);
  const own = frames.own(f);
  notEqual(own.buffer, f.buffer, "the copy does not view the shared slab");
  equal(text(own), text(f));
  equal(frames.own(frames.frame(b, "/t", payload, false)), own, "clients of one delivery share it");
  // A new delivery (a new frame) gets a copy of its own.
  const g = frames.frame(a, "/t", payload, false);
  notEqual(frames.own(g), own);
  equal(text(frames.own(g)), text(g));
  // A frame that is not the delivery's (e.g. a local publish's) is copied each time.
  const other = new Uint8Array([1, 2, 3]);
  notEqual(frames.own(other), frames.own(other));
});

Deno.test("clients fed from a peer each get exactly their messages, in order", async () => {
  const node = new Endpoint(), publisher = new Endpoint();
  const server = await node.listenWebSocket("127.0.0.1", 0);
  const url = `ws://127.0.0.1:${server.port}`;
  const all = await Promise.all(
    [0, 1].map(() => connectWebSocket(url, ["/f"], { reconnectMs: 0 })),
  );
  const onlyA = await connectWebSocket(url, ["/f/a"], { reconnectMs: 0 });
  try {
    await publisher.peer("127.0.0.1", await node.listen("127.0.0.1", 0), { retryMs: 0 });
    await publisher.awaitPeerSubscription("/f/a");
    await publisher.awaitPeerSubscription("/f/b");
    const sent: { topic: string; text: string }[] = [];
    for (let i = 0; i < 600; i++) {
      const topic = i % 3 === 0 ? "/f/b" : "/f/a";
      const value = vector(count(BigInt(i)), str(`m${i % 5}`));
      publisher.publish(topic, value);
      sent.push({ topic, text: dataToString(value) });
      // Yield now and then: messages arrive in reads of many and of few.
      if (i % 97 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    const expect = async (
      c: Awaited<ReturnType<typeof connectWebSocket>>,
      want: typeof sent,
    ) => {
      for (const w of want) {
        const m = await c.get(5000);
        equal(`${m?.topic} ${m && dataToString(m.data)}`, `${w.topic} ${w.text}`);
      }
    };
    await Promise.all([
      ...all.map((c) => expect(c, sent)),
      expect(onlyA, sent.filter((m) => m.topic === "/f/a")),
    ]);
  } finally {
    for (const c of [...all, onlyA]) c.close();
    await server.close();
    await publisher.shutdown();
    await node.shutdown();
  }
});
