// A set or table out of order on the wire with a repeat in it: Broker's
// decoder inserts each element into its std::set and drops the message at
// the repeat (checked live: broker-node forwards nothing for {b, a, b}), so
// validation, which `publishEncoded` relies on, must refuse it too, not
// only building.
import assert from "node:assert/strict";
import { BrokerError, ErrorCode } from "../errors.ts";
import { validate, validateForLater, validatePrefix } from "./validate.ts";

const s = (c: string) => [0x05, 0x01, c.charCodeAt(0)];
const c1 = [0x02, 0, 0, 0, 0, 0, 0, 0, 1];

Deno.test("validation refuses a repeat in a set or among table keys that arrive out of order", () => {
  const refused = [
    [0x0c, 0x03, ...s("b"), ...s("a"), ...s("b")],
    [0x0d, 0x03, ...s("b"), ...c1, ...s("a"), ...c1, ...s("b"), ...c1],
    [0x0e, 0x01, 0x0c, 0x03, ...s("c"), ...s("a"), ...s("c")],
  ].map((b) => Uint8Array.from(b));
  const isRepeat = (e: unknown) =>
    e instanceof BrokerError && e.code === ErrorCode.deserialization_failed;
  for (const bytes of refused) {
    assert.throws(() => validate(bytes), isRepeat);
    assert.throws(() => validate(bytes, {}), isRepeat);
    assert.throws(() => validateForLater(bytes), isRepeat);
    assert.throws(() => validatePrefix(bytes), isRepeat);
    assert.throws(() => validatePrefix(Uint8Array.from([...bytes, 0xff])), isRepeat);
  }
  // Out of order without a repeat: valid, re-sorted when built.
  const unsorted = Uint8Array.from([0x0c, 0x02, ...s("b"), ...s("a")]);
  assert.equal(validate(unsorted), unsorted.length);
  assert.equal(validateForLater(unsorted), true);
  assert.deepEqual(validatePrefix(unsorted), { length: unsorted.length, unsorted: true });
});
