import assert from "node:assert/strict";
import { ASCII_MAX, asciiText, SHORT_TEXT, shortText } from "./read_text.ts";

const ref = (u8: Uint8Array, s: number, e: number) => new TextDecoder().decode(u8.subarray(s, e));

Deno.test("asciiText and shortText read every length exactly, at any offset", () => {
  let seed = 7;
  const next = () => (seed = Math.imul(seed, 1103515245) + 12345 >>> 0) >>> 16;
  const u8 = new Uint8Array(4096);
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < u8.length; i++) u8[i] = 32 + next() % 95;
    for (let len = 0; len <= ASCII_MAX; len++) {
      const s = next() % (u8.length - len);
      assert.equal(asciiText(u8, s, s + len), ref(u8, s, s + len));
      if (len < SHORT_TEXT) assert.equal(shortText(u8, s, s + len), ref(u8, s, s + len));
    }
  }
});

Deno.test("a byte above 0x7f anywhere makes them undefined", () => {
  for (let len = 1; len <= ASCII_MAX; len++) {
    // Short text is checked byte by byte in a case per length: every position.
    const places = len < SHORT_TEXT ? [...Array(len).keys()] : [0, len >> 1, len - 1];
    for (const at of places) {
      const u8 = new Uint8Array(len + 2).fill(0x61);
      u8[1 + at] = 0xc3;
      assert.equal(asciiText(u8, 1, 1 + len), undefined);
      if (len < SHORT_TEXT) assert.equal(shortText(u8, 1, 1 + len), undefined);
    }
  }
});

Deno.test("shortText stays exact through long runs of misses and then repeated text", () => {
  const enc = new TextEncoder();
  // Distinct text misses once per slot and is not stored; repeated text is
  // stored on its second miss, and text of the same slot-hash but other
  // bytes must still come out as itself.
  for (let i = 0; i < 5000; i++) {
    const t = `r${i.toString(36)}x${(i * 7919).toString(36)}`;
    const b = enc.encode(t);
    assert.equal(shortText(b, 0, b.length), t);
  }
  const words = ["SF", "tcp", "S0", "ssl", "connection_state_remove", "Sa", "ST", "tdp"]
    .filter((w) => w.length < SHORT_TEXT);
  for (let i = 0; i < 2000; i++) {
    const w = words[i % words.length];
    const b = enc.encode(`..${w}..`);
    assert.equal(shortText(b, 2, 2 + w.length), w);
  }
  const nonAscii = enc.encode("zé");
  // Twice: the second miss takes the store path, which empties the slot for text that is not ASCII.
  assert.equal(shortText(nonAscii, 0, nonAscii.length), undefined);
  assert.equal(shortText(nonAscii, 0, nonAscii.length), undefined);
  assert.equal(shortText(enc.encode("zz"), 0, 2), "zz");
  for (const w of words) {
    const b = enc.encode(w);
    assert.equal(shortText(b, 0, b.length), w);
  }
});
