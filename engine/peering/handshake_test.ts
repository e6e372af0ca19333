import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { captureFrames, type CAPTURES, hex, unhex } from "../../tests/fixtures.ts";
import { type EndpointId, parseEndpointId } from "../wire/endpoint_id.ts";
import { FrameReader } from "../wire/framing.ts";
import {
  decodeHandshakeMessage,
  encodeHandshakeMessage,
  type HandshakeMessage,
  MAGIC,
  MessageType,
} from "../wire/handshake_messages.ts";
import { Handshake, type HandshakeAction, HandshakeState, type PeerCheck } from "./handshake.ts";

const ID = (d: string) =>
  parseEndpointId(`${d.repeat(8)}-${d.repeat(4)}-4${d.repeat(3)}-8${d.repeat(3)}-${d.repeat(12)}`);
const SMALL = ID("1");
const LARGE = ID("2");

const sends = (actions: HandshakeAction[]) =>
  actions.flatMap((a) => a.kind === "send" ? [hex(a.frame)] : []);
const kinds = (actions: HandshakeAction[]) => actions.map((a) => a.kind);
const payload = (msg: HandshakeMessage) => encodeHandshakeMessage(msg);
const hello = (id: EndpointId, min = 1, max = 1, magic = MAGIC) =>
  payload({ type: MessageType.hello, magic, senderId: id, minVersion: min, maxVersion: max });
const versionSelect = (id: EndpointId, v = 1) =>
  payload({ type: MessageType.version_select, magic: MAGIC, senderId: id, selectedVersion: v });
const dropConn = (id: EndpointId, code: number, description: string) =>
  payload({ type: MessageType.drop_conn, magic: MAGIC, senderId: id, code, description });
/** The exact framed drop_conn bytes we expect to be sent. */
const dropConnHex = (id: EndpointId, code: number, description: string) =>
  hex(encodeHandshakeMessage(
    { type: MessageType.drop_conn, magic: MAGIC, senderId: id, code, description },
    { prefix: true },
  ));
const failure = (actions: HandshakeAction[]) => {
  const last = actions.at(-1);
  assert.ok(last?.kind === "failed", `expected failure, got ${kinds(actions)}`);
  return last;
};

function make(
  ownId: EndpointId,
  role: "connector" | "acceptor",
  filter: string[] = ["/f"],
  checkPeer?: (id: EndpointId, originator: boolean) => PeerCheck,
) {
  const hs = new Handshake({ ownId, role, filter: () => filter, checkPeer });
  return { hs, opening: hs.start() };
}

// --- replays of the captures ---------------------------------------------------------

/** Plays one side of every handshake in a capture against the other side's captured frames. */
function replay(name: (typeof CAPTURES)[number]) {
  const frames = captureFrames(name);
  const conns = new Map<string, typeof frames>();
  for (const f of frames) {
    const key = [f.from, f.to].sort().join(" ");
    const list = conns.get(key) ?? [];
    if (list.at(-1)?.hex === "0c") continue; // handshake over
    list.push(f);
    conns.set(key, list);
  }
  let replayed = 0;
  for (const hs of conns.values()) {
    const msgs = hs.map((f) => ({ ...f, msg: decodeHandshakeMessage(unhex(f.hex)) }));
    const connector = msgs.find((m) => m.msg.type === MessageType.hello)!.from;
    const sides = [...new Set(msgs.flatMap((m) => [m.from, m.to]))];
    for (const side of sides) {
      const mine = msgs.filter((m) => m.from === side);
      const theirs = msgs.filter((m) => m.to === side);
      const idOf = (list: typeof msgs) =>
        list.map((m) => "senderId" in m.msg ? m.msg.senderId : undefined).find((x) => x)!;
      const filterOf = (list: typeof msgs) =>
        list.map((m) => "filter" in m.msg ? m.msg.filter : undefined).find((x) => x)!;
      const hs = new Handshake({
        ownId: idOf(mine),
        role: side === connector ? "connector" : "acceptor",
        filter: () => filterOf(mine),
      });
      const queue = sends(hs.start());
      let established: HandshakeAction | undefined;
      for (const m of msgs) {
        if (m.from === side) {
          assert.equal(queue.shift(), hex(new Uint8Array([0, 0, 0, m.length])) + m.hex);
        } else {
          const actions = hs.receive(unhex(m.hex));
          queue.push(...sends(actions));
          established ??= actions.find((a) => a.kind === "established");
        }
      }
      assert.deepEqual(queue, [], `${name} ${side}: nothing left to send`);
      assert.equal(hs.state, HandshakeState.FIN);
      assert.deepEqual(established, {
        kind: "established",
        peerId: idOf(theirs),
        peerFilter: filterOf(theirs),
        originator: mine.some((m) => m.msg.type === MessageType.version_select),
      });
      replayed++;
    }
  }
  return replayed;
}

Deno.test("replay ping-pong: connector 2222 and acceptor 1111 send the captured bytes", () => {
  const frames = captureFrames("ping-pong");
  // Connector (responder).
  const c = make(LARGE, "connector", ["/bench/ping"]);
  assert.deepEqual(sends(c.opening), ["00000017" + frames[0].hex]);
  assert.deepEqual(c.hs.receive(unhex(frames[1].hex)), []);
  assert.deepEqual(c.hs.receive(unhex(frames[2].hex)), []);
  assert.equal(c.hs.state, HandshakeState.AWAIT_ORIG_SYN);
  assert.deepEqual(sends(c.hs.receive(unhex(frames[3].hex))), ["0000000e" + frames[4].hex]);
  assert.equal(c.hs.state, HandshakeState.AWAIT_ORIG_ACK);
  assert.deepEqual(c.hs.receive(unhex(frames[5].hex)), [
    { kind: "established", peerId: SMALL, peerFilter: ["/bench/ping"], originator: false },
  ]);
  assert.equal(c.hs.state, HandshakeState.FIN);
  // Acceptor (originator).
  const a = make(SMALL, "acceptor", ["/bench/ping"]);
  assert.deepEqual(sends(a.opening), ["00000005" + frames[1].hex]);
  assert.equal(a.hs.state, HandshakeState.AWAIT_HELLO);
  assert.deepEqual(sends(a.hs.receive(unhex(frames[0].hex))), [
    "00000016" + frames[2].hex,
    "0000000e" + frames[3].hex,
  ]);
  assert.equal(a.hs.state, HandshakeState.AWAIT_RESP_SYN_ACK);
  assert.deepEqual(a.hs.receive(unhex(frames[4].hex)), [
    { kind: "send", frame: unhex("00000001" + frames[5].hex) },
    { kind: "established", peerId: LARGE, peerFilter: ["/bench/ping"], originator: true },
  ]);
  assert.equal(a.hs.state, HandshakeState.FIN);
});

Deno.test("replay both sides of every handshake in all captures", () => {
  assert.equal(replay("ping-pong"), 2);
  assert.equal(replay("relay-three-nodes"), 4); // probe before hello here
  assert.equal(replay("store-master-clone"), 2); // empty responder filter
});

// --- two instances in memory ----------------------------------------------------------

/** Runs two handshakes against each other; returns every frame's type in wire order. */
function wire(a: Handshake, b: Handshake) {
  const log: string[] = [];
  const results = new Map<Handshake, HandshakeAction[]>([[a, []], [b, []]]);
  const readers = new Map([[a, new FrameReader()], [b, new FrameReader()]]);
  let pending: [Handshake, HandshakeAction[]][] = [[b, a.start()], [a, b.start()]];
  for (let round = 0; pending.length > 0 && round < 20; round++) {
    const next: [Handshake, HandshakeAction[]][] = [];
    for (const [to, actions] of pending) {
      const from = to === a ? b : a;
      results.get(from)!.push(...actions.filter((x) => x.kind !== "send"));
      const reader = readers.get(to)!;
      for (const x of actions) {
        if (x.kind !== "send") continue;
        // Deliver byte by byte: the reader must reassemble.
        for (const byte of x.frame) reader.push(new Uint8Array([byte]));
        for (let f = reader.next(); f; f = reader.next()) {
          log.push(`${from === a ? "a" : "b"}:${MessageType[f[0]]}`);
          if (to.state !== HandshakeState.FIN && to.state !== HandshakeState.ERR) {
            next.push([from, to.receive(f)]);
          }
        }
      }
    }
    pending = next;
  }
  return { log, results: [results.get(a)!, results.get(b)!] };
}

Deno.test("in memory, connector smaller: the connector originates after the acceptor's hello", () => {
  const a = new Handshake({ ownId: SMALL, role: "connector", filter: () => ["/a"] });
  const b = new Handshake({ ownId: LARGE, role: "acceptor", filter: () => ["/b", "/c"] });
  const { log, results } = wire(a, b);
  assert.deepEqual(log, [
    "a:hello",
    "b:probe",
    "b:hello",
    "a:version_select",
    "a:originator_syn",
    "b:responder_syn_ack",
    "a:originator_ack",
  ]);
  assert.deepEqual(results, [
    [{ kind: "established", peerId: LARGE, peerFilter: ["/b", "/c"], originator: true }],
    [{ kind: "established", peerId: SMALL, peerFilter: ["/a"], originator: false }],
  ]);
  assert.equal(a.state, HandshakeState.FIN);
  assert.equal(b.state, HandshakeState.FIN);
});

Deno.test("in memory, acceptor smaller: the acceptor originates straight away", () => {
  const a = new Handshake({ ownId: LARGE, role: "connector", filter: () => [] });
  const b = new Handshake({ ownId: SMALL, role: "acceptor", filter: () => ["/b"] });
  const { log, results } = wire(a, b);
  assert.deepEqual(log, [
    "a:hello",
    "b:probe",
    "b:version_select",
    "b:originator_syn",
    "a:responder_syn_ack",
    "b:originator_ack",
  ]);
  assert.deepEqual(results, [
    [{ kind: "established", peerId: SMALL, peerFilter: ["/b"], originator: false }],
    [{ kind: "established", peerId: LARGE, peerFilter: [], originator: true }],
  ]);
});

Deno.test("in memory, equal IDs: both sides fail instead of waiting forever", () => {
  const a = new Handshake({ ownId: SMALL, role: "connector", filter: () => [] });
  const b = new Handshake({ ownId: SMALL.slice(), role: "acceptor", filter: () => [] });
  const { results } = wire(a, b);
  assert.equal(b.state, HandshakeState.ERR);
  assert.equal(a.state, HandshakeState.ERR);
  const [ea, eb] = results.map((r) => failure(r).error);
  assert.equal(eb.code, ErrorCode.peer_invalid);
  assert.equal(ea.code, ErrorCode.peer_invalid); // a learns why from b's drop_conn
});

Deno.test("the filter is read when our syn is sent, not at construction", () => {
  let filter = ["/old"];
  const hs = new Handshake({ ownId: SMALL, role: "acceptor", filter: () => filter });
  hs.start();
  filter = ["/new"];
  const [, syn] = sends(hs.receive(hello(LARGE)));
  assert.equal(
    syn,
    hex(
      encodeHandshakeMessage({ type: MessageType.originator_syn, filter: ["/new"] }, {
        prefix: true,
      }),
    ),
  );
});

// --- failure paths ----------------------------------------------------------------------

Deno.test("wrong magic -> drop_conn 38 wrong_magic_number (hello, probe, version_select, drop_conn)", () => {
  const expected = dropConnHex(SMALL, 38, "wrong magic number");
  assert.equal(
    expected,
    "00000029095a45454b" + hex(SMALL) + "2612" +
      hex(new TextEncoder().encode("wrong magic number")),
  );
  const bad = [
    hello(LARGE, 1, 1, 0x5a45454c),
    unhex("075a45454c"),
    unhex("085a45454c" + hex(LARGE) + "01"),
    unhex("095a45454c" + hex(LARGE) + "2700"),
  ];
  for (const frame of bad) {
    const { hs } = make(SMALL, "connector");
    const actions = hs.receive(frame);
    assert.deepEqual(sends(actions), [expected]);
    const f = failure(actions);
    assert.equal(f.error.code, ErrorCode.wrong_magic_number);
    assert.equal(f.redundant, false);
    assert.equal(hs.state, HandshakeState.ERR);
  }
});

Deno.test("no common version -> drop_conn 2 peer_incompatible", () => {
  for (
    const [frame, text] of [
      [hello(LARGE, 200, 201), "unsupported versions offered"],
      [hello(LARGE, 0, 0), "unsupported versions offered"],
      [versionSelect(LARGE, 2), "unsupported version selected"],
    ] as const
  ) {
    const { hs } = make(SMALL, "connector");
    const actions = hs.receive(frame);
    assert.deepEqual(sends(actions), [dropConnHex(SMALL, 2, text)]);
    assert.equal(failure(actions).error.code, ErrorCode.peer_incompatible);
    assert.equal(hs.state, HandshakeState.ERR);
  }
  // A range that includes 1 is fine.
  const { hs } = make(SMALL, "acceptor");
  assert.equal(sends(hs.receive(hello(LARGE, 0, 9))).length, 2);
});

Deno.test("undecodable frame -> drop_conn 20 invalid_message", () => {
  for (
    const [h, text] of [
      ["0d", "invalid message type tag"],
      ["01" + "00".repeat(40), "invalid message type tag"],
      ["065a45454b" + "22".repeat(10), "failed to parse hello_msg"],
      ["0a03", "failed to parse v1::originator_syn_msg"],
    ]
  ) {
    const { hs } = make(LARGE, "acceptor");
    const actions = hs.receive(unhex(h));
    assert.deepEqual(sends(actions), [dropConnHex(LARGE, 20, text)]);
    assert.equal(failure(actions).error.code, ErrorCode.invalid_message);
    assert.equal(hs.state, HandshakeState.ERR);
  }
});

Deno.test("a well-formed message out of place closes without drop_conn", () => {
  const syn = payload({ type: MessageType.originator_syn, filter: [] });
  const ack = payload({ type: MessageType.originator_ack });
  const cases: [() => Handshake, Uint8Array][] = [
    [() => make(LARGE, "acceptor").hs, ack], // AWAIT_HELLO
    [() => make(LARGE, "acceptor").hs, versionSelect(SMALL)], // AWAIT_HELLO
    [() => make(LARGE, "connector").hs, syn], // AWAIT_HELLO_OR_VERSION_SELECT
    [() => {
      const { hs } = make(LARGE, "acceptor");
      hs.receive(hello(SMALL)); // -> AWAIT_VERSION_SELECT
      return hs;
    }, hello(SMALL)],
    [() => {
      const { hs } = make(LARGE, "connector");
      hs.receive(versionSelect(SMALL)); // -> AWAIT_ORIG_SYN
      return hs;
    }, unhex("075a45454b")], // Broker ignores probes only while awaiting hello/version_select
    [() => {
      const { hs } = make(SMALL, "acceptor");
      hs.receive(hello(LARGE)); // -> AWAIT_RESP_SYN_ACK
      return hs;
    }, syn],
  ];
  for (const [setup, frame] of cases) {
    const hs = setup();
    const before = hs.state;
    const actions = hs.receive(frame);
    assert.deepEqual(kinds(actions), ["failed"], before);
    assert.equal(failure(actions).error.code, ErrorCode.unexpected_handshake_message);
    assert.equal(hs.state, HandshakeState.ERR);
  }
});

Deno.test("probes are ignored while awaiting hello or version_select", () => {
  const probe = unhex("075a45454b");
  const c = make(LARGE, "connector").hs;
  assert.deepEqual(c.receive(probe), []);
  assert.deepEqual(c.receive(probe), []);
  const a = make(LARGE, "acceptor").hs;
  assert.deepEqual(a.receive(probe), []);
  a.receive(hello(SMALL));
  assert.equal(a.state, HandshakeState.AWAIT_VERSION_SELECT);
  assert.deepEqual(a.receive(probe), []);
  assert.equal(a.state, HandshakeState.AWAIT_VERSION_SELECT);
});

Deno.test("a connector that already said hello does not repeat it when it responds", () => {
  const { hs } = make(LARGE, "connector");
  assert.deepEqual(hs.receive(hello(SMALL)), []);
  assert.equal(hs.state, HandshakeState.AWAIT_VERSION_SELECT);
  const a = make(LARGE, "acceptor").hs;
  assert.deepEqual(sends(a.receive(hello(SMALL))), [hex(encodeHandshakeMessage(
    { type: MessageType.hello, magic: MAGIC, senderId: LARGE, minVersion: 1, maxVersion: 1 },
    { prefix: true },
  ))]);
});

Deno.test("a received drop_conn fails with the peer's code; 39 means redundant", () => {
  const { hs } = make(LARGE, "connector");
  const actions = hs.receive(dropConn(SMALL, 28, "shutting down"));
  assert.deepEqual(kinds(actions), ["failed"]);
  assert.equal(failure(actions).error.code, ErrorCode.shutting_down);
  assert.equal(failure(actions).redundant, false);
  assert.equal(hs.state, HandshakeState.ERR);

  const r = make(LARGE, "acceptor").hs;
  const red = failure(r.receive(dropConn(SMALL, 39, "redundant connection")));
  assert.equal(red.error.code, ErrorCode.redundant_connection);
  assert.equal(red.redundant, true);
  assert.equal(r.state, HandshakeState.FIN);

  // Later states treat drop_conn like any unexpected message: closed, not redundant.
  const late = make(LARGE, "connector").hs;
  late.receive(versionSelect(SMALL));
  const f = failure(late.receive(dropConn(SMALL, 39, "redundant connection")));
  assert.equal(f.redundant, false);
  assert.equal(late.state, HandshakeState.ERR);
});

Deno.test("a drop_conn with a code Broker cannot name is answered with 1 unspecified", () => {
  const { hs } = make(LARGE, "connector");
  const actions = hs.receive(dropConn(SMALL, 41, "json?"));
  assert.deepEqual(sends(actions), [dropConnHex(LARGE, 1, "json?")]);
  assert.equal(failure(actions).error.code, ErrorCode.unspecified);
});

Deno.test("a zero-length frame closes the handshake without drop_conn", () => {
  for (const role of ["connector", "acceptor"] as const) {
    const { hs } = make(SMALL, role);
    const actions = hs.receive(new Uint8Array(0));
    assert.deepEqual(kinds(actions), ["failed"]);
    assert.equal(hs.state, HandshakeState.ERR);
  }
});

Deno.test("a hello or version_select carrying our own ID fails with drop_conn 3", () => {
  for (const frame of [hello(SMALL), versionSelect(SMALL)]) {
    const { hs } = make(SMALL, "connector");
    const actions = hs.receive(frame);
    assert.deepEqual(sends(actions), [dropConnHex(SMALL, 3, "peer uses our endpoint ID")]);
    assert.equal(failure(actions).error.code, ErrorCode.peer_invalid);
  }
});

Deno.test("timeout sends drop_conn 6 peer_timeout, and is a no-op once finished", () => {
  const { hs } = make(SMALL, "connector");
  const actions = hs.timeout();
  assert.deepEqual(sends(actions), [dropConnHex(SMALL, 6, "handshake timed out")]);
  assert.equal(failure(actions).error.code, ErrorCode.peer_timeout);
  assert.equal(hs.state, HandshakeState.ERR);
  assert.deepEqual(hs.timeout(), []);
});

Deno.test("redundant originator: pause, then drop_conn 39 when the other handshake ends", () => {
  const calls: [string, boolean][] = [];
  const { hs } = make(SMALL, "acceptor", ["/f"], (id, originator) => {
    calls.push([hex(id), originator]);
    return "pause";
  });
  assert.deepEqual(hs.resolveRedundant(), []); // not paused yet
  assert.deepEqual(hs.receive(hello(LARGE)), [{ kind: "paused", peerId: LARGE }]);
  assert.deepEqual(calls, [[hex(LARGE), true]]);
  assert.equal(hs.state, HandshakeState.PAUSED);
  const actions = hs.resolveRedundant();
  assert.deepEqual(sends(actions), [dropConnHex(SMALL, 39, "redundant connection")]);
  assert.equal(
    dropConnHex(SMALL, 39, "redundant connection"),
    "0000002b095a45454b" + hex(SMALL) + "2714" +
      hex(new TextEncoder().encode("redundant connection")),
  );
  assert.deepEqual(failure(actions).redundant, true);
  assert.equal(hs.state, HandshakeState.FIN);

  const other = make(SMALL, "acceptor", [], () => "pause").hs;
  other.receive(hello(LARGE));
  assert.deepEqual(kinds(other.receive(unhex("075a45454b"))), ["failed"]); // any input fails
  assert.equal(other.state, HandshakeState.ERR);
});

Deno.test("peer check verdicts: drop 39 for a connected peer, 28 while shutting down, 40 at the responder", () => {
  const connected = make(SMALL, "acceptor", [], () => ({
    drop: ErrorCode.redundant_connection,
    reason: "redundant connection",
  })).hs;
  let actions = connected.receive(hello(LARGE));
  assert.deepEqual(sends(actions), [dropConnHex(SMALL, 39, "redundant connection")]);
  assert.equal(failure(actions).redundant, true);
  assert.equal(connected.state, HandshakeState.FIN);

  const closing =
    make(SMALL, "acceptor", [], () => ({ drop: ErrorCode.shutting_down, reason: "shutting down" }))
      .hs;
  actions = closing.receive(hello(LARGE));
  assert.deepEqual(sends(actions), [dropConnHex(SMALL, 28, "shutting down")]);
  assert.equal(failure(actions).redundant, false);
  assert.equal(closing.state, HandshakeState.ERR);

  const calls: boolean[] = [];
  const responder = make(LARGE, "connector", [], (_, originator) => {
    calls.push(originator);
    return "pause";
  }).hs;
  actions = responder.receive(versionSelect(SMALL));
  assert.deepEqual(calls, [false]);
  assert.deepEqual(sends(actions), [
    dropConnHex(LARGE, 40, "detected redundant connection at the responder"),
  ]);
  assert.equal(responder.state, HandshakeState.ERR);
});

Deno.test("misuse: receive before start or after the end throws invalid_handshake_state", () => {
  const isState = (e: unknown) =>
    e instanceof BrokerError && e.code === ErrorCode.invalid_handshake_state;
  const hs = new Handshake({ ownId: SMALL, role: "connector", filter: () => [] });
  assert.throws(() => hs.receive(hello(LARGE)), isState);
  hs.start();
  assert.throws(() => hs.start(), isState);
  hs.timeout();
  assert.throws(() => hs.receive(hello(LARGE)), isState);
});
