/**
 * The command port's frames are byte for byte what `OutgoingFrames.command`
 * builds for the same payload (the port writes them in one pass, from a
 * cached head), for broadcasts and for unicasts, short and long payloads.
 */
import assert from "node:assert/strict";
import { type CommandPeer, CommandPort } from "./command_port.ts";
import { LocalSubscriptions } from "./local_subscriptions.ts";
import { PrefixTrie } from "./trie.ts";
import { OutgoingFrames } from "../wire/outgoing.ts";
import { type EndpointId, newEndpointId } from "../wire/endpoint_id.ts";

interface Peer extends CommandPeer {
  got: Uint8Array[];
}

function peer(state = "peered"): Peer {
  const got: Uint8Array[] = [];
  return { state, got, tcp: { send: (f) => void got.push(f.slice()) } };
}

function setup() {
  const id = newEndpointId();
  const routes = new PrefixTrie<Peer>();
  const byId = new Map<string, Peer>();
  const port = new CommandPort<Peer>(
    id,
    new OutgoingFrames(id, 16, () => {}),
    new LocalSubscriptions(() => {}),
    {
      routes,
      peer: (p: EndpointId) => byId.get(p.join()),
      running: () => true,
    },
  );
  return { port, routes, byId, frames: new OutgoingFrames(id, 16, () => {}) };
}

function bytes(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed * 7 + 1) & 0xff);
}

Deno.test("command port: broadcast and unicast frames equal OutgoingFrames.command's", () => {
  const { port, routes, byId, frames } = setup();
  const a = peer(), b = peer(), pending = peer("handshake");
  routes.add("kv/", a);
  routes.add("kv/<$>/data/clone", b);
  routes.add("kv/", pending);
  const target = newEndpointId();
  const c = peer();
  byId.set(target.join(), c);
  let n = 0;
  for (const topic of ["kv/<$>/data/clone", "kv/<$>/data/master", "kv/ü/<$>/data/clone"]) {
    for (const [headLen, bodyLen] of [[0, 0], [56, 44], [56, 300], [65, 0], [3, 4000]]) {
      const head = bytes(headLen, n), src = bytes(bodyLen + 10, n + 1);
      const payload = new Uint8Array(headLen + bodyLen);
      payload.set(head);
      payload.set(src.subarray(5, 5 + bodyLen), headLen);
      n++;
      port.sendCommandParts(topic, head, src, 5, 5 + bodyLen);
      const want = frames.command(topic, payload).slice();
      assert.deepEqual(a.got.pop(), want, `broadcast on ${topic}, ${headLen} + ${bodyLen} bytes`);
      if (topic === "kv/<$>/data/clone") assert.deepEqual(b.got.pop(), want);
      port.sendCommandParts(topic, head, src, 5, 5 + bodyLen, target);
      assert.deepEqual(c.got.pop(), frames.command(topic, payload, target).slice(), "unicast");
      port.sendCommand(topic, payload, target);
      assert.deepEqual(c.got.pop(), frames.command(topic, payload, target).slice(), "sendCommand");
    }
  }
  assert.equal(a.got.length + b.got.length + c.got.length + pending.got.length, 0);
  assert.equal(port.sent, 3 * n);
});
