import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../engine/errors.ts";
import {
  CafConfig,
  type ConfigValue,
  formatConfigValue,
  parseCafConfig,
  parseCafList,
  parseCafUri,
  parseCafValue,
} from "./caf_config.ts";

const int = (n: number | bigint): ConfigValue => ({ type: "integer", value: BigInt(n) });
const s = (value: string): ConfigValue => ({ type: "string", value });

/** Parses `text` as the only entry `x = text` and returns its value. */
function value(text: string): ConfigValue | undefined {
  return parseCafConfig(`x = ${text}`).get("x");
}

/** Asserts that parsing fails with `invalid_data` at line:column. */
function assertParseError(text: string, line: number, column: number, pattern?: RegExp): void {
  assert.throws(() => parseCafConfig(text, { source: "t.cfg" }), (e: unknown) => {
    assert.ok(e instanceof BrokerError, String(e));
    assert.equal(e.code, ErrorCode.invalid_data);
    assert.match(e.message, new RegExp(`^t\\.cfg: line ${line}, column ${column}: `));
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

Deno.test("sections, dotted keys and map values flatten to dotted paths", () => {
  const cfg = parseCafConfig(`
broker {
  disable-ssl = true
  metrics { port = 9090 }
}
broker.ttl = 16
caf.scheduler = { policy = "sharing", max-threads = 4 }
"quoted key" = 1
`);
  assert.deepEqual([...cfg.values.keys()], [
    "broker.disable-ssl",
    "broker.metrics.port",
    "broker.ttl",
    "caf.scheduler.policy",
    "caf.scheduler.max-threads",
    "quoted key",
  ]);
  assert.equal(cfg.getBool("broker.disable-ssl"), true);
  assert.equal(cfg.getNumber("broker.metrics.port"), 9090);
  assert.equal(cfg.getString("caf.scheduler.policy"), "sharing");
});

Deno.test("entries separate by newlines, commas or both; ':' assigns too", () => {
  const cfg = parseCafConfig("a = 1, b: 2\r\nc = 3\n,\nd = 4\ns { x = 1, y = 2, }\n");
  assert.deepEqual([...cfg.values.entries()], [
    ["a", int(1)],
    ["b", int(2)],
    ["c", int(3)],
    ["d", int(4)],
    ["s.x", int(1)],
    ["s.y", int(2)],
  ]);
});

Deno.test("the whole file may sit in braces", () => {
  const cfg = parseCafConfig('{ topics = ["/a"], mode : "foo" }  # done\n');
  assert.deepEqual(cfg.getStringList("topics"), ["/a"]);
  assert.equal(cfg.getString("mode"), "foo");
});

Deno.test("later entries win; a value and a section of one name replace each other", () => {
  const cfg = parseCafConfig("a = 1\na = 2\nb { c = 1 }\nb = 3\nd = 4\nd.e = 5");
  assert.deepEqual([...cfg.values.entries()], [["a", int(2)], ["b", int(3)], ["d.e", int(5)]]);
});

Deno.test("comments start with # anywhere a blank may be", () => {
  const cfg = parseCafConfig(
    "# head\na = 1 # tail\nl = [ # open\n  1, # one\n  2 # two\n]\ns { # x\n  b = 2 }\n#end",
  );
  assert.deepEqual(cfg.get("l"), { type: "list", value: [int(1), int(2)] });
  assert.equal(cfg.getNumber("s.b"), 2);
});

Deno.test("an empty file or one with only comments has no entries", () => {
  assert.equal(parseCafConfig("").values.size, 0);
  assert.equal(parseCafConfig("  # nothing\n\n").values.size, 0);
});

Deno.test("strings: both quotes, escapes", () => {
  assert.deepEqual(value(`"a\\"b\\\\c\\n\\t\\r\\f\\v"`), s('a"b\\c\n\t\r\f\v'));
  assert.deepEqual(value(`'it\\'s "x"'`), s(`it's "x"`));
  assert.deepEqual(value(`""`), s(""));
  assert.deepEqual(value(`"ünï # not a comment"`), s("ünï # not a comment"));
});

Deno.test("integers: decimal, signs, hex, binary, CAF's leading-zero octal", () => {
  assert.deepEqual(value("42"), int(42));
  assert.deepEqual(value("-42"), int(-42));
  assert.deepEqual(value("+7"), int(7));
  assert.deepEqual(value("0"), int(0));
  assert.deepEqual(value("0x1F"), int(31));
  assert.deepEqual(value("-0xff"), int(-255));
  assert.deepEqual(value("0b101"), int(5));
  assert.deepEqual(value("010"), int(8));
  assert.deepEqual(value("9223372036854775807"), int((1n << 63n) - 1n));
  assert.deepEqual(value("-9223372036854775808"), int(-(1n << 63n)));
});

Deno.test("reals: fractions, exponents, leading dot", () => {
  assert.deepEqual(value("1.5"), { type: "real", value: 1.5 });
  assert.deepEqual(value("-0.25"), { type: "real", value: -0.25 });
  assert.deepEqual(value("4e20"), { type: "real", value: 4e20 });
  assert.deepEqual(value("1.5E-3"), { type: "real", value: 1.5e-3 });
  assert.deepEqual(value(".5"), { type: "real", value: 0.5 });
  assert.deepEqual(value("2."), { type: "real", value: 2 });
});

Deno.test("booleans", () => {
  assert.deepEqual(value("true"), { type: "boolean", value: true });
  assert.deepEqual(value("false"), { type: "boolean", value: false });
});

Deno.test("timespans in every CAF unit", () => {
  const ns = (text: string) => {
    const v = value(text);
    assert.equal(v?.type, "timespan");
    return v.value;
  };
  assert.equal(ns("7ns"), 7n);
  assert.equal(ns("7us"), 7_000n);
  assert.equal(ns("100ms"), 100_000_000n);
  assert.equal(ns("10s"), 10_000_000_000n);
  assert.equal(ns("2min"), 120_000_000_000n);
  assert.equal(ns("1h"), 3_600_000_000_000n);
  assert.equal(parseCafConfig("t = 250ms").getTimespan("t"), 250_000_000n);
});

Deno.test("URIs in angle brackets", () => {
  const v = value("<tcp://127.0.0.1:9999>");
  assert.equal(v?.type, "uri");
  assert.deepEqual(v.value, {
    text: "tcp://127.0.0.1:9999",
    scheme: "tcp",
    userinfo: undefined,
    host: "127.0.0.1",
    port: 9999,
    path: "",
    query: undefined,
    fragment: undefined,
  });
  const full = parseCafUri("http://me@[::1]:80/p/q?x=1#frag");
  assert.equal(full.userinfo, "me");
  assert.equal(full.host, "::1");
  assert.equal(full.port, 80);
  assert.equal(full.path, "/p/q");
  assert.equal(full.query, "x=1");
  assert.equal(full.fragment, "frag");
  assert.equal(parseCafUri("file:///tmp/x").host, undefined);
  assert.equal(parseCafUri("mailto:a@b").path, "a@b");
  assert.equal(parseCafConfig("u = < tcp://h:1 >").getUri("u")?.host, "h");
});

Deno.test("lists: nesting, trailing commas, newlines, ranges, maps inside", () => {
  assert.deepEqual(value("[]"), { type: "list", value: [] });
  assert.deepEqual(value('["/a", "/b",]'), { type: "list", value: [s("/a"), s("/b")] });
  assert.deepEqual(value("[\n  1,\n  [2, 3],\n]"), {
    type: "list",
    value: [int(1), { type: "list", value: [int(2), int(3)] }],
  });
  assert.deepEqual(value("[1..4]"), { type: "list", value: [1, 2, 3, 4].map(int) });
  assert.deepEqual(value("[10..2..-4, 0]"), { type: "list", value: [10, 6, 2, 0].map(int) });
  assert.deepEqual(value("[3..3]"), { type: "list", value: [int(3)] });
  const dicts = value('[{ a = 1, b.c = "x" }]');
  assert.equal(formatConfigValue(dicts!), '[{a = 1, b = {c = "x"}}]');
});

Deno.test("typed accessors: absent keys give undefined", () => {
  const cfg = new CafConfig();
  assert.equal(cfg.getString("x"), undefined);
  assert.equal(cfg.getBool("x"), undefined);
  assert.equal(cfg.getNumber("x"), undefined);
  assert.equal(cfg.getInteger("x"), undefined);
  assert.equal(cfg.getTimespan("x"), undefined);
  assert.equal(cfg.getList("x"), undefined);
  assert.equal(cfg.getStringList("x"), undefined);
  assert.equal(cfg.getUri("x"), undefined);
  assert.equal(cfg.getUriList("x"), undefined);
  assert.equal(cfg.has("x"), false);
});

Deno.test("typed accessors convert what CAF converts", () => {
  const cfg = parseCafConfig(
    'b = "true"\nn = 3\nr = 2.5\nbig = 12345678901234567890e0\nu = "tcp://h:1"\nz = 0\nps = [<tcp://a:1>]',
  );
  assert.equal(cfg.getBool("b"), true);
  assert.equal(cfg.getNumber("n"), 3);
  assert.equal(cfg.getInteger("n"), 3n);
  assert.equal(cfg.getNumber("r"), 2.5);
  assert.equal(cfg.getNumber("big"), 12345678901234567890);
  assert.equal(cfg.getUri("u")?.port, 1);
  assert.equal(cfg.getTimespan("z"), 0n);
  assert.deepEqual(cfg.getUriList("ps")?.map((u) => u.host), ["a"]);
});

Deno.test("typed accessors reject other types with key, line and column", () => {
  const cfg = parseCafConfig("a = 1\n  mode = 3\nl = [1]\nbig = 9007199254740993", {
    source: "n.cfg",
  });
  const clash = (f: () => unknown, pattern: RegExp) =>
    assert.throws(f, (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.code, ErrorCode.type_clash);
      assert.match(e.message, pattern);
      return true;
    });
  clash(() => cfg.getString("mode"), /^n\.cfg: line 2, column 3: mode must be a string, not 3$/);
  clash(() => cfg.getBool("a"), /a must be a boolean/);
  clash(() => cfg.getList("a"), /a must be a list/);
  clash(() => cfg.getStringList("l"), /l must be a list of strings, not 1/);
  clash(() => cfg.getUriList("l"), /list of <uri>s/);
  clash(() => cfg.getTimespan("a"), /timespan/);
  clash(() => cfg.getUri("a"), /URI/);
  clash(() => cfg.getNumber("big"), /below 2\^53/);
  clash(() => cfg.getInteger("l"), /an integer/);
});

Deno.test("syntax errors name line and column", () => {
  assertParseError("mode = foo", 1, 8, /unquoted string "foo": strings need quotes/);
  assertParseError('topics = ["/a"\nmode = "x"', 2, 1, /expected ',' or ']'/);
  assertParseError("a = 1 // no such comment", 1, 7, /CAF comments start with '#'/);
  assertParseError("// no such comment", 1, 1, /CAF comments start with '#'/);
  assertParseError("a = 08", 1, 5, /octal/);
  assertParseError("a = 1.5s", 1, 5, /integer, not a fraction/);
  assertParseError("a = 0x", 1, 7, /hexadecimal digit/);
  assertParseError("a = 1e", 1, 7, /exponent/);
  assertParseError("a = 9223372036854775808", 1, 5, /64-bit/);
  assertParseError('a = "abc', 1, 5, /unterminated string/);
  assertParseError('a = "ab\ncd"', 1, 8, /end of line in string/);
  assertParseError('a = "\\q"', 1, 6, /invalid escape sequence \\q/);
  assertParseError("a = <x>", 1, 5, /invalid URI <x>: missing scheme/);
  assertParseError("a = <tcp://h:99999>", 1, 5, /invalid port/);
  assertParseError("a = <tcp://h:1", 1, 15, /'>'/);
  assertParseError("a { b = 1", 1, 10, /'}'/);
  assertParseError("a = 1 }", 1, 7, /unexpected "}"/);
  assertParseError("a b = 1", 1, 3, /'=' or '{'/);
  assertParseError("a =", 1, 4, /expected a value/);
  assertParseError("a = [1 2]", 1, 8, /expected ',' or ']'/);
  assertParseError("a = [1..5..0]", 1, 6, /wrong way/);
  assertParseError("a = [1..1000000000]", 1, 6, /too long/);
  assertParseError("{ a = 1 } b = 2", 1, 11, /end of input/);
  assertParseError("s { a = 1 b = 2 }", 1, 11, /expected ',', a new line or '}'/);
});

Deno.test("CAF's top level also takes the next entry on the same line", () => {
  const cfg = parseCafConfig("a = 1 b = 2");
  assert.deepEqual([...cfg.values.keys()], ["a", "b"]);
});

Deno.test("command-line lists: bracketed, bare, one quoted string, URIs", () => {
  assert.deepEqual(parseCafList('["/a","/b"]'), [s("/a"), s("/b")]);
  assert.deepEqual(parseCafList(' [ "/a" , ] '), [s("/a")]);
  assert.deepEqual(parseCafList('"/a", "/b"'), [s("/a"), s("/b")]);
  assert.deepEqual(parseCafList("'/a'"), [s("/a")]);
  assert.deepEqual(parseCafList(""), []);
  assert.deepEqual(parseCafList("[]"), []);
  assert.deepEqual(parseCafList("1..3"), [1, 2, 3].map(int));
  const [peer] = parseCafList("[<tcp://127.0.0.1:29001>]");
  assert.equal(peer.type, "uri");
  assert.equal(peer.value.port, 29001);
});

Deno.test("command-line lists reject bare words, as CAF does", () => {
  for (const bad of ["/a", "[/a]", "[a]", '["/a"', '["/a"] x', '"/a" "/b"']) {
    assert.throws(() => parseCafList(bad, { source: "--topics" }), (e: unknown) => {
      assert.ok(e instanceof BrokerError);
      assert.equal(e.code, ErrorCode.invalid_data);
      assert.match(e.message, /^--topics: line 1, column \d+: /);
      return true;
    }, bad);
  }
});

Deno.test("command-line scalars: CAF syntax, else the raw text", () => {
  assert.deepEqual(parseCafValue("250ms"), { type: "timespan", value: 250_000_000n });
  assert.deepEqual(parseCafValue(" 5 "), int(5));
  assert.deepEqual(parseCafValue("true"), { type: "boolean", value: true });
  assert.deepEqual(parseCafValue('"quoted"'), s("quoted"));
  assert.deepEqual(parseCafValue("ping"), s("ping"));
  assert.deepEqual(parseCafValue("/a/b"), s("/a/b"));
  assert.deepEqual(parseCafValue(""), s(""));
  for (const bad of ["5x", "abc'".slice(3), "[1", "{a", '"open']) {
    assert.throws(() => parseCafValue(bad), BrokerError, bad);
  }
});

Deno.test("formatConfigValue writes CAF syntax back", () => {
  const text = 'a = [1, -2.5, true, "s", <tcp://h:1>, 90s, 2min, 1500us, 7ns, 0ns]\nb { c = "d" }';
  const cfg = parseCafConfig(text);
  assert.equal(
    formatConfigValue(cfg.get("a")!),
    '[1, -2.5, true, "s", <tcp://h:1>, 90s, 2min, 1500us, 7ns, 0ns]',
  );
  // The output parses back to the same values.
  const again = parseCafConfig(`a = ${formatConfigValue(cfg.get("a")!)}`);
  assert.deepEqual(again.get("a"), cfg.get("a"));
});
