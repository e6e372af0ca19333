/**
 * How the CLI starts another copy of itself (child nodes of multi-process
 * benches), both from the sources and from the one-file bundle
 * (`deno task bundle`), where every module shares the bundle's URL, and how
 * it reads line-oriented streams (those children's stdout, `broker pipe`'s stdin).
 *
 * @module
 */

/**
 * Arguments for `Deno.execPath()` that run the `broker` CLI again.
 *
 * @example
 * ```ts
 * import { selfCommandArgs } from "./self.ts";
 * const child = new Deno.Command(Deno.execPath(), { args: [...selfCommandArgs(), "--help"] });
 * ```
 */
export function selfCommandArgs(): string[] {
  const here = import.meta.url;
  const entry = here.endsWith("/cli/self.ts") ? new URL("./main.ts", here) : new URL(here);
  return [
    "run",
    "-A",
    entry.protocol === "file:" ? decodeURIComponent(entry.pathname) : entry.href,
  ];
}

/** Decodes a line after the first: a byte-order mark there is text. */
const KEEP_BOM = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Splits a byte stream (a child's stdout) into lines, without their newlines.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { lines } from "./self.ts";
 * const stream = ReadableStream.from([new TextEncoder().encode("up\nack\n")]);
 * deepEqual(await Array.fromAsync(lines(stream)), ["up", "ack"]);
 * ```
 */
export async function* lines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  // A newline byte is never inside a UTF-8 character: each line decodes alone,
  // a byte-order mark dropped at the stream's start only, as TextDecoderStream.
  let utf8 = new TextDecoder();
  for await (const line of byteLines(stream)) {
    yield utf8.decode(line);
    utf8 = KEEP_BOM;
  }
}

/**
 * Splits a byte stream into lines of bytes, without their newlines (`\n`),
 * as C++'s `std::getline` reads them: bytes that are not UTF-8 stay as they
 * are, and a `\r` before the newline stays in the line.
 *
 * @example
 * ```ts
 * import { deepEqual } from "node:assert/strict";
 * import { byteLines } from "./self.ts";
 * const stream = ReadableStream.from([new Uint8Array([0x61, 0xff, 0x0a, 0x62])]);
 * deepEqual(await Array.fromAsync(byteLines(stream)), [
 *   new Uint8Array([0x61, 0xff]),
 *   new Uint8Array([0x62]),
 * ]);
 * ```
 */
export async function* byteLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  let rest = new Uint8Array(0);
  for await (const chunk of stream) {
    let from = 0;
    let data = chunk;
    if (rest.length > 0) {
      data = new Uint8Array(rest.length + chunk.length);
      data.set(rest);
      data.set(chunk, rest.length);
    }
    for (let i = data.indexOf(0x0a); i >= 0; i = data.indexOf(0x0a, from)) {
      yield data.slice(from, i);
      from = i + 1;
    }
    rest = data.slice(from);
  }
  if (rest.length > 0) yield rest;
}
