import assert from "node:assert/strict";
import {
  addr,
  bool,
  count,
  type Data,
  dataToJson,
  dataToString,
  Endpoint,
  enumValue,
  integer,
  none,
  port,
  real,
  set,
  type Store,
  str,
  subnet,
  table,
  timespan,
  timestamp,
  vector,
} from "../mod.ts";
import { freePort, RefProcess, storeTopicsAnnounced, waitForPort } from "../tests/broker_ref.ts";
import { pair, settledWithin } from "../tests/store_helpers.ts";
import {
  formatCliValue,
  parseCliValue,
  parseDurationNs,
  parseStoreRequest,
  parseTypedValue,
  runStoreOperation,
} from "./store_command.ts";
import { UsageError } from "./cli_values.ts";

const MAIN = new URL("./main.ts", import.meta.url).pathname;
const dec = new TextDecoder();

interface Run {
  code: number;
  out: string;
  err: string;
}

async function broker(...args: string[]): Promise<Run> {
  const o = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: o.code, out: dec.decode(o.stdout), err: dec.decode(o.stderr) };
}

const opts = { sanitizeOps: false, sanitizeResources: false };

/** An in-process endpoint with a master of "kv" that the CLI reaches over TCP. */
async function withMaster(
  f: (kv: Store, store: (...a: string[]) => Promise<Run>) => Promise<void>,
) {
  const ep = new Endpoint();
  const port = await ep.listen("127.0.0.1", 0);
  // A short tick: the master acks writes sooner, so a write it drops is known sooner.
  const kv = ep.attachMaster("kv", undefined, { tickIntervalMs: 20 });
  try {
    await f(kv, (...a) => broker("store", "kv", ...a, "--disable-ssl", "-p", `127.0.0.1:${port}`));
  } finally {
    kv.close();
    await ep.shutdown();
  }
}

/** A failed run: exit code, one line on stderr naming the error, nothing on stdout. */
function failed(r: Run, code: number, pattern: RegExp) {
  assert.equal(r.code, code, `exit code; stderr: ${r.err}`);
  assert.equal(r.out, "");
  assert.equal(r.err.trim().split("\n").length, 1, r.err);
  assert.match(r.err, /^broker store: /);
  assert.match(r.err, pattern);
}

// ------------------------------------------------------------------ typing rules

Deno.test("typing: each rule of --help, and the values it gives", () => {
  const cases: [string, Data][] = [
    ["nil", none()],
    ["T", bool(true)],
    ["F", bool(false)],
    ["true", str("true")],
    ['"42"', str("42")],
    ['"a \\"b\\"\\n"', str('a "b"\n')],
    ['"\\xff"', str(new Uint8Array([0xff]))],
    ['""', str("")],
    ["0", count(0n)],
    ["18446744073709551615", count(18446744073709551615n)],
    ["-1", integer(-1n)],
    ["+7", integer(7n)],
    ["1.5", real(1.5)],
    ["-2.", real(-2)],
    [".5", real(0.5)],
    ["1e3", real(1000)],
    ["5s", timespan(5_000_000_000n)],
    ["100ms", timespan(100_000_000n)],
    ["-2.5min", timespan(-150_000_000_000n)],
    ["3ns", timespan(3n)],
    ["80/tcp", port(80, "tcp")],
    ["53/udp", port(53, "udp")],
    ["8/icmp", port(8, "icmp")],
    ["0/?", port(0, "unknown")],
    ["10/8", subnet("10.0.0.0/8")],
    ["192.168/16", subnet("192.168.0.0/16")],
    ["10.1.2.3/8", subnet("10.0.0.0/8")],
    ["2001:db8::/32", subnet("2001:db8::/32")],
    ["1.2.3.4", addr("1.2.3.4")],
    ["::1", addr("::1")],
    ["fe80::1", addr("fe80::1")],
    ["hello", str("hello")],
    ["1.2.3", str("1.2.3")],
    ["12:30", str("12:30")],
    ["5 s", str("5 s")],
    ["tcp/80", str("tcp/80")],
  ];
  for (const [text, want] of cases) {
    assert.deepEqual(parseCliValue(text), want, text);
  }
  // Text that looks like a typed literal but does not fit is refused, never a string.
  for (
    const bad of [
      "18446744073709551616",
      "-9223372036854775809",
      "70000/tcp",
      "10/33",
      "300.1.1.1",
      '"a"b"',
      '"\\q"',
      "1e999",
    ]
  ) {
    assert.throws(() => parseCliValue(bad), UsageError, bad);
  }
  // A quote that opens no string is a typo, not a string keeping its quote; \x takes two digits.
  const errors: [string, string][] = [
    ['"abc', '"abc: a string needs its closing quote'],
    ['"', '": a string needs its closing quote'],
    ['"abc\\"', '"abc\\": a string needs its closing quote'],
    ['"a\\xb"', '"a\\xb": \\x needs two hex digits (\\xHH)'],
  ];
  for (const [text, message] of errors) {
    assert.throws(() => parseCliValue(text), new UsageError("", message), text);
  }
  assert.deepEqual(parseCliValue('"\\"abc"'), str('"abc'));
});

Deno.test("typing: --type forces a type, with a clear error when the text does not parse", () => {
  assert.deepEqual(parseTypedValue("42", "string"), str("42"));
  assert.deepEqual(parseTypedValue('"x"', "string"), str('"x"'), "verbatim");
  assert.deepEqual(parseTypedValue("42", "real"), real(42));
  assert.deepEqual(parseTypedValue("42", "integer"), integer(42n));
  assert.deepEqual(
    parseTypedValue("80", "port"),
    port(80, "tcp"),
    "bare: TCP, as Broker's convert",
  );
  assert.deepEqual(parseTypedValue("true", "bool"), bool(true));
  assert.deepEqual(parseTypedValue("Conn::LOG", "enum"), enumValue("Conn::LOG"));
  assert.deepEqual(parseTypedValue("10/8", "subnet"), subnet("10.0.0.0/8"));
  assert.deepEqual(parseTypedValue("1.5", "timestamp"), timestamp(1_500_000_000n));
  assert.deepEqual(
    parseTypedValue("2024-05-01T12:00:00.000000001Z", "timestamp"),
    timestamp(1714564800000000001n),
  );
  assert.deepEqual(parseTypedValue("2024-05-01", "timestamp"), timestamp(1714521600000000000n));
  for (
    const [text, type, msg] of [
      ["-1", "count", /not a count/],
      ["1.5", "integer", /not an integer/],
      ["x", "real", /not a real/],
      ["5", "timespan", /not a timespan .*unit/],
      ["1.2.3", "address", /not an address/],
      ["80/tcpx", "port", /not a port/],
      ["yes", "bool", /not a bool/],
      ["May 1", "timestamp", /not a timestamp/],
    ] as const
  ) {
    assert.throws(() => parseTypedValue(text, type), (e: Error) => msg.test(e.message), text);
  }
  assert.throws(
    () => parseStoreRequest("put", ["k", "v"], { type: "float" }),
    /--type: expected one of count/,
  );
  assert.throws(
    () => parseStoreRequest("get", ["k"], { type: "count" }),
    /--key-type types the key/,
  );
  assert.throws(() => parseStoreRequest("put", ["k", "1"], { json: true }), /not Broker's JSON/);
  assert.deepEqual(parseStoreRequest("put", ["1", "1"], { keyType: "string" }).key, str("1"));
  assert.equal(parseDurationNs("250", "ms"), 250_000_000n);
  assert.equal(parseDurationNs("250"), undefined);
});

Deno.test("printing: what get prints reads back as the same value", () => {
  const values: Data[] = [
    none(),
    bool(false),
    count(2n),
    integer(2n),
    integer(-2n),
    real(2),
    real(0.1),
    real(-0),
    str("2"),
    str("T"),
    str("plain"),
    str("two words"),
    str(""),
    str('quote"d'),
    str("10/8"),
    str(new Uint8Array([0x61, 0xff])),
    addr("10.0.0.1"),
    addr("2001:db8::1"),
    subnet("10.0.0.0/8"),
    port(80, "tcp"),
    port(0, "unknown"),
    timespan(5_000_000_000n),
    timespan(1_500_000n),
    timespan(-7n),
  ];
  for (const v of values) {
    const text = formatCliValue(v);
    assert.deepEqual(parseCliValue(text), v, `${dataToString(v)} printed as ${text}`);
  }
  assert.equal(formatCliValue(integer(2n)), "+2");
  assert.equal(formatCliValue(str("2")), '"2"');
  assert.equal(formatCliValue(timestamp(1714564800500000000n)), "2024-05-01T12:00:00.5Z");
  assert.equal(
    formatCliValue(table([[str("a"), vector(count(1n), str("1"))]])),
    '{a -> (1, "1")}',
  );
  assert.equal(formatCliValue(set(str("x"), str("y z"))), '{x, "y z"}');
});

// ------------------------------------------------------------------ against our master

Deno.test(
  "broker store: arguments are typed, so increment ctr 1 twice gives the count 2",
  opts,
  async () => {
    await withMaster(async (kv, store) => {
      let r = await store("increment", "ctr", "1");
      assert.deepEqual(r, { code: 0, out: "1\n", err: "" });
      r = await store("increment", "ctr", "1");
      assert.deepEqual(r, { code: 0, out: "2\n", err: "" });
      assert.deepEqual(await kv.get(str("ctr")), count(2n));
      r = await store("get", "ctr");
      assert.deepEqual(r, { code: 0, out: "2\n", err: "" });

      // One put per rule; the master holds the typed value.
      const puts: [string[], Data][] = [
        [["n", "-5"], integer(-5n)],
        [["r", "1.5"], real(1.5)],
        [["a", "1.2.3.4"], addr("1.2.3.4")],
        [["net", "10/8"], subnet("10.0.0.0/8")],
        [["p", "80/tcp"], port(80, "tcp")],
        [["b", "T"], bool(true)],
        [["z", "nil"], none()],
        [["d", "5s"], timespan(5_000_000_000n)],
        // A leading "-" and a digit is a value, key or not, not an option (no "--" needed).
        [["neg", "-2.5min"], timespan(-150_000_000_000n)],
        [["-5s", "-1.5"], real(-1.5)],
        [["q", '"11"'], str("11")],
        [["w", "hello"], str("hello")],
        [["f", "42", "--type", "real"], real(42)],
        [["e", "Conn::LOG", "--type", "enum"], enumValue("Conn::LOG")],
        [["t", "2024-05-01T00:00:00Z", "--type", "timestamp"], timestamp(1714521600000000000n)],
      ];
      // Independent keys: four CLI processes at a time keep the test short.
      for (let i = 0; i < puts.length; i += 4) {
        await Promise.all(
          puts.slice(i, i + 4).map(async ([args, want]) => {
            const r = await store("put", ...args);
            assert.deepEqual([r.code, r.out, r.err], [0, "", ""], args.join(" "));
            assert.deepEqual(await kv.get(parseCliValue(args[0])), want, args.join(" "));
          }),
        );
      }
      // The key is typed too: 7 is a count, "7" the string.
      r = await store("put", "7", "seven");
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(await kv.get(count(7n)), str("seven"));
      assert.equal(await kv.exists(str("7")), false);
      // get prints in the same syntax: the string "11" stays distinguishable from 11.
      r = await store("get", "q");
      assert.equal(r.out, '"11"\n');
      r = await store("get", "n");
      assert.equal(r.out, "-5\n");

      // --json reads and prints Broker's JSON.
      const key = dataToJson(str("j"));
      r = await store("put", key, dataToJson(vector(count(1n), str("x"))), "--json");
      assert.equal(r.code, 0, r.err);
      r = await store("push", key, dataToJson(integer(-3n)), "--json");
      assert.deepEqual(r, {
        code: 0,
        out: dataToJson(vector(count(1n), str("x"), integer(-3n))) + "\n",
        err: "",
      });
      r = await store("get", "j");
      assert.equal(r.out, "(1, x, -3)\n");
      r = await store("put-unique", "j", "other");
      assert.deepEqual([r.code, r.out], [0, "F\n"]);

      // append, as Zeek's Broker::append: text onto a string, a missing key starting empty.
      r = await store("append", "log", "ab");
      assert.deepEqual(r, { code: 0, out: "ab\n", err: "" });
      r = await store("append", "log", "5");
      assert.deepEqual(r, { code: 0, out: "ab5\n", err: "" });
      assert.deepEqual(await kv.get(str("log")), str("ab5"));
      r = await store("append", "ctr", "x");
      assert.equal(r.code, 1);
      assert.match(r.err, /type_clash: append ctr: ctr holds a count, 'append' works on a string/);
      assert.deepEqual(await kv.get(str("ctr")), count(2n), "unchanged");
    });
  },
);

Deno.test(
  "broker store: writes the master drops print Broker's error name and exit 1",
  opts,
  async () => {
    await withMaster(async (kv, store) => {
      await kv.put(str("s"), str("11"));
      await kv.put(str("v"), vector());
      await kv.put(str("set"), set(str("a")));

      // Sent, dropped by the master (Broker's rules), found out through the events.
      let r = await store("increment", "s", "1");
      failed(r, 1, /^broker store: type_clash: increment s: .*the master did not apply it$/m);
      assert.deepEqual(await kv.get(str("s")), str("11"), "unchanged");
      r = await store("decrement", "missing");
      failed(r, 1, /no_such_key: decrement missing/);
      r = await store("erase", "missing");
      failed(r, 1, /no_such_key: erase missing/);
      r = await store("increment", "fresh", "word");
      failed(r, 1, /type_clash: increment fresh: no such key/);
      assert.equal(await kv.exists(str("fresh")), false);

      // Refused before sending: the wrong container, or nothing to remove.
      r = await store("push", "s", "x");
      failed(r, 1, /type_clash: push s: s holds a string, 'push' works on a vector \(not sent\)/);
      r = await store("insert", "v", "x");
      failed(r, 1, /type_clash: insert v: v holds a vector/);
      r = await store("pop", "set");
      failed(r, 1, /type_clash: pop set/);
      r = await store("pop", "v");
      failed(r, 1, /no_such_key: pop v: v's vector is empty/);
      r = await store("remove", "set", "b");
      failed(r, 1, /no_such_key: remove set: b is not in set's set/);
      assert.deepEqual(await kv.get(str("set")), set(str("a")));

      // The right container works and prints the new value.
      r = await store("insert", "set", "b");
      assert.deepEqual([r.code, r.out], [0, "{a, b}\n"], r.err);
      r = await store("remove", "set", "a");
      assert.deepEqual([r.code, r.out], [0, "{b}\n"], r.err);
      r = await store("insert", "tbl", "k", "1");
      assert.deepEqual([r.code, r.out], [0, "{k -> 1}\n"], r.err);

      // Reads: a missing key is no_such_key, exit 1.
      r = await store("get", "missing");
      failed(r, 1, /no_such_key/);
    });
  },
);

Deno.test(
  "broker store: a write is settled by the master's broadcast of it, not by its ack",
  opts,
  async () => {
    const [m, c] = await pair();
    // Ticks an hour apart: this master acks no write within the test.
    const kv = m.attachMaster("kv", undefined, { tickIntervalMs: 3_600_000 });
    await c.awaitPeerSubscription("kv/<$>/data/master");
    const clone = c.attachClone("kv");
    try {
      const increment = parseStoreRequest("increment", ["n", "2"]);
      const lines = runStoreOperation(clone, increment, { timeoutMs: 60_000 });
      assert.deepEqual(await settledWithin(lines, 20_000), ["2"]);
      assert.deepEqual(await kv.get(str("n")), count(2n));
    } finally {
      clone.close();
      kv.close();
      await c.shutdown();
      await m.shutdown();
    }
  },
);

Deno.test("broker store: usage errors exit 2 before anything runs", opts, async () => {
  // No master anywhere: these must fail on the command line alone.
  const p = ["-p", "127.0.0.1:1"];
  for (
    const [args, pattern] of [
      [["kv", "frobnicate"], /unknown operation 'frobnicate'/],
      [["kv", "put", "k"], /'put' takes 2 argument/],
      [["kv", "put", "k", "70000/tcp"], /port number is 0 to 65535/],
      [["kv", "put", "k", "x", "--type", "count"], /"x" is not a count/],
      [["kv", "put", "k", "1", "--type", "float"], /--type: expected one of count, integer/],
      [["kv", "get", "k", "--json"], /not Broker's JSON/],
      [["kv", "put", "k", "v", "--expiry", "soon"], /--expiry: expected a duration/],
      [["kv", "get", "k", "--expiry", "5s"], /--expiry: applies to put/],
      [["kv", "watch", "--count", "0"], /--count: expected a whole number ≥ 1/],
      [["kv", "get", "k", "--timeout", "-1"], /--timeout: expected a positive duration/],
    ] as const
  ) {
    failed(await broker("store", ...args, ...p), 2, pattern);
  }
  const r = await broker("store", "kv", "get", "k");
  failed(r, 2, /--peers: no peers given/);
});

/** A child process's stdout and stderr, line by line. */
class Lines {
  readonly lines: string[] = [];
  #waiters: (() => void)[] = [];
  constructor(stream: ReadableStream<Uint8Array>) {
    void (async () => {
      let rest = "";
      for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + chunk).split("\n");
        rest = parts.pop()!;
        this.lines.push(...parts);
        for (const w of this.#waiters.splice(0)) w();
      }
    })();
  }
  async waitFor(n: number, ms = 10_000): Promise<string[]> {
    const deadline = Date.now() + ms;
    while (this.lines.length < n) {
      if (Date.now() > deadline) throw new Error(`waited for ${n} lines, got ${this.lines}`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 100);
      });
    }
    return this.lines.slice(0, n);
  }
}

function watcher(port: number, ...args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "store",
      "kv",
      "watch",
      ...args,
      "--disable-ssl",
      "-p",
      `127.0.0.1:${port}`,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, out: new Lines(child.stdout), err: new Lines(child.stderr) };
}

Deno.test("broker store watch: one line per event, --json, --count, ^C", opts, async () => {
  const ep = new Endpoint();
  const port = await ep.listen("127.0.0.1", 0);
  const kv = ep.attachMaster("kv", undefined, { tickIntervalMs: 20 });
  const children: Deno.ChildProcess[] = [];
  try {
    await kv.put(str("before"), count(0n));
    const text = watcher(port, "--count", "5");
    const json = watcher(port, "--json", "--count", "1");
    const one = watcher(port, "k"); // only key k, until SIGINT
    children.push(text.child, json.child, one.child);
    assert.deepEqual(await text.err.waitFor(1), ["watching kv (1 keys)"]);
    await json.err.waitFor(1);
    await one.err.waitFor(1);
    await kv.put(str("k"), count(1n), { expiry: 100 });
    await kv.increment(str("k"));
    await kv.put(str("other"), str("a b"));
    await kv.erase(str("other"));
    await kv.put(str("tmp"), count(1n), { expiry: 50 });
    const st = await text.child.status;
    assert.equal(st.code, 0);
    assert.deepEqual(await text.out.waitFor(5), [
      "insert k 1 expiry=100ms",
      "update k 1 -> 2",
      'insert other "a b"',
      "erase other",
      "insert tmp 1 expiry=50ms",
    ]);
    assert.equal((await json.child.status).code, 0);
    const [line] = await json.out.waitFor(1);
    const ev = JSON.parse(line);
    // Broker's layout: (insert, store, key, value, expiry, publisher endpoint, object).
    const head = vector(str("insert"), str("kv"), str("k"), count(1n), timespan(100_000_000n));
    assert.deepEqual(ev.data.slice(0, 5), JSON.parse(dataToJson(head)).data);
    assert.equal(ev.data.length, 7);
    // The key-filtered watcher saw k's two changes, then runs until interrupted.
    assert.deepEqual(await one.out.waitFor(2), ["insert k 1 expiry=100ms", "update k 1 -> 2"]);
    await new Promise((r) => setTimeout(r, 300)); // tmp expires; k was rewritten without expiry
    assert.equal(await kv.exists(str("tmp")), false);
    assert.deepEqual(await kv.get(str("k")), count(2n), "increment without expiry removed it");
    one.child.kill("SIGINT");
    assert.equal((await one.child.status).code, 0);
    assert.deepEqual(one.out.lines, ["insert k 1 expiry=100ms", "update k 1 -> 2"]);
  } finally {
    for (const c of children) {
      try {
        c.kill("SIGKILL");
      } catch { /* already ended */ }
    }
    kv.close();
    await ep.shutdown();
  }
});

Deno.test("broker store: expiry as Broker's master keeps it, through the CLI", opts, async () => {
  await withMaster(async (kv, store) => {
    const events = kv.events();
    // k's expiry must not pass before the increment runs, even on a loaded machine:
    // 3 s, checked once they have passed.
    const putAt = Date.now();
    let r = await store("put", "k", "1", "--expiry", "3s");
    assert.equal(r.code, 0, r.err);
    // A write without --expiry removes the expiry; one with it restarts the clock.
    r = await store("increment", "k");
    assert.deepEqual([r.code, r.out], [0, "2\n"], r.err);
    r = await store("put", "e", "1", "--expiry", "10s");
    assert.equal(r.code, 0, r.err);
    r = await store("increment", "e", "--expiry", "300ms");
    assert.deepEqual([r.code, r.out], [0, "2\n"], r.err);
    const wait = Math.max(400, putAt + 3_300 - Date.now());
    await new Promise((r) => setTimeout(r, wait));
    assert.deepEqual(await kv.get(str("k")), count(2n), "k has no expiry any more");
    assert.equal(
      await kv.exists(str("e")),
      false,
      "e expired 300 ms after its increment, not 10 s",
    );
    assert.deepEqual(
      events.poll().filter((e) => e.type === "expire").map((e) => dataToString(e.key)),
      ["e"],
    );
  });
});

// ------------------------------------------------------------------ against Broker's master

Deno.test("broker store: against a C++ broker-node master", opts, async () => {
  const port = freePort();
  const node = new RefProcess("broker-node", [
    "--disable-ssl",
    "-m",
    "relay",
    '--topics=["/t"]',
    "-p",
    String(port),
    '--master-stores=["kv"]',
  ]);
  const store = (...a: string[]) =>
    broker("store", "kv", ...a, "--disable-ssl", "-p", `127.0.0.1:${port}`);
  try {
    await waitForPort(port);
    await storeTopicsAnnounced(port, ["kv/<$>/data/master"]);
    let r = await store("increment", "ctr", "1");
    assert.deepEqual(r, { code: 0, out: "1\n", err: "" });
    r = await store("increment", "ctr", "1");
    assert.deepEqual(r, { code: 0, out: "2\n", err: "" });
    r = await store("put", "from-cli", "hello");
    assert.equal(r.code, 0, r.err);
    // Broker's master drops the clashing add; the CLI says so.
    r = await store("increment", "from-cli", "1");
    failed(r, 1, /^broker store: type_clash: increment from-cli: .*the master did not apply it$/m);
    r = await store("decrement", "missing");
    failed(r, 1, /no_such_key: decrement missing/);
    // A timespan amount starts a missing key from the epoch, as Broker's increment does.
    r = await store("increment", "when", "5s");
    assert.deepEqual([r.code, r.out], [0, "1970-01-01T00:00:05Z\n"], r.err);
    r = await store("get", "from-cli");
    assert.deepEqual([r.code, r.out], [0, "hello\n"], r.err);
    r = await store("get", "ctr");
    assert.deepEqual([r.code, r.out], [0, "2\n"], r.err);
  } finally {
    await node.stop();
  }
});

Deno.test(
  "broker store reaches a broker node with neither given an SSL flag: both run Broker's anonymous TLS",
  opts,
  async () => {
    // Broker's default, and so both subcommands' without --disable-ssl: this was plain TCP
    // against a TLS node, and the store never got in.
    const port = freePort();
    const node = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "node", "-m", "relay", '--topics=["/t"]', "-p", String(port)]
        .concat(['--master-stores=["kv"]']),
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    const store = (...a: string[]) => broker("store", "kv", ...a, "-p", `127.0.0.1:${port}`);
    try {
      await waitForPort(port);
      assert.deepEqual(await store("increment", "ctr"), { code: 0, out: "1\n", err: "" });
      assert.deepEqual(await store("put", "name", '"42"'), { code: 0, out: "", err: "" });
      assert.deepEqual(await store("get", "ctr"), { code: 0, out: "1\n", err: "" });
      assert.deepEqual(await store("get", "name"), { code: 0, out: `"42"\n`, err: "" });
    } finally {
      node.kill();
      await node.status;
    }
  },
);

Deno.test(
  "broker store: a read with no master gives stale_data after --timeout, however long",
  opts,
  async () => {
    const ep = new Endpoint({ warmUp: false });
    const port = await ep.listen("127.0.0.1", 0);
    try {
      const read = (
        timeout: string,
      ) => [
        "store",
        "nobody",
        "get",
        "k",
        "--disable-ssl",
        "-p",
        `127.0.0.1:${port}`,
        "--timeout",
        timeout,
      ];
      // Broker's clone fails a read it cannot answer with stale_data (max-get-delay).
      const r = await broker(...read("300ms"));
      failed(r, 1, /^broker store: stale_data: no master for store nobody after 300 ms$/m);
      // Past 2^31 - 1 ms a timer fires at once: a --timeout that long must still wait.
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "-A", MAIN, ...read("1000h")],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const outcome = await settledWithin(child.status, 3_000);
      if (outcome === "unsettled") child.kill("SIGKILL");
      const err = dec.decode((await child.output()).stderr);
      assert.equal(outcome, "unsettled", `--timeout 1000h gave up at once: ${err}`);
    } finally {
      await ep.shutdown();
    }
  },
);
