/**
 * An IP address read as Broker's `convert(string, address)` reads one: by
 * CAF's `read_ipv6_address`, which is more lenient than RFC 4291 and than
 * `Address.parse` in ways a JSON client can meet. IPv4 octets take leading
 * zeros and stay decimal (`10.0107.031.233` is 10.107.31.233); the first
 * group and every group after `::` may have more than four hex digits while
 * the value fits 16 bits (`0e8b0::0039c6`); a dotted quad may come after
 * `::` and be followed by more groups; the last octet may be empty
 * (`1.2.3.` is 1.2.3.0). Nothing else is taken: no blanks, no zone, no
 * brackets, the whole text or nothing.
 *
 * @example
 * ```ts
 * import { equal } from "node:assert/strict";
 * import { cafAddress } from "./caf_address.ts";
 * equal(cafAddress("10.0107.031.233")?.toString(), "10.107.31.233");
 * equal(cafAddress(" 10.0.0.1"), undefined);
 * ```
 *
 * @module
 */
import { Address } from "./types.ts";

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX[0x30 + i] = i;
for (let i = 0; i < 6; i++) HEX[0x41 + i] = HEX[0x61 + i] = 10 + i;
const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const hexOf = (c: number) => (c >= 0 && c < 128 ? HEX[c] : -1);

/** A reader over one text: where it is, and the 16 bytes as CAF's prefix and suffix. */
class Reader {
  pos = 0;
  readonly prefix = new Uint8Array(16);
  readonly suffix = new Uint8Array(16);
  filled = 0;
  constructor(readonly text: string) {}

  get c(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }

  put(toSuffix: boolean, bytes: number[]): void {
    if (!toSuffix) {
      for (const b of bytes) this.prefix[this.filled++] = b;
      return;
    }
    // CAF writes the bytes at the front and rotates them to the end.
    for (const b of bytes) {
      this.suffix.copyWithin(0, 1);
      this.suffix[15] = b;
      this.filled++;
    }
  }

  /** CAF's `read_ipv6_h16`: one to four hex digits. */
  h16(toSuffix: boolean): void {
    let v = 0, digits = 0;
    while (digits < 4 && hexOf(this.c) >= 0) {
      v = v * 16 + hexOf(this.c);
      this.pos++;
      digits++;
    }
    this.put(toSuffix, [v >> 8, v & 0xff]);
  }

  /**
   * CAF's `read_ipv6_h16_or_l32`: hex digits while they fit 16 bits, or,
   * while they also read as a decimal octet, a dotted quad (one byte per
   * octet). False where CAF fails (an overflow, a quad cut short).
   */
  h16OrL32(toSuffix: boolean): boolean {
    let hex = 0, dec = 0, v6 = false;
    // The first group: digits read both ways until one no longer fits.
    while (hexOf(this.c) >= 0) {
      const c = this.c;
      if (!v6 && (!isDigit(c) || dec * 10 + (c - 0x30) > 255)) v6 = true;
      else if (!v6) dec = dec * 10 + (c - 0x30);
      hex = hex * 16 + hexOf(c);
      if (hex > 0xffff) return false;
      this.pos++;
    }
    if (v6 || this.c !== 0x2e) {
      this.put(toSuffix, [hex >> 8, hex & 0xff]);
      return true;
    }
    // A dotted quad: three more octets, each decimal, the last possibly empty.
    const octets = [dec];
    for (let octet = 1; octet < 4; octet++) {
      if (this.c !== 0x2e) return false;
      this.pos++;
      let v = 0, digits = 0;
      while (isDigit(this.c)) {
        v = v * 10 + (this.c - 0x30);
        if (v > 255) return false;
        this.pos++;
        digits++;
      }
      if (digits === 0 && octet < 3) return false;
      octets.push(v);
    }
    this.put(toSuffix, octets);
    return true;
  }
}

/** The address CAF reads from all of `text`, or undefined where it refuses it. */
export function cafAddress(text: string): Address | undefined {
  const r = new Reader(text);
  const done = () => r.pos === text.length ? combine(r) : undefined;
  if (r.c === 0x3a) {
    r.pos++;
    if (r.c !== 0x3a) return undefined;
    r.pos++;
    return suffix(r);
  }
  if (hexOf(r.c) < 0 || !r.h16OrL32(false)) return undefined;
  if (r.filled === 4) {
    // A dotted quad first: IPv4, mapped.
    const p = r.prefix;
    const v4 = ((p[0] << 24) | (p[1] << 16) | (p[2] << 8) | p[3]) >>> 0;
    return r.pos === text.length ? Address.fromWords(0, 0, 0xffff, v4) : undefined;
  }
  for (;;) {
    // After a group of the prefix: ":" then a group, or "::".
    if (r.c !== 0x3a) return undefined;
    r.pos++;
    if (r.c === 0x3a) {
      r.pos++;
      return suffix(r);
    }
    const remaining = 16 - r.filled;
    if (hexOf(r.c) < 0) return undefined;
    if (remaining > 4) r.h16(false);
    else if (remaining === 4) {
      if (!r.h16OrL32(false)) return undefined;
      if (r.filled === 16) return done();
    } else {
      r.h16(false);
      return done();
    }
  }
}

// After "::": nothing, or groups (a dotted quad among them while 4 bytes are left).
function suffix(r: Reader): Address | undefined {
  if (r.pos === r.text.length) return combine(r);
  for (;;) {
    const remaining = 16 - r.filled;
    if (hexOf(r.c) < 0) return undefined;
    if (remaining >= 4) {
      if (!r.h16OrL32(true)) return undefined;
    } else if (remaining === 2) r.h16(true);
    else return undefined;
    if (r.pos === r.text.length) return combine(r);
    if (r.c !== 0x3a) return undefined;
    r.pos++;
  }
}

function combine(r: Reader): Address {
  const bytes = new Uint8Array(16);
  for (let i = 0; i < 16; i++) bytes[i] = r.prefix[i] | r.suffix[i];
  return new Address(bytes);
}
