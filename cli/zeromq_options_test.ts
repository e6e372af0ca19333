// The node options' send high-water marks: Zeek's spelling, whole numbers, 0 for no limit.
import assert from "node:assert/strict";
import { UsageError } from "./cli_values.ts";
import { resolveZmqNodeOptions } from "./zeromq_options.ts";

const AT = {
  "zeromq.connectXpubEndpoint": "tcp://127.0.0.1:5556",
  "zeromq.connectXsubEndpoint": "tcp://127.0.0.1:5555",
  "cluster.node": "worker-1",
};

Deno.test("--zeromq.xpub-sndhwm and --zeromq.log-sndhwm reach the node's options; absent, the node's defaults apply", () => {
  const o = resolveZmqNodeOptions({
    ...AT,
    "zeromq.xpubSndhwm": "0",
    "zeromq.logSndhwm": "1e4",
  });
  assert.equal(o?.xpubSndhwm, 0);
  assert.equal(o?.logSndhwm, 10_000);
  const d = resolveZmqNodeOptions(AT);
  assert.equal(d && "xpubSndhwm" in d, false);
  assert.equal(d && "logSndhwm" in d, false);
});

Deno.test("a high-water mark that is not a whole number from 0 to 2^31-1 is a usage error naming the option", () => {
  for (
    const [attr, bad] of [["zeromq.xpubSndhwm", "-1"], ["zeromq.logSndhwm", "2147483648"], [
      "zeromq.xpubSndhwm",
      "lots",
    ]]
  ) {
    assert.throws(
      () => resolveZmqNodeOptions({ ...AT, [attr]: bad }),
      (e: Error) =>
        e instanceof UsageError &&
        e.message.includes(
          attr === "zeromq.xpubSndhwm" ? "--zeromq.xpub-sndhwm" : "--zeromq.log-sndhwm",
        ),
    );
  }
});
